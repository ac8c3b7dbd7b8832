"""Inside the model on the real offline model and real tweets: logit lens, activation patching, attention, probes,
the same on a PEFT (LoRA) model, clear errors, the lesson 06 widgets and exercise checks."""
import numpy as np
import pytest
import torch

from interp_kit import (InternalsError, Patching, answer_attention, attention_vs_attribution, explain, load_tweets,
                        logit_lens, logit_lens_positions, patch_margin, patch_sweep, probe_layers, residual_stream)
from interp_kit.internals import label_margin

PAIR = ("I love this movie", "I hate this movie")


@pytest.fixture(scope="module")
def test_tweets():
    return load_tweets("tweets", split="test", label_space="binary", n=6, seed=3)


def own_ids(clf, texts):
    return [list(clf.tokenize_tweet(t).token_ids) for t in texts]


# ---- hook points (engine): the cached-prefix and answer-only paths read the same computation ---------------------
def test_share_prefix_answer_only_and_past_match_whole_prompts(clf, test_tweets):
    hooks = clf.engine.hooks()
    ids = own_ids(clf, test_tweets.texts[:4])
    points = ["resid_pre.0", "attn_out.5", "mlp_out.5", "resid_post.12"]
    whole = hooks.run(ids, read=points)
    shared = hooks.run(ids, read=points, share_prefix=True)
    answer = hooks.run(ids, read=points, share_prefix=True, answer_only=True)
    for p in points:
        torch.testing.assert_close(shared.at(p), whole.at(p), atol=1e-4, rtol=0)
        torch.testing.assert_close(answer.at(p), whole.at(p), atol=1e-4, rtol=0)
        for a, b in zip(shared.at(p, "tweet"), whole.at(p, "tweet")):
            torch.testing.assert_close(a, b, atol=1e-4, rtol=0)
    torch.testing.assert_close(shared.label_logits, whole.label_logits, atol=1e-4, rtol=0)
    with pytest.raises(ValueError, match="answer position only"):
        answer.at(points[0], "tweet")
    with pytest.raises(ValueError, match="no prefix activations"):
        shared.at(points[0], "prefix")
    # continuing a kept cache after 2 tweet tokens computes the same answer
    kept = hooks.run(ids[:1], share_prefix=True, return_cache=True)
    from interp_kit.engine import SharedKV
    past = SharedKV(kept.cache.template, len(clf.prefix_ids) + 2)
    cont = hooks.run(ids[:1], read=["resid_post.12"], share_prefix=True, past=past)
    torch.testing.assert_close(cont.at("resid_post.12"), whole.at("resid_post.12")[:1], atol=1e-4, rtol=0)
    assert cont.positions.width == len(ids[0]) + len(clf.suffix_ids) - 2


# ---- logit lens --------------------------------------------------------------------------------------------------
def test_logit_lens_last_layer_is_the_classifiers_label_logits(clf, test_tweets):
    texts = test_tweets.texts
    stream = residual_stream(clf, texts)
    ref = clf.engine.label_logits(own_ids(clf, texts))
    hooks = clf.engine.hooks()
    assert stream.acts.shape[1] == hooks.n_layers + 1
    np.testing.assert_allclose(hooks.unembed(stream.acts[:, -1]).numpy(), ref.numpy(), atol=1e-4)
    lens = logit_lens(clf, stream, targets=test_tweets.labels)
    gold = [clf.label_index(lab) for lab in test_tweets.labels]
    want = np.array([float(label_margin(ref[i:i + 1], g)[0]) for i, g in enumerate(gold)])
    np.testing.assert_allclose(lens.margins[:, -1], want, atol=1e-4)
    # at the embeddings the answer position holds the answer cue's token only, the same for every tweet
    assert np.ptp(np.abs(lens.margins[:, 0])) < 1e-4 < np.ptp(np.abs(lens.margins[:, -1]))
    summary = lens.summary()
    assert list(summary.index)[:2] == ["emb", "0"] and (summary["low"] <= summary["mean margin"]).all()
    pos = logit_lens_positions(clf, texts[0])
    assert pos.margins.shape == (hooks.n_layers + 1, len(ids := own_ids(clf, texts[:1])[0]) + len(clf.suffix_ids))
    pred = int(ref[0].argmax())
    assert pos.margins[-1, -1] == pytest.approx(float(label_margin(ref[:1], pred)[0]), abs=1e-4)


# ---- activation patching -------------------------------------------------------------------------------------------
def test_full_patch_gives_the_clean_margin_and_no_patch_the_corrupted(clf):
    setup = Patching(clf, *PAIR)
    assert setup.clean_margin > 0 > setup.corrupt_margin  # the pair flips the label, so the checks can fail
    everything = list(range(setup.width))
    for layer in (0, 9, setup.hooks.n_layers - 1):
        full = setup.margins([[(f"resid_pre.{layer}", everything)]])[0]
        assert full == pytest.approx(setup.clean_margin, abs=1e-4)
    assert setup.margins([[("resid_pre.9", [])]])[0] == pytest.approx(setup.corrupt_margin, abs=1e-5)
    assert patch_margin(clf, *PAIR, "resid_post.4") == pytest.approx(setup.clean_margin, abs=1e-4)
    assert patch_margin(clf, *PAIR, "mlp_out.4", positions=[]) == pytest.approx(setup.corrupt_margin, abs=1e-5)
    # noise corruption: restoring the clean embeddings everywhere undoes the noise
    noisy = Patching(clf, PAIR[0], None, noise=3.0, seed=1)
    assert noisy.margins([[("resid_pre.0", list(range(noisy.width)))]])[0] == pytest.approx(noisy.clean_margin,
                                                                                          abs=1e-4)
    assert abs(noisy.corrupt_margin - noisy.clean_margin) > 0.1


def test_batched_sweep_equals_single_patches(clf):
    n = clf.engine.hooks().n_layers
    result = patch_sweep(clf, *PAIR, kinds=("resid_pre", "attn_out", "mlp_out"), layers=[0, 7, n - 1])
    setup = Patching(clf, *PAIR)
    r = result.recovery["resid_pre"]
    differ = 1  # " love" -> " hate"
    # layer 0's input is the embeddings: only the differing token matters, and restoring it restores everything
    assert r[0, differ] == pytest.approx(1.0, abs=1e-4)
    np.testing.assert_allclose(np.delete(r[0], differ), 0.0, atol=1e-4)
    assert result.recovery["resid_pre"].shape == (3, setup.width) and "love→ hate" in result.tokens[differ]
    for kind, li, pos in [("attn_out", 1, setup.width - 1), ("mlp_out", 2, differ), ("resid_pre", 1, 3)]:
        single = setup.margins([[(f"{kind}.{result.layers[li]}", [pos])]])[0]
        assert result.margins[kind][li, pos] == pytest.approx(single, abs=5e-5)
    assert result.top(1)["recovery"].iloc[0] >= 0.99
    fig = result.plot()
    assert len(fig.axes) >= 3


# ---- attention ---------------------------------------------------------------------------------------------------
def test_attention_rows_sum_to_one_and_methods_register(clf, test_tweets):
    text = test_tweets.texts[0]
    att = answer_attention(clf, text)
    np.testing.assert_allclose(att.weights.sum(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(att.rollout.sum(-1), 1.0, atol=1e-5)
    trace = clf.engine.hooks().run(own_ids(clf, [text]), attentions=True)
    full = torch.stack(trace.attentions)[:, 0]  # (layers, heads, width, width), one unpadded prompt
    torch.testing.assert_close(full.sum(-1), torch.ones(full.shape[:-1]), atol=1e-5, rtol=0)
    assert sum(att.shares(3, 1).values()) == pytest.approx(1.0, abs=1e-6)
    assert att.share_table()["first token"].mean() > 0.3  # the attention sink the lesson shows
    exp = explain(clf, text, method="attention", layer=5, head=2)
    assert exp.scores.shape == (len(exp.features),) and (exp.scores >= 0).all()
    assert exp.scores.sum() == pytest.approx(att.weights[5, 2, att.tweet].sum(), abs=1e-6)
    roll = explain(clf, text, method="attention_rollout")
    assert roll.scores.sum() == pytest.approx(att.rollout[-1, att.tweet].sum(), abs=1e-6)
    from interp_kit import faithfulness_report
    report = faithfulness_report(clf, [exp, roll])
    assert {"attention", "attention_rollout", "random"} <= set(report.index)


def test_attention_vs_attribution_replication_runs_on_real_tweets(clf, test_tweets):
    from scipy.stats import kendalltau

    texts = [t for t in test_tweets.texts if len(t.split()) >= 3][:2]
    study = attention_vs_attribution(clf, texts, references=("feature_ablation",), faithfulness=False)
    row = study.agreement[(study.agreement.attention == "attention")].iloc[0]
    a, b = study.explanations["attention"][0], study.explanations["feature_ablation"][0]
    assert row["tau_abs"] == pytest.approx(kendalltau(a.scores, np.abs(b.scores))[0])
    assert set(study.summary.index.get_level_values(0)) == {"attention", "attention_rollout"}


# ---- probes ------------------------------------------------------------------------------------------------------
def test_probes_beat_their_control_task_on_real_tweets(clf):
    tweets = load_tweets("tweets", split="train", label_space="binary", n=80, seed=0)
    result = probe_layers(clf, tweets, layers=["emb", 22], cv=4)
    t = result.table
    assert list(t.index) == ["emb", "22"]
    assert t.loc["emb", "task acc"] <= t.loc["emb", "majority"] + 0.05  # the answer cue's embedding knows nothing
    best = t.loc[result.best_layer()]
    assert best["task acc"] > best["majority"] + 0.1
    assert best["selectivity"] > 0.1
    assert (t["task train acc"] >= t["task acc"] - 1e-9).all()


# ---- a PEFT (LoRA) model -----------------------------------------------------------------------------------------
def test_everything_runs_on_a_peft_model(runtime, clf):
    from interp_kit import ZeroShotClassifier, fine_tune, load_model

    model, tokenizer = load_model("offline", runtime)  # our own copy: the shared fixture is never modified
    base = ZeroShotClassifier(model, tokenizer, ("negative", "positive"))
    train = load_tweets("tweets", split="train", label_space="binary", n=16, seed=5)
    tuned = fine_tune(base, train, max_steps=2, batch_size=8, lr=1e-3, progress=False).classifier
    from peft import PeftModel
    assert isinstance(tuned.model, PeftModel)
    texts = ["what a lovely day", "worst service ever, never again"]
    ref = tuned.engine.label_logits(own_ids(tuned, texts))
    assert (ref - clf.engine.label_logits(own_ids(clf, texts))).abs().max() > 1e-3  # the adapter changed it
    hooks = tuned.engine.hooks()
    stream = residual_stream(tuned, texts)
    np.testing.assert_allclose(hooks.unembed(stream.acts[:, -1]).numpy(), ref.numpy(), atol=1e-4)
    # the zero-shot classifier on the same (now PEFT) model still scores the base model
    np.testing.assert_allclose(residual_stream(base, texts).acts.numpy(), residual_stream(clf, texts).acts.numpy(),
                               atol=1e-4)
    setup = Patching(tuned, *PAIR)
    full = setup.margins([[("resid_pre.6", list(range(setup.width)))]])[0]
    assert full == pytest.approx(setup.clean_margin, abs=1e-4)
    np.testing.assert_allclose(answer_attention(tuned, texts[0]).weights.sum(-1), 1.0, atol=1e-5)
    assert explain(tuned, texts[1], method="attention_rollout").model.endswith("LoRA")


# ---- clear errors ------------------------------------------------------------------------------------------------
def test_bad_inputs_give_clear_errors(clf):
    with pytest.raises(InternalsError, match="same number of tokens"):
        Patching(clf, "I love this movie", "I really hate this movie")
    with pytest.raises(InternalsError, match="out of range"):
        patch_sweep(clf, *PAIR, layers=[99])
    with pytest.raises(InternalsError, match="out of range"):
        answer_attention(clf, PAIR[0]).select(3, head=99)
    with pytest.raises(InternalsError, match="out of range"):
        explain(clf, PAIR[0], method="attention", layer=-99)
    with pytest.raises(InternalsError, match="Position"):
        patch_margin(clf, *PAIR, "resid_pre.3", positions=[40])
    with pytest.raises(InternalsError, match="same margin"):
        Patching(clf, PAIR[0], PAIR[0])
    for call in (lambda: logit_lens(clf, ["   "]), lambda: Patching(clf, "", "x"),
                 lambda: answer_attention(clf, ""), lambda: residual_stream(clf, [])):
        with pytest.raises(ValueError, match="empty|No tweets"):
            call()
    with pytest.raises(InternalsError, match="labels"):
        probe_layers(clf, ["a b", "c d"])


# ---- lesson 06: widgets and exercise checks ------------------------------------------------------------------------
def test_widgets_run_and_show_errors(clf):
    from interp_kit import AttentionViewer, PatchingPanel

    viewer = AttentionViewer(clf, text="I love this movie")
    viewer.layer.value, viewer.head.value = 4, 3
    exp = viewer.run()
    assert exp.extras["layer"] == 4 and exp.extras["head"] == 3 and len(viewer.output.outputs) == 2
    viewer.text.value = "   "
    assert viewer.run() is None and "empty" in str(viewer.output.outputs[0])
    panel = PatchingPanel(clf, layer_step=15)
    result = panel.run()
    assert result.layers == [0, 15] and list(result.recovery) == ["resid_pre"] and panel.output.outputs
    panel.corrupt.value = "I really hate this movie"
    assert panel.run() is None and "same number of tokens" in str(panel.output.outputs[0])


def _lens(clf, text, layer):
    hooks = clf.engine.hooks()
    trace = hooks.run([list(clf.tokenize_tweet(text).token_ids)], read=[f"resid_post.{layer}"])
    return hooks.unembed(trace.at(f"resid_post.{layer}"))[0]


def _lens_no_norm(clf, text, layer):
    hooks = clf.engine.hooks()
    trace = hooks.run([list(clf.tokenize_tweet(text).token_ids)], read=[f"resid_post.{layer}"])
    return clf.model.get_output_embeddings()(trace.at(f"resid_post.{layer}"))[0, list(clf.label_token_ids)]


def _lens_input(clf, text, layer):
    return _lens_at(clf, text, f"resid_pre.{layer}")


def _lens_at(clf, text, point, part="answer"):
    hooks = clf.engine.hooks()
    trace = hooks.run([list(clf.tokenize_tweet(text).token_ids)], read=[point])
    act = trace.at(point) if part == "answer" else trace.at(point, part)[0][-1:]
    return hooks.unembed(act)[0]


def _patch(clf, clean, corrupt, layer, position, point_kind="resid_pre", offset=True, everything=False):
    hooks = clf.engine.hooks()
    point = f"{point_kind}.{layer}"
    src = hooks.run([list(clf.tokenize_tweet(clean).token_ids)], read=[point])
    col = (src.positions.slices[0]["tweet"].start if offset else 0) + position

    def write(act, positions):
        act = act.clone()
        if everything:
            act[:] = src.acts[point]
        else:
            act[:, col] = src.acts[point][:, col]
        return act

    return hooks.run([list(clf.tokenize_tweet(corrupt).token_ids)], write={point: write}).label_logits[0]


def test_lesson06_checks_pass_the_solution_and_fail_typical_mistakes(clf):
    from interp_kit import CheckFailed
    from interp_kit.checks import check_logit_lens, check_patch

    assert check_logit_lens(_lens, clf)
    for wrong in (_lens_no_norm, _lens_input, lambda c, t, layer: _lens_at(c, t, f"resid_post.{layer}", "tweet")):
        with pytest.raises(CheckFailed):
            check_logit_lens(wrong, clf)
    assert check_patch(_patch, clf)
    for wrong in (lambda *a: _patch(*a, offset=False), lambda *a: _patch(*a, everything=True),
                  lambda *a: _patch(*a, point_kind="resid_post")):
        with pytest.raises(CheckFailed):
            check_patch(wrong, clf)
