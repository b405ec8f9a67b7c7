"""Bulk writes with external versions, retries, and an outcome for every single action.

Each action carries ``version_type=external`` (index) or ``external_gte`` (delete), so the
cluster itself refuses an older write: a 409 is reported as *stale*, never as a failure.
opensearch-py's streaming helper retries 429 rejections with exponential backoff; on top of
that, actions that failed with a 5xx or a transport error (the whole request lost) are sent
again up to the same retry budget. Whatever still failed comes back with its reason.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from opensearchpy import AsyncOpenSearch
from opensearchpy.helpers import async_streaming_bulk

from search_plugins.opensearch.params import OpenSearchParams

log = logging.getLogger("shopnow.opensearch.bulk")


@dataclass(slots=True)
class BulkOutcome:
    done: list[str] = field(default_factory=list)  # indexed, or deleted
    missing: list[str] = field(default_factory=list)  # delete of an absent id (tombstoned)
    stale: list[str] = field(default_factory=list)  # version conflict: the stored one is newer
    failed: dict[str, str] = field(default_factory=dict)  # id -> reason
    retryable: set[str] = field(default_factory=set)  # failed ids whose cause was transient


def _retryable(status: Any) -> bool:
    """Lost requests and server errors; 429s were already retried inside the helper."""
    return not isinstance(status, int) or status >= 500


def _reason(info: dict[str, Any]) -> str:
    err = info.get("error") or info.get("exception") or "unknown error"
    if isinstance(err, dict):
        text = f"{err.get('type', 'error')}: {err.get('reason', '')}"
        cause = err.get("caused_by")
        if isinstance(cause, dict):
            text += f" ({cause.get('type', '')}: {cause.get('reason', '')})"
        return f"{info.get('status', '?')} {text}"
    return f"{info.get('status', '?')} {err}"


async def run_bulk(
    client: AsyncOpenSearch,
    actions: Sequence[dict[str, Any]],
    params: OpenSearchParams,
    *,
    refresh: bool = False,
) -> BulkOutcome:
    """Send ``actions`` (helper format: ``_op_type``, ``_index``, ``_id``, ``_version``, ...)."""
    outcome = BulkOutcome()
    pending = list(actions)
    backoff = params.bulk_backoff_s
    for attempt in range(params.bulk_retries + 1):
        retry: list[dict[str, Any]] = []
        reasons: dict[str, str] = {}
        by_id = {a["_id"]: a for a in pending}
        async for ok, item in async_streaming_bulk(
            client,
            pending,
            chunk_size=params.bulk_chunk,
            max_chunk_bytes=params.bulk_max_bytes,
            max_retries=params.bulk_retries,
            initial_backoff=params.bulk_backoff_s,
            max_backoff=params.bulk_max_backoff_s,
            raise_on_error=False,
            raise_on_exception=False,
            request_timeout=params.request_timeout_s,
            refresh="true" if refresh else "false",
        ):
            op, info = next(iter(item.items()))
            doc_id = str(info.get("_id"))
            status = info.get("status")
            if ok:
                outcome.done.append(doc_id)
            elif status == 409:
                outcome.stale.append(doc_id)
            elif status == 404 and op == "delete":
                outcome.missing.append(doc_id)
            elif _retryable(status) and doc_id in by_id:
                retry.append(by_id[doc_id])
                reasons[doc_id] = _reason(info)
            else:
                outcome.failed[doc_id] = _reason(info)
                if status == 429:
                    outcome.retryable.add(doc_id)
        if not retry:
            return outcome
        if attempt == params.bulk_retries:
            outcome.failed.update(reasons)
            outcome.retryable.update(reasons)
            return outcome
        log.warning("bulk: %d actions failed transiently, retry %d", len(retry), attempt + 1)
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, params.bulk_max_backoff_s)
        pending = retry
    return outcome
