"""Provision OpenSearch from Maven Central into a cache dir, once.

``mvn dependency:copy`` fetches the integ-test-zip distribution, the k-NN plugin zip and the
jars of the ``lang-painless`` and ``analysis-common`` modules (the integ-test-zip ships only
``transport-netty4``). The modules are assembled by hand (jars, descriptor, policy), then
k-NN is installed with ``bin/opensearch-plugin``. The result lands atomically in
``<cache>/dist/opensearch-<version>``; a marker file makes a second call a no-op.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from xml.sax.saxutils import escape

from devtools.opensearch_node.model import (
    KNN_VERSION,
    MAVEN_DEPENDENCY_PLUGIN,
    MODULES,
    OPENSEARCH_VERSION,
    Artifact,
    Module,
    NodeError,
    artifacts,
)

MARKER = ".shopnow-assembled.json"


def default_cache(version: str = OPENSEARCH_VERSION) -> Path:
    return Path.home() / ".cache" / "shopnow" / "opensearch" / version


def provision(cache: Path, java_home: Path, version: str = OPENSEARCH_VERSION) -> Path:
    """Return the assembled distribution dir, fetching and assembling it if missing."""
    dist = cache / "dist" / f"opensearch-{version}"
    if (dist / MARKER).is_file():
        return dist
    cache.mkdir(parents=True, exist_ok=True)
    with _locked(cache / ".lock"):
        if (dist / MARKER).is_file():  # another process finished while we waited
            return dist
        arts = artifacts(version, KNN_VERSION)
        downloads = fetch(cache, arts)
        staging = cache / "dist" / f".staging-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        try:
            built = assemble(downloads, arts, staging, java_home, version)
            shutil.rmtree(dist, ignore_errors=True)
            built.rename(dist)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return dist


def fetch(cache: Path, arts: tuple[Artifact, ...]) -> Path:
    """Copy every artifact out of Maven Central (through a cache-local repository)."""
    downloads = cache / "downloads"
    if all((downloads / a.folder / a.file_name).is_file() for a in arts):
        return downloads
    mvn = shutil.which("mvn")
    if mvn is None:
        raise NodeError("mvn not found on PATH: install Maven (apt-get install maven)")
    work = cache / "fetch"
    work.mkdir(parents=True, exist_ok=True)
    (work / "pom.xml").write_text(_pom(arts, downloads))
    cmd = [
        mvn,
        "-B",
        "-q",
        f"-Dmaven.repo.local={cache / 'm2'}",
        f"{MAVEN_DEPENDENCY_PLUGIN}:copy",
    ]
    proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True, check=False)
    missing = [a.file_name for a in arts if not (downloads / a.folder / a.file_name).is_file()]
    if proc.returncode != 0 or missing:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
        raise NodeError(f"mvn dependency:copy failed (missing {missing}):\n{tail}")
    return downloads


def _pom(arts: tuple[Artifact, ...], downloads: Path) -> str:
    items = "\n".join(
        "<artifactItem>"
        f"<groupId>{a.group}</groupId><artifactId>{a.artifact}</artifactId>"
        f"<version>{a.version}</version><type>{a.kind}</type>"
        f"<outputDirectory>{escape(str(downloads / a.folder))}</outputDirectory>"
        "</artifactItem>"
        for a in arts
    )
    return f"""<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.shopnow</groupId><artifactId>opensearch-fetch</artifactId>
  <version>1</version><packaging>pom</packaging>
  <build><plugins><plugin>
    <groupId>org.apache.maven.plugins</groupId><artifactId>maven-dependency-plugin</artifactId>
    <configuration><artifactItems>
{items}
    </artifactItems></configuration>
  </plugin></plugins></build>
</project>
"""


def assemble(
    downloads: Path, arts: tuple[Artifact, ...], staging: Path, java_home: Path, version: str
) -> Path:
    """Unpack the distribution into ``staging``, add the modules and k-NN; return its root."""
    core, knn = (next(a for a in arts if a.artifact == n) for n in ("opensearch", "opensearch-knn"))
    _unzip(downloads / core.folder / core.file_name, staging)
    root = staging / f"opensearch-{version}"
    if not (root / "bin" / "opensearch").is_file():
        raise NodeError(f"unexpected layout in {core.file_name}: no bin/opensearch")
    lib_jars = {p.name for p in (root / "lib").glob("*.jar")}
    for module in MODULES:
        jars = sorted((downloads / module.name).glob("*.jar"))
        _add_module(root / "modules" / module.name, module, jars, lib_jars, version)
    env = {**os.environ, "OPENSEARCH_JAVA_HOME": str(java_home)}
    env.pop("OPENSEARCH_PATH_CONF", None)
    zip_url = (downloads / knn.folder / knn.file_name).resolve().as_uri()
    cmd = [str(root / "bin" / "opensearch-plugin"), "install", "--batch", zip_url]
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise NodeError(f"opensearch-plugin install failed:\n{proc.stdout}{proc.stderr}")
    manifest = {
        "opensearch": version,
        "modules": sorted(p.name for p in (root / "modules").iterdir()),
        "plugins": sorted(p.name for p in (root / "plugins").iterdir()),
        "artifacts": [f"{a.group}:{a.artifact}:{a.version}:{a.kind}" for a in arts],
    }
    (root / MARKER).write_text(json.dumps(manifest, indent=2) + "\n")
    return root


def _add_module(
    target: Path, module: Module, jars: list[Path], lib_jars: set[str], version: str
) -> None:
    if not jars:
        raise NodeError(f"no jars downloaded for module {module.name}")
    target.mkdir(parents=True)
    for jar in jars:
        if jar.name not in lib_jars:  # a jar on both class paths is a "jar hell" error
            shutil.copy2(jar, target / jar.name)
    descriptor = {
        "description": module.description,
        "version": version,
        "name": module.name,
        "classname": module.classname,
        "java.version": "11",
        "opensearch.version": version,
        "extended.plugins": ",".join(module.extended_plugins),
        "has.native.controller": "false",
    }
    lines = [f"{k}={v}" for k, v in descriptor.items()]
    (target / "plugin-descriptor.properties").write_text("\n".join(lines) + "\n")
    if module.policy:
        (target / "plugin-security.policy").write_text(module.policy)


def _unzip(archive: Path, dest: Path) -> None:
    """Extract keeping Unix permission bits (``zipfile`` drops them: bin/ must stay executable)."""
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            path = Path(zf.extract(info, dest))
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                path.chmod(mode)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
