"""Amazon Beauty benchmark: ``python -m bench.beauty_bench [--quick] [--data-dir DIR]``.

Prints the comparison table (stderr) and the JSON report (stdout)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from engine.evaluation.beauty import evaluate_beauty, format_report

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument(
        "--quick",
        action="store_true",
        help="under a minute: ranker trained on 5,000 users, test scored on a fixed random "
        "subset of 5,000 users (labelled as such)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="directory holding amazon-beauty/ (default: $SHOPNOW_SHARED_DATA or ../shared/data)",
    )
    args = p.parse_args(argv)
    root = args.data_dir or Path(os.environ.get("SHOPNOW_SHARED_DATA", DEFAULT_DATA))
    report = evaluate_beauty(root / "amazon-beauty", seed=args.seed, quick=args.quick)
    print(format_report(report), file=sys.stderr)
    print(json.dumps(report.to_dict(), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
