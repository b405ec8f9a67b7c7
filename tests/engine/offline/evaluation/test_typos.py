import random

from engine.core.spelling import within_one_edit
from engine.offline.evaluation.typos import mistype, with_typos


def test_a_typo_is_one_edit_after_the_first_letter() -> None:
    rng = random.Random(3)
    for word in ("headphones", "projector", "keyboard", "camera"):
        for _ in range(50):
            typo = mistype(word, rng)
            assert typo[0] == word[0] and within_one_edit(typo, word)


def test_each_query_with_a_long_word_gets_one_typo_the_same_on_every_run() -> None:
    judged = {"gaming laptop": {"a": 3}, "tv": {"b": 1}, "rtx 2060": {"c": 2}}
    typo, original = with_typos(judged, seed=0)
    assert set(original.values()) == {"gaming laptop"}  # "tv", "rtx 2060": no 5-letter word
    (q,) = typo
    changed = [a for a, b in zip(q.split(), ["gaming", "laptop"], strict=True) if a != b]
    assert len(changed) == 1 and typo[q] == {"a": 3}  # one word, the first longest
    assert with_typos(judged, seed=0) == (typo, original)
