from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import TypeAdapter

from engine.core.contracts import Item
from synth import SynthDataset, SynthSummary, generate, iter_items
from synth.dataset import FILES
from synth.truth import FILES as TRUTH_FILES
from synth.truth import SIMULATION_DIR, HiddenTruth
from tests.synth.conftest import N_EVENTS, N_ITEMS

IMPRESSION, CLICK, CART, PURCHASE, SEARCH = range(5)


def _bytes(d: Path) -> dict[str, bytes]:
    files = (*FILES, *(f"{SIMULATION_DIR}/{f}" for f in TRUTH_FILES))
    return {f: (d / f).read_bytes() for f in files}


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path) -> None:
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        generate(tmp_path / name, n_items=600, n_events=6_000, seed=seed, progress=False)
    a, b, c = _bytes(tmp_path / "a"), _bytes(tmp_path / "b"), _bytes(tmp_path / "c")
    assert a == b
    for f in ("items.jsonl", "events.npz", f"{SIMULATION_DIR}/truth.npz", "queries.txt"):
        assert a[f] != c[f], f


def test_every_item_validates(synth_dir: tuple[Path, SynthSummary]) -> None:
    rows = list(iter_items(synth_dir[0] / "items.jsonl"))
    items = TypeAdapter(list[Item]).validate_python(rows)
    assert len(items) == N_ITEMS
    assert [it.id for it in items[:2]] == ["i0000000", "i0000001"]
    assert all(it.currency == "USD" and it.created_at.utcoffset() is not None for it in items)
    assert all(len(it.category_path) == 3 and it.seller_rating is not None for it in items)
    assert len({it.brand for it in items}) > 50
    assert all(it.title.split()[0] in it.brand for it in items)


def test_columns_match_items(ds: SynthDataset, hidden: HiddenTruth) -> None:
    rows = list(iter_items(ds.items_path))
    col = hidden.columns
    for name in ("category", "brand", "seller", "price", "in_stock", "created_at", "variant_group"):
        assert col[name].shape == (N_ITEMS,), name
    cats = col["category_names"][col["category"]]
    assert [r["category_path"] for r in rows[:50]] == [c.split("/") for c in cats[:50]]
    assert [r["brand"] for r in rows] == col["brand_names"][col["brand"]].tolist()
    assert [r["seller_id"] for r in rows] == col["seller_names"][col["seller"]].tolist()
    np.testing.assert_allclose([r["price"] for r in rows], col["price"], rtol=1e-6)
    assert [r["availability"] == "in_stock" for r in rows] == col["in_stock"].tolist()
    grouped = [("variant_group" in r["attributes"]) for r in rows]
    assert grouped == (col["variant_group"] >= 0).tolist()
    assert 200 <= len(col["category_names"]) <= 400
    assert hidden.truth["item_vec"].shape[0] == N_ITEMS
    assert hidden.truth["complement_of"].shape == (N_ITEMS,)
    assert hidden.truth["user_pref"].shape[0] == len(ds.users["segment"])


def test_catalog_shares(ds: SynthDataset, hidden: HiddenTruth) -> None:
    col = hidden.columns
    assert 0.05 <= (~col["in_stock"]).mean() <= 0.08
    assert 0.07 <= (col["variant_group"] >= 0).mean() <= 0.13
    sizes = np.bincount(col["variant_group"][col["variant_group"] >= 0])
    assert sizes.min() >= 2
    same = col["category"][col["variant_group"] >= 0]
    g = col["variant_group"][col["variant_group"] >= 0]
    assert all(len(set(same[g == k])) == 1 for k in np.unique(g)[:100])


def test_segment_shares(ds: SynthDataset, hidden: HiddenTruth) -> None:
    seg, ids = hidden.truth["user_segment"], ds.users["user_ids"]
    assert (ds.users["segment"] == (seg > 0)).all()  # the data says only: anonymous or not
    assert abs((seg == 0).mean() - 0.20) < 0.02
    assert abs((seg == 1).mean() - 0.15) < 0.02
    assert (ids[seg == 0] == "").all()
    assert all(i.startswith("u") for i in ids[seg > 0])
    ev = ds.events
    act = (ev["kind"] >= CLICK) & (ev["kind"] <= PURCHASE)
    per_user = np.bincount(ev["user"][act], minlength=len(seg))
    assert per_user[seg == 1].max() <= 3
    assert np.median(per_user[seg == 2]) > 3
    sessions_per_anon = [
        len(np.unique(ev["session"][ev["user"] == u])) for u in np.flatnonzero(seg == 0)[:30]
    ]
    assert max(sessions_per_anon) <= 1


def test_events_sorted_and_reference_existing_items(ds: SynthDataset, hidden: HiddenTruth) -> None:
    ev = ds.events
    n = len(ev["ts"])
    assert 0.85 * N_EVENTS <= n <= N_EVENTS
    assert all(len(v) == n for v in ev.values())
    assert (np.diff(ev["ts"]) >= 0).all()
    has_item = ev["kind"] != SEARCH
    assert (ev["item"][~has_item] == -1).all()
    items = ev["item"][has_item]
    assert items.min() >= 0 and items.max() < N_ITEMS
    assert (hidden.columns["created_at"][items] <= ev["ts"][has_item]).all()
    assert ds.meta["start"] <= ev["ts"].min() and ev["ts"].max() <= ds.meta["end"]
    split = (ds.split_ts - ds.meta["start"]) / (ds.meta["end"] - ds.meta["start"])
    assert split == pytest.approx(0.85)
    assert ((ev["ts"] > ds.split_ts).mean()) > 0.05


def test_impressions_have_requests_and_positions(ds: SynthDataset, hidden: HiddenTruth) -> None:
    ev, rq = ds.events, hidden.requests
    imp = ev["kind"] == IMPRESSION
    assert (ev["request"][imp] >= 0).all() and (ev["position"][imp] >= 0).all()
    assert (ev["position"][~imp] == -1).all()
    assert (np.diff(rq["ts"]) >= 0).all()
    assert (rq["request"] == np.arange(len(rq["request"]))).all()
    pages = np.bincount(ev["request"][imp], minlength=len(rq["request"]))
    assert 10 <= np.median(pages) <= 20 and pages.max() <= 20
    r = ev["request"][imp]
    for col in ("user", "session", "surface", "query"):
        assert (ev[col][imp] == rq[col][r]).all(), col
    assert (ev["ts"][imp] == rq["ts"][r]).all()
    search = rq["surface"] == 1
    assert (rq["query"][search] >= 0).all() and (rq["query"][~search] == -1).all()
    srch = ev["kind"] == SEARCH
    assert srch.sum() == search.sum() and (ev["query"][srch] >= 0).all()
    resp = (ev["kind"] >= CLICK) & (ev["kind"] <= PURCHASE)
    assert (ev["request"][resp] >= 0).all()
    shown = set(zip(ev["request"][imp].tolist(), ev["item"][imp].tolist(), strict=True))
    acted = zip(ev["request"][resp].tolist(), ev["item"][resp].tolist(), strict=True)
    assert all(pair in shown for pair in acted)


def _clicked(ev: dict[str, np.ndarray]) -> np.ndarray:
    imp = ev["kind"] == IMPRESSION
    n_items = int(ev["item"].max()) + 1
    key = ev["request"] * n_items + ev["item"]
    return np.isin(key[imp], key[ev["kind"] == CLICK])


def test_ctr_decreases_with_position(ds: SynthDataset) -> None:
    ev = ds.events
    pos = ev["position"][ev["kind"] == IMPRESSION]
    clicked = _clicked(ev)
    ctr = [clicked[(pos >= lo) & (pos < lo + 3)].mean() for lo in (0, 3, 6, 9)]
    assert ctr == sorted(ctr, reverse=True)
    assert ctr[0] > 3 * ctr[3]
    assert 0.03 < clicked.mean() < 0.15


def test_funnel(ds: SynthDataset, hidden: HiddenTruth) -> None:
    counts = np.bincount(ds.events["kind"], minlength=5)
    assert counts[IMPRESSION] > counts[CLICK] > counts[CART] > counts[PURCHASE] > 0
    ev = ds.events
    buy = ev["kind"] == PURCHASE
    assert hidden.columns["in_stock"][ev["item"][buy]].all()


def test_higher_true_utility_gets_more_clicks(ds: SynthDataset, hidden: HiddenTruth) -> None:
    ev, tr = ds.events, hidden.truth
    feed = (ev["kind"] == IMPRESSION) & (ev["surface"] == 0)
    clicked = _clicked(ev)[ev["surface"][ev["kind"] == IMPRESSION] == 0]
    dot = np.einsum("ij,ij->i", tr["user_pref"][ev["user"][feed]], tr["item_vec"][ev["item"][feed]])
    hi = dot > np.median(dot)
    assert clicked[hi].mean() > 1.3 * clicked[~hi].mean()


def test_complements_follow_purchases(ds: SynthDataset, hidden: HiddenTruth) -> None:
    ev, comp, cat = ds.events, hidden.truth["complement_of"], hidden.columns["category"]
    shown = ev["kind"] <= PURCHASE
    buy = np.flatnonzero((ev["kind"] == PURCHASE) & (comp[np.maximum(ev["item"], 0)] >= 0))
    assert len(buy) >= 20
    partners = comp[ev["item"][buy]]
    shuffled = np.random.default_rng(0).permutation(partners)
    hit, base = [], []
    for b, partner, other in zip(buy, partners, shuffled, strict=True):
        later = shown & (ev["user"] == ev["user"][b]) & (ev["ts"] > ev["ts"][b])
        leaves = set(cat[ev["item"][later]].tolist())
        hit.append(partner in leaves)
        if other != partner:
            base.append(other in leaves)
    assert np.mean(hit) > 2 * np.mean(base)
    assert np.mean(hit) > 0.3


def test_new_items_arrive_during_the_window(ds: SynthDataset, hidden: HiddenTruth) -> None:
    created = hidden.columns["created_at"]
    new = created > ds.meta["start"]
    assert 0.03 <= new.mean() <= 0.05
    assert created[new].max() < ds.meta["end"]
    shown = np.unique(ds.events["item"][ds.events["kind"] == IMPRESSION])
    assert np.isin(np.flatnonzero(new), shown).mean() > 0.5


def test_queries_have_typos_and_synonyms(ds: SynthDataset, hidden: HiddenTruth) -> None:
    q, tr = ds.queries, hidden.truth
    assert len(q) == len(set(q)) == len(tr["query_typo"])
    assert 0.03 < tr["query_typo"].mean() < 0.3
    assert 0.02 < tr["query_synonym"].mean() < 0.3
    words = {w for s in q for w in s.split()}
    assert {"couch", "tv", "bike", "sneaker", "sofa", "television"} & words
    names = hidden.columns["category_names"]
    typo = [s for s, t in zip(q, tr["query_typo"], strict=True) if t]
    leaf_words = {w.lower() for n in names for w in n.replace("/", " ").split()}
    assert all(any(w not in leaf_words for w in s.split()) for s in typo)
    for s, leaf in zip(q[:200], tr["query_leaf"][:200], strict=True):
        assert 0 <= leaf < len(names), s


def test_summary_matches_meta(
    synth_dir: tuple[Path, SynthSummary], ds: SynthDataset, hidden: HiddenTruth
) -> None:
    s = synth_dir[1]
    assert s.n_events == len(ds.events["ts"]) == ds.meta["counts"]["events"]
    assert s.n_requests == len(hidden.requests["ts"])
    assert s.kind_counts["search"] == int((ds.events["kind"] == SEARCH).sum())
    assert ds.meta["seed"] == 7 and ds.meta["generator_version"]
    assert len(hidden.meta["complements"]) >= 20
    assert len(ds.meta["category_tree"]) >= 10


def test_rejects_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="positive"):
        generate(tmp_path, n_items=0, n_events=10, progress=False)
