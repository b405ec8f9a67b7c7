"""Synthetic worlds are generated once per process for each set of parameters; every
``synthetic_world`` gets its own copy, so a test that writes to its data changes no other's."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from synth.generate import generate
from synth.truth import SIMULATION_DIR
from tests.engine import world
from tests.engine.world import WorldCache, synthetic_world

SMALL = {"items": 50, "events": 500, "seed": 1}


def _counting(made: list[tuple[int, int, int]]) -> Callable[..., Any]:
    """``generate``, noting the parameters of each call in ``made``."""

    def counted(out: Path, *, n_items: int, n_events: int, seed: int, **kw: Any) -> Any:
        made.append((n_items, n_events, seed))
        return generate(out, n_items=n_items, n_events=n_events, seed=seed, **kw)

    return counted


@pytest.fixture
def calls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int, int]]:
    """A fresh cache under ``tmp_path``; the parameters of every generation made."""
    made: list[tuple[int, int, int]] = []
    monkeypatch.setattr(world, "generate", _counting(made))
    monkeypatch.setattr(world, "WORLDS", WorldCache(tmp_path / "cache"))
    return made


def test_same_parameters_generate_once_and_give_independent_copies(
    tmp_path: Path, calls: list[tuple[int, int, int]]
) -> None:
    with (
        synthetic_world(tmp_path / "a", "embedded", **SMALL) as a,
        synthetic_world(tmp_path / "b", "embedded", **SMALL) as b,
    ):
        assert calls == [(50, 500, 1)]
        source = world.WORLDS.data_dir(**SMALL)
        assert calls == [(50, 500, 1)]  # still cached
        names = sorted(p.name for p in source.iterdir() if p.is_file())
        assert "items.jsonl" in names and "events.npz" in names
        assert (source / SIMULATION_DIR).is_dir()  # the cache keeps the hidden truth,
        for copy in (a.data_dir, b.data_dir):  # the copies leave it behind
            assert sorted(p.name for p in copy.iterdir()) == names
            for name in names:
                mine, cached = copy / name, source / name
                assert mine.read_bytes() == cached.read_bytes()
                assert mine.stat().st_ino != cached.stat().st_ino  # a copy, not a link
        # a test that writes to its world changes neither the other's nor the cache
        original = (source / "items.jsonl").read_bytes()
        (a.data_dir / "items.jsonl").write_bytes(b"")
        (a.data_dir / "extra.txt").write_text("mine")
        assert (b.data_dir / "items.jsonl").read_bytes() == original
        assert (source / "items.jsonl").read_bytes() == original
        assert not (b.data_dir / "extra.txt").exists() and not (source / "extra.txt").exists()
    with synthetic_world(tmp_path / "c", "embedded", **SMALL, truth=True) as c:
        assert (c.data_dir / SIMULATION_DIR / "truth.npz").is_file()  # for the simulations


def test_other_parameters_generate_their_own_world(
    tmp_path: Path, calls: list[tuple[int, int, int]]
) -> None:
    with synthetic_world(tmp_path / "a", "embedded", **SMALL) as a:
        pass
    with synthetic_world(tmp_path / "b", "embedded", **dict(SMALL, seed=2)) as b:
        pass
    with synthetic_world(tmp_path / "c", "embedded", **SMALL):
        pass
    assert calls == [(50, 500, 1), (50, 500, 2)]
    assert (a.data_dir / "items.jsonl").read_bytes() != (b.data_dir / "items.jsonl").read_bytes()


def test_a_failed_generation_caches_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, calls: list[tuple[int, int, int]]
) -> None:
    def broken(out: Path, **kw: Any) -> Any:
        out.mkdir(parents=True)
        (out / "items.jsonl").write_text("half")
        raise RuntimeError("disk full")

    monkeypatch.setattr(world, "generate", broken)
    with pytest.raises(RuntimeError), synthetic_world(tmp_path / "a", "embedded", **SMALL):
        pass
    monkeypatch.setattr(world, "generate", _counting(calls))
    with synthetic_world(tmp_path / "b", "embedded", **SMALL) as b:
        assert calls == [(50, 500, 1)]
        assert (b.data_dir / "items.jsonl").read_text() != "half"


def test_the_cache_is_made_on_first_use_under_the_temporary_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    cache = WorldCache()
    assert list(tmp_path.iterdir()) == []  # nothing until a world is asked for
    root = cache.root()
    assert root.parent == tmp_path and root.name.startswith("shopnow-test-worlds-")
    assert cache.root() == root
