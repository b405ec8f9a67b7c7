"""Two towers trained on the marketplace's own logs (the synthetic one in the demo and tests).

Examples: every positive item (click, add to cart, purchase) of a logged request before the
cut-off, predicted from what serving knew at that moment (:meth:`ltr.logs.LogReplay.context`
through :func:`towers.requests.query_inputs`): user history, session, query text, surface,
segment. Requests are split by time: the last ``valid_share`` of them validate (early
stopping on recall@``eval_k``), the rest train.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from engine.core.catalog import Catalog
from engine.core.vocab import Vocab
from ltr.aggregates import ItemAggregates
from ltr.logs import LoggedRequest, LogReplay
from towers.artifact import save_artifact
from towers.catalog_features import CatalogFeaturizer, catalog_vocabularies, tower_config_for
from towers.config import TowerConfig
from towers.data import Examples
from towers.features import ItemFeatures
from towers.requests import QueryInputs, examples_of, query_inputs
from towers.text import TextEncoder
from towers.train import TrainConfig, TrainResult, train


@dataclass(frozen=True, slots=True)
class MarketplaceData:
    features: ItemFeatures
    vocabularies: dict[str, Vocab]
    tower_cfg: TowerConfig
    train: Examples
    valid: Examples


def request_examples(
    replay: LogReplay,
    requests: list[LoggedRequest],
    cfg: TowerConfig,
    encoder: TextEncoder,
    progress: bool = False,
) -> Examples:
    inputs: list[QueryInputs] = []
    targets: list[int] = []
    for lr in tqdm(requests, desc="tower examples", unit="req", disable=not progress):
        qi = query_inputs(replay.context(lr), cfg)
        for row in lr.rows[lr.grades > 0].tolist():
            inputs.append(qi)
            targets.append(int(row))
    return examples_of(inputs, np.asarray(targets, np.int64), encoder, cfg.text_dim)


def marketplace_data(
    catalog: Catalog,
    replay: LogReplay,
    requests: list[LoggedRequest],
    encoder: TextEncoder,
    base_cfg: TowerConfig,
    *,
    min_support: int,
    valid_share: float = 0.1,
    progress: bool = False,
) -> MarketplaceData:
    """Examples from the logged ``requests`` with positives (served pages, or requests
    replayed from interactions), the last ``valid_share`` of them in time for validation."""
    vocabs = catalog_vocabularies(catalog)
    cfg = tower_config_for(vocabs, base_cfg)
    featurizer = CatalogFeaturizer(vocabs, cfg, encoder, min_support)
    rows = np.arange(len(catalog), dtype=np.int64)
    features = featurizer.features(catalog, rows, ItemAggregates.build(catalog, min_support))
    reqs = sorted(requests, key=lambda r: r.ts)
    if len(reqs) < 20:
        raise ValueError(f"only {len(reqs)} logged requests with positives to train towers on")
    cut = int(len(reqs) * (1 - valid_share))
    return MarketplaceData(
        features,
        vocabs,
        cfg,
        request_examples(replay, reqs[:cut], cfg, encoder, progress),
        request_examples(replay, reqs[cut:], cfg, encoder, progress),
    )


def train_marketplace(
    data: MarketplaceData,
    train_cfg: TrainConfig,
    model_dir: Path,
    *,
    min_support: int,
    window: dict[str, str],
    make_current: bool = True,
) -> tuple[str, TrainResult]:
    """Train, save a versioned artifact under ``model_dir``; returns ``(version, result)``."""
    res = train(data.features, data.train, data.valid, data.tower_cfg, train_cfg)
    metrics = {f"valid_{k}": float(v) for k, v in res.valid_metrics.items()}
    metrics.update(
        {
            "best_epoch": float(res.best_epoch),
            "train_examples": float(len(data.train)),
            "examples_per_second": res.examples_per_second,
            "train_seconds": res.train_seconds,
        }
    )
    version = save_artifact(
        model_dir,
        res.model,
        train_config=train_cfg.model_dump(mode="json"),
        vocabularies=data.vocabularies,
        metrics=metrics,
        training_window=window,
        restricted_min_support=min_support,
        make_current=make_current,
    )
    return version, res
