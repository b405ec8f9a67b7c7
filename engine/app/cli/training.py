"""`shopnow train`, `train-towers`, `train-graph`: the models serving loads."""

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
    p = sub.add_parser("train", help="train the LambdaMART ranker from logged impressions")
    add_paths(p)
    p.add_argument(
        "--requests", type=positive, default=20_000, help="logged requests sampled for training"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--force", action="store_true", help="publish without the promotion gate's verdict"
    )
    p.add_argument(
        "--judgments",
        type=Path,
        help="CSV query,docid,rating: learn the search ranker from graded judgments instead "
        "of logs (a catalog without behaviour); `shopnow eval --judgments --cv K` measures it",
    )
    add_without_features(p, "from logs or judgments")
    p.set_defaults(fn=cmd_train)

    p = sub.add_parser(
        "train-towers", help="train the two-tower retrieval model from logged requests"
    )
    add_paths(p)
    p.add_argument("--requests", type=positive, default=60_000, help="logged requests sampled")
    p.add_argument("--epochs", type=positive, default=10, help="at most this many epochs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--force", action="store_true", help="publish without the promotion gate's verdict"
    )
    p.set_defaults(fn=cmd_train_towers)

    p = sub.add_parser(
        "train-graph",
        help="train LightGCN, its content map for new items and the bought-together graph",
    )
    add_paths(p)
    p.add_argument("--epochs", type=positive, default=60, help="at most this many epochs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--every",
        type=positive_float,
        help="hours: retrain on this schedule, forever (serving swaps each new version in)",
    )
    p.set_defaults(fn=cmd_train_graph)


def cmd_train(args: argparse.Namespace) -> int:
    if args.judgments is not None:
        return _train_judged(args)
    # imported when the command runs: `shopnow --help` loads none of it
    from engine.offline.train import train

    report = asyncio.run(
        train(
            settings_from(args),
            max_requests=args.requests,
            progress=not args.quiet,
            seed=args.seed,
            force=args.force,
            without=without_features(args),
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


def _train_judged(args: argparse.Namespace) -> int:
    # imported when the command runs: `shopnow --help` loads none of it
    from engine.offline.evaluation.judged import read_judgments
    from engine.offline.train import train_judged

    if not args.judgments.is_file():
        raise CliError(f"--judgments {args.judgments}: no such file")
    try:
        judgments = read_judgments(args.judgments)
        report = asyncio.run(
            train_judged(
                settings_from(args), judgments, seed=args.seed, without=without_features(args)
            )
        )
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    print(json.dumps(report, indent=2))
    return 0


def cmd_train_towers(args: argparse.Namespace) -> int:
    # imported when the command runs: `shopnow --help` loads none of it
    from engine.offline.train import train_towers

    report = train_towers(
        settings_from(args),
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
    # imported when the command runs: `shopnow --help` loads none of it
    import time

    from engine.offline.train import train_graph

    settings = settings_from(args)
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
