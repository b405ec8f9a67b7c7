"""``shopnow compare beauty``: the offline part of the comparison on Amazon Beauty (S3-Rec
protocol: leave-one-out by time, full ranking against every item, HR and NDCG at 5, 10, 20).

The three options as the Beauty pipeline (:mod:`engine.offline.evaluation.beauty`) builds them, each
with the same LambdaMART ranker (features, training and early stopping), trained on its own
candidates:

* ``traditional``: sequential and symmetric co-visitation, content similarity, popularity;
* ``two_tower``: the two-tower source alone;
* ``hybrid``: all of them. (No graph source here: Beauty has no co-purchase graph beyond the
  sequences the co-visitation sources already read.)

Beauty has no anonymous users, no query surface and no timestamps finer than the order of a
user's items, so the report is quality only: overall, by history length at the test target
(weak to heavy), per-source candidate recall, and beside the published table. Latency, cost
and freshness come from the synthetic marketplace run.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

from engine.offline.compare.render import CSS, html_table, md_table
from engine.offline.evaluation.beauty import KS, BeautyReport, evaluate_beauty
from engine.offline.evaluation.beauty_candidates import SOURCES
from engine.offline.evaluation.beauty_data import PUBLISHED

QUICK_TOWER_EPOCHS = 6


def run(
    data_dir: Path,
    *,
    quick: bool,
    seed: int = 0,
    text_cache: Path | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    # torch (the towers) is imported only where two-tower retrieval is in use
    from engine.offline.evaluation.beauty_two_tower import TwoTowerOptions

    opts = TwoTowerOptions(
        max_epochs=QUICK_TOWER_EPOCHS if quick else 40,
        seed=seed,
        text_cache=text_cache,
        num_threads=2,
    )
    reports: dict[str, BeautyReport] = {}
    towers: dict[str, Any] = {}  # fitted once, shared by the two variants that use them
    for name, with_towers, sources in (
        ("traditional", False, SOURCES),
        ("two_tower", True, ()),
        ("hybrid", True, SOURCES),
    ):
        print(f"compare beauty: {name}", flush=True)
        reports[name] = evaluate_beauty(
            data_dir,
            seed=seed,
            progress=progress,
            quick=quick,
            two_tower=opts if with_towers else None,
            sources=sources,
            tower_cache=towers,
        )
    variants = {name: _figures(r) for name, r in reports.items()}
    best = max(variants, key=lambda n: variants[n]["metrics"]["ndcg@10"])
    reasons = [
        f"{n}: NDCG@10 {v['metrics']['ndcg@10']:.4f}, HR@10 {v['metrics']['hr@10']:.4f}"
        for n, v in sorted(variants.items(), key=lambda kv: -kv[1]["metrics"]["ndcg@10"])
    ]
    groups = next(iter(variants.values()))["by_history"]
    for group in groups:
        top = max(variants, key=lambda n: variants[n]["by_history"][group]["ndcg@10"])
        reasons.append(
            f"{group}: best {top} (NDCG@10 {variants[top]['by_history'][group]['ndcg@10']:.4f})"
        )
    first = next(iter(reports.values()))
    return {
        "dataset": "amazon-beauty",
        "protocol": "S3-Rec leave-one-out, full ranking",
        "quick": quick,
        "users": first.n_users,
        "eval_users": first.n_eval_users,
        "published": {k: dict(zip(_cols(), v, strict=True)) for k, v in PUBLISHED.items()},
        "variants": variants,
        "best_quality": best,
        "reasons": reasons,
    }


def _cols() -> list[str]:
    return [f"{m}@{k}" for k in KS for m in ("hr", "ndcg")]


def _figures(r: BeautyReport) -> dict[str, Any]:
    score_s = r.seconds.get("score test", 0.0)
    return {
        "pipeline": r.pipeline_name,
        "metrics": {k: round(v, 4) for k, v in r.metrics.items()},
        "by_history": {g: {k: round(v, 4) for k, v in m.items()} for g, m in r.by_history.items()},
        "source_recall": r.source_recall,
        "pool_recall": round(r.pool_recall, 4),
        "two_tower_alone": r.two_tower_alone,
        "ranker_trees": r.n_trees,
        "seconds": r.seconds,
        "users_scored_per_s": round(r.n_eval_users / score_s, 1) if score_s else None,
    }


def _table(report: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    cols = _cols()
    head = ["model", *(c.upper().replace("NDCG", "NDCG") for c in cols)]
    rows = [
        [f"{n} (published)", *(f"{m[c]:.4f}" for c in cols)] for n, m in report["published"].items()
    ]
    for name, v in report["variants"].items():
        rows.append([f"ours: {name}", *(f"{v['metrics'][c]:.4f}" for c in cols)])
    return head, rows


def _history_table(report: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    head = ["variant", "history", "users", "HR@10", "NDCG@10"]
    rows = []
    for name, v in report["variants"].items():
        for group, m in v["by_history"].items():
            rows.append([name, group, str(m["users"]), f"{m['hr@10']:.4f}", f"{m['ndcg@10']:.4f}"])
    return head, rows


def _plot(report: dict[str, Any]) -> bytes:
    # matplotlib is imported only when a plot is asked for
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    variants = report["variants"]
    groups = list(next(iter(variants.values()))["by_history"])
    fig, ax = plt.subplots(figsize=(8, 3.6))
    width = 0.8 / len(variants)
    for i, (name, v) in enumerate(variants.items()):
        vals = [v["by_history"][g]["ndcg@10"] for g in groups]
        ax.bar([j + i * width for j in range(len(groups))], vals, width, label=name)
    ax.axhline(
        report["published"]["S3-Rec"]["ndcg@10"],
        color="grey",
        linestyle="--",
        linewidth=1,
        label="S3-Rec (published, all users)",
    )
    ax.set_xticks([j + width * (len(variants) - 1) / 2 for j in range(len(groups))])
    ax.set_xticklabels(groups)
    ax.set_ylabel("NDCG@10")
    ax.set_title("Amazon Beauty: NDCG@10 by history length at the test target")
    ax.set_ylim(0, 1.4 * ax.get_ylim()[1])  # room for the legend above the bars
    ax.legend(fontsize=8, ncol=2, loc="upper left")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def write(report: dict[str, Any], out_dir: Path) -> dict[str, Path]:

    out_dir.mkdir(parents=True, exist_ok=True)
    png = _plot(report)
    (out_dir / "beauty_history.png").write_bytes(png)
    paths = {
        "json": out_dir / "report.json",
        "md": out_dir / "report.md",
        "html": out_dir / "report.html",
    }
    paths["json"].write_text(json.dumps(report, indent=2) + "\n")
    tag = " (quick: a fixed user subset)" if report["quick"] else ""
    md = [
        "# Retrieval comparison on Amazon Beauty" + tag,
        "",
        f"- protocol: {report['protocol']}; users {report['users']:,}, "
        f"scored {report['eval_users']:,}",
        f"- best quality: **{report['best_quality']}**",
        *(f"- {r}" for r in report["reasons"]),
        "",
        md_table(*_table(report)),
        "",
        md_table(*_history_table(report)),
        "",
        "![NDCG@10 by history](beauty_history.png)",
        "",
    ]
    paths["md"].write_text("\n".join(md))
    b64 = base64.b64encode(png).decode()
    page = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<title>Retrieval comparison on Amazon Beauty</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>Retrieval comparison on Amazon Beauty{html.escape(tag)}</h1>",
        f"<p class='meta'>{html.escape(report['protocol'])} · users {report['users']:,}"
        f" · scored {report['eval_users']:,}</p>",
        f"<div class='choice'>Best quality: <b>{html.escape(report['best_quality'])}</b><ul>",
        *(f"<li>{html.escape(r)}</li>" for r in report["reasons"]),
        "</ul></div>",
        "<h2>Full ranking, beside the published table</h2>",
        html_table(*_table(report)),
        "<h2>By history length</h2>",
        f"<img alt='NDCG@10 by history' src='data:image/png;base64,{b64}'>",
        html_table(*_history_table(report)),
        "</body></html>",
    ]
    paths["html"].write_text("\n".join(page))
    return paths
