"""Serving cost per request, projected to the product's traffic and catalog from measured CPU
time and memory. Prices and fleet assumptions are inputs (:class:`CostInputs`), never facts
the report invents; the report prints them beside the result.

    compute/request = cpu_seconds/request x vcpu_price_per_second / target_utilisation
    memory/request  = bytes/item x items x copies x gb_price_per_second / mean requests/s
    jobs/request    = sum(job vCPU-hours/day x vcpu_price_per_hour) / requests/day

CPU per request is measured at the evaluated catalog size with ~3K candidates; it is projected
as is (retrieval cost grows sub-linearly with the catalog for HNSW, and is bounded by the
candidate count for everything after retrieval), which the report states as an assumption.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

HNSW_M = 32  # links per node at layer 0 are 2M (search_plugins defaults)


class CostInputs(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    peak_rps: float = Field(180_000, gt=0, description="requests/s at peak")
    mean_to_peak: float = Field(
        0.4, gt=0, le=1, description="mean traffic as a share of peak (diurnal)"
    )
    items: float = Field(120e6, gt=0, description="active items served")
    vcpu_hour_usd: float = Field(0.04, gt=0, description="price of one vCPU-hour")
    gb_hour_usd: float = Field(0.005, gt=0, description="price of one GiB of RAM for an hour")
    target_utilisation: float = Field(
        0.5, gt=0, le=1, description="CPU share used at peak (headroom for p99 and failover)"
    )
    copies: int = Field(3, ge=1, description="in-memory copies of each index (replicas)")
    vector_dim: int = Field(64, ge=1)
    job_vcpu_hours_per_day: dict[str, float] = Field(
        default_factory=lambda: {
            "ranker training": 4.0,
            "two-tower training": 48.0,
            "item re-embedding on model change (blue/green)": 24.0,
            "graph training (scheduled)": 24.0,
            "co-visitation build from sessions": 8.0,
            "popularity / CTR snapshot": 1.0,
        },
        description="batch jobs, by the names variants list under maintainability.jobs",
    )
    text_encoder_items_per_vcpu_s: float = Field(
        70.0, gt=0, description="MiniLM embeddings per vCPU-second (measured on this machine)"
    )
    new_texts_per_day: float = Field(4e6, ge=0, description="new or changed item texts a day")


def bytes_per_item(sources: tuple[str, ...], measured: dict[str, float], dim: int) -> float:
    """Serving memory per item of the variant's indexes: the lexical index as measured, HNSW
    vectors as ``dim x 4 + 2M x 4`` bytes, graph and co-visitation tables as measured, plus
    the catalog's own columns (every variant)."""
    total = measured.get("catalog", 0.0)
    if "bm25" in sources:
        total += measured.get("lexical", 0.0)
    if "two_tower" in sources:
        total += dim * 4 + 2 * HNSW_M * 4
    if {"graph", "bought_together"} & set(sources):
        total += measured.get("graph", 0.0)
    if "covis" in sources:
        total += measured.get("covis", 0.0)
    return total


def project(
    cpu_ms_per_request: float,
    mem_bytes_per_item: float,
    jobs: list[str],
    inputs: CostInputs,
    *,
    embeds_text: bool,
) -> dict[str, Any]:
    """Dollars per request, split by what it pays for, and the fleet it implies at peak."""
    mean_rps = inputs.peak_rps * inputs.mean_to_peak
    per_day = mean_rps * 86_400
    vcpu_s = inputs.vcpu_hour_usd / 3600
    compute = cpu_ms_per_request / 1e3 * vcpu_s / inputs.target_utilisation
    gib = mem_bytes_per_item * inputs.items * inputs.copies / 2**30
    memory = gib * inputs.gb_hour_usd / 3600 / mean_rps
    job_hours = sum(inputs.job_vcpu_hours_per_day.get(j, 0.0) for j in jobs)
    if embeds_text:  # the vector lane: every new or changed text through MiniLM
        job_hours += inputs.new_texts_per_day / inputs.text_encoder_items_per_vcpu_s / 3600
    batch = job_hours * inputs.vcpu_hour_usd / per_day
    peak_vcpus = inputs.peak_rps * cpu_ms_per_request / 1e3 / inputs.target_utilisation
    return {
        "usd_per_request": compute + memory + batch,
        "compute_usd_per_request": compute,
        "memory_usd_per_request": memory,
        "jobs_usd_per_request": batch,
        "peak_serving_vcpus": round(peak_vcpus),
        "index_memory_gib": round(gib, 1),
        "job_vcpu_hours_per_day": round(job_hours, 1),
    }
