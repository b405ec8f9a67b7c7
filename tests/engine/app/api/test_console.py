"""The merchandising console in headless Chromium (Debian's, driven by Selenium), against a real
server: a merchandiser previews a search with its stages, drafts a rule and compares the two
lists, publishes it, sees it act, finds the change in the audit history and rolls it back; a bad
rule shows the field the server names. Screenshots go to ``SHOPNOW_SCREENSHOTS`` (default: the
test's temporary directory)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from devtools.opensearch_node.process import free_port
from engine.app.api.app import create_app
from engine.serving.service import Engine
from tests.engine.world import CASES, make_engine

CHROMIUM = shutil.which("chromium")
DRIVER = shutil.which("chromedriver")
if (CHROMIUM is None or DRIVER is None) and os.environ.get("CI"):  # never skipped in CI
    raise RuntimeError("CI must provide chromium and chromedriver (scripts/setup.sh --servers)")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None or DRIVER is None,
    reason="no chromium/chromedriver: run the tests with `make test` (scripts/setup.sh "
    "--servers installs Debian's chromium and chromium-driver) or apt-get install them",
)
ADMIN = "admin-secret-for-console-tests-0123"


class Server:
    """The API over a test engine, served by uvicorn on a free port in a thread of its own."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.merchandiser = ""
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        engine: Engine = await make_engine(self.root)
        engine.settings = engine.settings.model_copy(update={"admin_key": ADMIN})
        app = create_app(engine)
        _, self.merchandiser = engine.control.create_key(
            "Maria (merchandising)", "merchandiser", "test"
        )
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self._ready.set()
        await self.server.serve()

    def __enter__(self) -> Server:
        self._thread.start()
        self._ready.wait(30)
        deadline = time.monotonic() + 30
        while not getattr(self, "server", None) or not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self._thread.join(30)


@pytest.fixture
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM or ""
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
    ):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER or ""), options=opts)
    driver.implicitly_wait(0)
    try:
        yield driver
    finally:
        driver.quit()


def _wait(cond: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            got = cond()
        except Exception:  # the element is being replaced: look again
            got = None
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError("the page did not show what was expected in time")
        time.sleep(0.05)


def _rows(driver: Any, table: str) -> list[list[str]]:
    from selenium.webdriver.common.by import By

    out = []
    for tr in driver.find_elements(By.CSS_SELECTOR, f"#{table} tbody tr"):
        out.append([td.text for td in tr.find_elements(By.TAG_NAME, "td")])
    return out


@needs_chromium
@pytest.mark.browser
def test_a_merchandiser_previews_publishes_and_rolls_back(browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    shots = Path(os.environ.get("SHOPNOW_SCREENSHOTS", tmp_path / "screenshots"))
    shots.mkdir(parents=True, exist_ok=True)
    d = browser
    with Server(tmp_path) as server:
        d.get(server.url + "/console")
        assert d.title == "ShopNow merchandising console"
        # without a key the API refuses, and the page says why
        d.find_element(By.ID, "query").send_keys("phone")
        d.find_element(By.ID, "run").click()
        assert "401" in _wait(lambda: d.find_element(By.ID, "status").text)
        d.find_element(By.ID, "key").send_keys(server.merchandiser)
        d.find_element(By.ID, "run").click()
        results = _wait(lambda: _rows(d, "results"))
        assert any("phone" in r[1].lower() for r in results)
        stages = {r[0]: r[2] for r in _rows(d, "stages")}
        assert stages.get("bm25") == "ok" and "rules" in stages
        assert d.find_element(By.ID, "preview-rules").text == "no rule matched"
        d.save_screenshot(str(shots / "1-search-preview.png"))

        # a draft pinning the clear case first, previewed side by side
        d.find_element(By.ID, "tab-rules").click()
        d.find_element(By.ID, "rule-id").send_keys("phones-clear-case")
        rule = {
            "name": "phone searches: the clear case first",
            "priority": 5,
            "match": {"query": {"kind": "contains", "value": "phone"}, "surfaces": ["search"]},
            "actions": {"pins": [{"item_id": CASES[2].id, "position": 1}]},
        }
        body = d.find_element(By.ID, "rule-body")
        body.clear()
        body.send_keys(json.dumps(rule))
        d.find_element(By.ID, "preview-rule").click()
        with_rows = _wait(lambda: _rows(d, "with"))
        assert CASES[2].id in with_rows[0][1] and "pinned at 1" in with_rows[0][2]
        without = _rows(d, "without")
        assert CASES[2].id not in without[0][1]
        changed = d.find_elements(By.CSS_SELECTOR, "#with tbody tr.changed")
        assert changed, "the preview highlights the places that change"
        d.save_screenshot(str(shots / "2-rule-preview.png"))
        assert _rows(d, "rule-list") == []  # a preview stores nothing

        d.find_element(By.ID, "publish").click()
        listed = _wait(lambda: _rows(d, "rule-list"))
        assert listed[0][0] == "phones-clear-case"
        first_revision = int(listed[0][4])
        # edited from the list: the update carries the revision it was read at
        d.find_element(By.CSS_SELECTOR, "#rule-list tr[data-id='phones-clear-case'] button").click()
        edited = json.loads(body.get_attribute("value"))
        assert edited["actions"]["pins"][0]["item_id"] == CASES[2].id
        body.clear()
        body.send_keys(json.dumps(dict(edited, priority=7)))
        d.find_element(By.ID, "publish").click()
        _wait(lambda: int(_rows(d, "rule-list")[0][4]) > first_revision)
        assert _rows(d, "rule-list")[0][2] == "7"
        d.save_screenshot(str(shots / "3-published.png"))

        # a bad rule: the field the server names is on the page, nothing is stored
        bad = dict(rule, match={"query": {"kind": "regex", "value": "phone("}})
        d.find_element(By.ID, "rule-id").clear()
        d.find_element(By.ID, "rule-id").send_keys("broken")
        body.clear()
        body.send_keys(json.dumps(bad))
        d.find_element(By.ID, "publish").click()
        msg = _wait(lambda: "422" in (t := d.find_element(By.ID, "rule-msg").text) and t)
        assert "422" in msg and "match.query" in msg and "RE2" in msg
        d.save_screenshot(str(shots / "4-bad-rule.png"))
        assert [r[0] for r in _rows(d, "rule-list")] == ["phones-clear-case"]

        # the rule acts on the live search
        d.find_element(By.ID, "tab-preview").click()
        d.find_element(By.ID, "run").click()
        first = _wait(
            lambda: _rows(d, "results")[0] if CASES[2].id in _rows(d, "results")[0][1] else None
        )
        assert "rule phones-clear-case: pinned at 1" in first[6]
        assert "rule phones-clear-case: matched" in d.find_element(By.ID, "preview-rules").text

        # audit history names who did it; a rollback removes the rule again
        d.find_element(By.ID, "tab-audit").click()
        changes = _wait(lambda: [r for r in _rows(d, "changes") if r[4].startswith("rule")])
        assert [r[3] for r in changes] == ["update", "create"]
        assert all(r[2].startswith("Maria (merchandising)") for r in changes)
        assert "phones-clear-case" in changes[0][4]
        d.save_screenshot(str(shots / "5-audit.png"))
        seq = changes[1][0]  # undo the creation: the rule goes
        d.find_element(By.CSS_SELECTOR, f"#changes tr[data-seq='{seq}'] button").click()
        _wait(lambda: any(r[3] == f"rollback of #{seq}" for r in _rows(d, "changes")))
        d.find_element(By.ID, "tab-rules").click()
        assert _wait(
            lambda: d.find_element(By.ID, "rule-list").text.count("phones-clear-case") == 0
        )
        d.save_screenshot(str(shots / "6-rolled-back.png"))
