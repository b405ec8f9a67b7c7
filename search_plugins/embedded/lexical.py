"""BM25 text search on tantivy, with filter clauses; hits come back as internal rows.

User text is never given to tantivy's query parser: it is analysed with the same analyser as
the indexed text (simple tokenizer, lowercase, ASCII folding, English stemming), so query
syntax such as ``foo:bar (`` is just two words. Terms are OR-ed (BM25 sum); filters are
zero-scoring required clauses. Only the integer ``row`` fast field is read back.
"""

from __future__ import annotations

import os

import numpy as np
import tantivy

from engine.core.arrays import F32, I64
from engine.core.search import SearchFilter
from engine.core.text import analyzer
from search_plugins.embedded.attributes import category_prefixes

ANALYZER = "shop_en"
_MAX_TERMS = 32


def _schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("text", tokenizer_name=ANALYZER, index_option="freq")
    sb.add_text_field("id", tokenizer_name="raw", index_option="basic")
    sb.add_text_field("category", tokenizer_name="raw", index_option="basic")
    sb.add_text_field("brand", tokenizer_name="raw", index_option="basic")
    sb.add_boolean_field("in_stock", indexed=True)
    sb.add_float_field("price", fast=True)
    sb.add_unsigned_field("row", fast=True)
    return sb.build()


class LexicalIndex:
    """One tantivy index in ``path``; the writer stays open, the reader reloads on commit."""

    def __init__(self, path: str, heap_mb: int = 256, threads: int = 1) -> None:
        os.makedirs(path, exist_ok=True)
        exists = tantivy.Index.exists(path)
        self.index = tantivy.Index.open(path) if exists else tantivy.Index(_schema(), path=path)
        self.analyzer = analyzer()
        self.index.register_tokenizer(ANALYZER, self.analyzer)
        self.index.config_reader(reload_policy="manual")
        self.schema = self.index.schema
        self.writer = self.index.writer(heap_size=heap_mb * 1_000_000, num_threads=threads)
        self.searcher = self.index.searcher()
        self.dirty = False

    # -- writes (visible after commit) ----------------------------------------------------
    def put(
        self,
        doc_id: str,
        row: int,
        text: str,
        category: str,
        brand: str,
        in_stock: bool,
        price: float,
    ) -> None:
        self.writer.delete_documents_by_term("id", doc_id)
        doc = tantivy.Document()
        doc.add_text("text", text)
        doc.add_text("id", doc_id)
        for prefix in category_prefixes(category):
            doc.add_text("category", prefix)
        doc.add_text("brand", brand)
        doc.add_boolean("in_stock", in_stock)
        doc.add_float("price", float(price))
        doc.add_unsigned("row", row)
        self.writer.add_document(doc)
        self.dirty = True

    def delete(self, doc_id: str) -> None:
        self.writer.delete_documents_by_term("id", doc_id)
        self.dirty = True

    def commit(self) -> bool:
        """Commit pending writes (durable, not yet visible); True if anything changed."""
        if not self.dirty:
            return False
        self.writer.commit()
        self.dirty = False
        return True

    def reload(self) -> None:
        """Swap in a searcher over the last commit (cheap; under the exclusive lock)."""
        self.index.reload()
        self.searcher = self.index.searcher()

    def close(self) -> None:
        self.commit()
        self.writer.wait_merging_threads()

    # -- search ---------------------------------------------------------------------------
    def terms(self, text: str) -> list[str]:
        return list(dict.fromkeys(self.analyzer.analyze(text)))[:_MAX_TERMS]

    def _filters(self, flt: SearchFilter) -> list[tuple[tantivy.Occur, tantivy.Query]]:
        s, q, must = self.schema, tantivy.Query, tantivy.Occur.Must
        out: list[tantivy.Query] = []
        if flt.categories is not None:
            out.append(q.term_set_query(s, "category", list(flt.categories)))
        if flt.brands is not None:
            out.append(q.term_set_query(s, "brand", list(flt.brands)))
        if flt.in_stock is not None:
            out.append(q.term_query(s, "in_stock", flt.in_stock))
        if flt.price_min is not None or flt.price_max is not None:
            out.append(
                q.range_query(
                    s,
                    "price",
                    tantivy.FieldType.Float,
                    lower_bound=flt.price_min,
                    upper_bound=flt.price_max,
                )
            )
        clauses = [(must, q.const_score_query(f, 0.0)) for f in out]
        if flt.exclude_ids:
            ids = sorted(flt.exclude_ids)
            clauses.append((tantivy.Occur.MustNot, q.term_set_query(s, "id", ids)))
        return clauses

    def search(self, text: str, k: int, flt: SearchFilter | None) -> tuple[I64, F32]:
        terms = self.terms(text)
        if not terms or k <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        should = tantivy.Occur.Should
        words = tantivy.Query.boolean_query(
            [(should, tantivy.Query.term_query(self.schema, "text", t)) for t in terms]
        )
        query = words
        if flt is not None and not flt.is_empty():
            query = tantivy.Query.boolean_query([(tantivy.Occur.Must, words), *self._filters(flt)])
        searcher = self.searcher
        hits = searcher.search(query, k, count=False).hits
        if not hits:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        # two comprehensions: ``zip(*hits)`` over 3,000 pairs took 1 ms, these 0.08 ms
        scores = [hit[0] for hit in hits]
        rows = searcher.fast_field_values("row", [hit[1] for hit in hits])
        return np.array(rows, dtype=np.int64), np.array(scores, dtype=np.float32)
