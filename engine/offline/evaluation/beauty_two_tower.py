"""Two-tower retrieval as one more candidate source (and ranker features) of the Beauty stack.

Leakage. The towers (:mod:`towers`) train on the training prefixes only: per user, every item
but the last two is a target, predicted from the items before it, so they see exactly the
interactions that build the validation-stage indices of :mod:`engine.offline.evaluation.beauty`.
Early
stopping only selects the epoch; it reads the validation targets of ``early_stop_users``, a
random set of users kept apart from the users whose validation targets train the ranker, so no
ranker training label has influenced the towers. The test targets are never read. The
validation stage queries these towers with the validation history. For the test stage they are
refitted (``refit_test``, on by default) as the co-visitation indices are rebuilt: a fresh model,
same seed and settings, trained on every item but the last of each user (validation targets
included, test targets never) for as many epochs as the early-stopped run took, then queried
with the test history. Without the refit the test stage reuses the first towers, whose newest
interactions are then one step older than the other sources' (measured: HR@10 0.1272 without,
0.1320 with, on all users; the ranker, trained on the validation stage, is the same).

Per queried user the source returns its ``top_k`` items by inner product of the (L2-normalised)
query and item vectors over the whole catalogue, history excluded, and the exact rank of the
target among all items (ties counted half, as :func:`beauty_candidates.target_ranks`). The
ranker sees ``rank_two_tower`` and ``score_two_tower`` (the cosine) for the candidates the
source brought. Optional pair features for every candidate of the pool, whichever source
brought it (``pair_features=True``): ``tt_score`` (the cosine), ``tt_gap`` (its gap to the
user's best score) and ``tt_l1`` (cosine of the candidate's and the last history item's
vectors). They are off by default: on the ranker's held-out validation users they lowered
NDCG@10 (0.2418 and below against 0.2429 without; 0.2441 with the two-tower ranker settings).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
import torch

from engine.core.arrays import F32, I64
from engine.core.retrieval.exact import top_k_rows
from engine.offline.evaluation.beauty_candidates import ExtraSource
from engine.offline.evaluation.beauty_data import BeautyData, Sequences
from engine.offline.evaluation.beauty_towers import beauty_features
from towers.data import Examples, sequence_examples
from towers.model import TowerConfig, TwoTower
from towers.retrieval import all_item_vectors, query_vectors
from towers.text import TextEncoder
from towers.train import TrainConfig, train

NAME = "two_tower"
DEFAULT_TEXT_CACHE = Path.home() / ".cache" / "shopnow" / "text-embeddings"


@dataclass(frozen=True, slots=True)
class TwoTowerOptions:
    """How the towers are trained and how many candidates they give each user."""

    max_epochs: int = 40
    patience: int = 3
    lr: float = 3e-3
    batch_size: int = 512
    top_k: int = 200  # candidates per user
    pair_features: bool = False  # tt_score / tt_gap / tt_l1 on every pool candidate
    refit_test: bool = True  # retrain on the test-stage histories for the test stage
    early_stop_users: int = 5000  # validation users that select the epoch (not ranker users)
    seed: int = 0
    num_threads: int = 1
    text_cache: Path | None = DEFAULT_TEXT_CACHE
    progress: bool = False
    tower: TowerConfig = field(default_factory=TowerConfig)


@dataclass(frozen=True, slots=True)
class FittedTowers:
    model: TwoTower
    item_vectors: F32  # [n_items, dim], L2-normalised
    best_epoch: int
    epochs_run: int
    valid: dict[str, float]  # of the best epoch, on the early-stopping users
    train_seconds: float  # training and per-epoch validation

    def summary(self) -> dict[str, float]:
        out = {"best_epoch": float(self.best_epoch), "epochs_run": float(self.epochs_run)}
        out |= {f"valid_{k}": v for k, v in self.valid.items() if k in ("hr@10", "ndcg@10")}
        return out | {"train_seconds": round(self.train_seconds, 1)}


def _prefix_examples(seqs: Sequences, drop_last: int) -> Examples:
    """Every position but the last ``drop_last`` of every user, predicted from the items
    before it (``drop_last=2``: the training prefixes; ``1``: the test-stage histories)."""
    n_ex = seqs.lengths - drop_last
    users = np.repeat(np.arange(seqs.n_users, dtype=np.int64), n_ex)
    cuts = np.arange(n_ex.sum()) - np.repeat(np.cumsum(n_ex) - n_ex, n_ex)
    return sequence_examples(seqs.indptr, seqs.items, cuts.astype(np.int64), users)


def fit_towers(
    data: BeautyData,
    titles: list[str],
    encoder: TextEncoder,
    early_stop_users: I64,
    opts: TwoTowerOptions,
    *,
    drop_last: int = 2,
    epochs: int | None = None,
) -> FittedTowers:
    """Train on every user's training prefix (``drop_last=2``); stop on ``early_stop_users``'
    validation targets. With ``drop_last=1`` and ``epochs``: the test-stage refit, trained on
    every item but the last for ``epochs`` epochs without early stopping; the per-epoch
    validation then reads targets it trains on, so the kept epoch (its best) is in practice one
    of the last."""
    t0 = time.perf_counter()
    features = beauty_features(data, titles, encoder)
    seqs = data.sequences
    u = np.sort(early_stop_users).astype(np.int64)
    valid = sequence_examples(seqs.indptr, seqs.items, seqs.lengths[u] - 2, u)
    cfg = opts.tower.model_copy(update={"n_categories": int(features.categories.max()) + 1})
    train_cfg = TrainConfig(
        seed=opts.seed,
        lr=opts.lr,
        batch_size=opts.batch_size,
        max_epochs=epochs or opts.max_epochs,
        patience=epochs or opts.patience,
        num_threads=opts.num_threads,
        progress=opts.progress,
    )
    res = train(features, _prefix_examples(seqs, drop_last), valid, cfg, train_cfg)
    vecs = all_item_vectors(res.model, features).numpy()
    return FittedTowers(
        res.model,
        vecs,
        res.best_epoch,
        len(res.history),
        res.valid_metrics,
        time.perf_counter() - t0,
    )


def query_examples(hist: Sequences) -> Examples:
    """One example per user of ``hist``: the whole history, no target."""
    n = hist.n_users
    users = np.arange(n, dtype=np.int64)
    return Examples(
        hist.indptr,
        hist.items,
        users,
        hist.lengths.astype(np.int64),
        np.full(n, -1, np.int64),
        np.zeros((n, 1), np.int64),
    )


def _history_mask(hist: Sequences, r0: int, r1: int, n_items: int) -> npt.NDArray[np.bool_]:
    a, b = int(hist.indptr[r0]), int(hist.indptr[r1])
    rows = np.repeat(np.arange(r1 - r0), hist.lengths[r0:r1])
    mask = np.zeros((r1 - r0, n_items), np.bool_)
    mask[rows, hist.items[a:b]] = True
    return mask


def tower_source(
    towers: FittedTowers,
    hist: Sequences,
    top_k: int,
    targets: I64 | None = None,
    chunk: int = 2048,
    pair_features: bool = True,
) -> ExtraSource:
    """The two-tower source for every user of ``hist`` (rows in ``hist``'s order)."""
    vecs = towers.item_vectors
    n_items = len(vecs)
    q = query_vectors(towers.model, torch.from_numpy(vecs), query_examples(hist))
    k = min(top_k, n_items)
    n = hist.n_users
    top_items = np.zeros((n, k), np.int64)
    top_scores = np.full((n, k), -np.inf, np.float32)
    best = np.zeros(n, np.float32)
    ranks = np.full(n, np.inf, np.float64)
    for r0 in range(0, n, chunk):
        r1 = min(r0 + chunk, n)
        s = q[r0:r1] @ vecs.T
        s[_history_mask(hist, r0, r1, n_items)] = -np.inf
        cut = top_k_rows(s, k)  # best first, ties by lower item row
        top_items[r0:r1] = cut
        top_scores[r0:r1] = np.take_along_axis(s, cut, axis=1)
        best[r0:r1] = top_scores[r0:r1, 0]
        if targets is not None:
            t = s[np.arange(r1 - r0), targets[r0:r1]][:, None]
            above = (s > t).sum(axis=1)
            tied = (s == t).sum(axis=1) - 1
            ranks[r0:r1] = np.where(np.isfinite(t[:, 0]), above + tied / 2, np.inf)
    ok = np.isfinite(top_scores)  # a history longer than n_items - k leaves -inf slots
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(ok.sum(axis=1), out=indptr[1:])
    top = sp.csr_matrix((top_scores[ok], top_items[ok], indptr), shape=(n, n_items))
    top.has_sorted_indices = False  # rows are best first
    last1 = hist.last(1)

    def features(cu: I64, ci: I64) -> dict[str, F32]:
        if not pair_features:
            return {}
        score = np.einsum("ij,ij->i", q[cu], vecs[ci]).astype(np.float32)
        lv = vecs[np.maximum(last1[cu], 0)]
        l1 = np.einsum("ij,ij->i", lv, vecs[ci]).astype(np.float32)
        l1[last1[cu] < 0] = np.nan
        return {"tt_score": score, "tt_gap": score - best[cu], "tt_l1": l1}

    return ExtraSource(NAME, top, None if targets is None else ranks, features)


def alone_ranked(src: ExtraSource, k: int) -> I64:
    """``(n_users x k)`` item rows of the source alone, best first, -1 padded."""
    top = src.top
    n = top.shape[0]
    out = np.full((n, k), -1, np.int64)
    u = np.repeat(np.arange(n), np.diff(top.indptr))
    pos = np.arange(top.nnz) - top.indptr[u]
    m = pos < k
    out[u[m], pos[m]] = top.indices[m]
    return out
