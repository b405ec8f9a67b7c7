"""An imported dataset laid out for the jobs: ids become integer codes in first-seen order,
anonymous sessions become anonymous pseudo-users, events on items the catalog lacks are left
out and counted, the cut is the 90% time quantile unless given, and the data loader every job
uses reads the result (no generator truth needed)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import numpy as np
import orjson
import pytest

from engine.core.contracts import FeedRequest, SearchRequest
from engine.core.settings import Settings
from engine.offline.evaluate import evaluate
from engine.offline.train import build_index
from engine.serving.assembly import open_engine
from ingest.imports.adapters import ADAPTERS
from ingest.imports.layout import Protocol, lay_out
from ingest.imports.readers import file_source
from ingest.imports.run import import_all
from synth.dataset import load_dataset
from synth.truth import has_truth

ITEMS = [
    {"id": "a1", "title": "Red mug", "price": 4.5, "created_at": "2024-01-02"},
    {"id": "a2", "title": "Tea pot", "price": 20, "created_at": "2024-01-02"},
    {"id": "a1", "title": "Red mug, large", "price": 5, "created_at": "2024-01-02",
     "version": 2},
]  # fmt: skip
EVENTS = [
    {"ts": "2024-02-01T10:00:00Z", "session_id": "s1", "kind": "view", "item_id": "a1"},
    {"ts": "2024-02-01T10:01:00Z", "session_id": "s1", "user_id": "u1", "kind": "purchase",
     "item_id": "a2"},
    {"ts": "2024-02-02T09:00:00Z", "session_id": "s2", "kind": "search", "query": "mug"},
    {"ts": "2024-02-02T09:01:00Z", "session_id": "s2", "kind": "click", "item_id": "a1",
     "query": "mug", "surface": "search", "position": 0},
    {"ts": "2024-02-03T09:00:00Z", "session_id": "s3", "kind": "add_to_cart", "item_id": "zz"},
    {"ts": "2024-02-04T09:00:00Z", "session_id": "s4", "user_id": "u1", "kind": "purchase",
     "item_id": "a1"},
]  # fmt: skip


def _import(tmp_path: Path) -> Path:
    for name, rows in (("items.jsonl", ITEMS), ("events.jsonl", EVENTS)):
        (tmp_path / name).write_bytes(b"\n".join(orjson.dumps(r) for r in rows))
    ds = tmp_path / "ds"
    import_all(
        [file_source(tmp_path / "items.jsonl", "items"),
         file_source(tmp_path / "events.jsonl", "events")],
        ds,
        progress=False,
    )  # fmt: skip
    return ds


def test_the_layout_codes_ids_and_keeps_the_latest_item(tmp_path: Path) -> None:
    root = _import(tmp_path)
    meta = lay_out(root)
    lines = (root / "items.jsonl").read_bytes().splitlines()
    assert [orjson.loads(x)["title"] for x in lines] == ["Red mug, large", "Tea pot"]
    ds = load_dataset(root)
    e = ds.events
    assert e["kind"].tolist() == [1, 3, 4, 1, 3]  # view -> 1; the cart on "zz" left out
    assert e["item"].tolist() == [0, 1, -1, 0, 0]
    assert e["query"].tolist() == [-1, -1, 0, 0, -1] and ds.queries == ["mug"]
    assert e["surface"].tolist() == [0, 0, 1, 1, 0] and e["position"].tolist()[3] == 0
    users = [str(ds.users["user_ids"][u]) for u in e["user"]]
    assert users == ["~s1", "u1", "~s2", "~s2", "u1"]  # anonymous sessions: pseudo-users
    assert ds.users["segment"][e["user"]].tolist() == [0, 1, 0, 0, 1]
    assert meta["counts"]["events_on_unknown_items"] == 1
    assert meta["start"] < meta["split_ts"] < meta["end"]
    assert meta["split_ts"] == pytest.approx(np.quantile(e["ts"], 0.9))
    assert not has_truth(root)  # nothing like the generator's simulation/


def test_a_given_cut_must_fall_inside_the_events(tmp_path: Path) -> None:
    root = _import(tmp_path)
    t = 1706781600.0  # 2024-02-01T10:00:00Z: the first event
    assert lay_out(root, cut=t + 86400)["split_ts"] == t + 86400
    with pytest.raises(ValueError, match="not inside the events' time span"):
        lay_out(root, cut=t - 1)


def test_online_retail_imports_indexes_and_serves(
    needs_data: Callable[[str], Path], tmp_path: Path
) -> None:
    """The tutorial's first steps on the real data: import, index, serve a search and a feed."""
    root = tmp_path / "retail"
    import_all(ADAPTERS["online-retail"].sources(needs_data("online-retail")), root, progress=False)
    meta = lay_out(root)
    c = meta["counts"]
    assert c["items"] == 3937 and c["events"] == 531_254
    anonymous = load_dataset(root).users["segment"] == 0
    assert anonymous.sum() == c["anonymous_sessions"] > 2000
    s = Settings(
        data_dir=root,
        index_dir=tmp_path / "index",
        model_dir=tmp_path / "models",
        feature_log_dir=tmp_path / "fl",
    )
    assert asyncio.run(build_index(s, progress=False))["indexed"] == 3937

    async def serve() -> tuple[list[str], list[str]]:
        engine = await open_engine(s)
        try:
            found = await engine.rank(SearchRequest(query="red retrospot lunch bag"))
            feed = await engine.rank(FeedRequest(user_id="17850", session_id="t1"))
            return [x.id for x in found.items], [x.id for x in feed.items]
        finally:
            await engine.close()

    found, feed = asyncio.run(serve())
    assert found[0] == "20725"  # LUNCH BAG RED RETROSPOT
    assert len(feed) >= 10
    # held-out baskets after the cut, replayed from interactions, with the baselines
    rep = asyncio.run(evaluate(s, max_requests=300, progress=False))
    assert {"heuristic", "baseline:popular", "baseline:covis"} <= set(rep)
    for name in ("heuristic", "baseline:popular"):
        cells = rep[name]["feed"]
        assert {"anonymous", "weak", "heavy"} <= set(cells)
        assert all(cells[g]["ndcg@10"] > 0 for g in ("anonymous", "weak", "heavy"))
    assert rep["requests"] == 300


def test_a_protocol_is_recorded_and_kept_by_a_later_layout(tmp_path: Path) -> None:
    root = _import(tmp_path)
    day = 86_400.0
    t0 = float(np.datetime64("2024-02-01T00:00:00", "s").astype(np.int64))
    loo = Protocol(cut=t0 + 2.5 * day, feature_ts=t0 + 1.5 * day, requests="next_item", note="x")
    meta = lay_out(root, protocol=loo)
    assert (meta["split_ts"], meta["feature_ts"], meta["requests"]) == (
        t0 + 2.5 * day,
        t0 + 1.5 * day,
        "next_item",
    )
    again = lay_out(root)  # a later import into the same directory, without the adapter
    assert again["protocol"] == meta["protocol"] and again["split_ts"] == meta["split_ts"]
    # a cut given by hand wins; a feature time no longer before it is dropped
    moved = lay_out(root, cut=t0 + 1.0 * day)
    assert moved["split_ts"] == t0 + 1.0 * day and moved["feature_ts"] is None
    (root / "meta.json").unlink()
    assert lay_out(root)["requests"] == "basket"  # nothing recorded: the temporal default
