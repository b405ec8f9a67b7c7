"""compose.yaml, the Dockerfile and docker/init.sh, checked for structure.

There is no Docker engine where the tests run, so nothing here starts a container. Instead
the files are parsed and held against the project itself: the OpenSearch version its local
node provisions, the Settings fields, the console script and the CLI's real flags.
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from devtools.opensearch_node import OPENSEARCH_VERSION
from engine.app.cli import parser
from engine.core.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
INIT_SCRIPT = ROOT / "docker" / "init.sh"

LONG_RUNNING = ("opensearch", "redis", "api")
APP_SERVICES = ("init", "api", "graph-trainer")  # built from ./Dockerfile
LOOPBACK = "127.0.0.1"


# ---------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text("utf-8"))
    assert isinstance(data, dict), "compose.yaml is not a mapping"
    return data


def _services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    services = compose.get("services")
    assert isinstance(services, dict), "compose.yaml has no services mapping"
    return services


def _env(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as a dict, whichever of the two compose syntaxes it uses."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.split("=", 1) for item in env)
        return {p[0]: p[1] if len(p) == 2 else "" for p in pairs}
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def _ports(service: dict[str, Any]) -> list[tuple[str | None, str, str]]:
    """(host ip, host port, container port) for each published port."""
    out: list[tuple[str | None, str, str]] = []
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            out.append(
                (entry.get("host_ip"), str(entry.get("published", "")), str(entry["target"]))
            )
            continue
        parts = str(entry).split("/")[0].split(":")
        if len(parts) == 3:
            out.append((parts[0], parts[1], parts[2]))
        elif len(parts) == 2:
            out.append((None, parts[0], parts[1]))
        else:
            out.append((None, "", parts[0]))
    return out


def _mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(source, target) of each volume entry, short or long syntax."""
    out = []
    for entry in service.get("volumes") or []:
        if isinstance(entry, dict):
            out.append((str(entry.get("source", "")), str(entry["target"])))
        else:
            source, _, rest = str(entry).partition(":")
            out.append((source, rest.split(":")[0]))
    return out


def _is_named_volume(source: str) -> bool:
    return bool(source) and not source.startswith(("/", ".", "~", "$"))


def _healthcheck_command(service: dict[str, Any]) -> list[str]:
    check = service.get("healthcheck")
    assert isinstance(check, dict), "no healthcheck"
    assert not check.get("disable"), "healthcheck disabled"
    test = check.get("test")
    if isinstance(test, str):  # a bare string is run by the container's shell
        test = ["CMD-SHELL", test]
    assert isinstance(test, list) and len(test) >= 2, f"healthcheck test is not a command: {test}"
    assert test[0] in ("CMD", "CMD-SHELL"), f"healthcheck test starts with {test[0]!r}"
    assert all(isinstance(t, str) and t.strip() for t in test[1:]), "empty healthcheck command"
    return [str(t) for t in test]


def _dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    buf = ""
    for raw in DOCKERFILE.read_text("utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        instruction, _, args = buf.partition(" ")
        out.append((instruction.upper(), args.strip()))
        buf = ""
    assert not buf, "Dockerfile ends inside a continued line"
    return out


def _dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for instruction, args in _dockerfile():
        if instruction != "ENV":
            continue
        tokens = shlex.split(args)
        if tokens and "=" not in tokens[0]:  # legacy `ENV KEY value`
            env[tokens[0]] = " ".join(tokens[1:])
            continue
        for token in tokens:
            key, _, value = token.partition("=")
            env[key] = value
    return env


def _cmd() -> list[str]:
    cmds = [args for instruction, args in _dockerfile() if instruction == "CMD"]
    assert cmds, "the Dockerfile has no CMD"
    cmd = json.loads(cmds[-1])  # exec form: a JSON array, so signals reach the server
    assert isinstance(cmd, list) and all(isinstance(c, str) for c in cmd)
    return cmd


def _console_scripts() -> dict[str, str]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    scripts = pyproject["project"]["scripts"]
    assert isinstance(scripts, dict)
    return scripts


# ---------------------------------------------------------------- services and images


def test_services_exist(compose: dict[str, Any]) -> None:
    missing = {"opensearch", "redis", "api", "init"} - set(_services(compose))
    assert not missing, f"compose.yaml lacks services {sorted(missing)}"


def test_opensearch_image_is_the_version_the_local_node_provisions(
    compose: dict[str, Any],
) -> None:
    image = _services(compose)["opensearch"].get("image")
    assert image == f"opensearchproject/opensearch:{OPENSEARCH_VERSION}"


def test_opensearch_is_a_local_single_node(compose: dict[str, Any]) -> None:
    svc = _services(compose)["opensearch"]
    env = _env(svc)
    assert env.get("discovery.type") == "single-node"
    assert env.get("DISABLE_SECURITY_PLUGIN") == "true"
    opts = env.get("OPENSEARCH_JAVA_OPTS", "")
    xms = re.findall(r"-Xms(\S+)", opts)
    xmx = re.findall(r"-Xmx(\S+)", opts)
    assert xms and xmx and xms == xmx, f"set -Xms and -Xmx to one heap size: {opts!r}"
    assert env.get("bootstrap.memory_lock") == "true"
    memlock = (svc.get("ulimits") or {}).get("memlock")
    assert memlock == {"soft": -1, "hard": -1}, f"memlock ulimits: {memlock}"
    targets = {t for s, t in _mounts(svc) if _is_named_volume(s)}
    assert "/usr/share/opensearch/data" in targets, "OpenSearch data is not on a named volume"


def test_redis_is_redis_7_with_an_append_only_file(compose: dict[str, Any]) -> None:
    svc = _services(compose)["redis"]
    assert svc.get("image") == "redis:7"
    command = svc.get("command")
    argv = shlex.split(command) if isinstance(command, str) else list(command or [])
    assert argv[:1] == ["redis-server"], f"redis command: {argv}"
    assert "--appendonly" in argv and argv[argv.index("--appendonly") + 1] == "yes"
    targets = {t for s, t in _mounts(svc) if _is_named_volume(s)}
    assert "/data" in targets, "Redis data is not on a named volume"


def test_app_services_are_built_from_the_dockerfile(compose: dict[str, Any]) -> None:
    services = _services(compose)
    builds = []
    for name in APP_SERVICES:
        build = services[name].get("build")
        if isinstance(build, str):
            build = {"context": build}
        assert isinstance(build, dict), f"{name} is not built from the repository"
        assert (ROOT / build.get("context", ".") / build.get("dockerfile", "Dockerfile")) == (
            DOCKERFILE
        ), f"{name} builds from another Dockerfile"
        builds.append((name, services[name].get("image"), build.get("target")))
    targets = {name: target for name, _, target in builds}
    # the API on the serving image (no torch), the jobs that train on the train image
    assert targets == {"api": "serve", "init": "train", "graph-trainer": "train"}, targets
    images = {target: {i for _, i, t in builds if t == target} for target in ("serve", "train")}
    assert all(len(i) == 1 for i in images.values()), f"one image per target: {images}"
    assert images["serve"] != images["train"], "two targets tagged as one image"
    stages = [a.split() for i, a in _dockerfile() if i == "FROM"]
    assert [s[-1] for s in stages] == ["serve", "train"], stages
    assert stages[1][0] == "serve", "the train image is the serving one plus the train extra"


# ---------------------------------------------------------------- health, ports, volumes


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_long_running_services_have_a_healthcheck(compose: dict[str, Any], name: str) -> None:
    _healthcheck_command(_services(compose)[name])


def test_opensearch_healthcheck_asks_cluster_health_with_curl(compose: dict[str, Any]) -> None:
    command = " ".join(_healthcheck_command(_services(compose)["opensearch"])[1:])
    assert "curl" in command and "-f" in command, command  # -f: HTTP errors fail the check
    assert "localhost:9200/_cluster/health" in command or "127.0.0.1:9200/_cluster/health" in (
        command
    ), command


def test_redis_healthcheck_pings(compose: dict[str, Any]) -> None:
    command = " ".join(_healthcheck_command(_services(compose)["redis"])[1:])
    assert "redis-cli ping" in command, command


def test_api_healthcheck_gets_healthz_with_python(compose: dict[str, Any]) -> None:
    test = _healthcheck_command(_services(compose)["api"])
    # python:3.11-slim has no curl: the check must be the interpreter itself.
    assert test[0] == "CMD" and test[1] == "python" and test[2] == "-c", test
    code = test[3]
    compile(code, "healthcheck", "exec")  # a syntax error would leave the api unhealthy
    assert "urllib.request" in code and "urlopen" in code, code
    urls = re.findall(r"https?://[^'\"\s]+", code)
    assert len(urls) == 1, urls
    url = urlsplit(urls[0])
    assert url.path == "/healthz"
    assert url.port == parser().parse_args(_cmd()[1:]).port, "checks a port the api is not on"


def test_init_is_one_shot(compose: dict[str, Any]) -> None:
    svc = _services(compose)["init"]
    assert not svc.get("ports"), "init publishes ports"
    assert svc.get("restart", "no") == "no", "a restarting init would rebuild forever"


def test_published_ports_are_bound_to_loopback(compose: dict[str, Any]) -> None:
    published = {name: _ports(svc) for name, svc in _services(compose).items() if svc.get("ports")}
    assert {"opensearch", "api"} <= set(published), f"published: {sorted(published)}"
    for name, ports in published.items():
        for host_ip, _host, _target in ports:
            assert host_ip == LOOPBACK, f"{name} publishes a port on {host_ip or 'all addresses'}"
    assert ("127.0.0.1", "9200", "9200") in published["opensearch"]
    serve_port = str(parser().parse_args(_cmd()[1:]).port)
    assert any(target == serve_port for _, _, target in published["api"]), published["api"]


def test_top_level_volumes_are_declared_and_used(compose: dict[str, Any]) -> None:
    declared = set(compose.get("volumes") or {})
    used = {
        source
        for svc in _services(compose).values()
        for source, _ in _mounts(svc)
        if _is_named_volume(source)
    }
    assert declared, "no named volumes declared"
    assert declared == used, (
        f"declared but unused: {declared - used}; undeclared: {used - declared}"
    )


def test_app_services_share_the_var_volume(compose: dict[str, Any]) -> None:
    services = _services(compose)
    mounts = [
        {(s, t) for s, t in _mounts(services[name]) if _is_named_volume(s)} for name in APP_SERVICES
    ]
    shared = set.intersection(*mounts)
    assert any(t == "/app/var" for _, t in shared), f"init and api share no var volume: {mounts}"


# ---------------------------------------------------------------- dependencies and settings


def test_api_waits_for_healthy_backends_and_a_finished_init(compose: dict[str, Any]) -> None:
    depends = _services(compose)["api"].get("depends_on")
    assert isinstance(depends, dict), "api depends_on must use the long syntax with conditions"
    for backend in ("opensearch", "redis"):
        assert (depends.get(backend) or {}).get("condition") == "service_healthy", backend
    assert (depends.get("init") or {}).get("condition") == "service_completed_successfully"


def test_init_waits_for_healthy_backends(compose: dict[str, Any]) -> None:
    depends = _services(compose)["init"].get("depends_on")
    assert isinstance(depends, dict), "init depends_on must use the long syntax with conditions"
    for backend in ("opensearch", "redis"):
        assert (depends.get(backend) or {}).get("condition") == "service_healthy", backend


READ_OUTSIDE_SETTINGS = {"SHOPNOW_TEXT_ENCODER_GRAPH": "towers/text.py"}


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_env_names_are_settings_fields(compose: dict[str, Any], name: str) -> None:
    env = {**_dockerfile_env(), **_env(_services(compose)[name])}
    fields = {f"SHOPNOW_{f.upper()}": f for f in Settings.model_fields}
    shopnow = {k: v for k, v in env.items() if k.startswith("SHOPNOW_")}
    # read where it is used, below the settings layer (and checked to be read there)
    for name_, module in READ_OUTSIDE_SETTINGS.items():
        assert f'"{name_}"' in (ROOT / module).read_text("utf-8"), (name_, module)
        shopnow.pop(name_, None)
    unknown = sorted(set(shopnow) - set(fields))
    assert not unknown, f"{name}: not Settings fields (silently ignored): {unknown}"
    # The values must validate too (e.g. the backend literals).
    settings = Settings.model_validate({fields[k]: v for k, v in shopnow.items()})
    assert settings.search_backend == "opensearch"
    assert settings.online_store == "redis"
    services = _services(compose)
    os_url, redis_url = urlsplit(settings.opensearch_url), urlsplit(settings.redis_url)
    assert (os_url.hostname, os_url.port) == ("opensearch", 9200), settings.opensearch_url
    assert redis_url.scheme == "redis" and (redis_url.hostname, redis_url.port) == ("redis", 6379)
    assert {os_url.hostname, redis_url.hostname} <= set(services)
    # Data, index and models must land on the shared volume, not in the container's layer.
    volume_targets = [t for s, t in _mounts(services[name]) if _is_named_volume(s)]
    for path in (settings.data_dir, settings.index_dir, settings.model_dir):
        assert any(path.is_relative_to(t) for t in volume_targets), f"{path} is not on a volume"


# ---------------------------------------------------------------- Dockerfile and init script


def _stage(name: str) -> list[tuple[str, str]]:
    """The instructions of the Dockerfile's stage ``name`` (``FROM ... AS name`` excluded)."""
    out: list[tuple[str, str]] = []
    current = None
    for instruction, args in _dockerfile():
        if instruction == "FROM":
            current = args.split()[-1]
        elif current == name:
            out.append((instruction, args))
    return out


def test_dockerfile_installs_from_the_locks() -> None:
    assert _dockerfile()[0] == ("FROM", "python:3.11-slim AS serve"), _dockerfile()[0]
    for stage, lock in (("serve", "requirements-serve.lock"), ("train", "requirements.lock")):
        instructions = _stage(stage)
        copied = [shlex.split(a)[:-1] for i, a in instructions if i == "COPY"]
        assert any(lock in sources for sources in copied), f"{stage}: {lock} is not copied"
        runs = [a for i, a in instructions if i == "RUN"]
        assert any(f"pip install -r {lock}" in r for r in runs), f"{stage}: {lock} not installed"
        assert (ROOT / lock).is_file()
    runs = [a for i, a in _stage("serve") if i == "RUN"]
    lock_step = [n for n, r in enumerate(runs) if "pip install -r requirements-serve.lock" in r]
    project_step = [
        n for n, r in enumerate(runs) if re.search(r"pip install --no-deps (-e )?\.", r)
    ]
    assert lock_step and project_step, "install the lock, then the project with --no-deps"
    assert lock_step[0] < project_step[0], "the project is installed before its pinned deps"
    serve_lock = (ROOT / "requirements-serve.lock").read_text("utf-8")
    assert not re.search(r"^(torch|sentence-transformers)==", serve_lock, re.M), "torch to serve"


def test_dockerfile_cmd_serves_with_the_console_script() -> None:
    cmd = _cmd()
    entrypoints = [a for i, a in _dockerfile() if i == "ENTRYPOINT"]
    assert not entrypoints, "an ENTRYPOINT would prefix the CMD and init's command"
    scripts = _console_scripts()
    assert cmd[0] in scripts, f"{cmd[0]!r} is not a console script of pyproject.toml"
    assert scripts[cmd[0]] == "engine.app.cli:main"
    args = parser().parse_args(cmd[1:])  # argparse exits (SystemExit) on an unknown flag
    assert args.command == "serve"
    assert args.host == "0.0.0.0", "bound to loopback inside the container: unreachable"


def test_init_runs_the_offline_steps_with_real_flags(compose: dict[str, Any]) -> None:
    init = _services(compose)["init"]
    entrypoint = init.get("entrypoint")
    argv = shlex.split(entrypoint) if isinstance(entrypoint, str) else list(entrypoint or [])
    assert argv == ["shopnow-init"], argv
    runs = " ".join(a for i, a in _dockerfile() if i == "RUN")
    assert re.search(r"docker/init\.sh\s+/usr/local/bin/shopnow-init", runs), (
        "the image does not install docker/init.sh as shopnow-init"
    )
    assert INIT_SCRIPT.read_text("utf-8").startswith("#!/bin/sh\n")
    commands = [
        shlex.split(line.strip())
        for line in INIT_SCRIPT.read_text("utf-8").splitlines()
        if line.strip().startswith("shopnow ")
    ]
    script = _console_scripts()
    steps = []
    for command in commands:
        assert command[0] in script
        # Shell variables stand for positive integers or paths: "1" is valid as both.
        args = parser().parse_args(["1" if c.startswith("$") else c for c in command[1:]])
        steps.append(args.command)
    assert steps == ["synth", "index", "train"], steps


def test_init_env_knobs_are_read_by_the_script(compose: dict[str, Any]) -> None:
    knobs = {k for k in _env(_services(compose)["init"]) if k.startswith("INIT_")}
    assert knobs, "init exposes no INIT_* sizes"
    script = INIT_SCRIPT.read_text("utf-8")
    unread = sorted(k for k in knobs if "${" + k not in script)
    assert not unread, f"set for init but never read by docker/init.sh: {unread}"


def test_dockerignore_keeps_local_state_out_and_sources_in() -> None:
    patterns = {
        line.strip()
        for line in DOCKERIGNORE.read_text("utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", "var"} <= patterns, patterns
    needed = ("requirements.lock", "pyproject.toml", "README.md", "docker", "engine")
    assert not patterns & set(needed), f"the build needs {sorted(patterns & set(needed))}"
