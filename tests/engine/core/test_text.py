import os
import subprocess
import sys

import numpy as np

from engine.core.text import attribute_ids, token_ids, tokens


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
