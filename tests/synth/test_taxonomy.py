from __future__ import annotations

from synth.taxonomy import singular, taxonomy


def test_singular() -> None:
    assert singular("Phone Cases") == "phone case"
    assert singular("Mattresses") == "mattress"
    assert singular("Benches") == "bench"
    assert singular("Tool Batteries") == "tool battery"
    assert singular("Computer Mice") == "computer mouse"
    assert singular("Paint") == "paint"


def test_tree_shape_and_contiguous_ranges() -> None:
    tax = taxonomy()
    assert 10 <= tax.n_roots <= 12 and 250 <= tax.n_leaves <= 400
    lo, hi = tax.root_range()
    assert lo[0] == 0 and hi[-1] == tax.n_leaves and (lo[1:] == hi[:-1]).all()
    mlo, mhi = tax.mid_range()
    assert (tax.leaf_mid[mlo] == range(len(tax.mids))).all()
    assert (mhi - mlo >= 1).all()


def test_complements() -> None:
    tax = taxonomy()
    pairs = tax.complement_pairs
    assert len(pairs) >= 20
    names = tax.leaf_names()
    assert ["Electronics/Phones/Smartphones", "Electronics/Phones/Phone Cases"] in [
        [names[a], names[b]] for a, b in pairs.tolist()
    ]
    assert (tax.complement_of[pairs[:, 0]] == pairs[:, 1]).all()
    assert tax.complement_anchor[pairs[:, 0]].all()
    assert (tax.complement_of >= 0).sum() < tax.n_leaves // 4
