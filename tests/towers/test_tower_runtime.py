"""The towers' exported graphs (OpenVINO) against the torch model they came from, and a serving
process without torch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from engine.core.segment import Segment
from engine.core.vocab import Vocab
from tests.serving_install import run_serving
from tests.towers.conftest import random_features
from towers.artifact import TowersArtifact, load_artifact, save_artifact
from towers.model import TowerConfig, TwoTower
from towers.text import TEXT_DIM, encoder_version
from towers.text_runtime import VERSION_FILE
from towers.tower_export import export_version
from towers.tower_runtime import ITEM_GRAPH, QUERY_GRAPH

CFG = TowerConfig(
    dim=16,
    hidden=32,
    text_proj_dim=16,
    field_dim=8,
    n_categories=7,
    n_brands=5,
    max_history=6,
    max_session=4,
    context_names=("surface", "device"),
    context_cardinalities=(2, 3),
)


def _saved(model_dir: Path, cfg: TowerConfig, seed: int = 0) -> str:
    torch.manual_seed(seed)
    model = TwoTower(cfg)
    with torch.no_grad():  # untrained towers start near zero in places: spread the weights
        for p in model.parameters():
            p.add_(0.2 * torch.randn_like(p))
    return save_artifact(
        model_dir,
        model,
        train_config={"seed": seed},
        vocabularies={"category": Vocab.restore(["a"]), "brand": Vocab.restore(["x"])},
        metrics={},
        training_window={"data": "random"},
        restricted_min_support=20,
    )


def _pair(model_dir: Path, version: str) -> tuple[TowersArtifact, TowersArtifact]:
    graphs = load_artifact(model_dir, version, runtime="openvino")
    reference = load_artifact(model_dir, version, runtime="torch")
    assert (graphs.runtime.name, reference.runtime.name) == ("openvino", "torch")
    return graphs, reference


@pytest.mark.parametrize(
    "cfg",
    [CFG, CFG.model_copy(update={"residual": True, "hash_buckets": 32})],
    ids=["plain", "residual-hashed"],
)
def test_item_graph_gives_the_torch_vectors(tmp_path: Path, cfg: TowerConfig) -> None:
    graphs, reference = _pair(tmp_path, _saved(tmp_path, cfg))
    feats = random_features(300, seed=3, n_categories=cfg.n_categories, n_brands=cfg.n_brands)
    feats.categories[:5] = 0  # no category at all: the bag's mean is 0
    feats.text[5:9] = 0.0  # a provisional vector: no text yet
    got, want = graphs.item_vectors(feats), reference.item_vectors(feats)
    assert got.shape == want.shape == (300, cfg.dim)
    assert np.abs(got - want).max() < 1e-4
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize(
    "cfg",
    [CFG, CFG.model_copy(update={"residual": True})],
    ids=["plain", "residual"],
)
def test_query_graph_gives_the_torch_vectors(tmp_path: Path, cfg: TowerConfig) -> None:
    graphs, reference = _pair(tmp_path, _saved(tmp_path, cfg, seed=1))
    rng = np.random.default_rng(0)
    items = rng.normal(size=(12, cfg.dim)).astype(np.float32)
    items /= np.linalg.norm(items, axis=1, keepdims=True)
    text = rng.normal(size=TEXT_DIM).astype(np.float32)
    cases: list[dict[str, object]] = [
        {},
        {"query_text": text / np.linalg.norm(text), "segment": Segment.anonymous},
        {"history": items[:3], "segment": Segment.weak, "context": [1, 2]},
        {"history": items, "session": items[2:9], "segment": Segment.heavy},  # both cut
        {"session": items[:1], "query_text": text, "context": [0, 1]},
    ]
    vectors = []
    for case in cases:
        got = graphs.query_vector(**case)  # type: ignore[arg-type]
        want = reference.query_vector(**case)  # type: ignore[arg-type]
        assert got.shape == (cfg.dim,)
        assert np.abs(got - want).max() < 1e-4, case
        vectors.append(got)
    # the cases are told apart (the inputs reach the graph)
    assert len({tuple(np.round(v, 4)) for v in vectors}) == len(cases)


def test_a_version_without_graphs_is_served_by_torch_until_exported(tmp_path: Path) -> None:
    version = _saved(tmp_path, CFG)
    for name in (ITEM_GRAPH, QUERY_GRAPH):
        (tmp_path / version / name).unlink()
    assert load_artifact(tmp_path).runtime.name == "torch"
    export_version(tmp_path / version)
    graphs = load_artifact(tmp_path)
    assert graphs.runtime.name == "openvino"
    feats = random_features(20, seed=4, n_categories=CFG.n_categories, n_brands=CFG.n_brands)
    want = load_artifact(tmp_path, runtime="torch").item_vectors(feats)
    assert np.abs(graphs.item_vectors(feats) - want).max() < 1e-4


_NO_TORCH = """
import sys
from pathlib import Path
from towers.artifact import load_artifact
from tests.towers.conftest import random_features

art = load_artifact(Path(sys.argv[1]))
print(art.runtime.name, art.query_vector().shape[0], art.item_vectors(random_features(3)).shape)
try:
    load_artifact(Path(sys.argv[2]))
except RuntimeError as exc:
    print("refused:", exc)
assert "torch" not in sys.modules
"""


def test_serving_needs_no_torch(tmp_path: Path) -> None:
    served, old = tmp_path / "served", tmp_path / "old"
    _saved(served, CFG)
    version = _saved(old, CFG)
    (old / version / QUERY_GRAPH).unlink()
    # without the package the weights ship in, the encoder version is read beside the graph
    bundle = tmp_path / "text-encoder"
    bundle.mkdir()
    (bundle / VERSION_FILE).write_text(encoder_version() + "\n")
    done = run_serving(
        _NO_TORCH,
        str(served),
        str(old),
        env={"SHOPNOW_TEXT_ENCODER_GRAPH": str(bundle / "minilm.onnx")},
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"openvino {CFG.dim} (3, {CFG.dim})"
    assert lines[1].startswith("refused:") and "towers.tower_export" in lines[1]
