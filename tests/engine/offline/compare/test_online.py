"""The simulated online tests on a small generated marketplace, with pages built on purpose:
control shows the logged items in a random order, treatment sorts them by true utility."""

from __future__ import annotations

import numpy as np
import pytest

from engine.offline.compare.observe import Collector, Served
from engine.offline.compare.online import simulate, team_draft
from synth import SynthDataset, load_dataset
from synth.outcome import ResponseModel
from synth.truth import load_truth
from tests.engine.world import WORLDS

WORLD = {"items": 2000, "events": 40_000, "seed": 11}


@pytest.fixture(scope="module")
def ds() -> SynthDataset:  # read only: the session's shared world, not a copy
    return load_dataset(WORLDS.data_dir(**WORLD))


def _collector(ds: SynthDataset, n_requests: int = 600) -> Collector:
    hidden = load_truth(WORLDS.data_dir(**WORLD))
    model = ResponseModel(hidden)
    col = Collector(model)
    e = ds.events
    imp = e["kind"] == 0
    rng = np.random.default_rng(0)
    reqs = np.unique(e["request"][imp])[:n_requests]
    for r in reqs.tolist():
        items = np.unique(e["item"][imp & (e["request"] == r)])
        user = int(hidden.requests["user"][r])
        col.served[r] = Served(r, user, "heavy", "feed")
        util = model.utility(r, user, items)
        for name, page in (
            ("control", rng.permutation(items)),
            ("better", items[np.argsort(-util)]),
        ):
            run = col.runs[name]
            run.pages[r], run.degraded[r], run.latency_ms[r] = page, False, 5.0
    return col


def test_team_draft_takes_turns_and_never_repeats() -> None:
    rng = np.random.default_rng(1)
    a, b = np.array([1, 2, 3, 4]), np.array([2, 5, 1, 6])
    rows, team = team_draft(a, b, rng)
    assert len(rows) == 4 and len(set(rows.tolist())) == 4
    assert abs(int(team.sum()) * 2 - len(team)) <= 1  # balanced teams
    for r, t in zip(rows.tolist(), team.tolist(), strict=True):
        assert r in (b if t else a).tolist()
    rows, team = team_draft(np.array([7]), np.array([], np.int64), rng)
    assert rows.tolist() == [7] and team.tolist() == [0]


def test_a_better_ranking_wins_and_interleaving_needs_fewer_users(ds: SynthDataset) -> None:
    out = simulate(ds, _collector(ds), "control", ["better"], replicates=60, seed=3)
    t = out["better"]
    assert t["expected_click_diff_per_request"] > 0
    ab = t["ab"]
    for metric in ("clicks", "purchases", "revenue"):
        m = ab[metric]
        lo, hi = m["ci95"]
        assert lo <= m["diff"] <= hi
        assert m["cuped"]["variance_reduction"] >= -1e-9  # the fitted theta never adds variance
    assert ab["clicks"]["diff"] > 0
    assert ab["guardrails"]["breaches"] == []
    inter = t["interleaving"]
    assert inter["wins_treatment"] > inter["wins_control"]
    assert inter["wins_control"] + inter["wins_treatment"] + inter["ties"] == 600
    sens = t["sensitivity"]
    power = sens["power"]
    assert len(power["interleaving"]) == len(sens["users"]) == len(power["ab"])
    # on the same traffic interleaving detects the better ranking with fewer users
    mid = len(sens["users"]) // 2
    assert power["interleaving"][mid] > power["ab"][mid], sens
    need = sens["users_for_80pct_power"]
    assert need["interleaving"] is not None
    assert need["ab"] is None or need["interleaving"] < need["ab"]
