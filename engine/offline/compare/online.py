"""Simulated online evaluation on the held-out traffic, with the hidden response model.

Every variant's page for every held-out request is known (the offline run kept them); users
then respond to the page they are shown, with the generator's noise and position bias
(:meth:`synth.outcome.ResponseModel.sample`).

* **A/B test**: users split at random into control and treatment (user level: all of a user's
  requests see one arm); per-user clicks, purchases and revenue; difference of means with a
  95% confidence interval (Welch) and p-value; **CUPED** (Deng et al., WSDM 2013) with the
  user's count of the same event before the split as covariate, ``Y - theta (X - mean X)``;
  **guardrails** (p99 latency, degraded and empty pages per arm); and the **sample size** per
  arm that detects a relative change of ``mde`` with 80% power at 5%, with and without CUPED.
* **Team-draft interleaving** (Radlinski, Kurup & Joachims, CIKM 2008) of the two pages on the
  same requests: clicks credited to the team that contributed the item; per request the team
  with more clicks wins; a sign test on the decided requests.
* **Sensitivity**: on the same traffic, how often each method detects the true direction
  (the sign of the expected click difference under the response model) at 5%, for growing
  numbers of users, over ``replicates`` independent response draws and user resamples: the
  power curve of each method, and the users each needs for 80% power.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from engine.core.arrays import F64, I64
from engine.offline.compare.observe import Collector, Served
from synth.dataset import SynthDataset
from synth.outcome import ResponseModel

Z95, Z80 = 1.959964, 0.841621
METRICS = ("clicks", "purchases", "revenue")


def _normal_p(z: float) -> float:
    """Two-sided p-value of a standard normal statistic."""
    return math.erfc(abs(z) / math.sqrt(2))


def pre_period(ds: SynthDataset) -> dict[str, F64]:
    """Per user (index), clicks and purchases before the split: the CUPED covariates."""
    e, split = ds.events, float(ds.meta["split_ts"])
    n = len(ds.users["segment"])
    before = e["ts"] < split
    out = {}
    for name, kind in (("clicks", 1), ("purchases", 3)):
        m = before & (e["kind"] == kind)
        out[name] = np.bincount(e["user"][m], minlength=n).astype(np.float64)
    out["revenue"] = out["purchases"]  # revenue before the split: purchases are its proxy
    return out


def team_draft(a: I64, b: I64, rng: np.random.Generator) -> tuple[I64, npt.NDArray[np.int8]]:
    """Interleave two rankings; returns the rows and the team (0 = a, 1 = b) of each slot.
    The team with fewer picks picks next (a coin decides ties), taking its best item not on
    the page yet; when one side runs out the other fills the page."""
    k = max(len(a), len(b))
    rows: list[int] = []
    team: list[int] = []
    seen: set[int] = set()
    ia = ib = na = nb = 0
    while len(rows) < k:
        while ia < len(a) and int(a[ia]) in seen:
            ia += 1
        while ib < len(b) and int(b[ib]) in seen:
            ib += 1
        if ia >= len(a) and ib >= len(b):
            break
        if ia >= len(a):
            pick_a = False
        elif ib >= len(b):
            pick_a = True
        else:
            pick_a = na < nb or (na == nb and rng.random() < 0.5)
        row = int(a[ia]) if pick_a else int(b[ib])
        na, nb = (na + 1, nb) if pick_a else (na, nb + 1)
        rows.append(row)
        team.append(0 if pick_a else 1)
        seen.add(row)
    return np.asarray(rows, np.int64), np.asarray(team, np.int8)


@dataclass
class _Draws:
    """Per request, ``replicates`` simulated responses to arm a, arm b and the interleaving."""

    a: dict[str, F64]  # metric -> [requests, replicates]
    b: dict[str, F64]
    interleaved: F64  # [requests, replicates]: +1 b's team got more clicks, -1 a's, 0 tie


def _draws(
    model: ResponseModel,
    served: list[Served],
    pages_a: dict[int, I64],
    pages_b: dict[int, I64],
    replicates: int,
    rng: np.random.Generator,
) -> _Draws:
    n = len(served)
    a = {m: np.zeros((n, replicates)) for m in METRICS}
    b = {m: np.zeros((n, replicates)) for m in METRICS}
    inter = np.zeros((n, replicates))
    for i, s in enumerate(served):
        for pages, out in ((pages_a, a), (pages_b, b)):
            clicks, buys, revenue = _sample(model, s, pages[s.request], replicates, rng)
            out["clicks"][i], out["purchases"][i], out["revenue"][i] = clicks, buys, revenue
        rows, team = team_draft(pages_a[s.request], pages_b[s.request], rng)
        if len(rows):
            clicked, _ = model.responses(s.request, s.user, rows, rng, replicates)
            inter[i] = np.sign(clicked[:, team == 1].sum(1) - clicked[:, team == 0].sum(1))
    return _Draws(a, b, inter)


def _sample(
    model: ResponseModel, s: Served, rows: I64, replicates: int, rng: np.random.Generator
) -> tuple[F64, F64, F64]:
    if not len(rows):
        z = np.zeros(replicates)
        return z, z, z
    click, buy = model.responses(s.request, s.user, rows, rng, replicates)
    revenue = (buy * model.price[rows][None, :]).sum(1)
    return click.sum(1).astype(np.float64), buy.sum(1).astype(np.float64), revenue


def _diff(ya: F64, yb: F64) -> dict[str, Any]:
    """Welch difference of means (b - a) with its 95% interval and p-value."""
    ma, mb = float(ya.mean()), float(yb.mean())
    se = math.sqrt(ya.var(ddof=1) / len(ya) + yb.var(ddof=1) / len(yb))
    d = mb - ma
    p = _normal_p(d / se) if se > 0 else 1.0
    return {
        "control": ma,
        "treatment": mb,
        "diff": d,
        "relative": d / ma if ma else float("nan"),
        "ci95": [d - Z95 * se, d + Z95 * se],
        "p_value": p,
    }


def _cuped(y: F64, x: F64) -> tuple[F64, float]:
    vx = float(x.var())
    theta = float(np.cov(x, y, bias=True)[0, 1] / vx) if vx > 0 else 0.0
    return y - theta * (x - x.mean()), theta


def _per_user(owner: I64, values: F64, n_users: int) -> F64:
    """Sum of ``values`` rows per user (``owner[i]``: the user index of row ``i``)."""
    out = np.zeros((n_users, *values.shape[1:]))
    np.add.at(out, owner, values)
    return out


def ab_test(
    served: list[Served],
    draws: _Draws,
    pre: dict[str, F64],
    arm: dict[int, int],
    collector: Collector,
    a: str,
    b: str,
    mde: float,
) -> dict[str, Any]:
    """The A/B test on the first response draw."""
    users = np.array(sorted(arm), np.int64)
    treated = np.array([arm[int(u)] for u in users], bool)
    col = {int(u): i for i, u in enumerate(users)}
    owner = np.array([col[s.user] for s in served], np.int64)
    out: dict[str, Any] = {
        "users": {"control": int((~treated).sum()), "treatment": int(treated.sum())}
    }
    for m in METRICS:
        per_req = np.where(
            np.array([arm[s.user] for s in served], bool)[:, None], draws.b[m], draws.a[m]
        )
        y = _per_user(owner, per_req[:, 0], len(users))
        x = pre[m][users]
        plain = _diff(y[~treated], y[treated])
        adj, theta = _cuped(y, x)
        cuped = _diff(adj[~treated], adj[treated])
        vr = 1 - float(adj.var() / y.var()) if y.var() > 0 else 0.0
        sigma, sigma_c = float(y.std()), float(adj.std())
        delta = mde * plain["control"]
        size = (
            {
                "plain": math.ceil(2 * (Z95 + Z80) ** 2 * sigma**2 / delta**2),
                "cuped": math.ceil(2 * (Z95 + Z80) ** 2 * sigma_c**2 / delta**2),
            }
            if delta > 0
            else {}
        )
        out[m] = {
            **plain,
            "cuped": {**cuped, "theta": theta, "variance_reduction": vr},
            "users_per_arm_for_mde": size,
        }
    out["guardrails"] = _guardrails(served, arm, collector, a, b)
    return out


def _guardrails(
    served: list[Served], arm: dict[int, int], collector: Collector, a: str, b: str
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, variant, flag in (("control", a, 0), ("treatment", b, 1)):
        run = collector.runs[variant]
        reqs = [s.request for s in served if arm[s.user] == flag]
        lat = np.array([run.latency_ms[r] for r in reqs])
        out[name] = {
            "requests": len(reqs),
            "p99_ms": round(float(np.percentile(lat, 99)), 2) if len(lat) else None,
            "degraded_share": round(float(np.mean([run.degraded[r] for r in reqs])), 4),
            "empty_share": round(float(np.mean([len(run.pages[r]) == 0 for r in reqs])), 4),
        }
    c, t = out["control"], out["treatment"]
    breaches = []
    if c["p99_ms"] and t["p99_ms"] and t["p99_ms"] > 1.2 * c["p99_ms"]:
        breaches.append(f"p99 latency {t['p99_ms']} ms against {c['p99_ms']} ms (+20% allowed)")
    for key in ("degraded_share", "empty_share"):
        if t[key] > c[key] + 0.01:
            breaches.append(f"{key} {t[key]} against {c[key]}")
    out["breaches"] = breaches
    return out


def interleaving(draws: _Draws) -> dict[str, Any]:
    first = draws.interleaved[:, 0]
    wins_b, wins_a = int((first > 0).sum()), int((first < 0).sum())
    decided = wins_a + wins_b
    z = (wins_b - wins_a) / math.sqrt(decided) if decided else 0.0
    return {
        "requests": len(first),
        "wins_control": wins_a,
        "wins_treatment": wins_b,
        "ties": len(first) - decided,
        "delta": (wins_b - wins_a) / len(first) if len(first) else 0.0,
        "p_value": _normal_p(z) if decided else 1.0,
    }


def sensitivity(
    served: list[Served],
    draws: _Draws,
    pre: dict[str, F64],
    truth_sign: float,
    rng: np.random.Generator,
    sizes: list[int],
) -> dict[str, Any]:
    """Power to find the true direction at 5%, per method, for ``sizes`` users."""
    users = np.array(sorted({s.user for s in served}), np.int64)
    col = {int(u): i for i, u in enumerate(users)}
    owner = np.array([col[s.user] for s in served])
    n_rep = draws.interleaved.shape[1]
    # per user and replicate: clicks under a, under b; interleaving wins of b and of a
    n_users = len(users)
    ya = _per_user(owner, draws.a["clicks"], n_users)
    yb = _per_user(owner, draws.b["clicks"], n_users)
    wb = _per_user(owner, (draws.interleaved > 0).astype(np.float64), n_users)
    wa = _per_user(owner, (draws.interleaved < 0).astype(np.float64), n_users)
    x = pre["clicks"][users]
    power: dict[str, list[float]] = defaultdict(list)
    for n in sizes:
        hits: dict[str, int] = defaultdict(int)
        for r in range(n_rep):
            pick = rng.integers(0, len(users), n)
            treat = rng.random(n) < 0.5
            if treat.all() or not treat.any():
                continue
            y = np.where(treat, yb[pick, r], ya[pick, r])
            for name, vals in (("ab", y), ("ab_cuped", _cuped(y, x[pick])[0])):
                d = _diff(vals[~treat], vals[treat])
                if d["p_value"] < 0.05 and np.sign(d["diff"]) == truth_sign:
                    hits[name] += 1
            b_wins, a_wins = wb[pick, r].sum(), wa[pick, r].sum()
            if b_wins + a_wins > 0:
                z = (b_wins - a_wins) / math.sqrt(b_wins + a_wins)
                if _normal_p(z) < 0.05 and np.sign(z) == truth_sign:
                    hits["interleaving"] += 1
        for name in ("ab", "ab_cuped", "interleaving"):
            power[name].append(hits[name] / n_rep)
    needed = {
        name: next((n for n, p in zip(sizes, vals, strict=True) if p >= 0.8), None)
        for name, vals in power.items()
    }
    return {"users": sizes, "power": dict(power), "users_for_80pct_power": needed}


def simulate(
    ds: SynthDataset,
    collector: Collector,
    control: str,
    treatments: list[str],
    *,
    replicates: int = 100,
    mde: float = 0.05,
    seed: int = 0,
) -> dict[str, Any]:
    """A/B, interleaving and sensitivity of every treatment against ``control``."""
    model = collector.model
    if model is None:
        raise ValueError("simulated online tests need the hidden response model (simulation/)")
    pre = pre_period(ds)
    served = sorted(collector.served.values(), key=lambda s: s.request)
    out: dict[str, Any] = {"control": control, "replicates": replicates, "mde": mde}
    for t in treatments:
        rng = np.random.default_rng(seed)
        users = sorted({s.user for s in served})
        arm = {u: int(x) for u, x in zip(users, rng.random(len(users)) < 0.5, strict=True)}
        draws = _draws(
            model, served, collector.runs[control].pages, collector.runs[t].pages, replicates, rng
        )
        expected = sum(
            model.page(s.request, s.user, collector.runs[t].pages[s.request]).clicks
            - model.page(s.request, s.user, collector.runs[control].pages[s.request]).clicks
            for s in served
        )
        n_users = len(users)
        sizes = sorted({max(20, int(n_users * f)) for f in (0.1, 0.2, 0.35, 0.5, 0.75, 1.0)})
        out[t] = {
            "expected_click_diff_per_request": expected / max(len(served), 1),
            "ab": ab_test(served, draws, pre, arm, collector, control, t, mde),
            "interleaving": interleaving(draws),
            "sensitivity": sensitivity(served, draws, pre, float(np.sign(expected)), rng, sizes),
        }
    return out
