import os
import subprocess
import sys

import numpy as np

from engine.core.text import (
    attribute_ids,
    attribute_words,
    ordered_token_ids,
    product_codes,
    token_ids,
    tokens,
)


def test_tokens_are_the_index_analysis() -> None:
    assert tokens("Monitors, a Monitor!") == ["monitor", "monitor"]


def test_token_ids_are_sorted_unique_and_stem_aware() -> None:
    ids = token_ids("Monitors monitor cable")
    assert ids.tolist() == sorted(set(ids.tolist()))
    assert len(ids) == 2
    assert np.array_equal(token_ids("monitor cables"), ids)


def test_token_ids_are_the_same_in_every_process() -> None:
    text = "usb-c cable 2m black"
    code = f"from engine.core.text import token_ids; print(token_ids({text!r}).tolist())"
    seen = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        seen.add(out.stdout.strip())
    assert seen == {str(token_ids(text).tolist())}


def test_attribute_ids_are_one_per_key_and_word() -> None:
    ids = attribute_ids({"attribute_ids": "173 1 162", "colour": "red"})
    assert len(ids) == 4 and np.all(np.diff(ids) > 0)
    assert set(attribute_ids({"attribute_ids": "1"})) <= set(ids)  # single characters count
    assert not set(attribute_ids({"other": "1"})) & set(ids)  # the key is part of the id
    assert len(attribute_ids({})) == 0


def test_product_codes_are_kept_as_written_and_joined() -> None:
    codes = product_codes({"name": "dv7-1211ea", "ean": "0884420588030 0884420588047"})
    assert codes.split() == ["dv7-1211ea", "dv71211ea", "0884420588030", "0884420588047"]
    # a name without digits is a product name, not a code: nothing joined
    assert product_codes({"name": "Vent-Mount"}) == "Vent-Mount"
    assert product_codes({"colour": "red"}) == ""
    # every spelling a shopper types finds one of the tokens
    indexed = set(tokens(codes))
    for typed in ("dv7-1211ea", "DV7 1211EA", "dv71211ea"):
        assert set(tokens(typed)) <= indexed


def test_attribute_words_leave_out_codes_and_the_variant_group() -> None:
    words = attribute_words(
        {"name": "X1", "ean": "123", "type": "Notebook", "variant_group": "g1", "colour": "Silver"}
    )
    assert words == "Notebook Silver"


def test_ordered_token_ids_keep_order_and_repeats() -> None:
    ids = ordered_token_ids("Mouse pad for a mouse")
    assert len(ids) == 4  # "a" is too short to be a token
    assert ids[0] == ids[3] and set(ids.tolist()) == set(token_ids("mouse pad for").tolist())
