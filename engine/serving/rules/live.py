"""The live merchandising rules: read from the control store, reloaded when it changes."""

from __future__ import annotations

from engine.serving.rules.ruleset import RuleSet
from engine.serving.rules.store import ControlStore


class LiveRules:
    def __init__(self, control: ControlStore) -> None:
        self.control = control  # rules, keys, audit log
        self.current = RuleSet(control.rules(), control.revision())

    def refresh(self) -> bool:
        """Reload the rules when the control store changed since they were read (a
        primary-key lookup otherwise); True if reloaded. Blocking: run it off the loop."""
        revision = self.control.revision()
        if revision == self.current.revision:
            return False
        self.current = RuleSet(self.control.rules(), revision)
        return True

    def close(self) -> None:
        self.control.close()
