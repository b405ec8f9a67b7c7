"""Start, stop and inspect one OpenSearch node on 127.0.0.1, rooted at a home dir: a
single-node cluster, or one member of a local cluster (:mod:`.cluster`).

Layout of ``home``: ``opensearch-<v>/`` (hard-linked copy of the cached distribution, so a
non-root user can read it even when the cache lies under a private ``/root``), ``config/``,
``data/``, ``logs/``, ``tmp/``, ``snapshots/`` (owned by the node's user; the snapshot
repository path, shared by a cluster's members), ``opensearch.pid`` and ``node.json``.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from devtools.opensearch_node import process
from devtools.opensearch_node.distribution import MARKER, default_cache, provision
from devtools.opensearch_node.model import (
    DEFAULT_HEAP,
    NODE_USER,
    OPENSEARCH_VERSION,
    PID_FILE,
    STATE_FILE,
    NodeError,
    NodeInfo,
)

CLUSTER_NAME = "shopnow-local"


@dataclass(frozen=True, slots=True)
class Membership:
    """A node's place in a local multi-node cluster: its name, its transport port, every
    member's transport address (discovery) and name (first cluster-manager election), and the
    snapshot directory all members share."""

    name: str
    transport_port: int
    seed_transport_ports: tuple[int, ...]
    initial_managers: tuple[str, ...]
    snapshots: Path


def default_home() -> Path:
    if os.geteuid() == 0:
        return Path("/var/lib/shopnow/opensearch")
    return Path.home() / ".local" / "state" / "shopnow" / "opensearch"


def up(
    home: Path,
    port: int,
    *,
    cache: Path | None = None,
    java_home: Path | None = None,
    heap: str = DEFAULT_HEAP,
    timeout: float = 180.0,
    snapshots: Path | None = None,
) -> NodeInfo:
    """Provision (cached) and start a node on ``port`` (0: any free port); wait for yellow.
    ``snapshots``: the snapshot repository directory (default ``home/snapshots``)."""
    home = home.resolve()
    running = status(home)
    if running is not None:
        if port not in (0, running.port):
            raise NodeError(f"a node from {home} already runs on port {running.port}")
        return running
    port = port or process.free_port()
    pid = launch(home, port, cache=cache, java_home=java_home, heap=heap, snapshots=snapshots)
    wait_healthy(home, pid, port, timeout)
    info = status(home)
    if info is None:
        raise NodeError(f"node {pid} vanished right after start\n{log_tail(home)}")
    return info


def launch(
    home: Path,
    port: int,
    *,
    cache: Path | None = None,
    java_home: Path | None = None,
    heap: str = DEFAULT_HEAP,
    member: Membership | None = None,
    snapshots: Path | None = None,
) -> int:
    """Provision (cached), configure and spawn a node on ``port`` without waiting for it; its
    pid. ``member``: join a local cluster instead of forming a single-node one."""
    home = home.resolve()
    _forget(home)
    java = process.find_java(java_home)
    process.require_free(port)
    account = process.ensure_account(NODE_USER)
    process.check_reachable(home, account)
    dist = provision(cache or default_cache(OPENSEARCH_VERSION), java, OPENSEARCH_VERSION)
    repo = member.snapshots if member else (snapshots or home / "snapshots")
    runtime = _prepare_home(home, dist, port, heap, account, member, repo.resolve())
    log = home / "logs" / "console.log"
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "OPENSEARCH_JAVA_HOME": str(java),
        "OPENSEARCH_PATH_CONF": str(home / "config"),
        "OPENSEARCH_TMPDIR": str(home / "tmp"),
    }
    pid = process.spawn(
        [str(runtime / "bin" / "opensearch")], cwd=runtime, env=env, log=log, account=account
    )
    (home / PID_FILE).write_text(f"{pid}\n")
    state = {"pid": pid, "port": port, "version": OPENSEARCH_VERSION, "java_home": str(java)}
    (home / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n")
    return pid


def down(home: Path, timeout: float = 60.0) -> bool:
    """Stop the node of ``home`` (SIGTERM, then SIGKILL); False if nothing was running."""
    home = home.resolve()
    pid = _our_pid(home)
    if pid is not None:
        process.stop(pid, timeout)
    _forget(home)
    return pid is not None


def status(home: Path) -> NodeInfo | None:
    """The running node of ``home``, or None. Queries it when its HTTP port answers."""
    home = home.resolve()
    pid = _our_pid(home)
    if pid is None:
        return None
    state = json.loads((home / STATE_FILE).read_text())
    port = int(state["port"])
    base = NodeInfo(
        pid, port, str(state["version"]), (), (), home, "unreachable", process.rss_mb(pid)
    )
    try:
        with httpx.Client(base_url=base.url, timeout=5.0) as client:
            root = client.get("/").raise_for_status().json()
            health = client.get("/_cluster/health").json()
            nodes = client.get("/_nodes/_local/plugins").raise_for_status().json()["nodes"]
    except (httpx.HTTPError, ValueError, KeyError):
        return base
    node: dict[str, Any] = next(iter(nodes.values()))
    return NodeInfo(
        pid=pid,
        port=port,
        version=str(root["version"]["number"]),
        plugins=tuple(sorted(p["name"] for p in node.get("plugins", []))),
        modules=tuple(sorted(m["name"] for m in node.get("modules", []))),
        home=home,
        cluster_status=str(health.get("status", "unknown")),
        rss_mb=process.rss_mb(pid),
    )


def _our_pid(home: Path) -> int | None:
    """The pid in the pid file if that process is alive and is this home's OpenSearch."""
    try:
        pid = int((home / PID_FILE).read_text().strip())
        json.loads((home / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not process.alive(pid):
        return None
    argv = process.cmdline(pid)
    conf = f"-Dopensearch.path.conf={home / 'config'}"
    # While bin/opensearch still runs the launcher script, argv is bash's; accept both.
    if conf in argv or any(a.endswith("/bin/opensearch") for a in argv):
        return pid
    return None


def _forget(home: Path) -> None:
    for name in (PID_FILE, STATE_FILE):
        (home / name).unlink(missing_ok=True)


def _prepare_home(
    home: Path,
    dist: Path,
    port: int,
    heap: str,
    account: process.Account,
    member: Membership | None,
    snapshots: Path,
) -> Path:
    snapshots.mkdir(parents=True, exist_ok=True)
    for sub in ("config", "data", "logs", "tmp"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    runtime = home / dist.name
    if (
        not (runtime / MARKER).is_file()
        or (runtime / MARKER).read_text() != (dist / MARKER).read_text()
    ):
        shutil.rmtree(runtime, ignore_errors=True)
        shutil.copytree(dist, runtime, copy_function=_link_or_copy, symlinks=True)
    conf = home / "config"
    shutil.copy2(dist / "config" / "log4j2.properties", conf / "log4j2.properties")
    (conf / "jvm.options.d").mkdir(exist_ok=True)
    (conf / "jvm.options").write_text(_jvm_options(dist, home, heap))
    settings: dict[str, Any] = {
        "cluster.name": CLUSTER_NAME,
        "node.name": member.name if member else f"{CLUSTER_NAME}-{port}",
        "path.data": str(home / "data"),
        "path.logs": str(home / "logs"),
        "path.repo": [str(snapshots)],
        "network.host": "127.0.0.1",
        "http.port": port,
        "bootstrap.memory_lock": False,
        # a shared dev disk must not flip indices to read-only
        "cluster.routing.allocation.disk.threshold_enabled": False,
    }
    if member is None:
        settings |= {"transport.port": process.free_port(), "discovery.type": "single-node"}
    else:
        settings |= {
            "transport.port": member.transport_port,
            "discovery.seed_hosts": [f"127.0.0.1:{p}" for p in member.seed_transport_ports],
            "cluster.initial_cluster_manager_nodes": list(member.initial_managers),
        }
    (conf / "opensearch.yml").write_text(
        "".join(f"{k}: {json.dumps(v)}\n" for k, v in settings.items())
    )
    for sub in ("config", "data", "logs", "tmp"):
        process.chown_tree(home / sub, account)
    process.chown_tree(snapshots, account)
    return runtime


def _jvm_options(dist: Path, home: Path, heap: str) -> str:
    """The distribution's jvm.options with our heap and absolute log/dump paths."""
    out = []
    for line in (dist / "config" / "jvm.options").read_text().splitlines():
        if line.startswith(("-Xms", "-Xmx")):
            continue
        line = line.replace("file=logs/", f"file={home}/logs/")
        line = line.replace("ErrorFile=logs/", f"ErrorFile={home}/logs/")
        line = line.replace("HeapDumpPath=data", f"HeapDumpPath={home}/data")
        out.append(line)
    out += [f"-Xms{heap}", f"-Xmx{heap}"]
    return "\n".join(out) + "\n"


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def wait_healthy(home: Path, pid: int, port: int, timeout: float, nodes: int = 1) -> None:
    """Wait until the node answers yellow or green with ``nodes`` members joined; stop it and
    raise after ``timeout`` seconds or when it exits."""
    url = f"http://127.0.0.1:{port}/_cluster/health"
    params = {"wait_for_status": "yellow", "wait_for_nodes": str(nodes), "timeout": "2s"}
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=10.0) as client:
        while time.monotonic() < deadline:
            if not process.alive(pid):
                _forget(home)
                raise NodeError(f"OpenSearch exited during startup\n{log_tail(home)}")
            try:
                resp = client.get(url, params=params)
                if resp.status_code == 200 and resp.json().get("status") in ("green", "yellow"):
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.5)
    process.stop(pid, 30.0)
    _forget(home)
    raise NodeError(f"OpenSearch not healthy after {timeout:.0f}s\n{log_tail(home)}")


def log_tail(home: Path, lines: int = 40) -> str:
    """The last lines of the node's logs, for error messages."""
    chunks = []
    for log in (home / "logs" / f"{CLUSTER_NAME}.log", home / "logs" / "console.log"):
        if log.is_file():
            tail = log.read_text(errors="replace").splitlines()[-lines:]
            chunks.append(f"--- tail of {log} ---\n" + "\n".join(tail))
    return "\n".join(chunks) or f"(no log under {home / 'logs'})"
