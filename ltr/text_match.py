"""How well a search query's words match each candidate's text, from the catalog's own word
statistics: what a ranker needs on a catalog without behaviour.

The lexical source's BM25 score is one number over the whole indexed text, and the backends
differ in how they compute it; these features are computed here, the same way in training and
serving and for every backend, from the tokens the catalog keeps per row (the features'
tokenizer of :mod:`engine.core.text`), field by field:

- ``bm25`` over the name (title, brand and product codes), the description's first words and
  the attribute values' words ("Notebook" as a product type, "Laser printing"): each field
  with its own document frequencies and mean length, each distinct word counted once
  (k1 = 1.2, b = 0.75);
- ``idf_coverage``: the share of the query's idf mass the name carries (a rare word such as
  "tripod" weighs more than "black"); ``query_coverage``: the share of its tokens;
- ``head_in_title``: the query's last word is in the title: in English the product noun comes
  last ("laptop bag" is a bag, not a laptop);
- ``first_match``: where the title first carries a query word, as a share of its length
  (titles lead with brand, model and product type; accessories name what they fit later);
  1 without one;
- ``title_length``: the title's words.

:class:`TextStats` is rebuilt with the other catalog aggregates (``FeatureHydrator``); a word
no item had at the build counts as rare, a row added since has its words counted from the next
build on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.core.arrays import F32, F64, I64
from engine.core.catalog import Catalog
from engine.core.columns import RaggedInts
from engine.core.kernels import idf_sums, match_sums, title_scan
from engine.core.text import token_id, token_ids, tokens

K1 = 1.2
B = 0.75


@dataclass(frozen=True, slots=True)
class FieldStats:
    """Document frequencies of one token field over the live items."""

    tokens: I64  # sorted distinct
    df: F64
    n_live: int
    mean_len: float

    @staticmethod
    def build(field: RaggedInts, rows: I64) -> FieldStats:
        toks, lengths = field.gather(rows)
        uniq, counts = np.unique(toks, return_counts=True)
        mean = float(lengths.mean()) if len(lengths) else 0.0
        return FieldStats(uniq, counts.astype(np.float64), len(rows), mean)

    def idf(self, q: I64) -> F64:
        """BM25's ``log(1 + (N - df + 0.5) / (df + 0.5))``; an unseen token has df 0."""
        df = np.zeros(len(q), np.float64)
        if len(self.tokens):
            k = np.minimum(np.searchsorted(self.tokens, q), len(self.tokens) - 1)
            seen = self.tokens[k] == q
            df[seen] = self.df[k[seen]]
        out: F64 = np.log1p((self.n_live - df + 0.5) / (df + 0.5))
        return out

    def bm25(self, idf_sum: F64, lengths: I64) -> F64:
        """BM25 of rows carrying ``idf_sum`` of the query's idf over ``lengths`` distinct
        tokens (so tf = 1): :func:`engine.core.kernels.idf_sums` gives the sums."""
        norm = 1.0 - B + B * lengths / max(self.mean_len, 1.0)
        out: F64 = idf_sum * (K1 + 1.0) / (1.0 + K1 * norm)
        return out


@dataclass(frozen=True, slots=True)
class TextStats:
    name: FieldStats  # title + brand + codes (``Catalog.tokens``)
    description: FieldStats
    attributes: FieldStats

    @staticmethod
    def build(catalog: Catalog) -> TextStats:
        n = len(catalog)
        rows = np.flatnonzero(~catalog.deleted.values[:n]).astype(np.int64)
        return TextStats(
            FieldStats.build(catalog.tokens, rows),
            FieldStats.build(catalog.description_tokens, rows),
            FieldStats.build(catalog.attribute_tokens, rows),
        )


@dataclass(frozen=True, slots=True)
class TextMatch:
    bm25: F32
    description_bm25: F32
    attribute_bm25: F32
    idf_coverage: F32
    query_coverage: F32  # the share of the query's tokens the name carries
    head_in_title: F32
    first_match: F32
    title_length: F32


def text_match(catalog: Catalog, stats: TextStats, rows: I64, query: str) -> TextMatch:
    n = len(rows)
    q = token_ids(query)
    if len(q) == 0 or n == 0:  # the feed: no query, nothing to gather
        zero = np.zeros(n, np.float32)
        length = catalog.title_tokens.lengths(rows).astype(np.float32)
        return TextMatch(zero, zero, zero, zero, zero, zero, np.ones(n, np.float32), length)
    title = catalog.title_tokens.parts()
    length = title[2][rows].astype(np.float32)
    words = tokens(query)

    def bm25(field: RaggedInts, fs: FieldStats) -> F32:
        flat, start, lengths = field.parts()
        sums = idf_sums(flat, start, lengths, rows, q, fs.idf(q))
        return fs.bm25(sums, lengths[rows]).astype(np.float32)

    name = catalog.tokens.parts()
    name_idf = stats.name.idf(q)
    name_sum, name_found = match_sums(*name, rows, q, name_idf)
    coverage = name_sum / max(float(name_idf.sum()), 1e-9)
    head_in, first = title_scan(*title, rows, q, np.int64(token_id(words[-1])))
    first_share = np.where(np.isinf(first), 1.0, first / np.maximum(length, 1.0))
    return TextMatch(
        stats.name.bm25(name_sum, name[2][rows]).astype(np.float32),
        bm25(catalog.description_tokens, stats.description),
        bm25(catalog.attribute_tokens, stats.attributes),
        coverage.astype(np.float32),
        (name_found / max(len(q), 1)).astype(np.float32),
        head_in.astype(np.float32),
        first_share.astype(np.float32),
        length,
    )
