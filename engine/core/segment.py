"""The user segment of a request, one definition for every stage: the pipeline's per-segment
figures, the merchandising rules' segment condition and the query tower's segment embedding
all read :func:`segment_of`."""

from __future__ import annotations

from enum import IntEnum

import numpy as np
import numpy.typing as npt


class Segment(IntEnum):
    anonymous = 0  # no user id
    weak = 1  # a known user with fewer than HEAVY_MIN_HISTORY past interactions
    heavy = 2


HEAVY_MIN_HISTORY = 4


def segment_of(history_len: int, has_user: bool) -> Segment:
    if not has_user:
        return Segment.anonymous
    return Segment.heavy if history_len >= HEAVY_MIN_HISTORY else Segment.weak


def segments_of(
    history_len: npt.NDArray[np.int64], has_user: npt.NDArray[np.bool_]
) -> npt.NDArray[np.int64]:
    """:func:`segment_of` of many requests, as :class:`Segment` ids."""
    heavy = np.where(history_len >= HEAVY_MIN_HISTORY, int(Segment.heavy), int(Segment.weak))
    return np.where(has_user, heavy, int(Segment.anonymous)).astype(np.int64)
