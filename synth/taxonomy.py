"""The category tree and per-root vocabularies as indexed arrays.

Leaves are numbered root by root and mid by mid, so every root and every mid category covers a
contiguous range of leaf indices (the samplers rely on it).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt

from engine.core.arrays import I32
from synth import vocab


def singular(leaf: str) -> str:
    """Lower-case singular noun of a plural leaf label ("Phone Cases" -> "phone case")."""
    if leaf in vocab.NOUN_OVERRIDES:
        return vocab.NOUN_OVERRIDES[leaf]
    words = leaf.lower().split()
    last = words[-1]
    if last.endswith("ies"):
        last = last[:-3] + "y"
    elif last.endswith(("sses", "ches", "shes", "xes")):
        last = last[:-2]
    elif last.endswith("s") and not last.endswith("ss"):
        last = last[:-1]
    return " ".join([*words[:-1], last])


@dataclass(frozen=True)
class RootVocab:
    """One root's attribute vocabulary: key names and values for colour, size and material."""

    color_key: str
    colors: tuple[str, ...]
    size_key: str
    sizes: tuple[str, ...]
    material_key: str
    materials: tuple[str, ...]
    adjectives: tuple[str, ...]
    sentence: str


@dataclass(frozen=True)
class Taxonomy:
    roots: tuple[str, ...]
    mids: tuple[str, ...]  # "Root/Mid"
    leaf_paths: tuple[tuple[str, str, str], ...]
    leaf_root: I32  # leaf -> root index
    leaf_mid: I32  # leaf -> mid index
    nouns: tuple[str, ...]  # leaf -> lower-case singular noun
    vocabs: tuple[RootVocab, ...]  # root -> attribute vocabulary
    complement_pairs: I32  # (k, 2): anchor leaf, complementary leaf
    complement_of: I32  # leaf -> partner leaf (both directions), -1 if none
    complement_anchor: npt.NDArray[np.bool_]  # leaf is the anchor side of its pair

    @property
    def n_leaves(self) -> int:
        return len(self.leaf_paths)

    @property
    def n_roots(self) -> int:
        return len(self.roots)

    def leaf_names(self) -> list[str]:
        return ["/".join(p) for p in self.leaf_paths]

    def mid_range(self) -> tuple[I32, I32]:
        """First and one-past-last leaf of each mid category."""
        return _ranges(self.leaf_mid, len(self.mids))

    def root_range(self) -> tuple[I32, I32]:
        return _ranges(self.leaf_root, self.n_roots)

    def tree(self) -> dict[str, dict[str, list[str]]]:
        out: dict[str, dict[str, list[str]]] = {}
        for root, mid, leaf in self.leaf_paths:
            out.setdefault(root, {}).setdefault(mid, []).append(leaf)
        return out


def _ranges(owner: I32, n: int) -> tuple[I32, I32]:
    lo = np.searchsorted(owner, np.arange(n), "left").astype(np.int32)
    hi = np.searchsorted(owner, np.arange(n), "right").astype(np.int32)
    return lo, hi


@cache
def taxonomy() -> Taxonomy:
    roots: list[str] = []
    mids: list[str] = []
    paths: list[tuple[str, str, str]] = []
    leaf_root: list[int] = []
    leaf_mid: list[int] = []
    vocabs: list[RootVocab] = []
    for root, children in vocab.TREE.items():
        roots.append(root)
        (ck, cv), (sk, sv), (mk, mv), adjectives, sentence = vocab.ATTRS[root]
        vocabs.append(
            RootVocab(
                ck,
                tuple(cv.split("|")),
                sk,
                tuple(sv.split("|")),
                mk,
                tuple(mv.split("|")),
                tuple(adjectives.split("|")),
                sentence,
            )
        )
        for mid, leaves in children.items():
            mids.append(f"{root}/{mid}")
            for leaf in leaves.split("|"):
                paths.append((root, mid, leaf))
                leaf_root.append(len(roots) - 1)
                leaf_mid.append(len(mids) - 1)
    index = {p[2]: i for i, p in enumerate(paths)}
    if len(index) != len(paths):
        raise ValueError("leaf names must be unique")
    pairs = np.array([(index[a], index[b]) for a, b in vocab.COMPLEMENTS], np.int32)
    partner = np.full(len(paths), -1, np.int32)
    anchor = np.zeros(len(paths), bool)
    # Reverse direction first so that a leaf that is both (Mattresses) keeps its anchor role.
    partner[pairs[:, 1]] = pairs[:, 0]
    partner[pairs[:, 0]] = pairs[:, 1]
    anchor[pairs[:, 0]] = True
    return Taxonomy(
        roots=tuple(roots),
        mids=tuple(mids),
        leaf_paths=tuple(paths),
        leaf_root=np.array(leaf_root, np.int32),
        leaf_mid=np.array(leaf_mid, np.int32),
        nouns=tuple(singular(p[2]) for p in paths),
        vocabs=tuple(vocabs),
        complement_pairs=pairs,
        complement_of=partner,
        complement_anchor=anchor,
    )
