"""The OpenSearch backend of :class:`~engine.core.search.SearchIndex`.

Reads and writes go through an alias (``params.alias``) pointing at one physical index, a
*generation* named ``<alias>-<stamp>``; every generation takes its settings and mappings from
the index template. Reindexing (a mapping or embedding-model change) is blue/green: build a new
generation beside the live one (:meth:`OpenSearchIndex.begin_generation`; live writes then go to
both), fill it, and :meth:`promote` swaps the alias in one atomic ``_aliases`` call, so searches
never see a missing or half-built index.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any

from opensearchpy import (
    AsyncOpenSearch,
    ConnectionError,
    ConnectionTimeout,
    NotFoundError,
    TransportError,
)

from engine.core.arrays import F32
from engine.core.search import (
    WRITE_ORDER_SCHEME,
    Hits,
    IndexDoc,
    IndexUnavailable,
    SearchFilter,
    UpsertReport,
    check_doc,
    delete_order,
    version_of,
    write_order,
)
from search_plugins.opensearch import mapping, queries
from search_plugins.opensearch.bulk import BulkOutcome, run_bulk
from search_plugins.opensearch.client import close_client, make_client
from search_plugins.opensearch.params import OpenSearchParams


class IndexSetupError(RuntimeError):
    """The alias or template is missing or does not fit (e.g. another vector dimension)."""


@contextlib.contextmanager
def _reachable(what: str) -> Iterator[None]:
    """Transport failures (refused, reset, timed out) and 5xx answers become
    :class:`IndexUnavailable`, the protocol's retryable error."""
    try:
        yield
    except ConnectionTimeout as exc:
        raise IndexUnavailable(f"OpenSearch {what}: timed out ({exc.info})") from exc
    except ConnectionError as exc:
        raise IndexUnavailable(f"OpenSearch {what}: {exc.error} ({exc.info})") from exc
    except TransportError as exc:
        if isinstance(exc.status_code, int) and exc.status_code >= 500:
            raise IndexUnavailable(f"OpenSearch {what}: {exc.status_code} {exc.error}") from exc
        raise


def _where(client: AsyncOpenSearch) -> str:
    hosts = [f"{h.get('host')}:{h.get('port')}" for h in client.transport.hosts or []]
    return ",".join(hosts) or "?"


def _stamp() -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + f"-{time.time_ns() % 1_000_000:06d}"


class OpenSearchIndex:
    name = "opensearch"

    def __init__(
        self, client: AsyncOpenSearch, dim: int, params: OpenSearchParams, *, owns_client: bool
    ) -> None:
        self.client = client
        self.dim = dim
        self.params = params
        self._owns_client = owns_client
        self._building: str | None = None  # generation being filled, also written to
        self._building_dim = dim
        self._dropping: set[asyncio.Task[None]] = set()  # old generations, dropped after a grace

    # -- lifecycle ------------------------------------------------------------------------
    @classmethod
    async def create(
        cls,
        url_or_client: str | AsyncOpenSearch,
        dim: int,
        params: OpenSearchParams | None = None,
    ) -> OpenSearchIndex:
        """Put the template and, when the alias does not exist yet, a first generation."""
        params = params or OpenSearchParams()
        client, owns = cls._client(url_or_client, params)
        self = cls(client, dim, params, owns_client=owns)
        try:
            with _reachable(f"at {_where(client)}"):
                await self._setup()
        except BaseException:
            await self.close()
            raise
        return self

    @classmethod
    async def open(
        cls, url_or_client: str | AsyncOpenSearch, params: OpenSearchParams | None = None
    ) -> OpenSearchIndex:
        """Attach to an existing alias; its mapping gives the vector dimension."""
        params = params or OpenSearchParams()
        client, owns = cls._client(url_or_client, params)
        self = cls(client, 0, params, owns_client=owns)
        try:
            with _reachable(f"at {_where(client)}"):
                self.dim = await self._live_dim()
                await self._check_schema()
        except BaseException:
            await self.close()
            raise
        return self

    async def _setup(self) -> None:
        alias = self.params.alias
        await self.client.indices.put_index_template(
            name=alias, body=mapping.template(self.dim, self.params)
        )
        if not await self.client.indices.exists_alias(name=alias):
            first = f"{alias}-{_stamp()}"
            await self.client.indices.create(
                index=first, body={"aliases": {alias: {"is_write_index": True}}}
            )
        else:
            await self._check_dim()

    @staticmethod
    def _client(
        url_or_client: str | AsyncOpenSearch, params: OpenSearchParams
    ) -> tuple[AsyncOpenSearch, bool]:
        if isinstance(url_or_client, str):
            return make_client(
                url_or_client, timeout_s=params.request_timeout_s, pool_size=params.pool_size
            ), True
        return url_or_client, False

    async def _live_meta(self) -> dict[str, Any]:
        try:
            got = await self.client.indices.get_mapping(index=self.params.alias)
        except NotFoundError as exc:
            raise IndexSetupError(
                f"no OpenSearch alias {self.params.alias!r}; build the index first"
            ) from exc
        meta: dict[str, Any] = next(iter(got.values()))["mappings"].get("_meta", {})
        if "dim" not in meta:
            raise IndexSetupError(f"{self.params.alias!r} was not created by shopnow")
        return meta

    async def _live_dim(self) -> int:
        return int((await self._live_meta())["dim"])

    async def _check_schema(self) -> None:
        """Serving needs the live generation's write orders in this version's scheme; a build
        (``create`` + a new generation) replaces an older one."""
        schema = (await self._live_meta()).get("schema")
        if schema != WRITE_ORDER_SCHEME:
            raise IndexSetupError(
                f"alias {self.params.alias!r} keeps versions in write-order scheme {schema}, "
                f"this version writes {WRITE_ORDER_SCHEME}; rebuild it with `shopnow index`"
            )

    async def _check_dim(self) -> None:
        live = await self._live_dim()
        if live != self.dim:
            raise IndexSetupError(
                f"alias {self.params.alias!r} holds {live}-dim vectors, asked for {self.dim}; "
                "build a new generation (blue/green) to change the dimension"
            )

    async def generations(self) -> list[str]:
        """Physical indices of this alias family, oldest first."""
        got = await self.client.indices.get(index=f"{self.params.alias}-*")
        return sorted(got)

    async def live_generation(self) -> str:
        got = await self.client.indices.get_alias(name=self.params.alias)
        return str(next(iter(got)))

    async def begin_generation(self, dim: int | None = None) -> str:
        """Create an empty generation from the (re-put) template; writes go to it too."""
        if self._building is not None:
            raise IndexSetupError(f"generation {self._building} is already being built")
        if dim is not None and dim != self.dim:
            await self.client.indices.put_index_template(
                name=self.params.alias, body=mapping.template(dim, self.params)
            )
        name = f"{self.params.alias}-{_stamp()}"
        # no periodic refresh while it fills: every refresh makes small segments whose vector
        # graphs the merges then rebuild, CPU the live generation's searches need
        body = {"settings": {"index": {"refresh_interval": "-1"}}}
        await self.client.indices.create(index=name, body=body)
        self._building, self._building_dim = name, dim or self.dim
        return name

    async def promote(self, *, keep_old: bool = False, grace_s: float | None = None) -> str:
        """Point the alias at the generation being built, atomically; drop the old ones
        ``grace_s`` later (default: twice the search timeout, at most 5 s), in the background:
        a search that resolved the alias just before the swap still finishes on them."""
        if self._building is None:
            raise IndexSetupError("no generation is being built")
        new, old = self._building, await self.live_generation()
        await self.client.indices.put_settings(
            index=new, body={"index": {"refresh_interval": self.params.refresh_interval}}
        )
        await self.client.indices.refresh(index=new)
        await self.client.indices.update_aliases(
            body={
                "actions": [
                    {"remove": {"index": old, "alias": self.params.alias}},
                    {"add": {"index": new, "alias": self.params.alias, "is_write_index": True}},
                ]
            }
        )
        self._building = None
        self.dim = self._building_dim
        if not keep_old:
            grace = min(5.0, 2 * self.params.search_timeout_s) if grace_s is None else grace_s
            if grace <= 0:
                await self._drop_all_but(new)
            else:
                task = asyncio.get_running_loop().create_task(self._drop_all_but(new, grace))
                self._dropping.add(task)
                task.add_done_callback(self._dropping.discard)
        return new

    async def _drop_all_but(self, live: str, after_s: float = 0.0) -> None:
        if after_s > 0:
            await asyncio.sleep(after_s)
        for name in await self.generations():
            if name != live:
                await self.client.indices.delete(index=name)

    async def close(self) -> None:
        if self._dropping:  # old generations waiting out their grace: drop them first
            await asyncio.gather(*self._dropping, return_exceptions=True)
        if self._owns_client:
            await close_client(self.client)

    # -- writes ---------------------------------------------------------------------------
    async def upsert(self, docs: Sequence[IndexDoc]) -> UpsertReport:
        return await self._upsert(docs, only_new=False)

    async def fill(self, docs: Sequence[IndexDoc]) -> UpsertReport:
        """Write to the generation being built only (the rebuild's own stream)."""
        if self._building is None:
            raise IndexSetupError("no generation is being built")
        return await self._upsert(docs, only_new=True)

    async def _upsert(self, docs: Sequence[IndexDoc], *, only_new: bool) -> UpsertReport:
        failed: dict[str, str] = {}
        actions: list[dict[str, Any]] = []
        for doc in docs:
            reason = check_doc(doc, self.dim)
            if reason is not None:
                failed[doc.id] = reason
                continue
            actions.append(
                {
                    "_op_type": "index",
                    "_id": doc.id,
                    "version": write_order(doc),  # OpenSearch keeps it as _version
                    "version_type": "external",
                    "_source": mapping.source(doc),
                }
            )
        if only_new:
            new = [{**a, "_index": self._building} for a in actions]
            outcome = await run_bulk(self.client, new, self.params)
        else:
            outcome = await self._bulk(actions)
        failed.update(outcome.failed)
        return UpsertReport(len(outcome.done), outcome.stale, failed, frozenset(outcome.retryable))

    async def delete(self, ids: Sequence[str], version: int) -> int:
        actions: list[dict[str, Any]] = [
            {
                "_op_type": "delete",
                "_id": i,
                "version": delete_order(version),
                "version_type": "external_gte",
            }
            for i in ids
        ]
        outcome = await self._bulk(actions)
        if outcome.failed:
            some = list(outcome.failed.items())[:3]
            if outcome.retryable:
                raise IndexUnavailable(f"{len(outcome.failed)} deletes failed: {some}")
            raise RuntimeError(f"{len(outcome.failed)} deletes failed: {some}")
        return len(outcome.done)

    async def _bulk(self, actions: list[dict[str, Any]]) -> BulkOutcome:
        """Write through the alias; with a generation being built, write to it as well and
        report its failures too (its stale outcomes are expected and not reported)."""
        if not actions:
            return BulkOutcome()
        live = [{**a, "_index": self.params.alias} for a in actions]
        outcome = await run_bulk(self.client, live, self.params)
        if self._building is not None:
            shadow = [{**a, "_index": self._building} for a in actions]
            extra = await run_bulk(self.client, shadow, self.params)
            for doc_id, reason in extra.failed.items():
                outcome.failed.setdefault(doc_id, f"new generation {self._building}: {reason}")
        return outcome

    async def refresh(self) -> None:
        targets = [self.params.alias] + ([self._building] if self._building else [])
        with _reachable("refresh"):
            await self.client.indices.refresh(index=",".join(targets))

    async def persist(self) -> None:
        """Nothing to do: with the translog's default ``request`` durability, OpenSearch fsyncs
        a bulk request's operations before it acknowledges them."""

    # -- reads ----------------------------------------------------------------------------
    async def _read(
        self, what: str, send: Callable[[float], Awaitable[dict[str, Any]]]
    ) -> dict[str, Any]:
        """``send(timeout_s)`` within the search deadline. Reads are idempotent, so an error
        status from the cluster is sent once more while at least a quarter of the deadline is
        left: when a node dies between a search's query and fetch phases, the coordinating
        node answers 500 although every shard still has a live copy."""
        budget = self.params.search_timeout_s
        t0 = time.monotonic()
        with _reachable(what):
            try:
                return await send(budget)
            except TransportError as exc:
                left = budget - (time.monotonic() - t0)
                server_side = isinstance(exc.status_code, int) and exc.status_code >= 500
                if not server_side or left < budget / 4:
                    raise
            return await send(left)

    async def lexical(self, query: str, k: int, flt: SearchFilter | None = None) -> Hits:
        if k <= 0 or not query.strip():
            return Hits.empty()
        body = queries.lexical_body(query, k, flt)
        resp = await self._read(
            "lexical search",
            lambda t: self.client.search(index=self.params.alias, body=body, request_timeout=t),
        )
        return queries.lexical_hits(resp)

    async def vector(
        self, query: F32, k: int, flt: SearchFilter | None = None, model: str = ""
    ) -> Hits:
        if k <= 0:
            return Hits.empty()
        body = queries.knn_body(query, k, flt, model, self.params.ef_search)
        resp = await self._read(
            "kNN search",
            lambda t: self.client.search(index=self.params.alias, body=body, request_timeout=t),
        )
        return queries.knn_hits(resp)

    async def lexical_and_vector(
        self,
        query: str,
        vector: F32,
        k: int,
        flt: SearchFilter | None = None,
        model: str = "",
    ) -> tuple[Hits, Hits]:
        """One ``_msearch`` round trip carrying both searches."""
        if k <= 0:
            return Hits.empty(), Hits.empty()
        head = {"index": self.params.alias}
        body = [
            head,
            queries.lexical_body(query, k, flt),
            head,
            queries.knn_body(vector, k, flt, model, self.params.ef_search),
        ]
        resp = await self._read(
            "msearch", lambda t: self.client.msearch(body=body, request_timeout=t)
        )
        lex, vec = resp["responses"]
        for part in (lex, vec):
            if "error" in part:
                raise RuntimeError(f"msearch part failed: {part['error']}")
        lexical = queries.lexical_hits(lex) if query.strip() else Hits.empty()
        return lexical, queries.knn_hits(vec)

    async def versions(self, ids: Sequence[str]) -> dict[str, int]:
        if not ids:
            return {}
        with _reachable("mget"):
            resp = await self.client.mget(
                index=self.params.alias, body={"ids": list(ids)}, params={"_source": "false"}
            )
        return {d["_id"]: version_of(int(d["_version"])) for d in resp["docs"] if d.get("found")}

    async def count(self) -> int:
        with _reachable("count"):
            resp = await self.client.count(index=self.params.alias)
        return int(resp["count"])
