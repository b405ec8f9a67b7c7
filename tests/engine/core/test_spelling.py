import pytest

from engine.core.spelling import Speller, within_one_edit
from tests.engine.fixtures import catalog, item


@pytest.mark.parametrize(
    ("a", "b", "close"),
    [
        ("laptop", "laptop", True),
        ("labtop", "laptop", True),  # one letter changed
        ("lapop", "laptop", True),  # one dropped
        ("laptopp", "laptop", True),  # one added
        ("alptop", "laptop", True),  # neighbours swapped
        ("lpatop", "laptop", True),
        ("labtopp", "laptop", False),  # two edits
        ("pltaop", "laptop", False),
        ("lap", "laptop", False),
    ],
)
def test_one_edit_is_a_drop_an_add_a_change_or_a_swap(a: str, b: str, close: bool) -> None:
    assert within_one_edit(a, b) is close and within_one_edit(b, a) is close


def _speller() -> Speller:
    return Speller.build(
        catalog(
            [
                item(0, title="Wireless headphones", brand="Sonix"),
                item(1, title="Studio headphones black", brand="Sonix"),
                item(2, title="Headphone stand"),
                item(3, title="Camper van blanket"),
                item(4, title="Gaming laptop 15 inch"),
                item(5, title="Laptop sleeve"),
                item(6, title="Lamp shade"),
                item(7, title="Lamp base"),
                item(8, title="Damp cloth"),
                item(9, title="Wireless mouse"),
                item(10, title="Blender jug", brand="Mixo"),
            ]
        )
    )


def test_an_unknown_word_becomes_the_most_used_catalog_word_one_edit_away() -> None:
    s = _speller()
    assert s.correct("hedphones") == "headphones"
    assert s.correct("Wireles HEADPHONES") == "wireless headphones"
    assert s.correct("labtop sleeve") == "laptop sleeve"
    assert s.correct("lamq") == "lamp"  # lamp (2 items) over damp (1) and nothing else
    assert s.correct("sonx") == "sonix"  # brands are words too
    assert s.correct("mixi") is None  # "mixo" is one item's: maybe the catalog's own typo


def test_known_words_numbers_and_short_words_stay_as_typed() -> None:
    s = _speller()
    assert s.correct("wireless headphones") is None  # nothing to correct
    assert s.correct("damp") is None  # known, however rare
    assert s.correct("vans") is None  # its stem "van" is in the catalog: the index matches it
    assert s.correct("laptop 15inch") is None  # a digit: a size or a model number
    assert s.correct("lmp") is None  # shorter than 4 letters
    assert s.correct("zzzzqq") is None  # nothing one edit away
    assert s.correct("") is None


def test_words_of_items_added_after_the_build_are_known_at_once() -> None:
    cat = catalog([item(0, title="Lamp shade"), item(1, title="Lamp base")])
    s = Speller.build(cat)
    assert s.correct("lamb") == "lamp"
    cat.upsert([item(2, title="Lamb wool throw")])  # a new word, one edit from "lamp"
    assert s.correct("lamb") is None
    cat.upsert([item(3, title="Vinyl records")])  # read on from where the last look stopped
    assert s.correct("vinyls") is None and s.correct("lamb wool") is None
