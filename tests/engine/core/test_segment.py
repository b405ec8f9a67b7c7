"""One user segment for every stage: the pipeline's request context, the query tower's inputs
at serving time, its training batches, and sequence examples (Amazon Beauty) agree."""

from __future__ import annotations

import numpy as np
import pytest

from engine.core.contracts import Surface
from engine.core.pipeline.context import History, RequestContext
from engine.core.segment import HEAVY_MIN_HISTORY, Segment, segment_of, segments_of
from towers.data import Examples, query_batch
from towers.model import TowerConfig
from towers.requests import examples_of, query_inputs
from towers.text import TEXT_DIM, TextEncoder


def _ctx(n_history: int, user: bool) -> RequestContext:
    rows = np.arange(n_history, dtype=np.int64)
    history = History(rows, np.ones(n_history, np.int8), rows.astype(np.float64))
    return RequestContext(
        "r", Surface.feed, 0.0, user_id="u" if user else None, user_history=history
    )


def test_the_threshold() -> None:
    assert segment_of(10, has_user=False) is Segment.anonymous
    assert segment_of(0, has_user=True) is Segment.weak
    assert segment_of(HEAVY_MIN_HISTORY - 1, has_user=True) is Segment.weak
    assert segment_of(HEAVY_MIN_HISTORY, has_user=True) is Segment.heavy


@pytest.mark.parametrize("max_history", [2, 50])
def test_pipeline_and_towers_agree(max_history: int) -> None:
    """Serving inputs and training batches of the towers give each request the segment of its
    request context, also when the tower reads fewer history items than the user has."""
    cfg = TowerConfig(max_history=max_history)
    contexts = [_ctx(n, user) for n in range(9) for user in (False, True)]
    expected = [int(c.segment) for c in contexts]
    inputs = [query_inputs(c, cfg) for c in contexts]
    assert [int(q.segment) for q in inputs] == expected
    ex = examples_of(inputs, np.zeros(len(inputs), np.int64), TextEncoder(None), TEXT_DIM)
    batch = query_batch(
        ex, np.arange(len(ex)), max_history=max_history, max_session=2, text_dim=TEXT_DIM
    )
    assert batch.segment.tolist() == expected
    assert {Segment.anonymous, Segment.weak, Segment.heavy} == {Segment(s) for s in expected}


def test_sequence_examples_use_the_same_threshold() -> None:
    """Examples without per-request segments (sequences) take them from the history lengths."""
    lengths = np.arange(9, dtype=np.int64)
    ex = Examples(
        seq_indptr=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        seq_items=np.zeros(int(lengths.sum()), np.int64),
        user=np.arange(9, dtype=np.int64),
        cut=lengths,
        target=np.zeros(9, np.int64),
        context=np.zeros((9, 1), np.int64),
    )
    batch = query_batch(ex, np.arange(9), max_history=3, max_session=1, text_dim=TEXT_DIM)
    assert batch.segment.tolist() == [int(segment_of(int(n), True)) for n in lengths]
    assert segments_of(lengths, np.zeros(9, np.bool_)).tolist() == [0] * 9
