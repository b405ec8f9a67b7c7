"""The comparison report's figures, as PNG bytes (embedded in the HTML, written beside the
Markdown)."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

SEGMENTS = ("anonymous", "weak", "heavy")


def _png(draw: Callable[[Any], None], size: tuple[float, float] = (9, 3.6)) -> bytes:
    # matplotlib is imported only when a plot is asked for
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=size)
    draw(fig)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def _grouped(ax: Any, labels: list[str], series: dict[str, list[float]], ylabel: str) -> None:
    width = 0.8 / max(len(series), 1)
    for i, (name, vals) in enumerate(series.items()):
        ax.bar([j + i * width for j in range(len(labels))], vals, width, label=name)
    ax.set_xticks([j + width * (len(series) - 1) / 2 for j in range(len(labels))])
    ax.set_xticklabels(labels, fontsize=8)
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3)


def _by_segment(
    report: dict[str, Any], value: Callable[[dict[str, Any], str, str], float], ylabel: str
) -> Any:
    def draw(fig: Any) -> None:
        surfaces = ("feed", "search")
        axes = fig.subplots(1, 2, sharey=False)
        for ax, surface in zip(axes, surfaces, strict=True):
            series = {
                name: [value(v, surface, seg) for seg in SEGMENTS]
                for name, v in report["variants"].items()
            }
            _grouped(ax, list(SEGMENTS), series, "")
            ax.set_title(surface)
        axes[0].legend(fontsize=8)
        axes[0].set_ylabel(ylabel)

    return draw


def ndcg(report: dict[str, Any]) -> bytes:
    def value(v: dict[str, Any], surface: str, seg: str) -> float:
        return float(v["quality"].get(surface, {}).get(seg, {}).get("ndcg@10", 0.0))

    return _png(_by_segment(report, value, "NDCG@10"))


def purchases(report: dict[str, Any]) -> bytes:
    def value(v: dict[str, Any], surface: str, seg: str) -> float:
        row = v.get("outcome", {}).get(surface, {}).get(seg, {})
        return float(row.get("purchases_per_request", 0.0))

    return _png(_by_segment(report, value, "expected purchases per request"))


def latency(report: dict[str, Any]) -> bytes:
    def draw(fig: Any) -> None:
        ax = fig.subplots()
        stages = sorted({s for v in report["variants"].values() for s in v["latency"]["stages"]})
        labels = ["end to end", *stages]
        series = {}
        for name, v in report["variants"].items():
            lat = v["latency"]
            vals = [lat["end_to_end"].get("p99_ms", 0.0)]
            vals += [lat["stages"].get(s, {}).get("p99_ms", 0.0) for s in stages]
            series[name] = vals
        _grouped(ax, labels, series, "p99 ms")
        ax.tick_params(axis="x", labelrotation=30)
        ax.legend(fontsize=8)

    return _png(draw)


def cost(report: dict[str, Any]) -> bytes:
    def draw(fig: Any) -> None:
        ax = fig.subplots()
        names = list(report["variants"])
        bottom = [0.0] * len(names)
        for part in ("compute", "memory", "jobs"):
            vals = [report["variants"][n]["cost"][f"{part}_usd_per_request"] * 1e6 for n in names]
            ax.bar(names, vals, bottom=bottom, label=part)
            bottom = [b + v for b, v in zip(bottom, vals, strict=True)]
        budget = report["recommendation"]["constraints"]["usd_per_request"] * 1e6
        if max(bottom, default=0) > budget / 10:
            ax.axhline(budget, color="red", linestyle="--", label="budget")
        ax.set_ylabel("micro-dollars per request")
        ax.legend(fontsize=8)
        ax.grid(axis="y", alpha=0.3)

    return _png(draw, (6, 3.6))


def slot_share(report: dict[str, Any]) -> bytes:
    def draw(fig: Any) -> None:
        ax = fig.subplots()
        sources = sorted({s for v in report["variants"].values() for s in v["slot_share"]})
        series = {
            name: [v["slot_share"].get(s, 0.0) for s in sources]
            for name, v in report["variants"].items()
        }
        _grouped(ax, sources, series, "share of final slots")
        ax.tick_params(axis="x", labelrotation=30)
        ax.legend(fontsize=8)

    return _png(draw)


def power(report: dict[str, Any]) -> bytes:
    def draw(fig: Any) -> None:
        online = {
            k: v for k, v in report.get("online", {}).items() if isinstance(v, dict) and "ab" in v
        }
        axes = fig.subplots(1, max(len(online), 1), squeeze=False)[0]
        for ax, (name, t) in zip(axes, online.items(), strict=False):
            sens = t["sensitivity"]
            for method, vals in sens["power"].items():
                ax.plot(sens["users"], vals, marker="o", label=method)
            ax.axhline(0.8, color="grey", linestyle=":", linewidth=1)
            ax.set_title(f"{report['online']['control']} vs {name}")
            ax.set_xlabel("users in the test")
            ax.set_ylim(0, 1.02)
            ax.grid(alpha=0.3)
        axes[0].set_ylabel("power (true direction at 5%)")
        axes[0].legend(fontsize=8)

    return _png(draw)


ALL = {
    "ndcg": ("NDCG@10 per segment", ndcg),
    "purchases": ("Expected purchases per request (hidden response model)", purchases),
    "latency": ("p99 latency per stage (in-process)", latency),
    "cost": ("Projected cost per request at peak scale", cost),
    "slots": ("Share of final slots by the source that proposed the item", slot_share),
    "power": ("Sensitivity: power of A/B and interleaving on the same traffic", power),
}
