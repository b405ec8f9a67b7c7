"""Search with mistyped queries, with and without the catalog speller:
``python -m bench.typo_search_bench --data DIR --judgments FILE [--index D --models D]
[--seed S]``; prints JSON.

Every judged query with a word of five letters or more gets one typo
(:mod:`engine.offline.evaluation.typos`). The mistyped queries go through the served search
pipeline (``shopnow eval --judgments``'s path, the served ranker) with the speller on and off
(``Settings.spelling``); the same queries as typed by the judges are the reference. Reports
nDCG@10 and recall@100 of each run, and how many mistyped queries the speller turned back
into the original.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from collections.abc import Sequence
from typing import Any

from bench.judged_search_bench import add_judged_args, judged_settings
from engine.core.settings import Settings
from engine.core.spelling import Speller
from engine.offline.evaluation.judged import rank_judged, read_judgments, score
from engine.offline.evaluation.typos import with_typos
from engine.serving.assembly import load_catalog


def measure(settings: Settings, judgments: dict[str, dict[str, int]], seed: int) -> dict[str, Any]:
    typo, original = with_typos(judgments, seed)
    clean = {original[q]: judgments[original[q]] for q in typo}
    speller = Speller.build(load_catalog(settings))
    fixed = {q: speller.correct(q) for q in typo}
    off = settings.model_copy(update={"spelling": False})
    runs = {
        "as judged": score(clean, asyncio.run(rank_judged(settings, clean)).ranked),
        "mistyped, speller on": score(typo, asyncio.run(rank_judged(settings, typo)).ranked),
        "mistyped, speller off": score(typo, asyncio.run(rank_judged(off, typo)).ranked),
    }
    return {
        "queries": len(typo),
        "restored": sum(fixed[q] == original[q] for q in typo),
        "changed to another query": sum(fixed[q] not in (None, original[q]) for q in typo),
        "left as typed": sum(fixed[q] is None for q in typo),
        "examples": {q: fixed[q] for q in list(typo)[:8]},
        **{name: r["overall"] for name, r in runs.items()},
    }


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.typo_search_bench")
    add_judged_args(p)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    report = measure(judged_settings(args), read_judgments(args.judgments), args.seed)
    report["load_1m"] = round(os.getloadavg()[0], 2)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
