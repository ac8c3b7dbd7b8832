"""The live pitfalls: the wrong way really differs from the right way, and the right way matches the kit."""
import numpy as np
import pytest

from interp_kit import (answer_cue_pitfall, class_mean_pitfall, label_token_pitfall, load_tweets,
                        right_padding_pitfall, wrong_model_pitfall)
from interp_kit.lessons.pitfalls import next_token_logits


@pytest.fixture(scope="module")
def test_tweets():
    return load_tweets("tweets", split="test", label_space="binary", n=12, seed=0)


def test_right_padding_reads_pads_and_left_padding_matches_one_at_a_time(clf, test_tweets):
    texts = test_tweets.texts[:5]
    pit = right_padding_pitfall(clf, texts)
    t = pit.table
    alone, wrong, right = (t.iloc[:, i].to_numpy(float) for i in (2, 3, 4))
    np.testing.assert_allclose(right, alone, atol=1e-4)
    padded = t["pad tokens"].to_numpy() > 0
    assert padded.any() and (~padded).sum() >= 1
    assert np.abs(wrong - alone)[padded].min() > 1e-3  # every padded row is read at a pad and moves
    np.testing.assert_allclose(wrong[~padded], alone[~padded], atol=1e-4)  # the longest row has no pad
    np.testing.assert_allclose(right, clf.predict_proba(texts)[:, 1], atol=1e-4)
    assert "Right padding changed" in repr(pit) and "<table" in pit._repr_html_()


def test_next_token_logits_left_equals_label_logits(clf, test_tweets):
    texts = test_tweets.texts[:3]
    np.testing.assert_allclose(next_token_logits(clf, texts, clf.label_token_ids), clf.label_logits(texts), atol=2e-3)


def test_class_mean_cancels_and_one_label_does_not(clf, test_tweets):
    pit = class_mean_pitfall(clf, test_tweets.texts[0], method="feature_ablation")
    assert np.abs(pit.table["wrong: mean over labels"]).max() < 1e-5
    right = pit.table.filter(like="right:").iloc[:, 0]
    assert np.abs(right).max() > 1e-2


def test_answer_cue_pitfall_measures_two_prompts(model_and_tokenizer, test_tweets):
    model, tokenizer = model_and_tokenizer
    pit = answer_cue_pitfall(model, tokenizer, test_tweets)
    t = pit.table
    assert "Sentiment:" in t.iloc[1]["prompt ends with"] and "Sentiment:" not in t.iloc[0]["prompt ends with"]
    assert t.iloc[1]["accuracy"] > t.iloc[0]["accuracy"]  # the docstring's 0.84 vs 0.5, on real test tweets


@pytest.fixture(scope="module")
def tuned(fresh_clf, tmp_path_factory):
    from interp_kit import cached_fine_tune

    train = load_tweets("tweets", split="train", label_space="binary", n=8, seed=3)
    return cached_fine_tune(fresh_clf, train, cache_dir=tmp_path_factory.mktemp("cache"), epochs=1, lr=1e-3,
                            batch_size=8, r=4, seed=0, progress=False).classifier


def test_label_token_pitfall_scores_both_token_sets(clf, tuned, test_tweets):
    pit = label_token_pitfall(clf, tuned, test_tweets.take(list(range(6))))
    t = pit.table
    assert set(t.index.get_level_values(1)) == {"zero-shot", "fine-tuned"}
    right_zs = t.loc[("right: the trained token", "zero-shot")]
    assert right_zs["tokens"] == "' negative' / ' positive'"
    acc = (np.array(clf.predict(test_tweets.texts[:6])) == np.array(test_tweets.labels[:6])).mean()
    assert right_zs["accuracy"] == pytest.approx(acc)
    # the fine-tuned model moved the trained token's log-probability more than the look-alike's
    shift = {w: t.loc[(w, "fine-tuned"), "mean log p(gold token)"] - t.loc[(w, "zero-shot"), "mean log p(gold token)"]
             for w in ("right: the trained token", "wrong: scored token differs")}
    assert shift["right: the trained token"] > shift["wrong: scored token differs"]


def test_wrong_model_pitfall_explains_each_model(clf, tuned, test_tweets):
    text = test_tweets.texts[1]
    pit = wrong_model_pitfall(clf, tuned, text, method="feature_ablation")
    p_zero = pit.table.loc["p(target)", "right: zero-shot model"]
    target = clf.predict([text])[0]
    assert p_zero == pytest.approx(clf.predict_proba([text])[0][clf.label_index(target)], abs=1e-4)
    assert pit.table.loc["p(target)", "wrong: fine-tuned model"] == pytest.approx(
        tuned.predict_proba([text])[0][clf.label_index(target)], abs=1e-4)
