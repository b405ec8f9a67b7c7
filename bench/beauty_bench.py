"""Amazon Beauty through the served pipeline:
``python -m bench.beauty_bench [--quick] [--two-tower] [--data-dir DIR] [--workdir DIR]``.

The published S3-Rec leave-one-out, full ranking, as a marketplace would run it: ``shopnow
import --adapter amazon-beauty`` (each user's sequence aligned at its end, so the last item of
every user falls after the cut), ``index``, optionally ``train-towers``, ``train`` and
``eval`` (one feed request per user at their last item; the popularity and co-visitation
baselines in the same run). Prints the table (stderr) and the JSON report (stdout).
``--quick`` trains the ranker on 6,000 requests and evaluates 3,000 users (labelled quick)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.imported import imported
from engine.core.settings import Settings
from engine.offline.evaluate import evaluate
from engine.offline.train import build_index, train, train_towers

#: HR@10 and NDCG@10 of the S3-Rec paper's table (Zhou et al. 2020), full ranking
PUBLISHED = {
    "PopRec": (0.0152, 0.0068),
    "SASRec": (0.0605, 0.0318),
    "S3-Rec": (0.0647, 0.0327),
}


def run(
    settings: Settings, *, quick: bool, two_tower: bool, seed: int = 0, smoke: bool = False
) -> dict[str, Any]:
    """``smoke``: 300 training requests and 200 users, every step at its smallest."""
    n_train, n_eval = (300, 200) if smoke else (6_000, 3_000) if quick else (25_000, 25_000)
    out: dict[str, Any] = {"quick": quick, "two_tower": two_tower}
    t0 = time.perf_counter()
    if two_tower:
        epochs = 1 if smoke else 4 if quick else 20
        out["towers"] = train_towers(settings, max_epochs=epochs, seed=seed)
    asyncio.run(build_index(settings, progress=True))
    asyncio.run(train(settings, max_requests=n_train, seed=seed, force=True))
    out["train_seconds"] = round(time.perf_counter() - t0, 1)
    t0 = time.perf_counter()
    report = asyncio.run(evaluate(settings, max_requests=n_eval, seed=seed, progress=True))
    out["eval_seconds"] = round(time.perf_counter() - t0, 1)
    out["requests"] = report["requests"]
    out["rows"] = {
        name: {k: rows["feed"]["all"][k] for k in ("hr@10", "ndcg@10")}
        for name, rows in report.items()
        if isinstance(rows, dict) and "feed" in rows
    }
    out["published"] = {k: {"hr@10": h, "ndcg@10": n} for k, (h, n) in PUBLISHED.items()}
    return out


def format_table(out: dict[str, Any]) -> str:
    quick = " (quick)" if out["quick"] else ""
    lines = [f"Amazon Beauty, served pipeline, {out['requests']:,} users{quick}"]
    lines.append(f"{'':24s} {'HR@10':>8s} {'NDCG@10':>8s}")
    for name, row in {**out["rows"], **out["published"]}.items():
        lines.append(f"{name:24s} {row['hr@10']:8.4f} {row['ndcg@10']:8.4f}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="6,000 training requests, 3,000 users")
    p.add_argument("--two-tower", action="store_true", help="train the towers first")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", type=Path, default=Settings().shared_data)
    p.add_argument("--workdir", type=Path, help="keep the import and models here")
    p.add_argument("--reuse", action="store_true", help="reuse the import in --workdir")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.workdir or Path(tmp)
        settings = imported(
            "amazon-beauty", args.data_dir / "amazon-beauty", workdir, reuse=args.reuse
        )
        out = run(settings, quick=args.quick, two_tower=args.two_tower, seed=args.seed)
    print(format_table(out), file=sys.stderr)
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
