"""scripts/setup.sh: every clone shares the cached dependencies and runs its own code.

Two throwaway clones of this repository (the working tree's setup script, lock file and
pyproject copied in) are set up against the same cached environment; the first starts with the
``.venv`` symlink older setups made. Seconds when the cache is built, as it is after
``make test``'s own setup; skipped when it is not (building it takes minutes).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import missing

pytestmark = pytest.mark.slow  # clones the repository and runs scripts/setup.sh

REPO = Path(__file__).resolve().parents[1]
MARKER = "clone-b-marker-3f9c"  # put into clone B's CLI description
ENV = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}


def _deps() -> Path:
    """The cached dependency environment setup.sh uses for this lock file and pyproject."""
    root = Path(os.environ.get("SHOPNOW_CACHE", Path.home() / ".cache" / "shopnow"))
    key = hashlib.sha256((REPO / "requirements.lock").read_bytes())
    key.update((REPO / "pyproject.toml").read_bytes())
    return root / f"venv-{key.hexdigest()[:16]}"


def _run(argv: list[str | Path], cwd: Path, timeout: float = 120) -> str:
    proc = subprocess.run(
        [str(a) for a in argv],
        cwd=cwd,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, (argv, proc.stdout[-2000:], proc.stderr[-2000:])
    return proc.stdout


def _engine_of(clone: Path, cwd: Path) -> Path:
    """Where the clone's Python imports ``engine`` from (run outside the clone)."""
    code = "import engine; print(engine.__file__)"
    return Path(_run([clone / ".venv" / "bin" / "python", "-c", code], cwd).strip())


def _clone(dest: Path) -> Path:
    _run(["git", "clone", "-q", REPO, dest], cwd=REPO)
    for name in ("scripts/setup.sh", "requirements.lock", "pyproject.toml"):
        shutil.copy2(REPO / name, dest / name)  # the files under test, as in the working tree
    return dest


@pytest.fixture(scope="module")
def clones(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path, Path]]:
    deps = _deps()
    if not (deps / ".complete").is_file():
        missing(f"the cached environment {deps} is not built: run scripts/setup.sh first")
    if not (REPO / ".git").exists() or shutil.which("git") is None:
        missing("needs a git checkout to clone")
    base = tmp_path_factory.mktemp("clones")
    a, b = _clone(base / "a"), _clone(base / "b")
    (a / ".venv").symlink_to(deps)  # what older setups left: the clone pointing at the cache
    cli = b / "engine" / "app" / "cli" / "__init__.py"
    text = cli.read_text()
    assert text.startswith('"""`shopnow` command line'), "the CLI's description moved"
    cli.write_text(text.replace('"""`shopnow` command line', f'"""{MARKER}', 1))
    for clone in (a, b):
        _run(["bash", "scripts/setup.sh"], cwd=clone, timeout=600)
    yield a, b, deps


def test_each_clone_runs_its_own_code(clones: tuple[Path, Path, Path], tmp_path: Path) -> None:
    a, b, _ = clones
    for clone in (a, b):
        venv = clone / ".venv"
        assert venv.is_dir() and not venv.is_symlink(), venv
        assert _engine_of(clone, tmp_path) == clone / "engine" / "__init__.py"
        help_text = _run([venv / "bin" / "shopnow", "--help"], tmp_path)
        assert (MARKER in help_text) == (clone == b), help_text


def test_the_cached_environment_holds_no_project(clones: tuple[Path, Path, Path]) -> None:
    _, _, deps = clones
    python = deps / "bin" / "python"
    found = _run([python, "-c", "import importlib.util as u; print(u.find_spec('engine'))"], deps)
    assert found.strip() == "None"
    site = _run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], deps)
    assert not list(Path(site.strip()).glob("shopnow_discovery*")), site
    assert not (deps / "bin" / "shopnow").exists()


def test_tools_run_through_the_clone_venv(clones: tuple[Path, Path, Path], tmp_path: Path) -> None:
    """What the Makefile and scripts call: ruff, mypy and pytest as modules, uv, the scripts."""
    a, _, _ = clones
    bin_dir = a / ".venv" / "bin"
    for module in ("ruff", "mypy", "pytest"):
        assert _run([bin_dir / "python", "-m", module, "--version"], tmp_path).strip()
    assert _run([bin_dir / "uv", "--version"], tmp_path).startswith("uv ")
    # a console script of a dependency runs with the clone's Python, so it sees the clone's code
    assert (bin_dir / "pytest").read_text().startswith(f"#!{bin_dir / 'python'}\n")


def test_a_deleted_clone_leaves_the_others_working(
    clones: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    """What a CI run from a fresh clone used to do to the developer's environment."""
    a, b, _ = clones
    before = (a / ".venv" / "pyvenv.cfg").stat().st_ino
    _run(["bash", "scripts/setup.sh"], cwd=a, timeout=600)  # again: nothing to rebuild
    assert (a / ".venv" / "pyvenv.cfg").stat().st_ino == before
    shutil.rmtree(b)
    assert _engine_of(a, tmp_path) == a / "engine" / "__init__.py"
