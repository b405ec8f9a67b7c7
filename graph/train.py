"""Training loop for :class:`~graph.lightgcn.LightGCN` with BPR and Adam.

Each epoch draws as many triples as the graph has edges (the reference code's epoch), in
batches of ``batch_size``. Every propagation costs the same whatever the batch size, so on a CPU
the lever is the number of steps: large batches with a proportionally larger learning rate
reach the reference quality in far less wall time (docs/graph.md has the measured schedule).
Evaluation runs every ``eval_every`` epochs; the best evaluated state is kept, and training stops
after ``patience`` evaluations without improvement or when ``time_budget_s`` runs out.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from pydantic import BaseModel, ConfigDict, Field

from graph.bipartite import Bipartite
from graph.lightgcn import LightGCN
from graph.sampling import BprSampler

Evaluate = Callable[[LightGCN], dict[str, float]]


class LightGCNConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    dim: int = Field(64, ge=1)
    layers: int = Field(3, ge=0)
    init_std: float = Field(0.1, gt=0)
    seed: int = 0
    batch_size: int = Field(2048, ge=1)
    lr: float = Field(1e-3, gt=0)
    lr_min: float | None = Field(
        None, gt=0, description="cosine decay from lr to lr_min over max_epochs; None: constant"
    )
    l2: float = Field(1e-4, ge=0)
    negatives: int = Field(1, ge=1, description="uniform negatives per (user, positive) pair")
    max_epochs: int = Field(1000, ge=1)
    samples_per_epoch: int | None = Field(None, ge=1, description="None: one per edge")
    eval_every: int = Field(10, ge=1)
    patience: int | None = Field(None, ge=1, description="evaluations without improvement")
    target: str = "recall@20"
    time_budget_s: float | None = Field(None, gt=0)
    threads: int = Field(2, ge=1)
    progress: bool = True


@dataclass(slots=True)
class Checkpoint:
    epoch: int
    seconds: float
    loss: float
    metrics: dict[str, float]


@dataclass(slots=True)
class TrainResult:
    model: LightGCN
    history: list[Checkpoint] = field(default_factory=list)
    best_epoch: int = 0
    seconds: float = 0.0

    @property
    def best(self) -> Checkpoint | None:
        for c in self.history:
            if c.epoch == self.best_epoch:
                return c
        return None


def _save_state(
    path: Path,
    cfg: LightGCNConfig,
    model: LightGCN,
    opt: torch.optim.Optimizer,
    sampler: BprSampler,
    result: TrainResult,
    epoch: int,
    seconds: float,
    best_value: float,
    best_state: dict[str, torch.Tensor] | None,
    stale: int,
) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(
        {
            "config": cfg.model_dump(),
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "sampler": sampler.get_state(),
            "torch_rng": torch.get_rng_state(),
            "history": [asdict(c) for c in result.history],
            "best_value": best_value,
            "best_state": best_state,
            "stale": stale,
            "best_epoch": result.best_epoch,
            "epoch": epoch,
            "seconds": seconds,
        },
        tmp,
    )
    tmp.replace(path)


def _lr_at(cfg: LightGCNConfig, epoch: int) -> float:
    if cfg.lr_min is None:
        return cfg.lr
    frac = min(epoch / max(cfg.max_epochs, 1), 1.0)
    cos = 0.5 * (1 + torch.cos(torch.tensor(frac * torch.pi))).item()
    return cfg.lr_min + (cfg.lr - cfg.lr_min) * cos


#: Settings that may change when a run is resumed (how long it runs and what it prints).
RESUMABLE_CHANGES = frozenset({"max_epochs", "time_budget_s", "progress", "patience"})


def _same_run(saved: dict[str, object], cfg: LightGCNConfig) -> None:
    now = cfg.model_dump()
    diff = sorted(k for k in now if k not in RESUMABLE_CHANGES and saved.get(k) != now[k])
    if diff:
        raise ValueError(f"cannot resume: the checkpoint was made with other settings {diff}")


def train_lightgcn(
    graph: Bipartite,
    cfg: LightGCNConfig,
    evaluate: Evaluate | None = None,
    on_checkpoint: Callable[[Checkpoint], None] | None = None,
    state_file: Path | None = None,
) -> TrainResult:
    """Train; returns the model at its best evaluation (last epoch if none).

    With ``state_file``, the whole run (weights, optimiser, sampler, history, best state, wall
    time so far) is written there after every evaluation, and a run started with an existing
    file continues from it: a long reproduction can span several sittings."""
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    model = LightGCN(graph.n_users, graph.n_items, cfg.dim, cfg.layers, cfg.init_std)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    sampler = BprSampler(graph.interactions, seed=cfg.seed)
    per_epoch = cfg.samples_per_epoch or graph.n_edges
    result = TrainResult(model)
    best_value: float = -1.0
    best_state: dict[str, torch.Tensor] | None = None
    stale, first, done_s = 0, 1, 0.0
    if state_file is not None and state_file.is_file():
        saved = torch.load(state_file, weights_only=False)
        _same_run(saved["config"], cfg)
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["optimizer"])
        sampler.set_state(saved["sampler"])
        torch.set_rng_state(saved["torch_rng"])
        result.history = [Checkpoint(**c) for c in saved["history"]]
        best_value, best_state = saved["best_value"], saved["best_state"]
        stale, result.best_epoch = saved["stale"], saved["best_epoch"]
        first, done_s = saved["epoch"] + 1, saved["seconds"]
    start = time.perf_counter() - done_s
    epoch = first - 1
    for epoch in range(first, cfg.max_epochs + 1):
        for group in opt.param_groups:
            group["lr"] = _lr_at(cfg, epoch - 1)
        users, pos, neg = sampler.sample(per_epoch, cfg.negatives)
        total, steps = 0.0, 0
        for lo in range(0, per_epoch, cfg.batch_size):
            sl = slice(lo, lo + cfg.batch_size)
            loss, _, _ = model.bpr_loss(
                graph,
                torch.from_numpy(users[sl]),
                torch.from_numpy(pos[sl]),
                torch.from_numpy(neg[sl]),
                cfg.l2,
            )
            opt.zero_grad(set_to_none=True)
            torch.autograd.backward(loss)
            opt.step()
            total += float(loss.detach())
            steps += 1
        elapsed = time.perf_counter() - start
        out_of_time = cfg.time_budget_s is not None and elapsed >= cfg.time_budget_s
        last = epoch == cfg.max_epochs or out_of_time
        if evaluate is not None and (epoch % cfg.eval_every == 0 or last):
            metrics = evaluate(model)
            point = Checkpoint(epoch, time.perf_counter() - start, total / steps, metrics)
            result.history.append(point)
            if on_checkpoint is not None:
                on_checkpoint(point)
            if cfg.progress:
                shown = " ".join(f"{k}={v:.4f}" for k, v in metrics.items())
                print(
                    f"epoch {epoch} {point.seconds:.0f}s loss={point.loss:.4f} {shown}",
                    file=sys.stderr,
                    flush=True,
                )
            value = metrics.get(cfg.target, -1.0)
            if value > best_value:
                best_value, stale, result.best_epoch = value, 0, epoch
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                stale += 1
            if state_file is not None:
                _save_state(
                    state_file,
                    cfg,
                    model,
                    opt,
                    sampler,
                    result,
                    epoch,
                    point.seconds,
                    best_value,
                    best_state,
                    stale,
                )
            if cfg.patience is not None and stale >= cfg.patience:
                break
        if out_of_time:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    else:
        result.best_epoch = epoch
    result.seconds = time.perf_counter() - start
    return result
