"""Two `shopnow serve` replicas sharing one PostgreSQL control database: a rule saved through
either is live on both (figures: ``python -m bench.rules_propagation_bench``)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from bench.rules_propagation_bench import main
from tests.servers import fresh_postgres_database, needs_postgres


@pytest.fixture
def database() -> Iterator[str]:
    """A new database on the test server, dropped afterwards."""
    with fresh_postgres_database("prop") as url:
        yield url


@needs_postgres
@pytest.mark.slow
def test_a_rule_saved_on_one_replica_is_live_on_both(
    database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--smoke", "--rounds", "4", "--poll-s", "0.2", "--control-url", database]
    assert main(argv) == 0  # a rule not live everywhere within 30 s raises
    report = json.loads(capsys.readouterr().out)
    assert report["replicas"] == 2
    assert report["propagation"]["n"] == 8  # every round, on every replica
    assert set(report["per_replica"]) == {"replica-0", "replica-1"}

    import psycopg

    with psycopg.connect(database) as db:  # saved once, through both replicas in turn
        (rules,) = db.execute("SELECT count(*) FROM rules").fetchone() or (0,)
        actors = {a for (a,) in db.execute("SELECT DISTINCT actor FROM audit")}
    assert rules == 4 and len(actors) == 1
