"""Drift of the query/user tower's outputs: the vectors the served two-tower model computes
for live requests against those it computed for the end of its training window.

A shift in who arrives (more anonymous shoppers, shorter histories, other queries) moves the
query vectors before it shows in clicks, and it is the part of the model's input distribution
the ranker's features only see indirectly. The reference is built by ``shopnow train-towers``
(:func:`build_output_reference`, saved beside the model version); live vectors come from the
feature log (each logged request keeps the query vector its two-tower source searched with).
Per output dimension a PSI over the reference's deciles; the summary is their mean (one
dimension drifting alone is noise at these sample sizes), plus the cosine between the mean
live and reference vectors (a shift of direction).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from engine.core.arrays import F32, F64
from engine.core.pipeline.context import RequestContext
from engine.serving.drift import Dist, psi

if TYPE_CHECKING:
    from towers.serving import TowerServing

OUTPUT_REFERENCE_FILE = "output-reference.json"  # in the towers version's directory
SOURCE = "two_tower"  # the source whose query vectors are compared


@dataclass
class OutputReference:
    model: str
    dims: list[Dist]
    mean: F64
    rows: int

    @staticmethod
    def build(model: str, vectors: F32) -> OutputReference:
        if len(vectors) == 0:
            raise ValueError("no query vectors for the tower-output reference")
        dims = [Dist.of(vectors[:, j], seed=j) for j in range(vectors.shape[1])]
        return OutputReference(model, dims, vectors.mean(axis=0).astype(np.float64), len(vectors))

    def save(self, path: Path) -> None:
        body = {
            "model": self.model,
            "dims": [d.to_json() for d in self.dims],
            "mean": self.mean.tolist(),
            "rows": self.rows,
        }
        path.write_bytes(orjson.dumps(body))

    @staticmethod
    def load(path: Path) -> OutputReference:
        d = orjson.loads(path.read_bytes())
        dims = [Dist.from_json(x) for x in d["dims"]]
        return OutputReference(d["model"], dims, np.asarray(d["mean"], np.float64), int(d["rows"]))


def published_version(towers_dir: Path) -> str | None:
    """The towers version ``CURRENT`` points at (what servers roll out), if any."""
    try:
        return (towers_dir / "CURRENT").read_text().strip() or None
    except OSError:
        return None


def load_output_reference(model_dir: Path) -> OutputReference | None:
    path = model_dir / OUTPUT_REFERENCE_FILE
    return OutputReference.load(path) if path.is_file() else None


def build_output_reference(
    serving: TowerServing, contexts: Iterable[RequestContext]
) -> OutputReference:
    """The query tower's outputs for ``contexts`` (the end of the training window)."""
    # torch (the towers) is imported only where two-tower retrieval is in use
    from towers.requests import query_inputs

    vecs = [serving.query_vector(query_inputs(ctx, serving.cfg)) for ctx in contexts]
    stacked = np.stack(vecs) if vecs else np.zeros((0, 0), np.float32)
    return OutputReference.build(serving.version, stacked.astype(np.float32))


def output_drift(ref: OutputReference, vectors: F32, *, psi_alert: float) -> dict[str, Any]:
    """Live query vectors of the reference's model against it."""
    vectors = np.asarray(vectors, np.float32)
    if vectors.ndim != 2 or vectors.shape[1] != len(ref.dims):
        raise ValueError(f"vectors of shape {vectors.shape}, the reference has {len(ref.dims)}")
    per_dim = np.array([psi(d.shares, d.histogram(vectors[:, j])) for j, d in enumerate(ref.dims)])
    live_mean = vectors.mean(axis=0).astype(np.float64)
    denom = float(np.linalg.norm(live_mean) * np.linalg.norm(ref.mean)) or 1.0
    mean_psi = float(per_dim.mean())
    worst = np.argsort(-per_dim)[:3]
    return {
        "model": ref.model,
        "rows": len(vectors),
        "reference_rows": ref.rows,
        "psi_mean": round(mean_psi, 4),
        "psi_max": round(float(per_dim.max()), 4),
        "worst_dims": {int(j): round(float(per_dim[j]), 4) for j in worst},
        "mean_cosine": round(float(live_mean @ ref.mean) / denom, 4),
        "alert": mean_psi > psi_alert,
    }


def logged_vectors(records: Iterable[dict[str, Any]], model: str) -> F32:
    """The two-tower query vectors of logged records served by towers ``model``."""
    vecs = [
        rec["query_vectors"][SOURCE]
        for rec in records
        if rec["versions"].get("towers") == model and SOURCE in rec.get("query_vectors", {})
    ]
    return np.asarray(vecs, np.float32) if vecs else np.zeros((0, 0), np.float32)
