"""Synthetic generator timing: ``shopnow-bench synth [--quick]`` or
``python -m bench.synth_bench [--items N] [--events N] [--keep]``.

Generates into a temporary directory (or ``--out``), prints the summary as JSON with the wall
time, and deletes the output unless ``--keep``. Full: 1M items / 10M events (target <= 120 s);
quick: the demo scale, 50K items / 500K events.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from synth import generate


def run(
    *,
    quick: bool = False,
    items: int | None = None,
    events: int | None = None,
    seed: int = 0,
    out: Path | None = None,
    keep: bool = False,
) -> dict[str, Any]:
    n_items = items or (50_000 if quick else 1_000_000)
    n_events = events or (500_000 if quick else 10_000_000)
    out = out or Path(tempfile.mkdtemp(prefix="synth-bench-"))
    try:
        s = generate(out, n_items=n_items, n_events=n_events, seed=seed)
        size = sum(f.stat().st_size for f in out.iterdir())
        return {**s.__dict__, "out_dir": str(s.out_dir), "bytes": size, "cpus": os.cpu_count()}
    finally:
        if not keep:
            shutil.rmtree(out, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--items", type=int)
    p.add_argument("--events", type=int)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--keep", action="store_true")
    a = p.parse_args(argv)
    res = run(quick=a.quick, items=a.items, events=a.events, seed=a.seed, out=a.out, keep=a.keep)
    print(json.dumps(res, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
