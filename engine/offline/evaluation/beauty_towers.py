"""Two-tower retrieval alone on Amazon Beauty, S3-Rec protocol.

Protocol (as :mod:`engine.offline.evaluation.beauty`): per user, the last item is the test target
and
the second-to-last the validation target; the target is ranked against all 12,101 items with
the user's history excluded; HR@K and binary NDCG@K at 5, 10, 20.

Training sees the training prefix only (every item but the last two): each position ``t`` of
the prefix is one example, the item at ``t`` predicted from the items before it (``t = 0``, an
empty history, included). Early stopping reads the validation target, predicted from the
prefix; the test target is predicted once, at the end, from the prefix plus the validation
item, by the weights of the best validation epoch.

Item tower inputs here: the title's MiniLM embedding and the anonymised attribute ids
(brand / category, mixed in the data) as a category bag; Beauty has no price or seller, which
stay "unknown". There is no session or query text: the query is the user's history alone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from engine.core.arrays import I64
from engine.offline.evaluation.beauty_data import PUBLISHED, BeautyData, Sequences, load_beauty
from towers.data import Examples, sequence_examples
from towers.features import ItemFeatures, csr_to_padded, hash_ids
from towers.model import TowerConfig
from towers.retrieval import evaluate_examples
from towers.text import TextEncoder, item_text
from towers.train import TrainConfig, TrainResult, train

KS = (5, 10, 20)
DATA_HINT = (
    "Amazon Beauty is expected in <shared_data>/amazon-beauty (sequences.txt, items.tsv, "
    "item_attributes.json); shared_data is SHOPNOW_SHARED_DATA, default ../shared/data"
)


def read_titles(path: Path, n_items: int) -> list[str]:
    titles = [""] * n_items
    with path.open() as f:
        next(f)
        for line in f:
            parts = line.rstrip("\n").split("\t")
            row = int(parts[0]) - 1
            if 0 <= row < n_items:
                titles[row] = parts[2] if len(parts) > 2 else ""
    return titles


def beauty_features(data: BeautyData, titles: list[str], encoder: TextEncoder) -> ItemFeatures:
    text = encoder.encode([item_text(t) for t in titles])
    attrs = data.attributes
    cats = csr_to_padded(attrs.indptr, attrs.indices)
    return ItemFeatures.build(
        text, categories=cats, item_hash=hash_ids([str(i) for i in range(data.n_items)], 1 << 16)
    )


@dataclass(frozen=True, slots=True)
class BeautySplits:
    train: Examples
    valid: Examples
    test: Examples


def beauty_splits(data: BeautyData, users: I64 | None = None) -> BeautySplits:
    seqs = data.sequences
    ip, items = seqs.indptr, seqs.items
    u = np.arange(seqs.n_users, dtype=np.int64) if users is None else np.sort(users)
    lengths = seqs.lengths[u]
    n_train = lengths - 2
    tr_users = np.repeat(u, n_train)
    tr_cuts = np.arange(n_train.sum()) - np.repeat(np.cumsum(n_train) - n_train, n_train)
    return BeautySplits(
        sequence_examples(ip, items, tr_cuts.astype(np.int64), tr_users),
        sequence_examples(ip, items, lengths - 2, u),
        sequence_examples(ip, items, lengths - 1, u),
    )


@dataclass(frozen=True, slots=True)
class BeautyTowersReport:
    test: dict[str, float]  # hr@K / ndcg@K on the test target
    valid: dict[str, float]  # of the best epoch
    published: dict[str, dict[str, float]]
    n_users: int
    n_items: int
    n_train_examples: int
    best_epoch: int
    epochs_run: int
    train_examples_per_second: float
    train_seconds: float
    seconds_to_best: float  # training + per-epoch validation, until the best epoch
    history: list[dict[str, float]]
    quick: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def published_table() -> dict[str, dict[str, float]]:
    names = [f"{m}@{k}" for k in KS for m in ("hr", "ndcg")]
    return {model: dict(zip(names, row, strict=True)) for model, row in PUBLISHED.items()}


def beauty_slice(
    data: BeautyData, titles: list[str], *, n_items: int, n_users: int, seed: int = 0
) -> tuple[BeautyData, list[str]]:
    """A small real slice for tests: the ``n_items`` most frequent items, every sequence
    restricted to them (order kept), and ``n_users`` random users with at least 5 of them
    left; items renumbered. Ranking is then over the slice's items only."""
    seqs = data.sequences
    counts = np.bincount(seqs.items, minlength=data.n_items)
    top = np.sort(np.argsort(-counts, kind="stable")[:n_items])
    new_id = np.full(data.n_items, -1, np.int64)
    new_id[top] = np.arange(len(top))
    keep = new_id[seqs.items] >= 0
    lengths = np.bincount(seqs.users()[keep], minlength=seqs.n_users)
    ok = np.flatnonzero(lengths >= 5)
    rng = np.random.default_rng(seed)
    users = np.sort(rng.choice(ok, min(n_users, len(ok)), replace=False))
    kept_users = seqs.users()[keep]
    mask = np.isin(kept_users, users)
    items = new_id[seqs.items[keep][mask]]
    indptr = np.zeros(len(users) + 1, np.int64)
    np.cumsum(lengths[users], out=indptr[1:])
    sliced = BeautyData(
        Sequences(indptr, items),
        len(top),
        sp.csr_matrix(data.attributes[top]),
        sp.csr_matrix(data.titles[top]),
    )
    return sliced, [titles[i] for i in top]


def run_beauty(
    data_dir: Path,
    encoder: TextEncoder,
    tower_cfg: TowerConfig,
    train_cfg: TrainConfig,
    *,
    users: I64 | None = None,
    quick: bool = False,
) -> tuple[BeautyTowersReport, TrainResult]:
    """Load Amazon Beauty from ``data_dir`` and run :func:`run_on`."""
    data = load_beauty(data_dir)
    titles = read_titles(data_dir / "items.tsv", data.n_items)
    return run_on(data, titles, encoder, tower_cfg, train_cfg, users=users, quick=quick)


def run_on(
    data: BeautyData,
    titles: list[str],
    encoder: TextEncoder,
    tower_cfg: TowerConfig,
    train_cfg: TrainConfig,
    *,
    users: I64 | None = None,
    quick: bool = False,
) -> tuple[BeautyTowersReport, TrainResult]:
    """Train on the training prefixes of ``users`` (all by default), early-stop on their
    validation targets, and score their test targets against the full catalogue."""
    features = beauty_features(data, titles, encoder)
    splits = beauty_splits(data, users)
    cfg = tower_cfg.model_copy(update={"n_categories": int(features.categories.max()) + 1})
    res = train(features, splits.train, splits.valid, cfg, train_cfg)
    test = evaluate_examples(res.model, features, splits.test, KS)
    keep = {k: v for k, v in test.items() if k.startswith(("hr", "ndcg"))}
    report = BeautyTowersReport(
        test=keep,
        valid={k: v for k, v in res.valid_metrics.items() if k.startswith(("hr", "ndcg"))},
        published=published_table(),
        n_users=len(splits.test),
        n_items=data.n_items,
        n_train_examples=len(splits.train),
        best_epoch=res.best_epoch,
        epochs_run=len(res.history),
        train_examples_per_second=res.examples_per_second,
        train_seconds=res.train_seconds,
        seconds_to_best=res.seconds_to_best,
        history=res.history,
        quick=quick,
    )
    return report, res
