"""Fuzz the running API from its own OpenAPI document, under every credential.

A small synthetic world is built (``shopnow synth`` and ``shopnow index``), ``shopnow serve``
runs it on loopback with access control on, and schemathesis (its CLI, as a user would run
it) sends generated and boundary cases to every operation, once per credential: no key, an
unknown key, and a client, a merchandiser and an admin key. The checks: no 5xx
(``not_a_server_error``), every status is one the document declares
(``status_code_conformance``), every JSON body matches its declared schema
(``response_schema_conformance``); and the server logs no Python warning (a numeric overflow
answered with a 200 is still a defect). Prints JSON: cases and failures per credential.

    python -m bench.api_fuzz --cases 10000          # the documented run (docs/api.md)
    python -m bench.api_fuzz --quick                # about a minute: what CI runs
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

CHECKS = "not_a_server_error,status_code_conformance,response_schema_conformance"
ADMIN = "fuzz-admin-key-0123456789abcdef"
_TOTAL = re.compile(r"Test cases:\s*(\d+) generated,\s*(\d+) found (\d+) unique failures")
_PASSED = re.compile(r"Test cases:\s*(\d+) generated,\s*(\d+) passed")
# how ``warnings`` prints one: "path.py:41: RuntimeWarning: overflow encountered in cast"
_WARNING = re.compile(r"^\S+:\d+: (\w+Warning): (.*)$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class FuzzRun:
    credential: str
    cases: int
    failing_cases: int
    unique_failures: int
    exit_code: int
    seconds: float
    tail: str  # the end of schemathesis' report, for a failure


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _shopnow(
    *args: str, env: dict[str, str] | None = None, stderr: Any = None
) -> subprocess.Popen[bytes]:
    code = "import sys; from engine.app.cli import main; sys.exit(main())"
    return subprocess.Popen([sys.executable, "-c", code, *args], env=env, stderr=stderr)


def server_warnings(log: str) -> list[str]:
    """The distinct Python warnings in a server's stderr, as "Category: message"."""
    seen = dict.fromkeys(f"{m.group(1)}: {m.group(2)}" for m in _WARNING.finditer(log))
    return list(seen)


def server_errors(log: str) -> list[str]:
    """The last line of each traceback the server logged as an unhandled error (a 500): a
    fuzz run may miss one that only a race produced, the log does not."""
    out = []
    for line in log.splitlines():
        if not line.startswith("{"):
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if rec.get("level") == "ERROR" and "exc" in rec:
            out.append(str(rec["exc"]).strip().splitlines()[-1])
    return list(dict.fromkeys(out))


def build_world(work: Path, items: int, events: int) -> dict[str, str]:
    """A synthetic marketplace indexed under ``work``; returns the path flags of the CLI."""
    paths = {"--data": str(work / "data"), "--index": str(work / "index")}
    paths["--models"] = str(work / "models")
    steps = [
        ["synth", "--out", paths["--data"], "--items", str(items), "--events", str(events)],
        ["index", *[x for kv in paths.items() for x in kv]],
    ]
    for step in steps:
        if _shopnow(*step, "--quiet").wait() != 0:
            raise RuntimeError(f"shopnow {step[0]} failed")
    return paths


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"shopnow serve exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} was not ready within {timeout_s:.0f} s")


def make_keys(url: str) -> dict[str, str]:
    """A client and a merchandiser key, made with the admin key."""
    keys = {"admin": ADMIN}
    auth = {"Authorization": f"Bearer {ADMIN}"}
    for role in ("client", "merchandiser"):
        r = httpx.post(f"{url}/v1/keys", json={"name": f"fuzz {role}", "role": role}, headers=auth)
        r.raise_for_status()
        keys[role] = r.json()["key"]
    return keys


def fuzz(
    url: str, credential: str, key: str | None, examples: int, seed: int, work: Path
) -> FuzzRun:
    """One schemathesis run over every operation with ``key`` (None: no key at all); its
    files (``.schemathesis/``) go under ``work``."""
    cmd = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{url}/openapi.json",
        "--checks",
        CHECKS,
        "--max-examples",
        str(examples),
        "--phases",
        "examples,coverage,fuzzing",
        "--workers",
        "2",
        "--seed",
        str(seed),
        "--request-timeout",
        "60",
        "--suppress-health-check",
        "all",
        "--no-color",
    ]
    if key is not None:
        cmd += ["-H", f"Authorization: Bearer {key}"]
    t = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=3600, check=False, cwd=work)
    out = done.stdout + done.stderr
    cases, failing, unique = _counts(out)
    tail = "" if done.returncode == 0 else out[-6000:]
    seconds = time.perf_counter() - t
    return FuzzRun(credential, cases, failing, unique, done.returncode, seconds, tail)


def _counts(report: str) -> tuple[int, int, int]:
    """Generated cases, failing cases and unique failures from schemathesis' summary."""
    m = _TOTAL.search(report)
    if m is not None:
        return int(m.group(1)), int(m.group(2)), int(m.group(3))
    m = _PASSED.search(report)
    if m is not None:
        return int(m.group(1)), 0, 0
    return 0, 0, 0


def run(*, cases: int, quick: bool, workdir: Path | None = None, seed: int = 7) -> dict[str, Any]:
    """Build, serve, fuzz under every credential; figures as JSON-ready data."""
    with tempfile.TemporaryDirectory(prefix="shopnow-fuzz-") as tmp:
        work = workdir or Path(tmp)
        items, events = (800, 8000) if quick else (3000, 30000)
        paths = build_world(work, items, events)
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "SHOPNOW_ADMIN_KEY": ADMIN, "SHOPNOW_LOG_LEVEL": "WARNING"}
        flags = [x for kv in paths.items() for x in kv]
        log = work / "server.err"
        with log.open("wb") as err:
            server = _shopnow("serve", *flags, "--port", str(port), env=env, stderr=err)
            try:
                wait_ready(url, server)
                keys: dict[str, str | None] = {"none": None, "unknown": "not-a-key-" + "x" * 20}
                keys.update(make_keys(url))
                n_ops = len(httpx.get(f"{url}/openapi.json").json()["paths"])
                per_op = max(1, cases // (len(keys) * n_ops * 2))  # coverage adds about as many
                runs = [fuzz(url, name, key, per_op, seed, work) for name, key in keys.items()]
            finally:
                server.terminate()
                server.wait(timeout=30)
        text = log.read_text(errors="replace")
        warned, errors = server_warnings(text), server_errors(text)
    return {
        "cases": sum(r.cases for r in runs),
        "failing_cases": sum(r.failing_cases for r in runs),
        "server_warnings": warned,
        "server_errors": errors,
        "server_exit": server.returncode,
        "examples_per_operation": per_op,
        "checks": CHECKS.split(","),
        "runs": [asdict(r) for r in runs],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=10_000, help="about how many cases in all")
    ap.add_argument("--quick", action="store_true", help="a small world and about 600 cases")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    out = run(cases=600 if args.quick else args.cases, quick=args.quick, seed=args.seed)
    print(json.dumps(out, indent=2))
    clean = out["failing_cases"] == 0 and all(r["exit_code"] == 0 for r in out["runs"])
    clean = clean and not out["server_warnings"]
    sys.exit(0 if clean else 1)


if __name__ == "__main__":
    main()
