"""The Sentinel group's bookkeeping without servers (the test command's group runs the live
checks: tests/bench/test_redis_failover_bench.py, the store suite on Sentinel)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from devtools.redis_sentinel import (
    GROUP_FILE,
    Group,
    GroupError,
    down,
    primary,
    read,
    start,
    status,
)


def test_a_group_file_reads_back_and_gives_the_engine_address(tmp_path: Path) -> None:
    group = Group(str(tmp_path), "shopnow", (7001, 7002), (7101, 7102, 7103), 2, 1000)
    (tmp_path / GROUP_FILE).write_text(json.dumps(dataclasses.asdict(group)))
    assert read(tmp_path) == group
    assert group.url == ("redis+sentinel://127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103/shopnow/0")
    assert status(tmp_path) is None  # no sentinel runs
    with pytest.raises(GroupError, match="not a data server"):
        start(tmp_path, 7999)
    assert down(tmp_path) is False
    assert read(tmp_path) is None


def test_commands_on_an_empty_home_say_so(tmp_path: Path) -> None:
    with pytest.raises(GroupError, match="no Redis group"):
        primary(tmp_path)
    assert status(tmp_path) is None
