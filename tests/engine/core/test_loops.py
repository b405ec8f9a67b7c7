"""The one background loop (``engine.core.loops``): failures are logged and survived, waits come
in the right order and length, a wake ends an idle wait, cancelling stops it at once.

Waits go through a fake clock that records them (no wall-clock thresholds); whatever runs on
the real event loop is bounded by ``TIMEOUT`` so nothing can hang.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

import pytest

from engine.core.loops import Failed, attempt, run_forever

TIMEOUT = 5.0
log = logging.getLogger("tests.loops")
Event = tuple[str, float] | str


class Clock:
    """A fake clock: ``sleep`` records the wait, moves ``now`` and yields once."""

    def __init__(self) -> None:
        self.now = 0.0
        self.events: list[Event] = []

    async def sleep(self, seconds: float) -> None:
        self.events.append(("sleep", seconds))
        self.now += seconds
        await asyncio.sleep(0)


class Script:
    """A step playing ``outcomes`` in turn (an exception is raised); once they are played it
    sets ``done`` and parks until cancelled."""

    def __init__(self, clock: Clock, *outcomes: int | BaseException | None) -> None:
        self.clock, self.outcomes = clock, list(outcomes)
        self.calls = 0
        self.done = asyncio.Event()

    async def __call__(self) -> int | None:
        self.calls += 1
        self.clock.events.append("step")
        if not self.outcomes:
            self.done.set()
            await asyncio.Event().wait()  # parked: the test cancels the loop here
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


async def cancel(task: asyncio.Task[Any]) -> None:
    """Cancel ``task``; it must end, cancelled, within the timeout."""
    task.cancel()
    finished, _ = await asyncio.wait([task], timeout=TIMEOUT)
    assert task in finished, "the loop did not stop when cancelled"
    assert task.cancelled()


async def play(loop: Coroutine[Any, Any, Any], done: asyncio.Event) -> None:
    """Run ``loop`` until ``done`` (its step played its script), then cancel it."""
    task = asyncio.create_task(loop)
    try:
        waiting = asyncio.create_task(done.wait())
        await asyncio.wait([waiting, task], timeout=TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        assert not task.done(), f"the loop ended: {task}"
        assert done.is_set(), "the script was not played within the timeout"
    finally:
        await cancel(task)


async def test_a_failing_step_is_logged_and_the_loop_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    script = Script(clock, RuntimeError("boom"), ValueError("bad"), 1)
    with caplog.at_level(logging.ERROR, logger=log.name):
        await play(
            run_forever(
                script,
                what="test step",
                meanwhile="the old one stays",
                log=log,
                idle=5.0,
                on_error_sleep=1.0,
                sleep=clock.sleep,
            ),
            script.done,
        )
    errors = [r for r in caplog.records if r.name == log.name]
    assert [r.getMessage() for r in errors] == ["test step failed; the old one stays"] * 2
    assert all(r.levelno == logging.ERROR and r.exc_info for r in errors)  # log.exception
    assert [type(r.exc_info[1]) for r in errors if r.exc_info] == [RuntimeError, ValueError]
    # a failure: its pause, then the idle wait; progress: straight to the next step
    assert clock.events == [
        "step",
        ("sleep", 1.0),
        ("sleep", 5.0),
        "step",
        ("sleep", 1.0),
        ("sleep", 5.0),
        "step",
        "step",
    ]


async def test_expected_failures_wait_what_the_caller_says_and_are_not_tracebacks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    script = Script(clock, KeyError("full"), OSError("down"), RuntimeError("other"), 0)
    reported: list[Exception] = []

    def expected(exc: Exception) -> float | None:
        reported.append(exc)
        return {KeyError: 7.0, OSError: 1.0}.get(type(exc))

    with caplog.at_level(logging.ERROR, logger=log.name):
        await play(
            run_forever(
                script,
                what="poll",
                log=log,
                idle=None,  # the step blocks itself: no wait after it
                expected=expected,
                on_error_sleep=2.0,
                sleep=clock.sleep,
            ),
            script.done,
        )
    assert [type(e) for e in reported] == [KeyError, OSError, RuntimeError]
    assert [r.getMessage() for r in caplog.records if r.name == log.name] == ["poll failed"]
    assert clock.events == [
        "step",
        ("sleep", 7.0),
        "step",
        ("sleep", 1.0),
        "step",
        ("sleep", 2.0),  # not expected: logged, then on_error_sleep
        "step",
        "step",  # moved nothing, idle=None: no wait
    ]


async def test_a_periodic_loop_waits_first_and_reads_its_period_each_time() -> None:
    clock = Clock()
    period = [3.0]

    async def step() -> None:
        clock.events.append("step")
        period[0] += 1.0  # a setting changed meanwhile
        if len(clock.events) >= 6:
            done.set()
            await asyncio.Event().wait()

    done = asyncio.Event()
    await play(
        run_forever(
            step, what="poll", log=log, idle=lambda: period[0], wait_first=True, sleep=clock.sleep
        ),
        done,
    )
    assert clock.events == [("sleep", 3.0), "step", ("sleep", 4.0), "step", ("sleep", 5.0), "step"]


async def test_a_back_off_replaces_the_idle_wait_while_work_is_owed() -> None:
    clock = Clock()
    script = Script(clock, 0, RuntimeError("refused"), 0, 2)
    await play(
        run_forever(
            script,
            what="lane",
            log=logging.getLogger("tests.loops.quiet"),
            idle=9.0,
            backoff=lambda: 0.5 if script.calls < 3 else 0.0,  # rows owed until the third step
            sleep=clock.sleep,
        ),
        script.done,
    )
    assert clock.events == [
        "step",
        ("sleep", 0.5),  # moved nothing, rows owed: back off, no idle wait
        "step",
        ("sleep", 0.5),  # a failure counts as moving nothing (no on_error_sleep: none)
        "step",
        ("sleep", 9.0),  # nothing owed: the idle wait
        "step",
        "step",
    ]


async def test_a_hold_the_step_keeps_is_waited_out_before_the_next_step() -> None:
    clock = Clock()
    until = [0.0]
    script = Script(clock, 0, 0, 3)

    async def step() -> int | None:
        moved = await script()
        if script.calls == 1:
            until[0] = clock.now + 2.0  # a failed batch: retry no sooner than in 2 s
        return moved

    await play(
        run_forever(
            step,
            what="ingest step",
            log=log,
            idle=0.25,
            hold=lambda: until[0] - clock.now,
            sleep=clock.sleep,
        ),
        script.done,
    )
    assert clock.events == [
        "step",
        ("sleep", 0.25),  # the idle wait first, as ever after a step that moved nothing
        ("sleep", 1.75),  # then what is left of the hold
        "step",
        ("sleep", 0.25),  # the hold is over: no more waiting for it
        "step",
        "step",
    ]


async def test_an_idle_wait_ends_early_on_wake() -> None:
    wake = asyncio.Event()
    first, second = asyncio.Event(), asyncio.Event()
    calls = 0

    async def step() -> int:
        nonlocal calls
        await asyncio.sleep(0)  # a loop that forgot to wait spins here, it cannot hang the test
        calls += 1
        (first if calls == 1 else second).set()
        return 0

    task = asyncio.create_task(
        run_forever(step, what="lane", log=log, idle=3600.0, wake=wake)  # an hour: never
    )
    try:
        await asyncio.wait_for(first.wait(), TIMEOUT)
        await asyncio.sleep(0)  # the loop is in its idle wait now
        assert calls == 1
        wake.set()
        await asyncio.wait_for(second.wait(), TIMEOUT)  # woken long before the hour
        assert calls == 2
    finally:
        await cancel(task)


@pytest.mark.parametrize("where", ["step", "idle", "wake", "hold", "error pause"])
async def test_cancelling_stops_the_loop_wherever_it_waits(where: str) -> None:
    entered = asyncio.Event()
    calls = 0

    async def step() -> int:
        nonlocal calls
        await asyncio.sleep(0)  # a loop that forgot to wait spins here, it cannot hang the test
        calls += 1
        entered.set()
        if where == "step":
            await asyncio.Event().wait()
        if where == "error pause":
            raise RuntimeError("then an hour's pause")
        return 1 if where == "hold" else 0  # moved: no idle wait, straight to the hold

    task = asyncio.create_task(
        run_forever(
            step,
            what="x",
            log=logging.getLogger("tests.loops.quiet"),
            idle=3600.0,
            wake=asyncio.Event() if where == "wake" else None,
            hold=lambda: 3600.0 if where == "hold" and calls else 0.0,  # after the first step
            on_error_sleep=3600.0,
        )
    )
    try:
        await asyncio.wait_for(entered.wait(), TIMEOUT)
        await asyncio.sleep(0)
    finally:
        await cancel(task)
    assert calls == 1


async def test_a_cancelled_error_from_the_step_ends_the_loop_unlogged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    script = Script(clock, asyncio.CancelledError())
    with caplog.at_level(logging.DEBUG, logger=log.name):
        task = asyncio.create_task(
            run_forever(script, what="x", log=log, idle=1.0, sleep=clock.sleep)
        )
        finished, _ = await asyncio.wait([task], timeout=TIMEOUT)
    assert task in finished and task.cancelled()
    assert clock.events == ["step"]
    assert not [r for r in caplog.records if r.name == log.name]


async def test_attempt_returns_the_result_or_the_failure(caplog: pytest.LogCaptureFixture) -> None:
    async def fine() -> str:
        return "ok"

    async def broken() -> str:
        raise ValueError("no")

    assert await attempt(fine, what="fine", log=log) == "ok"
    with caplog.at_level(logging.ERROR, logger=log.name):
        got = await attempt(broken, what="loading it", meanwhile="the old one stays", log=log)
    assert isinstance(got, Failed) and isinstance(got.exc, ValueError) and got.pause == 0.0
    assert [r.getMessage() for r in caplog.records] == ["loading it failed; the old one stays"]
