"""The item texts' MiniLM vectors: built, saved, loaded against the catalog, searched, and
read by the ``text`` source and the ranker's ``query_text_similarity``."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from engine.core.catalog import Catalog
from engine.core.contracts import Surface
from engine.core.pipeline.context import RequestContext
from engine.serving.sources.text import TextSource
from tests.engine.fixtures import catalog, item
from towers.text import TextEncoder
from towers.text_vectors import TextVectors

TITLES = [
    "In-ear headset with microphone, black",
    "Laser printer toner cartridge",
    "Padded laptop sleeve 15 inch",
    "Wireless optical mouse",
]


def _catalog() -> Catalog:
    return catalog([item(i, title=t) for i, t in enumerate(TITLES)])


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory, text_cache: Path) -> Path:
    model_dir = tmp_path_factory.mktemp("models")
    cat = _catalog()
    TextVectors.save(TextVectors.build(cat, TextEncoder(text_cache, num_threads=1)), model_dir)
    return model_dir


def test_search_finds_the_meaning_not_the_words(saved: Path, text_cache: Path) -> None:
    cat = _catalog()
    tv = TextVectors.load(saved, cat, text_cache)
    assert tv is not None
    rows, scores = tv.search("earphones", 2)
    assert rows[0] == 0 and scores[0] > scores[1]  # no title says "earphones"
    sims = tv.similarity("notebook bag", np.arange(4, dtype=np.int64))
    assert int(np.argmax(sims)) == 2
    src = TextSource(tv)
    ctx = RequestContext("r", Surface.search, 0.0, query="computer mouse")
    res = asyncio.run(src.fetch(ctx, 1))
    assert res.rows.tolist() == [3] and res.model == ("text", tv.version)
    assert len(asyncio.run(src.fetch(RequestContext("r", Surface.search, 0.0), 5)).rows) == 0


def test_items_added_or_changed_since_the_build_have_no_vector(
    saved: Path, text_cache: Path
) -> None:
    cat = _catalog()
    cat.upsert([item(1, title="Garden hose 20 m", version=2), item(4, title="Ink cartridge")])
    tv = TextVectors.load(saved, cat, text_cache)
    assert tv is not None
    sims = tv.similarity("toner", np.arange(5, dtype=np.int64))
    assert np.isnan(sims[[1, 4]]).all() and not np.isnan(sims[[0, 2, 3]]).any()
    assert 1 not in tv.search("toner cartridge", 5)[0].tolist()


def test_without_vectors_there_is_no_text_lane(tmp_path: Path, text_cache: Path) -> None:
    assert TextVectors.load(tmp_path, _catalog(), text_cache) is None
    ctx = RequestContext("r", Surface.search, 0.0, query="mouse")
    assert len(asyncio.run(TextSource(None).fetch(ctx, 5)).rows) == 0
