"""Loading tweets: the shipped real-tweet sample, the hand-written set, CSVs, label spaces, subsets and bad input."""
import pandas as pd
import pytest

from interp_kit import DataError, load_tweets
from interp_kit.data import resolve_label_space


def test_offline_sample_is_balanced_with_rationales():
    t = load_tweets("offline", label_space="three")
    assert len(t) >= 150
    counts = pd.Series(t.labels).value_counts()
    assert set(counts.index) == {"negative", "neutral", "positive"} and counts.max() - counts.min() <= 5
    assert all(r is not None and r in text for text, r in zip(t.texts, t.rationales))


# Sentiment counts of the full Kaggle CSVs (../shared/data/tweet_sentiment_extraction/SOURCE.md), which the
# shipped sample is stratified on.
FULL_COUNTS = {"train": {"negative": 7781, "neutral": 11117, "positive": 8582},  # without the one empty text
               "test": {"negative": 1001, "neutral": 1430, "positive": 1103}}


@pytest.mark.parametrize("split, size", [("train", 3000), ("test", 1000)])
def test_shipped_real_tweets_are_a_stratified_sample(split, size):
    t = load_tweets("tweets", split=split, label_space="three")
    assert len(t) == size and t.n_dropped == 0 and t.source == f"tweets-{split}"
    full = FULL_COUNTS[split]
    for label, count in pd.Series(t.labels).value_counts().items():
        assert abs(count / size - full[label] / sum(full.values())) < 0.002, label
    assert len(set(t.ids)) == size


def test_train_tweets_carry_human_rationales_and_never_appear_in_test():
    train, test = load_tweets("tweets-train", label_space="three"), load_tweets("tweets-test", label_space="three")
    assert all(r is not None for r in train.rationales) and all(r is None for r in test.rationales)
    assert sum(r.strip() in text for text, r in zip(train.texts, train.rationales)) / len(train) > 0.99
    assert not {t.strip() for t in train.texts} & {t.strip() for t in test.texts}
    assert not set(train.ids) & set(test.ids)


def test_unknown_split_or_sample_is_a_clear_error():
    with pytest.raises(DataError, match="split must be 'train' or 'test'"):
        load_tweets("tweets", split="validation")
    with pytest.raises(DataError, match="No such data file: tweets-dev.*'tweets-train'"):
        load_tweets("tweets-dev")


def test_binary_label_space_and_stratified_seeded_subsets(kaggle_test_csv):
    a = load_tweets(str(kaggle_test_csv), label_space="binary", n=100, seed=1)
    b = load_tweets(str(kaggle_test_csv), label_space="binary", n=100, seed=1)
    c = load_tweets(str(kaggle_test_csv), label_space="binary", n=100, seed=2)
    assert a.ids == b.ids and a.ids != c.ids and set(a.labels) == {"negative", "positive"}
    full = load_tweets(str(kaggle_test_csv), label_space="binary")
    share = full.labels.count("positive") / len(full)
    assert abs(a.labels.count("positive") / 100 - share) <= 0.02


@pytest.mark.parametrize("spec, expected", [
    ("binary", ("negative", "positive")), ("three", ("negative", "neutral", "positive")),
    (["0", "2"], ("negative", "positive")), ("positive,negative", ("negative", "positive")),
])
def test_label_space_spellings(spec, expected):
    assert resolve_label_space(spec) == expected


def test_unknown_label_is_a_clear_error():
    with pytest.raises(DataError, match="Unknown label 'happy'"):
        resolve_label_space(["happy", "negative"])


def test_missing_column_lists_the_columns_found(tmp_path):
    path = tmp_path / "bad.csv"
    pd.DataFrame({"tweet": ["hi"], "sentiment": ["positive"]}).to_csv(path, index=False)
    with pytest.raises(DataError, match=r"columns found: \['tweet', 'sentiment'\]"):
        load_tweets(str(path))


def test_empty_and_non_string_texts_are_dropped_and_counted(tmp_path):
    path = tmp_path / "mixed.csv"
    pd.DataFrame({"text": ["good day", "", "   ", "bad day"],
                  "label": [2, 0, 2, 0]}).to_csv(path, index=False)
    t = load_tweets(str(path))
    assert t.texts == ["good day", "bad day"] and t.n_dropped == 2 and t.labels == ["positive", "negative"]


def test_split_is_disjoint_stratified_and_seeded():
    data = load_tweets("offline", label_space="binary")  # the hand-written set is balanced: 60 / 60
    train, evals = data.split(40, seed=0)
    assert len(evals) == 40 and len(train) == len(data) - 40 and not set(train.ids) & set(evals.ids)
    assert evals.labels.count("negative") == evals.labels.count("positive") == 20
    assert data.split(40, seed=0)[1].ids == evals.ids != data.split(40, seed=1)[1].ids
    rest, everything = data.split(len(data) + 5)
    assert len(rest) == 0 and everything.ids == data.ids
