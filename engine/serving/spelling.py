"""The served speller (:mod:`engine.core.spelling`), built off the request path.

The first build runs in a background thread when the engine starts (about 1.3 s at 50K items
with descriptions, linear in the catalog); until it is done, queries are searched as typed.
After catalog changes it is rebuilt at most every ``rebuild_every_s`` seconds, again in the
background; the speller in use reads the rows appended since its build live, so a new item's
words are known from its first request on.
"""

from __future__ import annotations

import logging
import threading
import time

from engine.core.catalog import Catalog
from engine.core.spelling import Speller

log = logging.getLogger("shopnow.spelling")


class SpellerHolder:
    def __init__(
        self, catalog: Catalog, rebuild_every_s: float = 10.0, enabled: bool = True
    ) -> None:
        """``enabled=False``: no speller, queries are searched as typed."""
        self.catalog = catalog
        self.rebuild_every_s = rebuild_every_s
        self.enabled = enabled
        self.current: Speller | None = None
        self._dirty = False
        self._built_at = time.monotonic()
        self._worker: threading.Thread | None = None
        if enabled:
            self._start()

    def _start(self) -> None:
        self._worker = threading.Thread(target=self._build, name="speller", daemon=True)
        self._worker.start()

    def _build(self) -> None:
        try:
            self.current = Speller.build(self.catalog)
        except Exception:  # a failed build leaves the last speller (or none) serving
            log.exception("speller build failed; queries keep the previous speller")
        finally:
            self._built_at = time.monotonic()
            self._worker = None

    def catalog_changed(self) -> None:
        self._dirty = True

    def get(self) -> Speller | None:
        """The current speller (None before the first build); a stale one starts a rebuild."""
        due = time.monotonic() - self._built_at >= self.rebuild_every_s
        if self.enabled and self._dirty and due and self._worker is None:
            self._dirty = False
            self._start()
        return self.current

    def wait(self, timeout: float | None = None) -> None:
        """Block until a running build is done (offline replays want the served speller)."""
        worker = self._worker
        if worker is not None:
            worker.join(timeout)
