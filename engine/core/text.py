"""The one tokenizer for features: the search index's analysis (lowercase, accents folded,
English stems, so "monitors" and "Monitor" are one token), tokens of two or more characters,
hashed."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from functools import lru_cache

import numpy as np
import numpy.typing as npt
import tantivy


def analyzer() -> tantivy.TextAnalyzer:
    """The text analysis of the search index (the embedded backend's; OpenSearch's mapping
    mirrors it): word tokens,
    lowercased, accents folded, English (Snowball) stems."""
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(40))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .filter(tantivy.Filter.stemmer("english"))
        .build()
    )


_ANALYZER = analyzer()


def tokens(text: str) -> list[str]:
    return [t for t in _ANALYZER.analyze(text) if len(t) > 1]


@lru_cache(maxsize=1 << 18)
def token_id(token: str) -> int:
    """A token's 64-bit id, the same in every process (Python's ``hash`` of a string is salted
    per process, which made anything built from these ids differ from run to run)."""
    digest = hashlib.blake2b(token.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


def token_ids(text: str) -> npt.NDArray[np.int64]:
    """Sorted unique token ids, stable across processes."""
    return np.unique(np.fromiter((token_id(t) for t in tokens(text)), np.int64))


def attribute_ids(attributes: Mapping[str, str]) -> npt.NDArray[np.int64]:
    """Sorted unique ids of an item's attributes, one per ``key=word`` of each value split on
    whitespace (so ``{"attribute_ids": "173 1"}`` gives two ids), stable across processes."""
    words = (f"{k}={w}" for k, v in attributes.items() for w in v.split())
    return np.unique(np.fromiter((token_id(t) for t in words), np.int64))
