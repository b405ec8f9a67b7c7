"""Growable typed numpy columns (amortised O(1) append, views for reads)."""

from __future__ import annotations

import threading
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


class RaggedInts:
    """One variable-length int64 array per row, packed in a single buffer.

    Rows are read in bulk with :meth:`gather` (one fancy index, no per-row Python work).
    Writes are queued and packed in one go at the next read, so loading a catalog row by row
    stays cheap. Rewriting a row appends its new values and leaves the old ones as garbage;
    the buffer is repacked once garbage outweighs the live values.
    """

    def __init__(self, compact_min: int = 1 << 16) -> None:
        self._flat = Column(np.int64)
        self._start = Column(np.int64)
        self._len = Column(np.int64)
        self._pending: dict[int, npt.NDArray[np.int64]] = {}
        self._live = 0
        self.compact_min = compact_min
        self._lock = threading.Lock()  # a read may pack queued writes

    def __len__(self) -> int:
        return len(self._start)

    def resize(self, n: int) -> None:
        """Grow to ``n`` rows; new rows are empty."""
        self._start.resize(n)
        self._len.resize(n)

    def set(self, row: int, values: npt.ArrayLike) -> None:
        if row < 0:
            raise IndexError(row)
        if row >= len(self):
            self.resize(row + 1)
        with self._lock:
            self._pending.pop(row, None)  # keep the queue in write order
            self._pending[row] = np.asarray(values, dtype=np.int64)

    def __getitem__(self, row: int) -> npt.NDArray[np.int64]:
        if not 0 <= row < len(self):
            raise IndexError(row)
        values, _ = self.gather(np.array([row], dtype=np.int64))
        return values

    def pack(self) -> None:
        """Write the queued rows into the buffer now (reads do it anyway)."""
        if self._pending:
            with self._lock:
                self._flush()

    def gather(
        self, rows: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """The values of ``rows`` concatenated, and each row's length."""
        if self._pending:
            with self._lock:
                self._flush()
        return self._gather(rows)

    def parts(
        self,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """The packed buffer, each row's start in it and its length: row ``r``'s values are
        ``flat[start[r] : start[r] + length[r]]`` (for compiled loops over many rows)."""
        with self._lock:  # one buffer and the starts into it (a compaction replaces both)
            self._flush()
            return self._flat.values, self._start.values, self._len.values

    def lengths(self, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Each row's length, without reading its values."""
        if self._pending:
            with self._lock:
                self._flush()
        out: npt.NDArray[np.int64] = self._len.values[rows]
        return out

    def _gather(
        self, rows: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        lengths = self._len.values[rows]
        total = int(lengths.sum())
        if total == 0:
            return np.zeros(0, np.int64), lengths
        starts = self._start.values[rows]
        ends = np.cumsum(lengths)
        idx = np.arange(total, dtype=np.int64) + np.repeat(starts - (ends - lengths), lengths)
        return self._flat.values[idx], lengths

    def _flush(self) -> None:
        if not self._pending:
            return
        rows = np.fromiter(self._pending, np.int64, count=len(self._pending))
        arrays = list(self._pending.values())
        self._pending = {}
        lengths = np.fromiter((len(a) for a in arrays), np.int64, count=len(arrays))
        self._live += int(lengths.sum()) - int(self._len.values[rows].sum())
        base = len(self._flat)
        self._flat.extend(np.concatenate(arrays))
        self._start.set(rows, base + np.cumsum(lengths) - lengths)
        self._len.set(rows, lengths)
        garbage = len(self._flat) - self._live
        if garbage > self.compact_min and garbage > self._live:
            self._compact()

    def _compact(self) -> None:
        flat, lengths = self._gather(np.arange(len(self), dtype=np.int64))
        self._flat = Column(np.int64, capacity=max(len(flat), 1024))
        self._flat.extend(flat)
        self._start.set(np.arange(len(self), dtype=np.int64), np.cumsum(lengths) - lengths)
        self._live = len(flat)
