"""Serving picks up a newly published graph model without a restart.

`shopnow train-graph` (once, or on a schedule with ``--every``) writes a new version under
``<model_dir>/graph/serve``. A running API checks that directory every
``settings.model_poll_s`` seconds and, when the version there differs from the one it serves,
loads it (aligned to the live catalog, off the event loop) and swaps it into both graph
sources and the ingest path at once; each request reads one model, never half of each.
"""

from __future__ import annotations

import asyncio
import json
import logging

from engine.jobs import load_graph
from engine.service import Engine

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
    engine.swap_graph(graph)
    log.info("graph model %s now served", graph.version)
    return True


async def watch_models(engine: Engine) -> None:
    """Forever (cancel to stop): refresh the graph model every ``model_poll_s`` seconds."""
    while True:
        await asyncio.sleep(engine.settings.model_poll_s)
        try:
            await refresh_graph(engine)
        except Exception:  # a broken artifact must not stop serving the current one
            log.exception("loading the published graph model failed; the served one stays")
