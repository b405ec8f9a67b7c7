"""Versioned two-tower artifacts and the serving wrapper.

Layout under a model directory (e.g. ``Settings().model_dir / "towers"``)::

    <model_dir>/CURRENT                    the version served by default (atomically replaced)
    <model_dir>/<version>/weights.pt       both towers' state dicts (loaded weights_only)
    <model_dir>/<version>/item.onnx        the towers exported as graphs (towers.tower_export),
    <model_dir>/<version>/query.onnx       what serving runs, without torch
    <model_dir>/<version>/meta.json        :class:`ArtifactMeta`: configs, vocabularies,
                                           text-encoder version, metrics, training window

``version`` is ``towers-<UTC time>-<first 10 hex of sha256(weights + meta)>``: the string every
item vector must be tagged with, so a request never mixes vectors of two models.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

from engine.core.arrays import F32
from engine.core.segment import Segment
from engine.core.vocab import Vocab
from towers.config import TowerConfig
from towers.features import ItemFeatures, check_compliance
from towers.text import TextEncoder, encoder_version
from towers.tower_runtime import GraphTowers, QueryArrays, TorchTowers, TowerRuntime, has_graphs

if TYPE_CHECKING:
    from towers.model import TwoTower

CURRENT = "CURRENT"
Runtime = Literal["auto", "openvino", "torch"]


class ArtifactMeta(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str
    created_at: str
    tower_config: TowerConfig
    train_config: dict[str, Any]
    text_encoder: str
    # name -> Vocab.names(): token k has vocabulary index k (embedding row: towers.features)
    vocabularies: dict[str, list[str]]
    metrics: dict[str, float]
    training_window: dict[str, str]  # e.g. {"start": iso, "end": iso} or {"data": "..."}
    restricted_min_support: int


class TextEncoderMismatch(RuntimeError):
    pass


def save_artifact(
    model_dir: Path,
    model: TwoTower,
    *,
    train_config: dict[str, Any],
    vocabularies: dict[str, Vocab],
    metrics: dict[str, float],
    training_window: dict[str, str],
    restricted_min_support: int,
    text_encoder: str | None = None,
    make_current: bool = True,
) -> str:
    """Write a new version, its weights, meta and exported graphs, and (by default) point
    CURRENT at it; returns the version."""
    import torch

    from towers.tower_export import export_towers

    check_compliance(restricted_min_support)
    buf = io.BytesIO()
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    torch.save(state, buf)
    weights = buf.getvalue()
    now = datetime.now(UTC)
    body: dict[str, Any] = {
        "created_at": now.isoformat(),
        "tower_config": model.cfg.model_dump(mode="json"),
        "train_config": train_config,
        "text_encoder": text_encoder or encoder_version(),
        "vocabularies": {k: v.names() for k, v in vocabularies.items()},
        "metrics": metrics,
        "training_window": training_window,
        "restricted_min_support": restricted_min_support,
    }
    digest = hashlib.sha256(weights + json.dumps(body, sort_keys=True).encode()).hexdigest()
    version = f"towers-{now.strftime('%Y%m%dT%H%M%SZ')}-{digest[:10]}"
    meta = ArtifactMeta(version=version, **body)
    out = model_dir / version
    out.mkdir(parents=True, exist_ok=False)
    (out / "weights.pt").write_bytes(weights)
    (out / "meta.json").write_text(meta.model_dump_json(indent=2))
    export_towers(model, out)
    if make_current:
        set_current(model_dir, version)
    return version


def set_current(model_dir: Path, version: str) -> None:
    if not (model_dir / version / "meta.json").exists():
        raise FileNotFoundError(f"no towers artifact {version} under {model_dir}")
    tmp = model_dir / f".{CURRENT}.tmp"
    tmp.write_text(version + "\n")
    os.replace(tmp, model_dir / CURRENT)


def current_version(model_dir: Path) -> str | None:
    p = model_dir / CURRENT
    return p.read_text().strip() if p.exists() else None


class TowersArtifact:
    """A loaded model for serving. Thread-safe for inference (no state is mutated)."""

    def __init__(self, meta: ArtifactMeta, runtime: TowerRuntime, model_dir: Path) -> None:
        self.meta = meta
        self.runtime = runtime
        self.model_dir = model_dir  # the directory holding <version>/
        self.version = meta.version
        self.dim = meta.tower_config.dim
        self.vocabularies = {k: Vocab.restore(v) for k, v in meta.vocabularies.items()}
        cfg = meta.tower_config
        self._no_text = np.zeros((1, cfg.text_dim), np.float32)

    def item_vectors(self, features: ItemFeatures) -> F32:
        """``float32 [n, dim]``, unit rows, from content alone (new items included)."""
        return self.runtime.item_vectors(features)

    def query_vector(
        self,
        *,
        history: F32 | None = None,
        session: F32 | None = None,
        query_text: F32 | None = None,
        segment: Segment = Segment.anonymous,
        context: Sequence[int] | None = None,
    ) -> F32:
        """``float32 [dim]``, unit norm. ``history`` / ``session`` are item vectors of this
        version (``[h, dim]``, most recent first, e.g. read from the index or from
        :meth:`item_vectors`); ``query_text`` a 384-d text embedding (:meth:`encode_query`);
        ``context`` one id per ``tower_config.context_names`` (default all 0)."""
        cfg = self.meta.tower_config
        history, history_mask = self._padded(history, cfg.max_history)
        session, session_mask = self._padded(session, cfg.max_session)
        qt = self._no_text
        if query_text is not None:
            qt = np.ascontiguousarray(query_text, np.float32).reshape(1, -1)
        ctx = list(context) if context is not None else [0] * len(cfg.context_cardinalities)
        inputs = QueryArrays(
            history,
            history_mask,
            session,
            session_mask,
            qt,
            np.array([query_text is not None]),
            np.array([int(segment)], np.int64),
            np.array([ctx], np.int64),
        )
        return self.runtime.query(inputs)

    def _padded(self, v: F32 | None, cap: int) -> tuple[F32, npt.NDArray[np.bool_]]:
        """``v`` as ``[1, cap, dim]`` and its mask: one input shape for every request (a
        masked entry has no weight in the towers' pooling)."""
        out = np.zeros((1, cap, self.dim), np.float32)
        mask = np.zeros((1, cap), np.bool_)
        if v is not None and len(v):
            n = min(len(v), cap)
            out[0, :n] = v[:n]
            mask[0, :n] = True
        return out, mask

    def encode_query(self, text: str, encoder: TextEncoder) -> F32:
        """The query text's 384-d embedding, refusing an encoder other than the trained one."""
        if encoder.version != self.meta.text_encoder:
            raise TextEncoderMismatch(
                f"artifact {self.version} was trained with {self.meta.text_encoder}, "
                f"the encoder is {encoder.version}"
            )
        return encoder.encode_query(text)


def load_artifact(
    model_dir: Path,
    version: str | None = None,
    *,
    check_text_encoder: bool = True,
    runtime: Runtime = "auto",
) -> TowersArtifact:
    """Load ``version`` (default: CURRENT). Checks compliance of the inputs and, unless told
    otherwise, that the installed text encoder is the one the item vectors were built with.
    ``runtime``: the exported graphs (``openvino``), the torch model (``torch``), or
    ``auto``: the graphs where the version has them, else torch."""
    v = version or current_version(model_dir)
    if v is None:
        raise FileNotFoundError(f"no {CURRENT} in {model_dir}")
    meta = ArtifactMeta.model_validate_json((model_dir / v / "meta.json").read_text())
    check_compliance(meta.restricted_min_support)
    if check_text_encoder and meta.text_encoder != encoder_version():
        raise TextEncoderMismatch(
            f"artifact {v} needs {meta.text_encoder}, installed is {encoder_version()}"
        )
    if runtime == "openvino" or (runtime == "auto" and has_graphs(model_dir / v)):
        return TowersArtifact(meta, GraphTowers(model_dir / v), model_dir)
    return TowersArtifact(meta, TorchTowers(_torch_model(model_dir / v, meta)), model_dir)


def _torch_model(version_dir: Path, meta: ArtifactMeta) -> TwoTower:
    try:
        import torch

        from towers.model import TwoTower
    except ImportError as exc:  # a serving install, and a version without graphs
        raise RuntimeError(
            f"{version_dir} has no exported graphs and torch is not installed: export them "
            "where it is (pip install 'shopnow-discovery[train]'; python -m "
            f"towers.tower_export {version_dir})"
        ) from exc
    model = TwoTower(meta.tower_config)
    state = torch.load(version_dir / "weights.pt", map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model
