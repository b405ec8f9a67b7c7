"""The one string <-> int vocabulary: dense ids ``0..len-1`` in order of addition, -1 = unknown.

The catalog grows one per categorical column (categories, brands, sellers, roots, variants) as
items arrive. A vocabulary whose ids are a saved contract (the towers' embedding rows, frozen
with a model artifact) is built frozen, by :meth:`Vocab.from_counts` or :meth:`Vocab.restore`,
and refuses new names. Consumers that need another numbering (e.g. the towers' embedding table,
whose row 0 is "unknown") derive it from these ids; they do not keep a second mapping.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt


class Vocab:
    #: Class-level default, so an instance made before the attribute existed reads unfrozen.
    _frozen: bool = False

    def __init__(self, names: Iterable[str] = (), *, frozen: bool = False) -> None:
        """``names`` in order (repeats ignored); ``frozen`` refuses names added later."""
        self._names: list[str] = []
        self._index: dict[str, int] = {}
        for n in names:
            self.add(n)
        self._frozen = frozen

    @classmethod
    def from_counts(cls, values: Iterable[str], min_count: int = 1) -> Vocab:
        """Frozen vocabulary of the names seen at least ``min_count`` times in ``values``, most
        frequent first (ties in order of first sight)."""
        counts = Counter(values)
        return cls([n for n, c in counts.most_common() if c >= min_count], frozen=True)

    @classmethod
    def restore(cls, names: Sequence[str]) -> Vocab:
        """Frozen vocabulary saved as :meth:`names`: name ``k`` gets id ``k`` again. Raises
        ``ValueError`` on a repeated name, which would shift every later id."""
        if len(set(names)) != len(names):
            raise ValueError("vocabulary names must be distinct")
        return cls(names, frozen=True)

    @property
    def frozen(self) -> bool:
        return self._frozen

    def add(self, name: str) -> int:
        """Index of ``name``, added at the end when new (``ValueError`` if frozen)."""
        i = self._index.get(name)
        if i is None:
            if self._frozen:
                raise ValueError(f"{name!r} is not in a frozen vocabulary")
            i = len(self._names)
            self._names.append(name)
            self._index[name] = i
        return i

    def get(self, name: str) -> int:
        """Index of ``name``, or -1 when unknown."""
        return self._index.get(name, -1)

    def lookup(self, names: Iterable[str]) -> npt.NDArray[np.int64]:
        """Indices of ``names`` (-1 for unknown ones), without adding any."""
        return np.fromiter((self._index.get(n, -1) for n in names), dtype=np.int64)

    def name(self, i: int) -> str:
        return self._names[i]

    def __len__(self) -> int:
        return len(self._names)

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def names(self) -> list[str]:
        return list(self._names)

    def encode(self, names: Iterable[str]) -> npt.NDArray[np.int32]:
        """Indices of ``names``, adding new ones (``ValueError`` on a new name if frozen)."""
        return np.fromiter((self.add(n) for n in names), dtype=np.int32)
