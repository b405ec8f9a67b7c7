"""A real ``shopnow serve`` for the benchmarks that talk HTTP to it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from engine.core.settings import Settings

READY_S = 300.0


@contextmanager
def served(
    settings: Settings, port: int, env: dict[str, str], log: Path, workers: int = 1
) -> Iterator[str]:
    """``shopnow serve`` on ``port`` over ``settings``' directories; its base URL once every
    one of its ``workers`` processes answered ready."""
    cmd = [sys.executable, "-m", "engine.app.cli", "serve", "--port", str(port)]
    cmd += ["--data", str(settings.data_dir), "--index", str(settings.index_dir)]
    cmd += ["--models", str(settings.model_dir), "--feature-log", str(settings.feature_log_dir)]
    cmd += ["--workers", str(workers)]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, env={**os.environ, **env}, stdout=out, stderr=out, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        ready: set[str | None] = set()
        deadline = time.monotonic() + READY_S
        while len(ready) < workers:
            if proc.poll() is not None:
                raise RuntimeError(f"server on {port} exited: {log.read_text()[-2000:]}")
            try:  # a connection of its own: any worker may take it
                r = httpx.get(f"{url}/readyz", timeout=2, headers={"Connection": "close"})
                if r.status_code == 200:
                    ready.add(r.json().get("replica"))
            except httpx.TransportError:
                time.sleep(0.3)
            if time.monotonic() > deadline:
                raise TimeoutError(f"server on {port}: {len(ready)} of {workers} ready")
        yield url
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    import signal

    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass
