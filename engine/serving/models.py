"""The models serving reads, each behind a holder.

The two-tower and graph sources, the catalog writer and the vector lane read the holder's
current model once per request or batch, so one request or batch never mixes versions. A new
version goes live by :meth:`ModelHolder.swap`: the pipeline spec and its stages stay as they
are, and whoever keeps state per model (the vector lane's owed vectors, the versions the
responses report) is told through :meth:`ModelHolder.on_swap`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

if TYPE_CHECKING:
    from graph.serving import GraphServing
    from towers.serving import TowerServing


class ServedModel(Protocol):
    """What every served model has: the version that responses and logs name."""

    @property
    def version(self) -> str: ...


M = TypeVar("M", bound=ServedModel)


class ModelHolder(Generic[M]):
    """The served version of one kind of model (``towers``, ``graph``); None: none served."""

    __slots__ = ("_current", "_listeners", "kind")

    def __init__(self, kind: str, model: M | None = None) -> None:
        self.kind = kind
        self._current = model
        self._listeners: list[Callable[[M], None]] = []

    @property
    def current(self) -> M | None:
        return self._current

    def swap(self, model: M) -> M | None:
        """Serve ``model`` from now on; returns the one it replaces. Listeners run in order,
        after the swap, on the caller's thread."""
        previous, self._current = self._current, model
        for listener in self._listeners:
            listener(model)
        return previous

    def on_swap(self, listener: Callable[[M], None]) -> None:
        self._listeners.append(listener)


@dataclass(frozen=True, slots=True)
class ServedModels:
    """The holders one engine and its pipeline share."""

    towers: ModelHolder[TowerServing]
    graph: ModelHolder[GraphServing]

    @staticmethod
    def of(towers: TowerServing | None = None, graph: GraphServing | None = None) -> ServedModels:
        return ServedModels(ModelHolder("towers", towers), ModelHolder("graph", graph))
