"""Entry point: synthesise a marketplace (catalog, users, logged traffic, ground truth) on disk.

The data is written in the layout ``shopnow import`` makes (:mod:`ingest.imports.layout`), so
every job reads a synthetic world exactly as it reads a marketplace's own; the hidden truth
goes to ``simulation/`` (:mod:`synth.truth`), which only the simulation experiments read.

Deterministic: every stage draws from its own child of ``SeedSequence(seed)``, and every file
is written byte-reproducibly, so the same arguments give byte-identical files.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from synth.assemble import Logs, assemble
from synth.catalog import DIM, Catalog, leaf_centers, make_catalog
from synth.followups import follow_ups, main_requests
from synth.items_io import write_items
from synth.npz import save_npz
from synth.queries import QueryBook
from synth.sampling import ItemSampler
from synth.sessions import plan_requests
from synth.simulate import World, serve
from synth.taxonomy import Taxonomy, taxonomy
from synth.truth import simulation_dir
from synth.users import WEAK, Users, make_users, rel_log_price

GENERATOR_VERSION = "1.0"
START = datetime(2025, 3, 3, tzinfo=UTC).timestamp()
DAYS = 28
SPLIT = 0.85
#: events per planned request (page, search event, responses, follow-ups), slightly high so
#: that the simulation overshoots and :func:`assemble` trims to ``n_events``
EVENTS_PER_REQUEST = 16.5


@dataclass(frozen=True)
class SynthSummary:
    out_dir: Path
    n_items: int
    n_events: int
    n_users: int
    n_requests: int
    n_sessions: int
    n_queries: int
    start: float
    end: float
    split_ts: float
    seconds: float
    kind_counts: dict[str, int]


def default_users(n_events: int) -> int:
    return max(100, n_events // 150)


def generate(
    out_dir: Path,
    *,
    n_items: int,
    n_events: int,
    seed: int = 0,
    n_users: int | None = None,
    progress: bool = True,
) -> SynthSummary:
    if n_items < 1 or n_events < 1:
        raise ValueError("n_items and n_events must be positive")
    if n_users is not None and n_users < 10:
        raise ValueError("n_users must be at least 10")
    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(8)]
    tax = taxonomy()
    start, end = START, START + DAYS * 86_400.0
    centers = leaf_centers(rngs[0], tax)
    cat = make_catalog(rngs[0], tax, centers, n_items, start, end)
    with tqdm(total=n_items, desc="items", unit="item", disable=not progress) as bar:
        write_items(out_dir / "items.jsonl", tax, cat, lambda k: _advance(bar, k))
    sim_dir = simulation_dir(out_dir)
    sim_dir.mkdir(exist_ok=True)
    _write_columns(sim_dir, tax, cat)

    users = make_users(rngs[1], tax, cat, centers, n_users or default_users(n_events))
    world = World(
        tax,
        cat,
        users,
        ItemSampler(cat.leaf, tax.n_leaves, cat.popularity, cat.created_at, start),
        rel_log_price(cat, tax.n_leaves),
        end,
    )
    planned = plan_requests(rngs[2], users, math.ceil(n_events / EVENTS_PER_REQUEST), start, end)
    book = QueryBook()
    first = main_requests(
        rngs[3], world, book, planned.ts, planned.user, planned.session, planned.search
    )
    with tqdm(total=len(planned.ts), desc="requests", unit="req", disable=not progress) as bar:
        served1 = serve(rngs[4], world, first.batch, lambda k: _advance(bar, k))
        second = follow_ups(rngs[5], world, book, first, served1, int(planned.session.max()) + 1)
        bar.total = (bar.total or 0) + len(second.batch.ts)
        served2 = serve(rngs[6], world, second.batch, lambda k: _advance(bar, k))
    logs = assemble(rngs[7], [first, second], [served1, served2], n_events, users.segment == WEAK)
    save_npz(out_dir / "events.npz", logs.events)
    save_npz(sim_dir / "requests.npz", logs.requests)
    known = (users.segment > 0).astype(users.segment.dtype)  # the layout's: anonymous or not
    save_npz(out_dir / "users.npz", {"segment": known, "user_ids": np.array(users.ids(), str)})
    (out_dir / "queries.txt").write_text("".join(q + "\n" for q in book.strings), "utf-8")
    _write_truth(sim_dir, tax, cat, users, book, logs)
    kinds = np.bincount(logs.events["kind"], minlength=5)
    names = ("impression", "click", "add_to_cart", "purchase", "search")
    summary = SynthSummary(
        out_dir=out_dir,
        n_items=cat.n,
        n_events=len(logs.events["ts"]),
        n_users=users.n,
        n_requests=len(logs.requests["ts"]),
        n_sessions=int(np.unique(logs.requests["session"]).size),
        n_queries=len(book.strings),
        start=start,
        end=end,
        split_ts=start + SPLIT * (end - start),
        seconds=0.0,
        kind_counts={k: int(c) for k, c in zip(names, kinds, strict=True)},
    )
    _write_meta(out_dir, seed, tax, cat, users, summary)
    return SynthSummary(**{**summary.__dict__, "seconds": time.perf_counter() - t0})


def _write_columns(out_dir: Path, tax: Taxonomy, cat: Catalog) -> None:
    save_npz(
        out_dir / "items_columns.npz",
        {
            "category": cat.leaf,
            "brand": cat.brand,
            "seller": cat.seller,
            "price": cat.price,
            "in_stock": cat.in_stock,
            "created_at": cat.created_at,
            "variant_group": cat.variant_group,
            "category_names": np.array(tax.leaf_names(), dtype=str),
            "brand_names": np.array(cat.brand_names, dtype=str),
            "seller_names": np.array(cat.seller_names(), dtype=str),
        },
    )


def _write_truth(
    out_dir: Path, tax: Taxonomy, cat: Catalog, users: Users, book: QueryBook, logs: Logs
) -> None:
    save_npz(
        out_dir / "truth.npz",
        {
            "user_pref": users.pref,
            "user_segment": users.segment,
            "item_vec": cat.item_vec,
            "item_quality": cat.quality,
            "complement_of": tax.complement_of[cat.leaf],
            "item_popularity": cat.popularity.astype(np.float32),
            "user_fav_leaves": users.fav,
            "user_root_affinity": users.root_affinity,
            "user_price_sens": users.price_sens,
            "complement_pairs": tax.complement_pairs,
            "query_leaf": np.array(book.leaf, np.int32),
            "query_typo": np.array(book.has_typo, bool),
            "query_synonym": np.array(book.has_synonym, bool),
            "request_target": logs.target,
            "request_boost_leaf": logs.boost,
        },
    )


TRUTH_DOC = {
    "user_pref": "float32 (users, dim): latent preference p",
    "user_segment": "int8 (users,): the generator's user type, 0 anonymous, 1 weak, 2 heavy",
    "item_vec": "float32 (items, dim): latent item vector v",
    "item_quality": "float32 (items,): quality q",
    "complement_of": "int32 (items,): partner leaf of the item's leaf in a complement pair, -1",
    "item_popularity": "float32 (items,): exposure prior of the logging policy",
    "user_fav_leaves": "int32 (users, 4): favourite leaves, strongest first",
    "user_root_affinity": "float32 (users, roots): standardised root affinity a",
    "user_price_sens": "float32 (users,): price sensitivity s",
    "complement_pairs": "int32 (pairs, 2): anchor leaf, complementary leaf",
    "query_leaf": "int32 (queries,): leaf of the item the query was written from",
    "query_typo": "bool (queries,): the query has a typo",
    "query_synonym": "bool (queries,): the query uses a synonym of the leaf noun",
    "request_target": "int32 (requests,): item a search was written from, -1 for feed",
    "request_boost_leaf": "int32 (requests,): complementary leaf of a follow-up request, -1",
    "utility": "1.5<p,v> + 0.7q + fav bonus (0.9/0.65/0.45/0.3) + 0.3a[root] - s*rel_log_price",
}


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def _write_meta(
    out_dir: Path, seed: int, tax: Taxonomy, cat: Catalog, users: Users, s: SynthSummary
) -> None:
    """``meta.json`` as an import writes it (what the jobs read), and the generator's own
    description of the world in ``simulation/meta.json``."""
    kinds = {"0": "impression", "1": "click", "2": "add_to_cart", "3": "purchase", "4": "search"}
    meta = {
        "source": "synth",
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "start": s.start,
        "end": s.end,
        "split_ts": s.split_ts,
        "cut": f"{SPLIT:g} of the simulated time span",
        "start_iso": _iso(s.start),
        "end_iso": _iso(s.end),
        "split_iso": _iso(s.split_ts),
        "counts": {
            "items": s.n_items,
            "events": s.n_events,
            "events_by_kind": s.kind_counts,
            "queries": s.n_queries,
            "users": int((users.segment > 0).sum()),
            "anonymous_users": int((users.segment == 0).sum()),
            "sessions": s.n_sessions,
            "new_items": int((cat.created_at > s.start).sum()),
            "variant_items": int((cat.variant_group >= 0).sum()),
            "out_of_stock": int((~cat.in_stock).sum()),
        },
        "event_kinds": kinds,
        "segments": {"0": "anonymous", "1": "known"},
        "surfaces": {"0": "feed", "1": "search"},
        "category_tree": tax.tree(),
    }
    names = tax.leaf_names()
    hidden = {
        "generator": "shopnow-synth",
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "dim": DIM,
        "requests": s.n_requests,
        "user_segments": {
            k: int((users.segment == i).sum()) for i, k in enumerate(("anonymous", "weak", "heavy"))
        },
        "complements": [[names[a], names[b]] for a, b in tax.complement_pairs.tolist()],
        "truth": TRUTH_DOC,
    }
    for path, doc in (
        (out_dir / "meta.json", meta),
        (simulation_dir(out_dir) / "meta.json", hidden),
    ):
        path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", "utf-8")


def _advance(bar: tqdm[Any], k: int) -> None:
    bar.update(k)
