"""The one tokenizer for features: the search index's analysis (lowercase, accents folded,
English stems, so "monitors" and "Monitor" are one token), tokens of two or more characters,
hashed."""

from __future__ import annotations

import hashlib
import re
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


def ordered_token_ids(text: str) -> npt.NDArray[np.int64]:
    """Token ids in text order, repeats kept."""
    return np.fromiter((token_id(t) for t in tokens(text)), np.int64)


def token_ids(text: str) -> npt.NDArray[np.int64]:
    """Sorted unique token ids, stable across processes."""
    return np.unique(np.fromiter((token_id(t) for t in tokens(text)), np.int64))


#: attributes holding model numbers and barcodes (searched as written and with their
#: separators removed; see :func:`product_codes`)
CODE_ATTRIBUTES = ("name", "model", "mpn", "sku", "ean", "gtin", "upc")
_SEPARATORS = re.compile(r"[^0-9a-z]+")


def product_codes(attributes: Mapping[str, str]) -> str:
    """An item's model numbers and barcodes as searchable text: each code as written and,
    when it has separators, once more without them, so "dv7-1211ea" is found by "dv7-1211ea",
    "dv7 1211ea" and "dv71211ea". A code of letters only (a product name) is kept as words."""
    out: list[str] = []
    for key in CODE_ATTRIBUTES:
        for code in attributes.get(key, "").split():
            out.append(code)
            joined = _SEPARATORS.sub("", code.lower())
            if joined != code.lower() and len(joined) > 1 and any(c.isdigit() for c in joined):
                out.append(joined)
    return " ".join(dict.fromkeys(out))


def attribute_words(attributes: Mapping[str, str]) -> str:
    """The attribute values a search can match as words ("Notebook", "Laser printing"):
    all but the product codes (:data:`CODE_ATTRIBUTES`) and the variant group."""
    skip = {*CODE_ATTRIBUTES, "variant_group"}
    return " ".join(v for k, v in attributes.items() if k not in skip)


def attribute_ids(attributes: Mapping[str, str]) -> npt.NDArray[np.int64]:
    """Sorted unique ids of an item's attributes, one per ``key=word`` of each value split on
    whitespace (so ``{"attribute_ids": "173 1"}`` gives two ids), stable across processes."""
    words = (f"{k}={w}" for k, v in attributes.items() for w in v.split())
    return np.unique(np.fromiter((token_id(t) for t in words), np.int64))
