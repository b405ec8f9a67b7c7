"""Search queries written from a target item's words, with synonyms and typos.

Templates (with probabilities): noun, brand + noun, colour + noun, adjective + noun, brand,
noun + size, material + noun. The leaf noun is replaced by a synonym ("couch" for "sofa") in
``P_SYNONYM`` of the queries whose noun has one, and ``P_TYPO`` of queries get one typo (two
letters swapped, one dropped or one doubled) in a word of four letters or more.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from engine.core.arrays import I32, I64
from synth.catalog import Catalog
from synth.taxonomy import Taxonomy
from synth.vocab import SYNONYMS

TEMPLATE_P = np.array([0.30, 0.20, 0.18, 0.14, 0.05, 0.06, 0.07])
T_NOUN, T_BRAND_NOUN, T_COLOR, T_ADJ, T_BRAND, T_SIZE, T_MATERIAL = range(7)
P_SYNONYM = 0.35
P_TYPO = 0.10


def typo(word: str, op: int, u: float) -> str:
    """Swap two adjacent letters (op 0), drop one (1) or double one (2); never the first.

    A swap of two equal letters would change nothing, so it drops one instead.
    """
    i = 1 + int(u * (len(word) - 2))
    if op == 0 and word[i] != word[i + 1]:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if op in (0, 1):
        return word[:i] + word[i + 1 :]
    return word[:i] + word[i] + word[i:]


@dataclass(frozen=True)
class QueryBatch:
    query: I32  # index into the book's strings, per request
    brand: I32  # brand named in the query, or -1
    color: I32  # root-local colour index named in the query, or -1
    typo: npt.NDArray[np.bool_]


@dataclass
class QueryBook:
    """All distinct query strings in first-seen order, with per-string ground truth."""

    strings: list[str] = field(default_factory=list)
    leaf: list[int] = field(default_factory=list)
    has_typo: list[bool] = field(default_factory=list)
    has_synonym: list[bool] = field(default_factory=list)
    _index: dict[str, int] = field(default_factory=dict)

    def add(self, q: str, leaf: int, has_typo: bool, has_synonym: bool) -> int:
        i = self._index.get(q)
        if i is None:
            i = self._index[q] = len(self.strings)
            self.strings.append(q)
            self.leaf.append(leaf)
            self.has_typo.append(has_typo)
            self.has_synonym.append(has_synonym)
        return i

    def write(
        self, rng: np.random.Generator, tax: Taxonomy, cat: Catalog, target: I64
    ) -> QueryBatch:
        """One query per target item."""
        n = len(target)
        tpl = rng.choice(len(TEMPLATE_P), n, p=TEMPLATE_P)
        u_syn, u_pick = rng.random(n), rng.random(n)
        u_typo, u_op, u_pos = rng.random(n), rng.integers(0, 3, n), rng.random(n)
        leaf = cat.leaf[target].tolist()
        root = cat.root[target].tolist()
        brand_i = cat.brand[target].tolist()
        color_i = cat.color[target].tolist()
        size_i = cat.size[target].tolist()
        mat_i = cat.material[target].tolist()
        adj_i = cat.adjective[target].tolist()
        out = np.empty(n, np.int32)
        has_typo = np.zeros(n, bool)
        for k, t in enumerate(tpl.tolist()):
            lf, voc = leaf[k], tax.vocabs[root[k]]
            noun = tax.nouns[lf]
            syn = SYNONYMS.get(noun, ())
            use_syn = bool(syn) and u_syn[k] < P_SYNONYM and t != T_BRAND
            if use_syn:
                noun = syn[int(u_pick[k] * len(syn))]
            brand = cat.brand_names[brand_i[k]].lower()
            words = {
                T_NOUN: [noun],
                T_BRAND_NOUN: [brand, noun],
                T_COLOR: [voc.colors[color_i[k]].lower(), noun],
                T_ADJ: [voc.adjectives[adj_i[k]].lower(), noun],
                T_BRAND: [brand],
                T_SIZE: [noun, voc.sizes[size_i[k]].lower()],
                T_MATERIAL: [voc.materials[mat_i[k]].lower(), noun],
            }[t]
            q = " ".join(words)
            if u_typo[k] < P_TYPO:
                parts = q.split(" ")
                long = [j for j, w in enumerate(parts) if len(w) >= 4 and w.isalpha()]
                if long:
                    j = long[-1]
                    parts[j] = typo(parts[j], int(u_op[k]), float(u_pos[k]))
                    q = " ".join(parts)
                    has_typo[k] = True
            out[k] = self.add(q, lf, bool(has_typo[k]), use_syn)
        named_brand = np.isin(tpl, (T_BRAND_NOUN, T_BRAND))
        return QueryBatch(
            query=out,
            brand=np.where(named_brand, cat.brand[target], -1).astype(np.int32),
            color=np.where(tpl == T_COLOR, cat.color[target], -1).astype(np.int32),
            typo=has_typo,
        )
