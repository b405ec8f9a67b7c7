from pathlib import Path

import pytest

from devtools.opensearch_node.process import free_port
from engine.app.cli import main
from synth.generate import generate
from tests.serving_install import run_serving


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


def test_eval_without_a_dataset_says_how_to_make_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["eval", "--data", str(tmp_path / "none"), "--quiet"])
    assert code == 2
    assert "data directory not found" in capsys.readouterr().err


def test_unknown_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["frobnicate"])
    assert "invalid choice" in capsys.readouterr().err


def test_opensearch_status_of_a_home_without_a_node(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["opensearch", "status", "--home", str(tmp_path)]) == 3
    assert '"running": false' in capsys.readouterr().out


def test_opensearch_node_commands_on_a_home_without_a_cluster(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for action in ("kill-node", "start-node"):
        assert main(["opensearch", action, "--home", str(tmp_path), "--node", "1"]) == 1
        assert "no cluster in" in capsys.readouterr().err


def test_opensearch_bad_action_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["opensearch", "restart"])
    assert exc.value.code == 2
    assert "invalid choice: 'restart'" in capsys.readouterr().err


def test_index_on_unreachable_opensearch_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    generate(data, n_items=50, n_events=500, seed=1, progress=False)
    url = f"http://127.0.0.1:{free_port()}"
    args = ["index", "--data", str(data), "--backend", "opensearch", "--opensearch-url", url]
    assert main([*args, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "shopnow index: error:" in err and url.split("//")[1] in err


def test_unknown_source_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["eval", "--sources", "bm25,gnn", "--data", str(tmp_path), "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert "--sources" in err and "gnn" in err and "bought_together" in err


def test_train_towers_without_data_names_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["train-towers", "--data", str(tmp_path / "nowhere"), "--quiet"])
    assert code == 2
    assert "nowhere" in capsys.readouterr().err


def test_train_graph_without_data_names_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["train-graph", "--data", str(tmp_path / "none"), "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert "shopnow train-graph: error:" in err and "none" in err


def test_ingest_of_a_missing_file_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["ingest", str(tmp_path / "nope.jsonl"), "--data", str(tmp_path), "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert "shopnow ingest: error:" in err and "nope.jsonl: no such file" in err


def test_sources_help_names_every_registered_source(capsys: pytest.CaptureFixture[str]) -> None:
    from engine.serving.sources.registry import SOURCE_NAMES

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    listed = " ".join(capsys.readouterr().out.split())  # argparse wraps the help
    listed = listed.split("(default all: ")[1].split(")")[0].replace(" ", "")
    assert listed.split(",") == list(SOURCE_NAMES)


_WITHOUT_TRAIN_EXTRA = """
import sys
from engine.app.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("command", ["train-towers", "train-graph"])
def test_training_in_a_serving_install_names_the_extra(tmp_path: Path, command: str) -> None:
    done = run_serving(_WITHOUT_TRAIN_EXTRA, command, "--data", str(tmp_path))
    assert done.returncode == 2, done.stderr[-2000:]
    assert "shopnow-discovery[train]" in done.stderr and "Traceback" not in done.stderr
