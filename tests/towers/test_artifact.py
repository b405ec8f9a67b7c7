from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine.core.segment import Segment
from engine.core.vocab import Vocab
from tests.towers.conftest import cluster_world, random_features
from tests.towers.test_train import TOWER, _cfg
from towers.artifact import (
    TextEncoderMismatch,
    current_version,
    load_artifact,
    save_artifact,
    set_current,
)
from towers.features import embedding_ids
from towers.text import TEXT_DIM
from towers.train import train


@pytest.fixture(scope="module")
def trained() -> object:
    feats, tr, va = cluster_world()
    return feats, train(feats, tr, va, TOWER, _cfg(max_epochs=2))


def _save(model_dir: Path, trained: object, **kw: object) -> str:
    _, res = trained  # type: ignore[misc]
    return save_artifact(
        model_dir,
        res.model,
        train_config=_cfg().model_dump(mode="json"),
        vocabularies={"category": Vocab.restore(["a", "b"]), "brand": Vocab.restore(["x"])},
        metrics=res.valid_metrics,
        training_window={"data": "cluster world"},
        restricted_min_support=20,
        **kw,  # type: ignore[arg-type]
    )


def test_round_trip_serves_the_same_vectors(tmp_path: Path, trained: object) -> None:
    feats, res = trained  # type: ignore[misc]
    version = _save(tmp_path, trained)
    assert current_version(tmp_path) == version and version.startswith("towers-")
    art = load_artifact(tmp_path)
    assert art.version == version
    iv = art.item_vectors(feats)
    assert iv.dtype == np.float32 and iv.shape == (len(feats), TOWER.dim)
    assert np.allclose(np.linalg.norm(iv, axis=1), 1.0, atol=1e-5)
    assert np.allclose(iv, res.model.item_vectors(feats).detach().numpy(), atol=1e-6)
    q = art.query_vector(history=iv[[3, 7]], segment=Segment.weak)
    assert q.dtype == np.float32 and q.shape == (TOWER.dim,)
    assert np.linalg.norm(q) == pytest.approx(1.0, abs=1e-5)
    assert embedding_ids(art.vocabularies["category"], ["b", "zzz"]).tolist() == [2, 0]
    meta = json.loads((tmp_path / version / "meta.json").read_text())
    assert meta["text_encoder"].endswith("all-MiniLM-L6-v2")
    assert meta["training_window"] == {"data": "cluster world"}


def test_query_vector_without_user_history_or_query(tmp_path: Path, trained: object) -> None:
    _save(tmp_path, trained)
    art = load_artifact(tmp_path)
    for q in (
        art.query_vector(),
        art.query_vector(query_text=np.ones(TEXT_DIM, np.float32) / np.sqrt(TEXT_DIM)),
        art.query_vector(history=np.zeros((0, TOWER.dim), np.float32), context=[1]),
    ):
        assert q.shape == (TOWER.dim,) and np.isfinite(q).all()


def test_new_items_get_vectors_from_content_alone(tmp_path: Path, trained: object) -> None:
    _save(tmp_path, trained)
    new = random_features(4, seed=9, n_categories=5, n_brands=1)
    v = load_artifact(tmp_path).item_vectors(new)
    assert v.shape == (4, TOWER.dim) and np.isfinite(v).all()


def test_versions_and_current(tmp_path: Path, trained: object) -> None:
    v1 = _save(tmp_path, trained)
    v2 = _save(tmp_path, trained, make_current=False)
    assert v1 != v2 and current_version(tmp_path) == v1
    set_current(tmp_path, v2)
    assert load_artifact(tmp_path).version == v2
    assert load_artifact(tmp_path, v1).version == v1
    with pytest.raises(FileNotFoundError):
        set_current(tmp_path, "towers-nope")


def test_refuses_another_text_encoder(tmp_path: Path, trained: object) -> None:
    _save(tmp_path, trained, text_encoder="some-other-encoder==9/x")
    with pytest.raises(TextEncoderMismatch):
        load_artifact(tmp_path)
    assert load_artifact(tmp_path, check_text_encoder=False).dim == TOWER.dim
