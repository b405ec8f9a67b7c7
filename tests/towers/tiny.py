"""An untrained (seeded) two-tower model over a given catalog: enough to test serving paths
(versions, vectors at ingest, the model guard) without a training run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from engine.core.catalog import Catalog
from towers.artifact import save_artifact
from towers.catalog_features import catalog_vocabularies, tower_config_for
from towers.model import TowerConfig, TwoTower
from towers.serving import TowerServing

TEXT_CACHE = Path.home() / ".cache" / "shopnow" / "text-embeddings"


def tiny_towers(model_dir: Path, catalog: Catalog, *, dim: int = 8, seed: int = 0) -> TowerServing:
    vocabs = catalog_vocabularies(catalog)
    cfg = tower_config_for(
        vocabs, TowerConfig(dim=dim, hidden=32, text_proj_dim=16, field_dim=8, residual=True)
    )
    torch.manual_seed(seed)
    version = save_artifact(
        model_dir,
        TwoTower(cfg),
        train_config={"seed": seed},
        vocabularies=vocabs,
        metrics={},
        training_window={"data": f"untrained, seed {seed}"},
        restricted_min_support=20,
    )
    serving = TowerServing.load(model_dir, TEXT_CACHE, 20, version)
    serving.ensure(catalog, np.arange(len(catalog), dtype=np.int64))
    return serving
