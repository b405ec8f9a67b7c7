"""Filter attributes as numpy columns keyed by internal row, and the filter bitmask."""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np
import numpy.typing as npt

from engine.core.arrays import I64, Bool
from engine.core.search import SearchFilter

_MASK_CACHE = 32


def category_prefixes(path: str) -> list[str]:
    """``"a/b/c"`` -> ``["a", "a/b", "a/b/c"]`` (empty levels dropped)."""
    parts = [p for p in path.split("/") if p]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


class Codes:
    """A growing string dictionary: value -> dense int code."""

    def __init__(self, values: list[str] | None = None) -> None:
        self.values: list[str] = list(values or [])
        self.index: dict[str, int] = {v: i for i, v in enumerate(self.values)}

    def code(self, value: str) -> int:
        got = self.index.get(value)
        if got is None:
            got = self.index[value] = len(self.values)
            self.values.append(value)
        return got

    def lut(self, wanted: list[str]) -> Bool:
        out = np.zeros(max(len(self.values), 1), dtype=np.bool_)
        codes = [self.index[w] for w in wanted if w in self.index]
        out[codes] = True
        return out


class AttributeColumns:
    """Per-row columns: alive, category, brand, in_stock, price, vector model (-1 = no vector).

    Only :meth:`write` and :meth:`kill` mutate searchable state; the index calls them under its
    exclusive lock at refresh time, so searches see a consistent snapshot.
    """

    def __init__(self) -> None:
        self.n = 0
        self.alive = np.zeros(0, dtype=np.bool_)
        self.category = np.zeros(0, dtype=np.int32)
        self.brand = np.zeros(0, dtype=np.int32)
        self.in_stock = np.zeros(0, dtype=np.bool_)
        self.price = np.zeros(0, dtype=np.float64)
        self.model = np.zeros(0, dtype=np.int16)
        self.categories = Codes()
        self.brands = Codes()
        self.models = Codes()
        self.roots = Codes()  # top-level categories
        self._root_of_category: list[int] = []
        self._prefix_to_paths: dict[str, list[str]] = {}
        self._cache_lock = threading.Lock()  # concurrent searches share the cache
        self._cache: OrderedDict[tuple[object, ...], tuple[Bool, int]] = OrderedDict()
        self._rows_cache: OrderedDict[tuple[object, ...], I64] = OrderedDict()

    # -- dictionaries -------------------------------------------------------------------
    def category_code(self, path: str) -> int:
        if path not in self.categories.index:
            prefixes = category_prefixes(path)
            for prefix in prefixes:
                self._prefix_to_paths.setdefault(prefix, []).append(path)
            self._root_of_category.append(self.roots.code(prefixes[0] if prefixes else ""))
        return self.categories.code(path)

    def root_codes(self, category: I64) -> I64:
        """The top-level category code of each category code."""
        return np.asarray(self._root_of_category, dtype=np.int64)[category]

    def filter_roots(self, flt: SearchFilter | None) -> list[int] | None:
        """Root codes that every row passing ``flt`` has (None: no category constraint)."""
        if flt is None or flt.categories is None:
            return None
        firsts = (category_prefixes(c)[:1] for c in flt.categories)
        codes = {self.roots.index.get(p[0]) for p in firsts if p}
        return sorted(c for c in codes if c is not None)

    def filter_brands(self, flt: SearchFilter | None) -> list[int] | None:
        """Brand codes that every row passing ``flt`` has (None: no brand constraint)."""
        if flt is None or flt.brands is None:
            return None
        codes = {self.brands.index.get(b) for b in flt.brands}
        return sorted(c for c in codes if c is not None)

    # -- mutation -------------------------------------------------------------------------
    def _grow(self, n: int) -> None:
        cap = len(self.alive)
        if n <= cap:
            return
        new_cap = max(n, cap * 2, 1024)
        for name in ("alive", "category", "brand", "in_stock", "price", "model"):
            old = getattr(self, name)
            fresh = np.zeros(new_cap, dtype=old.dtype)
            fresh[:cap] = old
            if name == "model":
                fresh[cap:] = -1
            setattr(self, name, fresh)

    def write(
        self,
        rows: I64,
        category: I64,
        brand: I64,
        in_stock: Bool,
        price: npt.NDArray[np.float64],
        model: I64,
    ) -> None:
        if len(rows) == 0:
            return
        self._grow(int(rows.max()) + 1)
        self.n = max(self.n, int(rows.max()) + 1)
        self.alive[rows] = True
        self.category[rows] = category
        self.brand[rows] = brand
        self.in_stock[rows] = in_stock
        self.price[rows] = price
        self.model[rows] = model
        self._clear_caches()

    def kill(self, rows: I64) -> None:
        rows = rows[rows < self.n]
        if len(rows):
            self.alive[rows] = False
            self._clear_caches()

    def _clear_caches(self) -> None:
        with self._cache_lock:
            self._cache.clear()
            self._rows_cache.clear()

    # -- filtering ------------------------------------------------------------------------
    @staticmethod
    def _key(flt: SearchFilter | None, model: str) -> tuple[object, ...]:
        f = flt or SearchFilter()
        return (f.categories, f.brands, f.in_stock, f.price_min, f.price_max, model)

    def rows(self, flt: SearchFilter | None, model: str) -> I64:
        """The rows set in :meth:`mask`, ascending; cached like the masks (do not mutate).

        Meant for selective filters (the exact path): the cache keeps at most
        ``_MASK_CACHE`` row lists.
        """
        key = self._key(flt, model)
        with self._cache_lock:
            hit = self._rows_cache.get(key)
            if hit is not None:
                self._rows_cache.move_to_end(key)
                return hit
        rows = np.flatnonzero(self.mask(flt, model)[0]).astype(np.int64)
        with self._cache_lock:
            self._rows_cache[key] = rows
            if len(self._rows_cache) > _MASK_CACHE:
                self._rows_cache.popitem(last=False)
        return rows

    def mask(self, flt: SearchFilter | None, model: str) -> tuple[Bool, int]:
        """Rows that are alive, carry a vector of ``model`` (any when "") and pass ``flt``.

        ``exclude_ids`` is not applied here (the caller maps ids to rows). Masks are cached
        until the next write; callers must not mutate the returned array.
        """
        f = flt or SearchFilter()
        key = self._key(f, model)
        with self._cache_lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        n = self.n
        code = self.models.index.get(model, -2) if model else None
        m: Bool = (self.model[:n] >= 0) if code is None else (self.model[:n] == code)
        m &= self.alive[:n]
        self._narrow(m, f, slice(0, n))
        out = (m, int(np.count_nonzero(m)))
        with self._cache_lock:
            self._cache[key] = out
            if len(self._cache) > _MASK_CACHE:
                self._cache.popitem(last=False)
        return out

    def filter_at(self, flt: SearchFilter, rows: I64) -> Bool:
        """``flt`` (but not ``exclude_ids``) at ``rows``, ignoring liveness and vector model."""
        m = np.ones(len(rows), dtype=np.bool_)
        self._narrow(m, flt, rows)
        return m

    def _narrow(self, m: Bool, f: SearchFilter, at: slice | I64) -> None:
        """``m &=`` the attribute constraints of ``f`` over the rows ``at``."""
        if f.categories is not None:
            paths = sorted({p for c in f.categories for p in self._prefix_to_paths.get(c, [])})
            m &= self.categories.lut(paths)[self.category[at]]
        if f.brands is not None:
            m &= self.brands.lut(list(f.brands))[self.brand[at]]
        if f.in_stock is not None:
            m &= self.in_stock[at] == f.in_stock
        if f.price_min is not None:
            m &= self.price[at] >= f.price_min
        if f.price_max is not None:
            m &= self.price[at] <= f.price_max

    # -- persistence ----------------------------------------------------------------------
    def to_arrays(self) -> dict[str, np.ndarray]:
        n = self.n
        return {
            "attr_alive": self.alive[:n],
            "attr_category": self.category[:n],
            "attr_brand": self.brand[:n],
            "attr_in_stock": self.in_stock[:n],
            "attr_price": self.price[:n],
            "attr_model": self.model[:n],
            "dict_categories": np.array(self.categories.values, dtype=np.str_),
            "dict_brands": np.array(self.brands.values, dtype=np.str_),
            "dict_models": np.array(self.models.values, dtype=np.str_),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> AttributeColumns:
        self = cls()
        for path in arrays["dict_categories"].tolist():
            self.category_code(str(path))
        self.brands = Codes([str(v) for v in arrays["dict_brands"].tolist()])
        self.models = Codes([str(v) for v in arrays["dict_models"].tolist()])
        n = len(arrays["attr_alive"])
        self._grow(n)
        self.n = n
        for name in ("alive", "category", "brand", "in_stock", "price", "model"):
            getattr(self, name)[:n] = arrays[f"attr_{name}"]
        return self
