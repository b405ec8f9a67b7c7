"""Search probes on a trained world: queries with a word the catalog has never seen, and
brand-new items named by their query (:mod:`engine.offline.evaluation.query_probe`).

    python -m bench.search_probe_bench [--var var] [--quick] [--leaves 40]

``--var`` is a directory that ``make demo`` (or ``shopnow synth/index/train``) filled: data,
index and models. The probe writes its new items to a copy of the index and a scratch ingest
log, so the world is left as it was. ``--quick``: 10 leaf categories instead of 40. Prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from engine.core.settings import Settings
from engine.offline.evaluation.query_probe import probe_search
from engine.serving.assembly import open_engine


async def _run(settings: Settings, leaves: int, seed: int) -> dict[str, Any]:
    engine = await open_engine(settings, warm=False)
    try:
        live = ~engine.catalog.deleted.values[: len(engine.catalog)]
        _, counts = np.unique(engine.catalog.category.values[: len(live)][live], return_counts=True)
        if not (counts >= 10).any():  # what the probe picks its categories from
            raise SystemExit(
                f"no leaf category of {settings.data_dir} holds 10 items: the world is too small "
                "for the probe (make demo's has 50,000 items)"
            )
        out = await probe_search(engine, leaves, seed)
        out["ranker"] = getattr(engine.spec.scorer, "version", engine.spec.scorer.name)
        return out
    finally:
        await engine.close()


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--var", type=Path, default=Path("var"))
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--leaves", type=int)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    var: Path = args.var
    if not (var / "models" / "ranker").is_dir() or not (var / "index").is_dir():
        ap.error(f"{var} holds no trained world (models/ranker, index): run `make demo` first")
    leaves = args.leaves or (10 if args.quick else 40)
    with tempfile.TemporaryDirectory() as tmp:
        index = Path(tmp) / "index"
        shutil.copytree(var / "index", index)
        settings = Settings(
            data_dir=var / "data",
            index_dir=index,
            model_dir=var / "models",
            feature_log_dir=Path(tmp) / "feature-log",
            ingest_dir=Path(tmp) / "ingest",
            control_path=Path(tmp) / "control.sqlite3",
        )
        rep = asyncio.run(_run(settings, leaves, args.seed))
    print(json.dumps(rep, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
