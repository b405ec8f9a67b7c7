"""The drift reference of a ranker: the training window's requests run through the pipeline
that serves the new model, sampled as the feature log samples live requests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import numpy as np

from engine.core.pipeline.executor import Executor
from engine.core.pipeline.spec import PipelineSpec
from engine.serving.drift import Reference
from engine.serving.feature_log import logged_positions
from ltr.logs import LoggedRequest, LogReplay


async def build_reference(
    spec: PipelineSpec,
    replay: LogReplay,
    requests: Sequence[LoggedRequest],
    *,
    advance: Callable[[float], Awaitable[None]] | None = None,
    top: int = 50,
    others: int = 50,
) -> Reference:
    executor = Executor(spec)
    values, scores, presence = [], [], []
    names: tuple[str, ...] = ()
    for lr in requests:
        if advance is not None:
            await advance(lr.ts)
        ctx = replay.context(lr)
        res = await executor.run(ctx)
        if len(res.pool) == 0:
            continue
        pos = logged_positions(ctx.request_id, len(res.pool), res.ranked.order, top, others)
        names = res.frame.names
        values.append(res.frame.values[pos])
        scores.append(np.asarray(res.ranked.scores, np.float32)[pos])
        presence.append((~np.isnan(res.pool.source_scores[pos])).astype(np.float32))
    if not values:
        raise ValueError("no request produced candidates for the drift reference")
    window = (min(r.ts for r in requests), max(r.ts for r in requests))
    return Reference.build(
        names,
        np.concatenate(values),
        np.concatenate(scores),
        spec.source_names,
        np.concatenate(presence),
        window,
    )
