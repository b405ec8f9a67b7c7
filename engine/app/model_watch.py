"""Serving picks up newly published ranker, graph and two-tower models without a restart.

`shopnow train` publishes a ranker by pointing ``<model_dir>/ranker/CURRENT`` at the new
version (an atomic rename). A running API reads that pointer every ``settings.model_poll_s``
seconds and, when it names another version than the one it ranks with, loads it off the event
loop and swaps scorer and features together: replicas that share one model directory all move
to the version the pointer names.

`shopnow train-graph` (once, or on a schedule with ``--every``) writes a new version under
``<model_dir>/graph/serve``. A running API checks that directory every
``settings.model_poll_s`` seconds and, when the version there differs from the one it serves,
loads it (aligned to the live catalog, off the event loop) and swaps it into both graph
sources and the ingest path at once; each request reads one model, never half of each.

`shopnow train-towers` publishes a towers version (``CURRENT`` under the towers directory)
once it passed the promotion gate; the server then re-embeds the catalog into a new index
generation and swaps model and generation together (:mod:`engine.app.towers_rollout`).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Awaitable, Callable

from engine.app.towers_rollout import Rollout, adopt_towers, index_holds, roll_out_towers
from engine.core.loops import attempt, run_forever
from engine.serving.assembly import load_graph, load_towers, served_ranker
from engine.serving.service import Engine
from engine.serving.sources.registry import SOURCE_NAMES
from engine.serving.tower_drift import published_version
from ltr.artifact import CURRENT
from ltr.features import resolve

log = logging.getLogger("shopnow.models")


def published_graph_version(engine: Engine) -> str | None:
    meta = engine.settings.graph_dir / "serve" / "meta.json"
    try:
        return str(json.loads(meta.read_text())["version"])
    except (OSError, ValueError, KeyError):
        return None  # none yet, or being written: look again next time


async def refresh_graph(engine: Engine) -> bool:
    """Swap in the published graph model when it is not the served one; True if swapped."""
    published = published_graph_version(engine)
    if published is None or published == engine.versions.get("graph"):
        return False
    graph = await asyncio.to_thread(load_graph, engine.settings, engine.catalog)
    if graph is None:
        return False
    engine.models.graph.swap(graph)
    log.info("graph model %s now served", graph.version)
    return True


def published_ranker_version(engine: Engine) -> str | None:
    try:
        return (engine.settings.model_dir / "ranker" / CURRENT).read_text().strip() or None
    except OSError:
        return None  # none published: the heuristic ranks


async def refresh_ranker(engine: Engine) -> bool:
    """Rank with the published ranker when it is not the one ranking; True if swapped."""
    published = published_ranker_version(engine)
    if published is None or published == engine.spec.scorer.version:
        return False
    ranker = await asyncio.to_thread(served_ranker, engine.settings)
    if ranker.artifact is None or ranker.feature_names is None:
        return False
    engine.use_scorer(ranker.scorer, resolve(ranker.feature_names, SOURCE_NAMES))
    log.info("ranker %s now ranks", ranker.artifact.version)
    return True


async def refresh_towers(engine: Engine) -> Rollout | None:
    """Roll the published towers model out when it is not the served one (a server serving
    no towers model, two_tower off, stays so). When the index already holds the published
    model's vectors (another server rolled it out, or ``shopnow index`` ran), only swap it in;
    a server with ``towers_rollout`` off waits for that."""
    published = published_version(engine.settings.towers_dir)
    if engine.towers is None or published is None or published == engine.towers.version:
        return None
    settings, catalog = engine.settings, engine.catalog
    towers = await asyncio.to_thread(
        load_towers, settings, catalog, version=published, complete=False
    )
    if towers is None:
        return None
    if await index_holds(engine, towers):
        return await adopt_towers(engine, towers)
    if not settings.towers_rollout:
        return None
    return await roll_out_towers(engine, towers)


async def refresh_models(engine: Engine) -> None:
    """Refresh the ranker, the graph model, then the towers model; each failure is logged on
    its own (a broken artifact must not stop serving the current one, nor refreshing the
    others)."""
    refreshes: tuple[tuple[str, Callable[[Engine], Awaitable[object]]], ...] = (
        ("ranker", refresh_ranker),
        ("graph", refresh_graph),
        ("towers", refresh_towers),
    )
    for what, refresh in refreshes:
        await attempt(
            functools.partial(refresh, engine),
            what=f"loading the published {what} model",
            meanwhile="the served one stays",
            log=log,
        )


async def watch_models(engine: Engine) -> None:
    """Forever (cancel to stop): refresh the models every ``model_poll_s`` seconds."""
    await run_forever(
        lambda: refresh_models(engine),
        what="refreshing the models",
        log=log,
        idle=lambda: engine.settings.model_poll_s,
        wait_first=True,
    )
