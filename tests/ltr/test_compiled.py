from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest

from ltr.compiled import compile_model


def test_compiled_model_scores_like_lightgbm_including_missing_values(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(0)
    x = rng.random((2000, 6))
    y = (x[:, 0] + x[:, 1] > 1).astype(int) + (x[:, 2] > 0.8)
    ds = lgb.Dataset(x, y, group=np.full(100, 20))
    booster = lgb.train({"objective": "lambdarank", "verbose": -1, "num_leaves": 7}, ds, 20)
    path = tmp_path / "model.txt"
    booster.save_model(str(path))
    compiled = compile_model(path)
    assert compiled is not None
    # the compiler's native log must not reach stdout, where the CLI prints its JSON
    assert capfd.readouterr().out == ""
    q = rng.random((300, 6)).astype(np.float32)
    q[::5, 1] = np.nan
    np.testing.assert_allclose(compiled.predict(q), booster.predict(q), atol=1e-5)
    again = compile_model(path)  # cached library reused
    assert again is not None and again.lib == compiled.lib


def test_uncompilable_model_returns_none(tmp_path: Path) -> None:
    bad = tmp_path / "model.txt"
    bad.write_text("not a model")
    assert compile_model(bad) is None
