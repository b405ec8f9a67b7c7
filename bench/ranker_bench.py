"""Ranker scoring latency for one request's candidates: LightGBM's predictor vs the compiled
(treelite + tl2cgen) library, and the scores' agreement.

    python -m bench.ranker_bench [--quick] [--model var/models/ranker/<v>/model.txt]

Without --model it trains a LambdaMART model of the shape the engine trains (30 features,
100 trees, 31 leaves) on random data.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np

from ltr.compiled import compile_model


def _model(path: Path, n_features: int, trees: int) -> Path:
    rng = np.random.default_rng(0)
    x = rng.random((20_000, n_features))
    y = (x[:, 0] * 2 + x[:, 1] + rng.random(len(x)) > 2.0).astype(int) + (x[:, 2] > 0.9)
    ds = lgb.Dataset(x, y, group=np.full(1000, 20))
    params = {"objective": "lambdarank", "num_leaves": 31, "verbose": -1, "num_threads": 2}
    booster = lgb.train(params, ds, num_boost_round=trees)
    out = path / "model.txt"
    booster.save_model(str(out))
    return out


def _time(fn: Any, x: np.ndarray, repeats: int) -> dict[str, float]:
    fn(x)
    lat = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn(x)
        lat.append((time.perf_counter() - t) * 1e3)
    return {
        "p50_ms": round(float(np.percentile(lat, 50)), 3),
        "p99_ms": round(float(np.percentile(lat, 99)), 3),
    }


def run(model: Path | None = None, rows: int = 3000, quick: bool = False) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="ranker-bench-"))
    path = model or _model(tmp, 30, 100)
    booster = lgb.Booster(model_file=str(path))
    t = time.perf_counter()
    compiled = compile_model(path)
    compile_s = time.perf_counter() - t
    x = np.random.default_rng(1).random((rows, booster.num_feature())).astype(np.float32)
    x[::11, 3] = np.nan
    repeats = 30 if quick else 200
    out: dict[str, Any] = {
        "rows": rows,
        "trees": booster.num_trees(),
        "lightgbm": _time(lambda a: booster.predict(a, num_threads=1), x, repeats),
    }
    if compiled is not None:
        out["compiled"] = _time(compiled.predict, x, repeats)
        out["compile_s"] = round(compile_s, 2)
        diff = np.abs(compiled.predict(x) - booster.predict(x, num_threads=1)).max()
        out["max_abs_score_diff"] = float(diff)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--model", type=Path)
    ap.add_argument("--rows", type=int, default=3000)
    a = ap.parse_args(argv)
    print(json.dumps(run(a.model, a.rows, a.quick), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
