"""API-only request and response bodies (the domain contracts live in engine.core.contracts)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from engine.core.contracts import Item, RankedResponse, Strict, Surface
from engine.core.rules.model import Rule, RuleBody


class ItemsBody(Strict):
    items: list[Item] = Field(min_length=1, max_length=5000)


class ItemsWritten(Strict):
    applied: list[str]
    stale: list[str] = Field(description="ids whose version was not newer than the stored one")
    failed: dict[str, str]
    pending: list[str] = Field(
        default_factory=list,
        description="stored in the catalog; the index was unreachable, the write is retried",
    )


class EventsAccepted(Strict):
    accepted: int
    warnings: list[str]


class DeleteResult(Strict):
    id: str
    deleted: bool


class Readiness(Strict):
    ready: bool
    items: int
    index: str
    store: str
    store_ok: bool
    index_ok: bool = True
    backlog: int = Field(0, description="index writes waiting for the index to come back")
    ingest_stalled_s: float = Field(
        0.0,
        description="seconds the ingest worker has had changes waiting without applying any; "
        "over SHOPNOW_INGEST_STALL_S the engine is not ready",
    )
    ranker: str
    access_control: bool = True  # False: no admin key configured, the API is open
    rules: int = 0  # enabled rules loaded
    speller: bool = Field(
        False,
        description="the catalog speller is built (queries are searched as typed until then, "
        "or always with SHOPNOW_SPELLING=false); readiness does not wait for it",
    )
    replica: str | None = Field(
        None,
        description="the worker slot of the process that answered (`shopnow serve --workers`); "
        "every response names it in the X-Shopnow-Replica header too",
    )


class Preview(Strict):
    """A request served with the live rules and with a draft rule added, side by side."""

    surface: Surface
    request: dict[str, Any] = Field(description="a search or feed request body")
    rule: RuleBody
    rule_id: str = Field("draft", description="a stored rule's id: the draft replaces it")


class NewKey(Strict):
    name: str = Field(min_length=1, max_length=200)
    role: Literal["client", "merchandiser", "admin"]


class Health(Strict):
    status: Literal["ok"]


class RuleList(Strict):
    rules: list[Rule]


class RuleDeleted(Strict):
    deleted: Rule


class RolledBack(Strict):
    rule: Rule | None = Field(description="the rule as it now is; null: the undo deleted it")


class AuditChange(Strict):
    seq: int
    at: datetime
    actor: str
    action: str = Field(description="create, update, delete, rollback of #n, key create, ...")
    kind: str = Field(description="rule, key or items")
    target: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class AuditPage(Strict):
    changes: list[AuditChange] = Field(description="newest first")


class PreviewResult(Strict):
    without: RankedResponse = Field(description="served with the live rules")
    with_draft: RankedResponse = Field(
        alias="with", description="served with the live rules and the draft"
    )


class KeyCreated(Strict):
    id: str
    name: str
    role: Literal["client", "merchandiser", "admin"]
    key: str = Field(description="the secret, shown this once: only a keyed digest is kept")


class KeyInfo(Strict):
    id: str
    name: str
    role: Literal["client", "merchandiser", "admin"]
    created_at: float | None = Field(description="unix seconds; null for the configured key")
    revoked: bool
    configured: bool = Field(
        False, description="the bootstrap admin key from SHOPNOW_ADMIN_KEY: rotate it there"
    )


class KeyList(Strict):
    keys: list[KeyInfo]


class KeyRevoked(Strict):
    revoked: str
