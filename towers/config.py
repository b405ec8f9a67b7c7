"""The two towers' architecture, saved with every artifact: no torch here, so serving (which
runs the exported graphs, :mod:`towers.tower_runtime`) reads it without the ``train`` extra."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from towers.text_runtime import TEXT_DIM


class TowerConfig(BaseModel):
    """Architecture of both towers (saved with every artifact)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dim: int = Field(64, ge=2, le=1024, description="output dimension of both towers")
    text_dim: int = TEXT_DIM
    text_proj_dim: int = 128
    field_dim: int = 32
    hidden: int = 256
    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    text_dropout: float = Field(
        0.0,
        ge=0.0,
        lt=1.0,
        description="share of training rows whose item text embedding is zeroed, so the "
        "tower also places an item whose text is not embedded yet (a provisional vector)",
    )
    n_categories: int = Field(1, ge=1, description="category vocabulary size, with id 0")
    n_brands: int = Field(1, ge=1, description="brand vocabulary size, with id 0")
    n_price_buckets: int = Field(10, ge=1)
    hash_buckets: int = Field(0, ge=0, description="hashed item-id embedding rows; 0 = off")
    max_history: int = Field(50, ge=1)
    max_session: int = Field(20, ge=1)
    context_names: tuple[str, ...] = ("surface",)
    context_cardinalities: tuple[int, ...] = (2,)  # surface: 0 feed, 1 search
    residual: bool = Field(
        False, description="linear history/session/query-text paths in the query tower"
    )
