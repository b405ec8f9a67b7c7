"""Export all-MiniLM-L6-v2 as one ONNX graph (needs torch: the ``train`` extra):
``python -m towers.text_export PATH``.

The graph takes ``input_ids``, ``attention_mask`` and ``token_type_ids`` (``int64 [batch,
tokens]``, both axes dynamic) and returns ``embedding`` (``float32 [batch, 384]``): the
transformer's last hidden states, mean-pooled over the attended tokens and L2-normalised, which
is what sentence-transformers computes for this model. Attention is traced in its eager form,
so the graph holds plain operators any ONNX runtime reads. The file is written to a temporary
name and renamed, so concurrent exporters (two processes finding no graph) each leave a whole
file; the tokenizer and the encoder version go beside it (:mod:`towers.text_runtime`).
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import torch

from towers.text_runtime import complete_bundle, model_files

OPSET = 17


class _Pooled(torch.nn.Module):
    def __init__(self, transformer: torch.nn.Module) -> None:
        super().__init__()
        self.transformer = transformer

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> torch.Tensor:
        hidden = self.transformer(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(mean, p=2.0, dim=1)


def export_text_encoder(dest: Path) -> Path:
    """Write the pooled MiniLM graph to ``dest`` (ONNX) and return it."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    from transformers import AutoModel

    transformer = AutoModel.from_pretrained(str(model_files()), attn_implementation="eager")
    model = _Pooled(transformer).eval()
    example = torch.ones(2, 16, dtype=torch.long)
    axes = {0: "batch", 1: "tokens"}
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}")
    with torch.no_grad(), warnings.catch_warnings():
        # The TorchScript exporter (and its own internals) warn that it is deprecated in favour
        # of torch.export's, which needs one more package (onnxscript) for this same graph; the
        # traced one is checked against sentence-transformers by the tests.
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)  # type: ignore[attr-defined]
        # the attention mask's construction indexes with non-negative positions only
        warnings.filterwarnings("ignore", "Exporting aten::index operator", UserWarning)
        torch.onnx.export(
            model,
            (example, torch.ones_like(example), torch.zeros_like(example)),
            str(tmp),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["embedding"],
            dynamic_axes={
                "input_ids": axes,
                "attention_mask": axes,
                "token_type_ids": axes,
                "embedding": {0: "batch"},
            },
            opset_version=OPSET,
            dynamo=False,
        )
    tmp.replace(dest)
    complete_bundle(dest)
    return dest


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m towers.text_export PATH  (the .onnx file to write)")
    print(export_text_encoder(Path(sys.argv[1])))
