"""What search asks of a dense text model: how close a query's meaning is to each candidate's
text (the ranker's ``query_text_similarity``) and which items are nearest (the ``text``
source). The served implementation is
:class:`towers.text_vectors.TextVectors` (MiniLM vectors of the item texts)."""

from __future__ import annotations

from typing import Protocol

from engine.core.arrays import F32, I64


class TextSimilarity(Protocol):
    @property
    def version(self) -> str: ...

    def similarity(self, query: str, rows: I64) -> F32:
        """Cosine of the query's and each row's text vector; NaN for a row without one."""
        ...

    def search(self, query: str, k: int) -> tuple[I64, F32]:
        """The ``k`` rows whose text is nearest the query's, best first, with their cosines."""
        ...
