"""Amazon Beauty benchmark:
``python -m bench.beauty_bench [--quick] [--two-tower] [--data-dir DIR]``.

Prints the comparison table (stderr) and the JSON report (stdout). ``--two-tower`` adds two-tower
retrieval as a candidate source and ranker features; the towers are trained first (up to 40
epochs, early-stopped: about 10 minutes on 2 shared cores; with ``--quick``, QUICK_TOWER_EPOCHS
epochs, a smoke run that the table labels as quick)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from engine.offline.evaluation.beauty import evaluate_beauty, format_report
from engine.offline.evaluation.beauty_two_tower import DEFAULT_TEXT_CACHE, TwoTowerOptions

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
QUICK_TOWER_EPOCHS = 6


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
        "--two-tower",
        action="store_true",
        help="add two-tower retrieval as a candidate source and ranker features (trains the "
        f"towers first; with --quick for {QUICK_TOWER_EPOCHS} epochs only)",
    )
    p.add_argument("--tower-epochs", type=int, default=None, help="override max tower epochs")
    p.add_argument("--text-cache", type=Path, default=DEFAULT_TEXT_CACHE)
    p.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="directory holding amazon-beauty/ (default: $SHOPNOW_SHARED_DATA or ../shared/data)",
    )
    args = p.parse_args(argv)
    root = args.data_dir or Path(os.environ.get("SHOPNOW_SHARED_DATA", DEFAULT_DATA))
    two_tower = None
    if args.two_tower:
        epochs = args.tower_epochs or (QUICK_TOWER_EPOCHS if args.quick else 40)
        two_tower = TwoTowerOptions(max_epochs=epochs, seed=args.seed, text_cache=args.text_cache)
    report = evaluate_beauty(
        root / "amazon-beauty", seed=args.seed, quick=args.quick, two_tower=two_tower
    )
    print(format_report(report), file=sys.stderr)
    print(json.dumps(report.to_dict(), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
