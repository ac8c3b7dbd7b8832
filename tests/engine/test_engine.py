"""The scoring engine on the real offline model: every path gives the same label logits, hook points read and write
the same computation, the training loss is the scored token's cross-entropy."""
import numpy as np
import pytest
import torch

TEXTS = ["I love this movie", "my phone died and the bus was late again", "meh"]


@pytest.fixture(scope="module")
def tweets(clf):
    return [list(clf.tokenize_tweet(t).token_ids) for t in TEXTS]


def test_cached_and_whole_prompts_agree(clf, tweets):
    eng = clf.engine
    cached, z1 = eng.label_logits(tweets, with_log_z=True)
    whole, z2 = eng.full_prompt_logits([clf.layout.prompt_ids(t) for t in tweets], with_log_z=True)
    np.testing.assert_allclose(cached.numpy(), whole.numpy(), atol=1e-4)
    np.testing.assert_allclose(z1.numpy(), z2.numpy(), atol=1e-4)


def test_hook_points_read_the_same_computation(clf, tweets):
    hooks = clf.engine.hooks()
    last = hooks.n_layers - 1
    trace = hooks.run(tweets, read=[f"resid_post.{last}", "resid_pre.2", "attn_out.2", "mlp_out.2", "resid_post.2"])
    ref = clf.engine.label_logits(tweets)
    np.testing.assert_allclose(trace.label_logits.numpy(), ref.numpy(), atol=1e-4)
    # the logit lens at the last layer is the model's own readout
    np.testing.assert_allclose(hooks.unembed(trace.at(f"resid_post.{last}")).numpy(), ref.numpy(), atol=1e-4)
    # the residual stream adds up: resid_post = resid_pre + attention + MLP
    total = trace.at("resid_pre.2") + trace.at("attn_out.2") + trace.at("mlp_out.2")
    torch.testing.assert_close(total, trace.at("resid_post.2"), atol=1e-4, rtol=0)
    # parts: the tweet part of each row has as many positions as the tweet has tokens
    assert [len(x) for x in trace.at("resid_pre.2", "tweet")] == [len(t) for t in tweets]


def test_writing_a_hook_point_changes_the_run(clf, tweets):
    hooks = clf.engine.hooks()
    clean, corrupt = [tweets[0]], [list(clf.tokenize_tweet("I hate this movie").token_ids)]
    assert len(clean[0]) == len(corrupt[0])
    source = hooks.run(clean, read=["resid_post.6"]).acts["resid_post.6"]
    base = hooks.run(corrupt).label_logits
    patched = hooks.run(corrupt, write={"resid_post.6": lambda act, pos: source.to(act.dtype)}).label_logits
    clean_logits = hooks.run(clean).label_logits
    torch.testing.assert_close(patched, clean_logits, atol=1e-4, rtol=0)  # everything patched: the clean run
    assert (base - clean_logits).abs().max() > 0.1  # and the two runs differ, so the check can fail
    nothing = hooks.run(corrupt, write={"resid_post.6": lambda act, pos: act}).label_logits
    torch.testing.assert_close(nothing, base, atol=1e-5, rtol=0)


def test_bad_hook_points_are_clear(clf, tweets):
    hooks = clf.engine.hooks()
    with pytest.raises(ValueError, match="out of range"):
        hooks.run(tweets, read=[f"resid_post.{hooks.n_layers}"])
    with pytest.raises(ValueError, match="Unknown hook point"):
        hooks.run(tweets, read=["residual.3"])
    with pytest.raises(ValueError, match="at least one"):
        hooks.run([])


def test_label_loss_is_the_label_tokens_cross_entropy(clf, tweets):
    examples = [(t, i % 2) for i, t in enumerate(tweets)]
    with torch.no_grad():
        shared = clf.engine.label_loss(examples, share_prefix=True)
        whole = clf.engine.label_loss(examples, share_prefix=False)
        _, log_z = clf.engine.label_logits(tweets, with_log_z=True)
        logits = clf.engine.label_logits(tweets)
    expected = float(np.mean([float(log_z[i] - logits[i, lab]) for i, (_, lab) in enumerate(examples)]))
    assert float(shared) == pytest.approx(expected, abs=1e-4) and float(whole) == pytest.approx(expected, abs=1e-4)


def test_a_new_method_is_one_registered_class(clf):
    """The method contract: a class with a name and `attribute` is all `explain` needs."""
    from interp_kit import AttributionMethod, explain
    from interp_kit.attribution import METHODS, register_method

    @register_method
    class LastWordOnly(AttributionMethod):
        name, family, description = "last_word_only", "perturbation", "f(all) - f(all but the last word)"

        def attribute(self, scorer, budget=None, seed=0, **options):
            mask = np.ones((1, scorer.n_features), bool)
            mask[0, -1] = False
            scores = np.zeros(scorer.n_features)
            scores[-1] = scorer.value_full - scorer(mask)[0]
            return scores, {"requested_evaluations": 1}

    try:
        ours = explain(clf, TEXTS[1], method="last_word_only")
        occlusion = explain(clf, TEXTS[1], method="feature_ablation")
        assert ours.scores[-1] == pytest.approx(occlusion.scores[-1], abs=1e-4) and not ours.scores[:-1].any()
    finally:
        METHODS.pop("last_word_only")
