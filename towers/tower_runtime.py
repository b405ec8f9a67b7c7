"""The two towers at serving time, without torch: the graphs :mod:`towers.tower_export` wrote
beside the weights, run on OpenVINO's CPU plugin in float32 (the vectors are the torch model's
within 1e-5; bfloat16 would move them by 1e-3, and these graphs are small enough that it buys
nothing).

:class:`GraphTowers` and :class:`TorchTowers` (the reference, and the fallback for a version
saved before graphs were exported with it, where torch is installed) give the same two calls:
``item_vectors(features)`` and ``query(inputs)``.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import numpy as np
import numpy.typing as npt

from engine.core.arrays import F32, I64
from towers.features import ItemFeatures

ITEM_GRAPH = "item.onnx"
QUERY_GRAPH = "query.onnx"
ITEM_CHUNK = 8192


class QueryArrays(NamedTuple):
    """One query's tower inputs, batch of one: ``history [1, H, dim]`` and its mask ``[1, H]``
    (most recent first), the same for the session, ``query_text [1, 384]``, ``has_query [1]``,
    ``segment [1]`` and ``context [1, fields]``."""

    history: F32
    history_mask: npt.NDArray[np.bool_]
    session: F32
    session_mask: npt.NDArray[np.bool_]
    query_text: F32
    has_query: npt.NDArray[np.bool_]
    segment: I64
    context: I64


class TowerRuntime(Protocol):
    name: str

    def item_vectors(self, features: ItemFeatures) -> F32: ...

    def query(self, inputs: QueryArrays) -> F32: ...


def item_arrays(f: ItemFeatures) -> dict[str, npt.NDArray[Any]]:
    """The item graph's inputs by name."""
    return {
        "text": f.text,
        "categories": f.categories,
        "brand": f.brand,
        "price_bucket": f.price_bucket,
        "seller_rating": f.seller_rating,
        "margin_level": f.margin_level,
        "item_hash": f.item_hash,
    }


def has_graphs(version_dir: Path) -> bool:
    return (version_dir / ITEM_GRAPH).is_file() and (version_dir / QUERY_GRAPH).is_file()


class GraphTowers:
    """Both graphs compiled for one thread each (a request's query vector is one tiny pass;
    item vectors come in ingest's batches). Each calling thread has its own infer requests."""

    name = "openvino"

    def __init__(self, version_dir: Path, *, num_threads: int = 1) -> None:
        import openvino as ov

        core = ov.Core()
        config = {
            "INFERENCE_NUM_THREADS": num_threads,
            "INFERENCE_PRECISION_HINT": "f32",
            "PERFORMANCE_HINT": "LATENCY",
        }
        self._item = core.compile_model(str(version_dir / ITEM_GRAPH), "CPU", config)
        self._query = core.compile_model(str(version_dir / QUERY_GRAPH), "CPU", config)
        self.dim = int(self._item.output(0).get_partial_shape()[1].get_length())
        # the exporter leaves out an input the graph does not read (item_hash without buckets)
        self._item_inputs = {n for port in self._item.inputs for n in port.get_names()}
        self._query_inputs = {n for port in self._query.inputs for n in port.get_names()}
        self._local = threading.local()

    def _requests(self) -> tuple[Any, Any]:
        pair = getattr(self._local, "pair", None)
        if pair is None:
            pair = (self._item.create_infer_request(), self._query.create_infer_request())
            self._local.pair = pair
        return pair

    def item_vectors(self, features: ItemFeatures) -> F32:
        request = self._requests()[0]
        n = len(features)
        out = np.zeros((n, self.dim), np.float32)
        for lo in range(0, n, ITEM_CHUNK):
            part = features.take(np.arange(lo, min(lo + ITEM_CHUNK, n)))
            arrays = item_arrays(part)
            out[lo : lo + len(part)] = request.infer({k: arrays[k] for k in self._item_inputs})[0]
        return out

    def query(self, inputs: QueryArrays) -> F32:
        arrays = inputs._asdict()
        given = {k: arrays[k] for k in self._query_inputs}
        out: F32 = self._requests()[1].infer(given)[0][0].copy()
        return out


class TorchTowers:
    """The torch model itself (the ``train`` extra): the reference the graphs are checked
    against, and what serves a version saved before its graphs were."""

    name = "torch"

    def __init__(self, model: Any) -> None:
        import torch

        # One thread: a request's forward passes are tiny, and idle-spinning OpenMP workers on
        # a busy server cost far more than they give (p50 12 ms against ~1 ms).
        torch.set_num_threads(1)
        self.model = model.eval()

    def item_vectors(self, features: ItemFeatures) -> F32:
        import torch

        with torch.inference_mode():
            out: F32 = self.model.item_vectors(features).numpy().astype(np.float32, copy=False)
        return out

    def query(self, inputs: QueryArrays) -> F32:
        import torch

        with torch.inference_mode():
            q = self.model.query(*(torch.from_numpy(np.ascontiguousarray(a)) for a in inputs))
        out: F32 = q[0].numpy()
        return out
