"""Search quality on graded human judgments, through the served search pipeline.

Each judged query goes to the engine the API serves (``Engine.rank``: the same sources,
features, ranker, filters and re-rankers as ``POST /v1/search``); the top 100 are scored
against the judgments with ranx: nDCG@10 and nDCG@5 with graded gain (trec_eval's
``ndcg_cut``: the gain is the grade), precision@10 (grade >= 1 counts as relevant) and
recall@100; a result without a judgment counts as irrelevant.
"""

from __future__ import annotations

import csv
import warnings
from collections import defaultdict
from pathlib import Path
from typing import Any

from engine.core.contracts import SearchRequest
from engine.core.settings import Settings
from engine.serving.assembly import open_engine

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


async def rank_judged(settings: Settings, queries: list[str]) -> dict[str, list[str]]:
    """The served top ``DEPTH`` for each query (pages of the API's largest size)."""
    engine = await open_engine(settings, warm=False)
    try:
        out: dict[str, list[str]] = {}
        for q in queries:
            ids: list[str] = []
            for page in range(DEPTH // 100):  # pages count from 0
                resp = await engine.rank(SearchRequest(query=q, page=page, page_size=100))
                ids += [it.id for it in resp.items]
            out[q] = ids[:DEPTH]
        return out
    finally:
        await engine.close()


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
