"""A shared public dataset imported with its adapter into a work directory, for the benchmarks
that measure the served pipeline on real data (the same import a marketplace runs)."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

from engine.app.importing import run_import
from engine.core.settings import Settings


def imported(name: str, source: Path, workdir: Path, *, reuse: bool) -> Settings:
    """Settings over ``workdir`` with ``source`` imported by adapter ``name`` (kept when
    ``reuse`` finds an earlier import there)."""
    if not source.is_dir():
        raise FileNotFoundError(f"{source} not found: put the {name} data there")
    settings = Settings(
        data_dir=workdir / "data",
        index_dir=workdir / "index",
        model_dir=workdir / "models",
        feature_log_dir=workdir / "feature-log",
    )
    if not (reuse and (settings.data_dir / "events.npz").is_file()):
        with contextlib.redirect_stdout(io.StringIO()):  # the import's JSON: not the report
            run_import(settings.data_dir, {}, adapter=name, source=source, progress=True)
    return settings
