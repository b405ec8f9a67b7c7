import numpy as np
import pytest

from graph.bipartite import Bipartite
from graph.evaluate import full_ranking
from graph.train import LightGCNConfig, train_lightgcn


def _blocks(seed: int = 0) -> tuple[Bipartite, Bipartite]:
    """Two communities: users 0-39 use items 0-29, users 40-79 items 30-59. Train and test are
    disjoint random halves of each user's community items."""
    rng = np.random.default_rng(seed)
    tr_u, tr_i, te_u, te_i = [], [], [], []
    for u in range(80):
        pool = np.arange(30) + (0 if u < 40 else 30)
        picks = rng.choice(pool, 12, replace=False)
        tr_u += [u] * 6
        tr_i += picks[:6].tolist()
        te_u += [u] * 6
        te_i += picks[6:].tolist()
    return (
        Bipartite.from_pairs(np.array(tr_u), np.array(tr_i), 80, 60),
        Bipartite.from_pairs(np.array(te_u), np.array(te_i), 80, 60),
    )


def test_lightgcn_learns_the_communities_and_keeps_its_best_evaluation() -> None:
    train, test = _blocks()
    seen: list[float] = []

    def evaluate(model):  # type: ignore[no-untyped-def]
        u, i = model.embeddings(train)
        r = full_ranking(u, i, train.interactions, test.interactions, k=10).recall
        seen.append(r)
        return {"recall@10": r}

    cfg = LightGCNConfig(
        dim=16,
        batch_size=128,
        lr=0.02,
        max_epochs=40,
        eval_every=5,
        target="recall@10",
        progress=False,
    )
    res = train_lightgcn(train, cfg, evaluate)
    assert len(res.history) == 8
    best = res.best
    assert best is not None and best.metrics["recall@10"] == max(seen)
    # chance is 10 / 54 unseen items ~ 0.19 of the 6 held-out; within the community ~ 0.42
    assert best.metrics["recall@10"] > 0.35
    u, i = res.model.embeddings(train)
    again = full_ranking(u, i, train.interactions, test.interactions, k=10).recall
    assert again == pytest.approx(best.metrics["recall@10"])  # the returned model is the best


def test_same_seed_same_model() -> None:
    train, _ = _blocks(1)
    cfg = LightGCNConfig(dim=8, batch_size=64, max_epochs=3, progress=False, threads=1)
    a = train_lightgcn(train, cfg).model
    b = train_lightgcn(train, cfg).model
    assert np.array_equal(a.item_emb.detach().numpy(), b.item_emb.detach().numpy())


def test_patience_stops_early() -> None:
    train, _ = _blocks(2)
    cfg = LightGCNConfig(
        dim=4, batch_size=64, max_epochs=50, eval_every=1, patience=2, progress=False
    )
    res = train_lightgcn(train, cfg, lambda m: {"recall@20": 0.5})  # never improves
    assert [c.epoch for c in res.history] == [1, 2, 3]
    assert res.best_epoch == 1


def test_several_negatives_estimate_the_same_loss() -> None:
    """m negatives per pair average m BPR terms: at a fixed model, the loss with many negatives
    is close to the mean of many one-negative losses."""
    import torch

    from graph.lightgcn import LightGCN
    from graph.sampling import BprSampler

    train, _ = _blocks(3)
    torch.manual_seed(0)
    model = LightGCN(train.n_users, train.n_items, dim=8)
    s = BprSampler(train.interactions, seed=4)
    u, p, n = s.sample(4000, negatives=16)
    many, _, _ = model.bpr_loss(
        train, torch.from_numpy(u), torch.from_numpy(p), torch.from_numpy(n), 1e-4
    )
    ones = [
        float(
            model.bpr_loss(
                train,
                torch.from_numpy(u),
                torch.from_numpy(p),
                torch.from_numpy(n[:, j].copy()),
                1e-4,
            )[0].detach()
        )
        for j in range(16)
    ]
    assert float(many.detach()) == pytest.approx(np.mean(ones), rel=1e-5)


def test_a_run_resumed_from_its_state_file_ends_where_one_run_ends(tmp_path) -> None:  # type: ignore[no-untyped-def]
    train, test = _blocks(4)

    def evaluate(model):  # type: ignore[no-untyped-def]
        u, i = model.embeddings(train)
        return {"recall@20": full_ranking(u, i, train.interactions, test.interactions).recall}

    cfg = LightGCNConfig(
        dim=8, batch_size=64, max_epochs=6, eval_every=2, threads=1, negatives=2, progress=False
    )
    whole = train_lightgcn(train, cfg, evaluate)
    state = tmp_path / "run.pt"
    first = train_lightgcn(
        train, cfg.model_copy(update={"max_epochs": 3}), evaluate, state_file=state
    )
    assert [c.epoch for c in first.history] == [2, 3]
    assert state.is_file()
    # the first sitting evaluated at its last epoch (3) too; the resumed one goes on from there
    resumed = train_lightgcn(train, cfg, evaluate, state_file=state)
    assert [c.epoch for c in resumed.history] == [2, 3, 4, 6]
    assert resumed.history[-1].seconds >= first.history[-1].seconds
    # same draws, same steps: the metrics at the shared epochs are exactly those of one run
    at = {c.epoch: c.metrics for c in resumed.history}
    for c in whole.history:
        assert at[c.epoch] == c.metrics
    with pytest.raises(ValueError, match=r"other settings \['lr'\]"):
        train_lightgcn(train, cfg.model_copy(update={"lr": 0.5}), evaluate, state_file=state)
