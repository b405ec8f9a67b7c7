from pathlib import Path

import pytest

from engine.cli import main


def test_bad_number_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["synth", "--items", "-5"])
    assert exc.value.code == 2
    assert "must be positive" in capsys.readouterr().err


def test_missing_data_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["index", "--data", str(tmp_path / "nowhere"), "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert "shopnow index: error:" in err and "nowhere" in err


def test_missing_index_names_the_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["train", "--index", str(tmp_path / "noindex"), "--data", str(tmp_path), "--quiet"])
    assert code == 2
    assert "error" in capsys.readouterr().err


def test_missing_beauty_data_says_where_to_put_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["eval", "beauty", "--shared-data", str(tmp_path)])
    assert code == 2
    assert "amazon-beauty data not found" in capsys.readouterr().err


def test_unknown_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["frobnicate"])
    assert "invalid choice" in capsys.readouterr().err
