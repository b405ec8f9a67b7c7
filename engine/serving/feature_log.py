"""Feature logging: for a sample of requests, the exact feature vectors the ranker scored, with
what is needed to compute them again offline (the request's context as serving saw it, the
candidates with their source scores and ranks), the scores, the request id and the model
versions. Append-only JSON lines, one file per UTC hour, under ``settings.feature_log_dir``.

Sampling is by request id (a CRC of it), so a request is logged whole or not at all and a
replay of the same ids samples the same requests. Of each sampled request the ``top``
candidates of the final order are logged and ``others`` more drawn at random from the rest:
what was shown and what competed with it, at a bounded size.

Writes leave the event loop: records collect in memory and a worker thread appends them
(``flush`` at close). The last ``keep`` logged rows also stay in memory for the drift gauges
of ``GET /metrics``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
import zlib
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from engine.core.arrays import F32, I64
from engine.core.catalog import Catalog
from engine.core.pipeline.context import History, RequestContext
from engine.core.pipeline.executor import PipelineResult
from engine.core.pipeline.stages import FeatureFrame
from engine.core.search import SearchFilter
from engine.serving.tower_drift import SOURCE as TOWER_SOURCE

log = logging.getLogger("shopnow.feature_log")
FLUSH_EVERY = 64  # records
FLUSH_AFTER_S = 1.0


def sampled(request_id: str, rate: float) -> bool:
    return rate > 0 and zlib.crc32(request_id.encode()) % 1_000_000 < rate * 1_000_000


def logged_positions(request_id: str, n: int, order: I64, top: int, others: int) -> I64:
    """Pool positions to log: the first ``top`` of ``order``, then ``others`` random ones."""
    first = order[:top]
    rest = np.setdiff1d(np.arange(n, dtype=np.int64), first)
    if len(rest) > others:
        rng = np.random.default_rng(zlib.crc32(request_id.encode()))
        rest = np.sort(rng.choice(rest, others, replace=False))
    return np.concatenate([first, rest]).astype(np.int64)


def reference_positions(frame: FeatureFrame) -> I64:
    """The best candidate of each pool-relative feature (``*_gap``): logged too, so that
    features recomputed from the logged candidates alone (the skew check) measure against the
    same best."""
    out = [
        int(np.nanargmax(col))
        for j, name in enumerate(frame.names)
        if name.endswith("_gap") and np.isfinite(col := frame.values[:, j]).any()
    ]
    return np.unique(np.asarray(out, np.int64))


def _history(h: History, catalog: Catalog) -> dict[str, Any]:
    return {
        "items": [catalog.ids[int(r)] for r in h.rows],
        "kinds": h.kinds.tolist(),
        "ts": h.ts.tolist(),
    }


def _filters(f: SearchFilter) -> dict[str, Any]:
    d = dataclasses.asdict(f)
    d["exclude_ids"] = sorted(f.exclude_ids)
    return d


def record_of(
    ctx: RequestContext,
    res: PipelineResult,
    catalog: Catalog,
    versions: dict[str, str],
    top: int,
    others: int,
) -> dict[str, Any]:
    pool, frame = res.pool, res.frame
    pos = logged_positions(ctx.request_id, len(pool), res.ranked.order, top, others)
    best = reference_positions(frame)
    pos = np.concatenate([pos, best[~np.isin(best, pos)]])
    return {
        "request_id": ctx.request_id,
        "ts": ctx.now,
        "surface": ctx.surface.value,
        "segment": int(ctx.segment),
        "versions": {**versions, **res.reads.models, "ranker": res.scorer.version},
        "scorer": res.scorer.name,
        "context": {
            "query": ctx.query,
            "user_id": ctx.user_id,
            "session_id": ctx.session_id,
            "session_queries": list(ctx.session_queries),
            "user_history": _history(ctx.user_history, catalog),
            "session": _history(ctx.session, catalog),
            "filters": _filters(ctx.filters),
            "page": ctx.page,
            "page_size": ctx.page_size,
        },
        "items": [catalog.ids[int(r)] for r in pool.rows[pos]],
        "source_names": list(pool.source_names),
        "source_scores": pool.source_scores[pos],
        "source_ranks": pool.source_ranks[pos],
        "feature_names": list(frame.names),
        "features": frame.values[pos],
        "scores": np.asarray(res.ranked.scores, np.float32)[pos],
        "query_vectors": res.reads.query_vectors,  # the query tower's outputs, by source
    }


def floats(rows: list[list[float | None]] | list[float | None]) -> F32:
    """JSON lists (null for NaN) back to float32."""
    a = np.array(rows, dtype=object)
    return np.where(a == None, np.nan, a).astype(np.float32)  # noqa: E711 (elementwise)


class FeatureLog:
    def __init__(
        self,
        directory: Path,
        rate: float,
        *,
        top: int = 50,
        others: int = 50,
        keep: int = 20_000,
    ) -> None:
        self.directory = directory
        self.rate = rate
        self.top, self.others = top, others
        self.logged = 0  # records written or pending
        self._pending: list[dict[str, Any]] = []
        self._last_flush = time.monotonic()
        self._tasks: set[asyncio.Task[None]] = set()
        # (ranker version, feature names, values, scores, source presence) of recent records
        self.recent: deque[tuple[str, tuple[str, ...], F32, F32, F32]] = deque()
        self._recent_rows = 0
        self.keep = keep
        # (towers version, two-tower query vector) of recent records
        self.recent_queries: deque[tuple[str, F32]] = deque(maxlen=keep // 10)

    def observe(
        self, ctx: RequestContext, res: PipelineResult, catalog: Catalog, versions: dict[str, str]
    ) -> bool:
        """Log the request if it is sampled; True if it was."""
        if len(res.pool) == 0 or not sampled(ctx.request_id, self.rate):
            return False
        rec = record_of(ctx, res, catalog, versions, self.top, self.others)
        self._remember(rec)
        self._pending.append(rec)
        self.logged += 1
        due = time.monotonic() - self._last_flush >= FLUSH_AFTER_S
        if len(self._pending) >= FLUSH_EVERY or due:
            self._flush_soon()
        return True

    def _remember(self, rec: dict[str, Any]) -> None:
        names = tuple(rec["feature_names"])
        presence = (~np.isnan(rec["source_scores"])).astype(np.float32)
        ranker = rec["versions"]["ranker"]
        self.recent.append((ranker, names, rec["features"], rec["scores"], presence))
        q = rec["query_vectors"].get(TOWER_SOURCE)
        if q is not None:
            self.recent_queries.append((rec["versions"].get("towers", ""), q))
        self._recent_rows += len(rec["scores"])
        while self._recent_rows > self.keep and len(self.recent) > 1:
            self._recent_rows -= len(self.recent.popleft()[3])

    def _flush_soon(self) -> None:
        batch, self._pending = self._pending, []
        self._last_flush = time.monotonic()
        try:
            task = asyncio.get_running_loop().create_task(asyncio.to_thread(self._write, batch))
        except RuntimeError:  # no loop (a synchronous caller): write now
            self._write(batch)
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _write(self, batch: list[dict[str, Any]]) -> None:
        by_file: dict[Path, list[bytes]] = {}
        for rec in batch:
            hour = time.strftime("%Y%m%dT%H", time.gmtime(rec["ts"]))
            line = orjson.dumps(rec, option=orjson.OPT_SERIALIZE_NUMPY)
            by_file.setdefault(self.directory / f"features-{hour}.jsonl", []).append(line)
        self.directory.mkdir(parents=True, exist_ok=True)
        for path, lines in by_file.items():
            with path.open("ab") as fh:
                fh.write(b"\n".join(lines) + b"\n")

    async def flush(self) -> None:
        """Everything observed so far on disk."""
        if self._pending:
            self._flush_soon()
        if self._tasks:
            await asyncio.gather(*self._tasks)


def read_log(
    directory: Path, since: float | None = None, until: float | None = None
) -> Iterator[dict[str, Any]]:
    """Logged records in file order, between ``since`` and ``until`` (epoch seconds); feature,
    score and source arrays come back as float32 with NaN."""
    for path in sorted(directory.glob("features-*.jsonl")):
        with path.open("rb") as fh:
            for line in fh:
                if not line.strip():
                    continue
                try:
                    rec = orjson.loads(line)
                except orjson.JSONDecodeError:
                    log.warning("skipping a torn line in %s", path)
                    continue
                if (since is not None and rec["ts"] < since) or (
                    until is not None and rec["ts"] >= until
                ):
                    continue
                for key in ("features", "source_scores", "source_ranks"):
                    rec[key] = floats(rec[key]).reshape(len(rec["items"]), -1)
                rec["scores"] = floats(rec["scores"])
                rec["query_vectors"] = {
                    k: np.asarray(v, np.float32) for k, v in rec.get("query_vectors", {}).items()
                }
                yield rec
