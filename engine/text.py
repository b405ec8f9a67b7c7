"""The one tokenizer for features: the search index's analysis (lowercase, accents folded,
English stems, so "monitors" and "Monitor" are one token), tokens of two or more characters,
hashed."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from search_plugins.embedded.lexical import analyzer

_ANALYZER = analyzer()


def tokens(text: str) -> list[str]:
    return [t for t in _ANALYZER.analyze(text) if len(t) > 1]


def token_ids(text: str) -> npt.NDArray[np.int64]:
    """Sorted unique token hashes (process-local; never persisted)."""
    return np.unique(np.fromiter((hash(t) for t in tokens(text)), np.int64))
