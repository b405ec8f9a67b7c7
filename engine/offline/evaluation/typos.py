"""Judged queries with one typo each: how search holds up when shoppers mistype.

Each query's longest word of at least :data:`MIN_LEN` letters gets one edit: a letter
dropped, two neighbours swapped, a letter doubled, or a letter changed to its keyboard
neighbour, never at the first position (shoppers rarely miss the first letter). The kind and
the position come from a generator seeded per query, so the set is the same on every run.
Queries without such a word are left out. The judgments move to the mistyped query as they
are.
"""

from __future__ import annotations

import random
import zlib

MIN_LEN = 5
# a few QWERTY neighbours per letter, for the changed-letter typo
_NEAR = {
    "a": "sq", "b": "vn", "c": "xv", "d": "sf", "e": "wr", "f": "dg", "g": "fh", "h": "gj",
    "i": "uo", "j": "hk", "k": "jl", "l": "k", "m": "n", "n": "bm", "o": "ip", "p": "o",
    "q": "w", "r": "et", "s": "ad", "t": "ry", "u": "yi", "v": "cb", "w": "qe", "x": "zc",
    "y": "tu", "z": "x",
}  # fmt: skip


def mistype(word: str, rng: random.Random) -> str:
    """``word`` with one edit after its first letter."""
    i = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(4)
    if kind == 0:
        return word[:i] + word[i + 1 :]
    if kind == 1:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == 2:
        return word[:i] + word[i] + word[i:]
    return word[:i] + rng.choice(_NEAR.get(word[i], "e")) + word[i + 1 :]


def with_typos(
    judgments: dict[str, dict[str, int]], seed: int = 0
) -> tuple[dict[str, dict[str, int]], dict[str, str]]:
    """The judgments under mistyped queries, and each mistyped query's original."""
    out: dict[str, dict[str, int]] = {}
    original: dict[str, str] = {}
    for q in sorted(judgments):
        words = q.split()
        long_ = [w for w in words if w.isalpha() and len(w) >= MIN_LEN]
        if not long_:
            continue
        target = max(long_, key=len)
        rng = random.Random(zlib.crc32(f"{seed}:{q}".encode()))
        typo = mistype(target, rng)
        if typo == target:  # a swap of two equal letters
            continue
        k = words.index(target)
        mistyped = " ".join([*words[:k], typo, *words[k + 1 :]])
        out[mistyped] = judgments[q]
        original[mistyped] = q
    return out, original
