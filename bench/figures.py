"""Small summaries the benchmarks print."""

from __future__ import annotations

from collections.abc import Sequence

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
