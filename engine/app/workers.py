"""Several server processes on one machine: ``shopnow serve --workers N``.

uvicorn's process manager starts the N processes on one listening socket and starts a new one
when one dies. Each process claims a *slot* (an exclusive ``flock`` on
``DATA_DIR/replicas/<slot>.lock``, released by the kernel when the process ends, so the one
started in its place takes the same slot) and keeps its own state under
``DATA_DIR/replicas/<slot>/``: its checkpoint of the shared ingest log and, on the embedded
backend, its own copy of the index (a tantivy index has one writer). Every accepted catalog
change is appended to the one ingest log, whichever process took it, and every process applies
every change to its catalog and index copy (``ingest_poll_s``). Rules, keys and models come
from the shared control store and model directory as on separate machines. The online store
must be shared too: several processes need Redis (``online_store=redis``).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import shutil
import socket
from collections.abc import MutableMapping
from pathlib import Path
from typing import IO

from starlette.applications import Starlette
from uvicorn.protocols.http.auto import AutoHTTPProtocol

from engine.core.settings import Settings
from search_plugins.embedded.index import generation_of

SETTINGS_ENV = "SHOPNOW_SERVE_SETTINGS"  # the parent's settings, as JSON, for every process
WORKERS_ENV = "SHOPNOW_SERVE_WORKERS"
CHECKPOINT = "ingest.checkpoint"

_held: list[IO[str]] = []  # this process's slot lock, open for its lifetime


class SlotsTaken(RuntimeError):
    """Every slot is held: another server runs on this data directory."""


def slots_root(settings: Settings) -> Path:
    return settings.data_dir / "replicas"


def claim_slot(root: Path, workers: int) -> tuple[int, IO[str]]:
    """The lowest free slot below ``workers`` and its lock file (keep it open to hold it)."""
    root.mkdir(parents=True, exist_ok=True)
    for slot in range(workers):
        fh = (root / f"{slot}.lock").open("a")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            continue
        return slot, fh
    raise SlotsTaken(
        f"all {workers} worker slots under {root} are held: is another `shopnow serve` "
        "running on this data directory?"
    )


def own_index(base: Path, base_checkpoint: Path, own: Path) -> Path:
    """This slot's copy of the embedded index ``base`` (made, or made again when ``base`` was
    rebuilt since), with the checkpoint that goes with it; returns its directory."""
    dest = own / "index"
    if not (base / "meta.json").is_file():
        raise FileNotFoundError(f"no index at {base}; run `shopnow index` first")
    generation = generation_of(str(base), stamp=True)
    if dest.is_dir() and generation_of(str(dest)) == generation:
        return dest
    tmp = own / "index.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(base, tmp)
    ckpt = own / CHECKPOINT
    if base_checkpoint.is_file():  # the copy holds what the base held at its checkpoint
        shutil.copyfile(base_checkpoint, ckpt)
    else:
        ckpt.unlink(missing_ok=True)
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    return dest


def replica_settings(settings: Settings, slot: int) -> Settings:
    """The settings of the process in ``slot``: its own checkpoint, and index copy."""
    own = slots_root(settings) / str(slot)
    own.mkdir(parents=True, exist_ok=True)
    update: dict[str, object] = {"replica_dir": own}
    if settings.search_backend == "embedded":
        base_ckpt = settings.ingest_path / CHECKPOINT
        update["index_dir"] = own_index(settings.index_dir, base_ckpt, own)
    return settings.model_copy(update=update)


#: the native thread pools of the libraries a request runs (numpy's BLAS, faiss, LightGBM and
#: torch through OpenMP), read once when each library loads
THREAD_POOLS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def share_cores(env: MutableMapping[str, str], workers: int) -> None:
    """Size each process's native thread pools to its share of the cores, unless set: N
    processes each with a pool of every core spin-wait against each other (measured on 2
    cores: 2 workers answered 100 requests/s with a pool of 2 threads each, 178 with 1)."""
    threads = str(max(1, (os.cpu_count() or 1) // workers))
    for name in THREAD_POOLS:
        env.setdefault(name, threads)


def check_shared(settings: Settings, workers: int) -> None:
    """Raise ValueError when ``workers`` processes cannot share what ``settings`` names."""
    if workers > 1 and settings.online_store != "redis":
        raise ValueError(
            f"--workers {workers} needs a shared online store: the embedded one lives in one "
            "process; set SHOPNOW_ONLINE_STORE=redis and SHOPNOW_REDIS_URL"
        )


class NoDelayProtocol(AutoHTTPProtocol):  # type: ignore[misc,valid-type]
    """uvicorn's HTTP protocol with Nagle's algorithm off on every connection. The socket
    uvicorn binds for several workers is made without a protocol number, and asyncio turns
    Nagle off only on sockets that name TCP: without this, a kept-alive connection's answer
    waits for the client's delayed ACK (about 40 ms a request)."""

    def connection_made(self, transport: asyncio.Transport) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)


def app() -> Starlette:
    """The app of one worker process (uvicorn's factory, in each process it starts)."""
    # the app and the engine are imported in the worker process, not by `shopnow --help`
    from engine.app.api.app import create_app
    from engine.core.logs import configure_json_logging
    from engine.serving.assembly import open_engine

    settings = Settings.model_validate_json(os.environ[SETTINGS_ENV])
    slot, lock = claim_slot(slots_root(settings), int(os.environ[WORKERS_ENV]))
    _held.append(lock)
    own = replica_settings(settings, slot)
    configure_json_logging(own.log_level)
    return create_app(lambda: open_engine(own))
