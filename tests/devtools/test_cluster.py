"""The local cluster's bookkeeping, without starting a node (the test command's cluster runs
the live checks: tests/devtools/test_opensearch_node.py, tests/bench/test_failover_bench.py)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from devtools.opensearch_node import NodeError, down, kill_node, start_node, status, up
from devtools.opensearch_node.cluster import CLUSTER_FILE, ClusterSpec, member_home
from devtools.opensearch_node.process import free_ports, require_free

SPEC = ClusterSpec(
    ports=(9301, 9302, 9303),
    transport_ports=(9401, 9402, 9403),
    heap="256m",
    java_home=None,
    cache=None,
)


def _write(home: Path, spec: ClusterSpec = SPEC) -> None:
    (home / CLUSTER_FILE).write_text(json.dumps(dataclasses.asdict(spec)))


def test_every_member_knows_every_other_one(tmp_path: Path) -> None:
    members = [SPEC.member(tmp_path, i) for i in range(3)]
    assert len({m.name for m in members}) == 3
    for i, m in enumerate(members):
        assert m.transport_port == SPEC.transport_ports[i]
        assert m.seed_transport_ports == SPEC.transport_ports
        assert m.initial_managers == tuple(x.name for x in members)
        assert m.snapshots == tmp_path / "snapshots"  # one repository for the whole cluster
    assert member_home(tmp_path, 2) == tmp_path.resolve() / "node-2"


def test_the_spec_survives_its_file(tmp_path: Path) -> None:
    _write(tmp_path)
    assert ClusterSpec.read(tmp_path) == SPEC
    (tmp_path / CLUSTER_FILE).write_text("{not json")
    assert ClusterSpec.read(tmp_path) is None


def test_a_stopped_cluster_is_not_running_and_down_forgets_it(tmp_path: Path) -> None:
    _write(tmp_path)
    assert status(tmp_path) is None
    assert down(tmp_path) is False
    assert not (tmp_path / CLUSTER_FILE).exists()


def test_node_commands_name_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(NodeError, match="no cluster"):
        kill_node(tmp_path, 0)
    _write(tmp_path)
    with pytest.raises(NodeError, match="nodes 0-2, not 3"):
        start_node(tmp_path, 3)
    with pytest.raises(NodeError, match="not running"):
        kill_node(tmp_path, 1)
    with pytest.raises(NodeError, match="at least 1"):
        up(tmp_path / "other", 0, nodes=0)


def test_free_ports_are_distinct_and_free() -> None:
    ports = free_ports(8)
    assert len(set(ports)) == 8
    for port in ports:
        require_free(port)
