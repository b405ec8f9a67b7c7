"""Training loop for :class:`~graph.lightgcn.LightGCN` with BPR and Adam.

Each epoch draws as many triples as the graph has edges (the reference code's epoch), in
batches of ``batch_size``. Every propagation costs the same whatever the batch size, so on a CPU
the lever is the number of steps: large batches with a proportionally larger learning rate
reach the reference quality in far less wall time (docs/graph.md has the measured schedule).
Evaluation runs every ``eval_every`` epochs; the best evaluated state is kept, and training stops
after ``patience`` evaluations without improvement or when ``time_budget_s`` runs out (the loop
is :mod:`engine.core.early_stopping`'s).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from pydantic import BaseModel, ConfigDict, Field

from engine.core import early_stopping
from engine.core.early_stopping import Checkpoint
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
class TrainResult:
    model: LightGCN
    history: list[Checkpoint] = field(default_factory=list)
    best_epoch: int = 0
    seconds: float = 0.0

    @property
    def best(self) -> Checkpoint | None:
        return early_stopping.best_checkpoint(self.history, self.best_epoch)


def _save_state(
    path: Path,
    cfg: LightGCNConfig,
    model: LightGCN,
    opt: torch.optim.Optimizer,
    sampler: BprSampler,
    run: early_stopping.RunState[dict[str, torch.Tensor]],
) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(
        {
            "config": cfg.model_dump(),
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "sampler": sampler.get_state(),
            "torch_rng": torch.get_rng_state(),
            "history": [asdict(c) for c in run.history],
            "best_value": run.best_value,
            "best_state": run.best_state,
            "stale": run.stale,
            "best_epoch": run.best_epoch,
            "epoch": run.epoch,
            "seconds": run.seconds,
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
    run: early_stopping.RunState[dict[str, torch.Tensor]] | None = None
    if state_file is not None and state_file.is_file():
        saved = torch.load(state_file, weights_only=False)
        _same_run(saved["config"], cfg)
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["optimizer"])
        sampler.set_state(saved["sampler"])
        torch.set_rng_state(saved["torch_rng"])
        run = early_stopping.RunState(
            epoch=saved["epoch"],
            seconds=saved["seconds"],
            history=[Checkpoint(**c) for c in saved["history"]],
            best_epoch=saved["best_epoch"],
            best_value=saved["best_value"],
            best_state=saved["best_state"],
            stale=saved["stale"],
        )

    def train_epoch(epoch: int) -> float:
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
        return total / steps

    def evaluated(
        point: Checkpoint, state: early_stopping.RunState[dict[str, torch.Tensor]]
    ) -> None:
        if on_checkpoint is not None:
            on_checkpoint(point)
        if state_file is not None:
            _save_state(state_file, cfg, model, opt, sampler, state)

    schedule = early_stopping.Schedule(
        target=cfg.target,
        max_epochs=cfg.max_epochs,
        patience=cfg.patience,
        eval_every=cfg.eval_every,
        time_budget_s=cfg.time_budget_s,
        progress=cfg.progress,
    )
    done = early_stopping.run(
        schedule,
        train_epoch,
        (lambda: evaluate(model)) if evaluate is not None else None,
        early_stopping.module_weights(model),
        on_evaluation=evaluated,
        resume=run,
    )
    return TrainResult(model, done.history, done.best_epoch, done.seconds)
