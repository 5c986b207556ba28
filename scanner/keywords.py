"""The keyword prefilter: which rule keywords occur in a piece of text.

One pass of an Aho-Corasick DFA (the ahocorasick-rs package) finds every
keyword of every rule at once. Measured on sqlalchemy's working tree (26 MB,
136 keywords, see docs/benchmarks.md), the DFA takes 0.14 s, where one
substring search per keyword takes 3.0 s and pyahocorasick 1.2 s.
ahocorasick-rs has no wheels for musl libc (Alpine) and some rarer platforms,
so a plain substring search per keyword remains as the fallback there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class KeywordMatcher:
    """Find which of a fixed set of lowercase ASCII keywords occur in bytes."""

    def __init__(self, keywords: Sequence[str]) -> None:
        self._keywords = tuple(sorted(set(keywords)))
        self._encoded = tuple(k.encode("ascii") for k in self._keywords)
        self._automaton = _build_automaton(self._encoded)

    def find_in(self, lowered: bytes) -> dict[str, list[int] | None]:
        """Return the keywords that occur in ASCII-lowercased bytes.

        Each keyword maps to the byte offsets where it starts, or to None
        when the fallback search found it without recording offsets.
        """
        if self._automaton is not None:
            found = self._automaton.find_matches_as_indexes(lowered, overlapping=True)
            positions: dict[str, list[int]] = {}
            for index, start, _ in found:
                positions.setdefault(self._keywords[index], []).append(start)
            result: dict[str, list[int] | None] = dict(positions)
            return result
        return {
            keyword: None
            for keyword, encoded in zip(self._keywords, self._encoded, strict=True)
            if encoded in lowered
        }


def _build_automaton(patterns: tuple[bytes, ...]) -> Any:
    try:
        import ahocorasick_rs
    except ImportError:
        return None
    if not patterns:
        return None
    return ahocorasick_rs.BytesAhoCorasick(
        list(patterns), implementation=ahocorasick_rs.Implementation.DFA
    )
