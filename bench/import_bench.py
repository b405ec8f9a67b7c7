"""`shopnow-bench import`: memory and speed of `shopnow import` on a large event file.

Writes a Parquet file of ``n`` events in the import schema (1% of them malformed: an unknown
kind), imports it into a fresh dataset, and prints rows per second, the peak resident memory
of the process (``ru_maxrss``) before and after, and the counts. The claim it checks: memory
stays bounded by the batch, not the file (a 10M-event file in under 2 GB).
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ingest.imports.readers import file_source
from ingest.imports.run import import_all

KINDS = np.array(["view", "click", "add_to_cart", "purchase", "bogus"])


def write_events(path: Path, n: int, seed: int = 0, chunk: int = 1_000_000) -> None:
    rng = np.random.default_rng(seed)
    with pq.ParquetWriter(path, _schema()) as w:
        for s in range(0, n, chunk):
            m = min(chunk, n - s)
            kind = KINDS[rng.choice(5, m, p=[0.6, 0.25, 0.08, 0.06, 0.01])]
            users = rng.integers(0, n // 20 + 1, m)
            anonymous = rng.random(m) < 0.35
            user = [None if a else str(u) for a, u in zip(anonymous, users, strict=True)]
            table = pa.table(
                {
                    "ts": pa.array(1.7e15 + (s + np.arange(m)) * 1e6, pa.float64())
                    .cast(pa.int64())
                    .cast(pa.timestamp("us", tz="UTC")),
                    "user_id": pa.array(user, pa.string()),
                    "session_id": pa.array(rng.integers(0, n // 8 + 1, m).astype(str)),
                    "kind": pa.array(kind),
                    "item_id": pa.array(rng.integers(0, 1_000_000, m).astype(str)),
                },
                schema=_schema(),
            )
            w.write_table(table)


def _schema() -> pa.Schema:
    return pa.schema(
        [
            ("ts", pa.timestamp("us", tz="UTC")),
            ("user_id", pa.string()),
            ("session_id", pa.string()),
            ("kind", pa.string()),
            ("item_id", pa.string()),
        ]
    )


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def run(*, quick: bool, smoke: bool = False) -> dict[str, Any]:
    n = 20_000 if smoke else 1_000_000 if quick else 10_000_000
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.parquet"
        t = time.perf_counter()
        write_events(path, n)
        print(f"wrote {n:,} events in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        before = _rss_mb()
        t = time.perf_counter()
        (out,) = import_all([file_source(path, "events")], Path(tmp) / "ds", progress=True)
        seconds = time.perf_counter() - t
        return {
            "events": n,
            "file_mb": round(path.stat().st_size / 2**20, 1),
            "imported": out.entry.imported,
            "quarantined": out.entry.quarantined,
            "seconds": round(seconds, 1),
            "rows_per_s": round(n / seconds),
            "peak_rss_mb_before_import": round(before),
            "peak_rss_mb": round(_rss_mb()),
        }
