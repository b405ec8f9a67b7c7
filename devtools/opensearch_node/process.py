"""OS-level helpers: the JDK, the dedicated user, ports, spawning and stopping a process."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from devtools.opensearch_node.model import NodeError

# 2.19 needs Java 11+, and the Security Manager it relies on is gone from JDK 24 on.
JAVA_MIN, JAVA_MAX = 11, 23


@dataclass(frozen=True, slots=True)
class Account:
    """Who the node runs as; ``None`` uid means "as the caller" (not root)."""

    name: str
    uid: int | None
    gid: int | None


def find_java(java_home: Path | None) -> Path:
    """Return a JDK home whose major version OpenSearch 2.19 runs on."""
    if java_home is None:
        found = shutil.which("java")
        if found is None:
            raise NodeError("java not found: install a JDK 17 or pass --java-home")
        java_home = Path(found).resolve().parent.parent
    java = java_home / "bin" / "java"
    if not java.is_file():
        raise NodeError(f"no bin/java under {java_home}")
    out = subprocess.run([str(java), "-version"], capture_output=True, text=True, check=False)
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if match is None:
        raise NodeError(f"cannot read the version of {java}: {out.stderr.strip()}")
    major = int(match.group(1))
    if major == 1 and match.group(2):
        major = int(match.group(2))
    if not JAVA_MIN <= major <= JAVA_MAX:
        raise NodeError(
            f"{java} is Java {major}; OpenSearch 2.19 needs Java {JAVA_MIN}-{JAVA_MAX} "
            "(JDK 24+ removed the Security Manager): pass --java-home"
        )
    return java_home


def ensure_account(name: str) -> Account:
    """As root, return (creating it if needed) a locked system user; otherwise the caller."""
    if os.geteuid() != 0:
        return Account(pwd.getpwuid(os.geteuid()).pw_name, None, None)
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        cmd = [
            "useradd",
            "--system",
            "--user-group",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            name,
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise NodeError(f"useradd {name} failed: {proc.stderr.strip()}") from None
        entry = pwd.getpwnam(name)
    return Account(name, entry.pw_uid, entry.pw_gid)


def check_reachable(path: Path, account: Account) -> None:
    """Fail early when a non-owner cannot traverse to ``path`` (e.g. it lies under /root)."""
    if account.uid is None:
        return
    for parent in [path, *path.parents]:
        if not parent.exists():
            continue
        st = parent.stat()
        if st.st_uid != account.uid and not st.st_mode & 0o001:
            raise NodeError(
                f"user {account.name} cannot enter {parent} (mode {st.st_mode & 0o777:o}); "
                "choose a --home outside it, e.g. /var/lib/shopnow/opensearch"
            )


def chown_tree(path: Path, account: Account) -> None:
    if account.uid is None or account.gid is None:
        return
    for root, dirs, files in os.walk(path):
        os.chown(root, account.uid, account.gid)
        for name in dirs + files:
            os.chown(os.path.join(root, name), account.uid, account.gid, follow_symlinks=False)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def free_ports(n: int) -> list[int]:
    """``n`` distinct free ports (all bound at once, so none is handed out twice)."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(n)]
    try:
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def kill(pid: int, timeout: float = 10.0) -> None:
    """SIGKILL ``pid`` (no shutdown hooks run, as when a machine dies) and wait for its end."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() > deadline:
            raise NodeError(f"process {pid} survived SIGKILL")
        time.sleep(0.05)


def require_free(port: int) -> None:
    """Fail when something listens on ``port``. Closed connections still in TIME_WAIT (a node
    just killed) do not count: the node binds with SO_REUSEADDR, as this check does."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            raise NodeError(f"port {port} on 127.0.0.1 is in use ({exc.strerror})") from None


def spawn(argv: list[str], *, cwd: Path, env: dict[str, str], log: Path, account: Account) -> int:
    """Start ``argv`` in ``cwd``, in its own session, as ``account``, output appended to ``log``.

    ``env --chdir`` and ``setpriv`` exec in place and ``bin/opensearch`` execs java, so the
    returned pid is the JVM's.
    """
    argv = ["/usr/bin/env", f"--chdir={cwd}", *argv]
    if account.uid is not None:
        setpriv = shutil.which("setpriv") or "/usr/bin/setpriv"
        argv = [
            setpriv,
            f"--reuid={account.uid}",
            f"--regid={account.gid}",
            "--clear-groups",
            "--",
            *argv,
        ]
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, str(log), flags, 0o644),
        (os.POSIX_SPAWN_DUP2, 1, 2),
    ]
    return os.posix_spawn(argv[0], argv, env, file_actions=actions, setsid=True)


def alive(pid: int) -> bool:
    """True while ``pid`` runs; reaps it if it is our own exited child."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def stop(pid: int, timeout: float) -> None:
    """SIGTERM, wait up to ``timeout`` seconds, then SIGKILL."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not alive(pid):
                return
            time.sleep(0.2)
    raise NodeError(f"process {pid} survived SIGKILL")
