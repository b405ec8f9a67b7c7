"""Re-rankers after the ranker: variant de-duplication, brand/seller caps, category MMR."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from engine.core.catalog import Catalog
from engine.core.contracts import Surface
from engine.core.pipeline.candidates import CandidatePool
from engine.core.pipeline.context import RequestContext
from engine.core.pipeline.stages import Ranked
from ltr.query_intent import QueryIntent


class DedupeVariants:
    """Keep the best-ranked item of each variant group (colours, sizes of one product)."""

    name = "duplicate_variants"

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def rerank(self, ctx: RequestContext, pool: CandidatePool, ranked: Ranked) -> Ranked:
        groups = self.catalog.variant_group.values[pool.rows[ranked.order]]
        _, first = np.unique(groups, return_index=True)
        keep = np.sort(first)
        return Ranked(ranked.order[keep], ranked.scores, ranked.notes)


class CategoryMMR:
    """Maximal marginal relevance over the head of the list.

    Picks greedily ``argmax_i  lam * rel_i - (1 - lam) * max_{j in S} sim(i, j)`` with
    sim = 1 for the same leaf category, 0.5 for the same root, else 0; rel is the ranker score
    min-max scaled over the head.

    On search the similarity is intent-aware: two items of a leaf the query asks for are
    redundant only as far as the query could mean something else, ``sim = 1 - P(leaf | query)``
    (and ``0.5 (1 - P(root | query))`` for the same root), with ``P`` from
    :mod:`ltr.query_intent`. "drawer organizers" (all of its intent on one leaf) keeps the
    ranker's order; "monitor" (baby monitors, computer monitors, monitor stands) still mixes.
    """

    name = "mmr"

    def __init__(
        self,
        catalog: Catalog,
        lam: float,
        head: int = 60,
        depth: int = 20,
        intent: Callable[[], QueryIntent] | None = None,
    ) -> None:
        self.catalog, self.lam, self.head, self.depth = catalog, lam, head, depth
        self.intent = intent  # the current query-intent table (rebuilt with the catalog)

    def rerank(self, ctx: RequestContext, pool: CandidatePool, ranked: Ranked) -> Ranked:
        n = min(self.head, len(ranked.order))
        if n <= 1 or self.lam >= 1.0:
            return ranked
        head = ranked.order[:n]
        rows = pool.rows[head]
        rel = ranked.scores[head].astype(np.float64)
        span = rel.max() - rel.min()
        rel = (rel - rel.min()) / span if span > 0 else np.ones(n)
        leaf = self.catalog.category.values[rows]
        root = self.catalog.root_category.values[rows]
        leaf_sim, root_sim = np.ones(n), np.full(n, 0.5)
        if ctx.surface == Surface.search and self.intent is not None:
            p_leaf, p_root = self.intent().shares(ctx.query, leaf, root)
            leaf_sim = 1.0 - np.nan_to_num(p_leaf.astype(np.float64))
            root_sim = 0.5 * (1.0 - np.nan_to_num(p_root.astype(np.float64)))
        max_sim = np.zeros(n)
        chosen: list[int] = []
        free = np.ones(n, np.bool_)
        for _ in range(min(self.depth, n)):
            gain = np.where(free, self.lam * rel - (1 - self.lam) * max_sim, -np.inf)
            i = int(np.argmax(gain))
            chosen.append(i)
            free[i] = False
            sim = np.where(leaf == leaf[i], leaf_sim, np.where(root == root[i], root_sim, 0.0))
            max_sim = np.maximum(max_sim, sim)
        rest = [i for i in range(n) if free[i]]
        notes = dict(ranked.notes)
        for pos, i in enumerate(chosen):
            if pos != i:
                notes.setdefault(int(head[i]), []).append(f"{self.name}: {i + 1} -> {pos + 1}")
        order = np.concatenate([head[chosen], head[rest], ranked.order[n:]])
        return Ranked(order, ranked.scores, notes)


class BrandSellerCaps:
    """At most ``brand_cap`` items per brand and ``seller_cap`` per seller in the top ``depth``;
    items over a cap move just below it (never dropped)."""

    name = "brand_seller_caps"

    def __init__(self, catalog: Catalog, brand_cap: int, seller_cap: int, depth: int = 20) -> None:
        self.catalog = catalog
        self.brand_cap, self.seller_cap, self.depth = brand_cap, seller_cap, depth

    def rerank(self, ctx: RequestContext, pool: CandidatePool, ranked: Ranked) -> Ranked:
        rows = pool.rows[ranked.order]
        brands = self.catalog.brand.values[rows]
        sellers = self.catalog.seller.values[rows]
        top: list[int] = []
        deferred: list[int] = []
        nb: dict[int, int] = {}
        ns: dict[int, int] = {}
        k = 0
        for k in range(len(rows)):
            if len(top) >= self.depth:
                break
            b, s = int(brands[k]), int(sellers[k])
            if nb.get(b, 0) >= self.brand_cap or ns.get(s, 0) >= self.seller_cap:
                deferred.append(k)
                continue
            nb[b] = nb.get(b, 0) + 1
            ns[s] = ns.get(s, 0) + 1
            top.append(k)
        else:
            k = len(rows)
        if not deferred:
            return ranked
        notes = dict(ranked.notes)
        for k2 in deferred:
            notes.setdefault(int(ranked.order[k2]), []).append(
                f"{self.name}: moved below position {self.depth} (brand or seller cap)"
            )
        idx = np.array(top + deferred + list(range(k, len(rows))), dtype=np.int64)
        return Ranked(ranked.order[idx], ranked.scores, notes)
