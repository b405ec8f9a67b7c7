"""The two towers together, their configuration, and the batch-level forward used by training
and evaluation. Serving goes through :mod:`towers.artifact`."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor, nn

from engine.core.arrays import I64
from towers.config import TowerConfig as TowerConfig
from towers.data import Examples, QueryBatch, query_batch
from towers.features import N_MARGIN_LEVEL, N_SELLER_RATING, ItemFeatures
from towers.item_tower import ItemTower, item_tensors
from towers.query_tower import QueryTower


def batch_of(cfg: TowerConfig, ex: Examples, idx: npt.NDArray[np.int64]) -> QueryBatch:
    """The query-tower inputs of examples ``idx``, shaped by ``cfg``."""
    return query_batch(
        ex,
        idx,
        max_history=cfg.max_history,
        max_session=cfg.max_session,
        text_dim=cfg.text_dim,
    )


class TwoTower(nn.Module):
    def __init__(self, cfg: TowerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.item = ItemTower(
            text_dim=cfg.text_dim,
            n_categories=cfg.n_categories,
            n_brands=cfg.n_brands,
            n_price_buckets=cfg.n_price_buckets,
            n_seller_ratings=N_SELLER_RATING,
            n_margin_levels=N_MARGIN_LEVEL,
            dim=cfg.dim,
            text_proj_dim=cfg.text_proj_dim,
            field_dim=cfg.field_dim,
            hidden=cfg.hidden,
            hash_buckets=cfg.hash_buckets,
            dropout=cfg.dropout,
            text_dropout=cfg.text_dropout,
        )
        self.query = QueryTower(
            item_dim=cfg.dim,
            text_dim=cfg.text_dim,
            context_cardinalities=cfg.context_cardinalities,
            dim=cfg.dim,
            max_history=cfg.max_history,
            max_session=cfg.max_session,
            text_proj_dim=cfg.text_proj_dim,
            field_dim=cfg.field_dim,
            hidden=cfg.hidden,
            dropout=cfg.dropout,
            text_skip=self.item.skip if cfg.residual else None,
        )
        if cfg.residual:
            # Start from the linear paths: the shared text skip as a near-isometry of the
            # text space (||W_s t|| ~ ||t||), the query MLP's output small beside it.
            with torch.no_grad():
                nn.init.orthogonal_(self.item.skip.weight, gain=(cfg.text_dim / cfg.dim) ** 0.5)
                self.query.out.weight.mul_(0.1)

    def queries_from_table(self, table: Tensor, batch: QueryBatch) -> Tensor:
        """Query vectors, history / session items looked up in ``table`` (``[U, dim]`` item
        vectors; the batch's item ids must already index into it, -1 = padding)."""
        hist = torch.from_numpy(batch.history)
        sess = torch.from_numpy(batch.session)
        out: Tensor = self.query(
            table[hist.clamp(min=0)],
            hist >= 0,
            table[sess.clamp(min=0)],
            sess >= 0,
            torch.from_numpy(batch.query_text),
            torch.from_numpy(batch.has_query),
            torch.from_numpy(batch.segment),
            torch.from_numpy(batch.context),
        )
        return out

    def item_vectors(self, features: ItemFeatures, chunk: int = 8192) -> Tensor:
        """Item vectors of every row of ``features`` (in chunks; keeps autograd as it finds it)."""
        parts = [
            self.item(*item_tensors(features.take(np.arange(s, min(s + chunk, len(features))))))
            for s in range(0, len(features), chunk)
        ]
        return torch.cat(parts) if parts else torch.zeros(0, self.cfg.dim)

    def batch_forward(
        self,
        features: ItemFeatures,
        batch: QueryBatch,
        targets: I64,
        negatives: I64 | None,
        history_table: Tensor | None = None,
    ) -> tuple[Tensor, Tensor, Tensor | None]:
        """Training forward. Returns ``(queries [B, d], positives [B, d], negatives [M, d])``.

        With ``history_table`` (``[n_items, d]`` item vectors computed without gradient, see
        :func:`towers.train.train`) history and session items are read from it and the item
        tower runs on targets and negatives only: several times cheaper per step. Without it
        the item tower runs once over the distinct items of the whole batch (history, session,
        targets, negatives), so gradients reach it through both towers."""
        neg = negatives if negatives is not None else np.zeros(0, np.int64)
        if history_table is not None:
            cand = np.concatenate([targets, neg])
            uniq, inv = np.unique(cand, return_inverse=True)
            vecs = self.item(*item_tensors(features.take(uniq)))
            q = self.queries_from_table(history_table, batch)
            pos = vecs[torch.from_numpy(inv[: len(targets)])]
            negs = vecs[torch.from_numpy(inv[len(targets) :])] if negatives is not None else None
            return q, pos, negs
        ids = np.concatenate([batch.history.ravel(), batch.session.ravel(), targets, neg])
        uniq, inv = np.unique(ids[ids >= 0], return_inverse=True)
        local = np.full(len(ids), -1, np.int64)
        local[ids >= 0] = inv
        nh, ns = batch.history.size, batch.session.size
        table = self.item(*item_tensors(features.take(uniq)))
        local_batch = QueryBatch(
            local[:nh].reshape(batch.history.shape),
            local[nh : nh + ns].reshape(batch.session.shape),
            batch.query_text,
            batch.has_query,
            batch.segment,
            batch.context,
        )
        q = self.queries_from_table(table, local_batch)
        b = nh + ns + len(targets)
        pos = table[torch.from_numpy(local[nh + ns : b])]
        negs = table[torch.from_numpy(local[b:])] if negatives is not None else None
        return q, pos, negs
