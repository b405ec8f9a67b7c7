"""Amazon Beauty (S3-Rec split): loading and the leave-one-out split, as columns.

Item ids in the files are 1-based; here items are 0-based rows (``row = id - 1``). Sequences
are held CSR-style: user ``u``'s items, oldest first, are ``items[indptr[u]:indptr[u+1]]``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import scipy.sparse as sp

from engine.core.arrays import I64

Stage = Literal["valid", "test"]
_TOKEN = re.compile(r"[a-z0-9]+")

#: S3-Rec paper, "rank the ground-truth item with all items" (HR@5, NDCG@5, HR@10, ...).
PUBLISHED: dict[str, tuple[float, ...]] = {
    "PopRec": (0.0080, 0.0044, 0.0152, 0.0068, 0.0217, 0.0084),
    "GRU4Rec": (0.0164, 0.0099, 0.0283, 0.0137, 0.0479, 0.0187),
    "SASRec": (0.0387, 0.0249, 0.0605, 0.0318, 0.0902, 0.0394),
    "BERT4Rec": (0.0203, 0.0124, 0.0347, 0.0170, 0.0599, 0.0233),
    "S3-Rec": (0.0387, 0.0244, 0.0647, 0.0327, 0.0994, 0.0414),
}


@dataclass(frozen=True, slots=True)
class Sequences:
    indptr: I64
    items: I64

    @property
    def n_users(self) -> int:
        return len(self.indptr) - 1

    @property
    def lengths(self) -> I64:
        return np.diff(self.indptr)

    def users(self) -> I64:
        """User index of every entry of ``items``."""
        return np.repeat(np.arange(self.n_users, dtype=np.int64), self.lengths)

    def positions(self) -> I64:
        """0-based position of every entry within its user's sequence."""
        return np.arange(len(self.items), dtype=np.int64) - self.indptr[self.users()]

    def last(self, j: int) -> I64:
        """``j``-th item from the end (1 = last) per user; -1 where the sequence is shorter."""
        ok = self.lengths >= j
        out = np.full(self.n_users, -1, dtype=np.int64)
        out[ok] = self.items[self.indptr[1:][ok] - j]
        return out

    def subset(self, users: I64) -> Sequences:
        lengths = self.lengths[users]
        indptr = np.zeros(len(users) + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        starts = self.indptr[users]
        idx = np.repeat(starts - indptr[:-1], lengths) + np.arange(indptr[-1])
        return Sequences(indptr, self.items[idx])


@dataclass(frozen=True, slots=True)
class Split:
    """History (all items before the target) and the target, per user."""

    history: Sequences
    targets: I64


def leave_one_out(seqs: Sequences, stage: Stage) -> Split:
    """``valid``: target = second-to-last item, history = all before it.
    ``test``: target = last item, history = all before it (the validation item included)."""
    cut = 2 if stage == "valid" else 1
    if np.any(seqs.lengths < cut + 1):
        raise ValueError(f"every user needs at least {cut + 1} items for the {stage} split")
    targets = seqs.items[seqs.indptr[1:] - cut]
    keep = seqs.positions() < (seqs.lengths - cut)[seqs.users()]
    indptr = np.zeros_like(seqs.indptr)
    np.cumsum(seqs.lengths - cut, out=indptr[1:])
    return Split(Sequences(indptr, seqs.items[keep]), targets)


@dataclass(frozen=True, slots=True)
class BeautyData:
    sequences: Sequences
    n_items: int
    attributes: sp.csr_matrix  # items x attribute ids, binary
    titles: sp.csr_matrix  # items x title tokens, L2-normalised tf-idf


def read_sequences(path: Path) -> Sequences:
    lengths: list[int] = []
    chunks: list[I64] = []
    with path.open() as f:
        for line in f:
            ids = np.asarray(line.split()[1:], dtype=np.int64)
            lengths.append(len(ids))
            chunks.append(ids - 1)
    indptr = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    return Sequences(indptr, np.concatenate(chunks))


def read_attributes(path: Path, n_items: int) -> sp.csr_matrix:
    raw: dict[str, list[int]] = json.loads(path.read_text())
    rows = np.concatenate([np.full(len(v), int(k) - 1) for k, v in raw.items()])
    cols = np.concatenate([np.asarray(v, dtype=np.int64) for v in raw.values()])
    mat = sp.csr_matrix(
        (np.ones(len(rows), np.float32), (rows, cols)), shape=(n_items, int(cols.max()) + 1)
    )
    mat.data[:] = 1.0
    return mat


def read_titles(path: Path, n_items: int) -> sp.csr_matrix:
    vocab: dict[str, int] = {}
    rows: list[int] = []
    cols: list[int] = []
    with path.open() as f:
        next(f)
        for line in f:
            parts = line.rstrip("\n").split("\t")
            row = int(parts[0]) - 1
            title = parts[2] if len(parts) > 2 else ""
            # first-occurrence order: a set's order would follow PYTHONHASHSEED, and with it
            # the column order, float sums and ties of every title similarity
            for tok in dict.fromkeys(_TOKEN.findall(title.lower())):
                rows.append(row)
                cols.append(vocab.setdefault(tok, len(vocab)))
    r, c = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
    df = np.bincount(c, minlength=len(vocab)).astype(np.float32)
    idf = np.log((n_items + 1) / (df + 1)) + 1
    mat = sp.csr_matrix((idf[c], (r, c)), shape=(n_items, len(vocab)), dtype=np.float32)
    norms = np.sqrt(np.asarray(mat.multiply(mat).sum(axis=1)).ravel())
    inv = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return sp.csr_matrix(sp.diags(inv.astype(np.float32)) @ mat)


def load_beauty(data_dir: Path) -> BeautyData:
    seqs = read_sequences(data_dir / "sequences.txt")
    n_items = int(seqs.items.max()) + 1
    attrs = read_attributes(data_dir / "item_attributes.json", n_items)
    titles = read_titles(data_dir / "items.tsv", n_items)
    return BeautyData(seqs, n_items, attrs, titles)
