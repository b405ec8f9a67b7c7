"""The live rules reload only when the control store's revision moved, and then hold what
another writer of the same file stored."""

from __future__ import annotations

from pathlib import Path

from engine.core.rules.model import RuleBody
from engine.serving.rules.live import LiveRules
from engine.serving.rules.store import ControlStore


def test_reloads_only_after_a_change(tmp_path: Path) -> None:
    path = tmp_path / "control.sqlite3"
    live = LiveRules(ControlStore(path))
    writer = ControlStore(path)  # another server's API writing the same file
    try:
        assert live.current.size == 0 and live.refresh() is False
        writer.put_rule("r1", RuleBody(name="hide a", actions={"hide": ["a"]}), "alice")
        before = live.current
        assert live.refresh() is True and live.current is not before
        assert live.current.size == 1 and live.current.revision == writer.revision()
        assert live.refresh() is False  # nothing moved since
    finally:
        writer.close()
        live.close()
