"""The keyword prefilter: which rule keywords occur in a piece of text."""

from __future__ import annotations

from collections.abc import Sequence


class KeywordMatcher:
    """Find which of a fixed set of lowercase ASCII keywords occur in text.

    Each keyword is one C-level substring search over the input (CPython's
    ``bytes.__contains__``); see docs/benchmarks.md for how this compares with
    Aho-Corasick automata on real trees.
    """

    def __init__(self, keywords: Sequence[str]) -> None:
        self._keywords = tuple(sorted(set(keywords)))
        self._encoded = tuple(k.encode("ascii") for k in self._keywords)

    def find_in(self, lowered: bytes) -> set[str]:
        """Return the keywords that occur in ASCII-lowercased bytes."""
        return {
            keyword
            for keyword, encoded in zip(self._keywords, self._encoded, strict=True)
            if encoded in lowered
        }

    def find_in_text(self, lowered: str) -> set[str]:
        """Return the keywords that occur in ASCII-lowercased text."""
        return {keyword for keyword in self._keywords if keyword in lowered}
