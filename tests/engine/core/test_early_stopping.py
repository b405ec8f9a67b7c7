from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from typing import Any

import pytest

from engine.core import early_stopping as es


class Fake:
    """A 'model' whose weights are the number of epochs it has trained; its validation metric
    at epoch e is ``values[e - 1]``."""

    def __init__(self, values: Sequence[float]) -> None:
        self.values = list(values)
        self.weights = 0
        self.trained: list[int] = []
        self.evaluated: list[int] = []

    def train_epoch(self, epoch: int) -> float:
        self.trained.append(epoch)
        self.weights += 1
        return 1.0 / epoch

    def evaluate(self) -> dict[str, float]:
        self.evaluated.append(self.weights)
        return {"recall": self.values[self.weights - 1]}

    def restore(self, state: int) -> None:
        self.weights = state

    def access(self) -> es.Weights[int]:
        return es.Weights(lambda: self.weights, self.restore)


def _run(fake: Fake, resume: es.RunState[int] | None = None, **kw: Any) -> es.RunState[int]:
    kw.setdefault("max_epochs", len(fake.values))
    schedule = es.Schedule(target="recall", **kw)
    return es.run(schedule, fake.train_epoch, fake.evaluate, fake.access(), resume=resume)


def test_stops_after_patience_evaluations_without_improvement_and_restores_the_best() -> None:
    fake = Fake([0.1, 0.3, 0.2, 0.3, 0.25, 0.9, 0.95])  # 0.3 again is no improvement
    res = _run(fake, patience=3)
    assert fake.trained == [1, 2, 3, 4, 5]
    assert [c.epoch for c in res.history] == [1, 2, 3, 4, 5]
    assert res.best_epoch == 2 and res.best_value == 0.3 and res.stale == 3
    assert fake.weights == 2  # the best epoch's weights are back
    assert res.best is not None and res.best.metrics == {"recall": 0.3}
    assert res.best.loss == pytest.approx(1 / 2)
    assert res.epoch == 5


def test_an_improvement_resets_the_patience() -> None:
    fake = Fake([0.1, 0.05, 0.2, 0.1, 0.15, 0.3, 0.0, 0.0])
    res = _run(fake, patience=2)
    assert fake.trained == [1, 2, 3, 4, 5]
    assert res.best_epoch == 3 and fake.weights == 3


def test_no_improvement_at_all_keeps_the_last_weights() -> None:
    fake = Fake([-1.0, -2.0, -1.5, -3.0])  # never above NO_BEST
    res = _run(fake, patience=2)
    assert fake.trained == [1, 2]
    assert res.best_state is None and res.best_value == es.NO_BEST
    assert res.best_epoch == 2 and fake.weights == 2
    assert res.best is res.history[-1]  # the best is the last evaluation


def test_no_improvement_with_keep_initial_restores_the_weights_before_training() -> None:
    fake = Fake([float("nan")] * 6)  # NaN never compares larger
    res = _run(fake, patience=2, keep_initial=True)
    assert fake.trained == [1, 2]
    assert res.best is None and res.best_epoch == 0
    assert fake.weights == 0


def test_a_missing_target_metric_never_improves() -> None:
    fake = Fake([0.5, 0.6, 0.7])
    res = es.run(
        es.Schedule(target="ndcg", max_epochs=3, patience=2),
        fake.train_epoch,
        fake.evaluate,
        fake.access(),
    )
    assert fake.trained == [1, 2] and res.best_state is None and res.best_epoch == 2


def test_max_epochs_bounds_the_run() -> None:
    fake = Fake([0.1 * e for e in range(1, 11)])  # always improving
    res = _run(fake, max_epochs=4, patience=1)
    assert fake.trained == [1, 2, 3, 4]
    assert res.best_epoch == 4 and fake.weights == 4 and res.epoch == 4


def test_without_patience_runs_every_epoch_and_keeps_the_best() -> None:
    fake = Fake([0.1, 0.5, 0.2, 0.1, 0.0])
    res = _run(fake, patience=None)
    assert fake.trained == [1, 2, 3, 4, 5]
    assert res.best_epoch == 2 and fake.weights == 2 and res.stale == 3


def test_eval_every_evaluates_on_the_multiples_and_at_the_last_epoch() -> None:
    fake = Fake([0.1] * 3 + [0.2] + [0.1] * 7)
    res = _run(fake, eval_every=3, patience=None)
    assert [c.epoch for c in res.history] == [3, 6, 9, 11]
    assert fake.evaluated == [3, 6, 9, 11]
    assert res.best_epoch == 3 and fake.weights == 3  # epoch 4's 0.2 was never evaluated


def test_patience_counts_evaluations_not_epochs() -> None:
    fake = Fake([0.5, 0.5, 0.9, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5])
    res = _run(fake, eval_every=2, patience=2)
    assert [c.epoch for c in res.history] == [2, 4, 6]
    assert fake.trained == [1, 2, 3, 4, 5, 6]
    assert res.best_epoch == 2


def test_without_evaluation_trains_every_epoch_and_keeps_the_last() -> None:
    fake = Fake([0.0] * 5)
    res = es.run(
        es.Schedule(target="recall", max_epochs=5, patience=1),
        fake.train_epoch,
        None,
        fake.access(),
    )
    assert fake.trained == [1, 2, 3, 4, 5] and res.history == []
    assert res.best_epoch == 5 and fake.weights == 5


def test_the_time_budget_ends_the_run_with_an_evaluation() -> None:
    fake = Fake([0.1] * 20)
    res = _run(fake, eval_every=5, time_budget_s=1e-9)
    assert fake.trained == [1] and [c.epoch for c in res.history] == [1]


def test_timings() -> None:
    fake = Fake([0.1, 0.2, 0.3])
    res = _run(fake)
    seconds = [c.seconds for c in res.history]
    assert seconds == sorted(seconds) and seconds[0] >= 0
    assert res.seconds >= seconds[-1] >= res.train_seconds >= 0


def test_on_evaluation_sees_the_updated_best_before_the_patience_check() -> None:
    fake = Fake([0.1, 0.3, 0.2, 0.1])
    seen: list[tuple[int, int, int, int]] = []

    def hook(point: es.Checkpoint, state: es.RunState[int]) -> None:
        assert state.history[-1] is point and state.seconds == point.seconds
        seen.append((point.epoch, state.epoch, state.best_epoch, state.stale))

    es.run(
        es.Schedule(target="recall", max_epochs=4, patience=2),
        fake.train_epoch,
        fake.evaluate,
        fake.access(),
        on_evaluation=hook,
    )
    assert seen == [(1, 1, 1, 0), (2, 2, 2, 0), (3, 3, 2, 1), (4, 4, 2, 2)]


def test_a_resumed_run_goes_on_from_its_state() -> None:
    values = [0.1, 0.4, 0.3, 0.2, 0.5, 0.45, 0.44, 0.43, 0.6]
    whole = _run(Fake(values), eval_every=2)
    assert [c.epoch for c in whole.history] == [2, 4, 6, 8, 9] and whole.best_epoch == 9
    fake = Fake(values)
    first = _run(fake, max_epochs=3, eval_every=2)
    assert [c.epoch for c in first.history] == [2, 3]  # the first sitting's last epoch too
    assert fake.weights == 2 and first.best_epoch == 2 and first.stale == 1
    fake.weights = first.epoch  # a resumed trainer reloads its last weights, not the best
    again = _run(fake, eval_every=2, resume=first)
    assert fake.trained == [1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert [c.epoch for c in again.history] == [2, 3, 4, 6, 8, 9]
    at = {c.epoch: c.metrics for c in again.history}
    assert all(at[c.epoch] == c.metrics for c in whole.history)
    assert again.best_epoch == 9 and fake.weights == 9
    assert again.seconds >= first.seconds


def test_a_resumed_run_keeps_its_patience_count() -> None:
    values = [0.1, 0.4, 0.3, 0.2, 0.5, 0.45]
    fake = Fake(values)
    first = _run(fake, max_epochs=3, eval_every=2, patience=2)
    fake.weights = first.epoch
    again = _run(fake, eval_every=2, patience=2, resume=first)
    assert fake.trained == [1, 2, 3, 4]  # stale 1 after epoch 3, 2 after epoch 4
    assert again.best_epoch == 2 and fake.weights == 2


def test_the_progress_line_shows_the_chosen_metrics(capsys: pytest.CaptureFixture[str]) -> None:
    fake = Fake([0.25, 0.5])
    es.run(
        es.Schedule(target="recall", max_epochs=2, progress=True, show=("recall", "absent")),
        fake.train_epoch,
        lambda: {**fake.evaluate(), "ndcg": 0.125},
        fake.access(),
    )
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("epoch 1 ") and lines[0].endswith("loss=1.0000 recall=0.2500")
    assert lines[1].endswith("loss=0.5000 recall=0.5000")


def test_schedule_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        es.Schedule(target="r", max_epochs=0)
    with pytest.raises(ValueError):
        es.Schedule(target="r", max_epochs=3, eval_every=0)
    with pytest.raises(ValueError):
        es.Schedule(target="r", max_epochs=3, patience=0)


class _Tensor:
    def __init__(self, v: float) -> None:
        self.v = v

    def detach(self) -> _Tensor:
        return self

    def clone(self) -> _Tensor:
        return _Tensor(self.v)


class _Module:
    def __init__(self) -> None:
        self.w = _Tensor(1.0)

    def state_dict(self) -> dict[str, Any]:
        return {"w": self.w}

    def load_state_dict(self, state: Any, /) -> None:
        self.w = state["w"]


def test_module_weights_copies_the_state_dict() -> None:
    m = _Module()
    w = es.module_weights(m)
    snap = w.snapshot()
    m.w.v = 5.0  # trained in place
    assert snap["w"].v == 1.0
    w.restore(snap)
    assert m.w.v == 1.0


def test_the_core_module_imports_without_torch() -> None:
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import engine.core.early_stopping\n"
        "assert sys.modules['torch'] is None\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
