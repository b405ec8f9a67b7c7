"""Typo tolerance from the catalog's own words.

A query word the catalog does not have matches nothing, so replacing it loses nothing: it is
swapped for the catalog word one edit away (a letter dropped, added, changed, or two
neighbours swapped) that the most items use. "hedphones" searches "headphones", "labtop"
"laptop". Words with a digit are model numbers and sizes and stay as typed, and so do words
shorter than :data:`MIN_LEN` (one edit turns "tv" into too many words). A word the catalog
has is never touched, however rare, nor a word whose stem it has ("vans" when it has "van":
the index matches them).

Candidates come from a deletion index (each catalog word filed under itself and under every
form with one letter dropped; a typed word looks up itself and its own one-letter drops), then
an exact check of the edit distance. Built in one pass over the text the backends search
(:meth:`Catalog.search_text`: a word found anywhere there is known); items added
since the build are read live, so a new brand is known (and never "corrected") from its first
request on. A changed title of an existing item counts from the next build.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

from engine.core.catalog import Catalog
from engine.core.text import tokens

MIN_LEN = 4  # shorter words are left as typed
MIN_ITEMS = 2  # a correction goes to a word at least this many items use
PER_KEY = 3  # words kept per deletion key, most used first
_WORD = re.compile(r"[a-z]+")
_TOKEN = re.compile(r"[^\W_]+")


def fold(text: str) -> str:
    """Lowercase, accents removed."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words(text: str) -> set[str]:
    """The letter-only words of ``text``, folded."""
    return set(_WORD.findall(fold(text)))


def stem(word: str) -> str:
    """The word as the search index analyses it (English stem), or itself."""
    analysed = tokens(word)
    return analysed[0] if analysed else word


def _drops(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def within_one_edit(a: str, b: str) -> bool:
    """Whether ``b`` is ``a`` with at most one letter dropped, added, changed, or two
    neighbours swapped."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        i, j = diff[0], diff[-1]
        return len(diff) == 2 and j == i + 1 and a[i] == b[j] and a[j] == b[i]
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    i = 0
    while i < len(short) and short[i] == long_[i]:
        i += 1
    return short[i:] == long_[i + 1 :]


@dataclass(frozen=True, slots=True)
class Speller:
    items_using: dict[str, int]  # word -> live items whose searched text has it
    by_key: dict[str, tuple[str, ...]]  # a word or one of its drops -> words, most used first
    stems: frozenset[str]  # the words' stems: "vans" is known when "van" is
    catalog: Catalog
    n_rows: int  # catalog rows at the build; rows appended since are read live
    # the words (and stems) of the rows appended since the build, read up to row _read[0]
    _added: set[str] = field(default_factory=set, repr=False)
    _read: list[int] = field(default_factory=list, repr=False)

    @staticmethod
    def build(catalog: Catalog) -> Speller:
        n = len(catalog)
        deleted = catalog.deleted.values
        counts: Counter[str] = Counter()
        for row in range(n):
            if not deleted[row]:
                counts.update(words(catalog.search_text(row)))
        keyed: dict[str, list[str]] = {}
        for word, used in counts.most_common():  # most used first in every key's list
            if used < MIN_ITEMS or len(word) < MIN_LEN - 1:
                continue
            for key in (word, *_drops(word)):
                keep = keyed.setdefault(key, [])
                if len(keep) < PER_KEY:
                    keep.append(word)
        by_key = {k: tuple(v) for k, v in keyed.items()}
        return Speller(dict(counts), by_key, frozenset(map(stem, counts)), catalog, n)

    def _words_added(self) -> set[str]:
        """The words of the rows appended since the build, and their stems; each new row is
        read once (a steady stream of new items costs a request only its own rows)."""
        n = len(self.catalog)
        start = self._read[0] if self._read else self.n_rows
        if start < n:
            found: set[str] = set()
            for row in range(start, n):
                found |= words(self.catalog.search_text(row))
            self._added.update(found | set(map(stem, found)))
            self._read[:] = [n]
        return self._added

    def known(self, word: str) -> bool:
        """Whether the backends would match ``word``: the catalog has it or its stem."""
        if word in self.items_using:
            return True
        root = stem(word)
        return root in self.stems or word in self._words_added() or root in self._words_added()

    def suggest(self, word: str) -> str | None:
        """The most used catalog word one edit from ``word``; None when ``word`` is known,
        too short, has a character other than a letter, or nothing is that close."""
        if len(word) < MIN_LEN or not word.isalpha() or not word.isascii() or self.known(word):
            return None
        found: set[str] = set()
        for key in (word, *_drops(word)):
            found.update(self.by_key.get(key, ()))
        close = [w for w in found if within_one_edit(word, w)]
        if not close:
            return None
        return max(close, key=lambda w: (self.items_using.get(w, 0), w))

    def correct(self, query: str) -> str | None:
        """``query`` with its unknown words corrected (:meth:`suggest`), or None when no word
        changes. Words are folded to lowercase and joined by single spaces."""
        typed = _TOKEN.findall(fold(query))
        fixed = [self.suggest(t) or t for t in typed]
        return " ".join(fixed) if fixed != typed else None
