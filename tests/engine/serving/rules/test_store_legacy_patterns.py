"""A control store written when rule patterns were Python regular expressions may hold one RE2
cannot compile: it still loads, lists and can be fixed or deleted; the rule set skips it with a
warning and applies the others; a rollback does not bring it back."""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

import pytest

from engine.core.contracts import Surface
from engine.core.rules.model import RuleBody
from engine.serving.rules.ruleset import RuleSet
from engine.serving.rules.store import Conflict, ControlStore

LEGACY = r"(\w+) \1"  # a backreference: valid for Python's re, not for RE2


def regex_body(pattern: str) -> RuleBody:
    return RuleBody.model_validate(
        {
            "name": f"regex {pattern}",
            "match": {"query": {"kind": "regex", "value": pattern}},
            "actions": {"hide": ["x"]},
        }
    )


def store_legacy(path: Path, rule_id: str) -> None:
    """Rewrite a stored rule's pattern, and its audit entry, the way an older version kept a
    Python pattern RE2 rejects."""
    with sqlite3.connect(path) as db:
        (raw,) = db.execute("SELECT body FROM rules WHERE id = ?", (rule_id,)).fetchone()
        rule = json.loads(raw)
        rule["match"]["query"]["value"] = LEGACY
        db.execute("UPDATE rules SET body = ? WHERE id = ?", (json.dumps(rule), rule_id))
        db.execute(
            "UPDATE audit SET after = ? WHERE target = ? AND seq = ?",
            (json.dumps(rule), rule_id, rule["revision"]),
        )


def test_a_stored_pattern_re2_cannot_compile_is_skipped_not_fatal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "control.sqlite3"
    store = ControlStore(path)
    store.put_rule("legacy", regex_body("twice"), "alice")
    store.put_rule("fine", regex_body("^phone"), "alice")
    store_legacy(path, "legacy")

    rules = store.rules()  # loading does not refuse it: it can be listed, fixed, deleted
    assert [r.id for r in rules] == ["fine", "legacy"]
    got = store.rule("legacy")
    assert got is not None and got.match.query is not None
    assert got.match.query.value == LEGACY

    with caplog.at_level(logging.WARNING, logger="shopnow.rules"):
        live = RuleSet(rules, store.revision())
    assert live.size == 1 and list(live.skipped) == ["legacy"]
    assert "RE2" in live.skipped["legacy"]
    assert any("legacy" in r.getMessage() and "skipped" in r.getMessage() for r in caplog.records)
    found = live.match(Surface.search, "phone phone", 2, (), 0.0)
    assert [r.id for r in found] == ["fine"]  # the other rules still apply

    fixed = store.put_rule("legacy", regex_body(r"(\w+) \w+"), "bob")  # an update over it
    before = store.history("legacy")[0].before
    assert before is not None and before["match"]["query"]["value"] == LEGACY
    with pytest.raises(Conflict, match="RE2"):  # undoing the fix would restore the bad pattern
        store.rollback(fixed.revision, "carol")
    assert store.revision() == fixed.revision  # the refused rollback stored nothing
    assert RuleSet(store.rules()).skipped == {}
    store.delete_rule("legacy", "bob")
    store.close()
