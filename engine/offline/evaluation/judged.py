"""Search quality on graded human judgments, through the served search pipeline.

Each judged query goes to the engine the API serves (``Engine.rank``: the same sources,
features, ranker, filters and re-rankers as ``POST /v1/search``); the top 100 are scored
against the judgments with ranx: nDCG@10 and nDCG@5 with graded gain (trec_eval's
``ndcg_cut``: the gain is the grade), precision@10 (grade >= 1 counts as relevant) and
recall@100; a result without a judgment counts as irrelevant.

With cross-validation (``shopnow eval --judgments --cv K``) the ranker is learned from the
judgments themselves (:mod:`engine.offline.evaluation.judged_ranker`), and the served ranker's
run is the baseline of a per-query table and a plot of wins and losses.
"""

from __future__ import annotations

import csv
import warnings
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.core.contracts import SearchRequest
from engine.core.settings import Settings
from engine.offline.evaluation.judged_ranker import fit, folds, learned_from_judgments, serve
from engine.serving.assembly import open_engine
from engine.serving.service import Engine
from ltr.scorers import LambdaMartScorer

METRICS = ("ndcg@10", "ndcg@5", "precision@10", "recall@100")
DEPTH = 100


def read_judgments(path: Path) -> dict[str, dict[str, int]]:
    """``query -> {item id: grade}`` from a CSV with a header ``query,docid,rating`` (or
    ``query,item_id,grade``); a bad line is an error naming it."""
    out: dict[str, dict[str, int]] = defaultdict(dict)
    with Path(path).open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = [h.strip() for h in next(reader, [])]
        if header not in (["query", "docid", "rating"], ["query", "item_id", "grade"]):
            raise ValueError(f"{path}: header {header}, expected query,docid,rating")
        for cells in reader:
            if not cells:
                continue
            where = f"{path}:{reader.line_num}"
            if len(cells) != 3 or not cells[0].strip() or not cells[1].strip():
                raise ValueError(f"{where}: expected query,item id,grade; got {cells}")
            try:
                grade = int(cells[2])
            except ValueError:
                raise ValueError(f"{where}: grade {cells[2]!r} is not an integer") from None
            out[cells[0].strip()][cells[1].strip()] = grade
    if not out:
        raise ValueError(f"{path}: no judgments")
    return dict(out)


@dataclass(frozen=True, slots=True)
class JudgedRuns:
    """The served top ``DEPTH`` per judged query; with cross-validation also the run of the
    ranker the engine serves (the baseline its wins and losses are counted against)."""

    ranked: dict[str, list[str]]
    baseline: dict[str, list[str]] | None = None
    baseline_name: str = ""
    in_sample: bool = False  # ``ranked`` came from a ranker learned from these judgments


async def rank_judged(
    settings: Settings,
    judgments: dict[str, dict[str, int]],
    *,
    cv: int | None = None,
    seed: int = 0,
    without: frozenset[str] = frozenset(),
) -> JudgedRuns:
    """Each judged query through the served pipeline (pages of the API's largest size).
    With ``cv`` = k, the ranker is learned from the judgments by k-fold cross-validation over
    queries (:mod:`engine.offline.evaluation.judged_ranker`; without the features named in
    ``without``): each query is ranked by the model of the folds it is not in."""
    queries = sorted(judgments)
    engine = await open_engine(settings, warm=False, offline=True)
    try:
        served = await _rank(engine, queries)
        scorer = engine.spec.scorer
        in_sample = isinstance(scorer, LambdaMartScorer) and learned_from_judgments(scorer.artifact)
        if cv is None:
            return JudgedRuns(served, in_sample=in_sample)
        out: dict[str, list[str]] = {}
        for held_out in folds(queries, cv, seed):
            skip = set(held_out)
            training = [q for q in queries if q not in skip]
            artifact = await fit(
                engine,
                judgments,
                training,
                seed=seed,
                min_support=settings.restricted_min_support,
                without=without,
            )
            serve(engine, artifact)
            out.update(await _rank(engine, held_out))
        return JudgedRuns(out, served, scorer.version)
    finally:
        await engine.close()


async def _rank(engine: Engine, queries: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for q in queries:
        ids: list[str] = []
        for page in range(DEPTH // 100):  # pages count from 0
            resp = await engine.rank(SearchRequest(query=q, page=page, page_size=100))
            ids += [it.id for it in resp.items]
        out[q] = ids[:DEPTH]
    return out


def score(judgments: dict[str, dict[str, int]], ranked: dict[str, list[str]]) -> dict[str, Any]:
    with warnings.catch_warnings():  # its LaTeX report strings warn when first compiled
        warnings.filterwarnings("ignore", "invalid escape sequence")
        # ranx (numba) is imported only where judged evaluation runs
        from ranx import Qrels, Run, evaluate

    qrels = Qrels({q: dict(j) for q, j in judgments.items()})
    run = Run(
        {
            q: {d: float(DEPTH - r) for r, d in enumerate(ids)} if ids else {"": 0.0}
            for q, ids in ranked.items()
        }
    )
    means = evaluate(qrels, run, list(METRICS), make_comparable=True)
    return {
        "queries": len(judgments),
        "overall": {m: round(float(means[m]), 4) for m in METRICS},
        "per_query": {
            q: {m: round(float(run.scores[m][q]), 4) for m in METRICS} for q in sorted(judgments)
        },
    }


def versus(
    report: dict[str, Any], baseline: dict[str, Any], metric: str = "ndcg@10"
) -> dict[str, Any]:
    """Per query: ``metric`` of the run and of the baseline, and the wins, ties and losses."""
    rows = {
        q: (report["per_query"][q][metric], baseline["per_query"][q][metric])
        for q in report["per_query"]
    }
    delta = {q: round(a - b, 4) for q, (a, b) in rows.items()}
    return {
        "metric": metric,
        "wins": sum(d > 0 for d in delta.values()),
        "ties": sum(d == 0 for d in delta.values()),
        "losses": sum(d < 0 for d in delta.values()),
        "per_query": {
            q: {"run": a, "baseline": b, "delta": delta[q]} for q, (a, b) in rows.items()
        },
    }


def format_table(report: dict[str, Any], vs: dict[str, Any] | None) -> str:
    """The per-query table: every metric, and the baseline's nDCG@10 when there is one."""
    head = ["query", *METRICS] + (["baseline ndcg@10", "delta"] if vs else [])
    lines = [" | ".join(head), " | ".join("---" for _ in head)]
    for q, m in report["per_query"].items():
        cells = [q, *(f"{m[k]:.4f}" for k in METRICS)]
        if vs:
            row = vs["per_query"][q]
            cells += [f"{row['baseline']:.4f}", f"{row['delta']:+.4f}"]
        lines.append(" | ".join(cells))
    return "\n".join(lines)


def plot_versus(vs: dict[str, Any], names: tuple[str, str], path: Path) -> Path:
    """The per-query change of nDCG@10 against the baseline, sorted: wins above the axis,
    losses below."""
    # matplotlib is imported only when a plot is asked for
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = sorted(vs["per_query"].items(), key=lambda kv: kv[1]["delta"])
    deltas = [r["delta"] for _, r in rows]
    fig, ax = plt.subplots(figsize=(max(8.0, 0.16 * len(rows)), 4.5))
    colors = ["tab:green" if d > 0 else "tab:red" if d < 0 else "tab:gray" for d in deltas]
    ax.bar(range(len(rows)), deltas, color=colors)
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels([q for q, _ in rows], rotation=90, fontsize=7)
    ax.axhline(0.0, color="black", lw=0.8)
    ax.set_ylabel(f"{vs['metric']}: {names[0]} - {names[1]}")
    ax.set_title(
        f"{names[0]} against {names[1]}: {vs['wins']} wins, {vs['ties']} ties, "
        f"{vs['losses']} losses over {len(rows)} judged queries"
    )
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
