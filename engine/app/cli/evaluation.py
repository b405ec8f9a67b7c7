"""`shopnow eval`, `compare`, `monitor`: figures from the serving pipeline."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from engine.app.cli.common import (
    CliError,
    add_paths,
    add_without_features,
    positive,
    positive_float,
    settings_from,
    without_features,
)


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "eval",
        help="held-out requests after the cut of the dataset under --data, replayed "
        "through the served pipeline (synthetic or imported)",
    )
    add_paths(p)
    p.add_argument("--requests", type=positive, default=5_000)
    p.add_argument("--json", action="store_true", help="print the full report as JSON")
    p.add_argument(
        "--plot",
        type=Path,
        help="write a PNG of NDCG@10 per segment and surface (with --judgments --cv: each "
        "query's nDCG@10 change against the served ranker)",
    )
    p.add_argument(
        "--judgments",
        type=Path,
        help="CSV query,docid,rating: search quality on graded judgments of the catalog under "
        "--data, through the served search pipeline",
    )
    p.add_argument(
        "--cv",
        type=positive,
        help="with --judgments: learn the search ranker from the judgments by k-fold "
        "cross-validation over queries (each query ranked by a model that never saw it)",
    )
    p.add_argument("--seed", type=int, default=0, help="with --cv: how queries are split")
    add_without_features(p, "with --cv")
    p.add_argument(
        "--per-query", action="store_true", help="with --judgments: print the per-query table"
    )
    p.set_defaults(fn=cmd_eval)

    p = sub.add_parser(
        "compare",
        help="traditional vs two-tower vs hybrid retrieval, same ranker: the decision report",
    )
    add_paths(p)
    p.add_argument("--out", type=Path, default=Path("compare-report"), help="report directory")
    p.add_argument("--requests", type=positive, help="held-out requests (default 3,000)")
    p.add_argument("--items", type=positive, help="items to synthesise when there is no data")
    p.add_argument("--events", type=positive, help="events to synthesise when there is no data")
    p.add_argument("--inputs", type=Path, help="JSON: constraints and cost assumptions")
    p.add_argument(
        "--quick",
        action="store_true",
        help="600 requests, fewer training epochs (and a 5K-item world when synthesising)",
    )
    p.set_defaults(fn=cmd_compare)

    p = sub.add_parser(
        "monitor", help="drift and training-serving skew of the served ranker (feature log)"
    )
    add_paths(p)
    p.add_argument("--hours", type=positive_float, default=24.0, help="window (default 24)")
    p.add_argument("--no-skew", action="store_true", help="drift only (skew recomputes features)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--plot", type=Path, help="write a PNG of the PSI per feature")
    p.add_argument("--fail-on-alert", action="store_true", help="exit 1 when something alerts")
    p.set_defaults(fn=cmd_monitor)


def cmd_eval(args: argparse.Namespace) -> int:
    if args.judgments is not None:
        return _judged(args)
    if args.cv is not None or args.without_features:
        raise CliError("--cv and --without-features go with --judgments")
    # imported when the command runs: `shopnow --help` loads none of it
    from engine.offline.evaluate import evaluate
    from engine.offline.evaluation.report import format_synthetic, plot_synthetic

    report = asyncio.run(
        evaluate(settings_from(args), max_requests=args.requests, progress=not args.quiet)
    )
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(format_synthetic(report))
    if args.plot:
        _say_plot(plot_synthetic(report, args.plot), args.json)
    return 0


def _judged(args: argparse.Namespace) -> int:
    # imported when the command runs (ranx and the engine): `shopnow --help` loads none of it
    from engine.offline.evaluation.judged import (
        format_table,
        plot_versus,
        rank_judged,
        read_judgments,
        score,
        versus,
    )

    if args.cv is not None and args.cv < 2:
        raise CliError(f"--cv {args.cv}: cross-validation needs at least 2 folds")
    if args.without_features and args.cv is None:
        raise CliError("--without-features is an ablation of the --cv ranker; add --cv K")
    if not args.judgments.is_file():
        raise CliError(f"--judgments {args.judgments}: no such file")
    without = without_features(args)
    try:
        judgments = read_judgments(args.judgments)
        runs = asyncio.run(
            rank_judged(
                settings_from(args),
                judgments,
                cv=args.cv,
                seed=args.seed,
                without=without,
            )
        )
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    report = score(judgments, runs.ranked)
    report["in_sample"] = runs.in_sample
    vs = None
    if runs.baseline is not None:
        base = score(judgments, runs.baseline)
        vs = versus(report, base)
        report["baseline"] = {"ranker": runs.baseline_name, "overall": base["overall"]}
        report["versus"] = vs
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        if args.per_query:
            print(format_table(report, vs))
        label = f"cross-validated ranker ({args.cv} folds)" if args.cv else "served ranker"
        print(f"{report['queries']} judged queries, {label}: {json.dumps(report['overall'])}")
        if runs.in_sample:
            print(
                "the served ranker learned from these judgments: the figures are in-sample; "
                "--cv K gives the cross-validated ones"
            )
        if vs is not None:
            print(
                f"served ranker ({runs.baseline_name}): {json.dumps(report['baseline']['overall'])}"
            )
            print(f"nDCG@10 per query: {vs['wins']} wins, {vs['ties']} ties, {vs['losses']} losses")
    if args.plot and vs is None:
        raise CliError(
            "--plot with --judgments plots wins and losses against the served ranker: add --cv K"
        )
    if args.plot and vs is not None:
        names = (f"{args.cv}-fold ranker", runs.baseline_name)
        _say_plot(plot_versus(vs, names, args.plot), args.json)
    return 0


def _say_plot(path: object, as_json: bool) -> None:
    """Where the plot went: on stderr after ``--json``, so that stdout stays one JSON document."""
    print(f"plot: {path}", file=sys.stderr if as_json else sys.stdout)


def cmd_compare(args: argparse.Namespace) -> int:
    # imported when the command runs: `shopnow --help` loads none of it
    from pydantic import ValidationError

    from engine.offline.compare.run import CompareInputs, compare

    inputs = CompareInputs()
    if args.inputs is not None:
        if not args.inputs.is_file():
            raise CliError(f"--inputs {args.inputs}: no such file")
        try:
            inputs = CompareInputs.model_validate_json(args.inputs.read_text())
        except ValidationError as exc:
            raise CliError(f"--inputs {args.inputs}: {exc}") from exc
    quick = args.quick
    settings = settings_from(args)
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
    for what, why in report.get("skipped", {}).items():
        print(f"  skipped {what}: {why}")
    return 0


def cmd_monitor(args: argparse.Namespace) -> int:
    # imported when the command runs: `shopnow --help` loads none of it
    from engine.offline.monitoring.monitor import format_monitor, monitor, plot_monitor

    try:
        report = monitor(settings_from(args), hours=args.hours, skew=not args.no_skew)
    except FileNotFoundError as exc:
        raise CliError(str(exc)) from exc
    print(json.dumps(report, indent=2) if args.json else format_monitor(report))
    if args.plot:
        _say_plot(plot_monitor(report, args.plot), args.json)
    return 1 if args.fail_on_alert and report["alerts"] else 0
