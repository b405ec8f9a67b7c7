"""Export a trained two-tower model's item and query towers as ONNX graphs, beside its weights
(needs torch: the ``train`` extra). :func:`towers.artifact.save_artifact` calls it for every
new version; ``python -m towers.tower_export VERSION_DIR`` does it for an older one.

``item.onnx`` takes the columns of :class:`towers.features.ItemFeatures` (``text float32 [n,
384]``, ``categories int64 [n, L]``, then ``brand``, ``price_bucket``, ``seller_rating``,
``margin_level`` and ``item_hash``, ``int64 [n]``) and returns ``vector float32 [n, dim]``.
The category bag (an ``EmbeddingBag`` mean without the padding id 0) is written as a gather
and a masked mean, the same arithmetic in operators every ONNX runtime has.

``query.onnx`` takes ``history float32 [b, H, dim]`` with ``history_mask bool [b, H]``, the
same for ``session``, ``query_text float32 [b, 384]``, ``has_query bool [b]``, ``segment int64
[b]`` and ``context int64 [b, fields]`` and returns ``vector float32 [b, dim]``. Every axis
but the last is dynamic. Both graphs are the towers in evaluation mode (no dropout).
"""

from __future__ import annotations

import copy
import json
import os
import sys
import warnings
from pathlib import Path

import torch
from torch import Tensor, nn

from towers.config import TowerConfig
from towers.item_tower import ItemTower
from towers.model import TwoTower
from towers.tower_runtime import ITEM_GRAPH, QUERY_GRAPH

OPSET = 17
ITEM_INPUTS = (
    "text",
    "categories",
    "brand",
    "price_bucket",
    "seller_rating",
    "margin_level",
    "item_hash",
)
QUERY_INPUTS = (
    "history",
    "history_mask",
    "session",
    "session_mask",
    "query_text",
    "has_query",
    "segment",
    "context",
)


class _CategoryMean(nn.Module):
    """``EmbeddingBag(mode="mean", padding_idx=0)`` over a padded id matrix, as plain ops."""

    def __init__(self, bag: nn.EmbeddingBag) -> None:
        super().__init__()
        self.weight = bag.weight

    def forward(self, ids: Tensor) -> Tensor:
        keep = (ids != 0).to(self.weight.dtype).unsqueeze(-1)
        total = (self.weight[ids] * keep).sum(dim=1)
        return total / keep.sum(dim=1).clamp(min=1.0)


def _item_graph(tower: ItemTower) -> ItemTower:
    """A copy of ``tower`` in evaluation mode whose category bag is :class:`_CategoryMean`."""
    out = copy.deepcopy(tower).eval()
    bag = out.category
    assert isinstance(bag, nn.EmbeddingBag)
    out.category = _CategoryMean(bag)
    return out


def _export(
    module: nn.Module,
    example: tuple[Tensor, ...],
    names: tuple[str, ...],
    axes: dict[str, dict[int, str]],
    dest: Path,
) -> None:
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}")
    with torch.no_grad(), warnings.catch_warnings():
        # the TorchScript exporter warns that it is deprecated (see towers.text_export)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)  # type: ignore[attr-defined]
        torch.onnx.export(
            module.eval(),
            example,
            str(tmp),
            input_names=list(names),
            output_names=["vector"],
            dynamic_axes={**axes, "vector": {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )
    tmp.replace(dest)


def export_towers(model: TwoTower, dest: Path) -> tuple[Path, Path]:
    """Write ``item.onnx`` and ``query.onnx`` of ``model`` into the directory ``dest``."""
    cfg = model.cfg
    was_training = model.training
    model.eval()
    n, cats = 3, 2
    longs = torch.zeros(n, dtype=torch.long)
    item_example = (
        torch.zeros(n, cfg.text_dim),
        torch.zeros(n, cats, dtype=torch.long),
        longs,
        longs,
        longs,
        longs,
        longs,
    )
    item_axes = {name: {0: "batch"} for name in ITEM_INPUTS}
    item_axes["categories"] = {0: "batch", 1: "categories"}
    _export(_item_graph(model.item), item_example, ITEM_INPUTS, item_axes, dest / ITEM_GRAPH)

    b, h, s = 2, 3, 2
    query_example = (
        torch.zeros(b, h, cfg.dim),
        torch.ones(b, h, dtype=torch.bool),
        torch.zeros(b, s, cfg.dim),
        torch.ones(b, s, dtype=torch.bool),
        torch.zeros(b, cfg.text_dim),
        torch.ones(b, dtype=torch.bool),
        torch.zeros(b, dtype=torch.long),
        torch.zeros(b, len(cfg.context_cardinalities), dtype=torch.long),
    )
    query_axes = {name: {0: "batch"} for name in QUERY_INPUTS}
    for name, axis in (("history", "h"), ("history_mask", "h"), ("session", "s")):
        query_axes[name] = {0: "batch", 1: axis}
    query_axes["session_mask"] = {0: "batch", 1: "s"}
    _export(model.query, query_example, QUERY_INPUTS, query_axes, dest / QUERY_GRAPH)
    model.train(was_training)
    return dest / ITEM_GRAPH, dest / QUERY_GRAPH


def export_version(version_dir: Path) -> tuple[Path, Path]:
    """Export the graphs of an artifact version saved before graphs were written with it."""
    meta = json.loads((version_dir / "meta.json").read_text())
    model = TwoTower(TowerConfig.model_validate(meta["tower_config"]))
    state = torch.load(version_dir / "weights.pt", map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return export_towers(model, version_dir)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m towers.tower_export VERSION_DIR  (holding weights.pt)")
    for path in export_version(Path(sys.argv[1])):
        print(path)
