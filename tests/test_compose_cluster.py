"""compose.cluster.yaml layered over compose.yaml: the fleet shape on Docker, checked for
structure (no Docker engine where the tests run): three OpenSearch members that find each
other, a Redis replica under three sentinels, and the app services pointed at all of them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from devtools.opensearch_node import OPENSEARCH_VERSION
from engine.core.redis_address import parse_sentinel
from engine.core.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
NODES = ("opensearch", "opensearch-2", "opensearch-3")
SENTINELS = ("sentinel-1", "sentinel-2", "sentinel-3")
APP = ("init", "api", "graph-trainer")


class _Loader(yaml.SafeLoader):
    """Compose's ``!override`` tag: the value replaces the base file's instead of merging."""


class _Override(dict[str, Any]):
    pass


_Loader.add_constructor(
    "!override", lambda loader, node: _Override(loader.construct_mapping(node, deep=True))
)


def _merge(base: Any, over: Any) -> Any:
    """How compose layers a second file: mappings merge key by key, ``!override`` and
    anything else replace."""
    if isinstance(over, _Override) or not (isinstance(base, dict) and isinstance(over, dict)):
        return dict(over) if isinstance(over, dict) else over
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(base[k], v) if k in base else v
    return out


@pytest.fixture(scope="module")
def services() -> dict[str, dict[str, Any]]:
    base = yaml.load((ROOT / "compose.yaml").read_text(), Loader=_Loader)
    over = yaml.load((ROOT / "compose.cluster.yaml").read_text(), Loader=_Loader)
    merged = _merge(base, over)
    used = {m.split(":")[0] for s in merged["services"].values() for m in s.get("volumes", [])}
    assert set(over["volumes"]) <= used, "a volume of the cluster file is declared, not used"
    svc: dict[str, dict[str, Any]] = merged["services"]
    return svc


def _env(service: dict[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in (service.get("environment") or {}).items()}


def test_three_opensearch_members_find_each_other(services: dict[str, dict[str, Any]]) -> None:
    volumes = set()
    for name in NODES:
        node = services[name]
        env = _env(node)
        assert node["image"] == f"opensearchproject/opensearch:{OPENSEARCH_VERSION}"
        assert "discovery.type" not in env, f"{name} would form a cluster of its own"
        assert env["node.name"] == name
        assert env["discovery.seed_hosts"].split(",") == list(NODES)
        assert env["cluster.initial_cluster_manager_nodes"].split(",") == list(NODES)
        assert env["cluster.name"] == "shopnow"
        assert "wait_for_nodes=3" in " ".join(node["healthcheck"]["test"])
        volumes |= {v.split(":")[0] for v in node["volumes"]}
    assert len(volumes) == 3, "each member needs its own data volume"


def test_redis_has_a_replica_and_three_sentinels(services: dict[str, dict[str, Any]]) -> None:
    replica = services["redis-replica"]["command"]
    assert replica[replica.index("--replicaof") + 1 :] == ["redis", "6379"]
    for name in SENTINELS:
        script = services[name]["command"][-1]
        monitor = re.search(r"sentinel monitor (\S+) (\S+) (\d+) (\d+)", script)
        assert monitor is not None, script
        service, host, port, quorum = monitor.groups()
        assert (service, host, port) == ("shopnow", "redis", "6379")
        assert int(quorum) == len(SENTINELS) // 2 + 1  # a majority agrees on a failover
        assert "resolve-hostnames yes" in script  # "redis" is a compose host name
        assert "--sentinel" in script


def test_the_app_services_use_every_member(services: dict[str, dict[str, Any]]) -> None:
    for name in APP:
        env = _env(services[name])
        settings = Settings(
            **{k.removeprefix("SHOPNOW_").lower(): v for k, v in env.items()
               if k.startswith("SHOPNOW_") and k != "SHOPNOW_ADMIN_KEY"}
        )  # fmt: skip
        assert settings.opensearch_url.split(",") == [f"http://{n}:9200" for n in NODES]
        assert settings.opensearch_replicas == "1"
        address = parse_sentinel(settings.redis_url)
        assert address.sentinels == tuple((s, 26379) for s in SENTINELS)
        assert address.service == "shopnow"


@pytest.mark.parametrize("name", ["init", "api"])
def test_the_app_waits_for_every_member(services: dict[str, dict[str, Any]], name: str) -> None:
    deps = services[name]["depends_on"]
    for dep in (*NODES, "redis", *SENTINELS):
        assert deps[dep]["condition"] == "service_healthy", (name, dep)


@pytest.mark.parametrize("name", ["opensearch-2", "opensearch-3", "redis-replica", *SENTINELS])
def test_new_services_have_a_healthcheck_and_restart(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    assert services[name]["healthcheck"]["test"]
    assert services[name]["restart"] == "unless-stopped"
    assert "ports" not in services[name]  # only the first member is published (compose.yaml)
