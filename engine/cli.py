"""`shopnow` command line: synth, train-towers, train-graph, index, ingest, train, eval, serve,
bench, demo."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from engine.settings import Settings
from engine.validation import describe


class CliError(Exception):
    """A user-facing error: printed without a traceback, exit status 2."""


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {
        k: v
        for k, v in {
            "data_dir": getattr(args, "data", None),
            "index_dir": getattr(args, "index", None),
            "model_dir": getattr(args, "models", None),
            "feature_log_dir": getattr(args, "feature_log", None),
            "shared_data": getattr(args, "shared_data", None),
            "search_backend": getattr(args, "backend", None),
            "opensearch_url": getattr(args, "opensearch_url", None),
            "sources": _sources(getattr(args, "sources", None)),
        }.items()
        if v is not None
    }
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise CliError(f"bad settings: {describe(exc)[0]}") from None


def _sources(arg: str | None) -> tuple[str, ...] | None:
    if arg is None:
        return None
    from engine.source_names import SOURCE_NAMES, TRADITIONAL

    names = TRADITIONAL if arg == "traditional" else tuple(x.strip() for x in arg.split(","))
    unknown = sorted(set(names) - set(SOURCE_NAMES))
    if unknown or not names:
        raise CliError(
            f"--sources: unknown {unknown}; give 'traditional' or a comma list of "
            f"{','.join(SOURCE_NAMES)}"
        )
    return names


def cmd_synth(args: argparse.Namespace) -> int:
    from ingest.synth.generate import generate

    out = Path(args.out)
    summary = generate(
        out, n_items=args.items, n_events=args.events, seed=args.seed, progress=not args.quiet
    )
    print(
        json.dumps(
            summary.as_dict() if hasattr(summary, "as_dict") else str(summary),
            indent=2,
            default=str,
        )
    )
    return 0


def cmd_index(args: argparse.Namespace) -> int:
    from engine.jobs import build_index

    print(json.dumps(asyncio.run(build_index(_settings(args), progress=not args.quiet)), indent=2))
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from engine.ingest_file import ingest_file

    report = asyncio.run(ingest_file(_settings(args), args.file, progress=not args.quiet))
    print(json.dumps(report, indent=2))
    return 0 if report["waiting_for_index"] == 0 else 1


def cmd_train(args: argparse.Namespace) -> int:
    from engine.jobs import train

    report = asyncio.run(
        train(
            _settings(args),
            max_requests=args.requests,
            progress=not args.quiet,
            seed=args.seed,
            force=args.force,
        )
    )
    print(json.dumps(report, indent=2))
    if not report["promoted"]:
        print(
            f"not promoted: {report['version']} regresses on {report['gate']['regressions']}; "
            "the served ranker stays (--force publishes it anyway)",
            file=sys.stderr,
        )
        return 1
    return 0


def cmd_train_towers(args: argparse.Namespace) -> int:
    from engine.jobs import train_towers

    report = train_towers(
        _settings(args),
        max_requests=args.requests,
        max_epochs=args.epochs,
        seed=args.seed,
        progress=not args.quiet,
        force=args.force,
    )
    print(json.dumps(report, indent=2))
    if not report["promoted"]:
        print(
            f"not promoted: {report['version']} regresses on {report['gate']['regressions']}; "
            "the served towers stay (--force publishes it anyway)",
            file=sys.stderr,
        )
        return 1
    return 0


def cmd_train_graph(args: argparse.Namespace) -> int:
    import time

    from engine.jobs import train_graph

    settings = _settings(args)
    while True:
        report = train_graph(
            settings, max_epochs=args.epochs, seed=args.seed, progress=not args.quiet
        )
        print(json.dumps(report, indent=2), flush=True)
        if args.every is None:
            return 0
        # running servers pick the new version up by themselves (settings.model_poll_s)
        print(f"next full retrain in {args.every:g} h", file=sys.stderr, flush=True)
        time.sleep(args.every * 3600)


def cmd_eval(args: argparse.Namespace) -> int:
    if args.dataset == "beauty":
        from engine.evaluation.beauty import evaluate_beauty, format_report

        s = _settings(args)
        data = s.shared_data / "amazon-beauty"
        if not data.is_dir():
            raise CliError(
                f"amazon-beauty data not found at {data}; put it there or pass --shared-data DIR"
            )
        print(format_report(evaluate_beauty(data, progress=not args.quiet, quick=args.quick)))
        return 0
    from engine.evaluation.report import format_synthetic, plot_synthetic
    from engine.jobs import evaluate

    report = asyncio.run(
        evaluate(_settings(args), max_requests=args.requests, progress=not args.quiet)
    )
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(format_synthetic(report))
    if args.plot:
        print(f"plot: {plot_synthetic(report, args.plot)}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from engine.compare.run import CompareInputs, compare

    inputs = CompareInputs()
    if args.inputs is not None:
        if not args.inputs.is_file():
            raise CliError(f"--inputs {args.inputs}: no such file")
        try:
            inputs = CompareInputs.model_validate_json(args.inputs.read_text())
        except ValidationError as exc:
            raise CliError(f"--inputs {args.inputs}: {exc}") from exc
    quick = args.quick
    settings = _settings(args)
    if args.dataset == "beauty":
        from engine.compare import beauty

        data = settings.shared_data / "amazon-beauty"
        if not data.is_dir():
            raise CliError(
                f"amazon-beauty data not found at {data}; put it there or pass --shared-data DIR"
            )
        rep = beauty.run(data, quick=quick, text_cache=settings.text_cache, progress=not args.quiet)
        print(json.dumps({k: str(p) for k, p in beauty.write(rep, args.out).items()}))
        print(f"best quality: {rep['best_quality']}")
        for reason in rep["reasons"]:
            print(f"  - {reason}")
        return 0
    report = compare(
        settings,
        args.out,
        inputs=inputs,
        requests=args.requests or (600 if quick else 3000),
        items=args.items or (5_000 if quick else 50_000),
        events=args.events or (80_000 if quick else 500_000),
        fresh_items=100 if quick else 300,
        quick=quick,
        progress=not args.quiet,
    )
    rec = report["recommendation"]
    print(f"recommendation: {rec['choice']}")
    for reason in rec["reasons"]:
        print(f"  - {reason}")
    for flag in report["funnel_flags"]:
        print(f"  ! funnel: {flag}")
    return 0


def cmd_monitor(args: argparse.Namespace) -> int:
    from engine.monitoring.monitor import format_monitor, monitor, plot_monitor

    try:
        report = monitor(_settings(args), hours=args.hours, skew=not args.no_skew)
    except FileNotFoundError as exc:
        raise CliError(str(exc)) from exc
    print(json.dumps(report, indent=2) if args.json else format_monitor(report))
    if args.plot:
        print(f"plot: {plot_monitor(report, args.plot)}")
    return 1 if args.fail_on_alert and report["alerts"] else 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from engine.api.app import create_app
    from engine.jobs import open_engine
    from engine.logs import configure_json_logging

    settings = _settings(args)
    configure_json_logging(settings.log_level)
    app = create_app(lambda: open_engine(settings))  # opened on the server's event loop
    uvicorn.run(app, host=args.host, port=args.port, log_config=None)
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from engine.benchmarks import run_bench

    report = run_bench(
        args.which,
        quick=args.quick,
        smoke=args.smoke,
        settings=_settings(args),
        opensearch_url=args.opensearch_url,  # given on the command line; else a local node
    )
    print(json.dumps(report, indent=2))
    return 0


def cmd_opensearch(args: argparse.Namespace) -> int:
    from search_plugins.opensearch_node.__main__ import main as node_main

    return node_main(args.node_args)


def cmd_demo(args: argparse.Namespace) -> int:
    from engine.jobs import demo

    return demo(
        _settings(args),
        items=args.items,
        events=args.events,
        host=args.host,
        port=args.port,
        serve=not args.no_serve,
    )


def _paths(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", type=Path, help="data directory (default var/data)")
    p.add_argument("--index", type=Path, help="index directory (default var/index)")
    p.add_argument("--models", type=Path, help="model directory (default var/models)")
    p.add_argument(
        "--feature-log",
        type=Path,
        dest="feature_log",
        help="feature log directory (default var/feature-log)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument(
        "--backend",
        choices=["embedded", "opensearch"],
        help="search backend (default $SHOPNOW_SEARCH_BACKEND or embedded)",
    )
    p.add_argument("--opensearch-url", dest="opensearch_url", help="e.g. http://127.0.0.1:9200")
    p.add_argument(
        "--sources",
        help="enabled candidate sources: 'traditional' or a comma list "
        "(default all: bm25,covis,popular,trending,popular_in_context,two_tower,graph,"
        "bought_together)",
    )


def _positive(v: str) -> int:
    try:
        n = int(v)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{v!r} is not an integer") from None
    if n <= 0:
        raise argparse.ArgumentTypeError(f"{v} must be positive")
    return n


def _positive_float(v: str) -> float:
    try:
        x = float(v)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{v!r} is not a number") from None
    if not x > 0:
        raise argparse.ArgumentTypeError(f"{v} must be positive")
    return x


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="shopnow", description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("synth", help="generate a synthetic marketplace")
    p.add_argument("--out", type=Path, default=Path("var/data"))
    p.add_argument("--items", type=_positive, default=50_000)
    p.add_argument("--events", type=_positive, default=500_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(fn=cmd_synth)

    p = sub.add_parser("index", help="load the catalog, index it, build behavioural signals")
    _paths(p)
    p.set_defaults(fn=cmd_index)

    p = sub.add_parser(
        "ingest",
        help="apply a JSONL file of catalog changes (items or op records) through the ingest "
        "log; resumes where an interrupted run stopped",
    )
    p.add_argument("file", type=Path)
    _paths(p)
    p.set_defaults(fn=cmd_ingest)

    p = sub.add_parser("train", help="train the LambdaMART ranker from logged impressions")
    _paths(p)
    p.add_argument(
        "--requests", type=_positive, default=20_000, help="logged requests sampled for training"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--force", action="store_true", help="publish without the promotion gate's verdict"
    )
    p.set_defaults(fn=cmd_train)

    p = sub.add_parser(
        "train-towers", help="train the two-tower retrieval model from logged requests"
    )
    _paths(p)
    p.add_argument("--requests", type=_positive, default=60_000, help="logged requests sampled")
    p.add_argument("--epochs", type=_positive, default=10, help="at most this many epochs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--force", action="store_true", help="publish without the promotion gate's verdict"
    )
    p.set_defaults(fn=cmd_train_towers)

    p = sub.add_parser(
        "train-graph",
        help="train LightGCN, its content map for new items and the bought-together graph",
    )
    _paths(p)
    p.add_argument("--epochs", type=_positive, default=60, help="at most this many epochs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--every",
        type=_positive_float,
        help="hours: retrain on this schedule, forever (serving swaps each new version in)",
    )
    p.set_defaults(fn=cmd_train_graph)

    p = sub.add_parser("eval", help="offline evaluation (synthetic held-out or amazon-beauty)")
    _paths(p)
    p.add_argument("dataset", nargs="?", choices=["synth", "beauty"], default="synth")
    p.add_argument("--requests", type=_positive, default=5_000)
    p.add_argument("--shared-data", type=Path, dest="shared_data")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--json", action="store_true", help="print the full report as JSON")
    p.add_argument("--plot", type=Path, help="write a PNG of NDCG@10 per segment and surface")
    p.set_defaults(fn=cmd_eval)

    p = sub.add_parser(
        "compare",
        help="traditional vs two-tower vs hybrid retrieval, same ranker: the decision report",
    )
    _paths(p)
    p.add_argument("dataset", nargs="?", choices=["synth", "beauty"], default="synth")
    p.add_argument("--out", type=Path, default=Path("compare-report"), help="report directory")
    p.add_argument("--shared-data", type=Path, dest="shared_data")
    p.add_argument("--requests", type=_positive, help="held-out requests (default 3,000)")
    p.add_argument("--items", type=_positive, help="items to synthesise when there is no data")
    p.add_argument("--events", type=_positive, help="events to synthesise when there is no data")
    p.add_argument("--inputs", type=Path, help="JSON: constraints and cost assumptions")
    p.add_argument("--quick", action="store_true", help="a 5K-item world, 600 requests")
    p.set_defaults(fn=cmd_compare)

    p = sub.add_parser(
        "monitor", help="drift and training-serving skew of the served ranker (feature log)"
    )
    _paths(p)
    p.add_argument("--hours", type=_positive_float, default=24.0, help="window (default 24)")
    p.add_argument("--no-skew", action="store_true", help="drift only (skew recomputes features)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--plot", type=Path, help="write a PNG of the PSI per feature")
    p.add_argument("--fail-on-alert", action="store_true", help="exit 1 when something alerts")
    p.set_defaults(fn=cmd_monitor)

    p = sub.add_parser("serve", help="serve the HTTP API")
    _paths(p)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.set_defaults(fn=cmd_serve)

    p = sub.add_parser("bench", help="benchmarks; print JSON")
    _paths(p)
    p.add_argument(
        "which",
        choices=[
            "index",
            "backends",
            "e2e",
            "synth",
            "ranker",
            "beauty",
            "two_tower",
            "graph",
            "gowalla",
            "ingest",
            "online",
            "rollout",
            "rules",
            "all",
        ],
    )
    p.add_argument("--quick", action="store_true", help="small sizes, under a minute")
    p.add_argument(
        "--smoke",
        action="store_true",
        help="smaller than --quick: checks that every step runs (tests); figures mean nothing",
    )
    p.set_defaults(fn=cmd_bench)

    p = sub.add_parser(
        "opensearch",
        help="a local OpenSearch node without Docker: up | down | status (see --help)",
        add_help=False,
    )
    p.add_argument("node_args", nargs=argparse.REMAINDER)
    p.set_defaults(fn=cmd_opensearch)

    p = sub.add_parser("demo", help="synthesise, train, index and serve on localhost")
    _paths(p)
    p.add_argument("--items", type=_positive, default=50_000)
    p.add_argument("--events", type=_positive, default=500_000)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--no-serve", action="store_true", help="stop after building")
    p.set_defaults(fn=cmd_demo)
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["opensearch"]:  # its own parser, options and --help included
        return cmd_opensearch(argparse.Namespace(node_args=argv[1:]))
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("opensearch").setLevel(logging.WARNING)
    try:
        return int(args.fn(args))
    except (CliError, FileNotFoundError, ValueError, ConnectionError) as exc:
        print(f"shopnow {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
