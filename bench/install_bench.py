"""The size of a serving install against a training one: ``python -m bench.install_bench``.

Builds a fresh virtual environment from each lock (``requirements-serve.lock``: what
``pip install shopnow-discovery`` pulls; ``requirements.lock``: with the ``train`` and ``dev``
extras, what the test command uses) with uv, installs the project into it without touching the
pins, and prints the environment's size on disk, its largest packages, whether torch is in it,
and whether the API and the exported-model runtimes import. ``--quick`` measures the serving
lock only. Packages come from uv's cache when they are there (the first run downloads them).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCKS = {"serve": "requirements-serve.lock", "train": "requirements.lock"}
PROBE = """
import importlib.util, json
import engine.app.cli, engine.serving.assembly, towers.artifact, towers.text_runtime
print(json.dumps({m: importlib.util.find_spec(m) is not None
                  for m in ("torch", "torch_geometric", "sentence_transformers", "openvino")}))
"""


def _uv() -> str:
    found = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    if not Path(found).exists():
        sys.exit("uv is needed (scripts/setup.sh installs it in the shared environment)")
    return found


def _size_mb(path: Path) -> float:
    """Bytes on disk under ``path``, each hard-linked file counted once (``du``)."""
    out = subprocess.run(["du", "-sk", str(path)], capture_output=True, text=True, check=True)
    return round(int(out.stdout.split()[0]) / 1024, 1)


def _largest(site: Path, n: int = 6) -> dict[str, float]:
    sizes = {p.name: _size_mb(p) for p in site.iterdir() if p.is_dir() and "." not in p.name}
    return dict(sorted(sizes.items(), key=lambda kv: -kv[1])[:n])


def measure(name: str, lock: Path, workdir: Path) -> dict[str, object]:
    venv = workdir / f"venv-{name}"
    shutil.rmtree(venv, ignore_errors=True)
    uv = _uv()
    t0 = time.monotonic()
    py = sys.executable
    subprocess.run([uv, "venv", "-q", "--python", py, str(venv)], check=True)
    target = ["--python", str(venv / "bin" / "python")]
    subprocess.run([uv, "pip", "install", "-q", *target, "-r", str(lock)], check=True)
    subprocess.run([uv, "pip", "install", "-q", *target, "--no-deps", str(ROOT)], check=True)
    seconds = round(time.monotonic() - t0, 1)
    probe = subprocess.run(
        [str(venv / "bin" / "python"), "-c", PROBE],
        capture_output=True,
        text=True,
        cwd=workdir,  # the installed project, not this checkout
        check=False,
    )
    site = next((venv / "lib").glob("python3*/site-packages"))
    return {
        "lock": lock.name,
        "packages": sum(1 for line in lock.read_text().splitlines() if "==" in line),
        "venv_mb": _size_mb(venv),
        "largest_mb": _largest(site),
        "install_s": seconds,
        "imports": json.loads(probe.stdout) if probe.returncode == 0 else probe.stderr[-800:],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, default=Path("/var/tmp/shopnow-install-bench"))
    ap.add_argument("--quick", action="store_true", help="the serving lock only")
    ap.add_argument("--keep", action="store_true", help="keep the environments")
    args = ap.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    names = ["serve"] if args.quick else ["serve", "train"]
    report: dict[str, object] = {}
    for name in names:
        print(f"install_bench: building the {name} environment", file=sys.stderr)
        report[name] = measure(name, ROOT / LOCKS[name], args.workdir)
        if not args.keep:
            shutil.rmtree(args.workdir / f"venv-{name}", ignore_errors=True)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
