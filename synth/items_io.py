"""Titles, descriptions and attributes in English words, written as ``items.jsonl`` with orjson.

A title reads like "Acmetech Wireless Smartphone Black 128GB": brand, adjective, leaf noun,
colour and size. Strings are looked up column-wise with numpy; only the final dict per item is
built in Python, chunk by chunk.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import orjson

from synth.catalog import AVAILABILITY, Catalog
from synth.taxonomy import Taxonomy

CHUNK = 50_000


def item_ids(n: int) -> list[str]:
    w = max(7, len(str(n)))
    return [f"i{i:0{w}d}" for i in range(n)]


def _flat(tax: Taxonomy, field: str) -> tuple[np.ndarray, np.ndarray]:
    """All roots' values of one vocabulary field in one array, and each root's offset."""
    lists = [getattr(v, field) for v in tax.vocabs]
    offset = np.cumsum([0, *[len(x) for x in lists[:-1]]])
    return np.array([w for x in lists for w in x], dtype=object), offset


def _title(noun: str, leaf: str) -> str:
    upper = {w.lower() for w in leaf.split() if w.isupper()}
    return " ".join(w.upper() if w in upper else w.capitalize() for w in noun.split())


def _iso(ts: np.ndarray) -> list[str]:
    out: list[str] = np.datetime_as_string(
        ts.astype(np.int64).astype("datetime64[s]"), unit="s", timezone="UTC"
    ).tolist()
    return out


def write_items(
    path: Path, tax: Taxonomy, cat: Catalog, on_chunk: Callable[[int], None] | None = None
) -> None:
    ids = item_ids(cat.n)
    paths = [list(p) for p in tax.leaf_paths]
    title_nouns = [_title(n, p[2]) for n, p in zip(tax.nouns, tax.leaf_paths, strict=True)]
    color_vals, color_off = _flat(tax, "colors")
    size_vals, size_off = _flat(tax, "sizes")
    mat_vals, mat_off = _flat(tax, "materials")
    adj_vals, adj_off = _flat(tax, "adjectives")
    keys = [(v.color_key, v.size_key, v.material_key) for v in tax.vocabs]
    sentences = [v.sentence for v in tax.vocabs]
    sellers = cat.seller_names()
    rating = cat.seller_rating.astype(np.float64).round(1).tolist()
    orders = cat.seller_orders.tolist()
    with path.open("wb") as fh:
        for lo in range(0, cat.n, CHUNK):
            hi = min(cat.n, lo + CHUNK)
            sl = slice(lo, hi)
            root = cat.root[sl]
            leaf = cat.leaf[sl].tolist()
            color = color_vals[color_off[root] + cat.color[sl]].tolist()
            size = size_vals[size_off[root] + cat.size[sl]].tolist()
            mat = mat_vals[mat_off[root] + cat.material[sl]].tolist()
            adj = adj_vals[adj_off[root] + cat.adjective[sl]].tolist()
            brand = [cat.brand_names[b] for b in cat.brand[sl].tolist()]
            price = cat.price[sl].astype(np.float64).round(2).tolist()
            cost = cat.cost_price[sl].astype(np.float64).round(2).tolist()
            avail = [AVAILABILITY[a] for a in cat.availability[sl].tolist()]
            created, updated = _iso(cat.created_at[sl]), _iso(cat.updated_at[sl])
            version = cat.version[sl].tolist()
            group = cat.variant_group[sl].tolist()
            seller = cat.seller[sl].tolist()
            lines = []
            for k, r in enumerate(root.tolist()):
                lf = leaf[k]
                ck, sk, mk = keys[r]
                attrs = {ck: color[k], sk: size[k], mk: mat[k]}
                if group[k] >= 0:
                    attrs["variant_group"] = f"g{group[k]}"
                s = seller[k]
                lines.append(
                    orjson.dumps(
                        {
                            "id": ids[lo + k],
                            "title": f"{brand[k]} {adj[k]} {title_nouns[lf]} {color[k]} {size[k]}",
                            "description": f"{adj[k]} {tax.nouns[lf]} by {brand[k]} in "
                            f"{color[k].lower()}, {mk} {mat[k].lower()}. {sentences[r]}",
                            "category_path": paths[lf],
                            "brand": brand[k],
                            "attributes": attrs,
                            "price": price[k],
                            "currency": "USD",
                            "availability": avail[k],
                            "seller_id": sellers[s],
                            "created_at": created[k],
                            "updated_at": updated[k],
                            "version": version[k],
                            "seller_rating": rating[s],
                            "seller_order_count": orders[s],
                            "cost_price": cost[k],
                        }
                    )
                )
            fh.write(b"\n".join(lines) + b"\n")
            if on_chunk is not None:
                on_chunk(hi - lo)
