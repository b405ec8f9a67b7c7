"""Full-catalogue retrieval with the towers: top-K items per query, the user's own history
excluded (the S3-Rec protocol), and the resulting HR / NDCG / recall."""

from __future__ import annotations

import numpy as np
import torch

from engine.core import ranking_metrics as metrics
from engine.core.arrays import F32, I64
from engine.core.retrieval.exact import top_k_rows
from towers.data import Examples
from towers.features import ItemFeatures
from towers.model import TwoTower, batch_of


@torch.no_grad()
def query_vectors(model: TwoTower, item_vecs: torch.Tensor, ex: Examples, chunk: int = 4096) -> F32:
    """``[n, dim]`` query vectors of every example, history items read from ``item_vecs``."""
    was = model.training
    model.eval()
    cfg = model.cfg
    out = []
    for s in range(0, len(ex), chunk):
        idx = np.arange(s, min(s + chunk, len(ex)))
        b = batch_of(cfg, ex, idx)
        out.append(model.queries_from_table(item_vecs, b).numpy())
    model.train(was)
    return np.concatenate(out) if out else np.zeros((0, cfg.dim), np.float32)


@torch.no_grad()
def all_item_vectors(model: TwoTower, features: ItemFeatures) -> torch.Tensor:
    was = model.training
    model.eval()
    v = model.item_vectors(features)
    model.train(was)
    return v


def top_k(
    queries: F32, items: F32, ex: Examples, k: int, exclude_history: bool = True, chunk: int = 2048
) -> I64:
    """``[n, k]`` item rows by descending inner product; ties broken by lower row; ``-1``
    padded when ``k`` exceeds the catalogue."""
    out = np.full((len(queries), k), -1, np.int64)
    for s in range(0, len(queries), chunk):
        idx = np.arange(s, min(s + chunk, len(queries)))
        scores = queries[idx] @ items.T
        if exclude_history:
            start, end = ex.history_bounds(idx)
            lens = end - start
            rows = np.repeat(np.arange(len(idx)), lens)
            cols = ex.seq_items[
                np.repeat(start - np.r_[0, np.cumsum(lens)[:-1]], lens) + np.arange(lens.sum())
            ]
            scores[rows, cols] = -np.inf
        best = top_k_rows(scores, k)  # history items rank last, at -inf
        out[idx, : best.shape[1]] = best
    return out


def evaluate_examples(
    model: TwoTower,
    features: ItemFeatures,
    ex: Examples,
    ks: tuple[int, ...] = (5, 10, 20),
) -> dict[str, float]:
    """Mean recall / HR / NDCG / MRR at each K of the examples' targets, full ranking."""
    iv = all_item_vectors(model, features)
    q = query_vectors(model, iv, ex)
    ranked = top_k(q, iv.numpy(), ex, max(ks))
    return metrics.evaluate(ranked, metrics.relevant_single(ex.target), ks)
