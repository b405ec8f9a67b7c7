"""The Redis primary killed under load through the HTTP API: no 5xx, the store back on the
promoted replica, and no more clicks lost than async replication can (figures:
``python -m bench.redis_failover_bench``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.redis_failover_bench import main
from devtools.redis_sentinel import primary, read
from tests.servers import REDIS_SENTINEL_HOME, missing, needs_sentinel


@needs_sentinel
@pytest.mark.slow
def test_a_killed_primary_costs_no_5xx(capsys: pytest.CaptureFixture[str]) -> None:
    if not REDIS_SENTINEL_HOME:
        missing("the Sentinel group's home (SHOPNOW_TEST_REDIS_SENTINEL_HOME, scripts/test.sh)")
    home = Path(REDIS_SENTINEL_HOME)
    argv = ["--home", str(home), "--smoke", "--before", "3", "--after", "2"]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    phases = report["phases"]
    assert report["new_primary"] != report["killed_primary"]
    assert all(phases[p]["requests"] > 0 for p in phases)
    assert sum(phases[p]["5xx"] for p in phases) == 0, phases
    # every store failure during the failover was answered, flagged degraded or spooled
    assert set(phases["failing_over"]["by_status"]) <= {"200", "202"}
    clicks = report["clicks"]
    assert clicks["acknowledged"] > 0 and clicks["left_in_spool"] == 0
    assert clicks["lost"] <= clicks["loss_bound"], clicks
    # the killed server is back, as a replica: the group can fail over again
    group = read(home)
    assert group is not None and primary(home) == report["new_primary"]
    assert report["killed_primary"] in group.servers
