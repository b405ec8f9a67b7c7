"""The source registry is the one list of candidate sources: every entry builds a source of its
own name, the pipeline factory builds them in registry order (the ranker's column order),
settings choose which are on and how many candidates each is asked for, and the model a
source reads decides when it is available."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from engine.core.settings import Settings
from engine.core.signals import Signals
from engine.serving.pipelines import build_spec
from engine.serving.sources.registry import (
    BY_NAME,
    REGISTRY,
    SOURCE_NAMES,
    TRADITIONAL,
    Registration,
    available,
    enabled_sources,
    k_of,
    reading,
)
from engine.serving.sources.switch import Switched
from search_plugins.embedded.index import EmbeddedIndex
from tests.engine.fixtures import catalog, item

CAT = catalog([item(i) for i in range(4)])


def _spec(tmp_path: Path, **settings: object):  # type: ignore[no-untyped-def]
    s = Settings(index_dir=tmp_path, **settings)  # type: ignore[arg-type]
    signals = Signals.build(
        np.zeros(0), np.zeros(0, np.int32), np.zeros(0, np.int8), CAT.category.values, 0.0
    )
    return build_spec(
        settings=s, catalog=CAT, index=EmbeddedIndex.create(str(tmp_path), dim=8), signals=signals
    )


def test_names_are_unique_and_split_into_the_two_options() -> None:
    assert len(set(SOURCE_NAMES)) == len(SOURCE_NAMES) == len(REGISTRY)
    learned = [r.name for r in REGISTRY if not r.traditional]
    assert set(TRADITIONAL) | set(learned) == set(SOURCE_NAMES)
    assert learned == ["two_tower", "graph", "bought_together", "text"]
    assert all(r.model is not None for r in REGISTRY if not r.traditional)


def test_the_factory_builds_every_registered_source_in_order(tmp_path: Path) -> None:
    spec = _spec(tmp_path, sources=("bm25", "graph"), source_k={"bm25": 77})
    assert spec.source_names == SOURCE_NAMES
    on = {s.source.name for s in spec.sources if not isinstance(s.source, Switched)}
    assert on == {"bm25", "graph"}
    k = {s.source.name: s.k for s in spec.sources}
    assert k["bm25"] == 77 and k["covis"] == BY_NAME["covis"].k


def test_a_source_that_misnames_itself_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = dataclasses.replace(BY_NAME["covis"], name="popular")
    monkeypatch.setattr(
        "engine.serving.pipelines.REGISTRY",
        tuple(wrong if r.name == "popular" else r for r in REGISTRY),
    )
    with pytest.raises(ValueError, match="registered as popular calls itself covis"):
        _spec(tmp_path)


def test_unknown_names_in_settings_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"unknown candidate sources \['nope'\]"):
        _spec(tmp_path, sources=("bm25", "nope"))
    with pytest.raises(ValueError, match=r"unknown candidate sources \['bm2'\]"):
        _spec(tmp_path / "k", source_k={"bm2": 5})


def test_settings_choose_sources_and_sizes() -> None:
    assert enabled_sources(Settings()) == SOURCE_NAMES
    s = Settings(sources=TRADITIONAL, source_k={"covis": 9})
    assert enabled_sources(s) == TRADITIONAL
    assert k_of(s, "covis") == 9 and k_of(s, "bm25") == BY_NAME["bm25"].k
    assert reading("graph", SOURCE_NAMES) == ("graph", "bought_together")
    assert reading("towers", TRADITIONAL) == ()


def test_what_is_available_follows_the_trained_models() -> None:
    assert available(set()) == TRADITIONAL
    assert set(available({"towers"})) == {*TRADITIONAL, "two_tower"}
    assert available({"towers", "graph"}) == tuple(n for n in SOURCE_NAMES if n != "text")
    assert available({"towers", "graph", "text"}) == SOURCE_NAMES
    assert isinstance(REGISTRY[0], Registration)
