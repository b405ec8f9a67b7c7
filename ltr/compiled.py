"""Compiled tree ensembles for serving: treelite + tl2cgen turn the LightGBM model into a
native shared library (gcc), 2-3x faster than ``Booster.predict`` on 3,000 rows here
(``python -m bench.ranker_bench``), with the same scores up to float32 rounding. The library
is cached beside the model; if it cannot be built (no compiler) serving falls back to
LightGBM's own predictor.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt

log = logging.getLogger("shopnow.ltr")


class CompiledModel:
    def __init__(self, lib: Path) -> None:
        import tl2cgen

        self._tl2cgen = tl2cgen
        self._predictor = tl2cgen.Predictor(str(lib), nthread=1)
        self.lib = lib

    def predict(self, x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        dm = self._tl2cgen.DMatrix(np.ascontiguousarray(x, dtype=np.float32))
        return np.asarray(self._predictor.predict(dm), dtype=np.float32).reshape(len(x))


@contextlib.contextmanager
def _native_stdout_to_stderr() -> Iterator[None]:
    """Point stdout at stderr for the duration: file descriptor 1 (native code) and
    ``sys.stdout`` (tl2cgen's log callback prints from Python)."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def compile_model(model_file: Path) -> CompiledModel | None:
    """Build (or reuse) ``model-<hash>.so`` beside ``model_file``; None if that fails."""
    digest = hashlib.sha256(model_file.read_bytes()).hexdigest()[:16]
    lib = model_file.with_name(f"model-{digest}.so")
    try:
        if not lib.is_file():
            import tl2cgen
            import treelite

            model = treelite.frontend.load_lightgbm_model(str(model_file))
            tmp = lib.with_suffix(".so.tmp")
            with _native_stdout_to_stderr():  # tl2cgen's C++ logs on fd 1: keep JSON clean
                tl2cgen.export_lib(
                    model,
                    toolchain="gcc",
                    libpath=str(tmp),
                    params={"parallel_comp": 8},
                    nthread=2,
                    verbose=False,
                )
            tmp.replace(lib)
        return CompiledModel(lib)
    except Exception as exc:  # no compiler, unsupported model: serve with LightGBM instead
        log.warning("could not compile %s (%s); using LightGBM's predictor", model_file, exc)
        return None
