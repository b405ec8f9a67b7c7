"""What the matched rules do to one request, conflicts resolved by priority.

Before retrieval (:func:`effects_for` then :meth:`RequestContext.with_rules`): the query rewrite of
the highest-priority rule that has one, the synonyms of every rule (added to the BM25 query on
either backend), attribute filters (brand, category and price also narrow retrieval when the
request does not constrain that attribute itself). After the ranker (:class:`RulesStage`, the
pipeline's rules slot): boosts and buries move items on the ranked list's scores normalised to
[0, 1]; filters keep matching items only; hides remove; pins put items at positions. An item
both hidden and pinned follows the higher-priority rule; a position pinned twice goes to the
higher-priority rule, as does an item pinned at two positions. Every change is noted for
``explain=true``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from engine.core.arrays import Bool
from engine.core.catalog import Catalog
from engine.core.pipeline.stages import Ranked
from engine.core.rules.effects import PinAt, RuleEffects
from engine.core.rules.model import Attribute, AttributeMatch, Boost, Rule

if TYPE_CHECKING:
    from engine.core.pipeline.candidates import CandidatePool
    from engine.core.pipeline.context import RequestContext
    from engine.core.pipeline.stages import Ranked
    from ltr.aggregates import ItemAggregates


def effects_for(rules: Sequence[Rule], catalog: Catalog, query: str) -> RuleEffects | None:
    """Resolve ``rules`` (highest priority first) into one request's effects."""
    if not rules:
        return None
    notes: list[str] = []
    rewrite = redirect = None
    synonyms: list[str] = []
    filters: list[tuple[AttributeMatch, str]] = []
    boosts: list[tuple[Boost, str]] = []
    hides: dict[int, str] = {}
    taken: dict[int, PinAt] = {}  # position -> pin
    placed: set[int] = set()  # rows pinned already
    decided: set[int] = set()  # rows a higher rule pinned or hid
    for rule in rules:
        a, rid = rule.actions, rule.id
        if a.rewrite and rewrite is None:
            rewrite = (a.rewrite, rid)
            notes.append(f"rule {rid}: query {query!r} rewritten to {a.rewrite!r}")
        if a.redirect and redirect is None:
            redirect = (a.redirect, rid)
            notes.append(f"rule {rid}: redirect to {a.redirect}")
        new = [s for s in a.synonyms if s not in synonyms]
        if new:
            synonyms += new
            notes.append(f"rule {rid}: synonyms {', '.join(new)} added to the text search")
        filters += [(f, rid) for f in a.filters]
        boosts += [(b, rid) for b in a.boosts]
        for item_id in a.hide:
            row = catalog.row_of.get(item_id)
            if row is not None and row not in decided:
                hides[row] = rid
                decided.add(row)
        for pin in sorted(a.pins, key=lambda p: p.position):
            row = catalog.row_of.get(pin.item_id)
            if row is None or row in decided or pin.position in taken or row in placed:
                if row is not None and pin.position in taken and row not in decided:
                    notes.append(
                        f"rule {rid}: pin of {pin.item_id} at {pin.position} lost to rule "
                        f"{taken[pin.position].rule_id}"
                    )
                continue
            taken[pin.position] = PinAt(pin.position, row, pin.item_id, rid)
            placed.add(row)
            decided.add(row)
    return RuleEffects(
        tuple(r.id for r in rules),
        tuple(notes),
        rewrite,
        tuple(synonyms),
        redirect,
        tuple(filters),
        tuple(boosts),
        hides,
        tuple(sorted(taken.values(), key=lambda p: p.position)),
    )


def attribute_mask(
    m: AttributeMatch, rows: npt.NDArray[np.int64], catalog: Catalog, aggs: ItemAggregates
) -> Bool:
    """Which ``rows`` have the attribute ``m`` asks for."""
    if m.attribute == Attribute.brand:
        code = catalog.brands.get(m.value or "")
        hit: Bool = catalog.brand.values[rows] == code
        return hit if code >= 0 else np.zeros(len(rows), np.bool_)
    if m.attribute == Attribute.category:
        want = (m.value or "").strip("/")
        names = catalog.categories.names()
        codes = [i for i, n in enumerate(names) if n == want or n.startswith(want + "/")]
        inside: Bool = np.isin(catalog.category.values[rows], codes)
        return inside
    if m.attribute == Attribute.price:
        vals = catalog.price.values[rows].astype(np.float64)
    else:
        vals = aggs.seller_rating_bucket[rows].astype(np.float64)  # NaN: too few orders
    ok = ~np.isnan(vals)
    if m.min is not None:
        ok &= vals >= m.min
    if m.max is not None:
        ok &= vals <= m.max
    return ok


def _note(notes: dict[int, list[str]], i: int, text: str) -> None:
    notes[i] = [*notes.get(i, []), text]  # a new list: the stage before keeps its own


def _describe(m: AttributeMatch) -> str:
    if m.value is not None:
        return f"{m.attribute.value}={m.value}"
    return f"{m.attribute.value} in [{m.min if m.min is not None else ''}, " + (
        f"{m.max if m.max is not None else ''}]"
    )


class RulesStage:
    """The pipeline's rules slot: boosts, buries, filters, hides and pins after the ranker."""

    name = "rules"

    def __init__(self, catalog: Catalog, aggregates: Callable[[], ItemAggregates]) -> None:
        self.catalog = catalog
        self.aggregates = aggregates

    def rerank(self, ctx: RequestContext, pool: CandidatePool, ranked: Ranked) -> Ranked:

        fx = ctx.rules
        if fx is None or not (fx.boosts or fx.filters or fx.hides or fx.pins):
            return ranked
        order = ranked.order
        rows = pool.rows[order]
        notes = dict(ranked.notes)
        say = ctx.explain  # notes only feed explanations: not built otherwise
        aggs = self.aggregates()
        if fx.boosts:
            s = ranked.scores[order].astype(np.float64)
            span = float(s.max() - s.min()) if len(s) else 0.0
            adj = (s - s.min()) / span if span > 0 else np.zeros(len(s))
            moved = np.zeros(len(s))  # the boosts' sum: ties go to the more boosted item
            for b, rid in fx.boosts:
                hit = attribute_mask(b, rows, self.catalog, aggs)
                adj = adj + b.weight * hit
                moved = moved + b.weight * hit
                if say:
                    verb = "boost" if b.weight > 0 else "bury"
                    text = f"rule {rid}: {verb} {b.weight:+g} ({_describe(b)})"
                    for i in order[hit].tolist():
                        _note(notes, i, text)
            new = np.lexsort((np.arange(len(adj)), -moved, -adj))
            order, rows = order[new], rows[new]
        keep = np.ones(len(order), np.bool_)
        for f, rid in fx.filters:
            ok = attribute_mask(f, rows, self.catalog, aggs)
            for i in order[keep & ~ok].tolist():
                _note(notes, i, f"rule {rid}: filtered out ({_describe(f)})")
            keep &= ok
        if fx.hides:
            hidden = keep & np.isin(rows, np.fromiter(fx.hides, np.int64, len(fx.hides)))
            for j in np.flatnonzero(hidden).tolist():
                _note(notes, int(order[j]), f"rule {fx.hides[int(rows[j])]}: hidden")
            keep &= ~hidden
        pinned = fx.pinned_rows
        out = order[keep & ~np.isin(rows, pinned)]
        # pins win over the re-rankers' drops (caps, duplicates), not over the hard filters
        # that ran before them: a pinned item out of stock or deleted is not in the pool
        for p in fx.pins:  # ascending positions
            at = np.flatnonzero(pool.rows == p.row)
            if len(at) == 0:
                continue
            out = np.insert(out, min(p.position - 1, len(out)), at[0])
            _note(notes, int(at[0]), f"rule {p.rule_id}: pinned at {p.position}")
        return Ranked(out.astype(np.int64), ranked.scores, notes)
