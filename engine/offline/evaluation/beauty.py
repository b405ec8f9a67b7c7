"""Amazon Beauty full-ranking evaluation of the traditional stack (S3-Rec protocol).

Protocol (``/work/shared/data/amazon-beauty/README.md``): leave-one-out by time; the target is
ranked against ALL items, the user's history excluded; HR@K and binary NDCG@K. Items not
retrieved as candidates rank below every candidate, so they count as misses at K <= 20.

Stack: candidate sources (directional and symmetric co-visitation, title/attribute similarity,
popularity; :mod:`engine.offline.evaluation.beauty_candidates`) -> LightGBM LambdaMART ranker
(Burges, "From RankNet to LambdaRank to LambdaMART", MSR-TR-2010-82). The ranker is trained on
the validation target (second-to-last item, indices built from the histories before it) and
applied once to the test target (last item, indices built from the histories before it). Its
number of trees is chosen by early stopping on held-out validation users; the test target is
never looked at before the final scoring.

``quick`` mode (about 30 s instead of 1.5 to 3 min on 2 shared cores) trains on fewer users with
smaller candidate lists and scores the test target of a fixed random subset of
:data:`QUICK_TEST_USERS` users (indices are still built from every user's history); the report
and the table say so. The full run scores every user.

With ``two_tower`` (:class:`~engine.offline.evaluation.beauty_two_tower.TwoTowerOptions`), two-tower
retrieval is one more candidate source (its rank and score become ranker features); the towers
train on the training prefixes, early-stop on the validation targets of users the ranker does
not train on, and are refitted on the test-stage histories for the test stage (see
:mod:`engine.offline.evaluation.beauty_two_tower` for why that keeps both stages honest). The ranker
then takes half the learning rate and more early-stopping patience, chosen on its held-out
validation users.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt

from engine.core import ranking_metrics as metrics
from engine.core.arrays import I64
from engine.offline.evaluation.beauty_candidates import (
    SOURCES,
    Candidates,
    ExtraSource,
    SourceSizes,
    generate,
    item_similarity,
)
from engine.offline.evaluation.beauty_data import (
    PUBLISHED,
    BeautyData,
    Split,
    leave_one_out,
    load_beauty,
)

if TYPE_CHECKING:
    from engine.offline.evaluation.beauty_two_tower import FittedTowers, TwoTowerOptions

KS = (5, 10, 20)
RECALL_KS = (50, 200, 500)
QUICK_TEST_USERS = 5000


@dataclass(frozen=True, slots=True)
class BeautyReport:
    metrics: dict[str, float]  # "hr@10", "ndcg@10", ... on the test target of n_eval_users
    source_recall: dict[str, dict[str, float]]  # source -> {"recall@50": ...} on the test target
    pool_recall: float  # share of test targets among the ranked candidates
    baseline: dict[str, float]  # the "seq" source alone, no ranker
    n_users: int  # users in the data set
    n_eval_users: int  # users whose test target is scored: n_users, or a random subset (quick)
    n_train_users: int
    n_trees: int
    quick: bool
    seconds: dict[str, float] = field(default_factory=dict)
    two_tower: dict[str, float] | None = None  # training summary, when the source is on
    two_tower_alone: dict[str, float] | None = None  # its own list, no ranker
    sources: tuple[str, ...] = SOURCES  # the built-in candidate sources that were on
    #: HR/NDCG@10 by the user's history length at the test target (weak to heavy)
    by_history: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def pipeline_name(self) -> str:
        if not self.sources:
            name = "two-tower + LambdaMART"
        else:
            name = "sources + two-tower + LambdaMART" if self.two_tower else "sources + LambdaMART"
        return name + (" (quick)" if self.quick else "")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _labels(c: Candidates, targets: I64) -> npt.NDArray[np.int32]:
    out: npt.NDArray[np.int32] = (c.items == targets[c.users]).astype(np.int32)
    return out


def _groups(users: I64) -> I64:
    _, counts = np.unique(users, return_counts=True)
    return counts.astype(np.int64)


def _rows_of(c: Candidates, users: I64) -> I64:
    return np.flatnonzero(np.isin(c.users, users))


def train_ranker(
    c: Candidates,
    split: Split,
    *,
    seed: int,
    max_users: int | None,
    n_estimators: int,
    num_threads: int = 2,
    learning_rate: float = 0.1,
    patience: int = 20,
) -> lgb.Booster:
    """LambdaMART on the users whose validation target is among their candidates; the number
    of trees is early-stopped on NDCG@10 of a tenth of those users (at least 200, at most a
    quarter), held out. One thread is the robust choice on a busy machine: OpenMP threads that
    wait for a descheduled sibling at every split barrier can make a 2-thread run several times
    slower than 1 thread."""
    y = _labels(c, split.targets)
    rng = np.random.default_rng(seed)
    users = np.unique(c.users[y == 1])
    rng.shuffle(users)
    if max_users is not None:
        users = users[:max_users]
    # a tenth, but at least 200 users (at most a quarter): NDCG@10 of fewer users picks the
    # number of trees by noise
    n_hold = max(len(users) // 10, min(200, len(users) // 4), 1)
    hold, fit = np.sort(users[:n_hold]), np.sort(users[n_hold:])
    tr, va = _rows_of(c, fit), _rows_of(c, hold)
    params: dict[str, Any] = {
        "objective": "lambdarank",
        "metric": "ndcg",
        "eval_at": [10],
        "learning_rate": learning_rate,
        "num_leaves": 31,
        "min_data_in_leaf": 50,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "feature_fraction": 0.8,
        "lambdarank_truncation_level": 20,
        "seed": seed,
        "deterministic": True,  # with force_col_wise: the same trees on every run
        "force_col_wise": True,
        "num_threads": num_threads,
        "verbose": -1,
    }
    names = list(c.feature_names)
    dtrain = lgb.Dataset(c.features[tr], y[tr], group=_groups(c.users[tr]), feature_name=names)
    dvalid = lgb.Dataset(c.features[va], y[va], group=_groups(c.users[va]), reference=dtrain)
    return lgb.train(
        params,
        dtrain,
        num_boost_round=n_estimators,
        valid_sets=[dvalid],
        callbacks=[lgb.early_stopping(patience, verbose=False)],
    )


def rank_top(users: I64, items: I64, scores: npt.NDArray[np.float64], n_users: int, k: int) -> I64:
    """(n_users x k) item rows by descending score per user, -1 padded."""
    order = np.lexsort((-scores, users))
    u, it = users[order], items[order]
    pos = np.arange(len(u)) - np.searchsorted(u, u)
    out = np.full((n_users, k), -1, dtype=np.int64)
    m = pos < k
    out[u[m], pos[m]] = it[m]
    return out


def _source_recall(c: Candidates) -> dict[str, dict[str, float]]:
    return {
        name: {f"recall@{k}": float((r < k).mean()) for k in RECALL_KS}
        for name, r in c.target_ranks.items()
    }


def evaluate_beauty(
    data_dir: Path,
    *,
    seed: int = 0,
    progress: bool = True,
    quick: bool = False,
    two_tower: TwoTowerOptions | None = None,
    sources: tuple[str, ...] = SOURCES,
    tower_cache: dict[str, FittedTowers] | None = None,
) -> BeautyReport:
    """Load Amazon Beauty from ``data_dir`` and run :func:`evaluate_on`."""
    t0 = time.perf_counter()
    data = load_beauty(data_dir)
    titles = None
    if two_tower is not None:
        # torch (the towers) is imported only where two-tower retrieval is in use
        from engine.offline.evaluation.beauty_towers import read_titles

        titles = read_titles(data_dir / "items.tsv", data.n_items)
    load_s = round(time.perf_counter() - t0, 2)
    if progress:
        print(f"[beauty] load: {load_s:.1f}s", file=sys.stderr, flush=True)
    r = evaluate_on(
        data,
        seed=seed,
        progress=progress,
        quick=quick,
        two_tower=two_tower,
        titles=titles,
        sources=sources,
        tower_cache=tower_cache,
    )
    seconds = {"load": load_s} | r.seconds
    seconds["total"] = round(seconds["total"] + load_s, 2)
    return replace(r, seconds=seconds)


def _fit_towers(
    data: BeautyData,
    titles: list[str] | None,
    users: I64,
    opts: TwoTowerOptions,
    refit_epochs: int | None = None,
) -> FittedTowers:
    """The towers of the validation stage, or with ``refit_epochs`` the test-stage refit."""
    # torch (the towers) is imported only where two-tower retrieval is in use
    from engine.offline.evaluation.beauty_two_tower import fit_towers
    from towers.text import TextEncoder

    if titles is None:
        raise ValueError("two-tower retrieval needs the item titles")
    encoder = TextEncoder(opts.text_cache, num_threads=opts.num_threads)
    if refit_epochs is None:
        return fit_towers(data, titles, encoder, users, opts)
    return fit_towers(data, titles, encoder, users, opts, drop_last=1, epochs=refit_epochs)


def _tower_source(
    towers: FittedTowers | None,
    split: Split,
    users: I64 | None,
    opts: TwoTowerOptions | None,
    with_targets: bool,
) -> list[ExtraSource]:
    if towers is None or opts is None:
        return []
    # torch (the towers) is imported only where two-tower retrieval is in use
    from engine.offline.evaluation.beauty_two_tower import tower_source

    hist = split.history if users is None else split.history.subset(users)
    targets = None
    if with_targets:
        targets = split.targets if users is None else split.targets[users]
    return [tower_source(towers, hist, opts.top_k, targets, pair_features=opts.pair_features)]


def evaluate_on(
    data: BeautyData,
    *,
    seed: int = 0,
    progress: bool = True,
    quick: bool = False,
    two_tower: TwoTowerOptions | None = None,
    titles: list[str] | None = None,
    ranker_users: int | None = None,
    sources: tuple[str, ...] = SOURCES,
    tower_cache: dict[str, FittedTowers] | None = None,
) -> BeautyReport:
    """Train on the validation target, report HR/NDCG@5/10/20 on the test target.

    The ranker learns from the candidates of 12,000 random users (``quick``: 5,000, with 200
    instead of 300 candidates per user; ``ranker_users`` overrides the count). The test metrics
    average over every user (``quick``: over a fixed random subset of :data:`QUICK_TEST_USERS`
    users; every user's history still feeds the indices). Items outside a user's candidates
    count as misses. With ``two_tower`` (``titles`` needed), the towers are trained first on
    the training prefixes, early-stopped on ``two_tower.early_stop_users`` users drawn from
    those the ranker does not learn from. ``tower_cache`` keeps the fitted towers of both
    stages for another run with the same data, seed and options (other candidate sources)."""
    t0 = time.perf_counter()
    seconds: dict[str, float] = {}

    def tick(name: str) -> None:
        seconds[name] = round(time.perf_counter() - t0 - sum(seconds.values()), 2)
        if progress:
            print(f"[beauty] {name}: {seconds[name]:.1f}s", file=sys.stderr, flush=True)

    n_users = data.sequences.n_users
    sim = item_similarity(data)  # metadata only (titles, attributes): shared by both stages
    tick("item similarity")
    sizes = SourceSizes(seq=200, covis=200, pool=200) if quick else SourceSizes(pool=300)
    valid = leave_one_out(data.sequences, "valid")
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n_users)
    n_rank = ranker_users or (5000 if quick else 12000)
    towers = None
    two_tower_summary: dict[str, float] | None = None
    stop_users = np.zeros(0, np.int64)
    if two_tower is not None:
        n_rank = min(n_rank, n_users - two_tower.early_stop_users)
        stop_users = np.sort(perm[n_rank : n_rank + two_tower.early_stop_users]).astype(np.int64)
        cache = {} if tower_cache is None else tower_cache
        if "valid" not in cache:
            cache["valid"] = _fit_towers(data, titles, stop_users, two_tower)
        towers = cache["valid"]
        tick("train towers")
        two_tower_summary = towers.summary() | {"refit_test": float(two_tower.refit_test)}
    train_users = np.sort(perm[:n_rank])
    extra = _tower_source(towers, valid, train_users, two_tower, with_targets=False)
    cv = generate(
        data, valid.history, sizes, users=train_users, sim=sim, extra=extra, sources=sources
    )
    del extra
    tick("candidates valid")
    train_split = Split(valid.history, valid.targets[train_users])
    model = train_ranker(
        cv,
        train_split,
        seed=seed,
        max_users=None,
        n_estimators=(150 if quick else 400) * (1 if two_tower is None else 2),
        num_threads=1 if quick else 2,
        # with the two-tower source: half the step, more patience (chosen on the ranker's
        # held-out validation users, never on the test target)
        learning_rate=0.1 if two_tower is None else 0.05,
        patience=20 if two_tower is None else 50,
    )
    n_train = len(np.unique(cv.users[_labels(cv, train_split.targets) == 1]))
    del cv
    tick("train ranker")
    test = leave_one_out(data.sequences, "test")
    eval_users = np.arange(n_users, dtype=np.int64)
    if quick and n_users > QUICK_TEST_USERS:
        eval_users = np.sort(
            np.random.default_rng(seed + 1).permutation(n_users)[:QUICK_TEST_USERS]
        ).astype(np.int64)
    n_eval = len(eval_users)
    targets = test.targets[eval_users]
    # indices from every user's test history; candidates only for the evaluated users
    queried = None if n_eval == n_users else eval_users
    if towers is not None and two_tower is not None and two_tower.refit_test:
        cache = {} if tower_cache is None else tower_cache
        if "test" not in cache:
            cache["test"] = _fit_towers(
                data, titles, stop_users, two_tower, refit_epochs=towers.best_epoch
            )
        towers = cache["test"]
        tick("refit towers")
    extra = _tower_source(towers, test, queried, two_tower, with_targets=True)
    ct = generate(
        data,
        test.history,
        sizes,
        users=queried,
        targets=targets,
        sim=sim,
        extra=extra,
        sources=sources,
    )
    tick("candidates test")
    scores = np.asarray(
        model.predict(ct.features, num_iteration=model.best_iteration), dtype=np.float64
    )
    ranked = rank_top(ct.users, ct.items, scores, n_eval, max(KS))
    rel = metrics.relevant_single(targets)
    result = metrics.evaluate(ranked, rel, KS)
    baseline: dict[str, float] = {}
    if "seq" in sources:
        seq_rank = ct.features[:, ct.feature_names.index("rank_seq")].astype(np.float64)
        has_seq = ~np.isnan(seq_rank)
        baseline = metrics.evaluate(
            rank_top(ct.users[has_seq], ct.items[has_seq], -seq_rank[has_seq], n_eval, max(KS)),
            rel,
            KS,
        )
    alone = None
    if extra:
        # torch (the towers) is imported only where two-tower retrieval is in use
        from engine.offline.evaluation.beauty_two_tower import alone_ranked

        alone = metrics.evaluate(alone_ranked(extra[0], max(KS)), rel, KS)
        alone = {k: v for k, v in alone.items() if k.split("@")[0] in ("hr", "ndcg")}
    tick("score test")
    return BeautyReport(
        metrics={k: v for k, v in result.items() if k.split("@")[0] in ("hr", "ndcg", "mrr")},
        source_recall=_source_recall(ct),
        pool_recall=float(_labels(ct, targets).sum() / n_eval),
        baseline={k: v for k, v in baseline.items() if k.split("@")[0] in ("hr", "ndcg")},
        n_users=n_users,
        n_eval_users=n_eval,
        n_train_users=n_train,
        n_trees=int(model.best_iteration or model.current_iteration()),
        quick=quick,
        seconds=seconds | {"total": round(time.perf_counter() - t0, 2)},
        two_tower=None if two_tower_summary is None else two_tower_summary,
        two_tower_alone=alone,
        sources=tuple(sources),
        by_history=by_history(ranked, targets, test.history.lengths[eval_users]),
    )


#: History-length groups at the test target: Beauty is 5-core, so 4 earlier items is the least.
HISTORY_GROUPS = (
    ("weak (4-5 items)", 4, 5),
    ("6-9 items", 6, 9),
    ("heavy (10+ items)", 10, 10**9),
)


def by_history(ranked: I64, targets: I64, lengths: I64, k: int = 10) -> dict[str, dict[str, float]]:
    out = {}
    for name, lo, hi in HISTORY_GROUPS:
        m = (lengths >= lo) & (lengths <= hi)
        if not m.any():
            continue
        r = metrics.evaluate(ranked[m], metrics.relevant_single(targets[m]), (k,))
        out[name] = {"users": int(m.sum()), f"hr@{k}": r[f"hr@{k}"], f"ndcg@{k}": r[f"ndcg@{k}"]}
    return out


def format_report(r: BeautyReport) -> str:
    cols = [f"{m}@{k}" for k in KS for m in ("HR", "NDCG")]
    lines = [f"| model | {' | '.join(cols)} |", "|---" * (len(cols) + 1) + "|"]
    for name, vals in PUBLISHED.items():
        lines.append(f"| {name} (published) | " + " | ".join(f"{v:.4f}" for v in vals) + " |")

    def row(name: str, m: dict[str, float]) -> str:
        vals = [m[f"{c.split('@')[0].lower()}@{c.split('@')[1]}"] for c in cols]
        return f"| {name} | " + " | ".join(f"{v:.4f}" for v in vals) + " |"

    subset = r.n_eval_users < r.n_users
    tag = f" [{r.n_eval_users:,}-user subset]" if subset else ""
    if r.baseline:
        lines.append(row("ours: seq co-visitation only" + tag, r.baseline))
    if r.two_tower_alone is not None:
        lines.append(row("ours: two-tower only" + tag, r.two_tower_alone))
    lines.append(row("ours: " + r.pipeline_name + tag, r.metrics))
    lines.append("")
    if subset:
        lines.append(
            f"ours: test target of a fixed random subset of {r.n_eval_users:,} of the "
            f"{r.n_users:,} users (published rows: all users)"
        )
    else:
        lines.append(f"ours: test target of all {r.n_users:,} users")
    lines.append(f"candidate recall of the test item ({r.n_eval_users} users), per source:")
    for name, rec in r.source_recall.items():
        lines.append(f"  {name:8s} " + "  ".join(f"{k}={v:.4f}" for k, v in rec.items()))
    lines.append(f"  ranked pool recall: {r.pool_recall:.4f}")
    lines.append(f"ranker: {r.n_trees} trees, trained on {r.n_train_users} validation users")
    if r.two_tower is not None:
        lines.append("two-tower: " + ", ".join(f"{k} {v:g}" for k, v in r.two_tower.items()))
    lines.append("seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in r.seconds.items()))
    return "\n".join(lines)
