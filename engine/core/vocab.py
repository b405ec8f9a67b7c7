"""A growable string <-> int vocabulary, used for categorical catalog columns."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt


class Vocab:
    def __init__(self, names: Iterable[str] = ()) -> None:
        self._names: list[str] = []
        self._index: dict[str, int] = {}
        for n in names:
            self.add(n)

    def add(self, name: str) -> int:
        i = self._index.get(name)
        if i is None:
            i = len(self._names)
            self._names.append(name)
            self._index[name] = i
        return i

    def get(self, name: str) -> int:
        """Index of ``name``, or -1 when unknown."""
        return self._index.get(name, -1)

    def name(self, i: int) -> str:
        return self._names[i]

    def __len__(self) -> int:
        return len(self._names)

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def names(self) -> list[str]:
        return list(self._names)

    def encode(self, names: Iterable[str]) -> npt.NDArray[np.int32]:
        return np.fromiter((self.add(n) for n in names), dtype=np.int32)
