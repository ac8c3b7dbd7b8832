"""Every exercise check passes the reference solution and fails typical wrong solutions, on the real model."""
import itertools
import math

import numpy as np
import pytest
import torch

from interp_kit.checks import (CheckFailed, check_comprehensiveness, check_exact_shapley, check_gini,
                               check_label_score, check_label_token_loss, check_left_pad, check_log_odds,
                               check_occlusion, check_riemann_ig, check_training_example, list_exercises)


def test_every_lesson_01_to_05_has_two_exercises():
    for lesson in ("01", "02", "03", "04", "05"):
        assert len(list_exercises(lesson)) >= 2, lesson


# ---- lesson 01 ------------------------------------------------------------------------------------------------
def _last_logits(clf, ids, position=-1):
    with torch.inference_mode(), clf.model_context():
        return clf.model(torch.tensor([ids]), logits_to_keep=2).logits[0, position]


def label_score(clf, text):
    return _last_logits(clf, clf.prompt_ids(text))[list(clf.label_token_ids)]


def label_score_off_by_one(clf, text):
    return _last_logits(clf, clf.prompt_ids(text), position=-2)[list(clf.label_token_ids)]


def label_score_no_space(clf, text):
    ids = [clf.tokenizer.encode(w, add_special_tokens=False)[0] for w in clf.label_words]
    return _last_logits(clf, clf.prompt_ids(text))[ids]


def label_score_vocab_softmax(clf, text):
    return torch.softmax(_last_logits(clf, clf.prompt_ids(text)), -1)[list(clf.label_token_ids)]


def test_check_label_score(clf, capsys):
    assert check_label_score(label_score, clf)
    assert "✓ check_label_score passed" in capsys.readouterr().out
    for wrong in (label_score_off_by_one, label_score_no_space, label_score_vocab_softmax):
        with pytest.raises(CheckFailed, match="label logits"):
            check_label_score(wrong, clf)


def left_pad(seqs, pad_id):
    width = max(map(len, seqs))
    ids = torch.tensor([[pad_id] * (width - len(s)) + list(s) for s in seqs])
    return ids, torch.tensor([[0] * (width - len(s)) + [1] * len(s) for s in seqs])


def right_pad(seqs, pad_id):
    width = max(map(len, seqs))
    ids = torch.tensor([list(s) + [pad_id] * (width - len(s)) for s in seqs])
    return ids, torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in seqs])


def left_pad_mask_all_ones(seqs, pad_id):
    ids, mask = left_pad(seqs, pad_id)
    return ids, torch.ones_like(mask)


def left_pad_zero_ids(seqs, pad_id):
    return left_pad(seqs, 0)


def test_check_left_pad(clf):
    assert check_left_pad(left_pad, clf)
    with pytest.raises(CheckFailed, match="RIGHT padding"):
        check_left_pad(right_pad, clf)
    with pytest.raises(CheckFailed, match="attention_mask"):
        check_left_pad(left_pad_mask_all_ones, clf)
    with pytest.raises(CheckFailed, match="input_ids"):
        check_left_pad(left_pad_zero_ids, clf)


# ---- lesson 02 ------------------------------------------------------------------------------------------------
def training_example(clf, text, label):
    ids = clf.prompt_ids(text)
    token = clf.label_token_ids[clf.label_index(label)]
    return ids + [token], [-100] * len(ids) + [token]


def training_example_no_space(clf, text, label):
    ids = clf.prompt_ids(text)
    token = clf.tokenizer.encode(label, add_special_tokens=False)[0]
    return ids + [token], [-100] * len(ids) + [token]


def training_example_unmasked(clf, text, label):
    ids, _ = training_example(clf, text, label)
    return ids, list(ids)


def training_example_shifted(clf, text, label):
    ids, labels = training_example(clf, text, label)
    return ids, labels[1:] + [-100]


def test_check_training_example(clf):
    assert check_training_example(training_example, clf)
    with pytest.raises(CheckFailed, match="leading space"):
        check_training_example(training_example_no_space, clf)
    with pytest.raises(CheckFailed, match="positions carry a loss"):
        check_training_example(training_example_unmasked, clf)
    with pytest.raises(CheckFailed, match="labels of"):
        check_training_example(training_example_shifted, clf)


def label_token_loss(clf, text, label):
    logits = _last_logits(clf, clf.prompt_ids(text))
    return float(-torch.log_softmax(logits.float(), -1)[clf.label_token_ids[clf.label_index(label)]])


def label_token_loss_label_words_only(clf, text, label):
    logits = _last_logits(clf, clf.prompt_ids(text))[list(clf.label_token_ids)]
    return float(-torch.log_softmax(logits.float(), -1)[clf.label_index(label)])


def label_token_loss_one_late(clf, text, label):
    ids, _ = training_example(clf, text, label)
    logits = _last_logits(clf, ids)
    return float(-torch.log_softmax(logits.float(), -1)[ids[-1]])


def test_check_label_token_loss(clf):
    assert check_label_token_loss(label_token_loss, clf)
    for wrong in (label_token_loss_label_words_only, label_token_loss_one_late):
        with pytest.raises(CheckFailed, match="label-token loss"):
            check_label_token_loss(wrong, clf)


# ---- lesson 03 ------------------------------------------------------------------------------------------------
def log_odds(logits, target):
    p = np.exp(logits - logits.max())
    p /= p.sum()
    return math.log(p[target]) - math.log(1 - p[target])


def log_prob_only(logits, target):
    p = np.exp(logits - logits.max())
    return math.log(p[target] / p.sum())


def logit_difference(logits, target):  # right for two labels, wrong for three
    return float(logits[target] - np.delete(logits, target).max())


def test_check_log_odds(clf):
    assert check_log_odds(log_odds, clf)
    for wrong in (log_prob_only, logit_difference):
        with pytest.raises(CheckFailed, match="log-odds"):
            check_log_odds(wrong, clf)


def _coalitions(n, i):
    others = [j for j in range(n) if j != i]
    for size in range(n):
        for subset in itertools.combinations(others, size):
            mask = np.zeros(n, bool)
            mask[list(subset)] = True
            with_i = mask.copy()
            with_i[i] = True
            yield size, mask, with_i


def exact_shapley(value, n):
    phi = np.zeros(n)
    for i in range(n):
        for size, s, s_i in _coalitions(n, i):
            w = math.factorial(size) * math.factorial(n - size - 1) / math.factorial(n)
            phi[i] += w * (value(s_i) - value(s))
    return phi


def shapley_plain_average(value, n):
    return np.array([np.mean([value(s_i) - value(s) for _, s, s_i in _coalitions(n, i)]) for i in range(n)])


def shapley_wrong_weight(value, n):
    phi = np.zeros(n)
    for i in range(n):
        for size, s, s_i in _coalitions(n, i):
            phi[i] += math.factorial(size) * math.factorial(n - size) / math.factorial(n) * (value(s_i) - value(s))
    return phi


def test_check_exact_shapley(clf):
    assert check_exact_shapley(exact_shapley, clf)
    for wrong in (shapley_plain_average, shapley_wrong_weight, lambda v, n: -exact_shapley(v, n)):
        with pytest.raises(CheckFailed, match="Shapley values"):
            check_exact_shapley(wrong, clf)


# ---- lesson 04 ------------------------------------------------------------------------------------------------
def occlusion(value, n):
    full = value(np.ones(n, bool))
    return np.array([full - value(np.arange(n) != i) for i in range(n)])


def occlusion_keep_only(value, n):
    empty = value(np.zeros(n, bool))
    return np.array([value(np.arange(n) == i) - empty for i in range(n)])


def occlusion_cumulative(value, n):
    full = value(np.ones(n, bool))
    return np.array([full - value(np.arange(n) > i) for i in range(n)])


def test_check_occlusion(clf):
    assert check_occlusion(occlusion, clf)
    for wrong in (occlusion_keep_only, occlusion_cumulative, lambda v, n: -occlusion(v, n)):
        with pytest.raises(CheckFailed, match="occlusion scores"):
            check_occlusion(wrong, clf)


def _path_grads(f, x, baseline, n_steps):
    total = torch.zeros_like(x)
    for k in range(n_steps):
        z = (baseline + (k + 0.5) / n_steps * (x - baseline)).requires_grad_(True)
        total += torch.autograd.grad(f(z).sum(), z)[0]
    return total


def riemann_ig(f, x, baseline, n_steps):
    return ((x - baseline) * _path_grads(f, x, baseline, n_steps) / n_steps)[0].sum(-1)


def riemann_ig_no_difference(f, x, baseline, n_steps):
    return (_path_grads(f, x, baseline, n_steps) / n_steps)[0].sum(-1)


def riemann_ig_no_normalisation(f, x, baseline, n_steps):
    return ((x - baseline) * _path_grads(f, x, baseline, n_steps))[0].sum(-1)


def input_x_gradient(f, x, baseline, n_steps):
    x = x.clone().requires_grad_(True)
    return (x * torch.autograd.grad(f(x).sum(), x)[0])[0].sum(-1)


def test_check_riemann_ig(clf, capsys):
    assert check_riemann_ig(riemann_ig, clf)
    assert "convergence delta" in capsys.readouterr().out
    for wrong in (riemann_ig_no_difference, riemann_ig_no_normalisation, input_x_gradient):
        with pytest.raises(CheckFailed, match="integrated gradients"):
            check_riemann_ig(wrong, clf)
    with pytest.raises(CheckFailed, match="per embedding dimension"):
        check_riemann_ig(lambda f, x, b, n: (x - b)[0], clf)


# ---- lesson 05 ------------------------------------------------------------------------------------------------
def gini(scores):
    a = np.sort(np.abs(np.asarray(scores, float)))
    n = a.size
    return 2 * np.sum(np.arange(1, n + 1) * a) / (n * a.sum()) - (n + 1) / n


def gini_signed(scores):
    a = np.sort(np.asarray(scores, float))
    n = a.size
    return 2 * np.sum(np.arange(1, n + 1) * a) / (n * a.sum()) - (n + 1) / n


def gini_unsorted(scores):
    a = np.abs(np.asarray(scores, float))
    n = a.size
    return 2 * np.sum(np.arange(1, n + 1) * a) / (n * a.sum()) - (n + 1) / n


def gini_unnormalised(scores):
    a = np.sort(np.abs(np.asarray(scores, float)))
    n = a.size
    return 2 * np.sum(np.arange(1, n + 1) * a) - (n + 1)


def test_check_gini(clf):
    assert check_gini(gini, clf)
    for wrong in (gini_signed, gini_unsorted, gini_unnormalised):
        with pytest.raises(CheckFailed, match="gini of"):
            check_gini(wrong)


def comprehensiveness(value, scores, k):
    keep = np.ones(len(scores), bool)
    keep[np.argsort(-np.asarray(scores))[:k]] = False
    return value(np.ones(len(scores), bool)) - value(keep)


def comprehensiveness_lowest(value, scores, k):
    return comprehensiveness(value, -np.asarray(scores), k)


def comprehensiveness_by_magnitude(value, scores, k):
    return comprehensiveness(value, np.abs(scores), k)


def sufficiency_instead(value, scores, k):
    keep = np.zeros(len(scores), bool)
    keep[np.argsort(-np.asarray(scores))[:k]] = True
    return value(np.ones(len(scores), bool)) - value(keep)


def test_check_comprehensiveness(clf):
    assert check_comprehensiveness(comprehensiveness, clf)
    for wrong in (comprehensiveness_lowest, comprehensiveness_by_magnitude, sufficiency_instead):
        with pytest.raises(CheckFailed, match="comprehensiveness of"):
            check_comprehensiveness(wrong, clf)
