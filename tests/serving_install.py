"""Run Python code as a serving install would: in a fresh interpreter where the ``train``
extra's packages cannot be imported, whatever this environment holds."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from engine.app.cli import TRAIN_ONLY as TRAIN_ONLY

ROOT = Path(__file__).resolve().parents[1]
_REFUSE = """
import importlib.abc as _abc, sys as _sys

class _Refuse(_abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {refused!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

_sys.meta_path.insert(0, _Refuse())
"""


def run_serving(
    code: str,
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """``code`` (dedented) with ``args`` as ``sys.argv[1:]``, from the repository root, the
    train extra unimportable, ``env`` added to the environment."""
    script = _REFUSE.format(refused=sorted(TRAIN_ONLY)) + textwrap.dedent(code)
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
