"""Regular expressions of rules (query kind ``regex``): compiled with RE2, never with Python's
``re``.

RE2 matches in time linear in the text: no pattern can backtrack for seconds (with ``re``,
``(a+)+$`` on a query of 26 a's and " b" took 4 to 8 s, blocking every request of the worker,
``/healthz`` included). The price is RE2's syntax: no backreferences and no lookarounds. A
pattern is also refused when its compiled program is larger than :data:`MAX_PROGRAM_SIZE`
instructions, which bounds the cost of one match of a query of at most :data:`MAX_QUERY_CHARS`
characters to a few milliseconds in the worst case (typically microseconds).

The semantics are those the rules had with ``re`` and no flags: case-sensitive, searched
anywhere in the normalised query (lowercase), ``^``/``$`` anchor at its ends. One difference:
in RE2, ``\\w``, ``\\d``, ``\\s`` and ``\\b`` are ASCII; ``\\pL`` is a letter of any script.

:func:`required_literal` finds, by a conservative scan of the RE2 syntax (not Python's parser,
whose syntax differs), a run of characters every match contains: the rule index files the rule
under it.
"""

from __future__ import annotations

from typing import TypeAlias

import re2

MAX_QUERY_CHARS = 500  # a query's largest size by contract (contracts: SearchRequest.query)
MAX_PROGRAM_SIZE = 5_000  # RE2 instructions; e.g. "\pL" alone is 1,200, "iphone\s*1[0-9]" 15

WHY_RE2 = (
    "rule patterns use RE2 syntax, which matches in time linear in the query, so that no pattern "
    "can stall the server; RE2 has no backreferences (\\1, (?P=name)) and no lookarounds "
    "((?=...), (?!...), (?<=...), (?<!...))"
)


class PatternError(ValueError):
    """The pattern does not compile with RE2, or is too large; the message says why."""


Pattern: TypeAlias = "re2._Regexp[str]"  # a compiled pattern (the stubs' name)


def _options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False  # errors come back as exceptions, not lines on stderr
    options.never_capture = True  # only whether it matches: lets RE2 use its DFA throughout
    return options


_OPTIONS = _options()


def compile_pattern(pattern: str) -> Pattern:
    """The pattern compiled by RE2 (case-sensitive; use :meth:`search` to find it anywhere),
    or :class:`PatternError` saying why it is refused."""
    try:
        compiled = re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        raw = exc.args[0] if exc.args else ""
        why = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        raise PatternError(f"{pattern!r} is not a valid RE2 pattern ({why}): {WHY_RE2}") from None
    size = compiled.programsize
    if size > MAX_PROGRAM_SIZE:
        raise PatternError(
            f"{pattern!r} is too large: it compiles to {size} RE2 instructions, at most "
            f"{MAX_PROGRAM_SIZE} (large repetitions of Unicode classes such as \\pL cost most), "
            "so that one match stays within a few milliseconds"
        )
    return compiled


def _class_end(pattern: str, i: int) -> int:
    """The index just past the character class that opens at ``pattern[i] == "["``, as RE2
    parses it: a ``]`` first in the class is a member, ``[:name:]`` runs to the first ``:]``."""
    n = len(pattern)
    j = i + 1
    if j < n and pattern[j] == "^":
        j += 1
    if j < n and pattern[j] == "]":
        j += 1
    while j < n:
        c = pattern[j]
        if c == "\\":
            j += 2
        elif c == "[" and pattern.startswith("[:", j) and ":]" in pattern[j + 2 :]:
            j = pattern.index(":]", j + 2) + 2
        elif c == "]":
            return j + 1
        else:
            j += 1
    return n


def _group_end(pattern: str, i: int) -> int:
    """The index just past the group that opens at ``pattern[i] == "("``."""
    n, depth, j = len(pattern), 0, i
    while j < n:
        c = pattern[j]
        if c == "\\":
            j += 2
            continue
        if c == "[":
            j = _class_end(pattern, j)
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return j + 1
        j += 1
    return n


def _escape_end(pattern: str, i: int) -> int:
    """The index just past the escape that starts at ``pattern[i] == "\\"``."""
    n = len(pattern)
    if i + 1 >= n:
        return n
    c, j = pattern[i + 1], i + 2
    if c in "pPx" and j < n and pattern[j] == "{":
        close = pattern.find("}", j)
        return n if close < 0 else close + 1
    if c in "pP":
        return j + 1
    if c == "x":
        return j + 2
    if c.isdigit():  # an octal code of up to three digits
        while j < n and j < i + 4 and pattern[j].isdigit():
            j += 1
    return j


def _repetition_end(pattern: str, i: int) -> int:
    """The index just past ``{n}``, ``{n,}`` or ``{n,m}`` at ``i``; ``i`` when it is not one."""
    close = pattern.find("}", i)
    if close < 0:
        return i
    body = pattern[i + 1 : close]
    low, _, high = body.partition(",")
    if body and all(c.isascii() and (c.isdigit() or c == ",") for c in body) and low + high:
        return close + 1
    return i


def required_literal(pattern: str) -> str:
    """The longest run of characters (ASCII letters, digits, ``_`` and spaces, lowercased) at
    the top level of ``pattern`` that every match contains; "" when there is none of at least
    three characters, or when the pattern has a top-level alternative or ``\\Q...\\E``.

    Conservative: anything this scan does not understand ends a run, so a rule is at worst
    tried on more queries than needed, never missed."""
    if "\\Q" in pattern:
        return ""
    best, run = "", ""
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c.isascii() and (c.isalnum() or c in " _"):
            run += c
            i += 1
            continue
        if c in "*+?{":  # a repetition of the atom before it: that atom is not required once
            end = i + 1 if c != "{" else _repetition_end(pattern, i)
            if end > i:
                run = run[:-1]
                if end < n and pattern[end] == "?":  # non-greedy
                    end += 1
                i = end
            else:  # a "{" that is no repetition: a literal to RE2, skipped here
                i += 1
        elif c == "|":
            return ""
        elif c == "\\":
            i = _escape_end(pattern, i)
        elif c == "[":
            i = _class_end(pattern, i)
        elif c == "(":
            i = _group_end(pattern, i)
        else:  # . ^ $ ) ] } and every other character
            i += 1
        best = run if len(run) > len(best) else best
        run = ""
    best = run if len(run) > len(best) else best
    return best.lower() if len(best) >= 3 else ""
