"""Growable typed numpy columns (amortised O(1) append, views for reads)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt


class Column:
    def __init__(self, dtype: npt.DTypeLike, fill: Any = 0, capacity: int = 1024) -> None:
        self._fill = fill
        self._data = np.full(capacity, fill, dtype=dtype)
        self._n = 0

    def __len__(self) -> int:
        return self._n

    @property
    def values(self) -> npt.NDArray[Any]:
        return self._data[: self._n]

    def resize(self, n: int) -> None:
        if n > len(self._data):
            cap = max(n, 2 * len(self._data))
            grown = np.full(cap, self._fill, dtype=self._data.dtype)
            grown[: self._n] = self._data[: self._n]
            self._data = grown
        self._n = max(self._n, n)

    def set(self, rows: npt.NDArray[np.int64] | int, values: Any) -> None:
        self._data[rows] = values

    def extend(self, values: npt.ArrayLike) -> None:
        arr = np.asarray(values, dtype=self._data.dtype)
        start = self._n
        self.resize(start + len(arr))
        self._data[start : start + len(arr)] = arr
