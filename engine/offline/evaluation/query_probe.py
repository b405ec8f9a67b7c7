"""Search probes for what held-out logs never ask: a word the catalog has never seen, and a
brand-new item named by its query.

Logged queries come from the same vocabulary as the titles, so a ranker can score well on them
while relying on signals that break on anything else (a two-tower neighbour of a made-up word,
popularity). Two probes, one per sampled leaf category ``L`` (its last path segment as words):

- **unknown word**: ``"<made-up word> <L>"``; what share of the top 10 is in ``L`` and what
  share is outside ``L``'s root category. A shopper asked for ``L``.
- **new item**: an item just created in ``L`` under a made-up brand ``B`` (a copy of one of
  ``L``'s items otherwise), then ``"<B> <L>"``; the new item's rank on a first page of 10, and
  whether it is in the first 50 (a page of 50). Nothing else matches both words, and it has no
  behaviour yet.

The probe writes the new items into the engine it is given: run it on a throwaway engine.
"""

from __future__ import annotations

import string
from datetime import UTC, datetime
from typing import Any

import numpy as np

from engine.core.catalog import Catalog
from engine.core.contracts import Availability, Item, SearchRequest
from engine.core.text import tokens
from engine.serving.service import Engine

PAGE = 10


def made_up_words(rng: np.random.Generator, n: int, taken: set[str]) -> list[str]:
    """``n`` distinct letter strings no catalog title or brand uses."""
    out: list[str] = []
    while len(out) < n:
        w = "".join(rng.choice(list(string.ascii_lowercase), size=7))
        if w not in taken and w not in out:
            out.append(w)
    return out


def _leaves(catalog: Catalog, rng: np.random.Generator, n: int) -> list[tuple[str, int]]:
    """Up to ``n`` leaf categories with at least 10 live items: (path, a row in it)."""
    live = np.flatnonzero(~catalog.deleted.values[: len(catalog)])
    cats = catalog.category.values[live]
    uniq, first, counts = np.unique(cats, return_index=True, return_counts=True)
    ok = np.flatnonzero(counts >= 10)
    pick = rng.choice(ok, size=min(n, len(ok)), replace=False)
    return [(catalog.categories.name(int(uniq[k])), int(live[first[k]])) for k in sorted(pick)]


def _copy(catalog: Catalog, row: int, new_id: str, brand: str, now: datetime) -> Item:
    words = catalog.titles[row].split()
    old_brand = catalog.brands.name(int(catalog.brand.values[row]))
    title = " ".join(brand.title() if w == old_brand else w for w in words)
    return Item(
        id=new_id,
        title=title if brand.title() in title else f"{brand.title()} {title}",
        category_path=catalog.category_name(row).split("/"),
        brand=brand.title(),
        price=float(catalog.price.values[row]),
        currency="USD",
        availability=Availability.in_stock,
        seller_id="sprobe",
        created_at=now,
        updated_at=now,
        version=1,
    )


async def probe_search(engine: Engine, n: int = 40, seed: int = 0) -> dict[str, Any]:
    """Both probes over ``n`` leaf categories; see the module doc."""
    rng = np.random.default_rng(seed)
    cat = engine.catalog
    taken = {t for title in cat.titles for t in tokens(title)}
    taken |= {b.lower() for b in cat.brands.names()}
    leaves = _leaves(cat, rng, n)
    words = made_up_words(rng, 2 * len(leaves), taken)
    in_leaf, off_root = [], []
    for (path, _), word in zip(leaves, words[: len(leaves)], strict=True):
        leaf_words = path.split("/")[-1].lower()
        resp = await engine.rank(SearchRequest(query=f"{word} {leaf_words}", page_size=PAGE))
        got = [cat.category_name(cat.row_of[it.id]) for it in resp.items]
        root = path.split("/")[0]
        in_leaf.append(sum(g == path for g in got) / PAGE)
        off_root.append(sum(g.split("/")[0] != root for g in got) / PAGE)
    now = datetime.now(UTC)
    brands = words[len(leaves) :]
    items = [
        _copy(cat, row, f"probe{k:04d}", b, now)
        for k, ((_, row), b) in enumerate(zip(leaves, brands, strict=True))
    ]
    await engine.writes.upsert(items, wait_s=30.0)
    ranks: list[int] = []  # on a first page of 10
    deep: list[int] = []  # in the first 50
    for (path, _), it in zip(leaves, items, strict=True):
        q = f"{it.brand.lower()} {path.split('/')[-1].lower()}"
        for size, out in ((PAGE, ranks), (50, deep)):
            ids = [r.id for r in (await engine.rank(SearchRequest(query=q, page_size=size))).items]
            out.append(ids.index(it.id) + 1 if it.id in ids else 0)
    r = np.asarray(ranks)
    return {
        "leaves": len(leaves),
        "unknown_word": {
            "in_leaf@10": round(float(np.mean(in_leaf)), 4),
            "off_root@10": round(float(np.mean(off_root)), 4),
        },
        "new_item": {
            "hit@1": round(float(np.mean(r == 1)), 4),
            "hit@10": round(float(np.mean(r > 0)), 4),
            "mrr@10": round(float(np.mean(np.where(r > 0, 1.0 / np.maximum(r, 1), 0.0))), 4),
            "ranks@10": ranks,
            "found@50": round(float(np.mean(np.asarray(deep) > 0)), 4),
            "ranks@50": deep,
        },
    }
