"""Plain data shared by the provisioning and process halves: versions, paths, node info."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# k-NN is the constraint: Maven Central carries opensearch-knn 2.19.1.0 only (no 2.19.2+),
# and a plugin must match the core version exactly, so core is pinned to 2.19.1.
OPENSEARCH_VERSION = "2.19.1"
KNN_VERSION = "2.19.1.0"
ANTLR_VERSION = "4.13.1"  # lang-painless 2.19.1 POM
ASM_VERSION = "9.7"  # lang-painless 2.19.1 POM
MAVEN_DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"

NODE_USER = "shopnow-opensearch"  # dedicated account used when the caller is root
DEFAULT_HEAP = "512m"
STATE_FILE = "node.json"
PID_FILE = "opensearch.pid"


class NodeError(RuntimeError):
    """A provisioning or process failure with a message meant for a human."""


@dataclass(frozen=True, slots=True)
class Artifact:
    """One Maven coordinate and the folder (relative to the download dir) it is copied to."""

    group: str
    artifact: str
    version: str
    kind: str  # Maven type: "jar" or "zip"
    folder: str

    @property
    def file_name(self) -> str:
        return f"{self.artifact}-{self.version}.{self.kind}"


@dataclass(frozen=True, slots=True)
class Module:
    """A module assembled by hand from jars: its descriptor fields and security policy."""

    name: str
    description: str
    classname: str
    extended_plugins: tuple[str, ...]
    policy: str  # body of plugin-security.policy, "" for none


PAINLESS_POLICY = """grant {
  // generates classes for compiled scripts
  permission java.lang.RuntimePermission "createClassLoader";
  // finds the class loader of allow-listed classes
  permission java.lang.RuntimePermission "getClassLoader";
};
"""

MODULES: tuple[Module, ...] = (
    Module(
        name="lang-painless",
        description="An easy, safe and fast scripting language for OpenSearch",
        classname="org.opensearch.painless.PainlessPlugin",
        extended_plugins=(),
        policy=PAINLESS_POLICY,
    ),
    Module(
        name="analysis-common",
        description='Adds "built in" analyzers to OpenSearch.',
        classname="org.opensearch.analysis.common.CommonAnalysisPlugin",
        extended_plugins=("lang-painless",),
        policy="",
    ),
)


def artifacts(version: str = OPENSEARCH_VERSION, knn: str = KNN_VERSION) -> tuple[Artifact, ...]:
    """Everything fetched from Maven Central, grouped into download folders."""
    plug = "org.opensearch.plugin"
    painless = [
        Artifact(plug, "lang-painless", version, "jar", "lang-painless"),
        Artifact(plug, "opensearch-scripting-painless-spi", version, "jar", "lang-painless"),
        Artifact("org.antlr", "antlr4-runtime", ANTLR_VERSION, "jar", "lang-painless"),
    ] + [
        Artifact("org.ow2.asm", name, ASM_VERSION, "jar", "lang-painless")
        for name in ("asm", "asm-analysis", "asm-commons", "asm-tree", "asm-util")
    ]
    return (
        Artifact("org.opensearch.distribution.integ-test-zip", "opensearch", version, "zip", "zip"),
        Artifact(plug, "opensearch-knn", knn, "zip", "zip"),
        *painless,
        Artifact(plug, "analysis-common", version, "jar", "analysis-common"),
    )


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """What ``up`` and ``status`` report about a running node."""

    pid: int
    port: int
    version: str
    plugins: tuple[str, ...]  # installed plugins (GET /_nodes/plugins), e.g. opensearch-knn
    modules: tuple[str, ...]  # built-in and hand-assembled modules, e.g. lang-painless
    home: Path
    cluster_status: str  # green / yellow / red, or "unreachable" while HTTP is not up
    rss_mb: float  # resident memory of the JVM
    urls: tuple[str, ...] = ()  # a local cluster's members' HTTP addresses (empty: one node)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"
