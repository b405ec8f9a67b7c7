"""`shopnow-bench WHICH [--quick] [--smoke]` (or `python -m bench`): runs benchmarks and prints
their figures as JSON. See docs/benchmarks.md."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from bench.run import run_bench
from engine.app.cli.common import CliError, add_paths, settings_from


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="shopnow-bench", description=__doc__)
    add_paths(p)
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
            "import",
            "all",
        ],
    )
    p.add_argument("--quick", action="store_true", help="small sizes, under a minute")
    p.add_argument(
        "--smoke",
        action="store_true",
        help="smaller than --quick: checks that every step runs (tests); figures mean nothing",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        report = run_bench(
            args.which,
            quick=args.quick,
            smoke=args.smoke,
            settings=settings_from(args),
            opensearch_url=args.opensearch_url,  # given on the command line; else a local node
        )
    except (CliError, FileNotFoundError, ValueError, ConnectionError) as exc:
        print(f"shopnow-bench: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
