"""One small generated marketplace shared by the synth tests (a few seconds to build)."""

from __future__ import annotations

from pathlib import Path

import pytest

from synth import SynthDataset, SynthSummary, generate, load_dataset
from synth.truth import HiddenTruth, load_truth

N_ITEMS, N_EVENTS = 2_000, 30_000


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SynthSummary]:
    out = tmp_path_factory.mktemp("synth")
    return out, generate(out, n_items=N_ITEMS, n_events=N_EVENTS, seed=7, progress=False)


@pytest.fixture(scope="session")
def ds(synth_dir: tuple[Path, SynthSummary]) -> SynthDataset:
    return load_dataset(synth_dir[0])


@pytest.fixture(scope="session")
def hidden(synth_dir: tuple[Path, SynthSummary]) -> HiddenTruth:
    return load_truth(synth_dir[0])
