"""The side-by-side backend benchmark runs end to end on a tiny catalogue (figures: bench only)."""

from __future__ import annotations

from bench.backends_bench import _args, run_with_node
from tests.servers import OPENSEARCH_URL, needs_opensearch


@needs_opensearch
def test_backends_bench_reports_both_backends() -> None:
    args = _args(["--n", "3000", "--queries", "15", "--opensearch-url", OPENSEARCH_URL])
    report = run_with_node(args)
    for backend in ("embedded", "opensearch"):
        got = report[backend]
        assert got["ingest_items_per_s"] > 0
        for case in ("no_filter", "category_5pct", "brand_5pct"):
            knn = got[f"knn_top100_{case}"]
            assert knn["recall@100"] >= 0.9, (backend, case, knn)
            assert knn["p50_ms"] <= knn["p99_ms"]
        assert {"lexical_top100", "hybrid_rrf_top100"} <= set(got)
