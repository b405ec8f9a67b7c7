from __future__ import annotations

import numpy as np

from synth.catalog import leaf_centers, make_catalog
from synth.queries import QueryBook, typo
from synth.taxonomy import taxonomy


def test_typo_ops() -> None:
    assert typo("sofa", 0, 0.0) == "sfoa"
    assert typo("sofa", 1, 0.0) == "sfa"
    assert typo("sofa", 2, 0.0) == "soofa"
    for op in range(3):
        for u in (0.0, 0.5, 0.99):
            out = typo("television", op, u)
            assert out != "television" and out[0] == "t"
    assert typo("butter", 0, 0.3) == "buter"


def test_queries_use_item_words() -> None:
    tax = taxonomy()
    rng = np.random.default_rng(0)
    cat = make_catalog(rng, tax, leaf_centers(rng, tax), 500, 0.0, 30 * 86_400.0)
    book = QueryBook()
    target = np.arange(500, dtype=np.int64)
    batch = book.write(np.random.default_rng(1), tax, cat, target)
    assert batch.query.shape == (500,)
    named = batch.brand >= 0
    assert (batch.brand[named] == cat.brand[named]).all()
    clean = ~batch.typo
    for k in np.flatnonzero(clean & named)[:50]:
        assert cat.brand_names[cat.brand[k]].lower() in book.strings[batch.query[k]]
    assert book.leaf[batch.query[0]] == cat.leaf[0]
