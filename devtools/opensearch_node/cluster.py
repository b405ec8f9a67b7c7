"""A local OpenSearch cluster of several nodes on 127.0.0.1, and the commands that treat a
home as one node or as a cluster alike (``up``, ``down``, ``status``).

A cluster's home holds ``cluster.json`` (the members' HTTP and transport ports, heap, JDK) and
one node home per member, ``node-<i>/`` (:mod:`.node`'s layout), plus ``snapshots/``, the
filesystem snapshot repository every member shares. Every member is cluster-manager eligible
and a data node, as the small production clusters of three are. ``kill_node`` and
``start_node`` take one member down without a shutdown (SIGKILL) and bring it back on the same
ports and data, for failure tests.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from devtools.opensearch_node import node, process
from devtools.opensearch_node.model import DEFAULT_HEAP, NodeError, NodeInfo

CLUSTER_FILE = "cluster.json"


@dataclass(frozen=True, slots=True)
class ClusterSpec:
    """What is needed to (re)start any member: ports are fixed for the cluster's life."""

    ports: tuple[int, ...]
    transport_ports: tuple[int, ...]
    heap: str
    java_home: str | None
    cache: str | None
    snapshots: str | None = None  # the shared snapshot directory (default home/snapshots)

    def member(self, home: Path, i: int) -> node.Membership:
        names = tuple(_name(k) for k in range(len(self.ports)))
        return node.Membership(
            name=names[i],
            transport_port=self.transport_ports[i],
            seed_transport_ports=self.transport_ports,
            initial_managers=names,
            snapshots=Path(self.snapshots) if self.snapshots else home / "snapshots",
        )

    @staticmethod
    def read(home: Path) -> ClusterSpec | None:
        try:
            raw = json.loads((home / CLUSTER_FILE).read_text())
        except (OSError, ValueError):
            return None
        return ClusterSpec(
            ports=tuple(raw["ports"]),
            transport_ports=tuple(raw["transport_ports"]),
            heap=str(raw["heap"]),
            java_home=raw.get("java_home"),
            cache=raw.get("cache"),
            snapshots=raw.get("snapshots"),
        )


def _name(i: int) -> str:
    return f"{node.CLUSTER_NAME}-node-{i}"


def member_home(home: Path, i: int) -> Path:
    return home.resolve() / f"node-{i}"


def is_cluster(home: Path) -> bool:
    return (home.resolve() / CLUSTER_FILE).is_file()


def up(
    home: Path,
    port: int,
    *,
    nodes: int | None = None,
    cache: Path | None = None,
    java_home: Path | None = None,
    heap: str = DEFAULT_HEAP,
    timeout: float = 180.0,
    snapshots: Path | None = None,
) -> NodeInfo:
    """Start one node (``nodes`` 1, the default) or a cluster of ``nodes`` on ``home``; the
    first member listens on ``port`` (0: any free port). Returns what runs there already when
    it is the size asked for (any size when ``nodes`` is None).
    ``snapshots``: the snapshot repository directory every node may use (``path.repo``;
    default ``home/snapshots``), e.g. one shared with another cluster to restore there."""
    if nodes is not None and nodes < 1:
        raise NodeError(f"--nodes must be at least 1, not {nodes}")
    home = home.resolve()
    running = status(home)
    if running is not None:
        have = max(len(running.urls), 1)
        if nodes is not None and have != nodes:
            raise NodeError(f"{home} already runs {have} node(s); `down` it first")
        if port not in (0, running.port):
            raise NodeError(f"a node from {home} already runs on port {running.port}")
        return running
    if nodes is None:  # a stopped cluster starts again at its size
        stopped = ClusterSpec.read(home)
        nodes = len(stopped.ports) if stopped else 1
    if nodes == 1 and not is_cluster(home):
        return node.up(
            home,
            port,
            cache=cache,
            java_home=java_home,
            heap=heap,
            timeout=timeout,
            snapshots=snapshots,
        )
    http = process.free_ports(nodes + 1)
    spec = ClusterSpec(
        ports=(port or http[-1], *http[1:nodes]),
        transport_ports=tuple(process.free_ports(nodes)),
        heap=heap,
        java_home=str(java_home) if java_home else None,
        cache=str(cache) if cache else None,
        snapshots=str(snapshots.resolve()) if snapshots else None,
    )
    home.mkdir(parents=True, exist_ok=True)
    (home / CLUSTER_FILE).write_text(json.dumps(dataclasses.asdict(spec), indent=2) + "\n")
    try:
        pids = [_launch(home, spec, i) for i in range(nodes)]
        for i, pid in enumerate(pids):
            node.wait_healthy(member_home(home, i), pid, spec.ports[i], timeout, nodes=nodes)
    except NodeError:
        down(home)
        raise
    info = status(home)
    if info is None:
        raise NodeError(f"the cluster in {home} vanished right after start")
    return info


def _launch(home: Path, spec: ClusterSpec, i: int) -> int:
    return node.launch(
        member_home(home, i),
        spec.ports[i],
        cache=Path(spec.cache) if spec.cache else None,
        java_home=Path(spec.java_home) if spec.java_home else None,
        heap=spec.heap,
        member=spec.member(home, i),
    )


def down(home: Path, timeout: float = 60.0) -> bool:
    """Stop every node of ``home``; False if nothing was running."""
    home = home.resolve()
    spec = ClusterSpec.read(home)
    if spec is None:
        return node.down(home, timeout)
    stopped = [node.down(member_home(home, i), timeout) for i in range(len(spec.ports))]
    (home / CLUSTER_FILE).unlink(missing_ok=True)
    return any(stopped)


def status(home: Path) -> NodeInfo | None:
    """The running node of ``home``; for a cluster, its first live member with every member's
    URL in ``urls``. None when nothing runs."""
    home = home.resolve()
    spec = ClusterSpec.read(home)
    if spec is None:
        return node.status(home)
    urls = tuple(f"http://127.0.0.1:{p}" for p in spec.ports)
    for i in range(len(spec.ports)):
        info = node.status(member_home(home, i))
        if info is not None:
            return dataclasses.replace(info, home=home, urls=urls)
    return None


def kill_node(home: Path, i: int) -> int:
    """SIGKILL member ``i`` of the cluster in ``home`` (as a machine's loss); its pid."""
    _spec(home, i)
    info = node.status(member_home(home, i))
    if info is None:
        raise NodeError(f"node {i} of {home} is not running")
    process.kill(info.pid)
    return info.pid


def start_node(home: Path, i: int, timeout: float = 180.0) -> NodeInfo:
    """Bring member ``i`` back on its ports and data; wait until every member has joined."""
    spec = _spec(home, i)
    pid = _launch(home.resolve(), spec, i)
    node.wait_healthy(member_home(home, i), pid, spec.ports[i], timeout, nodes=len(spec.ports))
    info = node.status(member_home(home, i))
    if info is None:
        raise NodeError(f"node {i} of {home} vanished right after start")
    return info


def _spec(home: Path, i: int) -> ClusterSpec:
    spec = ClusterSpec.read(home.resolve())
    if spec is None:
        raise NodeError(f"no cluster in {home} (no {CLUSTER_FILE})")
    if not 0 <= i < len(spec.ports):
        raise NodeError(f"the cluster in {home} has nodes 0-{len(spec.ports) - 1}, not {i}")
    return spec
