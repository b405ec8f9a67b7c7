"""The synthetic world the marketplace benchmarks share (quick: 5K items / 80K events; full:
50K / 500K, the demo's size; smoke: 1,200 / 15K, for tests), generated once per work directory."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from engine.core.settings import Settings
from synth.generate import generate


def bench_world(
    workdir: Path, *, quick: bool, reuse: bool, smoke: bool = False
) -> tuple[Settings, dict[str, Any]]:
    """Settings over ``workdir`` and the report's header; data generated unless reused.
    ``smoke``: the smallest world every step runs on (its figures mean nothing)."""
    if smoke:
        items, events = 1200, 15_000
    else:
        items, events = (5_000, 80_000) if quick else (50_000, 500_000)
    settings = Settings(
        data_dir=workdir / "data",
        index_dir=workdir / "index",
        model_dir=workdir / "models",
        feature_log_dir=workdir / "feature-log",
    )
    if not (reuse and (settings.data_dir / "events.npz").exists()):
        generate(settings.data_dir, n_items=items, n_events=events, seed=0, progress=True)
    header = {"items": items, "events": events, "quick": quick}
    return settings, header | ({"smoke": True} if smoke else {})


def add_world_args(p: argparse.ArgumentParser, workdir: str) -> None:
    """``--workdir`` (``workdir``: what lives there), ``--reuse``, ``--quick``, ``--smoke``: the
    options of a benchmark on :func:`bench_world`."""
    p.add_argument("--workdir", type=Path, help=workdir)
    p.add_argument("--reuse", action="store_true", help="reuse the world in --workdir")
    p.add_argument("--quick", action="store_true", help="the 5K-item world")
    p.add_argument("--smoke", action="store_true", help="the smallest world, for tests")
