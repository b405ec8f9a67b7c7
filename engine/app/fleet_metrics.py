"""``GET /metrics`` over every worker process of a machine (``shopnow serve --workers N``).

A scrape reaches one process, chosen by the kernel. So each process writes its metrics, every
``metrics_snapshot_s`` and at each scrape it answers, to ``replicas/<slot>/metrics.prom``;
the one answering a scrape returns its own figures and the latest of every other process, each
sample labelled ``replica="<slot>"`` (what per-process scraping would give; sum over
``replica`` for the machine). A snapshot older than ``stale_after`` (a process that died, its
slot not taken again yet) is left out. Counters restart from 0 in a restarted process, as
they do on any restart; Prometheus' ``rate`` handles that.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

SNAPSHOT = "metrics.prom"
LABEL = "replica"


def write_snapshot(own: Path, text: bytes) -> None:
    """This process's exposition under its replica directory ``own`` (atomic rename)."""
    tmp = own / f".{SNAPSHOT}.{os.getpid()}"
    tmp.write_bytes(text)
    tmp.replace(own / SNAPSHOT)


def others(
    root: Path, own_slot: str, stale_after_s: float, now: float | None = None
) -> dict[str, str]:
    """The snapshots of the other slots under ``root`` written in the last ``stale_after_s``."""
    now = time.time() if now is None else now
    found: dict[str, str] = {}
    for path in sorted(root.glob(f"*/{SNAPSHOT}")):
        slot = path.parent.name
        if slot == own_slot:
            continue
        with contextlib.suppress(FileNotFoundError):  # replaced or cleaned up meanwhile
            if now - path.stat().st_mtime <= stale_after_s:
                found[slot] = path.read_text()
    return found


class _Families(Collector):
    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)


def merge(by_replica: dict[str, str]) -> bytes:
    """One exposition of several processes' expositions, each sample labelled with its
    process's slot; a family keeps its help and type (the processes run the same code)."""
    families: dict[str, Metric] = {}
    for replica in sorted(by_replica, key=lambda s: (len(s), s)):
        for fam in text_string_to_metric_families(by_replica[replica]):
            into = families.get(fam.name)
            if into is None:
                into = families[fam.name] = Metric(fam.name, fam.documentation, fam.type, fam.unit)
            into.samples.extend(
                Sample(s.name, {**s.labels, LABEL: replica}, s.value, s.timestamp, s.exemplar)
                for s in fam.samples
            )
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(families.values()))
    out: bytes = generate_latest(registry)
    return out


def fleet_exposition(own: Path, text: bytes, stale_after_s: float) -> bytes:
    """What a scrape of the process whose replica directory is ``own`` answers: its own
    ``text`` (also written as its snapshot) with the other processes' recent snapshots. A
    snapshot that cannot be written (a full disk) does not fail the scrape: the others see this
    process's last one until it is stale."""
    with contextlib.suppress(OSError):
        write_snapshot(own, text)
    slot = own.name
    return merge({slot: text.decode(), **others(own.parent, slot, stale_after_s)})
