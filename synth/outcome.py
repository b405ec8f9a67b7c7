"""What a page would earn: the synthetic users' expected response to any ranked list.

The generator's response model (:mod:`synth.simulate`) read back from the hidden ground
truth (``simulation/``, :mod:`synth.truth`), so a page that some engine produced, not the
logging policy, can be scored: the item at 0-based position ``k`` is examined with probability
``(1 + k) ** -EXAM_DECAY`` and clicked with ``sigmoid(u_ctx - CLICK_BIAS)`` (times 0.6 when out
of stock), a click becomes a cart with ``P_CART sigmoid(u_ctx - 1.5)`` (in stock only) and a
cart a purchase with ``P_BUY sigmoid(u_ctx - 1)``. ``u_ctx`` is the user's utility of the item
(:func:`synth.users.base_utility`), for search ``0.5 u + relevance`` (+2 in the query's
leaf, 0 in its mid category, -2 elsewhere), plus 1.5 in the complementary leaf of a follow-up
request. Two simplifications against the generator: the N(0, 0.5) noise on ``u_ctx`` is left
out (expectations use its mean), and so are the brand and colour terms of search relevance
(the generator does not save the parsed query).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.core.arrays import F64, I64
from synth.simulate import CLICK_BIAS, EXAM_DECAY, P_BUY, P_CART
from synth.taxonomy import taxonomy
from synth.truth import HiddenTruth
from synth.users import FAV_BONUS


def _sigmoid(x: F64) -> F64:
    out: F64 = 1.0 / (1.0 + np.exp(-x))
    return out


@dataclass(frozen=True, slots=True)
class PageOutcome:
    """Expected counts for one page."""

    clicks: float
    purchases: float
    revenue: float


class ResponseModel:
    def __init__(self, hidden: HiddenTruth) -> None:
        t, cols = hidden.truth, hidden.columns
        self.pref, self.item_vec = t["user_pref"], t["item_vec"]
        self.quality = t["item_quality"].astype(np.float64)
        self.fav, self.aff, self.sens = (
            t["user_fav_leaves"],
            t["user_root_affinity"],
            t["user_price_sens"],
        )
        tax = taxonomy()
        self.leaf = cols["category"].astype(np.int64)
        self.root = tax.leaf_root[self.leaf]
        self.leaf_mid = tax.leaf_mid
        self.price = cols["price"].astype(np.float64)
        self.in_stock = cols["in_stock"].astype(bool)
        lp = np.log(self.price)
        n_leaves = len(tax.leaf_mid)
        counts = np.maximum(np.bincount(self.leaf, minlength=n_leaves), 1)
        mean = np.bincount(self.leaf, weights=lp, minlength=n_leaves) / counts
        self.rel_price = lp - mean[self.leaf]
        self.request_query = hidden.requests["query"]
        self.query_leaf = t["query_leaf"]
        self.boost_leaf = t["request_boost_leaf"]

    def utility(self, request: int, user: int, rows: I64) -> F64:
        """``u_ctx`` of ``rows`` for logged request ``request`` by user ``user``."""
        rows = np.asarray(rows, np.int64)
        leaf = self.leaf[rows]
        u = (
            1.5 * (self.item_vec[rows] @ self.pref[user]).astype(np.float64)
            + 0.7 * self.quality[rows]
            + (self.fav[user][None, :] == leaf[:, None]) @ FAV_BONUS.astype(np.float64)
            + 0.3 * self.aff[user, self.root[rows]]
            - self.sens[user] * self.rel_price[rows]
        )
        q = int(self.request_query[request])
        if q >= 0:
            qleaf = int(self.query_leaf[q])
            in_mid = self.leaf_mid[leaf] == self.leaf_mid[qleaf]
            relevance = np.where(leaf == qleaf, 2.0, np.where(in_mid, 0.0, -2.0))
            u = 0.5 * u + relevance
        out: F64 = u + 1.5 * (leaf == int(self.boost_leaf[request]))
        return out

    def click_probability(self, request: int, user: int, rows: I64) -> F64:
        """Probability of a click at the top position: how relevant each row truly is."""
        u = self.utility(request, user, rows)
        return _sigmoid(u - CLICK_BIAS) * np.where(self.in_stock[rows], 1.0, 0.6)

    def responses(
        self, request: int, user: int, rows: I64, rng: np.random.Generator, n: int
    ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
        """``n`` independent simulated responses to ``rows`` shown in this order, with the
        generator's N(0, 0.5) noise on ``u_ctx``: (clicked, purchased), each ``[n, len(rows)]``."""
        rows = np.asarray(rows, np.int64)
        k = len(rows)
        u = self.utility(request, user, rows)[None, :] + rng.normal(0.0, 0.5, (n, k))
        stock = self.in_stock[rows][None, :]
        exam = (1.0 + np.arange(k)) ** -EXAM_DECAY
        p_click = exam * _sigmoid(u - CLICK_BIAS) * np.where(stock, 1.0, 0.6)
        click = rng.random((n, k)) < p_click
        cart = click & stock & (rng.random((n, k)) < P_CART * _sigmoid(u - 1.5))
        buy = cart & (rng.random((n, k)) < P_BUY * _sigmoid(u - 1.0))
        return click, buy

    def sample(
        self, request: int, user: int, rows: I64, rng: np.random.Generator
    ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
        """One simulated response: (clicked, purchased) per row."""
        click, buy = self.responses(request, user, rows, rng, 1)
        return click[0], buy[0]

    def page(self, request: int, user: int, rows: I64) -> PageOutcome:
        """Expected clicks, purchases and revenue of ``rows`` shown in this order."""
        rows = np.asarray(rows, np.int64)
        if len(rows) == 0:
            return PageOutcome(0.0, 0.0, 0.0)
        u = self.utility(request, user, rows)
        stock = self.in_stock[rows]
        exam = (1.0 + np.arange(len(rows))) ** -EXAM_DECAY
        click = exam * _sigmoid(u - CLICK_BIAS) * np.where(stock, 1.0, 0.6)
        buy = click * stock * P_CART * _sigmoid(u - 1.5) * P_BUY * _sigmoid(u - 1.0)
        return PageOutcome(
            float(click.sum()), float(buy.sum()), float((buy * self.price[rows]).sum())
        )
