"""Influence and example-based explanations (lesson 08) on the real offline model and real training tweets."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from interp_kit import (InfluenceError, InfluenceExplorer, adapter_parameters, checkpoint_grads, compare_estimators,
                        datainf, datainf_from_grads, fine_tune, flip_labels, gradient_memory_check, knn_accuracy,
                        load_tweets, mislabel_detection, nearest_examples, per_example_grads, self_influence, tracin,
                        tracin_from_grads, weight_blocks)
from interp_kit.checks import CheckFailed, check_precision_at_k, check_tracin


@pytest.fixture(scope="module")
def noisy():
    """40 real training tweets with 10% of the labels flipped (seeded)."""
    train = load_tweets("tweets", split="train", n=40, seed=1)
    return flip_labels(train, 0.1, seed=0)


@pytest.fixture(scope="module")
def result(fresh_clf, noisy):
    """A small LoRA fine-tune on the noisy tweets, keeping two checkpoints."""
    tweets, _ = noisy
    return fine_tune(fresh_clf, tweets, epochs=1, batch_size=8, lr=1e-3, seed=0, progress=False, checkpoints=3)


@pytest.fixture(scope="module")
def test_tweets():
    return load_tweets("tweets", split="test", n=3, seed=0)


def test_fine_tune_keeps_checkpoints_with_their_learning_rates(result):
    cps = result.checkpoints
    assert [c["step"] for c in cps] == [3, 5]
    assert cps[0]["lr"] > cps[1]["lr"] > 0  # the linear schedule decays
    live = {k: p.detach().cpu() for k, p in result.classifier.model.named_parameters()
            if f".{result.classifier.adapter_name}." in k and "lora_" in k}
    assert set(cps[-1]["state"]) == set(live)
    assert all(torch.equal(cps[-1]["state"][k], live[k]) for k in live)  # the last checkpoint is the final adapter
    assert any(not torch.equal(cps[0]["state"][k], live[k]) for k in live)


def test_n_checkpoints_spreads_them_over_the_run(fresh_clf, noisy):
    every = fine_tune(fresh_clf, noisy[0].take(range(16)), batch_size=4, max_steps=4, progress=False, n_checkpoints=2)
    assert [c["step"] for c in every.checkpoints] == [2, 4]
    three = fine_tune(fresh_clf, noisy[0].take(range(12)), batch_size=4, progress=False, n_checkpoints=4)
    assert [c["step"] for c in three.checkpoints] == [1, 2, 3]  # 3 optimizer steps: at most one checkpoint each


def test_vmap_grads_equal_looped_grads(result, noisy):
    tweets = noisy[0].take(range(5))
    state = result.checkpoints[0]["state"]
    batched = per_example_grads(result, tweets, state=state, method="vmap", chunk_size=3)
    looped = per_example_grads(result, tweets, state=state, method="loop")
    assert batched.shape == looped.shape == (5, sum(v.numel() for v in state.values()))
    assert looped.abs().max() > 1e-3  # real, non-zero gradients
    assert (batched - looped).abs().max() <= 1e-5
    # the loop put the adapter back: the classifier still scores with its final weights
    final = per_example_grads(result, tweets.take([0]), method="loop")
    assert not torch.allclose(final, looped[:1])


def test_hooked_grads_equal_looped_grads(result, noisy):
    """The default batched path (one backward per chunk, hooks on the LoRA layers). In float32 its larger matrix
    products round differently from the loop's (about 2e-5 here), so the comparison runs on a float64 copy, where
    only the algorithm can differ; one tweet per chunk must match the loop exactly even in float32."""
    tweets = noisy[0].take(range(4))
    state = result.checkpoints[0]["state"]
    one = per_example_grads(result, tweets.take([0]), state=state, method="hooks", chunk_size=1)
    assert torch.equal(one, per_example_grads(result, tweets.take([0]), state=state, method="loop"))
    clf64 = copy.deepcopy(result.classifier)
    clf64.model.double()
    hooked = per_example_grads(clf64, tweets, state=state, method="hooks", chunk_size=4)
    looped = per_example_grads(clf64, tweets, state=state, method="loop")
    assert looped.abs().max() > 1e-3
    assert (hooked - looped).abs().max() <= 1e-5
    assert not any(p.grad is not None for p in clf64.model.parameters())  # no gradient left on the weights


def test_unknown_gradient_method_is_refused(result, noisy):
    with pytest.raises(InfluenceError, match="hooks, vmap, loop"):
        per_example_grads(result, noisy[0].take([0]), method="jvp")


def test_self_influence_finds_flipped_labels(result, noisy):
    tweets, flipped = noisy
    scores = self_influence(result, tweets)
    found = mislabel_detection(scores, flipped)
    rng = np.random.default_rng(0)
    random_aurocs = [mislabel_detection(rng.random(len(scores)), flipped)["auroc"] for _ in range(200)]
    assert found["auroc"] > np.quantile(random_aurocs, 0.9), (found, np.quantile(random_aurocs, 0.9))
    assert found[f"precision@{found['k']}"] > found[f"random precision@{found['k']}"]


@pytest.fixture(scope="module")
def traced(result, noisy, test_tweets):
    """TracIn of 8 training tweets on 2 test tweets (shared by the estimator and the widget tests)."""
    return tracin(result, noisy[0].take(range(8)), test_tweets.take([0, 1]))


def test_tracin_and_cosine_rank_training_tweets(result, noisy, test_tweets, traced):
    tweets, tests = noisy[0].take(range(8)), test_tweets.take([0, 1])
    tr = traced
    assert tr.scores.shape == (2, 8)
    g_train, g_test = checkpoint_grads(result, tweets), checkpoint_grads(result, tests)
    lrs = [c["lr"] for c in result.checkpoints]
    # tracin() without train_grads keeps one checkpoint's gradients at a time: the same sums, in the same order
    assert np.array_equal(tracin_from_grads(g_train, g_test, lrs), tr.scores)
    assert np.array_equal(tracin(result, tweets, tests, train_grads=g_train).scores, tr.scores)
    assert np.array_equal(self_influence(result, tweets), self_influence(result, tweets, train_grads=g_train))
    cos = tracin_from_grads(g_train, g_test, lrs, normalise=True)
    assert np.all(np.abs(cos) <= 1 + 1e-6)
    assert np.corrcoef(tr.scores.ravel(), cos.ravel())[0, 1] > 0.5  # the same direction, rescaled
    table = tr.table(0, k=2)
    assert list(table["role"]) == ["proponent"] * 2 + ["opponent"] * 2
    assert table["score"].iloc[0] >= table["score"].iloc[-1]
    # TracIn with only the last checkpoint differs: influence depends on the checkpoints kept
    last = tracin_from_grads(g_train[-1:], g_test[-1:], lrs[-1:])
    assert not np.allclose(last, tr.scores)


def test_datainf_equals_the_explicit_inverse():
    """DataInf's closed form is the mean of exact inverses of the damped rank-one terms (Sherman-Morrison), per
    weight block: checked against numpy's matrix inverse on seeded gradients."""
    rng = np.random.default_rng(0)
    blocks, n, m = [(0, 5), (5, 8)], 6, 2
    train, test = rng.normal(size=(n, 8)), rng.normal(size=(m, 8))
    expected = np.zeros((m, n))
    for a, b in blocks:
        g, v = train[:, a:b], test[:, a:b]
        lam = 0.1 * (g ** 2).sum(1).mean() / (b - a)
        inverse = np.mean([np.linalg.inv(np.outer(x, x) + lam * np.eye(b - a)) for x in g], axis=0)
        expected += v @ inverse @ g.T
    got = datainf_from_grads(torch.tensor(train), torch.tensor(test), blocks, damping=0.1)
    assert np.allclose(got, expected, rtol=1e-10, atol=0)
    with pytest.raises(InfluenceError, match="damping"):
        datainf_from_grads(torch.tensor(train), torch.tensor(test), blocks, damping=0)


def test_datainf_on_the_fine_tuned_adapter(clf, result, noisy, test_tweets, traced):
    tweets, tests = noisy[0].take(range(8)), test_tweets.take([0, 1])
    g_train = per_example_grads(result, tweets)
    scores = datainf(result, tweets, tests, train_grads=g_train)
    assert scores.scores.shape == (2, 8) and np.isfinite(scores.scores).all()
    blocks = weight_blocks(result)  # one per LoRA matrix (A and B of each adapted projection), covering every column
    assert len(blocks) == len(adapter_parameters(result)) and blocks[0][0] == 0 and blocks[-1][1] == g_train.shape[1]
    assert all(a[1] == b[0] for a, b in zip(blocks, blocks[1:]))
    # up-weighting a tweet lowers its own loss: the damped inverse is positive definite
    own = datainf_from_grads(g_train, g_train, blocks)
    assert (np.diag(own) > 0).all()
    table = compare_estimators(traced, scores, k=3)
    assert table["spearman"].between(-1, 1).all()
    with pytest.raises(InfluenceError, match="zero-shot"):
        datainf(clf, tweets, tests)
    with pytest.raises(InfluenceError, match="No tweets given"):
        datainf(result, tweets.take([]), tests)


def test_nearest_examples_and_knn(clf, result, noisy, test_tweets):
    train = load_tweets("tweets", split="train", n=16, seed=2)
    near = nearest_examples(result.classifier, train, test_tweets, k=3)
    assert near.indices.shape == (3, 3)
    assert np.all(np.diff(near.similarities, axis=1) <= 1e-9)
    assert list(near.table(0)["rank"]) == [1, 2, 3]
    acc_zs = knn_accuracy(clf, train, load_tweets("tweets", split="test", n=12, seed=0), k=3)
    assert 0.0 <= acc_zs <= 1.0


def test_bad_inputs_give_clear_errors(clf, result, noisy):
    tweets = noisy[0]
    with pytest.raises(InfluenceError, match="checkpoints"):
        tracin(result, tweets, tweets, checkpoints=[])
    with pytest.raises(InfluenceError, match="zero-shot"):
        self_influence(clf, tweets)
    with pytest.raises(InfluenceError, match="No tweets"):
        self_influence(result, tweets.take([]))
    with pytest.raises(InfluenceError, match="empty"):
        nearest_examples(clf, tweets.take([]), ["fine"])
    with pytest.raises(ValueError, match="checkpoints"):
        fine_tune(clf, tweets, checkpoints=0, progress=False)
    with pytest.raises(ValueError, match="n_checkpoints"):
        fine_tune(clf, tweets, checkpoints=2, n_checkpoints=2, progress=False)
    # gradients that would not fit in memory: refused before any model work, with the size and what to do
    need = gradient_memory_check(result, len(tweets.texts), 2)
    assert need == len(tweets.texts) * 2 * sum(p.numel() for p in adapter_parameters(result).values()) * 4
    with pytest.raises(InfluenceError, match=r"GiB .*fewer checkpoints"):
        checkpoint_grads(result, tweets, max_bytes=need - 1)


def test_widget_shows_proponents_and_opponents(test_tweets, traced):
    tr = traced
    w = InfluenceExplorer(tr, k=2)
    w.tweet.value = 1
    w.run()
    assert test_tweets.texts[1][:20].replace("&", "&amp;")[:10] in w.last_html
    best = tr.proponents(1, 1)[0]
    assert "Proponents" in w.last_html and "Opponents" in w.last_html
    assert w.last_html.index("Proponents") < w.last_html.index("Opponents")
    import html
    assert html.escape(tr.train_texts[best]) in w.last_html


def _tracin_ok(train_grads, test_grads, lrs):
    return sum(lr * (a @ b.T) for lr, a, b in zip(lrs, test_grads, train_grads)).numpy()


def test_check_tracin_passes_reference_and_fails_wrong_ones(result, noisy, test_tweets):
    tweets = noisy[0].take(range(3))
    check_tracin(_tracin_ok, result, tweets, test_tweets.take([0]))
    no_lr = lambda tr, te, lrs: sum(a @ b.T for a, b in zip(te, tr)).numpy()  # noqa: E731
    last_only = lambda tr, te, lrs: (lrs[-1] * te[-1] @ tr[-1].T).numpy()  # noqa: E731
    for wrong in (no_lr, last_only):
        with pytest.raises(CheckFailed):
            check_tracin(wrong, result, tweets, test_tweets.take([0]))


def test_check_precision_at_k_passes_reference_and_fails_wrong_ones():
    def ok(scores, flipped, k):
        return float(np.asarray(flipped)[np.argsort(-np.asarray(scores))[:k]].mean())

    def ascending(scores, flipped, k):
        return float(np.asarray(flipped)[np.argsort(np.asarray(scores))[:k]].mean())

    def recall(scores, flipped, k):
        return float(np.asarray(flipped)[np.argsort(-np.asarray(scores))[:k]].sum() / np.sum(flipped))

    check_precision_at_k(ok)
    for wrong in (ascending, recall):
        with pytest.raises(CheckFailed):
            check_precision_at_k(wrong)


def test_tracin_from_grads_needs_matching_lists():
    with pytest.raises(InfluenceError):
        tracin_from_grads([], [], [])


def test_checkpoints_survive_save_and_load(result, noisy, tmp_path):
    """save_adapter writes the kept checkpoints beside the adapter; TracIn on the reloaded adapter gives the same
    self-influence (run last: loading adds a second adapter to this module's model)."""
    from interp_kit import load_adapter, save_adapter

    path = save_adapter(result, tmp_path / "adapter")
    assert (path / "interp_kit_checkpoints.safetensors").exists()
    reloaded = load_adapter(result.classifier, path)
    assert [c["step"] for c in reloaded.checkpoints] == [c["step"] for c in result.checkpoints]
    assert [c["lr"] for c in reloaded.checkpoints] == pytest.approx([c["lr"] for c in result.checkpoints])
    first = result.checkpoints[0]["state"]
    mine = {k.replace(f".{result.classifier.adapter_name}.", f".{reloaded.adapter_name}."): v for k, v in first.items()}
    assert mine.keys() == reloaded.checkpoints[0]["state"].keys()
    assert all(torch.equal(v, reloaded.checkpoints[0]["state"][k]) for k, v in mine.items())
    few = noisy[0].take(range(3))
    assert np.allclose(self_influence(reloaded, few), self_influence(result, few), rtol=1e-5, atol=0)
