"""A snapshot of the live generation into a filesystem repository, restored into a fresh
cluster: same documents, same answers, and the next blue/green generation still works there."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.opensearch_node import down, up
from search_plugins.opensearch import IndexSetupError, OpenSearchIndex, OpenSearchParams
from search_plugins.opensearch.client import close_client, drop_alias, make_client
from search_plugins.opensearch.snapshots import listing, restore, take
from tests.search_plugins.conformance import DIM, catalog
from tests.servers import OPENSEARCH_URLS, missing, needs_opensearch

pytestmark = needs_opensearch
HOME = os.environ.get("SHOPNOW_TEST_OPENSEARCH_HOME", "")


@pytest.fixture(scope="module")
def repository() -> Path:
    """A directory in the test cluster's path.repo (its home's ``snapshots``)."""
    if not HOME:
        missing("the test cluster's home (SHOPNOW_TEST_OPENSEARCH_HOME, set by scripts/test.sh)")
    return Path(HOME).resolve() / "snapshots" / f"repo-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def fresh(repository: Path) -> Iterator[str]:
    """A new one-node cluster whose path.repo is the test cluster's snapshot directory (as a
    mount shared between the two would be)."""
    home = Path(tempfile.mkdtemp(prefix="shopnow-restore-"))
    home.chmod(0o755)  # the node's own user must enter it
    try:
        yield up(home, 0, snapshots=repository.parent).url
    finally:
        down(home)
        shutil.rmtree(home, ignore_errors=True)


async def test_snapshot_restores_into_a_fresh_cluster(repository: Path, fresh: str) -> None:
    params = OpenSearchParams(alias=f"snap-{uuid.uuid4().hex[:10]}")
    source = await OpenSearchIndex.create(OPENSEARCH_URLS, DIM, params)
    docs = catalog(60)
    try:
        await source.upsert(docs)
        await source.refresh()
        snap = await take(source, "backups", str(repository))
        assert (snap.docs, snap.state, snap.index) == (
            60,
            "SUCCESS",
            await source.live_generation(),
        )

        # the alias exists on the source cluster: restoring there is refused
        with pytest.raises(IndexSetupError, match="already exists"):
            await restore(OPENSEARCH_URLS, params, "backups", str(repository), snap.name)

        client = make_client(fresh)
        try:
            names = [s["name"] for s in await listing(client, "backups", str(repository))]
            assert snap.name in names
        finally:
            await close_client(client)
        with pytest.raises(IndexSetupError, match="no snapshot"):
            await restore(fresh, params, "backups", str(repository), "no-such-snapshot")
        other = OpenSearchParams(alias="another-alias")
        with pytest.raises(IndexSetupError, match="holds alias"):
            await restore(fresh, other, "backups", str(repository), snap.name)

        got = await restore(fresh, params, "backups", str(repository), snap.name)
        assert (got.docs, got.index) == (60, snap.index)
        copy = await OpenSearchIndex.open(fresh, params)
        try:
            assert copy.dim == DIM and await copy.count() == 60
            for query in ("item red", "wireless deluxe"):
                a, b = await source.lexical(query, 10), await copy.lexical(query, 10)
                assert a.ids == b.ids
            q = docs[3].vector
            assert q is not None
            assert (await source.vector(q, 5)).ids == (await copy.vector(q, 5)).ids
            # the restored cluster builds and promotes a new generation from the template
            await copy.begin_generation()
            await copy.fill(docs[:10])
            await copy.promote(grace_s=0)
            assert await copy.count() == 10
        finally:
            await copy.close()
    finally:
        await drop_alias(OPENSEARCH_URLS, params.alias)
        await source.close()
        client = make_client(OPENSEARCH_URLS)
        try:
            await client.snapshot.delete_repository(repository="backups")
        finally:
            await close_client(client)


async def test_snapshot_commands(
    repository: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``shopnow snapshot take|list|restore``: the backend and the name are checked."""
    from engine.app.cli import main

    alias = f"snapcli-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("SHOPNOW_OPENSEARCH_ALIAS", alias)
    loc = ["--location", str(repository), "--repository", "cli-backups"]
    assert main(["snapshot", "take", *loc, "--backend", "embedded"]) == 2
    assert "--backend opensearch" in capsys.readouterr().err
    index = await OpenSearchIndex.create(OPENSEARCH_URLS, DIM, OpenSearchParams(alias=alias))
    try:
        await index.upsert(catalog(7))
        await index.refresh()
        os_args = ["--backend", "opensearch", "--opensearch-url", OPENSEARCH_URLS]
        # the commands run their own event loop: from a worker thread, as a user's shell would
        code = await asyncio.to_thread(main, ["snapshot", "take", *loc, *os_args, "--name", "s1"])
        assert code == 0
        taken = json.loads(capsys.readouterr().out)
        assert (taken["name"], taken["docs"]) == ("s1", 7)
        assert await asyncio.to_thread(main, ["snapshot", "list", *loc, *os_args]) == 0
        assert "s1" in [s["name"] for s in json.loads(capsys.readouterr().out)]
        assert await asyncio.to_thread(main, ["snapshot", "restore", *loc, *os_args]) == 2
        assert "needs --name" in capsys.readouterr().err
    finally:
        await drop_alias(OPENSEARCH_URLS, alias)
        await index.close()
        client = make_client(OPENSEARCH_URLS)
        try:
            await client.snapshot.delete(repository="cli-backups", snapshot="s1", ignore=[404])
            await client.snapshot.delete_repository(repository="cli-backups")
        finally:
            await close_client(client)
