"""The background loop, written once: forever (cancel to stop), do a step, survive its failures,
back off when asked, and otherwise wait for work or a period.

Every background task of a server (the ingest worker, the vector lane, the stream consumer, the
model and rules watchers) is :func:`run_forever` with its own step and waits:

- a step returns how much it moved (``int``; ``None``/``0``/``False``: nothing). After a step that
  moved something the next one runs at once; after one that moved nothing the loop waits: a
  back-off when one is due (``backoff``), else the idle wait: until ``wake`` is set or ``idle``
  seconds passed (``idle`` alone: a fixed period; ``idle=None``: no wait, the step blocks itself);
- ``hold`` is a back-off the step keeps itself (a deadline it sets on failures): the loop waits
  it out before every step;
- a step that raises is logged (``log.exception``, ``"<what> failed[; <meanwhile>]"``) and
  counts as having moved nothing, after ``on_error_sleep`` seconds; failures the caller expects
  (``expected``) are reported by it as it sees fit and wait what it returns instead. Nothing a
  step raises ends the loop, except :class:`asyncio.CancelledError`: cancelling the task stops
  it at its current await, whether in a step or in a wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import NoReturn, TypeVar

T = TypeVar("T")

Step = Callable[[], Awaitable[int | None]]
"""One unit of work; returns how much it moved (``None`` or ``0``: nothing)."""
Seconds = float | Callable[[], float]
"""A wait in seconds, or a callable read before each wait (a setting that may change)."""
Expected = Callable[[Exception], float | None]
"""For a failure the caller expects: reports it and returns the seconds to wait; ``None`` for
any other failure (logged with its traceback, then ``on_error_sleep``)."""
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Failed:
    """What :func:`attempt` returns for a step that raised: the exception, and the seconds to
    wait before trying again."""

    exc: Exception
    pause: float


async def attempt(
    step: Callable[[], Awaitable[T]],
    *,
    what: str,
    log: logging.Logger,
    meanwhile: str = "",
    expected: Expected | None = None,
    on_error_sleep: float = 0.0,
) -> T | Failed:
    """Run ``step`` once; what it raises is reported and returned as :class:`Failed`, never
    raised (:class:`asyncio.CancelledError` always is)."""
    try:
        return await step()
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        pause = expected(exc) if expected is not None else None
        if pause is None:
            log.exception("%s failed%s", what, f"; {meanwhile}" if meanwhile else "")
            pause = on_error_sleep
        return Failed(exc, pause)


def _seconds(s: Seconds) -> float:
    return s() if callable(s) else s


async def run_forever(
    step: Step,
    *,
    what: str,
    log: logging.Logger,
    idle: Seconds | None,
    wake: asyncio.Event | None = None,
    wait_first: bool = False,
    hold: Callable[[], float] | None = None,
    backoff: Callable[[], float] | None = None,
    expected: Expected | None = None,
    on_error_sleep: float = 0.0,
    meanwhile: str = "",
    sleep: Sleep = asyncio.sleep,
) -> NoReturn:
    """Run ``step`` forever (cancel to stop); see the module's docstring.

    ``wait_first``: the idle wait comes before the first step too (a poller that checks every
    ``idle`` seconds). ``hold``: seconds to wait before each step (0 or less: none).
    ``backoff``: after a step that moved nothing, seconds to back off instead of the idle wait
    (0 or less: the idle wait). ``sleep`` waits a number of seconds (a fake clock in tests); the
    wait for ``wake`` runs on the event loop's clock.
    """

    async def wait_idle() -> None:
        if idle is None:
            return
        seconds = _seconds(idle)
        if wake is None:
            await sleep(seconds)
            return
        wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), seconds)

    if wait_first:
        await wait_idle()
    while True:
        pause = hold() if hold is not None else 0.0
        if pause > 0:
            await sleep(pause)
        got = await attempt(
            step,
            what=what,
            log=log,
            meanwhile=meanwhile,
            expected=expected,
            on_error_sleep=on_error_sleep,
        )
        if isinstance(got, Failed):
            if got.pause > 0:
                await sleep(got.pause)
        elif got:
            continue  # it moved something: more may wait
        pause = backoff() if backoff is not None else 0.0
        if pause > 0:
            await sleep(pause)
        else:
            await wait_idle()
