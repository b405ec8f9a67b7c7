"""Item tower: content and catalogue attributes to an L2-normalised vector.

Two-tower retrieval in the sense of Yi et al., "Sampling-Bias-Corrected Neural Modeling for
Large Corpus Item Recommendations" (RecSys 2019): the item embedding depends on the item's
features, not on a per-id table, so an item added a second ago is embedded like any other.

For item ``i`` with frozen text embedding ``t_i`` (384-d, all-MiniLM-L6-v2), category ids
``c_i1..c_iL`` (0 = padding), brand ``b_i``, price bucket ``p_i``, seller rating bucket ``r_i``,
category margin level ``m_i`` (0 = unknown for each) and, optionally, a hashed id ``h_i``::

    x_i = [ W_t t_i ;  mean_{l: c_il != 0} E_c[c_il] ;  E_b[b_i] ;  E_p[p_i] ;  E_r[r_i] ;
            E_m[m_i] ;  (E_h[h_i]) ]
    z_i = W_2 GELU(LayerNorm(W_1 x_i + b_1)) + b_2 + W_s t_i
    v_i = z_i / ||z_i||_2                                      (dimension ``dim``)

The skip ``W_s t_i`` keeps a linear path from content to the output, which is what a brand-new
item relies on. With ``text_dropout > 0`` training zeroes ``t_i`` for that share of rows (the
content dropout of Volkovs et al., "DropoutNet", NeurIPS 2017), so ``t_i = 0`` gives a usable
vector from the attributes alone: the *provisional* vector ingest writes for an item whose text
the (slow) text encoder has not embedded yet.

The hashed id embedding (``hash_buckets > 0``) is off by default: when on, it is dropped for
the whole batch with probability ``id_dropout`` during training so the tower never learns to
depend on it, and new items (id never trained) are not second-class.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from towers.features import ItemFeatures


class ItemTower(nn.Module):
    def __init__(
        self,
        *,
        text_dim: int,
        n_categories: int,
        n_brands: int,
        n_price_buckets: int,
        n_seller_ratings: int,
        n_margin_levels: int,
        dim: int = 64,
        text_proj_dim: int = 128,
        field_dim: int = 32,
        hidden: int = 256,
        hash_buckets: int = 0,
        id_dropout: float = 0.5,
        dropout: float = 0.1,
        text_dropout: float = 0.0,
    ) -> None:
        """Vocabulary sizes count id 0 (unknown); ``n_price_buckets`` etc. are the number of
        real buckets, the tower adds the unknown row itself."""
        super().__init__()
        self.dim = dim
        self.hash_buckets = hash_buckets
        self.id_dropout = id_dropout
        self.text_dropout = text_dropout
        self.text_proj = nn.Linear(text_dim, text_proj_dim)
        # a module, not only an EmbeddingBag: the ONNX export swaps in the same mean as plain ops
        self.category: nn.Module = nn.EmbeddingBag(
            n_categories, field_dim, mode="mean", padding_idx=0
        )
        self.brand = nn.Embedding(n_brands, field_dim)
        self.price = nn.Embedding(n_price_buckets + 1, field_dim)
        self.seller_rating = nn.Embedding(n_seller_ratings + 1, field_dim)
        self.margin_level = nn.Embedding(n_margin_levels + 1, field_dim)
        self.item_hash = nn.Embedding(hash_buckets + 1, field_dim) if hash_buckets > 0 else None
        n_fields = 5 + (1 if hash_buckets > 0 else 0)
        self.hidden = nn.Linear(text_proj_dim + n_fields * field_dim, hidden)
        self.norm = nn.LayerNorm(hidden)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, dim)
        self.skip = nn.Linear(text_dim, dim, bias=False)

    def forward(
        self,
        text: Tensor,
        categories: Tensor,
        brand: Tensor,
        price_bucket: Tensor,
        seller_rating: Tensor,
        margin_level: Tensor,
        item_hash: Tensor,
    ) -> Tensor:
        """Tensors as in :class:`towers.features.ItemFeatures`; returns ``[n, dim]``, unit rows."""
        if self.training and self.text_dropout > 0:
            keep = torch.rand(text.shape[0], 1) >= self.text_dropout
            text = text * keep
        parts = [
            self.text_proj(text),
            self.category(categories),
            self.brand(brand),
            self.price(price_bucket),
            self.seller_rating(seller_rating),
            self.margin_level(margin_level),
        ]
        if self.item_hash is not None:
            h = self.item_hash(item_hash)
            if self.training and torch.rand(()) < self.id_dropout:
                h = torch.zeros_like(h)
            parts.append(h)
        x = torch.cat(parts, dim=-1)
        z = self.out(self.drop(F.gelu(self.norm(self.hidden(x))))) + self.skip(text)
        return F.normalize(z, dim=-1)

    def encode(self, f: ItemFeatures) -> Tensor:
        """Forward on numpy columns (call under ``torch.no_grad`` to serve)."""
        out: Tensor = self(*item_tensors(f))
        return out


def item_tensors(f: ItemFeatures) -> tuple[Tensor, ...]:
    return (
        torch.from_numpy(f.text),
        torch.from_numpy(f.categories),
        torch.from_numpy(f.brand),
        torch.from_numpy(f.price_bucket),
        torch.from_numpy(f.seller_rating),
        torch.from_numpy(f.margin_level),
        torch.from_numpy(f.item_hash),
    )
