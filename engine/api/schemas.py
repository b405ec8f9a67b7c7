"""API-only request and response bodies (the domain contracts live in engine.contracts)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from engine.contracts import Item, Strict, Surface
from engine.rules.model import RuleBody


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
    ranker: str
    access_control: bool = True  # False: no admin key configured, the API is open
    rules: int = 0  # enabled rules loaded


class Preview(Strict):
    """A request served with the live rules and with a draft rule added, side by side."""

    surface: Surface
    request: dict[str, Any] = Field(description="a search or feed request body")
    rule: RuleBody
    rule_id: str = Field("draft", description="a stored rule's id: the draft replaces it")


class NewKey(Strict):
    name: str = Field(min_length=1, max_length=200)
    role: Literal["client", "merchandiser", "admin"]
