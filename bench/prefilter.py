"""Time the keyword prefilter's candidates on a real working tree.

Usage: python bench/prefilter.py TREE

Reads every file that ``git ls-files`` lists in TREE, lowercases it, and
finds which of keyscan's rule keywords occur in it three ways: one
substring search per keyword, ahocorasick-rs (DFA) and pyahocorasick. Each
method's time excludes reading and lowercasing, which all three share.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable

from keyscan.ruleset import load_default_rules


def _files(tree: str) -> list[bytes]:
    listing = subprocess.run(
        ["git", "-C", tree, "ls-files", "-z"], capture_output=True, check=True
    ).stdout
    paths = [os.path.join(tree, os.fsdecode(p)) for p in listing.split(b"\0") if p]
    contents = []
    for path in paths:
        if os.path.isfile(path):
            with open(path, "rb") as handle:
                contents.append(handle.read().lower())
    return contents


def _substring(keywords: list[bytes]) -> Callable[[bytes], set[bytes]]:
    return lambda data: {k for k in keywords if k in data}


def _ahocorasick_rs(keywords: list[bytes]) -> Callable[[bytes], set[bytes]]:
    import ahocorasick_rs

    automaton = ahocorasick_rs.BytesAhoCorasick(
        keywords, implementation=ahocorasick_rs.Implementation.DFA
    )
    return lambda data: {
        keywords[i]
        for i, _, _ in automaton.find_matches_as_indexes(data, overlapping=True)
    }


def _pyahocorasick(keywords: list[bytes]) -> Callable[[bytes], set[bytes]]:
    import ahocorasick

    automaton = ahocorasick.Automaton()
    for index, keyword in enumerate(keywords):
        automaton.add_word(keyword.decode("ascii"), index)
    automaton.make_automaton()
    return lambda data: {keywords[i] for _, i in automaton.iter(data.decode("latin-1"))}


def main() -> None:
    """Print the time each method takes over the tree named on the command line."""
    tree = sys.argv[1]
    keywords = sorted(
        {k.encode() for r in load_default_rules().rules for k in r.keywords}
    )
    contents = _files(tree)
    size = sum(map(len, contents)) / 1e6
    print(f"{len(contents)} files, {size:.1f} MB, {len(keywords)} keywords")
    for name, build in [
        ("substring search per keyword", _substring),
        ("ahocorasick-rs DFA", _ahocorasick_rs),
        ("pyahocorasick", _pyahocorasick),
    ]:
        try:
            find = build(keywords)
        except ImportError:
            print(f"{name}: not installed")
            continue
        started = time.perf_counter()
        for data in contents:
            find(data)
        print(f"{name}: {time.perf_counter() - started:.3f} s")


if __name__ == "__main__":
    main()
