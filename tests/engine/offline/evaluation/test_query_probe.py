import numpy as np

from engine.offline.evaluation.query_probe import made_up_words

# the probe itself runs end to end on a trained world in tests/engine/app/test_jobs.py


def test_made_up_words_are_new_and_distinct() -> None:
    taken = {"lamp", "shoe"}
    words = made_up_words(np.random.default_rng(0), 50, taken)
    assert len(set(words)) == 50 and not taken & set(words)
    assert all(len(w) == 7 and w.isalpha() for w in words)
