"""Write the comparison report: ``report.json`` (every figure), ``report.md`` (tables, the
figures as PNG files beside it) and ``report.html`` (one self-contained page, figures inline)."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

from engine.offline.compare import plots, tables

SECTIONS: tuple[tuple[str, str, Any, str | None], ...] = (
    (
        "The objective, with paired intervals",
        "Traffic-weighted objective of each feasible variant and its difference to the leader; "
        "intervals from the paired bootstrap over users (* : the interval excludes 0).",
        tables.objective,
        None,
    ),
    (
        "Not measured on this data",
        "What needs the synthetic world's hidden truth; the sections it would fill are left out.",
        tables.skipped,
        None,
    ),
    (
        "Quality of the final list",
        "Held-out requests; candidate recall is the share of relevant items any source proposed. "
        "Intervals: paired bootstrap over users; vs leader: the difference to the leader on the "
        "same requests (* : its interval excludes 0).",
        tables.quality,
        "ndcg",
    ),
    (
        "Business outcome",
        "Expected clicks, purchases and revenue per request of the page each variant shows, "
        "under the marketplace's hidden response model (position bias included).",
        tables.outcome,
        "purchases",
    ),
    (
        "The funnel",
        "Per stage: candidate recall, final recall and NDCG, then the outcome.",
        tables.funnel_table,
        None,
    ),
    (
        "New items shown within an hour",
        "Share of the items created in the evaluated window that some page showed within an "
        "hour of their creation, by the segment of the requests that showed them.",
        tables.exposure,
        None,
    ),
    ("Share of final slots by source", "", tables.slots, "slots"),
    (
        "Ranker calibration per source",
        "Observed over predicted true relevance of each source's top-100 candidates; below 1 the "
        "ranker over-rates that source.",
        tables.calibration,
        None,
    ),
    ("Candidate recall@500 per source (hybrid)", "", tables.source_recall, None),
    ("Latency per stage", "In-process, measured on this machine.", tables.latency, "latency"),
    ("Freshness of new items", "Fastest content source per surface.", tables.freshness, None),
    (
        "Freshness per source, measured",
        "New items through the ingest path; behaviour-only sources wait for events.",
        tables.measured_freshness,
        None,
    ),
    (
        "Cost per request, projected",
        "From measured CPU time and memory; prices and fleet assumptions are the inputs below.",
        tables.cost,
        "cost",
    ),
    ("Maintainability", "", tables.maintainability, None),
    (
        "Simulated A/B tests against traditional",
        "User-level split of the held-out users, responses drawn from the hidden model; CUPED "
        "uses each user's same events before the split.",
        tables.ab,
        None,
    ),
    ("A/B guardrails", "", tables.guardrails, None),
    (
        "Team-draft interleaving on the same traffic",
        "Clicks credited to the team that placed the item; power from repeated response draws "
        "and user resamples.",
        tables.interleaving,
        "power",
    ),
)


def md_table(head: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def html_table(head: list[str], rows: list[list[str]]) -> str:
    h = "".join(f"<th>{html.escape(c)}</th>" for c in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows
    )
    return f"<table><thead><tr>{h}</tr></thead><tbody>{body}</tbody></table>"


def _summary_lines(report: dict[str, Any]) -> tuple[str, list[str], list[str]]:
    rec = report["recommendation"]
    choice = rec["choice"] or "none"
    return choice, rec["reasons"], report["funnel_flags"]


Shown = list[tuple[str, str, tuple[list[str], list[list[str]]], str | None]]


def shown(report: dict[str, Any]) -> Shown:
    """The sections with rows on this report (imported data has no outcome, calibration or
    online tests; the synthetic world nothing to skip), each with its table."""
    out = []
    for title, note, table, image in SECTIONS:
        head, rows = table(report)
        if rows:
            out.append((title, note, (head, rows), image))
    return out


def write(report: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "report.json", "md": out_dir / "report.md"}
    figures = {k: v for k, v in report.items() if k != "sample"}  # per request: not JSON
    paths["json"].write_text(json.dumps(figures, indent=2, default=str) + "\n")
    keys = [image for *_, image in shown(report) if image]
    images = {key: plots.ALL[key][1](report) for key in keys}
    for key, png in images.items():
        (out_dir / f"{key}.png").write_bytes(png)
    paths["md"].write_text(_markdown(report))
    paths["html"] = out_dir / "report.html"
    paths["html"].write_text(_html(report, images))
    return paths


def _header(report: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        ("data", str(report["data"])),
        ("held-out requests", str(report["requests"])),
        ("items", f"{report['items']:,}"),
        ("ranker", str(report["ranker"])),
        ("intervals", _intervals(report)),
        ("machine", str(report["machine"])),
    ]


def _intervals(report: dict[str, Any]) -> str:
    i = report.get("intervals", {})
    if "replicates" not in i:
        return str(i.get("method", "none"))
    return (
        f"{i['confidence']:.0%}, paired bootstrap over {i['users']:,} users "
        f"({i['requests']:,} requests), {i['replicates']} draws"
    )


def _markdown(report: dict[str, Any]) -> str:
    choice, reasons, flags = _summary_lines(report)
    lines = ["# Retrieval decision report", ""]
    lines += [f"- {k}: {v}" for k, v in _header(report)]
    lines += ["", f"## Recommendation: **{choice}**", ""]
    lines += [f"- {r}" for r in reasons]
    lines += ["", "## Funnel flags", ""]
    lines += [f"- ⚠ {f}" for f in flags] or ["- none: no variant raises recall and loses outcome"]
    for title, note, table, image in shown(report):
        lines += ["", f"## {title}", ""]
        if note:
            lines += [note, ""]
        lines.append(md_table(*table))
        if image:
            lines += ["", f"![{title}]({image}.png)"]
    lines += ["", "## Inputs", "", "```json", json.dumps(report["inputs"], indent=2), "```", ""]
    return "\n".join(lines)


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;
max-width:1100px;color:#1d2330;line-height:1.45;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;
border-bottom:1px solid #dde2ea;padding-bottom:.2rem}
.meta{color:#5b6473;font-size:.9rem}.choice{background:#eef6ee;border:1px solid #b8dcb8;
border-radius:8px;padding:1rem 1.2rem}.choice b{font-size:1.3rem}
.flag{background:#fff4e5;border:1px solid #f0c58a;border-radius:6px;padding:.5rem .8rem;
margin:.3rem 0}
table{border-collapse:collapse;font-size:.82rem;margin:.5rem 0;width:100%}
th,td{border:1px solid #dde2ea;padding:.25rem .45rem;text-align:left}
th{background:#f3f5f9}tr:nth-child(even) td{background:#fafbfd}
img{max-width:100%;border:1px solid #eef0f4;border-radius:4px;margin-top:.4rem}
pre{background:#f6f8fa;padding:.8rem;border-radius:6px;font-size:.78rem;overflow:auto}
"""


def _html(report: dict[str, Any], images: dict[str, bytes]) -> str:
    choice, reasons, flags = _summary_lines(report)
    meta = " · ".join(f"{html.escape(k)}: {html.escape(v)}" for k, v in _header(report))
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<title>Retrieval decision report</title>",
        f"<style>{CSS}</style></head><body>",
        "<h1>Retrieval decision report</h1>",
        f"<p class='meta'>{meta}</p>",
        f"<div class='choice'>Recommendation: <b>{html.escape(choice)}</b><ul>",
        *(f"<li>{html.escape(r)}</li>" for r in reasons),
        "</ul></div>",
        "<h2>Funnel flags</h2>",
        *(f"<div class='flag'>⚠ {html.escape(f)}</div>" for f in flags),
    ]
    if not flags:
        parts.append("<p>None: no variant raises recall and loses outcome.</p>")
    for title, note, table, image in shown(report):
        parts.append(f"<h2>{html.escape(title)}</h2>")
        if note:
            parts.append(f"<p class='meta'>{html.escape(note)}</p>")
        if image:
            b64 = base64.b64encode(images[image]).decode()
            parts.append(f"<img alt='{html.escape(title)}' src='data:image/png;base64,{b64}'>")
        parts.append(html_table(*table))
    parts.append("<h2>Inputs</h2>")
    parts.append(f"<pre>{html.escape(json.dumps(report['inputs'], indent=2))}</pre>")
    parts.append("</body></html>")
    return "\n".join(parts)
