"""The one tokenizer for features: the search index's analysis (lowercase, accents folded,
English stems, so "monitors" and "Monitor" are one token), tokens of two or more characters,
hashed."""

from __future__ import annotations

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


def token_ids(text: str) -> npt.NDArray[np.int64]:
    """Sorted unique token hashes (process-local; never persisted)."""
    return np.unique(np.fromiter((hash(t) for t in tokens(text)), np.int64))
