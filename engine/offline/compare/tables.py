"""The comparison report's tables, as (header, rows) pairs shared by the Markdown and HTML
renderings: the numbers are formatted once, here."""

from __future__ import annotations

from typing import Any

from engine.offline.compare import funnel

Table = tuple[list[str], list[list[str]]]
SEGMENTS = ("anonymous", "weak", "heavy", "fresh", "new_week")


def _f(x: Any, digits: int = 3) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return str(x)


def _ci(ci: Any, digits: int = 4) -> str:
    """``[lo, hi]`` of an interval (``–`` when there is none)."""
    if not ci or None in ci:
        return "–"
    return f"[{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"


def _vs(
    report: dict[str, Any], table: str, name: str, surface: str, seg: str, key: str, digits: int
) -> str:
    """The difference of a cell to the leader's same cell, with its interval; ``*`` when the
    interval excludes 0."""
    leader = report.get("recommendation", {}).get("leader")
    if leader is None or name == leader:
        return "leader" if name == leader else "–"
    cell = report["variants"][name].get(table, {}).get(surface, {}).get(seg, {})
    lead = report["variants"][leader].get(table, {}).get(surface, {}).get(seg, {})
    ci = cell.get("vs_leader", {}).get(key)
    if key not in cell or key not in lead or not ci or None in ci:
        return "–"
    star = "*" if ci[0] > 0 or ci[1] < 0 else ""
    d = cell[key] - lead[key]
    return f"{d:+.{digits}f}{star} [{ci[0]:+.{digits}f}, {ci[1]:+.{digits}f}]"


def quality(report: dict[str, Any]) -> Table:
    head = [
        "variant",
        "surface",
        "segment",
        "requests",
        "candidate recall",
        "NDCG@10",
        "95% CI",
        "HR@10",
        "95% CI",
        "NDCG@10 vs leader [95% CI]",
    ]
    rows = []
    for name, v in report["variants"].items():
        for surface, segs in v["quality"].items():
            for seg in SEGMENTS:
                r = segs.get(seg)
                if r is None:
                    continue
                ci = r.get("ci95", {})
                rows.append(
                    [
                        name,
                        surface,
                        seg,
                        str(r["requests"]),
                        _f(r["source_recall"].get("all_sources")),
                        _f(r["ndcg@10"], 4),
                        _ci(ci.get("ndcg@10")),
                        _f(r.get("hr@10")),
                        _ci(ci.get("hr@10"), 3),
                        _vs(report, "quality", name, surface, seg, "ndcg@10", 4),
                    ]
                )
    return head, rows


def objective(report: dict[str, Any]) -> Table:
    """The recommendation's objective per feasible variant, with its interval, and the
    difference to the leader with its interval."""
    rec = report["recommendation"]
    head = ["variant", rec.get("objective_metric", "objective"), "95% CI", "vs leader", "95% CI"]
    rows = []
    for name, value in sorted(rec.get("objective", {}).items(), key=lambda kv: -kv[1]):
        vs = rec.get("vs_leader", {}).get(name)
        rows.append(
            [
                name,
                f"{value:.5f}",
                _ci(rec.get("objective_ci95", {}).get(name), 5),
                "leader"
                if vs is None
                else f"{vs['diff']:+.5f}" + ("*" if vs["significant"] else ""),
                "" if vs is None else f"[{vs['ci95'][0]:+.5f}, {vs['ci95'][1]:+.5f}]",
            ]
        )
    return head, rows


def source_recall(report: dict[str, Any], k: int = 500) -> Table:
    """Recall@k per source, from the hybrid (every source on), per surface and segment."""
    variants = report["variants"]
    name = "hybrid" if "hybrid" in variants else next(iter(variants))
    v = variants[name]
    sources = v["sources"]
    head = ["surface", "segment", *sources]
    rows = []
    for surface, segs in v["quality"].items():
        for seg in SEGMENTS:
            r = segs.get(seg)
            if r is not None:
                rec = r["source_recall"]
                rows.append([surface, seg, *(_f(rec.get(f"{s}@{k}")) for s in sources)])
    return head, rows


def outcome(report: dict[str, Any]) -> Table:
    head = [
        "variant",
        "surface",
        "segment",
        "requests",
        "clicks/req",
        "95% CI",
        "purchases/req",
        "95% CI",
        "revenue/req",
        "95% CI",
        "purchases vs leader [95% CI]",
    ]
    rows = []
    for name, v in report["variants"].items():
        for surface, segs in v.get("outcome", {}).items():
            for seg, r in segs.items():
                ci = r.get("ci95", {})
                rows.append(
                    [
                        name,
                        surface,
                        seg,
                        str(r["requests"]),
                        _f(r["clicks_per_request"], 4),
                        _ci(ci.get("clicks_per_request")),
                        _f(r["purchases_per_request"], 4),
                        _ci(ci.get("purchases_per_request")),
                        _f(r["revenue_per_request"], 2),
                        _ci(ci.get("revenue_per_request"), 2),
                        _vs(report, "outcome", name, surface, seg, "purchases_per_request", 4),
                    ]
                )
    return head, rows


def latency(report: dict[str, Any]) -> Table:
    head = ["variant", "stage", "p50 ms", "p99 ms"]
    rows = []
    for name, v in report["variants"].items():
        e2e = v["latency"]["end_to_end"]
        rows.append([name, "end to end", _f(e2e.get("p50_ms"), 2), _f(e2e.get("p99_ms"), 2)])
        for surface, t in v["latency"].get("by_surface", {}).items():
            label = f"end to end, {surface}"
            rows.append([name, label, _f(t.get("p50_ms"), 2), _f(t.get("p99_ms"), 2)])
        for stage, t in v["latency"]["stages"].items():
            rows.append([name, stage, _f(t.get("p50_ms"), 2), _f(t.get("p99_ms"), 2)])
    return head, rows


def cost(report: dict[str, Any]) -> Table:
    head = [
        "variant",
        "CPU ms/req",
        "CPU ms feed / search",
        "µ$/request",
        "compute µ$",
        "memory µ$",
        "jobs µ$",
        "share of budget",
        "peak vCPUs",
        "index GiB",
    ]
    budget = report["recommendation"]["constraints"]["usd_per_request"]
    rows = []
    for name, v in report["variants"].items():
        c = v["cost"]
        rows.append(
            [
                name,
                _f(v["cpu_ms_per_request"], 2),
                " / ".join(_f(x, 2) for x in v.get("cpu_ms_by_surface", {}).values()),
                f"{c['usd_per_request'] * 1e6:.4g}",
                f"{c['compute_usd_per_request'] * 1e6:.4g}",
                f"{c['memory_usd_per_request'] * 1e6:.4g}",
                f"{c['jobs_usd_per_request'] * 1e6:.4g}",
                f"{c['usd_per_request'] / budget:.2%}",
                str(c["peak_serving_vcpus"]),
                _f(c["index_memory_gib"], 1),
            ]
        )
    return head, rows


def freshness(report: dict[str, Any]) -> Table:
    head = ["variant", "feed: first source", "feed p99 s", "search: first source", "search p99 s"]
    rows = []
    for name, v in report["variants"].items():
        f = v["freshness"]
        rows.append(
            [
                name,
                _f(f["feed"]["source"]),
                _f(f["feed"]["p99_s"]),
                _f(f["search"]["source"]),
                _f(f["search"]["p99_s"]),
            ]
        )
    return head, rows


def measured_freshness(report: dict[str, Any]) -> Table:
    head = ["source (ingest label)", "items", "p50 s", "p99 s"]
    rows = [
        [label, str(f.get("n", 0)), _f(f.get("p50_s")), _f(f.get("p99_s"))]
        for label, f in report["freshness"].items()
    ]
    return head, rows


def maintainability(report: dict[str, Any]) -> Table:
    head = ["variant", "moving parts", "models", "jobs", "index types", "refresh paths"]
    rows = []
    for name, v in report["variants"].items():
        m = v["maintainability"]
        rows.append(
            [
                name,
                str(m["moving_parts"]),
                ", ".join(m["models"]),
                ", ".join(m["jobs"]),
                ", ".join(m["index_types"]),
                ", ".join(m["refresh_paths"]),
            ]
        )
    return head, rows


def funnel_table(report: dict[str, Any]) -> Table:
    head = [
        "variant",
        "surface",
        "requests",
        "candidate recall",
        "recall@10",
        "NDCG@10",
        "purchases/req",
        "revenue/req",
    ]
    rows = []
    for name, surfaces in funnel.table(report["variants"]).items():
        for surface, s in surfaces.items():
            rows.append(
                [
                    name,
                    surface,
                    str(s["requests"]),
                    _f(s["candidate_recall"]),
                    _f(s["recall@10"]),
                    _f(s["ndcg@10"], 4),
                    _f(s["purchases_per_request"], 4),
                    _f(s["revenue_per_request"], 2),
                ]
            )
    return head, rows


def skipped(report: dict[str, Any]) -> Table:
    head = ["not measured", "why"]
    return head, [[k, why] for k, why in report.get("skipped", {}).items()]


def slots(report: dict[str, Any]) -> Table:
    sources = sorted({s for v in report["variants"].values() for s in v["slot_share"]})
    head = ["variant", *sources]
    rows = [
        [name, *(_f(v["slot_share"].get(s)) for s in sources)]
        for name, v in report["variants"].items()
    ]
    return head, rows


def calibration(report: dict[str, Any]) -> Table:
    head = ["variant", "source", "candidates", "true relevance", "predicted", "observed/predicted"]
    rows = []
    for name, v in report["variants"].items():
        for src, c in v.get("calibration", {}).items():
            rows.append(
                [
                    name,
                    src,
                    str(c["candidates"]),
                    _f(c["true_relevance"], 4),
                    _f(c["predicted_relevance"], 4),
                    _f(c["observed_over_predicted"]),
                ]
            )
    return head, rows


def ab(report: dict[str, Any]) -> Table:
    head = [
        "treatment",
        "metric",
        "control/user",
        "treatment/user",
        "lift",
        "95% CI",
        "p",
        "CUPED 95% CI",
        "CUPED p",
        "variance cut",
        "users/arm for MDE (plain, CUPED)",
    ]
    rows = []
    online = report.get("online", {})
    for name, t in online.items():
        if not isinstance(t, dict) or "ab" not in t:
            continue
        for metric in ("clicks", "purchases", "revenue"):
            m = t["ab"][metric]
            c = m["cuped"]
            size = m["users_per_arm_for_mde"]
            rows.append(
                [
                    name,
                    metric,
                    _f(m["control"], 4),
                    _f(m["treatment"], 4),
                    f"{m['relative']:+.1%}",
                    f"[{m['ci95'][0]:+.4f}, {m['ci95'][1]:+.4f}]",
                    _f(m["p_value"]),
                    f"[{c['ci95'][0]:+.4f}, {c['ci95'][1]:+.4f}]",
                    _f(c["p_value"]),
                    f"{c['variance_reduction']:.1%}",
                    f"{size.get('plain', '–')}, {size.get('cuped', '–')}",
                ]
            )
    return head, rows


def guardrails(report: dict[str, Any]) -> Table:
    head = ["treatment", "arm", "requests", "p99 ms", "degraded", "empty pages", "breaches"]
    rows = []
    for name, t in report.get("online", {}).items():
        if not isinstance(t, dict) or "ab" not in t:
            continue
        g = t["ab"]["guardrails"]
        for arm in ("control", "treatment"):
            a = g[arm]
            rows.append(
                [
                    name,
                    arm,
                    str(a["requests"]),
                    _f(a["p99_ms"], 1),
                    _f(a["degraded_share"]),
                    _f(a["empty_share"]),
                    "; ".join(g["breaches"]) if arm == "treatment" else "",
                ]
            )
    return head, rows


def interleaving(report: dict[str, Any]) -> Table:
    head = [
        "treatment",
        "requests",
        "control wins",
        "treatment wins",
        "ties",
        "delta",
        "p",
        "users for 80% power: A/B, A/B+CUPED, interleaving",
    ]
    rows = []
    for name, t in report.get("online", {}).items():
        if not isinstance(t, dict) or "interleaving" not in t:
            continue
        i = t["interleaving"]
        need = t["sensitivity"]["users_for_80pct_power"]
        rows.append(
            [
                name,
                str(i["requests"]),
                str(i["wins_control"]),
                str(i["wins_treatment"]),
                str(i["ties"]),
                f"{i['delta']:+.3f}",
                _f(i["p_value"]),
                ", ".join(str(need.get(k) or "> all") for k in ("ab", "ab_cuped", "interleaving")),
            ]
        )
    return head, rows


def exposure(report: dict[str, Any]) -> Table:
    """Share of the items created in the evaluated window that a page showed within an hour,
    by the segment of the requests that showed them."""
    shown = report.get("new_item_exposure", {})
    segments = ("anonymous", "weak", "heavy", "all")
    head = ["variant", *segments]
    rows = [
        [name, *(_f(shown.get(name, {}).get(s)) for s in segments)]
        for name in report["variants"]
        if name in shown
    ]
    return head, rows
