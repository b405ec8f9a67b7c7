"""Snapshots of the live index generation to a filesystem repository, and their restore into
another cluster (a fresh one after a loss, or a copy for a test environment).

OpenSearch's own snapshot API does the work: ``take`` registers ``location`` as an ``fs``
repository (the directory must be listed in every node's ``path.repo``, and on a cluster of
several machines be one shared mount) and snapshots the alias's live generation with its
alias, not the cluster's global state. ``restore`` registers the same location read-only on the
target, restores that generation with its alias, and puts the index template back (it is
global state, not part of the snapshot), so the next blue/green generation has its mapping.
It refuses a cluster where the alias already exists: restoring beside a live generation would
leave two write indices behind one alias.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from opensearchpy import AsyncOpenSearch, NotFoundError

from search_plugins.opensearch import mapping
from search_plugins.opensearch.client import close_client, make_client
from search_plugins.opensearch.index import IndexSetupError, OpenSearchIndex
from search_plugins.opensearch.params import OpenSearchParams


@dataclass(frozen=True, slots=True)
class Snapshot:
    repository: str
    name: str
    index: str  # the generation it holds
    docs: int
    seconds: float
    state: str


async def _register(
    client: AsyncOpenSearch, repository: str, location: str, readonly: bool
) -> None:
    """Register ``location`` as ``repository`` unless it already is; reading registers it
    read-only (several clusters may read one repository, only one may write it), writing
    makes a read-only registration writable."""
    try:
        got = await client.snapshot.get_repository(repository=repository)
        current = got[repository]["settings"]
    except NotFoundError:
        current = None
    if current is not None:
        if current.get("location") != location:
            raise IndexSetupError(
                f"repository {repository!r} is registered at {current.get('location')!r}, "
                f"not {location!r}: choose another --repository name"
            )
        if readonly or str(current.get("readonly", "false")).lower() != "true":
            return
    body = {"type": "fs", "settings": {"location": location, "readonly": readonly}}
    await client.snapshot.create_repository(repository=repository, body=body)


async def take(
    index: OpenSearchIndex, repository: str, location: str, name: str | None = None
) -> Snapshot:
    """Snapshot the live generation of ``index``'s alias into ``location``; waits for it."""
    t0 = time.monotonic()
    await _register(index.client, repository, location, readonly=False)
    live = await index.live_generation()
    name = name or f"{index.params.alias}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}"
    await index.client.indices.flush(index=live)
    body = {
        "indices": live,
        "include_global_state": False,
        "metadata": {"alias": index.params.alias, "dim": index.dim},
    }
    got = await index.client.snapshot.create(
        repository=repository, snapshot=name, body=body, params={"wait_for_completion": "true"}
    )
    info = got["snapshot"]
    if info["state"] != "SUCCESS":
        raise IndexSetupError(f"snapshot {name} ended {info['state']}: {info.get('failures')}")
    return Snapshot(
        repository, name, live, await index.count(), time.monotonic() - t0, info["state"]
    )


async def listing(client: AsyncOpenSearch, repository: str, location: str) -> list[dict[str, Any]]:
    """The snapshots in ``location`` (registered read-only as ``repository``), oldest first."""
    await _register(client, repository, location, readonly=True)
    got = await client.snapshot.get(repository=repository, snapshot="_all")
    return [
        {
            "name": s["snapshot"],
            "indices": s["indices"],
            "state": s["state"],
            "metadata": s.get("metadata") or {},
            "start": s.get("start_time"),
        }
        for s in got["snapshots"]
    ]


async def restore(
    url: str, params: OpenSearchParams, repository: str, location: str, name: str
) -> Snapshot:
    """Restore snapshot ``name`` from ``location`` into the cluster at ``url`` under
    ``params.alias``; waits until the restored generation answers."""
    t0 = time.monotonic()
    client = make_client(url, timeout_s=params.request_timeout_s)
    try:
        if await client.indices.exists_alias(name=params.alias):
            raise IndexSetupError(
                f"alias {params.alias!r} already exists here: restore into a cluster without "
                "it, or drop it first"
            )
        await _register(client, repository, location, readonly=True)
        try:
            got = await client.snapshot.get(repository=repository, snapshot=name)
        except NotFoundError as exc:
            raise IndexSetupError(f"no snapshot {name!r} in {location}") from exc
        snap = got["snapshots"][0]
        meta = snap.get("metadata") or {}
        if meta.get("alias") != params.alias:
            raise IndexSetupError(
                f"snapshot {name!r} holds alias {meta.get('alias')!r}, not {params.alias!r}"
            )
        await client.snapshot.restore(
            repository=repository,
            snapshot=name,
            body={
                "indices": ",".join(snap["indices"]),
                "include_aliases": True,
                "include_global_state": False,
            },
            params={"wait_for_completion": "true"},
        )
        await client.indices.put_index_template(
            name=params.alias, body=mapping.template(int(meta["dim"]), params)
        )
        health = await client.cluster.health(
            index=params.alias, params={"wait_for_status": "yellow"}, request_timeout=40.0
        )
        if health.get("timed_out"):
            raise IndexSetupError(f"restored {name!r}, but it is {health['status']} after 30 s")
        docs = int((await client.count(index=params.alias))["count"])
        return Snapshot(
            repository, name, snap["indices"][0], docs, time.monotonic() - t0, snap["state"]
        )
    finally:
        await close_client(client)
