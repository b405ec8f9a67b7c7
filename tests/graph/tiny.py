"""A graph model trained on the engine tests' tiny world (phones, their cases, vases), in a few
seconds: enough to test the graph sources with a known answer."""

from __future__ import annotations

import numpy as np

from engine.core.catalog import Catalog
from graph.bipartite import Bipartite
from graph.cooccurrence import Events, ItemGraph, ItemGraphParams
from graph.inductive import ContentMap
from graph.serving import GraphModel, GraphServing
from graph.train import LightGCNConfig, train_lightgcn
from tests.engine.world import events


def world_graph_model(
    catalog: Catalog, *, version: str = "graph-test", seed: int = 0
) -> GraphModel:
    ev = events(catalog)
    sessions = ev["session"].astype(np.int64)
    n_users = int(sessions.max()) + 1
    g = Bipartite.from_pairs(sessions, ev["item"].astype(np.int64), n_users, len(catalog))
    cfg = LightGCNConfig(dim=8, batch_size=256, lr=0.05, max_epochs=30, seed=seed, progress=False)
    model = train_lightgcn(g, cfg).model
    users, items = (t.numpy() for t in model.embeddings(g))
    rows = np.flatnonzero(g.item_degree() > 0).astype(np.int64)
    content = ContentMap.fit(catalog, rows, items[rows], l2=0.1)
    item_graph = ItemGraph.build(
        Events(sessions, ev["item"].astype(np.int64), ev["kind"], ev["ts"]),
        len(catalog),
        ItemGraphParams(window=3),
    )
    return GraphModel(
        version,
        list(catalog.ids),
        items,
        [f"u{s}" for s in range(n_users)],
        users,
        content,
        item_graph,
        {"test": True},
    )


def world_graph(catalog: Catalog) -> GraphServing:
    return GraphServing(world_graph_model(catalog), catalog)
