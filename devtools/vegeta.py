"""The load generator of the load benchmark: vegeta (github.com/tsenart/vegeta), built once
from the Go module proxy into the cache and reused. It attacks at a constant rate (open loop:
a slow answer does not delay the next request, so queueing shows in the latencies) or, with
``-rate=0``, as fast as a fixed number of workers can (closed loop), and writes every request's
result, which :func:`results` reads back.

``python -m devtools.vegeta`` prints the binary's path, building it if needed.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

MODULE = "github.com/tsenart/vegeta/v12"
VERSION = "v12.12.0"


def _cache() -> Path:
    root = os.environ.get("SHOPNOW_CACHE") or str(Path.home() / ".cache" / "shopnow")
    return Path(root) / "bin" / f"vegeta-{VERSION}"


def ensure() -> Path:
    """The vegeta binary, built with ``go install`` the first time (about half a minute)."""
    binary = _cache() / "vegeta"
    if binary.is_file():
        return binary
    go = shutil.which("go") or (
        "/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").is_file() else None
    )
    if go is None:
        raise RuntimeError(
            "the load benchmark needs vegeta, built from Go sources: install Go "
            "(Debian: apt-get install golang-go; `bash scripts/setup.sh --servers` does)"
        )
    tmp = binary.parent.with_name(binary.parent.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    env = {**os.environ, "GOBIN": str(tmp), "GOFLAGS": "-mod=mod"}
    done = subprocess.run(
        [go, "install", f"{MODULE}@{VERSION}"], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"building vegeta failed: {done.stderr[-2000:]}")
    shutil.rmtree(binary.parent, ignore_errors=True)
    tmp.rename(binary.parent)
    return binary


@dataclass(frozen=True, slots=True)
class Result:
    """One request of an attack."""

    at_s: float  # when it was sent, seconds since the epoch
    code: int  # HTTP status, 0 when no answer came (connection error, timeout)
    latency_s: float
    url: str
    error: str


def results(binary: Path, raw: bytes) -> list[Result]:
    """The per-request results of an attack's output (``vegeta attack`` without ``-output``
    writes them to stdout, in vegeta's own encoding)."""
    done = subprocess.run(
        [str(binary), "encode", "--to", "csv"], input=raw, capture_output=True, check=True
    )
    out = []
    # columns: timestamp (ns), code, latency (ns), bytes out, bytes in, error, body, attack,
    # seq, method, url, headers
    for row in csv.reader(io.StringIO(done.stdout.decode())):
        out.append(Result(int(row[0]) / 1e9, int(row[1]), int(row[2]) / 1e9, row[10], row[5]))
    return out


def main() -> int:
    print(ensure())
    return 0


if __name__ == "__main__":
    sys.exit(main())
