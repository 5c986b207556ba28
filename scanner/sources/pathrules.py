"""The rules that apply at a path, and whether the config excludes the path.

A history scan reads each blob once, but a rule may be limited to some paths
(``paths``, ``exclude_paths``), so a blob seen at two paths can have
different matches. The signature of a path lists which of those rules apply
there. A blob is scanned once per distinct signature, which is once when no
rule depends on the path.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from keyscan.ruleset import Rule

if TYPE_CHECKING:
    import pathspec

Signature = tuple[bool, ...]
_EVERYWHERE: tuple[bool, Signature] = (False, ())


class PathRules:
    """Classify paths by config exclusion and by the path-limited rules in force."""

    def __init__(self, rules: Sequence[Rule], exclude: Sequence[str]) -> None:
        self._limited = [
            (_spec(rule.paths), _spec(rule.exclude_paths))
            for rule in rules
            if rule.paths or rule.exclude_paths
        ]
        self._exclude = _spec(exclude)
        self._cache: dict[str, tuple[bool, Signature]] = {}

    def classify(self, path: str) -> tuple[bool, Signature]:
        """Return whether ``path`` is excluded, and its rule signature."""
        if not self._limited and self._exclude is None:
            return _EVERYWHERE
        known = self._cache.get(path)
        if known is None:
            known = self._cache[path] = self._classify(path)
        return known

    def _classify(self, path: str) -> tuple[bool, Signature]:
        if self._exclude is not None and self._exclude.match_file(path):
            return True, ()
        signature = tuple(
            (paths is None or paths.match_file(path))
            and not (excluded is not None and excluded.match_file(path))
            for paths, excluded in self._limited
        )
        return False, signature


def _spec(patterns: Sequence[str]) -> pathspec.GitIgnoreSpec | None:
    if not patterns:
        return None
    import pathspec

    return pathspec.GitIgnoreSpec.from_lines(patterns)
