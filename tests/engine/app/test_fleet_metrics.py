"""``GET /metrics`` of several worker processes: each process's figures, labelled with its
slot, in one exposition; a dead process's snapshot left out once stale."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from engine.app.fleet_metrics import fleet_exposition, merge, others, write_snapshot
from engine.serving.metrics import Metrics

pytestmark = pytest.mark.unit


def _metrics(searches: int, lag: int) -> bytes:
    m = Metrics()
    for _ in range(searches):
        m.request_seconds.labels("search").observe(0.004)
    m.ingest_lag.set(lag)
    m.degraded.labels("feed").inc(searches)
    return m.render()


def _samples(text: bytes | str) -> dict[tuple[str, str, str], float]:
    raw = text.decode() if isinstance(text, bytes) else text
    return {
        (s.name, s.labels.get("replica", ""), s.labels.get("surface", "")): s.value
        for fam in text_string_to_metric_families(raw)
        for s in fam.samples
        if "le" not in s.labels
    }


def test_merge_labels_each_process_and_keeps_every_family() -> None:
    merged = merge({"0": _metrics(3, 7).decode(), "1": _metrics(5, 0).decode()})
    got = _samples(merged)
    assert got[("shopnow_request_seconds_count", "0", "search")] == 3
    assert got[("shopnow_request_seconds_count", "1", "search")] == 5
    assert got[("shopnow_ingest_lag_changes", "0", "")] == 7
    assert got[("shopnow_ingest_lag_changes", "1", "")] == 0
    assert got[("shopnow_degraded_responses_total", "1", "feed")] == 5
    text = merged.decode()
    # one HELP and TYPE per family: a valid exposition, not two concatenated
    assert text.count("# TYPE shopnow_request_seconds histogram") == 1
    assert text.count("# HELP shopnow_ingest_lag_changes ") == 1
    families = {f.name for f in text_string_to_metric_families(_metrics(1, 1).decode())}
    assert families == {f.name for f in text_string_to_metric_families(text)}


def test_a_scrape_reports_its_own_process_and_the_recent_others(tmp_path: Path) -> None:
    for slot in ("0", "1", "2"):
        (tmp_path / slot).mkdir()
    write_snapshot(tmp_path / "1", _metrics(4, 0))
    write_snapshot(tmp_path / "2", _metrics(9, 0))
    old = time.time() - 60  # slot 2's process died a minute ago
    os.utime(tmp_path / "2" / "metrics.prom", (old, old))
    assert set(others(tmp_path, "0", stale_after_s=15)) == {"1"}
    got = _samples(fleet_exposition(tmp_path / "0", _metrics(2, 0), stale_after_s=15))
    counts = {r: v for (n, r, s), v in got.items() if n == "shopnow_request_seconds_count"}
    assert counts == {"0": 2, "1": 4}
    # the answering process left its own snapshot for the others' scrapes
    assert set(others(tmp_path, "1", stale_after_s=15)) == {"0"}


def test_a_scrape_answers_when_its_snapshot_cannot_be_written(tmp_path: Path) -> None:
    (tmp_path / "1").mkdir()
    write_snapshot(tmp_path / "1", _metrics(4, 0))
    gone = tmp_path / "0"  # its directory removed: the write fails, the scrape still answers
    got = _samples(fleet_exposition(gone, _metrics(2, 0), stale_after_s=15))
    counts = {r: v for (n, r, s), v in got.items() if n == "shopnow_request_seconds_count"}
    assert counts == {"0": 2, "1": 4}
