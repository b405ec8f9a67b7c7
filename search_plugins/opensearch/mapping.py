"""The index template: analyzer, field mappings and index settings, and the document body.

The text analyzer mirrors the embedded backend's so both rank alike: split on anything that is
not a letter or digit, drop tokens over 40 characters, lowercase, ASCII-fold, Snowball English
(porter2) stemming. ``category_path`` holds every prefix of the category path, so a filter on
``"Electronics"`` matches ``"Electronics/Phones"`` but not ``"ElectronicsX"``.

Searches fetch nothing stored: the ``id`` keyword's doc values carry the hit's id back, which
measured 8x faster than reading ``_id`` from stored fields for 100 hits (2 ms against 16.5 ms
server time for a kNN top-100 over 20K docs).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.core.search import WRITE_ORDER_SCHEME, IndexDoc, category_prefixes
from search_plugins.opensearch.params import OpenSearchParams

ANALYZER = "shop_en"


def replicas(value: str) -> dict[str, Any]:
    """``"1"`` -> a fixed replica count; ``"0-1"`` or ``"1-all"`` -> auto-expanded replicas."""
    if "-" in value:
        return {"auto_expand_replicas": value}
    return {"number_of_replicas": int(value), "auto_expand_replicas": False}


def settings(params: OpenSearchParams) -> dict[str, Any]:
    return {
        "index": {
            "number_of_shards": params.shards,
            **replicas(params.replicas),
            "refresh_interval": params.refresh_interval,
            "gc_deletes": params.gc_deletes,
            "knn": True,
        },
        "analysis": {
            "tokenizer": {
                "shop_words": {"type": "pattern", "pattern": "[^\\p{L}\\p{N}]+"},
            },
            "filter": {
                "shop_len": {"type": "length", "max": 40},
                "shop_stem": {"type": "stemmer", "language": "porter2"},
            },
            "analyzer": {
                ANALYZER: {
                    "type": "custom",
                    "tokenizer": "shop_words",
                    "filter": ["shop_len", "lowercase", "asciifolding", "shop_stem"],
                }
            },
        },
    }


def mappings(dim: int, params: OpenSearchParams) -> dict[str, Any]:
    return {
        "dynamic": "strict",
        "_meta": {"dim": dim, "schema": WRITE_ORDER_SCHEME},
        # The vector lives in Lucene's vector files; keeping it out of the stored _source makes
        # the stored fields small (a rebuild reads the catalog, not _source).
        "_source": {"excludes": ["vector"]},
        "properties": {
            "id": {"type": "keyword"},  # doc values: hits are read without stored fields
            "text": {"type": "text", "analyzer": ANALYZER},
            "category": {"type": "keyword"},
            "category_path": {"type": "keyword"},
            "brand": {"type": "keyword"},
            "seller_id": {"type": "keyword"},
            "price": {"type": "double"},
            "in_stock": {"type": "boolean"},
            "created_at": {"type": "date", "format": "epoch_second"},
            "vector_model": {"type": "keyword"},
            "vector": {
                "type": "knn_vector",
                "dimension": dim,
                "method": {
                    "name": "hnsw",
                    "engine": "lucene",
                    "space_type": "innerproduct",
                    "parameters": {
                        "m": params.hnsw_m,
                        "ef_construction": params.hnsw_ef_construction,
                    },
                },
            },
        },
    }


def template(dim: int, params: OpenSearchParams) -> dict[str, Any]:
    """Body of ``PUT _index_template/<alias>``: applies to every generation of the alias."""
    return {
        "index_patterns": [f"{params.alias}-*"],
        "priority": 100,
        "template": {"settings": settings(params), "mappings": mappings(dim, params)},
        "_meta": {"owner": "shopnow", "dim": dim},
    }


def source(doc: IndexDoc) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": doc.id,
        "text": doc.text,
        "category": doc.category,
        "category_path": category_prefixes(doc.category),
        "brand": doc.brand,
        "seller_id": doc.seller_id,
        "price": float(doc.price),
        "in_stock": bool(doc.in_stock),
        "created_at": round(float(doc.created_at), 3),
    }
    if doc.vector is not None:
        body["vector"] = np.asarray(doc.vector, dtype=np.float32)
        body["vector_model"] = doc.vector_model
    return body
