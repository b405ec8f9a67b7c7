"""Tuning knobs of the embedded index (the HNSW ones are persisted in ``meta.json``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from search_plugins.embedded.vectors import HnswParams


@dataclass(frozen=True, slots=True)
class EmbeddedParams:
    hnsw: HnswParams = field(default_factory=HnswParams)
    writer_heap_mb: int = 256
    writer_threads: int = 1
    compact_ratio: float = 0.3  # rebuild the graph at refresh when this share is garbage
    compact_min: int = 10_000  # ... and at least this many garbage vectors
    autosave_s: float | None = None  # save at refresh when this long since the last save
    # Vector search under a category or brand filter scans the filter's blocks (contiguous
    # copies of the live vectors per top-level category, and per brand) exactly when they
    # hold at most this share of the graph's vectors (0 disables the blocks' use).
    partition_max_share: float = 0.25
    # Keep the per-brand blocks: one more copy of the live vectors (dim * 4 bytes per item,
    # 256 MB at 1M x 64) for brand filters that cut across categories.
    brand_blocks: bool = True
    # A delete's tombstone (which refuses late writes of older versions) is forgotten this
    # long after the delete, by wall-clock time; None keeps tombstones forever. Persisted in
    # ``meta.json`` with the HNSW knobs; the deletion times are saved with the tombstones.
    tombstone_retention_s: float | None = 7 * 86_400.0
