"""The one tokenizer for features: lowercase word tokens of two or more characters, hashed."""

from __future__ import annotations

import re

import numpy as np
import numpy.typing as npt

_TOKEN = re.compile(r"\w\w+")


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def token_ids(text: str) -> npt.NDArray[np.int64]:
    """Sorted unique token hashes (process-local; never persisted)."""
    return np.unique(np.fromiter((hash(t) for t in tokens(text)), np.int64))
