from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from synth import SynthSummary, iter_items, load_dataset


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_missing_directory_and_file(tmp_path: Path, synth_dir: tuple[Path, SynthSummary]) -> None:
    with pytest.raises(FileNotFoundError, match="not found"):
        load_dataset(tmp_path / "nope")
    d = _copy(synth_dir[0], tmp_path / "d")
    (d / "events.npz").unlink()
    with pytest.raises(FileNotFoundError, match=r"events\.npz"):
        load_dataset(d)


def test_corrupt_npz_and_meta(tmp_path: Path, synth_dir: tuple[Path, SynthSummary]) -> None:
    d = _copy(synth_dir[0], tmp_path / "d")
    (d / "events.npz").write_bytes(b"garbage")
    with pytest.raises(ValueError, match=r"events\.npz"):
        load_dataset(d)
    d2 = _copy(synth_dir[0], tmp_path / "d2")
    (d2 / "meta.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"meta\.json"):
        load_dataset(d2)


def test_count_mismatch(tmp_path: Path, synth_dir: tuple[Path, SynthSummary]) -> None:
    d = _copy(synth_dir[0], tmp_path / "d")
    (d / "queries.txt").write_text("only one\n")
    with pytest.raises(ValueError, match="queries count"):
        load_dataset(d)


def test_iter_items_names_bad_line(tmp_path: Path) -> None:
    p = tmp_path / "items.jsonl"
    p.write_bytes(b'{"id": "i1"}\n\n{oops\n')
    it = iter_items(p)
    assert next(it) == {"id": "i1"}
    with pytest.raises(ValueError, match=":3:"):
        next(it)
    with pytest.raises(FileNotFoundError):
        next(iter_items(tmp_path / "missing.jsonl"))
