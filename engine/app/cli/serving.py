"""`shopnow serve`, `demo`, `opensearch`: running the engine."""

from __future__ import annotations

import argparse
import os

from engine.app.cli.common import CliError, add_paths, positive, settings_from
from engine.core.settings import Settings


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="serve the HTTP API")
    add_paths(p)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument(
        "--workers",
        type=positive,
        default=1,
        help="server processes on this machine (default 1); more than one need Redis as the "
        "online store (docs/fleet.md)",
    )
    p.set_defaults(fn=cmd_serve)

    p = sub.add_parser("demo", help="synthesise, train, index and serve on localhost")
    add_paths(p)
    p.add_argument("--items", type=positive, default=50_000)
    p.add_argument("--events", type=positive, default=500_000)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--no-serve", action="store_true", help="stop after building")
    p.set_defaults(fn=cmd_demo)
    p = sub.add_parser(
        "opensearch",
        help="a local OpenSearch node without Docker: up | down | status (see --help)",
        add_help=False,
    )
    p.add_argument("node_args", nargs=argparse.REMAINDER)
    p.set_defaults(fn=cmd_opensearch)


def cmd_serve(args: argparse.Namespace) -> int:
    # imported when the command runs: `shopnow --help` loads none of it
    import uvicorn

    from engine.app.api.app import create_app
    from engine.core.logs import configure_json_logging
    from engine.serving.assembly import open_engine

    settings = settings_from(args)
    configure_json_logging(settings.log_level)
    if args.workers > 1:
        return _serve_workers(settings, args.host, args.port, args.workers)
    app = create_app(lambda: open_engine(settings))  # opened on the server's event loop
    uvicorn.run(app, host=args.host, port=args.port, log_config=None)
    return 0


def _serve_workers(settings: Settings, host: str, port: int, workers: int) -> int:
    """N processes on one socket, each with its own slot (engine/app/workers.py)."""
    import uvicorn

    from engine.app import workers as w

    try:
        w.check_shared(settings, workers)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    os.environ[w.SETTINGS_ENV] = settings.model_dump_json()
    os.environ[w.WORKERS_ENV] = str(workers)
    w.share_cores(os.environ, workers)
    uvicorn.run(
        "engine.app.workers:app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        http=w.NoDelayProtocol,
        log_config=None,
    )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    # imported when the command runs: `shopnow --help` loads none of it
    from engine.app.demo import demo

    return demo(
        settings_from(args),
        items=args.items,
        events=args.events,
        host=args.host,
        port=args.port,
        serve=not args.no_serve,
    )


def cmd_opensearch(args: argparse.Namespace) -> int:
    # imported when the command runs: `shopnow --help` loads none of it
    from devtools.opensearch_node.__main__ import main as node_main

    return node_main(args.node_args)
