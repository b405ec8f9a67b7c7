"""``shopnow monitor``: drift and training-serving skew of the served ranker over a window of
the feature log, with the alerts; a plot of the PSI per feature on request."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from engine.core.arrays import F32
from engine.core.settings import Settings
from engine.offline.monitoring.skew import skew_report
from engine.serving.assembly import load_catalog, load_signals
from engine.serving.drift import Reference, drift_report, load_reference
from engine.serving.feature_log import read_log
from engine.serving.sources.registry import SOURCE_NAMES
from engine.serving.tower_drift import (
    load_output_reference,
    logged_vectors,
    output_drift,
    published_version,
)
from ltr.artifact import RankerArtifact
from ltr.features import FeatureHydrator, resolve


def live_rows(
    records: list[dict[str, Any]], names: tuple[str, ...]
) -> tuple[F32, F32, F32, tuple[str, ...]]:
    """Rows of ``records`` with their features in the order ``names`` (missing: NaN), scores,
    and which source proposed each row."""
    values, scores, presence = [], [], []
    sources: tuple[str, ...] = tuple(records[0]["source_names"]) if records else ()
    for rec in records:
        have = {n: j for j, n in enumerate(rec["feature_names"])}
        v = np.full((len(rec["items"]), len(names)), np.nan, np.float32)
        for j, n in enumerate(names):
            if n in have:
                v[:, j] = rec["features"][:, have[n]]
        values.append(v)
        scores.append(rec["scores"])
        p = np.zeros((len(rec["items"]), len(sources)), np.float32)
        for j, s in enumerate(rec["source_names"]):
            if s in sources:
                p[:, sources.index(s)] = ~np.isnan(rec["source_scores"][:, j])
        presence.append(p)
    if not values:
        empty = np.zeros((0, len(names)), np.float32)
        return empty, np.zeros(0, np.float32), np.zeros((0, 0), np.float32), sources
    return np.concatenate(values), np.concatenate(scores), np.concatenate(presence), sources


def drift_of(
    reference: Reference, records: list[dict[str, Any]], settings: Settings
) -> dict[str, Any]:
    values, scores, presence, sources = live_rows(records, reference.feature_names)
    return drift_report(
        reference,
        reference.feature_names,
        values,
        scores,
        sources,
        presence,
        psi_alert=settings.drift_psi_alert,
        ks_alert=settings.drift_ks_alert,
    )


def monitor(settings: Settings, *, hours: float = 24.0, skew: bool = True) -> dict[str, Any]:

    artifact = RankerArtifact.load(settings.model_dir)
    since = time.time() - hours * 3600.0
    records = list(read_log(settings.feature_log_dir, since=since))
    current = [r for r in records if r["versions"].get("ranker") == artifact.version]
    out: dict[str, Any] = {
        "ranker": artifact.version,
        "window_hours": hours,
        "records": len(records),
        "records_of_this_ranker": len(current),
        "alerts": [],
    }
    reference = load_reference(artifact.path)
    if reference is None:
        out["drift"] = "no drift reference with this ranker (train it again)"
    elif len(current) < settings.drift_min_requests:
        # a request's candidates move together: a handful of requests says nothing of drift
        out["drift"] = (
            f"{len(current)} logged requests of this ranker: too few to judge drift "
            f"(at least {settings.drift_min_requests}, SHOPNOW_DRIFT_MIN_REQUESTS)"
        )
    else:
        out["drift"] = drift_of(reference, current, settings)
        out["alerts"] += [f"drift: {a}" for a in out["drift"]["alerts"]]
    towers = towers_output(settings, records)
    if towers is not None:
        out["towers_output"] = towers
        if isinstance(towers, dict) and towers["alert"]:
            out["alerts"].append(f"drift: towers output of {towers['model']}")
    if skew and current:
        catalog = load_catalog(settings)
        signals, covis = load_signals(settings, catalog)
        names = tuple(artifact.meta.feature_names)
        hydrator = FeatureHydrator(
            resolve(names, SOURCE_NAMES),
            catalog,
            signals,
            settings.restricted_min_support,
            covis=covis,
        )
        out["skew"] = skew_report(
            current, hydrator, catalog, max_mismatch=settings.skew_max_mismatch
        )
        out["alerts"] += [f"skew: feature {n}" for n in out["skew"]["skewed"]]
    return out


def towers_output(
    settings: Settings, records: list[dict[str, Any]], min_rows: int = 50
) -> dict[str, Any] | str | None:
    """Drift of the served towers' logged query vectors (None when no towers model is served;
    a sentence when there is nothing to compare)."""
    version = published_version(settings.towers_dir)
    if version is None:
        return None
    ref = load_output_reference(settings.towers_dir / version)
    if ref is None:
        return f"no tower-output reference with {version} (train the towers again)"
    vecs = logged_vectors(records, version)
    if len(vecs) < min_rows:
        return f"{len(vecs)} logged query vectors of {version}, fewer than {min_rows}"
    return output_drift(ref, vecs, psi_alert=settings.drift_psi_alert)


def format_monitor(report: dict[str, Any]) -> str:
    lines = [
        f"ranker {report['ranker']}: {report['records_of_this_ranker']} logged requests in the "
        f"last {report['window_hours']:g} h ({report['records']} with any ranker)"
    ]
    drift = report.get("drift")
    if isinstance(drift, dict):
        t = drift["thresholds"]
        lines.append(
            f"drift over {drift['rows']} rows (reference {drift['reference_rows']}), alert at "
            f"PSI > {t['psi']} or KS > {t['ks']}:"
        )
        lines.append(
            f"  score        PSI {drift['score']['psi']:.3f}  KS {drift['score']['ks']:.3f}"
        )
        lines.append(f"  source mix   PSI {drift['source_mix']['psi']:.3f}")
        worst = sorted(drift["features"].items(), key=lambda kv: -kv[1]["psi"])[:10]
        for name, f in worst:
            flag = "  ALERT" if f["alert"] else ""
            lines.append(f"  {name:<28} PSI {f['psi']:.3f}  KS {f['ks']:.3f}{flag}")
    elif drift:
        lines.append(f"drift: {drift}")
    tw = report.get("towers_output")
    if isinstance(tw, dict):
        flag = "  ALERT" if tw["alert"] else ""
        lines.append(
            f"towers {tw['model']} outputs over {tw['rows']} requests (reference "
            f"{tw['reference_rows']}): mean PSI {tw['psi_mean']:.3f}, max {tw['psi_max']:.3f}, "
            f"cosine of the mean vectors {tw['mean_cosine']:.3f}{flag}"
        )
    elif tw:
        lines.append(f"towers outputs: {tw}")
    sk = report.get("skew")
    if sk:
        lines.append(
            f"skew over {sk['rows']} rows of {sk['requests']} requests "
            f"({sk['unknown_items']} items unknown offline): "
            + (", ".join(sk["skewed"]) if sk["skewed"] else "no feature skewed")
        )
    lines.append("alerts: " + ("; ".join(report["alerts"]) if report["alerts"] else "none"))
    return "\n".join(lines)


def plot_monitor(report: dict[str, Any], path: Path) -> Path:
    # matplotlib is imported only when a plot is asked for
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    drift = report.get("drift")
    if not isinstance(drift, dict):
        raise ValueError("nothing to plot: no drift figures in the report")
    items = sorted(drift["features"].items(), key=lambda kv: kv[1]["psi"])
    names = [n for n, _ in items] + ["(score)", "(source mix)"]
    vals = [f["psi"] for _, f in items] + [drift["score"]["psi"], drift["source_mix"]["psi"]]
    tw = report.get("towers_output")
    if isinstance(tw, dict):
        names.append("(towers outputs, mean)")
        vals.append(tw["psi_mean"])
    fig, ax = plt.subplots(figsize=(7, max(3.0, 0.22 * len(names))))
    colors = ["#c0392b" if v > drift["thresholds"]["psi"] else "#4c72b0" for v in vals]
    ax.barh(names, vals, color=colors)
    ax.axvline(drift["thresholds"]["psi"], color="#c0392b", linestyle="--", linewidth=1)
    ax.set_xlabel("PSI, live against the training window")
    ax.set_title(f"drift of {report['ranker']}")
    ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
