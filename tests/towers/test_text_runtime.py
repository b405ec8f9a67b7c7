from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.serving_install import run_serving
from towers import text
from towers.text import TextEncoder, load_graph_model, load_sentence_model
from towers.text_export import export_text_encoder
from towers.text_runtime import OpenVinoText

TEXTS = [
    "red lipstick",
    "Northnest Cozy Drawer Organizer Cream King\nCozy drawer organizer by Northnest in cream, "
    "material linen. Easy to clean and built for everyday use in any kitchen or bedroom.",
    "aa battery 6 pc",
    "HP 304XL black ink cartridge, high yield, 300 pages " * 12,  # truncated at 128 tokens
    "wireless headphones",
]


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_text_encoder(tmp_path_factory.mktemp("encoder") / "minilm.onnx")


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    model = load_sentence_model(1, 128)
    return np.asarray(model.encode(TEXTS, normalize_embeddings=True, convert_to_numpy=True))


def test_the_exported_graph_in_float32_gives_the_torch_vectors(
    graph: Path, reference: np.ndarray
) -> None:
    model = OpenVinoText(graph, num_threads=1, precision="f32")
    got = model.encode(TEXTS, batch_size=2)  # batches of different lengths, padded apart
    assert got.shape == reference.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, reference, atol=1e-4)
    one_by_one = np.stack([model.encode([t])[0] for t in TEXTS])
    np.testing.assert_allclose(one_by_one, got, atol=1e-5)  # padding does not leak in


def test_the_served_precision_keeps_the_direction_of_every_vector(
    graph: Path, reference: np.ndarray
) -> None:
    model = OpenVinoText(graph, num_threads=2)  # bfloat16 where the CPU has it
    got = model.encode(TEXTS)
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-3)
    assert (got * reference).sum(axis=1).min() > 0.9999, model.precision


def test_the_encoder_runs_the_graph_by_default_and_torch_on_request(
    reference: np.ndarray,
) -> None:
    served, ref = TextEncoder(None, num_threads=1), TextEncoder(None, backend="torch")
    a, b = served.encode(TEXTS), ref.encode(TEXTS)
    assert isinstance(served._model, OpenVinoText) and not isinstance(ref._model, OpenVinoText)
    np.testing.assert_allclose(b, reference, atol=1e-5)
    assert (a * b).sum(axis=1).min() > 0.9999


def test_a_serving_install_without_a_graph_or_torch_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOPNOW_TEXT_ENCODER_GRAPH", str(tmp_path / "missing.onnx"))
    monkeypatch.setitem(sys.modules, "towers.text_export", None)  # import fails, as without torch
    load_graph_model.cache_clear()
    with pytest.raises(RuntimeError, match=r"no exported text encoder at .*missing\.onnx"):
        text.load_graph_model(3, 64)
    assert not (tmp_path / "missing.onnx").exists()
    load_graph_model.cache_clear()


_BUNDLE_ONLY = """
import json, sys
from towers.text import TextEncoder

encoder = TextEncoder(None, num_threads=1)
vectors = encoder.encode(json.loads(sys.argv[1]))
print(json.dumps({"version": encoder.version, "vectors": vectors.tolist()}))
"""


def test_the_exported_directory_is_the_whole_encoder_for_a_serving_install(
    graph: Path, reference: np.ndarray
) -> None:
    # tokenizer and version beside the graph: neither torch nor the weights' package needed
    done = run_serving(
        _BUNDLE_ONLY, json.dumps(TEXTS), env={"SHOPNOW_TEXT_ENCODER_GRAPH": str(graph)}
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.splitlines()[-1])
    assert out["version"] == text.encoder_version()
    got = np.asarray(out["vectors"], np.float32)
    assert got.shape == reference.shape
    assert (np.sum(got * reference, axis=1) > 0.9999).all()
