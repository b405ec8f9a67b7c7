"""The text encoder benchmark at its smallest size: the exported graph agrees with torch and
serves the same two-tower recall (figures: ``python -m bench.encoder_bench``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.encoder_bench import main


@pytest.mark.slow
def test_the_graph_encoder_serves_the_recall_of_torch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--smoke", "--workdir", str(tmp_path), "--texts", "64", "--queries", "10"]
    assert main([*argv, "--requests", "300"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["agreement"]["openvino_f32"]["max_abs_diff"] < 1e-4
    served = [k for k in report["agreement"] if k != "openvino_f32"]
    assert all(report["agreement"][k]["min_cosine"] > 0.9999 for k in served)
    rates = report["throughput"]
    assert rates["torch_2_threads"] > 0 and rates["openvino_f32_2_threads"] > 0
    assert report["query"]["openvino"]["n"] == 10
    for surface, row in report["recall"]["two_tower@100_all_segments"].items():
        assert row["torch"] > 0, surface  # the towers retrieve something held out
        # a few hundred requests: one relevant item crossing the top-100 line moves recall by
        # ~0.005 (the 1% target is read from the 5K and 50K runs, docs/benchmarks.md)
        assert abs(row["openvino"] - row["torch"]) <= 0.02, (surface, row)
