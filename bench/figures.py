"""Small summaries the benchmarks print."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np


def latency_ms(seconds: Sequence[float], digits: int = 1) -> dict[str, float | None]:
    """p50, p99 and max of latencies given in seconds, in milliseconds (None when empty)."""
    ms = np.asarray(seconds, np.float64) * 1e3
    if ms.size == 0:
        return {"p50_ms": None, "p99_ms": None, "max_ms": None}
    p50, p99 = np.percentile(ms, [50, 99])
    return {
        "p50_ms": round(float(p50), digits),
        "p99_ms": round(float(p99), digits),
        "max_ms": round(float(ms.max()), digits),
    }


def budget_run(
    runs: Sequence[dict[str, Any]], budget_ms: float, surfaces: Iterable[str] = ("search", "feed")
) -> dict[str, Any] | None:
    """Of load runs (``throughput_rps`` and per surface ``p99_ms`` and ``errors``), the one
    answering the most per second with every surface's p99 within ``budget_ms`` and no error;
    None: none kept the budget."""
    names = tuple(surfaces)
    ok = [
        r
        for r in runs
        if all(
            r[s]["p99_ms"] is not None and r[s]["p99_ms"] <= budget_ms and not r[s]["errors"]
            for s in names
        )
    ]
    return max(ok, key=lambda r: r["throughput_rps"], default=None)
