"""Compiled regexes kept on disk between runs.

The regex module parses and optimises a pattern in Python: 1 to 6 ms for each
of keyscan's larger rules, which made compiling the few rules a commit needs
the biggest part of the hook's time. A compiled pattern pickles as the opcode
list that the module's C part runs, and rebuilding a pattern from that list
takes about 0.1 ms. So the lists are stored in keyscan's cache, beside the
parsed rules, keyed by the C part's file and the Python version, because the
opcodes are private to one build of the module.

Matching needs only that C part. Importing the regex package also runs its
Python half (about 10 ms, a sixth of the hook), so this module loads the C
part alone and imports the package only to compile a pattern it has not
stored. The package, when imported later, reuses the C part loaded here. If
the C part cannot be found on its own, the package is imported as usual.

The cache folder belongs to the user, like the rule cache beside it: a stored
list is trusted the way that cache is. An entry that fails to rebuild, or
rebuilds into a different pattern, is compiled again from its text.
"""

from __future__ import annotations

import copyreg
import marshal
import os
import sys
from types import ModuleType
from typing import TYPE_CHECKING, Any

from keyscan.tomlcache import file_stamp, read_cached, write_cached

if TYPE_CHECKING:
    import regex

# The pattern texts of keyscan's own rules number about 160 (rules, their
# allow lists and path patterns). Past this many entries the oldest go.
_MAX_ENTRIES = 2000
# The regex package's compiled part, as the package itself imports it.
_ENGINE = "regex._regex"


class _Store:
    """The cached opcode lists by pattern text, loaded on first use."""

    def __init__(self, engine: ModuleType | None) -> None:
        self.engine = engine
        self.key: str | None = None
        if engine is not None and getattr(engine, "__file__", None):
            try:
                stamp = file_stamp(str(engine.__file__))
            except OSError:
                stamp = None
            if stamp is not None:
                self.key = f"regex-code\0{stamp}\0{sys.version}"
        self.loaded: dict[str, tuple[Any, ...]] | None = None
        self.added: dict[str, tuple[Any, ...]] = {}
        self.patterns: dict[str, regex.Pattern[str]] = {}

    def entries(self) -> dict[str, tuple[Any, ...]]:
        if self.loaded is None:
            cached = read_cached(self.key) if self.key else None
            self.loaded = cached if isinstance(cached, dict) else {}
        return self.loaded


_store: _Store | None = None


def _get_store() -> _Store:
    global _store
    if _store is None:
        _store = _Store(_load_engine())
    return _store


def _load_engine() -> ModuleType | None:
    """Return the regex package's C part, loading it alone when possible."""
    loaded = sys.modules.get(_ENGINE)
    if loaded is not None:
        return loaded
    try:
        return _load_engine_alone()
    except (ImportError, OSError, ValueError):
        pass
    import regex  # noqa: F401  (the package imports its C part)

    return sys.modules.get(_ENGINE)


def _load_engine_alone() -> ModuleType | None:
    import importlib.machinery
    import importlib.util

    package = importlib.util.find_spec("regex")
    if package is None or not package.submodule_search_locations:
        return None
    for folder in package.submodule_search_locations:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = os.path.join(folder, "_regex" + suffix)
            if os.path.isfile(path):
                loader = importlib.machinery.ExtensionFileLoader(_ENGINE, path)
                spec = importlib.util.spec_from_file_location(
                    _ENGINE, path, loader=loader
                )
                if spec is None:
                    return None
                module = importlib.util.module_from_spec(spec)
                loader.exec_module(module)
                sys.modules[_ENGINE] = module
                return module
    return None


def compile_pattern(text: str) -> regex.Pattern[str]:
    """Return ``text`` compiled by the regex module, from the cache when it can.

    Raises ``regex.error`` for an invalid pattern, as ``regex.compile`` does.
    """
    store = _get_store()
    pattern = store.patterns.get(text)
    if pattern is not None:
        return pattern
    stored = store.entries().get(text)
    if stored is not None:
        pattern = _rebuild(store, text, stored)
    if pattern is None:
        import regex

        pattern = regex.compile(text)
        stored = _reduce(store, pattern)
        if stored is not None:
            store.added[text] = stored
    store.patterns[text] = pattern
    return pattern


def _reduce(store: _Store, pattern: regex.Pattern[str]) -> tuple[Any, ...] | None:
    """Return the marshal-safe data that rebuilds ``pattern``, or None.

    The data comes from the regex module's pickle support, and is kept only
    when it rebuilds through the C part that this process loaded.
    """
    reducer = copyreg.dispatch_table.get(type(pattern))
    if reducer is None or store.engine is None:
        return None
    reduced = reducer(pattern)
    if not isinstance(reduced, tuple) or len(reduced) != 2:
        return None
    rebuild, data = reduced
    if rebuild is not getattr(store.engine, "compile", None):
        return None
    try:
        marshal.dumps(data)
    except ValueError:
        return None
    return tuple(data)


def _rebuild(
    store: _Store, text: str, data: tuple[Any, ...]
) -> regex.Pattern[str] | None:
    try:
        pattern = store.engine.compile(*data)  # type: ignore[union-attr]
    except Exception:  # any failure means: compile it instead
        return None
    if getattr(pattern, "pattern", None) != text:
        return None
    return pattern  # type: ignore[no-any-return]


def save_compiled() -> None:
    """Add the patterns compiled in this process to the cache on disk.

    Failures are ignored: a read-only cache folder only costs the compile
    again next time.
    """
    store = _store
    if store is None or not store.added or store.key is None:
        return
    merged = {**store.entries(), **store.added}
    if len(merged) > _MAX_ENTRIES:
        merged = dict(list(merged.items())[-_MAX_ENTRIES:])
    write_cached(store.key, merged)
    store.loaded = merged
    store.added = {}
