"""A tiny marketplace with known structure, and an Engine over it (embedded backends)."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from engine.core.catalog import Catalog
from engine.core.online_store import OnlineStore
from engine.core.pipeline.context import KIND_CART, KIND_CLICK, KIND_PURCHASE
from engine.core.retrieval.covisitation import CovisitationIndex, CoVisits, CovisParams
from engine.core.search import IndexDoc, SearchIndex
from engine.core.settings import Settings
from engine.core.signals import KIND_WEIGHT, Signals
from engine.serving.assembly import cold_start_state, index_doc_fn
from engine.serving.models import ServedModels
from engine.serving.pipelines import build_spec
from engine.serving.service import Engine
from engine.serving.state.embedded import EmbeddedStore
from engine.serving.state.redis_store import RedisStore
from search_plugins.embedded.index import EmbeddedIndex
from search_plugins.opensearch import OpenSearchIndex, OpenSearchParams
from synth.generate import generate
from synth.truth import SIMULATION_DIR
from tests.engine.fixtures import T0, item

if TYPE_CHECKING:
    from graph.serving import GraphServing
    from towers.serving import TowerServing
from search_plugins.opensearch.client import drop_alias
from tests.servers import (
    OPENSEARCH_URL,
    REDIS_URL,
    needs_opensearch,
    needs_redis,
)

PHONES = [
    item(
        i,
        title=f"Nova smartphone {c} 128GB",
        category=("Electronics", "Phones"),
        brand=b,
        seller=f"s{i % 4}",
        price=300 + 10 * i,
        variant="nova-v" if i < 4 else None,
    )
    for i, (c, b) in enumerate(
        zip(
            ["black", "blue", "red", "white", "green", "grey"] * 2,
            ["nova", "zen", "orbit"] * 4,
            strict=True,
        )
    )
]
CASES = [
    item(
        100 + i,
        title=f"Protective phone case {c}",
        category=("Electronics", "Phones", "Cases"),
        brand="shield",
        seller="s9",
        price=15 + i,
    )
    for i, c in enumerate(["black", "blue", "clear", "leather", "silicone", "red"])
]
DECOR = [
    item(
        200 + i,
        title=f"Ceramic vase {c}",
        category=("Home", "Decor"),
        brand="casa",
        seller="s7",
        price=40 + i,
        in_stock=i != 0,
    )
    for i, c in enumerate(["white", "blue", "tall", "small", "round", "square"])
]
ITEMS = PHONES + CASES + DECOR


def events(catalog: Catalog) -> dict[str, np.ndarray]:
    """Sessions: phone then case (complements), vases together; timestamps after T0."""
    rng = np.random.default_rng(0)
    rows: list[tuple[float, int, int, int]] = []
    ts = T0.timestamp() + 3600
    phones = [catalog.row_of[it.id] for it in PHONES]
    cases = [catalog.row_of[it.id] for it in CASES]
    vases = [catalog.row_of[it.id] for it in DECOR]
    for s in range(300):
        ts += 60
        if s % 3 == 0:
            seq = [(rng.choice(vases), KIND_CLICK), (rng.choice(vases), KIND_CART)]
        else:
            seq = [
                (rng.choice(phones), KIND_CLICK),
                (rng.choice(phones), KIND_PURCHASE),
                (rng.choice(cases), KIND_CART),
            ]
        for k, (r, kind) in enumerate(seq):
            rows.append((ts + k, s, int(r), kind))
    arr = np.array(rows)
    return {
        "ts": arr[:, 0].astype(np.float64),
        "session": arr[:, 1].astype(np.int64),
        "item": arr[:, 2].astype(np.int32),
        "kind": arr[:, 3].astype(np.int8),
    }


# Tests that check what a search or a feed returns must not depend on a loaded machine
# meeting the serving deadlines (40 ms per source): a source cut at its deadline answers
# nothing and flags the response degraded. Their engines give every source the offline
# deadline, as offline replays do; tests of the deadlines themselves ask for the serving ones.
OFFLINE_MS = Settings().offline_deadline_ms
OFFLINE_DEADLINES: dict[str, Any] = {
    "source_deadline_ms": OFFLINE_MS,
    "request_deadline_ms": OFFLINE_MS,
}

# The embedded defaults, and the production pair: OpenSearch for search, Redis for state.
BACKENDS = [
    "embedded",
    pytest.param("opensearch+redis", marks=[needs_opensearch, needs_redis]),
]


async def make_index(
    settings: Settings,
    catalog: Catalog,
    backend: str,
    doc: Callable[[int], IndexDoc] | None = None,
) -> SearchIndex:
    """The world's catalog in a fresh index of ``backend`` (OpenSearch: a unique alias);
    ``doc`` makes each row's document (default: no vector)."""
    index: SearchIndex
    if backend == "opensearch":
        alias = f"world-{uuid.uuid4().hex[:10]}"
        index = await OpenSearchIndex.create(OPENSEARCH_URL, 8, OpenSearchParams(alias=alias))
    else:
        index = EmbeddedIndex.create(str(settings.index_dir), dim=8)
    await index.upsert([(doc or catalog.index_doc)(r) for r in range(len(catalog))])
    await index.refresh()
    return index


async def close_engine(engine: Engine) -> None:
    """Close the engine and drop what its index left on a shared server."""
    if isinstance(engine.index, OpenSearchIndex):
        await drop_alias(OPENSEARCH_URL, engine.index.params.alias)
    await engine.close()


async def make_engine(
    tmp: Path,
    *,
    index: SearchIndex | None = None,
    store: OnlineStore | None = None,
    backend: str = "embedded",
    towers: Callable[[Catalog], TowerServing] | None = None,
    graph: Callable[[Catalog], GraphServing] | None = None,
    feature_log_rate: float = 0.01,
    serving_deadlines: bool = False,
    **settings_kw: Any,
) -> Engine:
    """``towers`` and ``graph`` make the served two-tower and graph models for the world's
    catalog (default none). Sources get the offline deadline unless ``serving_deadlines``;
    ``settings_kw``: more settings."""
    settings = Settings(
        data_dir=tmp / "data",
        index_dir=tmp / "index",
        model_dir=tmp / "models",
        feature_log_dir=tmp / "feature-log",
        feature_log_rate=feature_log_rate,
        **({} if serving_deadlines else OFFLINE_DEADLINES),
        **settings_kw,
    )
    catalog = Catalog()
    catalog.upsert(ITEMS)
    search_backend, _, store_backend = backend.partition("+")
    serving = towers(catalog) if towers is not None else None
    if index is None:
        index = await make_index(settings, catalog, search_backend, index_doc_fn(catalog, serving))
    if store is None and store_backend == "redis":
        store = RedisStore(REDIS_URL, prefix=f"w{uuid.uuid4().hex}", timeout_s=2.0)
    ev = events(catalog)
    now = float(ev["ts"].max()) + 60
    signals = Signals.build(ev["ts"], ev["item"], ev["kind"], catalog.category.values, now)
    covis = CoVisits(
        CovisitationIndex.build(
            ev["session"],
            ev["item"],
            ev["ts"],
            KIND_WEIGHT[ev["kind"]].astype(np.float32),
            len(catalog),
            CovisParams(window=3),
        )
    )
    graph_serving = graph(catalog) if graph is not None else None
    store = store or EmbeddedStore()
    cold = cold_start_state(settings, catalog, signals, store)
    models = ServedModels.of(serving, graph_serving)
    spec = build_spec(
        settings=settings,
        catalog=catalog,
        index=index,
        signals=signals,
        covis=covis,
        models=models,
        cold_start=cold,
    )
    engine = Engine(
        settings,
        catalog,
        index,
        store,
        signals,
        spec,
        {"index": index.name},
        models,
    )
    await engine.seed_new_items()
    return engine


NOW_PLUS = timedelta(days=1)


SEARCH_BACKENDS = ["embedded", pytest.param("opensearch", marks=needs_opensearch)]


class WorldCache:
    """Synthetic data directories generated once per process, keyed by their parameters.

    The directory is created on first use (under the system's temporary directory, or
    ``root``) and removed when the process exits. Each pytest process (an xdist worker too)
    has its own, so no two processes ever write the same cache."""

    def __init__(self, root: Path | None = None) -> None:
        self._root = root
        self._made: dict[tuple[int, int, int], Path] = {}
        self._lock = threading.Lock()

    def root(self) -> Path:
        if self._root is None:
            self._root = Path(tempfile.mkdtemp(prefix="shopnow-test-worlds-"))
            atexit.register(shutil.rmtree, self._root, ignore_errors=True)
        return self._root

    def data_dir(self, *, items: int, events: int, seed: int) -> Path:
        """The generated data directory for these parameters: to copy from, never to write."""
        key = (items, events, seed)
        with self._lock:
            if key not in self._made:
                final = self.root() / f"items{items}-events{events}-seed{seed}"
                partial = final.with_name(final.name + ".partial")
                shutil.rmtree(partial, ignore_errors=True)
                generate(partial, n_items=items, n_events=events, seed=seed, progress=False)
                partial.rename(final)  # a failed generation leaves nothing cached
                self._made[key] = final
            return self._made[key]


WORLDS = WorldCache()


@contextlib.contextmanager
def synthetic_world(
    root: Path, backend: str, *, items: int, events: int, seed: int, truth: bool = False
) -> Iterator[Settings]:
    """A synthetic marketplace under ``root`` and settings for ``backend``; on OpenSearch a
    unique alias, dropped afterwards. The data is generated once per process for each
    (items, events, seed) (``WORLDS``) and copied here, so a test may write to its own.
    Without ``truth`` the generator's hidden truth (``simulation/``) is left behind, as for
    imported data: only the simulation experiments may need it."""
    settings = Settings(
        data_dir=root / "data",
        index_dir=root / "index",
        model_dir=root / "models",
        feature_log_dir=root / "feature-log",
        search_backend=backend,
        opensearch_url=OPENSEARCH_URL or "http://127.0.0.1:9200",
        opensearch_alias=f"{root.name.lower()[:20]}-{uuid.uuid4().hex[:10]}",
        **OFFLINE_DEADLINES,  # engines opened on it serve with the offline deadline
    )
    source = WORLDS.data_dir(items=items, events=events, seed=seed)
    hidden = shutil.ignore_patterns() if truth else shutil.ignore_patterns(SIMULATION_DIR)
    shutil.copytree(source, settings.data_dir, dirs_exist_ok=True, ignore=hidden)
    try:
        yield settings
    finally:
        if backend == "opensearch":
            asyncio.run(drop_alias(OPENSEARCH_URL, settings.opensearch_alias))


@contextlib.contextmanager
def indexed_world(
    root: Path, backend: str, *, items: int, events: int, seed: int
) -> Iterator[Settings]:
    """:func:`synthetic_world` with its index built (no models trained): what ``shopnow serve``
    needs to start."""
    from engine.offline.train import build_index

    with synthetic_world(root, backend, items=items, events=events, seed=seed) as settings:
        asyncio.run(build_index(settings, progress=False))
        yield settings
