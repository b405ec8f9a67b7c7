"""Request bodies for lexical and filtered kNN searches, and reading hits back.

User text goes into a ``match`` query (analysed, OR of terms), never ``query_string``, so query
syntax in the text is just words. Filters are non-scoring ``bool.filter`` clauses; on the
Lucene engine a kNN ``filter`` is applied during the graph search, and Lucene falls back to an
exact scan when few documents pass, the behaviour the embedded backend copies.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.core.arrays import F32
from engine.core.search import Hits, SearchFilter

# Hits carry only the ``id`` doc value: no stored fields, no _source, no total count.
_FETCH: dict[str, Any] = {
    "stored_fields": "_none_",
    "docvalue_fields": ["id"],
    "track_total_hits": False,
}


def filter_query(flt: SearchFilter | None, model: str = "") -> dict[str, Any] | None:
    must: list[dict[str, Any]] = []
    if model:
        must.append({"term": {"vector_model": model}})
    if flt is not None:
        if flt.categories is not None:
            must.append({"terms": {"category_path": list(flt.categories)}})
        if flt.brands is not None:
            must.append({"terms": {"brand": list(flt.brands)}})
        if flt.in_stock is not None:
            must.append({"term": {"in_stock": flt.in_stock}})
        if flt.price_min is not None or flt.price_max is not None:
            bounds: dict[str, float] = {}
            if flt.price_min is not None:
                bounds["gte"] = flt.price_min
            if flt.price_max is not None:
                bounds["lte"] = flt.price_max
            must.append({"range": {"price": bounds}})
    must_not = [{"ids": {"values": sorted(flt.exclude_ids)}}] if flt and flt.exclude_ids else []
    if not must and not must_not:
        return None
    clause: dict[str, Any] = {}
    if must:
        clause["filter"] = must
    if must_not:
        clause["must_not"] = must_not
    return {"bool": clause}


def lexical_body(query: str, k: int, flt: SearchFilter | None) -> dict[str, Any]:
    clause: dict[str, Any] = {"must": [{"match": {"text": {"query": query}}}]}
    extra = filter_query(flt)
    if extra is not None:
        clause.update(extra["bool"])
    return {"size": k, "query": {"bool": clause}, **_FETCH}


def knn_body(
    vector: F32, k: int, flt: SearchFilter | None, model: str, ef_search: int
) -> dict[str, Any]:
    knn: dict[str, Any] = {
        "vector": np.asarray(vector, dtype=np.float32),
        "k": k,
        "method_parameters": {"ef_search": max(ef_search, k)},
    }
    extra = filter_query(flt, model)
    if extra is not None:
        knn["filter"] = extra
    return {"size": k, "query": {"knn": {"vector": knn}}, **_FETCH}


def read_hits(response: dict[str, Any]) -> tuple[list[str], F32]:
    hits = response["hits"]["hits"]
    ids = [h["fields"]["id"][0] for h in hits]
    scores = np.fromiter((h["_score"] for h in hits), dtype=np.float64, count=len(hits))
    return ids, scores.astype(np.float32)


def missing_shards(response: dict[str, Any]) -> str:
    """Why part of the index did not answer, from the response's ``_shards`` and
    ``timed_out``; "" when every shard did. (A shard whose copy was on a lost node is retried
    on its other copies by the cluster first: only a shard with no live copy is missing.)"""
    shards = response.get("_shards") or {}
    failed, total = int(shards.get("failed", 0)), int(shards.get("total", 0))
    if failed:
        reasons = {
            str((f.get("reason") or {}).get("type", "unknown")) for f in shards.get("failures", [])
        }
        return f"{failed} of {total} shards failed ({', '.join(sorted(reasons)) or 'unknown'})"
    if response.get("timed_out"):
        return "shards timed out: partial results"
    return ""


def lexical_hits(response: dict[str, Any]) -> Hits:
    ids, scores = read_hits(response)
    return Hits(ids, scores, missing_shards(response))


def knn_hits(response: dict[str, Any]) -> Hits:
    """Lucene's inner-product score is ``1 + ip`` for ``ip >= 0``, else ``1 / (1 - ip)``:
    invert it so both backends return the raw inner product."""
    ids, scores = read_hits(response)
    s = scores.astype(np.float64)
    with np.errstate(divide="ignore"):
        raw = np.where(s >= 1.0, s - 1.0, 1.0 - 1.0 / np.maximum(s, 1e-30))
    return Hits(ids, raw.astype(np.float32), missing_shards(response))
