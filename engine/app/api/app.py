"""The Starlette application, assembled in one place."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from engine.app.api.auth import Keys, actor
from engine.app.api.errors import ApiError
from engine.app.api.openapi import build_openapi, render_docs
from engine.app.api.operations import Operation, Reply, body, routes
from engine.app.api.params import IntParam, SecondsParam, TextParam
from engine.app.api.rules import OPERATIONS as RULE_OPERATIONS
from engine.app.api.schemas import (
    DeleteResult,
    EventsAccepted,
    Health,
    ItemsBody,
    ItemsWritten,
    Readiness,
)
from engine.app.fleet_metrics import fleet_exposition, write_snapshot
from engine.app.model_watch import watch_models
from engine.core.contracts import (
    MAX_VERSION,
    EventBatch,
    FeedRequest,
    RankedResponse,
    SearchRequest,
)
from engine.core.loops import run_forever
from engine.core.online_store import StoreUnavailable
from engine.core.search import IndexUnavailable
from engine.core.settings import Settings
from engine.serving.assembly import freeze_heap
from engine.serving.service import Engine
from ingest.log import LogFull
from ingest.stream import StreamConsumer

log = logging.getLogger("shopnow.api")
VERSION = "0.1.0"
REQUEST_ID = "x-request-id"
MAX_WAIT_S = 60.0  # longest a PUT may wait for its items to reach every source


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def _rid(request: Request) -> str:
    rid: str = request.state.request_id
    return rid


async def search(request: Request) -> Reply:
    resp = await _engine(request).rank(body(request, SearchRequest), _rid(request))
    return Reply(resp)


async def feed(request: Request) -> Reply:
    resp = await _engine(request).rank(body(request, FeedRequest), _rid(request))
    return Reply(resp)


async def events(request: Request) -> Reply:
    batch = body(request, EventBatch)
    try:
        n, warnings = await _engine(request).events.record(batch.events)
    except StoreUnavailable as exc:
        raise ApiError(503, f"{exc}; retry later", headers={"Retry-After": "2"}) from None
    return Reply(EventsAccepted(accepted=n, warnings=warnings), 202)


def _full(exc: LogFull) -> ApiError:
    return ApiError(429, str(exc), headers={"Retry-After": str(exc.retry_after_s)})


WAIT = SecondsParam(
    "wait",
    "query",
    "seconds to wait for the items to reach every source (default the server's setting; "
    "0: answer once they are durable)",
    hi=MAX_WAIT_S,
)


async def put_items(request: Request) -> Reply:
    wait = WAIT.read(request)
    items = body(request, ItemsBody).items
    before = _versions(_engine(request), [it.id for it in items])
    try:
        rep = await _engine(request).writes.upsert(items, wait_s=wait)
    except LogFull as exc:
        raise _full(exc) from None
    out = ItemsWritten(applied=rep.applied, stale=rep.stale, failed=rep.failed, pending=rep.pending)
    written = {it.id: it.version for it in items if it.id not in rep.stale}
    await _audit_items(request, "items upsert", before, {"versions": written})
    return Reply(out, 202 if rep.pending else 200)


def _versions(engine: Engine, ids: list[str]) -> dict[str, int]:
    cat = engine.catalog
    return {i: int(cat.version.values[cat.row_of[i]]) for i in ids if i in cat.row_of}


async def _audit_items(
    request: Request, action: str, before: dict[str, int], after: dict[str, Any]
) -> None:
    """Who wrote which item versions, in the audit log beside rule and key changes."""
    engine = _engine(request)
    ids = sorted(set(before) | set(after.get("versions", {})))
    target = ids[0] if len(ids) == 1 else f"{len(ids)} items"
    await asyncio.to_thread(
        engine.rules.control.record,
        actor(request),
        action,
        "items",
        target,
        {"versions": before},
        after,
    )


ITEM_ID = TextParam("item_id", "path", "catalog item id")
VERSION_PARAM = IntParam(
    "version",
    "query",
    "the version being deleted: the item goes unless a newer version is stored",
    required=True,
    hi=MAX_VERSION,
)


async def delete_item(request: Request) -> Reply:
    item_id = ITEM_ID.need(request)
    version = VERSION_PARAM.need(request)
    engine = _engine(request)
    if item_id not in engine.catalog.row_of:
        raise ApiError(404, f"item {item_id!r} not found")
    before = _versions(engine, [item_id])
    try:
        deleted = await engine.writes.delete(item_id, version)
    except LogFull as exc:
        raise _full(exc) from None
    if not deleted:
        raise ApiError(409, f"item {item_id!r} has a newer version than {version}; not deleted")
    await _audit_items(request, "item delete", before, {"deleted": item_id, "version": version})
    return Reply(DeleteResult(id=item_id, deleted=True))


async def healthz(request: Request) -> Reply:
    return Reply(Health(status="ok"))


async def readyz(request: Request) -> Reply:
    engine = _engine(request)
    store_ok = await engine.store.ping()
    try:
        items, index_ok = await engine.index.count(), True
    except IndexUnavailable:
        items, index_ok = 0, False
    stalled = engine.writes.worker.stalled_s()  # changes waiting, none applied for this long
    ingest_ok = stalled <= engine.settings.ingest_stall_s
    ready = store_ok and index_ok and items > 0 and ingest_ok
    body = Readiness(
        ready=ready,
        items=items,
        index=engine.index.name,
        store=engine.store.name,
        store_ok=store_ok,
        index_ok=index_ok,
        backlog=engine.writes.backlog,
        ingest_stalled_s=round(stalled, 3),
        ranker=engine.spec.scorer.version,
        access_control=engine.settings.admin_key is not None,
        rules=engine.rules.current.size,
        speller=engine.speller() is not None,
        replica=replica_of(engine.settings),
    )
    return Reply(body, 200 if ready else 503)


async def refresh_gauges(engine: Engine) -> None:
    """Set the gauges read from the engine's state (before rendering the metrics)."""
    m = engine.metrics
    m.ingest_lag.set(engine.writes.worker.lag)
    m.ingest_lag_seconds.set(await asyncio.to_thread(engine.writes.worker.oldest_unapplied_age))
    m.ingest_unpersisted.set(engine.writes.worker.applied - engine.writes.ingest_log.checkpoint)
    lane = engine.writes.writer.lane
    m.vectors_owed.set(0 if lane is None else len(lane))
    m.vectors_owed_seconds.set(0.0 if lane is None else lane.oldest_age())
    m.priors_waiting.set(engine.cold_start.waiting)
    m.features_logged.set(engine.feature_log.logged)
    if engine.towers is not None:
        state = engine.towers.vector_state(engine.catalog)
        for key in ("full", "provisional", "missing"):
            m.item_vectors.labels(key).set(state[key])
        for label, key in (("0.5", "p50"), ("0.99", "p99"), ("1", "max")):
            m.item_vector_age.labels(label).set(state["age_s"][key])
    drift = engine.drift.ranker()
    alerts = 0
    if drift is not None:
        for name, f in drift["features"].items():
            m.feature_psi.labels(name).set(f["psi"])
        m.score_psi.set(drift["score"]["psi"])
        m.source_mix_psi.set(drift["source_mix"]["psi"])
        alerts += len(drift["alerts"])
    towers = engine.drift.towers()
    if towers is not None:
        m.towers_output_psi.labels(towers["model"]).set(towers["psi_mean"])
        alerts += int(towers["alert"])
    if drift is not None or towers is not None:
        m.drift_alerts.set(alerts)


async def metrics(request: Request) -> Response:
    engine = _engine(request)
    await refresh_gauges(engine)
    text = engine.metrics.render()
    own = engine.settings.replica_dir
    if own is not None:  # one of several processes: theirs too, each labelled with its slot
        stale = 3 * engine.settings.metrics_snapshot_s
        text = await asyncio.to_thread(fleet_exposition, own, text, stale)
    return Response(text, media_type=CONTENT_TYPE_LATEST)


async def _publish_metrics(engine: Engine, own: Path) -> None:
    """Write this process's metrics for the others' scrapes, every ``metrics_snapshot_s``."""

    async def publish() -> None:
        await refresh_gauges(engine)
        await asyncio.to_thread(write_snapshot, own, engine.metrics.render())

    await run_forever(
        publish,
        what="writing this process's metrics",
        meanwhile="scrapes of the other processes show its last ones until they are stale",
        log=log,
        idle=lambda: engine.settings.metrics_snapshot_s,
    )


async def openapi(request: Request) -> Response:
    return JSONResponse(request.app.state.openapi)


async def not_found(request: Request, exc: Exception) -> Response:
    """Unknown paths and methods answer JSON like every other error."""
    assert isinstance(exc, HTTPException)
    headers = None if exc.headers is None else dict(exc.headers)
    return ApiError(exc.status_code, exc.detail, headers=headers).response()


async def docs(request: Request) -> Response:
    return HTMLResponse(render_docs(request.app.state.openapi))


REPLICA = "X-Shopnow-Replica"


def replica_of(settings: Settings) -> str | None:
    """The worker slot of this process (``shopnow serve --workers``), or None: one process."""
    return None if settings.replica_dir is None else settings.replica_dir.name


class RequestIdMiddleware(BaseHTTPMiddleware):
    async def dispatch(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        rid = request.headers.get(REQUEST_ID) or uuid.uuid4().hex
        if len(rid) > 128 or not rid.replace("-", "").replace("_", "").isalnum():
            rid = uuid.uuid4().hex
        request.state.request_id = rid
        try:
            response = await call_next(request)
        except Exception:
            log.exception("unhandled error", extra={"request_id": rid})
            response = JSONResponse({"error": "internal error", "request_id": rid}, 500)
        response.headers[REQUEST_ID] = rid
        replica = getattr(request.app.state, "replica", None)
        if replica is not None:
            response.headers[REPLICA] = replica
        return response


def access_control(engine: Engine) -> Keys:
    """Keys over the engine's control store, enforced when an admin key is configured."""
    admin = engine.settings.admin_key
    if admin is None:
        log.warning("no SHOPNOW_ADMIN_KEY: the API is open, every caller acts as admin")
    return Keys(engine.rules.control, admin)


async def watch_rules(engine: Engine) -> None:
    """Forever (cancel to stop): every ``rules_poll_s`` seconds, reload the rules when another
    worker changed them. A bad read is logged; the rules in memory are served meanwhile."""

    async def reload() -> None:  # None: a reload is not work to repeat at once, wait the period
        await asyncio.to_thread(engine.rules.refresh)

    await run_forever(
        reload,
        what="reloading the rules",
        meanwhile="the loaded ones stay",
        log=log,
        idle=lambda: engine.settings.rules_poll_s,
        wait_first=True,
    )


def _stream_consumer(engine: Engine) -> StreamConsumer | None:
    s = engine.settings
    if s.ingest_stream is None:
        return None
    replica = replica_of(s)
    return StreamConsumer(
        s.redis_url,
        s.ingest_stream,
        engine.writes.worker.accept,
        engine.writes.writer.dead_letters,
        # each worker process is a consumer of the group: entries are shared out among them
        consumer="engine" if replica is None else f"engine-{replica}",
    )


def _attach(app: Starlette, engine: Engine) -> None:
    app.state.engine = engine
    app.state.settings = engine.settings
    app.state.replica = replica_of(engine.settings)
    app.state.keys = access_control(engine)


def create_app(engine: Engine | Callable[[], Awaitable[Engine]]) -> Starlette:
    """The API over ``engine``, or over the engine an async factory opens at startup.

    ``shopnow serve`` passes the factory: network clients (OpenSearch, Redis) bind to the event
    loop they are created on, so the engine must be opened on the server's own loop.
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        nonlocal engine
        if not isinstance(engine, Engine):
            engine = await engine()
            _attach(app, engine)
        freeze_heap()  # what the start built stays out of the collector's full passes
        tasks = [
            asyncio.create_task(engine.writes.worker.run(engine.settings.ingest_poll_s)),
            asyncio.create_task(watch_models(engine)),  # newly published graph/towers models
            asyncio.create_task(watch_rules(engine)),  # rules changed by any worker
            asyncio.create_task(engine.events.drain()),  # events the store could not take yet
        ]
        if engine.writes.writer.lane is not None:  # item vectors of new texts
            tasks.append(asyncio.create_task(engine.writes.writer.lane.run()))
        if engine.settings.replica_dir is not None:  # one of several processes
            tasks.append(asyncio.create_task(_publish_metrics(engine, engine.settings.replica_dir)))
        stream = _stream_consumer(engine)
        if stream is not None:
            tasks.append(asyncio.create_task(stream.run()))  # catalog changes from a stream
        yield
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if stream is not None:
            await stream.close()
        await engine.close()

    middleware = [Middleware(RequestIdMiddleware)]
    app = Starlette(
        routes=routes(OPERATIONS),
        middleware=middleware,
        lifespan=lifespan,
        exception_handlers={HTTPException: not_found},
    )
    if isinstance(engine, Engine):
        _attach(app, engine)
    app.state.openapi = build_openapi(VERSION, OPERATIONS)
    return app


RANKED = {200: RankedResponse}
ITEM_WRITES = {
    429: "The ingest log is full: retry after `Retry-After` seconds",
}
OPERATIONS: list[Operation] = [
    Operation(
        "POST",
        "/v1/search",
        search,
        "Rank items for a text query",
        RANKED,
        role="client",
        body=SearchRequest,
    ),
    Operation(
        "POST",
        "/v1/feed",
        feed,
        "Rank items for the home feed",
        RANKED,
        role="client",
        body=FeedRequest,
    ),
    Operation(
        "POST",
        "/v1/events",
        events,
        "Record user events",
        {202: EventsAccepted},
        role="client",
        body=EventBatch,
        body_class="events",
        errors={503: "The online store is unreachable: retry after `Retry-After` seconds"},
    ),
    Operation(
        "PUT",
        "/v1/items",
        put_items,
        "Insert or update items (versioned): durable in the ingest log, then applied; 202 "
        "when some are still `pending`",
        {200: ItemsWritten, 202: ItemsWritten},
        role="admin",
        body=ItemsBody,
        body_class="items",
        params=(WAIT,),
        errors=ITEM_WRITES,
    ),
    Operation(
        "DELETE",
        "/v1/items/{item_id}",
        delete_item,
        "Delete an item at a version",
        {200: DeleteResult},
        role="admin",
        params=(ITEM_ID, VERSION_PARAM),
        errors={**ITEM_WRITES, 409: "A newer version of the item is stored"},
    ),
    Operation("GET", "/healthz", healthz, "Liveness", {200: Health}),
    Operation(
        "GET",
        "/readyz",
        readyz,
        "Readiness of index, store, ranker and ingest (503 with the same body when not ready)",
        {200: Readiness, 503: Readiness},
    ),
    Operation(
        "GET",
        "/metrics",
        metrics,
        "Prometheus metrics: latency per stage, freshness, ingest lag",
        {200: None},
        media=CONTENT_TYPE_LATEST,
    ),
    Operation("GET", "/openapi.json", openapi, "This document", {200: None}),
    Operation("GET", "/docs", docs, "This document as a page", {200: None}, media="text/html"),
    *RULE_OPERATIONS,
]
