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
from dataclasses import dataclass
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
pytestmark = [needs_chromium, pytest.mark.browser]


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
        _, self.merchandiser = engine.rules.control.create_key(
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


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the module's tests (each opens its own server's page)."""
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


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    default = tmp_path_factory.mktemp("console") / "screenshots"
    out = Path(os.environ.get("SHOPNOW_SCREENSHOTS", default))
    out.mkdir(parents=True, exist_ok=True)
    return out


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


# The merchandiser's session, step by step: each test starts from a server of its own (rules
# and audit history empty) and the fixtures below replay the steps before the one it checks.
RULE_ID = "phones-clear-case"
RULE = {
    "name": "phone searches: the clear case first",
    "priority": 5,
    "match": {"query": {"kind": "contains", "value": "phone"}, "surfaces": ["search"]},
    "actions": {"pins": [{"item_id": CASES[2].id, "position": 1}]},
}


@pytest.fixture
def console(browser: Any, tmp_path: Path) -> Iterator[Server]:
    """The console of a fresh server, open in the browser, no key given."""
    with Server(tmp_path) as server:
        browser.get(server.url + "/console")
        browser.execute_script("sessionStorage.clear()")  # no key remembered from elsewhere
        browser.get(server.url + "/console")
        yield server


@pytest.fixture
def searched(browser: Any, console: Server) -> Server:
    """The merchandiser's key given and "phone" searched."""
    from selenium.webdriver.common.by import By

    d = browser
    d.find_element(By.ID, "query").send_keys("phone")
    d.find_element(By.ID, "key").send_keys(console.merchandiser)
    d.find_element(By.ID, "run").click()
    _wait(lambda: _rows(d, "results"))
    return console


@pytest.fixture
def drafted(browser: Any, searched: Server) -> Server:
    """A draft pinning the clear case first, previewed side by side."""
    from selenium.webdriver.common.by import By

    d = browser
    d.find_element(By.ID, "tab-rules").click()
    d.find_element(By.ID, "rule-id").send_keys(RULE_ID)
    body = d.find_element(By.ID, "rule-body")
    body.clear()
    body.send_keys(json.dumps(RULE))
    d.find_element(By.ID, "preview-rule").click()
    _wait(lambda: _rows(d, "with"))
    return searched


@dataclass(frozen=True)
class Published:
    """The draft published, then edited from the list to priority 7 and published again."""

    server: Server
    listed: list[list[str]]  # the rule list after the first publication
    edited: dict[str, Any]  # the rule as the editor loaded it from the list


@pytest.fixture
def published(browser: Any, drafted: Server) -> Published:
    from selenium.webdriver.common.by import By

    d = browser
    body = d.find_element(By.ID, "rule-body")
    d.find_element(By.ID, "publish").click()
    listed = _wait(lambda: _rows(d, "rule-list"))
    first_revision = int(listed[0][4])
    # edited from the list: the update carries the revision it was read at
    d.find_element(By.CSS_SELECTOR, f"#rule-list tr[data-id='{RULE_ID}'] button").click()
    edited = json.loads(body.get_attribute("value"))
    body.clear()
    body.send_keys(json.dumps(dict(edited, priority=7)))
    d.find_element(By.ID, "publish").click()
    _wait(lambda: int(_rows(d, "rule-list")[0][4]) > first_revision)
    return Published(drafted, listed, edited)


def test_without_a_key_the_api_refuses_and_the_page_says_why(browser: Any, console: Server) -> None:
    from selenium.webdriver.common.by import By

    d = browser
    assert d.title == "ShopNow merchandising console"
    d.find_element(By.ID, "query").send_keys("phone")
    d.find_element(By.ID, "run").click()
    assert "401" in _wait(lambda: d.find_element(By.ID, "status").text)


def test_a_search_is_previewed_with_its_stages(browser: Any, searched: Server, shots: Path) -> None:
    from selenium.webdriver.common.by import By

    d = browser
    results = _wait(lambda: _rows(d, "results"))
    assert any("phone" in r[1].lower() for r in results)
    stages = {r[0]: r[2] for r in _rows(d, "stages")}
    assert stages.get("bm25") == "ok" and "rules" in stages
    assert d.find_element(By.ID, "preview-rules").text == "no rule matched"
    d.save_screenshot(str(shots / "1-search-preview.png"))


def test_a_draft_rule_is_previewed_beside_the_live_list(
    browser: Any, drafted: Server, shots: Path
) -> None:
    from selenium.webdriver.common.by import By

    d = browser
    with_rows = _wait(lambda: _rows(d, "with"))
    assert CASES[2].id in with_rows[0][1] and "pinned at 1" in with_rows[0][2]
    without = _rows(d, "without")
    assert CASES[2].id not in without[0][1]
    changed = d.find_elements(By.CSS_SELECTOR, "#with tbody tr.changed")
    assert changed, "the preview highlights the places that change"
    d.save_screenshot(str(shots / "2-rule-preview.png"))
    assert _rows(d, "rule-list") == []  # a preview stores nothing


def test_a_rule_is_published_and_edited_at_its_revision(
    browser: Any, published: Published, shots: Path
) -> None:
    d = browser
    assert published.listed[0][0] == RULE_ID
    assert published.edited["actions"]["pins"][0]["item_id"] == CASES[2].id
    assert _rows(d, "rule-list")[0][2] == "7"
    d.save_screenshot(str(shots / "3-published.png"))


def test_a_bad_rule_shows_the_field_the_server_names(
    browser: Any, published: Published, shots: Path
) -> None:
    from selenium.webdriver.common.by import By

    # a bad rule: the field the server names is on the page, nothing is stored
    d = browser
    bad = dict(RULE, match={"query": {"kind": "regex", "value": "phone("}})
    d.find_element(By.ID, "rule-id").clear()
    d.find_element(By.ID, "rule-id").send_keys("broken")
    body = d.find_element(By.ID, "rule-body")
    body.clear()
    body.send_keys(json.dumps(bad))
    d.find_element(By.ID, "publish").click()
    msg = _wait(lambda: "422" in (t := d.find_element(By.ID, "rule-msg").text) and t)
    assert "422" in msg and "match.query" in msg and "RE2" in msg
    d.save_screenshot(str(shots / "4-bad-rule.png"))
    assert [r[0] for r in _rows(d, "rule-list")] == [RULE_ID]


def test_the_published_rule_acts_on_the_live_search(browser: Any, published: Published) -> None:
    from selenium.webdriver.common.by import By

    d = browser
    d.find_element(By.ID, "tab-preview").click()
    d.find_element(By.ID, "run").click()
    first = _wait(
        lambda: _rows(d, "results")[0] if CASES[2].id in _rows(d, "results")[0][1] else None
    )
    assert f"rule {RULE_ID}: pinned at 1" in first[6]
    assert f"rule {RULE_ID}: matched" in d.find_element(By.ID, "preview-rules").text


def test_the_audit_history_names_who_and_a_rollback_undoes_it(
    browser: Any, published: Published, shots: Path
) -> None:
    from selenium.webdriver.common.by import By

    # audit history names who did it; a rollback removes the rule again
    d = browser
    d.find_element(By.ID, "tab-audit").click()
    changes = _wait(lambda: [r for r in _rows(d, "changes") if r[4].startswith("rule")])
    assert [r[3] for r in changes] == ["update", "create"]
    assert all(r[2].startswith("Maria (merchandising)") for r in changes)
    assert RULE_ID in changes[0][4]
    d.save_screenshot(str(shots / "5-audit.png"))
    seq = changes[1][0]  # undo the creation: the rule goes
    d.find_element(By.CSS_SELECTOR, f"#changes tr[data-seq='{seq}'] button").click()
    _wait(lambda: any(r[3] == f"rollback of #{seq}" for r in _rows(d, "changes")))
    d.find_element(By.ID, "tab-rules").click()
    assert _wait(lambda: d.find_element(By.ID, "rule-list").text.count(RULE_ID) == 0)
    d.save_screenshot(str(shots / "6-rolled-back.png"))
