"""A PostgreSQL server on 127.0.0.1 from Debian's ``postgresql`` package, for the shared control
store's tests: ``python -m devtools.postgres_server up|down|status --home DIR [--port N]``
prints JSON with the ``url`` to give ``SHOPNOW_CONTROL_URL``.

PostgreSQL refuses to run as root, so as root the cluster belongs to a dedicated locked system
user (``shopnow-postgres``), as the local OpenSearch node does. ``up`` runs ``initdb`` once
(trust authentication on loopback only: a test server, not a production one), starts the
server with ``pg_ctl`` and creates the database ``shopnow``.
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from devtools.opensearch_node.process import Account, chown_tree, ensure_account, free_ports

USER = "shopnow-postgres"
DATABASE = "shopnow"
STATE = "server.json"


class ServerError(RuntimeError):
    """A start or stop failure with a message meant for a human."""


@dataclass(frozen=True, slots=True)
class Server:
    home: str
    port: int

    @property
    def url(self) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{DATABASE}"


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or [shutil.which(name) or ""]
    if not found[-1]:
        raise ServerError(f"{name} not found: `apt-get install postgresql`")
    return found[-1]


def _as(account: Account, argv: list[str]) -> list[str]:
    if account.uid is None:
        return argv
    return [
        "setpriv",
        f"--reuid={account.uid}",
        f"--regid={account.gid}",
        "--clear-groups",
        "--",
        *argv,
    ]


def _run(account: Account, argv: list[str], what: str) -> str:
    out = subprocess.run(
        _as(account, argv), capture_output=True, text=True, timeout=120, cwd="/", check=False
    )
    if out.returncode != 0:
        raise ServerError(f"{what} failed ({out.returncode}): {out.stderr.strip() or out.stdout}")
    return out.stdout


def up(home: Path, port: int = 0) -> Server:
    """Start (initialising once) the server of ``home``; the running one if it runs."""
    home = home.resolve()
    running = status(home)
    if running is not None:
        return running
    account = ensure_account(USER)
    data = home / "data"
    home.mkdir(parents=True, exist_ok=True)
    home.chmod(0o755)
    if not (data / "PG_VERSION").is_file():
        data.mkdir(exist_ok=True)
        chown_tree(home, account)
        _run(
            account,
            [
                _bin("initdb"),
                "-D",
                str(data),
                "-U",
                USER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-instructions",
            ],
            "initdb",
        )
    port = port or free_ports(1)[0]
    opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {data} -c fsync=on"
    _run(
        account,
        [
            _bin("pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(home / "server.log"),
            "-o",
            opts,
            "-w",
            "-t",
            "60",
            "start",
        ],
        "pg_ctl start",
    )
    server = Server(str(home), port)
    (home / STATE).write_text(json.dumps(dataclasses.asdict(server)) + "\n")
    deadline = time.monotonic() + 30
    while True:
        try:
            _run(
                account,
                [_bin("createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", USER, DATABASE],
                "createdb",
            )
            break
        except ServerError as exc:
            if "already exists" in str(exc):
                break
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    return server


def status(home: Path) -> Server | None:
    home = home.resolve()
    try:
        raw = json.loads((home / STATE).read_text())
        pid = int((home / "data" / "postmaster.pid").read_text().split()[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return None
    return Server(**raw)


def down(home: Path) -> bool:
    """Stop the server of ``home`` (fast shutdown); False when none ran."""
    home = home.resolve()
    if status(home) is None:
        return False
    _run(
        ensure_account(USER),
        [_bin("pg_ctl"), "-D", str(home / "data"), "-m", "fast", "-w", "stop"],
        "pg_ctl stop",
    )
    (home / STATE).unlink(missing_ok=True)
    return True


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m devtools.postgres_server", description=__doc__)
    p.add_argument("action", choices=("up", "down", "status"))
    p.add_argument("--home", type=Path, required=True)
    p.add_argument("--port", type=int, default=0, help="up: 0 picks a free one")
    args = p.parse_args(argv)
    try:
        if args.action == "up":
            s = up(args.home, args.port)
            print(json.dumps({**dataclasses.asdict(s), "url": s.url}))
        elif args.action == "down":
            print(json.dumps({"stopped": down(args.home)}))
        else:
            found = status(args.home)
            if found is None:
                print(json.dumps({"running": False}))
                return 3
            print(json.dumps({**dataclasses.asdict(found), "url": found.url}))
    except ServerError as exc:
        print(f"postgres {args.action}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
