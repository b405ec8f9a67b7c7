"""The graph model on a small synthetic marketplace: the training data's shape and the content
map's value for items that arrive after training."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from engine.core.settings import Settings
from engine.serving.assembly import load_catalog
from graph.marketplace import inductive_recall, marketplace_graph
from graph.train import LightGCNConfig
from synth.dataset import SynthDataset, load_dataset
from tests.engine.world import synthetic_world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, SynthDataset]]:
    root = tmp_path_factory.mktemp("graph-market")
    with synthetic_world(root, "embedded", items=4000, events=80_000, seed=5) as settings:
        yield settings, load_dataset(settings.data_dir)


def test_validation_is_after_the_cut_and_only_for_known_users(
    world: tuple[Settings, SynthDataset],
) -> None:
    _, ds = world
    data = marketplace_graph(ds, ds.split_ts)
    g = data.train
    assert g.n_items == ds.n_items and g.n_edges > 1000
    assert data.valid.multiply(g.interactions).nnz == 0
    valid_users = np.flatnonzero(np.diff(data.valid.indptr))
    assert len(valid_users) > 20
    assert (g.user_degree()[valid_users] > 0).all()
    assert float(data.events.ts.max()) < ds.split_ts
    assert set(np.unique(data.events.kind).tolist()) <= {1, 2, 3}


def test_content_vectors_find_new_items_far_better_than_chance(
    world: tuple[Settings, SynthDataset], tmp_path: Path
) -> None:
    settings, ds = world
    cfg = LightGCNConfig(batch_size=8192, lr=0.01, max_epochs=15, progress=False)
    rep = inductive_recall(ds, load_catalog(settings), ds.split_ts, cfg)
    assert rep["held_out_items"] > 50 and rep["test_users"] > 10, rep
    assert rep["content_map_new_items_recall@10"] > 1.8 * rep["random_new_items_recall@10"], rep
    assert rep["content_map_catalogue_recall@100"] > rep["random_catalogue_recall@100"], rep
