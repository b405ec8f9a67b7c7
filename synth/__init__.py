"""Synthetic marketplace generator: catalog, users, logged traffic and hidden ground truth.

``generate(out_dir, n_items=..., n_events=..., seed=...)`` writes the files;
``load_dataset(out_dir)`` and ``iter_items(path)`` read them back.
"""

from synth.dataset import SynthDataset, iter_items, load_dataset
from synth.generate import SynthSummary, generate

__all__ = ["SynthDataset", "SynthSummary", "generate", "iter_items", "load_dataset"]
