"""Builds the API response (one page, with explanations on request) from a pipeline result."""

from __future__ import annotations

import numpy as np

from engine.core.catalog import Catalog
from engine.core.contracts import (
    Explain,
    FeatureContribution,
    ItemExplanation,
    RankedResponse,
    RemovedItem,
    ResultItem,
    StageTiming,
)
from engine.core.pipeline.context import RequestContext
from engine.core.pipeline.executor import PipelineResult

TOP_FEATURES = 5
MAX_REMOVED_LISTED = 200


def build_response(
    ctx: RequestContext,
    res: PipelineResult,
    catalog: Catalog,
    model_versions: dict[str, str],
    degraded: list[str],
) -> RankedResponse:
    start = ctx.page * ctx.page_size
    page = res.ranked.order[start : start + ctx.page_size]
    contrib = res.scorer.contributions(res.frame, page) if ctx.explain else None
    items: list[ResultItem] = []
    for k, i in enumerate(page.tolist()):
        row = int(res.pool.rows[i])
        explanation = None
        if contrib is not None:
            c = contrib[k]
            top = np.argsort(-np.abs(c))[:TOP_FEATURES]
            explanation = ItemExplanation(
                sources=res.pool.proposed_by(i),
                ranker_score=float(res.ranked.scores[i]),
                top_features=[
                    FeatureContribution(
                        feature=res.frame.names[j],
                        value=_finite(res.frame.values[i, j]),
                        contribution=float(c[j]),
                    )
                    for j in top
                ],
                moved_by=res.ranked.notes.get(i, []),
            )
        items.append(
            ResultItem(
                id=catalog.ids[row],
                title=catalog.titles[row],
                brand=catalog.brands.name(int(catalog.brand.values[row])),
                category=catalog.category_name(row),
                price=float(catalog.price.values[row]),
                score=float(res.ranked.scores[i]),
                explanation=explanation,
            )
        )
    explain = None
    if ctx.explain:
        explain = Explain(
            stages=[
                StageTiming(
                    stage=t.stage,
                    ms=round(t.ms, 3),
                    status=t.status,
                    detail=t.detail,
                )
                for t in res.timings
            ],
            removed=[
                RemovedItem(id=catalog.ids[r.row], stage=r.stage, reason=r.reason)
                for r in res.removed[:MAX_REMOVED_LISTED]
            ],
            candidates=res.candidates,
            rules=_rule_notes(ctx),
        )
    reasons = [*degraded, *res.degraded]
    return RankedResponse(
        request_id=ctx.request_id,
        surface=ctx.surface,
        items=items,
        page=ctx.page,
        page_size=ctx.page_size,
        total=len(res.ranked.order),
        degraded=bool(reasons),
        degraded_reasons=reasons,
        model_versions={**model_versions, **res.reads.models, "ranker": res.scorer.version},
        explain=explain,
        redirect=ctx.rules.redirect[0] if ctx.rules and ctx.rules.redirect else None,
        corrected_query=ctx.query if ctx.typed_query is not None else None,
    )


def _rule_notes(ctx: RequestContext) -> list[str]:
    fx = ctx.rules
    if fx is None:
        return []
    return [f"rule {rid}: matched" for rid in fx.applied] + list(fx.notes)


def _finite(v: float) -> float | None:
    return float(v) if np.isfinite(v) else None
