"""Training of the two towers: a plain function, :func:`train`.

Objective: the logQ-corrected sampled softmax of :mod:`towers.loss` over in-batch negatives
(plus optional uniform negatives), with sampling probabilities from :mod:`towers.frequency`.
Early stopping (:mod:`engine.core.early_stopping`, evaluating every epoch) keeps the epoch with
the best validation recall@K (full-catalogue ranking).
Seeded: numpy's generator drives shuffling and negative draws, torch's seed the initial
weights and dropout, the number of threads is fixed; the same seed on the same machine gives
the same weights and metrics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from tqdm.auto import tqdm

from engine.core import early_stopping
from towers.data import Examples
from towers.features import ItemFeatures
from towers.frequency import CountFrequency, StreamingFrequency, uniform_log_q
from towers.loss import sampled_softmax_loss
from towers.model import TowerConfig, TwoTower, batch_of
from towers.retrieval import all_item_vectors, evaluate_examples


class TrainConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    seed: int = 0
    batch_size: int = Field(512, ge=2)
    lr: float = Field(2e-3, gt=0)
    weight_decay: float = Field(1e-5, ge=0)
    temperature: float = Field(0.07, gt=0)
    logq: Literal["counts", "streaming", "none"] = "counts"
    streaming_alpha: float = Field(0.01, gt=0, le=1)
    mixed_negatives: int = Field(0, ge=0, description="uniform catalogue negatives per batch")
    max_epochs: int = Field(30, ge=1)
    patience: int = Field(3, ge=1, description="epochs without a better validation recall")
    eval_k: int = Field(10, ge=1)
    history_grad: bool = Field(
        False,
        description="back-propagate through history/session items; off: they are read from a "
        "no-grad table of all item vectors refreshed every table_refresh steps (much faster)",
    )
    table_refresh: int = Field(50, ge=1)
    num_threads: int = Field(
        1, ge=1, le=2, description="1 is robust on a busy machine: idle-spinning threads"
    )
    progress: bool = True


@dataclass(slots=True)
class TrainResult:
    model: TwoTower  # holding the best epoch's weights
    best_epoch: int
    valid_metrics: dict[str, float]  # of the best epoch
    history: list[dict[str, float]] = field(default_factory=list)
    train_seconds: float = 0.0  # optimisation only (evaluation excluded)
    examples_per_second: float = 0.0
    seconds_to_best: float = 0.0  # wall time (training + evaluation) until the best epoch ended


def seed_everything(seed: int, num_threads: int) -> np.random.Generator:
    torch.manual_seed(seed)
    torch.set_num_threads(num_threads)
    return np.random.default_rng(seed)


def _row(c: early_stopping.Checkpoint) -> dict[str, float]:
    row = {"epoch": float(c.epoch), "loss": c.loss, "seconds": c.seconds}
    row.update(
        {f"valid_{k}": v for k, v in c.metrics.items() if k.startswith(("hr", "ndcg", "recall"))}
    )
    return row


def train(
    features: ItemFeatures,
    train_ex: Examples,
    valid_ex: Examples,
    tower_cfg: TowerConfig,
    cfg: TrainConfig,
) -> TrainResult:
    """Fit both towers on ``train_ex`` (every example has a target); early-stop on
    ``valid_ex``'s recall@``eval_k``."""
    if np.any(train_ex.target < 0):
        raise ValueError("every training example needs a target item")
    rng = seed_everything(cfg.seed, cfg.num_threads)
    n_items = len(features)
    model = TwoTower(tower_cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    freq: CountFrequency | StreamingFrequency | None = None
    if cfg.logq == "counts":
        freq = CountFrequency(train_ex.target, n_items, cfg.batch_size)
    elif cfg.logq == "streaming":
        freq = StreamingFrequency(max(2 * n_items, 1024), cfg.streaming_alpha, cfg.seed)
    log_q_uniform = uniform_log_q(cfg.mixed_negatives, n_items) if cfg.mixed_negatives else 0.0
    key = f"recall@{cfg.eval_k}"
    ks = tuple(sorted({5, 10, 20, cfg.eval_k}))
    n_batches = len(train_ex) // cfg.batch_size  # drop the last partial batch

    def train_epoch(epoch: int) -> float:
        model.train()
        order = rng.permutation(len(train_ex))
        total = 0.0
        bar = tqdm(range(n_batches), desc=f"epoch {epoch}", disable=not cfg.progress, leave=False)
        table: torch.Tensor | None = None
        for b in bar:
            if not cfg.history_grad and b % cfg.table_refresh == 0:
                table = all_item_vectors(model, features)
            idx = np.sort(order[b * cfg.batch_size : (b + 1) * cfg.batch_size])
            qb = batch_of(tower_cfg, train_ex, idx)
            targets = train_ex.target[idx]
            negs = rng.integers(0, n_items, cfg.mixed_negatives) if cfg.mixed_negatives else None
            q, pos, neg = model.batch_forward(features, qb, targets, negs, table)
            log_q = torch.from_numpy(freq.step(targets)).float() if freq is not None else None
            loss = sampled_softmax_loss(
                q,
                pos,
                log_q,
                temperature=cfg.temperature,
                positive_ids=torch.from_numpy(targets),
                negatives=neg,
                log_q_negatives=(
                    torch.full((cfg.mixed_negatives,), log_q_uniform) if neg is not None else None
                ),
                negative_ids=torch.from_numpy(negs) if negs is not None else None,
            )
            opt.zero_grad()
            torch.autograd.backward(loss)
            opt.step()
            total += float(loss.detach())
            if b % 20 == 0:
                bar.set_postfix(loss=f"{total / (b + 1):.3f}")
        bar.close()
        return total / max(n_batches, 1)

    schedule = early_stopping.Schedule(
        target=key,
        max_epochs=cfg.max_epochs,
        patience=cfg.patience,
        keep_initial=True,  # no improvement at all: the initial weights, best epoch 0
        progress=cfg.progress,
        show=(key,),
    )
    run = early_stopping.run(
        schedule,
        train_epoch,
        lambda: evaluate_examples(model, features, valid_ex, ks),
        early_stopping.module_weights(model),
    )
    model.eval()
    best = run.best
    result = TrainResult(
        model,
        run.best_epoch,
        best.metrics if best is not None else {key: early_stopping.NO_BEST},
        history=[_row(c) for c in run.history],
        train_seconds=run.train_seconds,
        seconds_to_best=best.seconds if best is not None else 0.0,
    )
    n_seen = n_batches * cfg.batch_size * len(result.history)
    result.examples_per_second = n_seen / max(result.train_seconds, 1e-9)
    return result
