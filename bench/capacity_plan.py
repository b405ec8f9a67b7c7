"""The capacity plan for the product's size, computed from what was measured here:
``python -m bench.capacity_plan --load LOAD.json --footprint FOOTPRINT.json [--json]
[--peak-rps 180000] [--items 120000000] [--daily-users 45000000] ...``; prints Markdown (or
JSON), every assumption beside the result.

Inputs: the report of ``bench.load_bench`` (answers per second per core at saturation, p99 at
80% of it) and of ``bench.footprint_bench`` (hot bytes per vector with and without scalar
quantisation, kNN searches per second on one shard of 1M vectors, Redis bytes per user and per
item). Every other number is an assumption with a flag to change it; none of the results is
typed in.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from bench.figures import budget_run

GB = 1e9


@dataclass(frozen=True, slots=True)
class Assumptions:
    peak_rps: float = 180_000  # the product's peak
    peak_to_mean: float = 2.5  # peak over the day's mean request rate
    items: float = 120e6
    daily_users: float = 45e6
    # run API cores at this share of the rate they answered within the p99 budget (room for a
    # lost machine, and for a burst)
    operating_share: float = 0.8
    knn_per_request: float = 1.0  # two-tower kNN searches per request (search and feed)
    lexical_per_request: float = 0.5  # BM25 searches per request (half the requests search)
    lexical_cost_vs_knn: float = 1.0  # a BM25 shard query's cost in kNN shard queries
    doc_bytes_besides_vector: float = 1500  # text, attributes, doc values, _source per item
    shard_max_gb: float = 30  # largest primary shard on disk (OpenSearch guidance: 10-50 GB)
    os_replicas: int = 1  # copies beyond the primary (one node lost, nothing lost)
    os_node_vcpu: int = 16
    os_node_ram_gb: float = 64
    os_heap_gb: float = 31  # at most half the RAM and under 32 GB (compressed pointers)
    os_cpu_target: float = 0.6  # plan the data nodes' CPU at this share
    bench_os_cores: int = 2  # cores of the node that measured the shard's kNN rate
    redis_replicas: int = 1  # a replica per primary under Sentinel
    redis_node_ram_gb: float = 32
    redis_usable_share: float = 0.7  # fragmentation, replication buffers, fork for a save
    api_ram_gb_per_core: float = 2.0
    usd_vcpu_hour: float = 0.045  # on-demand general purpose, per vCPU
    usd_gb_hour: float = 0.006  # per GB of RAM
    usd_disk_gb_month: float = 0.08  # block storage


def _machine_sized(load: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The run with one worker per core (the fleet's shape), else the most workers measured:
    its answers per core include every process a machine runs, the generator's share too."""
    sizes: dict[str, dict[str, Any]] = load["workers"]
    chosen = str(load["cores"]) if str(load["cores"]) in sizes else max(sizes, key=int)
    return chosen, sizes[chosen]


def _point(size: dict[str, Any], fraction: float) -> dict[str, Any]:
    return min(size["load"], key=lambda p: abs(p["fraction"] - fraction))


def plan(load: dict[str, Any], footprint: dict[str, Any], a: Assumptions) -> dict[str, Any]:
    """The plan's rows: (part, figure, how) with the measured inputs they use."""
    rows: list[tuple[str, str, str, str]] = []

    # -- API ------------------------------------------------------------------------------
    workers, size = _machine_sized(load)
    budget = float(load.get("p99_budget_ms", 150.0))
    run = budget_run([*size.get("sweep", []), *size["load"]], budget)
    cores_used = min(int(workers), int(load["cores"]))
    if run is not None:  # the most a core answered with p99 within the budget
        per_core = round(run["throughput_rps"] / cores_used, 1)
        measured = f"{per_core} req/s per core within the {budget:.0f} ms p99 budget"
    else:  # no run kept the budget: a share of saturation, its p99 at that share
        per_core = size["per_core_rps"]
        run = _point(size, a.operating_share)
        measured = f"{per_core} req/s per core at saturation (no run within the budget)"
    api_cores = math.ceil(a.peak_rps / (per_core * a.operating_share))
    p99 = max(run["search"]["p99_ms"] or 0, run["feed"]["p99_ms"] or 0)
    rows.append(
        (
            "API",
            "cores at peak",
            f"{api_cores:,}",
            f"{a.peak_rps:,.0f} req/s / ({measured}, measured with {workers} worker(s) on "
            f"{cores_used} core(s) x {a.operating_share:.0%} operating share); p99 at the "
            f"measured rate {p99} ms (search {run['search']['p99_ms']}, feed "
            f"{run['feed']['p99_ms']}; {load['items']:,}-item world)",
        )
    )

    # -- OpenSearch ----------------------------------------------------------------------
    os_fp = footprint["opensearch"]
    flt, sq = os_fp["float32"], os_fp["sq"]
    copies = 1 + a.os_replicas
    for label, fp in (("float32", flt), ("sq int8", sq)):
        hot = a.items * fp["hot_bytes_per_vector"] * copies / GB
        rows.append(
            (
                "OpenSearch",
                f"vectors' hot set, {label}",
                f"{hot:,.0f} GB",
                f"{a.items:,.0f} items x {fp['hot_bytes_per_vector']} B (graph + "
                f"{'quantised' if fp is sq else 'raw'} vectors, measured on "
                f"{fp['vectors']:,}) x {copies} copies",
            )
        )
    # the served mapping stores float32 vectors: the plan sizes that; sq is the option above
    store_item = flt["store_bytes_per_vector"] + a.doc_bytes_besides_vector
    primaries = math.ceil(a.items * store_item / GB / a.shard_max_gb)
    rows.append(
        (
            "OpenSearch",
            "primary shards",
            f"{primaries}",
            f"{a.items:,.0f} x {store_item:,.0f} B per item ({flt['store_bytes_per_vector']} B "
            f"vector index measured + {a.doc_bytes_besides_vector:,.0f} B assumed) / "
            f"{a.shard_max_gb} GB per shard",
        )
    )
    per_shard = a.items / primaries
    knn = flt["knn_search_one_shard"]
    growth = math.log(per_shard) / math.log(flt["vectors"])
    per_core_shard_qps = knn["qps"] / a.bench_os_cores / growth
    shard_queries = a.peak_rps * (a.knn_per_request + a.lexical_per_request * a.lexical_cost_vs_knn)
    shard_queries *= primaries  # every query asks every primary's group once
    os_cores = shard_queries / per_core_shard_qps / a.os_cpu_target
    page_cache = a.os_node_ram_gb - a.os_heap_gb
    hot = a.items * flt["hot_bytes_per_vector"] * copies / GB
    nodes_mem = math.ceil(hot / page_cache)
    nodes_cpu = math.ceil(os_cores / a.os_node_vcpu)
    os_nodes = max(nodes_mem, nodes_cpu, copies)
    rows.append(
        (
            "OpenSearch",
            "shard queries per second",
            f"{shard_queries:,.0f}",
            f"{a.peak_rps:,.0f} req/s x ({a.knn_per_request} kNN + {a.lexical_per_request} BM25 "
            f"x {a.lexical_cost_vs_knn}) per request x {primaries} primaries",
        )
    )
    rows.append(
        (
            "OpenSearch",
            "data node cores",
            f"{os_cores:,.0f}",
            f"{knn['qps']} kNN/s (k 100, ef_search {knn.get('ef_search', 'default')}) measured "
            f"on one {flt['vectors']:,}-vector float32 shard in {flt.get('segments', '?')} "
            f"segment(s) (msearch), {a.bench_os_cores} cores, / log-growth {growth:.2f} to "
            f"{per_shard:,.0f} vectors per shard, at {a.os_cpu_target:.0%} CPU",
        )
    )
    rows.append(
        (
            "OpenSearch",
            "data nodes",
            f"{os_nodes}",
            f"max(memory {nodes_mem}: float32 hot set / {page_cache:.0f} GB page cache per node; "
            f"CPU {nodes_cpu}: cores / {a.os_node_vcpu} vCPU; {copies} copies) of "
            f"{a.os_node_vcpu} vCPU / {a.os_node_ram_gb:.0f} GB nodes",
        )
    )

    # -- Redis ---------------------------------------------------------------------------
    rd = footprint["redis"]
    redis_gb = (a.daily_users * rd["bytes_per_user"] + a.items * rd["bytes_per_item_counter"]) / GB
    redis_primaries = math.ceil(redis_gb / (a.redis_node_ram_gb * a.redis_usable_share))
    redis_nodes = redis_primaries * (1 + a.redis_replicas)
    rows.append(
        (
            "Redis",
            "memory (one copy)",
            f"{redis_gb:,.0f} GB",
            f"{a.daily_users:,.0f} users x {rd['bytes_per_user']} B (a day's "
            f"{rd['interactions_per_user']} interactions + {rd['queries_per_user']} queries, "
            f"measured) + {a.items:,.0f} items x {rd['bytes_per_item_counter']} B counters",
        )
    )
    rows.append(
        (
            "Redis",
            "nodes",
            f"{redis_nodes}",
            f"{redis_primaries} primaries of {a.redis_node_ram_gb:.0f} GB at "
            f"{a.redis_usable_share:.0%} usable, each with {a.redis_replicas} replica(s)",
        )
    )

    # -- cost ----------------------------------------------------------------------------
    def node_hour(vcpu: float, ram_gb: float) -> float:
        return vcpu * a.usd_vcpu_hour + ram_gb * a.usd_gb_hour

    api_h = node_hour(api_cores, api_cores * a.api_ram_gb_per_core)
    disk_gb = a.items * (flt["store_bytes_per_vector"] + a.doc_bytes_besides_vector) * copies / GB
    os_h = os_nodes * node_hour(a.os_node_vcpu, a.os_node_ram_gb)
    os_h += disk_gb * a.usd_disk_gb_month / 730
    redis_vcpu = 4  # a Redis node needs few cores: one thread serves
    redis_h = redis_nodes * node_hour(redis_vcpu, a.redis_node_ram_gb)
    total_h = api_h + os_h + redis_h
    mean_rps = a.peak_rps / a.peak_to_mean
    per_request = total_h / (mean_rps * 3600)
    rows.append(
        (
            "cost",
            "per hour, provisioned for the peak",
            f"${total_h:,.0f}",
            f"API ${api_h:,.0f} + OpenSearch ${os_h:,.0f} (with {disk_gb:,.0f} GB disk) + "
            f"Redis ${redis_h:,.0f}, at ${a.usd_vcpu_hour}/vCPU-h and ${a.usd_gb_hour}/GB-h",
        )
    )
    rows.append(
        (
            "cost",
            "per request",
            f"${per_request:.6f}",
            f"per hour / ({mean_rps:,.0f} req/s mean = peak / {a.peak_to_mean}) / 3600; "
            f"cap $0.001: {'within' if per_request <= 0.001 else 'OVER'}",
        )
    )
    return {
        "rows": [dict(zip(("part", "what", "figure", "how"), r, strict=True)) for r in rows],
        "assumptions": asdict(a),
        "measured": {
            "load": {k: load[k] for k in ("items", "backend", "cores", "generator")},
            "footprint_vectors": sq["vectors"],
        },
        "cost_per_request_usd": per_request,
    }


def markdown(result: dict[str, Any]) -> str:
    lines = ["| part | what | figure | how |", "|---|---|---|---|"]
    lines += [f"| {r['part']} | {r['what']} | {r['figure']} | {r['how']} |" for r in result["rows"]]
    lines += ["", "Assumptions (each one a flag of `python -m bench.capacity_plan`):", ""]
    lines += [f"- `--{k.replace('_', '-')}` {v}" for k, v in result["assumptions"].items()]
    return "\n".join(lines) + "\n"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.capacity_plan", description=__doc__)
    p.add_argument("--load", type=Path, required=True, help="bench.load_bench's JSON report")
    p.add_argument(
        "--footprint", type=Path, required=True, help="bench.footprint_bench's JSON report"
    )
    p.add_argument("--json", action="store_true", help="JSON instead of Markdown")
    defaults = Assumptions()
    for f in fields(Assumptions):
        value = getattr(defaults, f.name)
        p.add_argument(f"--{f.name.replace('_', '-')}", type=type(value), default=value)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        load = json.loads(args.load.read_text())
        footprint = json.loads(args.footprint.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        print(f"capacity_plan: cannot read the reports: {exc}", file=sys.stderr)
        return 2
    if "opensearch" not in footprint:
        print("capacity_plan: the footprint report has no OpenSearch figures", file=sys.stderr)
        return 2
    a = Assumptions(**{f.name: getattr(args, f.name) for f in fields(Assumptions)})
    result = plan(load, footprint, a)
    print(json.dumps(result, indent=2) if args.json else markdown(result), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
