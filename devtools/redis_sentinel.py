"""A Redis primary with replicas under Redis Sentinel on 127.0.0.1, from Debian's
``redis-server`` (which runs as a sentinel with ``--sentinel``), for tests and benchmarks of
failover. ``python -m devtools.redis_sentinel up|down|status|kill-primary|start --home DIR``
prints JSON.

``up`` starts the data servers (the first as primary, the others replicating it) and the
sentinels (quorum: a majority), and waits until every sentinel sees the primary and its
replicas. ``kill-primary`` SIGKILLs the current primary (no persistence: what it held and had
not replicated is gone, as when a machine dies); the sentinels promote a replica after
``down_after_ms``. ``start --port P`` brings a killed server back as a replica of the current
primary. Layout of ``home``: ``group.json``, ``redis-<port>.{pid,log}``, ``sentinel-<port>.conf``
(sentinels rewrite their own configuration).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from devtools.opensearch_node.process import free_ports

SERVICE = "shopnow"
GROUP_FILE = "group.json"


class GroupError(RuntimeError):
    """A start or stop failure with a message meant for a human."""


@dataclass(frozen=True, slots=True)
class Group:
    home: str
    service: str
    servers: tuple[int, ...]  # data servers' ports; the first started as primary
    sentinels: tuple[int, ...]
    quorum: int
    down_after_ms: int

    @property
    def url(self) -> str:
        """The engine's ``redis_url`` for this group (database 0)."""
        hosts = ",".join(f"127.0.0.1:{p}" for p in self.sentinels)
        return f"redis+sentinel://{hosts}/{self.service}/0"


def _cli(port: int, *args: str) -> str:
    out = subprocess.run(
        ["redis-cli", "-p", str(port), *args], capture_output=True, text=True, timeout=10
    )
    return out.stdout.strip()


def _server(home: Path, port: int, replica_of: int | None) -> None:
    argv = [
        _binary(),
        "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
        "--dir", str(home), "--daemonize", "yes",
        "--pidfile", str(home / f"redis-{port}.pid"), "--logfile", str(home / f"redis-{port}.log"),
    ]  # fmt: skip
    if replica_of is not None:
        argv += ["--replicaof", "127.0.0.1", str(replica_of)]
    subprocess.run(argv, check=True, timeout=10)
    _wait(lambda: _cli(port, "ping") == "PONG", f"redis-server on {port} to answer", 10)


def _sentinel(home: Path, port: int, primary: int, quorum: int, down_after_ms: int) -> None:
    conf = home / f"sentinel-{port}.conf"
    conf.write_text(
        f"port {port}\nbind 127.0.0.1\ndir {home}\n"
        f"sentinel monitor {SERVICE} 127.0.0.1 {primary} {quorum}\n"
        f"sentinel down-after-milliseconds {SERVICE} {down_after_ms}\n"
        f"sentinel failover-timeout {SERVICE} {max(3 * down_after_ms, 5000)}\n"
        f"sentinel parallel-syncs {SERVICE} 1\n"
    )
    argv = [
        _binary(), str(conf), "--sentinel", "--daemonize", "yes",
        "--pidfile", str(home / f"redis-{port}.pid"), "--logfile", str(home / f"redis-{port}.log"),
    ]  # fmt: skip
    subprocess.run(argv, check=True, timeout=10)


def _binary() -> str:
    found = shutil.which("redis-server")
    if found is None:
        raise GroupError("redis-server not found: `apt-get install redis-server`")
    return found


def _wait(ok: Callable[[], bool], what: str, timeout: float) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if ok():
            return time.monotonic() - t0
        time.sleep(0.05)
    raise GroupError(f"timed out after {timeout:.0f} s waiting for {what}")


def up(
    home: Path,
    *,
    replicas: int = 1,
    sentinels: int = 3,
    down_after_ms: int = 1000,
    timeout: float = 30.0,
) -> Group:
    """Start the group in ``home`` (or return the one running there)."""
    home = home.resolve()
    running = status(home)
    if running is not None:
        return running
    home.mkdir(parents=True, exist_ok=True)
    ports = free_ports(1 + replicas + sentinels)
    group = Group(
        home=str(home),
        service=SERVICE,
        servers=tuple(ports[: 1 + replicas]),
        sentinels=tuple(ports[1 + replicas :]),
        quorum=sentinels // 2 + 1,
        down_after_ms=down_after_ms,
    )
    (home / GROUP_FILE).write_text(json.dumps(dataclasses.asdict(group), indent=2) + "\n")
    try:
        primary = group.servers[0]
        for i, port in enumerate(group.servers):
            _server(home, port, None if i == 0 else primary)
        for port in group.sentinels:
            _sentinel(home, port, primary, group.quorum, down_after_ms)

        def seen() -> bool:
            for s in group.sentinels:
                info = _cli(s, "sentinel", "master", SERVICE)
                if (
                    f"num-slaves\n{replicas}" not in info
                    or "num-other-sentinels\n" + str(sentinels - 1) not in info
                ):
                    return False
            return True

        _wait(seen, "the sentinels to see the primary, its replicas and each other", timeout)
    except (GroupError, subprocess.SubprocessError, OSError):
        down(home)
        raise
    return group


def read(home: Path) -> Group | None:
    try:
        raw = json.loads((home.resolve() / GROUP_FILE).read_text())
    except (OSError, ValueError):
        return None
    raw["servers"], raw["sentinels"] = tuple(raw["servers"]), tuple(raw["sentinels"])
    return Group(**raw)


def _pid(home: Path, port: int) -> int | None:
    try:
        pid = int((home / f"redis-{port}.pid").read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def status(home: Path) -> Group | None:
    """The group of ``home`` when any of its sentinels runs."""
    group = read(home)
    if group is None or not any(_pid(Path(group.home), p) for p in group.sentinels):
        return None
    return group


def primary(home: Path) -> int:
    """The current primary's port, as a majority of the sentinels see it."""
    group = read(home)
    if group is None:
        raise GroupError(f"no Redis group in {home}")
    votes: dict[int, int] = {}
    for s in group.sentinels:
        got = _cli(s, "sentinel", "get-master-addr-by-name", SERVICE).split()
        if len(got) == 2 and got[1].isdigit():
            votes[int(got[1])] = votes.get(int(got[1]), 0) + 1
    if not votes:
        raise GroupError(f"no sentinel of {home} answers")
    return max(votes, key=lambda p: votes[p])


def _stop(pid: int, sig: signal.Signals) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.02)
    raise GroupError(f"process {pid} did not stop")


def kill_primary(home: Path) -> int:
    """SIGKILL the current primary; its port."""
    port = primary(home)
    pid = _pid(home.resolve(), port)
    if pid is None:
        raise GroupError(f"the primary on {port} is not running")
    _stop(pid, signal.SIGKILL)
    return port


def start(home: Path, port: int) -> None:
    """Start data server ``port`` again, as a replica of the current primary."""
    group = read(home)
    if group is None or port not in group.servers:
        raise GroupError(f"{port} is not a data server of the group in {home}")
    _server(Path(group.home), port, primary(home))


def down(home: Path) -> bool:
    """Stop every process of the group; False when none ran."""
    group = read(home)
    if group is None:
        return False
    stopped = False
    for port in (*group.sentinels, *group.servers):
        pid = _pid(Path(group.home), port)
        if pid is not None:
            _stop(pid, signal.SIGTERM)
            stopped = True
    (home.resolve() / GROUP_FILE).unlink(missing_ok=True)
    return stopped


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m devtools.redis_sentinel", description=__doc__)
    p.add_argument("action", choices=("up", "down", "status", "kill-primary", "start"))
    p.add_argument("--home", type=Path, required=True)
    p.add_argument("--replicas", type=int, default=1)
    p.add_argument("--sentinels", type=int, default=3)
    p.add_argument(
        "--down-after-ms", type=int, default=1000, help="primary unreachable this long: failover"
    )
    p.add_argument("--port", type=int, help="start: the data server to bring back")
    args = p.parse_args(argv)
    try:
        if args.action == "up":
            g = up(
                args.home,
                replicas=args.replicas,
                sentinels=args.sentinels,
                down_after_ms=args.down_after_ms,
            )
            print(
                json.dumps({**dataclasses.asdict(g), "url": g.url, "primary": primary(args.home)})
            )
        elif args.action == "down":
            print(json.dumps({"stopped": down(args.home)}))
        elif args.action == "status":
            g2 = status(args.home)
            if g2 is None:
                print(json.dumps({"running": False}))
                return 3
            print(
                json.dumps({**dataclasses.asdict(g2), "url": g2.url, "primary": primary(args.home)})
            )
        elif args.action == "kill-primary":
            print(json.dumps({"killed": kill_primary(args.home)}))
        else:
            if args.port is None:
                raise GroupError("start needs --port")
            start(args.home, args.port)
            print(json.dumps({"started": args.port, "primary": primary(args.home)}))
    except GroupError as exc:
        print(f"redis-sentinel {args.action}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
