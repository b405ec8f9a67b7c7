"""Training the graph model on the synthetic marketplace's event log (`shopnow train-graph`).

The LightGCN graph links every user to the distinct items they clicked, carted or bought before
``until``; anonymous shoppers are users too (their sessions shape the item vectors; at serving
they are reached through their session items). Validation is the LightGCN protocol on the
interactions in the week after ``until``. The same events build the bought-together
:class:`~graph.cooccurrence.ItemGraph`, and the :class:`~graph.inductive.ContentMap` is fitted
on the trained vectors of items with at least ``min_degree`` interactions.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
import torch

from engine.core.catalog import Catalog
from graph.bipartite import Bipartite
from graph.cooccurrence import Events, ItemGraph, ItemGraphParams
from graph.evaluate import full_ranking
from graph.inductive import ContentMap
from graph.lightgcn import LightGCN
from graph.serving import GraphModel
from graph.train import LightGCNConfig, train_lightgcn
from synth.dataset import SynthDataset

DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class MarketplaceGraph:
    train: Bipartite
    valid: sp.csr_matrix
    events: Events  # click, cart and purchase events before ``until`` (catalog rows)


def marketplace_graph(ds: SynthDataset, until: float, valid_days: float = 7.0) -> MarketplaceGraph:
    ev = ds.events
    act = (ev["kind"] >= 1) & (ev["kind"] <= 3)
    before = act & (ev["ts"] < until)
    after = act & (ev["ts"] >= until) & (ev["ts"] < until + valid_days * DAY)
    n_users = len(ds.users["user_ids"])
    train = Bipartite.from_pairs(
        ev["user"][before].astype(np.int64),
        ev["item"][before].astype(np.int64),
        n_users,
        ds.n_items,
    )
    vu, vi = ev["user"][after].astype(np.int64), ev["item"][after].astype(np.int64)
    seen = train.user_degree() > 0
    keep = seen[vu]  # users the model knows: the others are the content/session path's job
    valid = sp.csr_matrix(
        (np.ones(int(keep.sum()), np.float32), (vu[keep], vi[keep])), shape=(n_users, ds.n_items)
    )
    valid.sum_duplicates()
    valid.data[:] = 1.0
    valid = sp.csr_matrix(valid - valid.multiply(train.interactions > 0))
    valid.eliminate_zeros()
    events = Events(
        ev["user"][before].astype(np.int64),
        ev["item"][before].astype(np.int64),
        ev["kind"][before],
        ev["ts"][before].astype(np.float64),
    )
    return MarketplaceGraph(train, valid, events)


def _fit_batch(cfg: LightGCNConfig, g: Bipartite) -> LightGCNConfig:
    """At least 20 steps an epoch: a small log must not train one step per epoch."""
    batch = min(cfg.batch_size, max(256, g.n_edges // 20))
    return cfg.model_copy(update={"batch_size": batch})


def _degree_mask(g: Bipartite, min_degree: int) -> npt.NDArray[np.bool_]:
    return np.asarray(g.item_degree() >= min_degree)


def train_marketplace_graph(
    ds: SynthDataset,
    catalog: Catalog,
    until: float,
    cfg: LightGCNConfig,
    item_graph: ItemGraphParams | None = None,
    min_degree: int = 3,
    ridge_l2: float = 1.0,
) -> tuple[GraphModel, dict[str, Any]]:
    data = marketplace_graph(ds, until)
    g = data.train
    cfg = _fit_batch(cfg, g)

    def evaluate(model: LightGCN) -> dict[str, float]:
        u, i = model.embeddings(g)
        m = full_ranking(u, i, g.interactions, data.valid, k=20)
        return {"recall@20": m.recall, "ndcg@20": m.ndcg}

    res = train_lightgcn(g, cfg, evaluate)
    users, items = res.model.embeddings(g)
    item_vectors = items.numpy().astype(np.float32)
    t = time.perf_counter()
    fit_rows = np.flatnonzero(_degree_mask(g, min_degree)).astype(np.int64)
    content = ContentMap.fit(catalog, fit_rows, item_vectors[fit_rows], ridge_l2)
    cold = np.flatnonzero(g.item_degree() == 0).astype(np.int64)
    item_vectors[cold] = content.predict(catalog, cold)
    map_s = time.perf_counter() - t
    t = time.perf_counter()
    ig = ItemGraph.build(data.events, len(catalog), item_graph)
    graph_s = time.perf_counter() - t
    best = res.best
    version = f"graph-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{cfg.seed}"
    report: dict[str, Any] = {
        "version": version,
        "users": g.n_users,
        "items": g.n_items,
        "edges": g.n_edges,
        "items_without_interactions": len(cold),
        "best_epoch": res.best_epoch,
        "valid": {} if best is None else {k: round(v, 4) for k, v in best.metrics.items()},
        "train_seconds": round(res.seconds, 1),
        "content_map_seconds": round(map_s, 2),
        "content_map_items": len(fit_rows),
        "item_graph_seconds": round(graph_s, 2),
        "item_graph_edges": int(ig.served.nnz),
        "window": {"until": until},
    }
    model = GraphModel(
        version,
        [catalog.ids[r] for r in range(ds.n_items)],
        item_vectors,
        [str(u) for u in ds.users["user_ids"]],
        users.numpy().astype(np.float32),
        content,
        ig,
        {k: v for k, v in report.items() if k != "version"},
    )
    return model, report


def inductive_recall(
    ds: SynthDataset,
    catalog: Catalog,
    until: float,
    cfg: LightGCNConfig,
    holdout: float = 0.1,
    k_new: int = 10,
    k_all: int = 100,
    seed: int = 0,
) -> dict[str, float]:
    """Recall of content-mapped vectors on items the model never saw.

    A random ``holdout`` share of the items with interactions loses all its training edges
    (they "arrive after training"); the model is trained without them and the content map
    places them. Each user's validation interactions with them are ranked (a) among the
    held-out items only, recall@``k_new`` (what a new-items slot would show), and (b) among the
    whole catalogue with the trained vectors of every other item, recall@``k_all``. Beside it:
    random vectors for the held-out items (chance) and the vectors of a model trained with them
    (the ceiling).
    """
    data = marketplace_graph(ds, until)
    g = data.train
    rng = np.random.default_rng(seed)
    active = np.flatnonzero(g.item_degree() > 0)
    held = np.sort(rng.choice(active, int(len(active) * holdout), replace=False))
    mask = np.ones(g.n_items, bool)
    mask[held] = False
    coo = g.interactions.tocoo()
    keep = mask[coo.col]
    cut = Bipartite.from_pairs(
        coo.row[keep].astype(np.int64), coo.col[keep].astype(np.int64), g.n_users, g.n_items
    )
    quiet = _fit_batch(cfg, g).model_copy(update={"progress": False})
    users, items = (t.numpy() for t in train_lightgcn(cut, quiet).model.embeddings(cut))
    fit_rows = np.flatnonzero(_degree_mask(cut, 3)).astype(np.int64)
    content = ContentMap.fit(catalog, fit_rows, items[fit_rows])
    full_u, full_i = (t.numpy() for t in train_lightgcn(g, quiet).model.embeddings(g))
    placed = {
        "content_map": content.predict(catalog, held.astype(np.int64)),
        "random": rng.normal(0, float(items.std()), (len(held), items.shape[1])).astype(np.float32),
    }
    test_new = sp.csr_matrix(data.valid[:, held])
    no_train = sp.csr_matrix(test_new.shape, dtype=np.float32)
    test_all = sp.csr_matrix(data.valid.multiply(~mask[None, :]))
    out: dict[str, float] = {
        "held_out_items": len(held),
        "test_users": int((np.diff(test_new.indptr) > 0).sum()),
    }

    def recall(
        u: np.ndarray, i: np.ndarray, train: sp.csr_matrix, test: sp.csr_matrix, k: int
    ) -> float:
        m = full_ranking(torch.from_numpy(u), torch.from_numpy(i), train, test, k=k)
        return round(m.recall, 4)

    for name, vecs in placed.items():
        out[f"{name}_new_items_recall@{k_new}"] = recall(users, vecs, no_train, test_new, k_new)
        catalogue = items.copy()
        catalogue[held] = vecs
        out[f"{name}_catalogue_recall@{k_all}"] = recall(
            users, catalogue, g.interactions, test_all, k_all
        )
    out[f"trained_new_items_recall@{k_new}"] = recall(
        full_u, full_i[held], no_train, test_new, k_new
    )
    out[f"trained_catalogue_recall@{k_all}"] = recall(
        full_u, full_i, g.interactions, test_all, k_all
    )
    return out
