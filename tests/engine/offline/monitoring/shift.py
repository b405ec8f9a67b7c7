"""The traffic shift the drift tests inject."""

import dataclasses

from engine.core.pipeline.context import History, RequestContext


def anonymous(ctx: RequestContext) -> RequestContext:
    """The shift: every shopper arrives anonymous, with no history and no session."""
    return dataclasses.replace(
        ctx,
        user_id=None,
        user_history=History.empty(),
        session=History.empty(),
        session_queries=(),
    )
