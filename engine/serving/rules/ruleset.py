"""The live rules, compiled for matching: a request looks up only the rules that can match it.

Exact rules sit in a dict by normalised query; phrase and contains rules under one of their
words (the longest); regular expressions (RE2, linear time: :mod:`engine.core.rules.pattern`) under
a trigram of a literal every match must contain (found by scanning the pattern), the few without
one in a list tried on every query; a stored rule whose pattern RE2 cannot compile is skipped
with a warning and listed in ``RuleSet.skipped``, the others still apply; rules with
no query condition under the root of their category condition, or in a list for every request.
So the cost grows with the rules a query could match, not with all the rules (10,000 rules:
see ``bench/rules_bench.py``). Matches come back by priority, highest first (ties: oldest
change first), the order conflicts are resolved in (:mod:`engine.serving.rules.apply`).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from engine.core.contracts import Surface
from engine.core.rules.model import QueryKind, Rule
from engine.core.rules.pattern import (
    MAX_QUERY_CHARS,
    Pattern,
    PatternError,
    compile_pattern,
    required_literal,
)

log = logging.getLogger("shopnow.rules")
_NON_WORD = re.compile(r"[^\w]+")  # a fixed pattern: the only Python regex here
SEGMENTS = {"anonymous": 0, "weak": 1, "heavy": 2}


def normalise(text: str) -> str:
    """Lowercase, accents dropped, every run of non-word characters one space."""
    folded = unicodedata.normalize("NFKD", text.lower())
    plain = "".join(c for c in folded if not unicodedata.combining(c))
    return _NON_WORD.sub(" ", plain).strip()


@dataclass(frozen=True, slots=True)
class Compiled:
    rule: Rule
    tokens: tuple[str, ...]
    regex: Pattern | None  # RE2: linear time in the query
    surfaces: frozenset[Surface]
    segments: frozenset[int] | None
    categories: tuple[str, ...] | None
    windows: tuple[tuple[float, float], ...]

    @staticmethod
    def of(rule: Rule) -> Compiled:
        """``PatternError`` when the rule's regular expression does not compile with RE2."""
        m = rule.match
        q = m.query
        return Compiled(
            rule,
            tuple(normalise(q.value).split()) if q and q.kind != QueryKind.regex else (),
            compile_pattern(q.value) if q and q.kind == QueryKind.regex else None,
            frozenset(m.surfaces),
            None if m.segments is None else frozenset(SEGMENTS[s] for s in m.segments),
            None if m.categories is None else tuple(c.strip("/") for c in m.categories),
            tuple((w.start.timestamp(), w.end.timestamp()) for w in m.windows),
        )

    def query_matches(self, query: str, words: Sequence[str], word_set: frozenset[str]) -> bool:
        q = self.rule.match.query
        if q is None:
            return True
        if self.regex is not None:
            return self.regex.search(query) is not None
        if q.kind == QueryKind.exact:
            return query == " ".join(self.tokens)
        if q.kind == QueryKind.contains:
            return all(t in word_set for t in self.tokens)
        n = len(self.tokens)  # phrase: adjacent, in order
        return any(tuple(words[i : i + n]) == self.tokens for i in range(len(words) - n + 1))

    def context_matches(
        self, surface: Surface, segment: int, categories: Sequence[str], now: float
    ) -> bool:
        if surface not in self.surfaces:
            return False
        if self.segments is not None and segment not in self.segments:
            return False
        if self.windows and not any(a <= now < b for a, b in self.windows):
            return False
        if self.categories is not None:
            return any(
                c == want or c.startswith(want + "/")
                for c in categories
                for want in self.categories
            )
        return True


class RuleSet:
    def __init__(self, rules: Iterable[Rule], revision: int = 0) -> None:
        self.revision = revision
        self.exact: dict[str, list[Compiled]] = defaultdict(list)
        self.by_word: dict[str, list[Compiled]] = defaultdict(list)
        self.by_trigram: dict[str, list[Compiled]] = defaultdict(list)
        self.every_query: list[Compiled] = []  # regexes without an indexable literal
        self.by_root: dict[str, list[Compiled]] = defaultdict(list)  # no query condition
        self.every_request: list[Compiled] = []
        self.size = 0
        self.skipped: dict[str, str] = {}  # rule id: why it is not applied
        for rule in rules:
            if not rule.enabled:
                continue
            try:
                compiled = Compiled.of(rule)
            except PatternError as exc:  # stored before patterns were RE2: skip it, not all
                log.warning("rule %s is skipped: %s", rule.id, exc)
                self.skipped[rule.id] = str(exc)
                continue
            self._add(compiled)

    def _add(self, c: Compiled) -> None:
        self.size += 1
        q = c.rule.match.query
        if q is None:
            if c.categories:
                for root in {cat.split("/")[0] for cat in c.categories}:
                    self.by_root[root].append(c)
            else:
                self.every_request.append(c)
        elif q.kind == QueryKind.exact:
            self.exact[" ".join(c.tokens)].append(c)
        elif q.kind == QueryKind.regex:
            lit = required_literal(q.value)
            if lit:
                self.by_trigram[lit[:3]].append(c)
            else:
                self.every_query.append(c)
        elif c.tokens:
            self.by_word[max(c.tokens, key=len)].append(c)

    def match(
        self,
        surface: Surface,
        query: str,
        segment: int,
        categories: Sequence[str],
        now: float,
    ) -> list[Rule]:
        """The enabled rules this request meets, highest priority first. A query longer than
        the contract allows is cut to its first ``MAX_QUERY_CHARS`` characters, which bounds the
        time of every match (RE2's is linear in the query)."""
        found: dict[str, Compiled] = {}
        roots = {c.split("/")[0] for c in categories}
        pools: list[list[Compiled]] = [self.every_request]
        pools += [self.by_root[r] for r in roots if r in self.by_root]
        q = normalise(query[:MAX_QUERY_CHARS]) if query else ""
        words: list[str] = q.split()
        word_set = frozenset(words)
        if q:
            pools.append(self.exact.get(q, []))
            pools += [self.by_word[w] for w in word_set if w in self.by_word]
            grams = {q[i : i + 3] for i in range(len(q) - 2)}
            pools += [self.by_trigram[g] for g in grams if g in self.by_trigram]
            pools.append(self.every_query)
        for pool in pools:
            for c in pool:
                rid = c.rule.id
                if rid in found:
                    continue
                free = c.rule.match.query is None  # no query condition
                if c.context_matches(surface, segment, categories, now) and (
                    free or (q != "" and c.query_matches(q, words, word_set))
                ):
                    found[rid] = c
        return sorted(
            (c.rule for c in found.values()), key=lambda r: (-r.priority, r.revision, r.id)
        )
