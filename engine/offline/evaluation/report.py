"""Readable forms of the synthetic evaluation report: a text table and a plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

SEGMENTS = ("anonymous", "weak", "heavy")
OVERALL = "all"  # every request pooled (table only)
AGE_GROUPS = ("fresh", "new_week")  # relevant items < 1 day / < 7 days old (table only)
#: Relevant items complementing an earlier purchase, overall and per segment (table only).
COMPLEMENT_GROUPS = ("complement", *(f"complement:{s}" for s in SEGMENTS))
SURFACES = ("feed", "search")
NOT_SCORERS = ("requests", "window", "degraded", "new_item_exposure", "lift")  # other keys


def format_synthetic(report: dict[str, Any], k_recall: int = 500) -> str:
    scorers = [k for k in report if k not in NOT_SCORERS]
    lost = report.get("degraded", {})
    lines = [f"held-out requests: {report['requests']}, degraded (lost a source): {lost}"]
    if "new_item_exposure" in report:
        shown = report["new_item_exposure"]
        lines.append(f"new items shown within an hour, by requesting segment: {shown}")
    lines.append("")
    w = max(12, *(len(sc) + 2 for sc in scorers))  # "baseline:popular" is 16 long
    head = f"{'scorer':<{w}}{'surface':<8}{'segment':<21}{'n':>5}{'NDCG@10':>9}{'R@10':>7}"
    sources = sorted(
        {
            s.rsplit("@", 1)[0]
            for sc in scorers
            for sf in report[sc].values()
            for seg in sf.values()
            for s in seg["source_recall"]
            if "@" in s
        }
    )
    lines.append(
        head + "".join(f"{s[:10] + '@' + str(k_recall):>16}" for s in sources) + f"{'all':>7}"
    )
    for sc in scorers:
        for sf in SURFACES:
            for seg in (*SEGMENTS, OVERALL, *AGE_GROUPS, *COMPLEMENT_GROUPS):
                row = report[sc].get(sf, {}).get(seg)
                if row is None:
                    continue
                rec = row["source_recall"]
                lines.append(
                    f"{sc:<{w}}{sf:<8}{seg:<21}{row['requests']:>5}{row['ndcg@10']:>9.4f}"
                    f"{row['recall@10']:>7.3f}"
                    + "".join(f"{rec.get(f'{s}@{k_recall}', 0.0):>16.3f}" for s in sources)
                    + f"{rec['all_sources']:>7.3f}"
                )
    if report.get("lift"):
        lines += ["", *_format_lift(report["lift"])]
    return "\n".join(lines)


def _format_lift(lift: dict[str, Any]) -> list[str]:
    """NDCG@10 of each pipeline over each baseline, relative, with its 95% interval."""
    w = max(len(pair) for pair in lift) + 2
    lines = [
        "NDCG@10 lift over the baselines of the same run (paired bootstrap 95% interval):",
        f"{'pipeline / baseline':<{w}}{'surface':<8}{'segment':<12}{'n':>6}{'lift':>9}"
        f"{'95% interval':>22}",
    ]
    for pair, surfaces in lift.items():
        for sf in SURFACES:
            for seg in (*SEGMENTS, OVERALL):
                row = surfaces.get(sf, {}).get(seg)
                if row is None:
                    continue
                lo, hi = row["lift_95"]
                lines.append(
                    f"{pair:<{w}}{sf:<8}{seg:<12}{row['requests']:>6}{row['lift']:>+9.1%}"
                    f"{f'[{lo:+.1%}, {hi:+.1%}]':>22}"
                )
    return lines


def plot_synthetic(report: dict[str, Any], path: Path) -> Path:
    """NDCG@10 per surface and segment for each scorer, as grouped bars."""
    # matplotlib is imported only when a plot is asked for
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scorers = [k for k in report if k not in NOT_SCORERS]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    width = 0.8 / max(len(scorers), 1)
    for ax, sf in zip(axes, SURFACES, strict=True):
        for i, sc in enumerate(scorers):
            vals = [report[sc].get(sf, {}).get(seg, {}).get("ndcg@10", 0.0) for seg in SEGMENTS]
            xs = [j + i * width for j in range(len(SEGMENTS))]
            ax.bar(xs, vals, width, label=sc)
        ax.set_xticks([j + width * (len(scorers) - 1) / 2 for j in range(len(SEGMENTS))])
        ax.set_xticklabels(SEGMENTS)
        ax.set_title(f"{sf}: NDCG@10 on held-out requests")
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("NDCG@10")
    axes[0].legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
