"""Distribution drift between a reference window and live traffic: per feature, for the
ranker's scores, and for the candidate-source mix.

The reference is made of rows sampled exactly as the feature log samples them (the first
``top`` of each request's final order plus ``others`` at random), from the training window's
requests run through the new pipeline at training time, so a difference is drift, not a
difference in sampling. Per feature, values are binned at the reference deciles (missing
values in a bin of their own):

    PSI = sum_b (live_b - ref_b) * ln(live_b / ref_b)      (shares floored at 1e-4)
    KS  = max_x |F_ref(x) - F_live(x)|                      (present values only)

The source mix is the share of logged candidates each source proposed (a candidate counts for
every source that proposed it); its PSI is taken over those shares. PSI above
``settings.drift_psi_alert`` (0.2, the usual "significant shift") or KS above
``settings.drift_ks_alert`` alerts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from engine.core.arrays import F32, F64

REFERENCE_FILE = "drift-reference.json"  # in the ranker artifact's directory
FLOOR = 1e-4
SAMPLE = 2000  # reference values kept per feature for KS
BINS = 10


@dataclass
class Dist:
    """A reference distribution: inner bin edges, the share per bin (last: missing), and a
    sample of the present values."""

    edges: F64
    shares: F64
    sample: F64

    @staticmethod
    def of(values: npt.ArrayLike, seed: int = 0) -> Dist:
        v = np.asarray(values, np.float64)
        present = v[~np.isnan(v)]
        if len(present):
            edges = np.unique(np.quantile(present, np.linspace(0, 1, BINS + 1)[1:-1]))
        else:
            edges = np.zeros(0)
        dist = Dist(edges, np.zeros(0), np.zeros(0))
        dist.shares = dist.histogram(v)
        rng = np.random.default_rng(seed)
        take = present if len(present) <= SAMPLE else rng.choice(present, SAMPLE, replace=False)
        dist.sample = np.sort(take)
        return dist

    def histogram(self, values: npt.ArrayLike) -> F64:
        v = np.asarray(values, np.float64)
        miss = np.isnan(v)
        counts = np.bincount(
            np.searchsorted(self.edges, v[~miss], side="right"), minlength=len(self.edges) + 1
        ).astype(np.float64)
        counts = np.append(counts, miss.sum())
        shares: F64 = counts / max(1.0, counts.sum())
        return shares

    def to_json(self) -> dict[str, list[float]]:
        return {
            "edges": self.edges.tolist(),
            "shares": self.shares.tolist(),
            "sample": self.sample.tolist(),
        }

    @staticmethod
    def from_json(d: dict[str, list[float]]) -> Dist:
        return Dist(
            np.asarray(d["edges"], np.float64),
            np.asarray(d["shares"], np.float64),
            np.asarray(d["sample"], np.float64),
        )


def psi(ref: npt.ArrayLike, live: npt.ArrayLike) -> float:
    r = np.maximum(np.asarray(ref, np.float64), FLOOR)
    v = np.maximum(np.asarray(live, np.float64), FLOOR)
    return float(np.sum((v - r) * np.log(v / r)))


def ks(ref_sorted: F64, live: npt.ArrayLike) -> float:
    v = np.sort(np.asarray(live, np.float64))
    v = v[~np.isnan(v)]
    if len(ref_sorted) == 0 or len(v) == 0:
        return 0.0
    grid = np.concatenate([ref_sorted, v])
    f_ref = np.searchsorted(ref_sorted, grid, side="right") / len(ref_sorted)
    f_live = np.searchsorted(v, grid, side="right") / len(v)
    return float(np.max(np.abs(f_ref - f_live)))


def source_mix(presence: F32) -> F64:
    """Share of proposals per source: ``presence`` is candidates x sources, 1 if proposed."""
    totals = np.asarray(presence, np.float64).sum(axis=0)
    shares: F64 = totals / max(1.0, float(totals.sum()))
    return shares


@dataclass
class Reference:
    feature_names: tuple[str, ...]
    source_names: tuple[str, ...]
    features: dict[str, Dist]
    score: Dist
    mix: F64
    rows: int
    window: tuple[float, float]

    @staticmethod
    def build(
        feature_names: tuple[str, ...],
        values: F32,
        scores: F32,
        source_names: tuple[str, ...],
        presence: F32,
        window: tuple[float, float],
    ) -> Reference:
        feats = {n: Dist.of(values[:, j], seed=j) for j, n in enumerate(feature_names)}
        return Reference(
            feature_names,
            source_names,
            feats,
            Dist.of(scores),
            source_mix(presence),
            len(scores),
            window,
        )

    def save(self, path: Path) -> None:
        body = {
            "feature_names": list(self.feature_names),
            "source_names": list(self.source_names),
            "features": {n: d.to_json() for n, d in self.features.items()},
            "score": self.score.to_json(),
            "mix": self.mix.tolist(),
            "rows": self.rows,
            "window": list(self.window),
        }
        path.write_bytes(orjson.dumps(body))

    @staticmethod
    def load(path: Path) -> Reference:
        d = orjson.loads(path.read_bytes())
        return Reference(
            tuple(d["feature_names"]),
            tuple(d["source_names"]),
            {n: Dist.from_json(v) for n, v in d["features"].items()},
            Dist.from_json(d["score"]),
            np.asarray(d["mix"], np.float64),
            int(d["rows"]),
            (float(d["window"][0]), float(d["window"][1])),
        )


def drift_report(
    ref: Reference,
    feature_names: tuple[str, ...],
    values: F32,
    scores: F32,
    source_names: tuple[str, ...],
    presence: F32,
    *,
    psi_alert: float = 0.2,
    ks_alert: float = 0.2,
) -> dict[str, Any]:
    """Live rows (``values``: rows x ``feature_names``) against the reference."""
    feats: dict[str, dict[str, Any]] = {}
    alerts: list[str] = []
    for j, name in enumerate(feature_names):
        d = ref.features.get(name)
        if d is None:
            continue
        col = values[:, j]
        p, k = psi(d.shares, d.histogram(col)), ks(d.sample, col)
        alert = p > psi_alert or k > ks_alert
        feats[name] = {"psi": round(p, 4), "ks": round(k, 4), "alert": alert}
        if alert:
            alerts.append(f"feature {name}")
    s_psi, s_ks = psi(ref.score.shares, ref.score.histogram(scores)), ks(ref.score.sample, scores)
    if s_psi > psi_alert or s_ks > ks_alert:
        alerts.append("score")
    live_mix = source_mix(_align(presence, source_names, ref.source_names))
    m_psi = psi(ref.mix, live_mix)
    if m_psi > psi_alert:
        alerts.append("source mix")
    return {
        "rows": len(scores),
        "reference_rows": ref.rows,
        "thresholds": {"psi": psi_alert, "ks": ks_alert},
        "alerts": alerts,
        "score": {"psi": round(s_psi, 4), "ks": round(s_ks, 4)},
        "source_mix": {
            "psi": round(m_psi, 4),
            "reference": dict(zip(ref.source_names, np.round(ref.mix, 4).tolist(), strict=True)),
            "live": dict(zip(ref.source_names, np.round(live_mix, 4).tolist(), strict=True)),
        },
        "features": feats,
    }


def _align(presence: F32, names: tuple[str, ...], to: tuple[str, ...]) -> F32:
    out = np.zeros((len(presence), len(to)), np.float32)
    for j, n in enumerate(to):
        if n in names:
            out[:, j] = presence[:, names.index(n)]
    return out


def load_reference(artifact_dir: Path | None) -> Reference | None:
    """The drift reference saved beside a ranker artifact (``shopnow train``), if any."""
    path = None if artifact_dir is None else artifact_dir / REFERENCE_FILE
    return Reference.load(path) if path is not None and path.is_file() else None
