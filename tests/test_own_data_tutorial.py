"""docs/own-data.md runs as written: its ``shopnow`` and ``curl`` commands, in its order, on a
one-month slice of UCI Online Retail exported as the tutorial's two CSV files."""

from __future__ import annotations

import csv
import json
import re
import shlex
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtools.opensearch_node.process import free_port
from ingest.imports.adapters import online_retail
from tests.test_readme_commands import _curl, _shopnow

pytestmark = pytest.mark.slow  # imports, trains and serves end to end

TUTORIAL = Path(__file__).resolve().parents[1] / "docs" / "own-data.md"
SLICE_END = datetime(2011, 1, 1)  # December 2010


def commands() -> list[str]:
    """The command lines of the tutorial's ``bash`` blocks, in order."""
    blocks = re.findall(r"```bash\n(.*?)```", TUTORIAL.read_text(), flags=re.S)
    return [line.strip() for b in blocks for line in b.splitlines() if line.strip()]


def _iso(t: datetime) -> str:
    return t.isoformat() + "Z"


def export_slice(source: Path, out: Path) -> tuple[int, int]:
    """What a marketplace's export would write: the events before :data:`SLICE_END` and the
    items they touch, as ``items.csv`` and ``events.csv`` in the import schema's columns."""
    out.mkdir(parents=True)
    rows = {s.kind: s.rows for s in online_retail.sources(source)}
    touched: set[str] = set()
    with (out / "events.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, ["ts", "user_id", "session_id", "kind", "item_id", "quantity"])
        w.writeheader()
        for _, e in rows["events"]():
            assert isinstance(e, dict)
            if e["ts"] >= SLICE_END:
                break  # the file is in time order
            touched.add(e["item_id"])
            w.writerow({**e, "ts": _iso(e["ts"]), "user_id": e["user_id"] or ""})
    n_items = 0
    with (out / "items.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, ["id", "title", "price", "currency", "created_at"])
        w.writeheader()
        for _, item in rows["items"]():
            assert isinstance(item, dict)
            if item["id"] in touched:
                w.writerow({**item, "created_at": _iso(item["created_at"])})
                n_items += 1
    return n_items, len(touched)


@pytest.fixture(scope="module")
def shop(
    tmp_path_factory: pytest.TempPathFactory, needs_data: Callable[[str], Path]
) -> Iterator[Path]:
    """The working directory of the tutorial, with ``my-shop/`` exported."""
    work = tmp_path_factory.mktemp("own-data")
    export_slice(needs_data("online-retail"), work / "my-shop")
    yield work


def _run(line: str, cwd: Path) -> str:
    argv = shlex.split(line)
    proc = subprocess.run(
        [*_shopnow(), *argv[1:]], cwd=cwd, capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, (line, proc.stderr[-3000:])
    return proc.stdout


def test_the_tutorial_shows_the_commands_this_test_runs() -> None:
    lines = commands()
    assert [shlex.split(c)[:2] for c in lines if c.startswith("shopnow")] == [
        ["shopnow", "import"],
        ["shopnow", "index"],
        ["shopnow", "train"],
        ["shopnow", "eval"],
        ["shopnow", "serve"],
        ["shopnow", "monitor"],
    ]
    assert len([c for c in lines if c.startswith("curl ")]) == 3


def test_the_example_rows_are_the_export_of_the_slice(shop: Path) -> None:
    text = TUTORIAL.read_text()
    for name in ("items.csv", "events.csv"):
        exported = (shop / "my-shop" / name).read_text().splitlines()
        shown = re.search(rf"`my-shop/{name}`.*?```text\n(.*?)```", text, flags=re.S)
        assert shown is not None, name
        header, *rows = shown.group(1).splitlines()
        assert header == exported[0]
        assert rows and set(rows) <= set(exported), (name, rows)


def test_the_tutorial_from_files_to_a_served_api(shop: Path) -> None:
    offline = [c for c in commands() if c.startswith("shopnow")][:4]  # before serving
    out = {shlex.split(c)[1]: _run(c, shop) for c in offline}
    report = json.loads(out["import"])
    events = next(s for s in report["sources"] if s["kind"] == "events")
    assert events["imported"] > 40_000 and events["quarantined"] <= 5, events
    assert report["layout"]["counts"]["anonymous_sessions"] > 100
    assert json.loads(out["index"])["indexed"] > 2_500
    assert json.loads(out["train"])["promoted"]
    table = [r.split() for r in out["eval"].splitlines() if r.startswith("lambdamart")]
    anonymous = next(r for r in table if r[2] == "anonymous")
    assert int(anonymous[3]) > 20 and float(anonymous[4]) > 0.05, anonymous
    again = json.loads(_run(offline[0], shop))
    assert [src["skipped"] for src in again["sources"]] == [True, True]


def _serve(line: str, cwd: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    argv = [a if a != "8000" else str(port) for a in shlex.split(line)[1:]]
    with (cwd / "serve.log").open("wb") as log:  # the child keeps its own descriptor
        proc = subprocess.Popen([*_shopnow(), *argv], cwd=cwd, stdout=log, stderr=log)
    deadline = time.monotonic() + 180
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200:
                return proc, port
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    proc.terminate()
    pytest.fail(f"shopnow serve did not become ready:\n{(cwd / 'serve.log').read_text()[-3000:]}")


def test_the_served_api_answers_the_tutorial_curls(
    shop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not (shop / "var" / "models" / "ranker" / "CURRENT").is_file():
        pytest.fail("needs the world test_the_tutorial_from_files_to_a_served_api builds")
    lines = commands()
    monkeypatch.setenv("SHOPNOW_FEATURE_LOG_RATE", "1")  # every request logged, for the monitor
    proc, port = _serve(next(c for c in lines if c.startswith("shopnow serve")), shop)
    try:
        replies: list[dict[str, Any]] = [
            _curl(shlex.split(c), port) for c in lines if c.startswith("curl ")
        ]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    search, anonymous, known = replies
    assert any("CAKE" in r["title"] for r in search["items"]), search
    assert len(anonymous["items"]) == 5 and "85123A" not in {r["id"] for r in anonymous["items"]}
    assert len(known["items"]) == 5
    for reply in replies:
        assert reply["model_versions"]["ranker"].startswith("ranker-"), reply
        assert not reply["degraded"], reply
    # the monitor reads the three logged requests back and recomputes their features offline
    monitored = _run(next(c for c in lines if c.startswith("shopnow monitor")), shop)
    assert "3 logged requests in the last 1 h" in monitored, monitored
    assert "too few to judge drift" in monitored and "no feature skewed" in monitored, monitored
    assert "alerts: none" in monitored, monitored


def test_the_learned_sources_train_on_the_imported_logs(shop: Path) -> None:
    """The page's closing remark: `shopnow train-towers` and `train-graph` run on the same
    import (interaction logs, no served pages), and the index then carries the towers."""
    if not (shop / "var" / "models" / "ranker" / "CURRENT").is_file():
        pytest.fail("needs the world test_the_tutorial_from_files_to_a_served_api builds")
    towers = json.loads(_run("shopnow train-towers --epochs 1 --quiet", shop))
    assert towers["promoted"], towers
    graph = json.loads(_run("shopnow train-graph --epochs 2 --quiet", shop))
    assert graph["serve"]["version"], graph
    assert json.loads(_run("shopnow index --quiet", shop))["towers"] == towers["version"]
