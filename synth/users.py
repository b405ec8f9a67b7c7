"""Users: segments and hidden preferences, and the true utility of (user, item) pairs.

Utility, the quantity clicks and purchases follow::

    u(user, item) = 1.5 <p_user, v_item> + 0.7 q_item + sum_k w_k [leaf(item) = fav_k(user)]
                    + 0.3 a_user[root(item)] - s_user (log price_item - mean log price of leaf)

with ``p`` a latent preference built from two leaf centres, ``fav`` four favourite leaves with
weights ``FAV_BONUS``, ``a`` a standardised root affinity and ``s`` a price sensitivity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.core.arrays import F32, F64, I32, I64
from synth.catalog import DIM, Catalog
from synth.taxonomy import Taxonomy

ANONYMOUS, WEAK, HEAVY = 0, 1, 2
SHARE_ANONYMOUS, SHARE_WEAK = 0.20, 0.15
FAV_BONUS = np.array([0.9, 0.65, 0.45, 0.3], np.float32)
N_FAV = len(FAV_BONUS)


@dataclass(frozen=True)
class Users:
    segment: npt.NDArray[np.int8]
    pref: F32  # (n, DIM)
    fav: I32  # (n, N_FAV) favourite leaves, strongest first
    root_affinity: F32  # (n, n_roots), standardised per user
    root_cum: F64  # flat (n * n_roots): user + cumulative root probability (for sampling)
    price_sens: F32
    activity: F64

    @property
    def n(self) -> int:
        return len(self.segment)

    def ids(self) -> list[str]:
        w = max(6, len(str(self.n)))
        return [
            "" if s == ANONYMOUS else f"u{i:0{w}d}" for i, s in enumerate(self.segment.tolist())
        ]

    def draw_root(self, rng: np.random.Generator, user: I64) -> I64:
        n_roots = self.root_affinity.shape[1]
        pos = np.searchsorted(self.root_cum, user + rng.random(len(user)) * 0.999999, "right")
        out: I64 = np.clip(pos - user * n_roots, 0, n_roots - 1)
        return out

    def draw_fav(self, rng: np.random.Generator, user: I64) -> I64:
        k = rng.choice(N_FAV, len(user), p=FAV_BONUS / FAV_BONUS.sum())
        out: I64 = self.fav[user, k].astype(np.int64)
        return out


def make_users(
    rng: np.random.Generator, tax: Taxonomy, cat: Catalog, centers: F64, n_users: int
) -> Users:
    n_anon = round(SHARE_ANONYMOUS * n_users)
    n_weak = round(SHARE_WEAK * n_users)
    segment = np.full(n_users, HEAVY, np.int8)
    segment[:n_anon] = ANONYMOUS
    segment[n_anon : n_anon + n_weak] = WEAK
    segment = rng.permutation(segment)

    counts = np.bincount(cat.leaf, minlength=tax.n_leaves)
    live = counts > 0
    leaf_p = np.sqrt(counts) / np.sqrt(counts).sum()
    l1 = rng.choice(tax.n_leaves, n_users, p=leaf_p)
    l2 = rng.choice(tax.n_leaves, n_users, p=leaf_p)
    pref = 0.8 * centers[l1] + 0.5 * centers[l2] + rng.normal(0, 0.7, (n_users, DIM))
    pref = (pref / np.sqrt(DIM)).astype(np.float32)

    fav = np.empty((n_users, N_FAV), np.int32)
    root_aff = np.empty((n_users, tax.n_roots), np.float32)
    root_lo, root_hi = tax.root_range()
    c32 = (centers / np.sqrt(DIM)).astype(np.float32)
    for lo in range(0, n_users, 20_000):
        hi = min(n_users, lo + 20_000)
        score = pref[lo:hi] @ c32.T  # expected <p, v> for items of each leaf
        noisy = np.where(live, score + rng.gumbel(0, 0.3, score.shape), -np.inf)
        fav[lo:hi] = np.argsort(-noisy, axis=1, kind="stable")[:, :N_FAV]
        by_root = np.add.reduceat(score, root_lo, axis=1) / (root_hi - root_lo)
        mu, sd = by_root.mean(1, keepdims=True), by_root.std(1, keepdims=True) + 1e-6
        root_aff[lo:hi] = (by_root - mu) / sd
    logits = 1.2 * root_aff.astype(np.float64)
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    root_cum = (np.arange(n_users)[:, None] + np.cumsum(p, axis=1)).ravel()
    return Users(
        segment=segment,
        pref=pref,
        fav=fav,
        root_affinity=root_aff,
        root_cum=root_cum,
        price_sens=rng.lognormal(np.log(0.5), 0.5, n_users).astype(np.float32),
        activity=rng.lognormal(0, 1.0, n_users),
    )


def rel_log_price(cat: Catalog, n_leaves: int) -> F32:
    """log price minus the mean log price of the item's leaf."""
    lp = np.log(cat.price.astype(np.float64))
    n = np.maximum(np.bincount(cat.leaf, minlength=n_leaves), 1)
    mean = np.bincount(cat.leaf, weights=lp, minlength=n_leaves) / n
    out: F32 = (lp - mean[cat.leaf]).astype(np.float32)
    return out


def base_utility(
    users: Users, cat: Catalog, rel_price: F32, user: I64, item: I64, chunk: int = 1_000_000
) -> F32:
    out = np.empty(len(user), np.float32)
    for lo in range(0, len(user), chunk):
        u, i = user[lo : lo + chunk], item[lo : lo + chunk]
        dot = np.einsum("ij,ij->i", users.pref[u], cat.item_vec[i])
        leaf = cat.leaf[i]
        fav = (users.fav[u] == leaf[:, None]) @ FAV_BONUS
        aff = users.root_affinity[u, cat.root[i]]
        out[lo : lo + chunk] = (
            1.5 * dot + 0.7 * cat.quality[i] + fav + 0.3 * aff - users.price_sens[u] * rel_price[i]
        )
    return out
