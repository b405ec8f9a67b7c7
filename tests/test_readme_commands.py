"""Every command README.md shows runs as written, and CI runs each one in its cheapest form.

The commands are read from the README itself: code-block lines and inline code that start with
``shopnow``, ``make``, ``python -m``, ``curl`` or ``docker compose``, with alternatives such as
``up|down|status`` expanded. :data:`COVERAGE` names the tests that run
each one, so a command documented without a test fails here. The commands no other test runs
are run below on a tiny world: the CLI in the README's order, ``shopnow demo --no-serve``, the
``curl`` examples against ``shopnow serve``, and every ``shopnow-bench`` with ``--smoke`` (the
``--quick`` run at its smallest sizes; ``bench ingest`` starts its own OpenSearch node).
"""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.__main__ import main as bench_main
from bench.__main__ import parser as bench_parser
from devtools.opensearch_node.__main__ import _parser as node_parser
from devtools.opensearch_node.process import free_port
from engine.app.cli import main, parser
from tests.servers import OPENSEARCH_URL, missing, needs_opensearch
from tests.shared_data import SHARED_DATA, dataset

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
PREFIXES = ("shopnow ", "shopnow-bench ", "make ", "python -m ", "curl ", "docker compose ")
ITEMS, EVENTS = 1200, 15_000  # the tiny world (the same as the benchmarks' --smoke world)

HERE = "tests/test_readme_commands.py"
PIPELINE = f"{HERE}::test_the_offline_commands_in_readme_order"
# Each documented command and the tests that run it (``path::test`` or a whole file).
COVERAGE: dict[str, list[str]] = {
    "make demo": [
        f"{HERE}::test_demo_without_serving",
        f"{HERE}::test_make_demo_and_make_test_run_the_scripts",
        "tests/test_setup.py::test_each_clone_runs_its_own_code",
    ],
    "make test": [f"{HERE}::test_make_demo_and_make_test_run_the_scripts", ".ci/run"],
    "shopnow import": ["tests/ingest/imports/test_run.py::test_the_cli_reports_each_source"],
    "shopnow synth": [PIPELINE],
    "shopnow train-towers": [PIPELINE, "tests/engine/app/test_jobs.py"],
    "shopnow train-graph": [PIPELINE, "tests/engine/app/test_jobs.py"],
    "shopnow index": [
        PIPELINE,
        f"{HERE}::test_index_on_opensearch",
        "tests/engine/app/test_jobs.py",
    ],
    "shopnow ingest": [PIPELINE, "tests/engine/app/test_ingest_crash.py"],
    "shopnow train": [
        PIPELINE,
        "tests/engine/app/test_jobs.py",
        "tests/engine/offline/evaluation/test_judged.py",  # --judgments, Icecat
    ],
    "shopnow eval": [
        PIPELINE,
        "tests/engine/offline/test_evaluate_imported.py",  # Amazon Beauty, imported
        "tests/test_own_data_tutorial.py",  # a month of Online Retail, imported
        "tests/engine/app/test_cli.py::test_eval_without_a_dataset_says_how_to_make_one",
        "tests/engine/offline/evaluation/test_judged.py",  # --judgments [--cv], Icecat
    ],
    "shopnow compare": [
        f"{HERE}::test_compare_quick",
        "tests/engine/offline/compare/test_run.py",
    ],
    "shopnow serve": [
        f"{HERE}::test_serve_answers_the_readme_curl_commands",
        "tests/engine/app/test_serve.py::test_serve_answers_search_and_feed",
        "tests/engine/app/test_workers.py",  # --workers 2
    ],
    "shopnow monitor": [PIPELINE, "tests/engine/offline/monitoring/test_monitor.py"],
    "shopnow demo": [f"{HERE}::test_demo_without_serving"],
    "shopnow opensearch up": [
        f"{HERE}::test_opensearch_commands",
        f"{HERE}::test_bench_smoke",  # bench ingest starts and stops a node of its own
        "scripts/test.sh",  # starts the CI node with the same command (module form)
    ],
    "shopnow opensearch down": [f"{HERE}::test_opensearch_commands", f"{HERE}::test_bench_smoke"],
    "shopnow opensearch status": [
        f"{HERE}::test_opensearch_commands",
        "tests/engine/app/test_cli.py::test_opensearch_status_of_a_home_without_a_node",
    ],
    "shopnow opensearch kill-node": [
        "tests/bench/test_failover_bench.py",  # through the same functions, on the CI cluster
        "tests/engine/app/test_cli.py::test_opensearch_node_commands_on_a_home_without_a_cluster",
    ],
    "shopnow opensearch start-node": [
        "tests/bench/test_failover_bench.py",
        "tests/engine/app/test_cli.py::test_opensearch_node_commands_on_a_home_without_a_cluster",
    ],
    "shopnow snapshot take": [
        "tests/search_plugins/test_opensearch_snapshots.py::test_snapshot_commands"
    ],
    "shopnow snapshot list": [
        "tests/search_plugins/test_opensearch_snapshots.py::test_snapshot_commands"
    ],
    "shopnow snapshot restore": [
        "tests/search_plugins/test_opensearch_snapshots.py::test_snapshot_commands",
        "tests/search_plugins/test_opensearch_snapshots.py::"
        "test_snapshot_restores_into_a_fresh_cluster",
    ],
    "python -m devtools.redis_sentinel": [
        "scripts/test.sh",  # starts the CI group with this command
        "tests/devtools/test_redis_sentinel.py",
        "tests/bench/test_redis_failover_bench.py",  # kill-primary and start, on that group
    ],
    "python -m devtools.postgres_server": [
        "scripts/test.sh",  # starts the CI server with this command
        "tests/devtools/test_postgres_server.py",
    ],
    "python -m bench.rules_propagation_bench": ["tests/bench/test_rules_propagation_bench.py"],
    "python -m bench.failover_bench": ["tests/bench/test_failover_bench.py"],
    # export_text_encoder, what the module's main calls; the bundle then serves without torch
    "python -m towers.text_export": ["tests/towers/test_text_runtime.py"],
    "python -m bench.load_bench": ["tests/bench/test_load_bench.py"],
    "python -m bench.footprint_bench": ["tests/bench/test_footprint_bench.py"],
    "python -m bench.capacity_plan": ["tests/bench/test_capacity_plan.py"],
    "python -m devtools.vegeta": ["tests/bench/test_load_bench.py"],  # ensure() builds it
    "python -m bench.redis_failover_bench": ["tests/bench/test_redis_failover_bench.py"],
    "shopnow-bench all": [f"{HERE}::test_bench_all_runs_every_benchmark"],
    "make test-unit": [f"{HERE}::test_make_test_unit_runs_the_unit_tests_only"],
    # every other `shopnow-bench X`: test_bench_smoke, parametrized from the README
    "python -m bench.search_probe_bench": [f"{HERE}::test_search_probe_bench"],
    "python -m bench.typo_search_bench": [
        "tests/engine/offline/evaluation/test_judged.py::"
        "test_the_speller_brings_mistyped_queries_back_to_the_judged_ones"
    ],
    "curl POST /v1/search": [f"{HERE}::test_serve_answers_the_readme_curl_commands"],
    "curl POST /v1/feed": [f"{HERE}::test_serve_answers_the_readme_curl_commands"],
    # no Docker engine on the development machine or in CI: the file's structure is checked
    "docker compose up": ["tests/test_compose.py"],
    "docker compose -f": ["tests/test_compose_cluster.py"],  # the cluster layer
}
SMOKE = f"{HERE}::test_bench_smoke"
NOT_SMOKED = {"all"}


# -- the README's commands ---------------------------------------------------------------------


def documented(text: str) -> list[str]:
    """The command lines the README shows: code-block lines and inline code spans that start
    with a command, trailing comments dropped."""
    found: list[str] = []
    in_block = False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            in_block = not in_block
            continue
        spans = (
            [re.split(r"\s+#", line, maxsplit=1)[0]] if in_block else re.findall(r"`([^`]+)`", line)
        )
        found += [s.strip() for s in spans if s.strip().startswith(PREFIXES)]
    return found


def _choices(sub: str) -> tuple[list[str], str | None]:
    """The choices and default of a ``shopnow`` subcommand's positional argument (``bench``:
    of ``shopnow-bench``)."""
    if sub == "opensearch":
        sp = node_parser()
    elif sub == "bench":
        sp = bench_parser()
    else:
        subparsers = next(a for a in parser()._actions if a.dest == "command")
        sp = subparsers.choices[sub]  # type: ignore[index]
    for action in sp._actions:
        if not action.option_strings and action.choices:
            return [str(c) for c in action.choices], action.default
    return [], None


def variants(cmd: str) -> list[tuple[str, list[str]]]:
    """(key, argv) for each form of a documented command: alternatives expanded, optional parts
    (``[...]``) included, and the key naming the command and its positional choice."""
    tokens = shlex.split(cmd)
    if tokens[0] == "make":
        return [(f"make {tokens[1]}", tokens)]
    if tokens[0] == "curl":
        method = next((t[2:] for t in tokens if t.startswith("-X")), "GET")
        url = next(t for t in tokens if "/v1/" in t or t.startswith(("http", "localhost")))
        return [(f"curl {method} /{url.split('/', 1)[1]}", tokens)]
    if tokens[0] == "docker":
        return [(" ".join(tokens[:3]), tokens)]
    if tokens[0] == "python":
        return [(" ".join(tokens[:3]), tokens)]
    if tokens[0] == "shopnow-bench":
        argv = [t.strip("[]") for t in tokens[1:]]
        return [(f"shopnow-bench {c}", [c, *argv[1:]]) for c in argv[0].split("|")]
    argv = [t.strip("[]") for t in tokens[1:]]
    sub = argv[0]
    choices, default = _choices(sub)
    if not choices:
        return [(f"shopnow {sub}", argv)]
    rest = argv[1:]
    if rest and not rest[0].startswith("-") and set(rest[0].split("|")) <= set(choices):
        picked, rest = rest[0].split("|"), rest[1:]
    else:
        picked = [str(default)]
    return [(f"shopnow {sub} {c}", [sub, c, *rest]) for c in picked]


COMMANDS = documented(README.read_text())
FORMS = list({(k, tuple(a)): (k, a) for cmd in COMMANDS for k, a in variants(cmd)}.values())
BENCHES = sorted({k.split()[-1] for k, _ in FORMS if k.startswith("shopnow-bench ")})


def _tests_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}


def test_the_readme_lists_the_commands_this_module_knows() -> None:
    keys = {k for k, _ in FORMS}
    # a sanity check of the parser: the README's main commands are found
    assert {"make demo", "make test", "shopnow-bench ingest", "shopnow opensearch up"} <= keys
    assert {"index", "ingest", "online", "rollout", "rules", "all"} <= set(BENCHES)


def test_every_documented_command_has_a_test() -> None:
    keys = {k for k, _ in FORMS}
    smoked = {f"shopnow-bench {b}" for b in BENCHES if b not in NOT_SMOKED}
    missing = sorted(keys - set(COVERAGE) - smoked)
    assert not missing, f"documented in README.md without a test (add one to COVERAGE): {missing}"
    stale = sorted(set(COVERAGE) - keys)
    assert not stale, f"COVERAGE names commands README.md no longer shows: {stale}"
    for key, tests in {**COVERAGE, **{k: [SMOKE] for k in smoked}}.items():
        for test in tests:
            path, _, name = test.partition("::")
            assert (REPO / path).is_file(), (key, test)
            if name:
                assert name in _tests_in(REPO / path), (key, test)


@pytest.mark.parametrize(
    "form", [f for f in FORMS if f[0].startswith("shopnow")], ids=lambda f: " ".join(f[1])
)
def test_documented_shopnow_commands_parse(form: tuple[str, list[str]]) -> None:
    """Each documented ``shopnow`` and ``shopnow-bench`` command line, flags included, is one
    the CLI accepts."""
    key, argv = form
    if key.startswith("shopnow-bench "):
        bench_parser().parse_args(argv)
    elif argv[0] == "opensearch":
        node_parser().parse_args(argv[1:])
    else:
        parser().parse_args(argv)


def test_make_demo_and_make_test_run_the_scripts() -> None:
    make = (REPO / "Makefile").read_text()
    assert re.search(r"^demo:\n\tbash scripts/demo\.sh$", make, re.M), make
    assert re.search(r"^test:\n\tbash scripts/test\.sh$", make, re.M), make
    demo = (REPO / "scripts" / "demo.sh").read_text()
    assert "bash scripts/setup.sh\n" in demo and 'exec .venv/bin/shopnow demo "$@"' in demo
    assert "\nmake test\n" in (REPO / ".ci" / "run").read_text()


def test_make_test_unit_runs_the_unit_tests_only() -> None:
    """``make test-unit`` selects the ``unit`` marker: every other marker's tests stay out, and
    most of the suite is in (the markers come from tests/conftest.py)."""
    make = (REPO / "Makefile").read_text()
    assert re.search(r"^test-unit:\n\tbash scripts/setup\.sh && .+ -m unit$", make, re.M), make
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "-m",
            "unit",
            "-p",
            "no:cacheprovider",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    ids = [line for line in out.splitlines() if "::" in line]
    assert len(ids) > 500, out[-2000:]
    for other in ("test_console.py", "test_api_fuzz.py", "lifts_the_stack_on_a_real_slice"):
        assert not any(other in i for i in ids), other
    assert not any("opensearch+redis" in i or "test_gowalla" in i for i in ids)


# -- the CLI on a tiny world -------------------------------------------------------------------


def _paths(var: Path) -> list[str]:
    return [
        *("--data", str(var / "data"), "--index", str(var / "index")),
        *("--models", str(var / "models"), "--feature-log", str(var / "feature-log")),
    ]


def _shopnow() -> list[str]:
    """The console script next to this Python (``.venv/bin/shopnow``)."""
    script = Path(sys.executable).parent / "shopnow"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "engine.app.cli"]


def _run(argv: list[str], capsys: pytest.CaptureFixture[str], command: Any = main) -> str:
    """``shopnow ARGV`` (or another ``command``) in this process; its standard output."""
    capsys.readouterr()
    code = command(argv)
    out, err = capsys.readouterr()
    assert code == 0, (argv, err[-3000:])
    return out


@pytest.fixture(scope="module")
def var(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty ``var`` directory: the tiny world's data, index and models go there."""
    return tmp_path_factory.mktemp("readme") / "var"


@pytest.fixture(scope="module")
def changes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """FILE.jsonl for ``shopnow ingest``: three new items, and a delete of one of them."""
    from tests.engine.fixtures import item

    path = tmp_path_factory.mktemp("changes") / "changes.jsonl"
    lines = [item(900_000 + i, title=f"readme item {i}").model_dump_json() for i in range(3)]
    lines.append(json.dumps({"op": "delete", "id": "i900000", "version": 2}))
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.slow
def test_the_offline_commands_in_readme_order(
    var: Path, changes: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """synth (through the console script), train-towers, train-graph, index, ingest, train,
    eval, monitor: each as the README shows it, with the smallest sizes."""
    synth = [*_shopnow(), "synth", "--out", str(var / "data"), "--quiet"]
    synth += ["--items", str(ITEMS), "--events", str(EVENTS), "--seed", "0"]
    proc = subprocess.run(synth, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    paths = [*_paths(var), "--quiet"]
    towers = json.loads(_run(["train-towers", "--epochs", "1", *paths], capsys))
    assert towers["promoted"]
    graph = json.loads(_run(["train-graph", "--epochs", "2", *paths], capsys))
    assert graph["serve"]["version"]
    built = json.loads(_run(["index", *paths], capsys))
    assert built["indexed"] == ITEMS and built["towers"] == towers["version"]
    ingested = json.loads(_run(["ingest", str(changes), *paths], capsys))
    assert (ingested["applied"], ingested["dead_letters"]) == (4, 0), ingested
    ranker = json.loads(_run(["train", "--requests", "1000", *paths], capsys))
    assert ranker["promoted"]
    plot = var.parent / "eval.png"
    out = _run(["eval", "--requests", "100", "--plot", str(plot), *paths], capsys)
    assert "lambdamart" in out and plot.stat().st_size > 0
    out = _run(["monitor", "--hours", "24", *_paths(var)], capsys)
    assert "alerts:" in out


@pytest.fixture
def world(var: Path, tmp_path: Path) -> Path:
    """A copy of the world the offline commands built (tests that write to it use their own)."""
    if not (var / "models" / "ranker" / "CURRENT").is_file():
        missing("needs the world test_the_offline_commands_in_readme_order builds")
    shutil.copytree(var, tmp_path / "var")
    return tmp_path / "var"


def _readme_curls() -> list[list[str]]:
    return [shlex.split(c) for c in COMMANDS if c.startswith("curl ")]


def _curl(argv: list[str], port: int) -> dict[str, Any]:
    """A README curl command against ``port``: with curl when there is one, else the same
    request (curl's ``-d`` sends a form content type) with httpx."""
    argv = [re.sub(r"^(http://)?localhost:8000", f"http://127.0.0.1:{port}", a) for a in argv]
    if shutil.which("curl"):
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        assert proc.returncode == 0, proc.stderr
        body: dict[str, Any] = json.loads(proc.stdout)
        return body
    url = next(a for a in argv if a.startswith("http://"))
    data = argv[argv.index("-d") + 1]
    headers = {"content-type": "application/x-www-form-urlencoded"}
    resp = httpx.post(url, content=data, headers=headers, timeout=60)
    resp.raise_for_status()
    reply: dict[str, Any] = resp.json()
    return reply


@pytest.mark.slow
def test_serve_answers_the_readme_curl_commands(world: Path, tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        cmd = [*_shopnow(), "serve", *_paths(world), "--port", str(port)]
        proc = subprocess.Popen(cmd, stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 180
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        else:
            pytest.fail(f"shopnow serve did not become ready:\n{log.read_text()[-3000:]}")
        curls = _readme_curls()
        assert len(curls) == 2
        for argv in curls:
            reply = _curl(argv, port)
            assert reply["items"] and reply["request_id"], reply
            assert reply["model_versions"]["ranker"].startswith("ranker-"), reply
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.slow
def test_search_probe_bench(world: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bench import search_probe_bench

    capsys.readouterr()
    assert search_probe_bench.main(["--var", str(world), "--quick", "--leaves", "3"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {"unknown_word", "new_item"} <= set(report), report


@pytest.mark.slow
def test_compare_quick(world: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``shopnow compare --quick`` on the world (its models are reused, not retrained)."""
    out_dir = world.parent / "compare-report"
    args = ["compare", "--quick", "--requests", "100", "--out", str(out_dir), "--quiet"]
    out = _run([*args, *_paths(world)], capsys)
    assert "recommendation:" in out
    assert any(out_dir.iterdir())


@needs_opensearch
def test_index_on_opensearch(
    world: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from search_plugins.opensearch.client import drop_alias

    alias = f"readme-{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("SHOPNOW_OPENSEARCH_ALIAS", alias)
    args = ["index", *_paths(world), "--quiet", "--backend", "opensearch"]
    try:
        built = json.loads(_run([*args, "--opensearch-url", OPENSEARCH_URL], capsys))
        assert built["backend"] == "opensearch", built
        assert built["indexed"] == built["items"] > ITEMS, built  # the ingested items too
    finally:
        asyncio.run(drop_alias(OPENSEARCH_URL, alias))


@pytest.mark.slow
def test_demo_without_serving(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``make demo`` is setup (tests/test_setup.py), then ``shopnow demo``: every step but
    serving (``--no-serve``) on the tiny world; serving is the curl test above."""
    var = tmp_path / "var"
    sizes = ["--items", str(ITEMS), "--events", str(EVENTS)]
    out = _run(["demo", "--no-serve", *sizes, *_paths(var)], capsys)
    assert "training the ranker" in out
    assert (var / "models" / "ranker" / "CURRENT").is_file()
    assert (var / "models" / "towers" / "CURRENT").is_file()


@pytest.mark.integration
def test_opensearch_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """status, up and down through ``shopnow opensearch``. Starting and stopping a node of its
    own is what ``bench ingest`` does below (and scripts/test.sh for CI's node)."""
    capsys.readouterr()
    assert main(["opensearch", "down", "--home", str(tmp_path)]) == 0
    assert json.loads(capsys.readouterr().out)["stopped"] is False
    home = os.environ.get("SHOPNOW_TEST_OPENSEARCH_HOME")
    if not (OPENSEARCH_URL and home):
        missing("the CI node's home is known when scripts/test.sh started it")
    assert main(["opensearch", "status", "--home", home]) == 0
    assert json.loads(capsys.readouterr().out)["url"] == OPENSEARCH_URL
    # up on a running home returns the running node
    assert main(["opensearch", "up", "--home", home, "--port", "0"]) == 0
    assert json.loads(capsys.readouterr().out)["url"] == OPENSEARCH_URL


# -- shopnow-bench -----------------------------------------------------------------------------


def _bench_marks(which: str) -> list[pytest.MarkDecorator]:
    if which in ("ingest", "rollout", "backends"):
        return [needs_opensearch]  # the CI machine has a JDK: it runs the test node
    if which == "online" and not os.environ.get("CI"):
        return [pytest.mark.skipif(not shutil.which("redis-server"), reason="no redis-server")]
    if which == "gowalla":
        return [pytest.mark.data]
    return []


@pytest.mark.slow
@pytest.mark.parametrize(
    "which",
    [pytest.param(b, marks=_bench_marks(b)) for b in BENCHES if b not in NOT_SMOKED],
)
def test_bench_smoke(
    which: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``shopnow-bench WHICH --quick`` at its smallest sizes (``--smoke``)."""
    argv = [which, "--quick", "--smoke"]
    if which in ("gowalla", "beauty"):
        dataset({"gowalla": "gowalla", "beauty": "amazon-beauty"}[which])
        monkeypatch.setenv("SHOPNOW_SHARED_DATA", str(SHARED_DATA))
    if which == "rollout":
        argv += ["--opensearch-url", OPENSEARCH_URL]  # the test node: one node start is enough
    if which == "e2e":
        # its work directory is kept (the report names it): here, under tmp_path
        monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    # ingest starts (and stops) a node of its own: in a home its non-root user can enter
    report = json.loads(_run(argv, capsys, bench_main))
    assert report[which], report


def test_bench_all_runs_every_benchmark(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``bench all`` calls each benchmark (recorded here, each runs above); those whose data is
    missing are skipped with the reason instead of failing the whole run."""
    from bench import (
        backends_bench,
        e2e_bench,
        gowalla_bench,
        graph_bench,
        import_bench,
        index_bench,
        ingest_bench,
        online_bench,
        ranker_bench,
        rollout_bench,
        rules_bench,
        synth_bench,
        two_tower_bench,
    )
    from bench.run import run_bench
    from engine.core.settings import Settings

    called: list[str] = []

    def record(name: str) -> Any:
        def fake(*args: Any, **kwargs: Any) -> dict[str, Any]:
            assert kwargs.get("quick") is True, (name, kwargs)
            called.append(name)
            return {"ran": name}

        return fake

    for module, fn in [
        (index_bench, "run"),
        (ranker_bench, "run"),
        (synth_bench, "run"),
        (backends_bench, "run_named"),
        (two_tower_bench, "run"),
        (graph_bench, "run"),
        (gowalla_bench, "run_named"),
        (e2e_bench, "run_named"),
        (online_bench, "run"),
        (ingest_bench, "run_named"),
        (rollout_bench, "run_named"),
        (rules_bench, "run"),
        (import_bench, "run"),
    ]:
        monkeypatch.setattr(module, fn, record(module.__name__.split(".")[-1][: -len("_bench")]))
    report = run_bench("all", quick=True, settings=Settings(shared_data=tmp_path))
    assert set(BENCHES) - {"all"} <= set(report), report
    for name in ("beauty", "gowalla"):
        assert (
            "not found" in report[name]["skipped"]
            and "SHOPNOW_SHARED_DATA" in (report[name]["skipped"])
        )
    assert sorted(called) == sorted(set(report) - {"beauty", "gowalla"})


def test_bench_without_its_data_names_what_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOPNOW_SHARED_DATA", str(tmp_path))
    for which in ("beauty", "gowalla"):
        assert bench_main([which, "--quick"]) == 2
        err = capsys.readouterr().err
        assert f"shopnow-bench: error: {tmp_path}" in err and "SHOPNOW_SHARED_DATA" in err, err
