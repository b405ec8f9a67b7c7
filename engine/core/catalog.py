"""The in-process catalog: items as typed columns addressed by row, for hydration and features.

Rows are stable: an update rewrites its row, a delete marks it. Restricted seller and pricing
fields are kept apart in :class:`RestrictedLedger`, read only by declared aggregations.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import orjson
from pydantic import TypeAdapter, ValidationError
from tqdm import tqdm

from engine.core.columns import Column, RaggedInts
from engine.core.contracts import Availability, Item
from engine.core.kernels import match_sums
from engine.core.search import IndexDoc
from engine.core.text import (
    attribute_ids,
    attribute_words,
    ordered_token_ids,
    product_codes,
    token_ids,
)
from engine.core.validation import describe
from engine.core.vocab import Vocab

_ITEMS = TypeAdapter(list[Item])
DESCRIPTION_WORDS = 64  # words of a description the text-match features read


@dataclass
class RestrictedLedger:
    """Raw restricted values. Only :mod:`ltr.aggregates` reads these."""

    seller_rating: dict[int, float] = field(default_factory=dict)
    seller_orders: dict[int, int] = field(default_factory=dict)
    cost_price: Column = field(default_factory=lambda: Column(np.float32, np.nan))


@dataclass(frozen=True, slots=True)
class UpsertResult:
    applied: list[int]  # rows written
    stale: list[str]  # ids whose version was not newer


@dataclass(frozen=True, slots=True)
class RowState:
    """One row as it was, for :meth:`Catalog.restore` (an ingest batch undone)."""

    row: int
    title: str
    description: str
    codes: str
    tokens: npt.NDArray[np.int64]
    title_tokens: npt.NDArray[np.int64]
    description_tokens: npt.NDArray[np.int64]
    attribute_tokens: npt.NDArray[np.int64]
    attributes: npt.NDArray[np.int64]
    columns: tuple[object, ...]  # one value per column of ``Catalog._columns``


class Catalog:
    def __init__(self) -> None:
        self.ids: list[str] = []
        self.row_of: dict[str, int] = {}
        self.titles: list[str] = []
        self.descriptions: list[str] = []
        self.codes: list[str] = []  # model numbers and barcodes (:func:`product_codes`)
        # token ids per row for the text-match features; ``tokens``, ``description_tokens`` and
        # ``attribute_tokens`` hold each row's ids sorted and distinct (kernels.match_sums
        # bisects them), ``title_tokens`` the title's ids in title order
        self.tokens = RaggedInts()  # title + brand + codes
        self.title_tokens = RaggedInts()
        self.description_tokens = RaggedInts()  # the description's first words
        self.attribute_tokens = RaggedInts()  # the attribute values' words
        self.attributes = RaggedInts()  # attribute ids per row (see :func:`attribute_ids`)
        self.categories = Vocab()
        self.brands = Vocab()
        self.sellers = Vocab()
        self.category = Column(np.int32, -1)
        self.root_category = Column(np.int32, -1)
        self.brand = Column(np.int32, -1)
        self.seller = Column(np.int32, -1)
        self.price = Column(np.float32, 0.0)
        self.in_stock = Column(np.bool_, False)
        self.created_at = Column(np.float64, 0.0)
        self.version = Column(np.int64, -1)
        self.deleted = Column(np.bool_, False)
        self.variant_group = Column(np.int64, -1)
        self.roots = Vocab()
        self.restricted = RestrictedLedger()
        self._variants = Vocab()

    def __len__(self) -> int:
        return len(self.ids)

    def rows(self, ids: Iterable[str]) -> npt.NDArray[np.int64]:
        """Rows of known, live ids (unknown or deleted ids are dropped)."""
        out = [r for i in ids if (r := self.row_of.get(i)) is not None]
        arr = np.asarray(out, dtype=np.int64)
        return arr[~self.deleted.values[arr]] if len(arr) else arr

    def upsert(self, items: Sequence[Item]) -> UpsertResult:
        applied: list[int] = []
        stale: list[str] = []
        for it in items:
            row = self.row_of.get(it.id)
            if row is None:
                row = self._append(it)
            elif self.version.values[row] >= it.version:
                stale.append(it.id)
                continue
            else:
                self._write(row, it)
            applied.append(row)
        for ragged in self._text_tokens():
            ragged.pack()  # one bulk write per batch, not at the first request
        return UpsertResult(applied, stale)

    def _append(self, it: Item) -> int:
        """A new row for ``it``: written in full before its id counts it in ``len(self)``,
        so a reader in another thread (the background rebuild of catalog-wide tables) that
        takes ``n = len(catalog)`` finds every column at least ``n`` long."""
        row = len(self.ids)
        self.titles.append("")
        self.descriptions.append("")
        self.codes.append("")
        for ragged in (*self._text_tokens(), self.attributes):
            ragged.resize(row + 1)
        for col in self._columns():
            col.resize(row + 1)
        try:
            self._write(row, it)
        except BaseException:  # the lists stay one entry per counted row
            del self.titles[row:], self.descriptions[row:], self.codes[row:]
            raise
        self.row_of[it.id] = row
        self.ids.append(it.id)
        return row

    def delete(self, item_id: str, version: int) -> bool:
        row = self.row_of.get(item_id)
        if row is None or self.version.values[row] > version:
            return False
        self.deleted.set(row, True)
        self.version.set(row, version)
        return True

    def row_state(self, row: int) -> RowState:
        """The row's values now, to put back later with :meth:`restore`."""
        return RowState(
            row,
            self.titles[row],
            self.descriptions[row],
            self.codes[row],
            self.tokens[row].copy(),
            self.title_tokens[row].copy(),
            self.description_tokens[row].copy(),
            self.attribute_tokens[row].copy(),
            self.attributes[row].copy(),
            tuple(col.values[row].item() for col in self._columns()),
        )

    def restore(self, state: RowState) -> None:
        """Put a row back as :meth:`row_state` saw it."""
        row = state.row
        self.titles[row], self.descriptions[row] = state.title, state.description
        self.codes[row] = state.codes
        self.tokens.set(row, state.tokens)
        self.title_tokens.set(row, state.title_tokens)
        self.description_tokens.set(row, state.description_tokens)
        self.attribute_tokens.set(row, state.attribute_tokens)
        for ragged in self._text_tokens():
            ragged.pack()
        self.attributes.set(row, state.attributes)
        self.attributes.pack()
        for col, value in zip(self._columns(), state.columns, strict=True):
            col.set(row, value)

    def forget(self, row: int) -> None:
        """Undo the change that added ``row``: rows are stable, so it stays, deleted and at
        no version (any later version of its id applies)."""
        self.deleted.set(row, True)
        self.version.set(row, -1)

    def _text_tokens(self) -> tuple[RaggedInts, ...]:
        return (self.tokens, self.title_tokens, self.description_tokens, self.attribute_tokens)

    def _columns(self) -> list[Column]:
        return [
            self.category,
            self.root_category,
            self.brand,
            self.seller,
            self.price,
            self.in_stock,
            self.created_at,
            self.version,
            self.deleted,
            self.variant_group,
            self.restricted.cost_price,
        ]

    def _write(self, row: int, it: Item) -> None:
        self.titles[row] = it.title
        self.codes[row] = product_codes(it.attributes)
        self.tokens.set(row, token_ids(f"{it.title} {it.brand} {self.codes[row]}"))
        self.title_tokens.set(row, ordered_token_ids(it.title))
        words = ordered_token_ids(it.description)[:DESCRIPTION_WORDS]
        self.description_tokens.set(row, np.unique(words))
        self.attribute_tokens.set(row, token_ids(attribute_words(it.attributes)))
        self.attributes.set(row, attribute_ids(it.attributes))
        self.descriptions[row] = it.description
        self.category.set(row, self.categories.add(it.category))
        self.root_category.set(row, self.roots.add(it.category_path[0]))
        self.brand.set(row, self.brands.add(it.brand))
        seller = self.sellers.add(it.seller_id)
        self.seller.set(row, seller)
        self.price.set(row, it.price)
        self.in_stock.set(row, it.availability == Availability.in_stock)
        self.created_at.set(row, it.created_at.timestamp())
        self.version.set(row, it.version)
        self.deleted.set(row, False)
        group = it.attributes.get("variant_group")
        self.variant_group.set(row, self._variants.add(group) if group else -1 - row)
        if it.seller_rating is not None:
            self.restricted.seller_rating[seller] = it.seller_rating
        if it.seller_order_count is not None:
            self.restricted.seller_orders[seller] = it.seller_order_count
        self.restricted.cost_price.set(row, np.nan if it.cost_price is None else it.cost_price)

    def query_words_found(
        self, rows: npt.NDArray[np.int64], query: str
    ) -> tuple[npt.NDArray[np.int64], int]:
        """How many of ``query``'s distinct tokens each row's title and brand carry, and how
        many the query has (the features' tokenizer, :mod:`engine.core.text`)."""
        q = token_ids(query)
        if len(q) == 0 or len(rows) == 0:
            return np.zeros(len(rows), np.int64), len(q)
        return match_sums(*self.tokens.parts(), rows, q, np.ones(len(q)))[1], len(q)

    def category_name(self, row: int) -> str:
        return self.categories.name(int(self.category.values[row]))

    def search_text(self, row: int) -> str:
        """The text the search backends index for the row: title, codes, brand, description."""
        brand = self.brands.name(int(self.brand.values[row]))
        return f"{self.titles[row]} {self.codes[row]} {brand} {self.descriptions[row]}"

    def index_doc(
        self,
        row: int,
        vector: npt.NDArray[np.float32] | None = None,
        vector_model: str = "",
        provisional: bool = False,
    ) -> IndexDoc:
        return IndexDoc(
            id=self.ids[row],
            version=int(self.version.values[row]),
            text=self.search_text(row),
            category=self.category_name(row),
            brand=self.brands.name(int(self.brand.values[row])),
            seller_id=self.sellers.name(int(self.seller.values[row])),
            price=float(self.price.values[row]),
            in_stock=bool(self.in_stock.values[row]),
            created_at=float(self.created_at.values[row]),
            vector=vector,
            vector_model=vector_model,
            provisional=provisional,
        )


def load_jsonl(catalog: Catalog, path: Path, chunk: int = 20_000, progress: bool = False) -> int:
    """Validate and upsert an items JSONL file in chunks; raises ValueError naming the line."""

    if not path.is_file():
        raise FileNotFoundError(f"items file not found: {path}")
    n = 0
    batch: list[bytes] = []
    first_line = 1
    with path.open("rb") as fh, tqdm(desc="catalog", unit="item", disable=not progress) as bar:
        for lineno, line in enumerate(fh, 1):
            if line.strip():
                batch.append(line)
            if len(batch) >= chunk:
                n += _load_batch(catalog, batch, path, first_line)
                bar.update(len(batch))
                batch, first_line = [], lineno + 1
        if batch:
            n += _load_batch(catalog, batch, path, first_line)
            bar.update(len(batch))
    return n


def _load_batch(catalog: Catalog, lines: list[bytes], path: Path, first_line: int) -> int:
    try:
        items = _ITEMS.validate_json(b"[" + b",".join(lines) + b"]")
    except (ValidationError, ValueError) as exc:  # name the first bad line
        for k, line in enumerate(lines):
            try:
                Item.model_validate(orjson.loads(line))
            except ValidationError as inner:
                msg, _ = describe(inner)
                raise ValueError(f"{path}:{first_line + k}: invalid item: {msg}") from None
            except orjson.JSONDecodeError as inner:
                raise ValueError(f"{path}:{first_line + k}: not JSON: {inner}") from None
        raise ValueError(f"{path}: invalid items near line {first_line}: {exc}") from None
    return len(catalog.upsert(items).applied)
