"""The attribution engine on the real offline model and real tweets.

Tolerances (fp32 on CPU):
* agreement with captum's LLMAttribution (same features, same target token, quantity log_prob): 1e-4 absolute;
  the two differ only by batching, right padding and the cached prefix (measured ~1e-5);
* efficiency, sum(scores) = f(all) - f(none): SHAP Partition and exact Shapley 1e-4, ShapleyValueSampling 1e-4,
  KernelShap 1e-2 (captum's fit weights the two end coalitions 1e6, not infinitely);
* ShapleyValueSampling vs exact Shapley: the error falls as n_samples grows 4 -> 40 -> 400 and is at most 10% of
  the largest |exact value| at 400 samples.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from interp_kit import load_tweets
from interp_kit.attribution import MaskScorer
from interp_kit.attribution.reference import assert_same_sequences, captum_template_input, llm_attribution
from interp_kit.attribution import (all_subset_masks, explain, explain_many, get_method, list_methods, score_masks,
                                    shapley_from_subsets)

LLM_ATTR_TOL = 1e-4


@pytest.fixture(scope="module")
def short_tweets(kaggle_test_csv):
    """Real binary tweets of 5 to 8 words (short, so exact Shapley values and captum's loop stay cheap)."""
    tweets = load_tweets(str(kaggle_test_csv), label_space="binary")
    picked = [t for t in tweets.texts if 5 <= len(t.split()) <= 8]
    assert len(picked) >= 3
    return picked[:3]


@pytest.fixture(scope="module")
def tweet(short_tweets):
    return short_tweets[0]


def _llm_attribution(clf, algorithm, text, target, **kwargs):
    theirs, scorer, _ = llm_attribution(clf, algorithm, text, target, **kwargs)
    return theirs, scorer


def test_features_are_the_tweet_words_only(clf, tweet):
    a = explain(clf, tweet, method="feature_ablation")
    assert a.features == tuple(tweet.split())
    assert all(tweet[s:e] == w for w, (s, e) in zip(a.features, a.spans))
    assert len(a.scores) == len(a.features) and np.all(np.isfinite(a.scores))
    assert a.target == a.prediction and a.method == "feature_ablation" and a.n_evaluations > len(a.features)
    assert a.extras["absent"] == "delete" and a.seconds > 0
    # f(all) is the classifier's own score of the tweet
    p = clf.predict_proba([tweet])[0]
    assert abs(a.probabilities[a.target] - p[clf.label_index(a.target)]) < 1e-4


def test_feature_ablation_matches_llm_attribution(clf, tweet):
    from captum.attr import FeatureAblation

    theirs, scorer = _llm_attribution(clf, FeatureAblation, tweet, target=None)
    ours = explain(clf, tweet, method="feature_ablation", quantity="log_prob", target=scorer.target)
    np.testing.assert_allclose(ours.scores, theirs, atol=LLM_ATTR_TOL, rtol=0)


def test_deleting_a_word_matches_deleting_it_from_the_text(clf, kaggle_test_csv):
    """Real tweets with a word starting with a digit: SmolLM2 splits " 3" into " " + "3", and the space must go
    with the "3" so that deleting the word before it does not glue the two (captum renders the text)."""
    import re

    tweets = load_tweets(str(kaggle_test_csv), label_space="binary").texts
    picked = [t for t in tweets if re.search(r"\s\d", t.strip()) and len(t.split()) <= 12][:2]
    assert picked
    for text in picked:
        scorer = MaskScorer(clf, text)
        assert_same_sequences(clf, scorer, captum_template_input(clf, list(scorer.features)))


@pytest.mark.parametrize("absent, pack_tokens", [("delete", None), ("baseline", None), ("delete", 48),
                                                  ("delete", 0), ("baseline", 0)])
def test_mask_scorer_equals_plain_forward(clf, kaggle_test_csv, absent, pack_tokens):
    """The scorer reuses the prompt's keys/values up to each mask's first absent token, packing masked prompts
    into one sequence (CPU default; 48 tokens forces several packed passes) or padding them into batches (0, the
    GPU default); random masks on a real tweet score the same as full prompts run without any cache."""
    text = next(t for t in load_tweets(str(kaggle_test_csv), label_space="binary").texts if len(t.split()) >= 12)
    scorer = MaskScorer(clf, text, absent=absent, batch_size=7, pack_tokens=pack_tokens)
    rng = np.random.default_rng(0)
    masks = rng.random((24, scorer.n_features)) < 0.6
    masks[0], masks[1] = True, False
    ours_logits, ours_z = scorer._label_logits(masks, with_log_z=True)
    full = [list(clf.prefix_ids) + scorer.continuation(m) for m in masks]
    plain_logits, plain_z = clf.label_logits_from_ids(full, with_log_z=True)
    np.testing.assert_allclose(ours_logits.numpy(), plain_logits.numpy(), atol=1e-4, rtol=0)
    np.testing.assert_allclose(ours_z.numpy(), plain_z.numpy(), atol=1e-4, rtol=0)


def test_packed_attention_runs_per_prompt_and_is_restored(clf, tweet, monkeypatch):
    """On CPU the packed masked prompts go through the per-prompt attention (a Llama model qualifies), the model's
    own attention setting is back afterwards, and the scores equal the padded-batch path's."""
    from interp_kit.engine import packed as core

    calls, real = [], core.packed_attention

    def spy(*args, packed_segments=None, **kwargs):
        calls.append(packed_segments is not None)
        return real(*args, packed_segments=packed_segments, **kwargs)

    monkeypatch.setattr(core, "packed_attention", spy)
    before = clf.model.config._attn_implementation
    packed = explain(clf, tweet, method="shapley_value_sampling", budget=3, pack_tokens=1024)
    assert calls and all(calls)  # every layer of every packed pass: per-prompt attention
    assert clf.model.config._attn_implementation == before
    padded = explain(clf, tweet, method="shapley_value_sampling", budget=3, pack_tokens=0)
    np.testing.assert_allclose(packed.scores, padded.scores, atol=1e-4, rtol=0)


def test_shapley_value_sampling_matches_llm_attribution(clf, short_tweets):
    from captum.attr import ShapleyValueSampling

    text, seed = short_tweets[1], 7
    torch.manual_seed(seed)  # captum draws its orderings from torch's global generator
    theirs, scorer = _llm_attribution(clf, ShapleyValueSampling, text, target="positive", n_samples=2)
    ours = explain(clf, text, method="shapley_value_sampling", quantity="log_prob", target="positive", budget=2,
                   seed=seed)
    np.testing.assert_allclose(ours.scores, theirs, atol=LLM_ATTR_TOL, rtol=0)


@pytest.mark.parametrize("method, budget, tol", [("shap", 200, 1e-4), ("kernel_shap", 60, 1e-2),
                                                 ("shapley_value_sampling", 4, 1e-4), ("exact_shapley", None, 1e-4)])
def test_efficiency(clf, short_tweets, method, budget, tol):
    a = explain(clf, short_tweets[2], method=method, budget=budget)
    gap = a.scores.sum() - (a.value_full - a.value_empty)
    assert abs(gap) <= tol, gap
    assert abs(a.extras["efficiency_gap"] - gap) < 1e-9


def test_shapley_value_sampling_converges_to_exact(clf, tweet):
    scorer = MaskScorer(clf, tweet)
    n = scorer.n_features
    assert n <= 8
    exact = shapley_from_subsets(score_masks(scorer, all_subset_masks(n)), n)  # all 2^n coalitions, batched
    np.testing.assert_allclose(explain(clf, tweet, method="exact_shapley").scores, exact, atol=1e-5)
    errors = [np.abs(explain(clf, tweet, method="shapley_value_sampling", budget=k, seed=0).scores - exact).max()
              for k in (4, 40, 400)]
    assert errors[0] > errors[1] > errors[2], errors
    assert errors[2] <= 0.1 * np.abs(exact).max(), errors


def test_target_selection_and_the_class_mean_trap(clf, tweet):
    pos = explain(clf, tweet, method="feature_ablation", target="positive")
    neg = explain(clf, tweet, method="feature_ablation", target="negative")
    assert pos.target == "positive" and neg.target == "negative" and pos.prediction == neg.prediction
    # two labels, log-odds: the explanations of the two targets are exact negatives; their mean says nothing
    np.testing.assert_allclose(pos.scores, -neg.scores, atol=1e-5)
    assert np.abs((pos.scores + neg.scores) / 2).max() < 1e-5
    with pytest.raises(ValueError, match="Unknown label"):
        explain(clf, tweet, method="feature_ablation", target="neutral")


def test_token_granularity(clf, tweet):
    a = explain(clf, tweet, method="shap", granularity="token", budget=100)
    tt = clf.tokenize_tweet(tweet)
    assert a.granularity == "token" and len(a.features) == len(tt.token_ids) > len(tweet.split())
    assert "".join(tweet[s:e] for s, e in a.spans).replace(" ", "") == tweet.replace(" ", "")
    assert abs(a.scores.sum() - (a.value_full - a.value_empty)) < 1e-4


def test_absent_baseline_keeps_positions(clf, tweet):
    delete = explain(clf, tweet, method="feature_ablation")
    base = explain(clf, tweet, method="feature_ablation", absent="baseline")
    assert base.extras["absent"] == "baseline" and base.extras["baseline_token_id"] == clf.tokenizer.pad_token_id
    scorer = MaskScorer(clf, tweet, absent="baseline")
    n = scorer.n_features
    assert len(scorer.continuation(np.zeros(n, bool))) == len(scorer.continuation(np.ones(n, bool)))
    assert base.value_full == pytest.approx(delete.value_full, abs=1e-5)
    assert base.value_empty != pytest.approx(delete.value_empty, abs=1e-3)


def test_lime_and_explain_many(clf, short_tweets):
    out = explain_many(clf, short_tweets[:2], method="lime", budget=40, target=["negative", "positive"],
                       progress=False)
    assert [a.target for a in out] == ["negative", "positive"]
    assert all(np.all(np.isfinite(a.scores)) and a.extras["n_samples"] == 40 for a in out)


def test_gradient_methods_on_zero_shot_model(clf, tweet):
    scorer = MaskScorer(clf, tweet, absent="baseline")
    f = scorer.embedding_forward()
    with torch.no_grad():  # the embedding path computes the same score as the token path
        assert float(f(f.tweet_embeds)[0]) == pytest.approx(scorer.value_full, abs=1e-4)
        assert float(f(f.baseline_embeds)[0]) == pytest.approx(scorer.value_empty, abs=1e-4)
        # many points of the integration path in one batch (the cached prefix shared) = one at a time
        path = [f.baseline_embeds + a * (f.tweet_embeds - f.baseline_embeds) for a in (0.0, 0.3, 0.7, 1.0)]
        np.testing.assert_allclose(f(torch.cat(path)).numpy(), torch.cat([f(x) for x in path]).numpy(), atol=1e-4)
    ig = explain(clf, tweet, method="integrated_gradients", budget=8)
    assert ig.extras["absent"] == "baseline" and np.isfinite(ig.extras["convergence_delta"])
    # completeness: the scores sum to f(x) - f(baseline) up to the convergence delta
    assert ig.scores.sum() - (ig.value_full - ig.value_empty) == pytest.approx(ig.extras["convergence_delta"], abs=1e-4)
    assert all(p.grad is None for p in clf.model.parameters())  # gradients only for the inputs
    with pytest.raises(ValueError, match="gradient method"):
        explain(clf, tweet, method="saliency", absent="delete")


def test_methods_on_a_lora_model(runtime, model_and_tokenizer, clf, tweet):
    """Random non-zero LoRA on a separately loaded model: every family runs, adapters on vs off matter."""
    from peft import LoraConfig, get_peft_model

    from interp_kit import ZeroShotClassifier, load_model

    base, tokenizer = load_model("offline", runtime)  # get_peft_model mutates the model: never the shared one
    torch.manual_seed(0)
    peft_model = get_peft_model(base, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    peft_model.eval()
    tuned = ZeroShotClassifier(peft_model, tokenizer, clf.label_names, use_adapter=True)
    zero = ZeroShotClassifier(peft_model, tokenizer, clf.label_names, use_adapter=False)
    for method, budget in [("integrated_gradients", 4), ("saliency", None), ("input_x_gradient", None),
                           ("shap", 40)]:
        a = explain(tuned, tweet, method=method, budget=budget, target="positive")
        assert np.all(np.isfinite(a.scores)) and "LoRA" in a.model, method
        if method == "integrated_gradients":
            assert np.isfinite(a.extras["convergence_delta"])
        if method in ("input_x_gradient", "shap"):
            b = explain(zero, tweet, method=method, budget=budget, target="positive")
            c = explain(clf, tweet, method=method, budget=budget, target="positive")
            np.testing.assert_allclose(b.scores, c.scores, atol=1e-4)  # adapters off = the untouched base model
            assert np.abs(a.scores - b.scores).max() > 1e-3, method  # adapters on change the explanation
    assert all(p.grad is None for p in peft_model.parameters())


def test_errors_are_clear(clf):
    with pytest.raises(ValueError, match="empty"):
        explain(clf, "   ", method="feature_ablation")
    with pytest.raises(ValueError, match="Available: shap, feature_ablation"):
        explain(clf, "good day", method="deeplift")
    with pytest.raises(ValueError, match="2\\*\\*20"):
        explain(clf, " ".join(["word"] * 20), method="exact_shapley")


def test_registry():
    methods = list_methods()
    assert {"shap", "feature_ablation", "shapley_value_sampling", "kernel_shap", "lime", "integrated_gradients",
            "saliency", "input_x_gradient"} <= set(methods)
    assert get_method("integrated_gradients").family == "gradient" and get_method("lime").family == "perturbation"
    assert get_method("shapley_value_sampling").estimate_cost(10, 20) == 201
    assert get_method("Feature-Ablation").name == "feature_ablation"


def test_every_method_explains_a_one_word_tweet(clf):
    """Real tweets can be one word; shap's text masker and captum's KernelShap cannot sample one feature, so the
    kit gives the exact Shapley value there: f(all) - f(none)."""
    for method in list_methods():
        budget = 10 if get_method(method).budget_name else None
        a = explain(clf, "awesome", method=method, budget=budget)
        assert a.features == ("awesome",) and np.all(np.isfinite(a.scores)), method
        if get_method(method).efficient and get_method(method).family == "perturbation":  # IG: up to its delta
            assert a.scores[0] == pytest.approx(a.value_full - a.value_empty, abs=1e-4), method
