"""`shopnow demo`: synthesise, train, index and serve on localhost."""

from __future__ import annotations

import asyncio

import uvicorn

from engine.app.api.app import create_app
from engine.core.logs import configure_json_logging
from engine.core.settings import Settings
from engine.offline.train import build_index, train, train_graph, train_towers
from engine.serving.assembly import open_engine
from engine.serving.sources.registry import enabled_sources, reading
from synth.generate import generate


def demo(
    settings: Settings, *, items: int, events: int, host: str, port: int, serve: bool = True
) -> int:
    """Synthesise (unless data exists), index, train, then serve on localhost."""

    enabled = enabled_sources(settings)
    two_tower = bool(reading("towers", enabled))
    graph = bool(reading("graph", enabled))
    steps = 3 + int(serve) + int(two_tower) + int(graph)
    step = iter(range(1, steps + 1))
    if not (settings.data_dir / "events.npz").exists():
        print(
            f"[{next(step)}/{steps}] synthesising {items:,} items and {events:,} events "
            f"into {settings.data_dir}"
        )
        generate(settings.data_dir, n_items=items, n_events=events, seed=0, progress=True)
    else:
        print(f"[{next(step)}/{steps}] using the existing data in {settings.data_dir}")
    if two_tower:
        print(f"[{next(step)}/{steps}] training the two towers (item text is embedded once)")
        rep = train_towers(settings)
        print({k: rep[k] for k in ("version", "train_examples", "best_epoch", "valid")})
    if graph:
        print(f"[{next(step)}/{steps}] training the graph model (LightGCN, bought-together)")
        g = train_graph(settings, max_epochs=30)
        print({w: {k: g[w][k] for k in ("version", "best_epoch", "valid")} for w in g})
    print(f"[{next(step)}/{steps}] indexing")
    print(asyncio.run(build_index(settings)))
    print(f"[{next(step)}/{steps}] training the ranker")
    rep = asyncio.run(train(settings, max_requests=8000))
    print({k: rep[k] for k in ("version", "n_requests", "metrics")})
    if not serve:
        return 0

    print(
        f"[{next(step)}/{steps}] serving on http://{host}:{port}  (docs: http://{host}:{port}/docs)"
    )
    print(
        f'  curl -s -XPOST http://{host}:{port}/v1/search -d \'{{"query": "wireless '
        f'headphones", "explain": true}}\''
    )
    print(f'  curl -s -XPOST http://{host}:{port}/v1/feed -d \'{{"user_id": "u000001"}}\'')
    configure_json_logging(settings.log_level)
    app = create_app(lambda: open_engine(settings))  # opened on the server's event loop
    uvicorn.run(app, host=host, port=port, log_config=None)
    return 0
