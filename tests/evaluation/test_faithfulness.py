"""Faithfulness (hand-computed on a linear stand-in, then on the real model and real tweets) and plausibility."""
from __future__ import annotations

import math
import re
import warnings

import numpy as np
import pytest

from interp_kit import Attribution, load_tweets
from interp_kit.attribution import MaskScorer
from interp_kit.evaluation.statistics import UndefinedMetricWarning
from interp_kit.evaluation.faithfulness import (
    FAITHFULNESS_COLUMNS, comprehensiveness, curve_auc, deletion_curve, faithfulness_scores, faithfulness_table,
    insertion_curve, loo_effects, loo_rank_correlation, random_attribution, sufficiency,
    summarize_by_method,
)
from interp_kit.viz import plot_curves
from interp_kit.evaluation.plausibility import (
    auprc, iou_at_k, plausibility_report, plausibility_table, rationale_mask, rationale_span, token_f1_at_k,
)

trapezoid = getattr(np, "trapezoid", None) or np.trapz


class LinearScorer:
    """Stand-in for MaskScorer: f(mask) = Σ w_i · mask_i, so every metric can be computed by hand."""

    def __init__(self, w):
        self.w = np.asarray(w, float)
        self.n_features = len(self.w)
        self.value_full, self.value_empty = float(self.w.sum()), 0.0
        self.calls = 0

    def __call__(self, masks):
        self.calls += 1
        return np.asarray(masks, float) @ self.w


class CountingScorer:
    """Wraps a real MaskScorer and counts model calls."""

    def __init__(self, scorer):
        self._scorer, self.calls = scorer, 0

    def __getattr__(self, name):
        return getattr(self._scorer, name)

    def __call__(self, masks):
        self.calls += 1
        return self._scorer(masks)


def make_attr(text, scores, method="m", target="positive"):
    spans = tuple((m.start(), m.end()) for m in re.finditer(r"\S+", text))
    return Attribution(text=text, features=tuple(text[a:b] for a, b in spans), spans=spans,
                       scores=np.asarray(scores, float), target=target, quantity="log_odds", value_full=1.0,
                       value_empty=0.0, prediction=target, probabilities={}, method=method)


TEXT = "I really love this sunny day"  # rationale "love this" -> features 2 and 3


# ---- hand-computed on a linear "model" -----------------------------------------------------------------------------
W = [4, 3, 2, 1, 0, 0, 0, 0, 0, -1]  # n = 10, f(full) = 9; fractions 0.1..0.5 -> k = 1..5


def test_comprehensiveness_and_sufficiency_hand_computed():
    s = LinearScorer(W)
    # removing the top k: f(full) - f = sum of the top k = 4, 7, 9, 10, 10 -> AOPC 8
    assert comprehensiveness(s, W) == pytest.approx(8.0)
    # keeping only the top k: f(full) - f = 9 - (4, 7, 9, 10, 10) -> AOPC 1
    assert sufficiency(s, W) == pytest.approx(1.0)
    assert s.calls == 2  # one batched call each
    reversed_scores = -np.asarray(W, float)  # worst ranking: removes -1 first, then the zeros
    assert comprehensiveness(s, reversed_scores) == pytest.approx(np.mean([-1, -1, -1, -1, -1]))
    assert sufficiency(s, reversed_scores) == pytest.approx(10.0)  # only -1 (and zeros) kept: 9 - (-1)
    # k = ceil(fraction * n), at least one: with n = 3 and fraction 0.1, the top feature alone
    assert comprehensiveness(LinearScorer([5, 1, 2]), [5, 1, 2], fractions=(0.1,)) == pytest.approx(5.0)
    assert comprehensiveness(LinearScorer(range(10)), range(10), fractions=(0.3,)) == pytest.approx(9 + 8 + 7)


def test_curves_hand_computed():
    s = LinearScorer(W)
    d = deletion_curve(s, W)
    assert d.x.tolist() == pytest.approx(np.linspace(0, 1, 11).tolist())
    assert d.y.tolist() == pytest.approx([9, 5, 2, 0, -1, -1, -1, -1, -1, -1, 0])
    assert d.auc == pytest.approx(trapezoid(d.y, d.x))
    i = insertion_curve(s, W)
    assert i.y.tolist() == pytest.approx([0, 4, 7, 9, 10, 10, 10, 10, 10, 10, 9])
    assert i.auc == pytest.approx(trapezoid(i.y, i.x))
    assert curve_auc([0, 0.5, 1], [2, 0, 2]) == pytest.approx(1.0)
    assert loo_effects(s).tolist() == pytest.approx(W)
    assert loo_rank_correlation(s, W) == pytest.approx(1.0)
    with pytest.warns(UndefinedMetricWarning, match="at least two features"):
        assert math.isnan(loo_rank_correlation(LinearScorer([2.0]), [1.0]))


def test_faithfulness_scores_one_call_matches_separate_functions():
    s = LinearScorer(W)
    scores = np.array([1, 3, 0, 2, 5, 4, 6, 9, 8, 7], float)
    res = faithfulness_scores(s, scores)
    assert s.calls == 1
    assert res["comprehensiveness"] == pytest.approx(comprehensiveness(s, scores))
    assert res["sufficiency"] == pytest.approx(sufficiency(s, scores))
    assert res["deletion"].y.tolist() == pytest.approx(deletion_curve(s, scores).y.tolist())
    assert res["insertion_auc"] == pytest.approx(insertion_curve(s, scores).auc)
    assert res["loo_spearman"] == pytest.approx(loo_rank_correlation(s, scores))
    with pytest.raises(ValueError, match="features"):
        comprehensiveness(s, [1, 2, 3])


# ---- the real model on real tweets -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def loo_attrs(clf, kaggle_train_csv):
    """Leave-one-out attributions (a real attribution: each word's effect) of 6 short real tweets."""
    tweets = load_tweets(str(kaggle_train_csv), label_space="binary", n=300, seed=0)
    picked = [(t, r, lab) for t, r, lab in zip(tweets.texts, tweets.rationales, tweets.labels)
              if 4 <= len(t.split()) <= 6][:6]  # short tweets keep the test quick on 2 CPU cores
    assert len(picked) == 6
    out = []
    for text, rationale, label in picked:
        scorer = MaskScorer(clf, text)
        out.append((scorer, scorer.result(loo_effects(scorer), "leave_one_out", 0.0), rationale, label))
    return out


@pytest.mark.slow
def test_loo_beats_random_baseline(clf, loo_attrs):
    attrs = [a for _, a, _, _ in loo_attrs]
    table = faithfulness_table(clf, {"loo": attrs}, include_random=True, seed=0)
    assert list(table["method"]) == ["loo", "random"] * 6  # one random baseline row per text
    report = summarize_by_method(table, list(FAITHFULNESS_COLUMNS.values()))  # what faithfulness_report returns
    assert list(report.index) == ["loo", "random"]
    loo, rnd = report.loc["loo"], report.loc["random"]
    assert loo["comprehensiveness ↑"] > rnd["comprehensiveness ↑"]
    assert loo["sufficiency ↓"] < rnd["sufficiency ↓"]
    assert loo["deletion AUC ↓"] < rnd["deletion AUC ↓"]
    assert loo["insertion AUC ↑"] > rnd["insertion AUC ↑"]
    assert loo["LOO Spearman ↑"] > 0.9  # the table's own LOO effects reproduce the attribution's
    assert (report["n_texts"] == 6).all() and (report["quantity"] == "log_odds").all()
    for (_, a, _, _), f_full in zip(loo_attrs, table["value_full"][::2]):
        assert f_full == pytest.approx(a.value_full, abs=1e-4)


@pytest.mark.slow
def test_real_curves_end_exactly_at_full_and_empty(loo_attrs):
    scorer, attr = loo_attrs[0][0], loo_attrs[0][1]
    counting = CountingScorer(scorer)
    d = deletion_curve(counting, attr.scores)
    assert counting.calls == 1
    assert d.y[0] == scorer.value_full and d.y[-1] == scorer.value_empty
    assert d.auc == pytest.approx(trapezoid(d.y, d.x), abs=1e-12)
    res = faithfulness_scores(counting, attr.scores)
    assert counting.calls == 2  # every mask of every metric in one more call
    i = res["insertion"]
    assert i.y[0] == scorer.value_empty and i.y[-1] == scorer.value_full
    assert np.allclose(res["deletion"].y, d.y, atol=1e-4)
    # comprehensiveness at fraction q is f(full) minus the deletion curve after ceil(q·n) removals
    n = scorer.n_features
    ks = [max(1, math.ceil(q * n - 1e-9)) for q in (0.1, 0.2, 0.3, 0.4, 0.5)]
    assert res["comprehensiveness"] == pytest.approx(np.mean([scorer.value_full - d.y[k] for k in ks]), abs=1e-4)
    assert plot_curves({"leave_one_out": d}).axes


def test_random_baseline_is_seeded():
    attr = make_attr(TEXT, np.arange(6.0))
    a1 = random_attribution(attr, np.random.default_rng(3))
    a2 = random_attribution(attr, np.random.default_rng(3))
    assert a1.method == "random" and np.array_equal(a1.scores, a2.scores)
    assert a1.features == attr.features and a1.target == attr.target


# ---- plausibility ------------------------------------------------------------------------------------------------


def test_rationale_span_and_mask():
    attr = make_attr(TEXT, np.zeros(6))
    assert rationale_span(TEXT, "love this") == (9, 18)
    assert rationale_span(TEXT, "LOVE This") == (9, 18)  # case-insensitive fallback
    assert rationale_span(TEXT, "love   this") == (9, 18)  # whitespace fallback
    assert rationale_mask(attr, "love this").tolist() == [False, False, True, True, False, False]
    assert rationale_mask(attr, "ove th").tolist() == [False, False, True, True, False, False]  # overlap
    assert rationale_mask(attr, (2, 5)).tolist() == [False, True, False, False, False, False]  # a span
    with pytest.warns(UndefinedMetricWarning, match="none given"):
        assert rationale_span(TEXT, None) is None
    with pytest.warns(UndefinedMetricWarning, match="not found"):
        assert rationale_span(TEXT, "hate") is None


def test_plausibility_hand_computed():
    good = make_attr(TEXT, [0.1, 0.2, 3.0, 2.0, 0.5, 0.0])
    assert auprc(good, "love this") == pytest.approx(1.0)
    assert token_f1_at_k(good, "love this") == pytest.approx(1.0)
    assert iou_at_k(good, "love this") == pytest.approx(1.0)
    bad = make_attr(TEXT, [3.0, 2.0, -1.0, -2.0, 1.0, 0.5])  # rationale words ranked 5th and 6th
    assert auprc(bad, "love this") == pytest.approx(0.5 * (1 / 5) + 0.5 * (2 / 6))
    assert token_f1_at_k(bad, "love this") == 0.0
    assert iou_at_k(bad, "love this") == 0.0
    half = make_attr(TEXT, [0, 0, 3.0, 0, 2.0, 0])  # top-2 = {love, sunny}: one of two
    assert token_f1_at_k(half, "love this") == pytest.approx(0.5)
    assert iou_at_k(half, "love this") == pytest.approx(1 / 3)
    assert token_f1_at_k(half, "love this", k=3) == pytest.approx(2 * (1 / 3) * (1 / 2) / (1 / 3 + 1 / 2))
    with pytest.warns(UndefinedMetricWarning, match="covers every feature"):
        assert math.isnan(auprc(good, TEXT))  # a whole-text (neutral-style) rationale is degenerate


def test_plausibility_report_with_random_baseline_and_neutral_excluded():
    texts = [TEXT, "what a terrible awful morning", "just a normal day"]
    rationales = ["love this", "terrible awful", "just a normal day"]
    labels = ["positive", "negative", "neutral"]
    good = [make_attr(texts[0], [0, 0, 3, 2, 0, 0]), make_attr(texts[1], [0, 0, 2, 3, 0], target="negative"),
            make_attr(texts[2], [1, 0, 0, 0], target="neutral")]
    with warnings.catch_warnings():
        warnings.simplefilter("error", UndefinedMetricWarning)  # reasons go into the table, not warnings
        report = plausibility_report({"good": good}, rationales, labels=labels, seed=0)
        table = plausibility_table({"good": good}, rationales, labels=labels, exclude_labels=(), seed=0)
    assert list(report.index) == ["good", "random"]
    assert report.loc["good", "AUPRC ↑"] == pytest.approx(1.0)
    assert report.loc["good", "token F1@k ↑"] == pytest.approx(1.0)
    assert report.loc["good", "IOU@k ↑"] == pytest.approx(1.0)
    assert report.loc["random", "AUPRC ↑"] < 1.0
    assert (report["n_texts"] == 2).all() and (report["n_undefined"] == 0).all()
    neutral = table[table["label"] == "neutral"]
    assert neutral["AUPRC ↑"].isna().all() and neutral["nan_reason"].str.contains("every feature").all()


def test_real_rationales_map_onto_words(kaggle_train_csv):
    """Every Kaggle and offline-sample rationale among 300 non-neutral tweets is found in its text."""
    for source in (str(kaggle_train_csv), "offline"):
        tweets = load_tweets(source, label_space="binary", n=300, seed=0)
        for text, rationale in zip(tweets.texts, tweets.rationales):
            attr = make_attr(text, np.zeros(len(text.split())))
            mask = rationale_mask(attr, rationale)
            assert mask is not None and mask.any(), (text, rationale)


def test_faithfulness_report_per_method_with_random_row(monkeypatch):
    """faithfulness_report on a linear stand-in for the model: means per method, random last, seeded."""
    import interp_kit.evaluation.faithfulness as fm

    weights = {"a b c d e": [3.0, 0.0, 1.0, 0.0, -2.0], "f g h i": [0.0, 2.0, 0.0, 1.0]}

    class FakeMaskScorer(LinearScorer):
        def __init__(self, classifier, text, target=None, quantity="log_odds", granularity="word", absent="delete"):
            super().__init__(weights[text])
            self.features = tuple(text.split())

    monkeypatch.setattr(fm, "MaskScorer", FakeMaskScorer)
    exact = [make_attr(t, w) for t, w in weights.items()]
    for a in exact:
        a.value_full = float(np.sum(weights[a.text]))
    report = fm.faithfulness_report(None, {"exact": exact}, seed=0, fractions=(0.2,))
    assert list(report.index) == ["exact", "random"]
    # k = 1: the top word removed -> 3 and 2; sufficiency: 2 - 3 = -1 and 3 - 2 = 1
    assert report.loc["exact", "comprehensiveness ↑"] == pytest.approx((3 + 2) / 2)
    assert report.loc["exact", "sufficiency ↓"] == pytest.approx((-1 + 1) / 2)
    assert report.loc["exact", "LOO Spearman ↑"] == pytest.approx(1.0)
    assert report.loc["random", "comprehensiveness ↑"] < 2.5
    assert list(report["n_texts"]) == [2, 2]
    again = fm.faithfulness_report(None, {"exact": exact}, seed=0, fractions=(0.2,))
    assert np.allclose(report["comprehensiveness ↑"], again["comprehensiveness ↑"])
