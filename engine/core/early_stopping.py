"""The early-stopping training loop shared by the model trainers (two towers, LightGCN).

:func:`run` trains epoch after epoch through a caller's ``train_epoch``, evaluates every
``eval_every`` epochs (and at the last one), keeps a copy of the weights of the best evaluation
by the ``target`` metric, stops after ``patience`` evaluations without improvement (or when
the time budget runs out), then restores the best weights. It reports every evaluation (a
:class:`Checkpoint`), the best epoch and the timings, and prints one progress line per
evaluation.

The loop knows nothing of a model framework: the weights are read and written through a
:class:`Weights` pair of callables. :func:`module_weights` builds that pair for anything with
``state_dict``/``load_state_dict`` (a torch module) without importing torch, so the core layer
stays importable where torch is not installed.

Improvement is strict (``value > best``); a value must exceed :data:`NO_BEST` to count, which
the validation metrics the trainers use (recall, NDCG: never negative) always do. A missing
target metric counts as :data:`NO_BEST`. If no evaluation ever improves, the weights are those
of the last epoch and the best epoch is the last epoch, unless ``keep_initial`` is set: then
the weights before training are the fallback, restored at the end, and the best epoch is 0.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from tqdm import tqdm

S = TypeVar("S")

#: The best value before any evaluation: an evaluation improves on it when its target is larger.
NO_BEST = -1.0


@dataclass(frozen=True, slots=True)
class Schedule:
    """When to evaluate and when to stop."""

    target: str  # the metric whose larger value is better
    max_epochs: int
    patience: int | None = None  # evaluations without improvement; None: never stop early
    eval_every: int = 1
    time_budget_s: float | None = None  # wall time (training + evaluation) of the whole run
    keep_initial: bool = False  # the weights before training are the fallback "best" (epoch 0)
    progress: bool = False  # one line on stderr per evaluation
    show: tuple[str, ...] | None = None  # metrics in that line; None: all

    def __post_init__(self) -> None:
        if self.max_epochs < 1 or self.eval_every < 1:
            raise ValueError("max_epochs and eval_every must be at least 1")
        if self.patience is not None and self.patience < 1:
            raise ValueError("patience must be at least 1 (or None)")


@dataclass(slots=True)
class Checkpoint:
    """One evaluation."""

    epoch: int
    seconds: float  # wall time (training + evaluation) from the start of the run to its end
    loss: float  # the epoch's mean training loss
    metrics: dict[str, float]


@dataclass(slots=True)
class RunState(Generic[S]):
    """Where a run stands; what :func:`run` returns, and what a resumed run starts from."""

    epoch: int = 0  # the last epoch trained
    seconds: float = 0.0  # wall time so far (at the latest evaluation while running; at the end)
    train_seconds: float = 0.0  # inside ``train_epoch`` only (this sitting; evaluation excluded)
    history: list[Checkpoint] = field(default_factory=list)
    best_epoch: int = 0
    best_value: float = NO_BEST
    best_state: S | None = None
    stale: int = 0  # evaluations since the last improvement

    @property
    def best(self) -> Checkpoint | None:
        return best_checkpoint(self.history, self.best_epoch)


def best_checkpoint(history: list[Checkpoint], best_epoch: int) -> Checkpoint | None:
    """The evaluation of ``best_epoch``; None if there is none (no evaluation, or none improved
    with ``keep_initial``: best epoch 0)."""
    for c in history:
        if c.epoch == best_epoch:
            return c
    return None


@dataclass(frozen=True, slots=True)
class Weights(Generic[S]):
    """How the loop copies the model's weights (``snapshot``) and puts a copy back."""

    snapshot: Callable[[], S]
    restore: Callable[[S], None]


class StateDictModule(Protocol):
    def state_dict(self) -> Mapping[str, Any]: ...

    def load_state_dict(self, state_dict: Mapping[str, Any], /) -> Any: ...


def module_weights(module: StateDictModule) -> Weights[dict[str, Any]]:
    """Snapshot = a detached copy of every tensor of ``module.state_dict()``. Duck-typed: torch
    is needed only when training, and it is the caller's module that brings it."""

    def snapshot() -> dict[str, Any]:
        return {k: v.detach().clone() for k, v in module.state_dict().items()}

    return Weights(snapshot, module.load_state_dict)


def _line(point: Checkpoint, show: tuple[str, ...] | None) -> str:
    keys = point.metrics if show is None else [k for k in show if k in point.metrics]
    shown = " ".join(f"{k}={point.metrics[k]:.4f}" for k in keys)
    return f"epoch {point.epoch} {point.seconds:.0f}s loss={point.loss:.4f} {shown}"


def run(
    schedule: Schedule,
    train_epoch: Callable[[int], float],
    evaluate: Callable[[], dict[str, float]] | None,
    weights: Weights[S],
    *,
    on_evaluation: Callable[[Checkpoint, RunState[S]], None] | None = None,
    resume: RunState[S] | None = None,
) -> RunState[S]:
    """Train with early stopping; the model holds the best evaluation's weights on return.

    ``train_epoch(epoch)`` (1-based) trains one epoch and returns its mean loss; ``evaluate()``
    returns the validation metrics (None: never evaluate, train every epoch, keep the last).
    ``on_evaluation(checkpoint, state)`` runs after each evaluation once the best is updated
    and before the patience check (to save a resumable state). With ``resume``, the run goes
    on after ``resume.epoch``, its wall time counting from ``resume.seconds``."""
    state: RunState[S] = resume if resume is not None else RunState()
    if resume is None and schedule.keep_initial:
        state.best_state = weights.snapshot()
    start = time.perf_counter() - state.seconds
    for epoch in range(state.epoch + 1, schedule.max_epochs + 1):
        t0 = time.perf_counter()
        loss = train_epoch(epoch)
        state.train_seconds += time.perf_counter() - t0
        state.epoch = epoch
        elapsed = time.perf_counter() - start
        budget = schedule.time_budget_s
        out_of_time = budget is not None and elapsed >= budget
        last = epoch == schedule.max_epochs or out_of_time
        if evaluate is not None and (epoch % schedule.eval_every == 0 or last):
            metrics = evaluate()
            point = Checkpoint(epoch, time.perf_counter() - start, loss, metrics)
            state.history.append(point)
            state.seconds = point.seconds
            if schedule.progress:
                tqdm.write(_line(point, schedule.show), file=sys.stderr)
                sys.stderr.flush()
            value = metrics.get(schedule.target, NO_BEST)
            if value > state.best_value:
                state.best_value, state.stale, state.best_epoch = value, 0, epoch
                state.best_state = weights.snapshot()
            else:
                state.stale += 1
            if on_evaluation is not None:
                on_evaluation(point, state)
            if schedule.patience is not None and state.stale >= schedule.patience:
                break
        if out_of_time:
            break
    if state.best_state is not None:
        weights.restore(state.best_state)
    else:
        state.best_epoch = state.epoch
    state.seconds = time.perf_counter() - start
    return state
