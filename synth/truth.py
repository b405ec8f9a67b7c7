"""The generator's hidden ground truth, kept apart from the data every job reads.

``shopnow synth`` writes a marketplace in the layout an import makes (``items.jsonl``,
``events.npz``, ``users.npz``, ``queries.txt``, ``meta.json``: see
:mod:`ingest.imports.layout`) and, in the ``simulation/`` directory beside them, what no real
marketplace has: the latent preferences and item vectors behind every response
(``truth.npz``), the catalog's generating columns (``items_columns.npz``), the planned requests
(``requests.npz``) and their description (``meta.json``). Only the simulation experiments read
it (the decision report's simulated A/B and calibration, the benchmarks that score pages
against the response model); an import-linter contract keeps every job away from this module.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from synth.dataset import npz_columns

SIMULATION_DIR = "simulation"
ITEM_COLUMNS = ("category", "brand", "seller", "price", "in_stock", "created_at", "variant_group")
REQUEST_COLUMNS = ("request", "ts", "user", "session", "surface", "query")
TRUTH_COLUMNS = (
    "user_pref",
    "user_segment",
    "item_vec",
    "item_quality",
    "complement_of",
    "query_leaf",
    "request_boost_leaf",
)
FILES = ("truth.npz", "items_columns.npz", "requests.npz", "meta.json")


@dataclass(frozen=True)
class HiddenTruth:
    """``truth``: by user row, item row, query line or request; ``columns``: the catalog's
    generating columns by item row; ``requests``: the planned requests; ``meta``: their doc."""

    truth: dict[str, np.ndarray]
    columns: dict[str, np.ndarray]
    requests: dict[str, np.ndarray]
    meta: dict[str, Any]

    @property
    def complements(self) -> tuple[np.ndarray, np.ndarray]:
        """(leaf category, the partner leaf of its complement pair or -1) by catalog row."""
        return self.columns["category"], self.truth["complement_of"]


def simulation_dir(data_dir: Path) -> Path:
    return Path(data_dir) / SIMULATION_DIR


def has_truth(data_dir: Path) -> bool:
    return (simulation_dir(data_dir) / "truth.npz").is_file()


def load_truth(data_dir: Path) -> HiddenTruth:
    """The hidden truth of the synthetic world in ``data_dir``; an error saying why there is
    none for imported data."""
    sim = simulation_dir(data_dir)
    missing = [f for f in FILES if not (sim / f).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{sim}: missing {', '.join(missing)}: only a synthetic world (`shopnow synth`) has "
            "a hidden truth; imported data has none, so simulated outcomes cannot be scored"
        )
    try:
        meta = json.loads((sim / "meta.json").read_text("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{sim / 'meta.json'}: invalid JSON ({exc})") from None
    truth = npz_columns(sim / "truth.npz", TRUTH_COLUMNS, same_length=False)
    columns = npz_columns(sim / "items_columns.npz", ITEM_COLUMNS, same_length=True)
    requests = npz_columns(sim / "requests.npz", REQUEST_COLUMNS, same_length=True)
    n_items = len(columns["category"])
    for name in ("item_vec", "item_quality", "complement_of"):
        if len(truth[name]) != n_items:
            raise ValueError(f"{sim}: {name} has {len(truth[name])} rows, the catalog {n_items}")
    if len(truth["user_pref"]) != len(truth["user_segment"]):
        raise ValueError(f"{sim}: user_pref and user_segment differ in length")
    return HiddenTruth(truth, columns, requests, meta)
