"""Tweet sentiment data: the hub's mteb set, Kaggle-format CSVs, and the kit's offline sample."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["Tweets", "LABEL_SPACES", "SAMPLES", "load_tweets", "resolve_label_space", "offline_sample_path",
           "sample_path", "DataError"]

#: Data shipped with the kit, by name. "tweets-*" are real tweets: a seeded, stratified sample of the Kaggle Tweet
#: Sentiment Extraction CSVs (CC BY 4.0; credit Figure Eight's Data for Everyone and the Kaggle competition; see
#: data/README.md), train with human `selected_text` rationales. Train and test tweets are disjoint.
#: "offline" is the kit's 180 hand-written texts: tiny and clean, for demos that need that, not for measuring.
SAMPLES: dict[str, str] = {
    "tweets-train": "tweets_train.csv",
    "tweets-test": "tweets_test.csv",
    "offline": "offline_tweets.csv",
}

#: Named label spaces; mteb's numeric ids are negative=0, neutral=1, positive=2.
LABEL_SPACES: dict[str, tuple[str, ...]] = {
    "binary": ("negative", "positive"),
    "three": ("negative", "neutral", "positive"),
}
_MTEB_IDS = {0: "negative", 1: "neutral", 2: "positive"}
_ALIASES = {"three-class": "three", "3": "three", "3-class": "three", "2": "binary", "binary-class": "binary"}


class DataError(ValueError):
    """The data cannot be used as given; the message says what was found and what to do."""


def resolve_label_space(label_space: str | list | tuple | None) -> tuple[str, ...]:
    """Label names from 'binary', 'three', a list of names, or mteb ids such as [0, 2] or '0,2'."""
    if label_space is None:
        return LABEL_SPACES["binary"]
    if isinstance(label_space, str):
        key = _ALIASES.get(label_space.strip().lower(), label_space.strip().lower())
        if key in LABEL_SPACES:
            return LABEL_SPACES[key]
        label_space = [p for p in key.replace(" ", ",").split(",") if p]
    names = []
    for item in label_space:
        if isinstance(item, (int, np.integer)) or (isinstance(item, str) and item.isdigit()):
            if int(item) not in _MTEB_IDS:
                raise DataError(f"Unknown label id {item}; mteb ids are {_MTEB_IDS}.")
            names.append(_MTEB_IDS[int(item)])
        elif str(item).lower() in _MTEB_IDS.values():
            names.append(str(item).lower())
        else:
            raise DataError(f"Unknown label '{item}'; use names from {sorted(_MTEB_IDS.values())}, "
                            f"ids {sorted(_MTEB_IDS)}, or one of {sorted(LABEL_SPACES)}.")
    if len(set(names)) != len(names) or len(names) < 2:
        raise DataError(f"A label space needs at least two distinct labels, got {names}.")
    return tuple(sorted(names, key=lambda n: [k for k, v in _MTEB_IDS.items() if v == n][0]))


@dataclass
class Tweets:
    """Texts with their gold labels (names) and, where known, human rationale spans."""

    texts: list[str]
    labels: list[str]
    label_names: tuple[str, ...]
    rationales: list[str | None] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    source: str = ""
    n_dropped: int = 0

    def __post_init__(self):
        n = len(self.texts)
        self.rationales = list(self.rationales) or [None] * n
        self.ids = list(self.ids) or [str(i) for i in range(n)]
        if not (len(self.labels) == len(self.rationales) == len(self.ids) == n):
            raise DataError("texts, labels, rationales and ids must have the same length")

    def __len__(self) -> int:
        return len(self.texts)

    def __repr__(self) -> str:
        counts = ", ".join(f"{k}={v}" for k, v in sorted(Counter(self.labels).items()))
        return f"Tweets({len(self)} from {self.source or 'memory'}: {counts}; dropped {self.n_dropped})"

    @property
    def label_ids(self) -> np.ndarray:
        """Gold labels as indices into `label_names`."""
        return np.array([self.label_names.index(lab) for lab in self.labels], dtype=int)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"id": self.ids, "text": self.texts, "label": self.labels, "rationale": self.rationales})

    def take(self, indices) -> "Tweets":
        idx = list(indices)
        return replace(self, texts=[self.texts[i] for i in idx], labels=[self.labels[i] for i in idx],
                       rationales=[self.rationales[i] for i in idx], ids=[self.ids[i] for i in idx])

    def subset(self, n: int | None, seed: int = 0) -> "Tweets":
        """A seeded, stratified subset of n examples (all of them when n is None or too large)."""
        if n is None or n >= len(self):
            return self
        from sklearn.model_selection import train_test_split

        idx, _ = train_test_split(np.arange(len(self)), train_size=n, random_state=seed, stratify=self.labels)
        return self.take(sorted(idx))

    def split(self, n_eval: int, seed: int = 0) -> tuple["Tweets", "Tweets"]:
        """Disjoint (rest, eval) parts: eval is a seeded stratified sample of n_eval (all of it when n_eval >= len)."""
        if n_eval >= len(self):
            return self.take([]), self
        from sklearn.model_selection import train_test_split

        rest, evals = train_test_split(np.arange(len(self)), test_size=n_eval, random_state=seed,
                                       stratify=self.labels)
        return self.take(sorted(rest)), self.take(sorted(evals))


def sample_path(name: str) -> Path:
    """Path of a shipped sample (`SAMPLES`), from the installed package data or the repository's data/."""
    if name not in SAMPLES:
        raise DataError(f"Unknown sample {name!r}; shipped samples are {sorted(SAMPLES)}.")
    here = Path(__file__).resolve()
    for candidate in (here.parent / "data" / SAMPLES[name], here.parents[2] / "data" / SAMPLES[name]):
        if candidate.exists():
            return candidate
    raise DataError(f"The shipped sample data/{SAMPLES[name]} was not found next to the package; reinstall "
                    "interp_kit (bash tools/install.sh) or rebuild it with python tools/make_tweet_sample.py.")


def offline_sample_path() -> Path:
    """The kit's hand-written sample (data/offline_tweets.csv)."""
    return sample_path("offline")


def _from_frame(df: pd.DataFrame, names: tuple[str, ...], source: str, text_column: str, label_column: str | None):
    if text_column not in df.columns:
        raise DataError(f"Column '{text_column}' not found in {source}; columns found: {list(df.columns)}. "
                        "Pass text_column=... (CLI: --text-field).")
    label_column = label_column or next((c for c in ("sentiment", "label_text", "label") if c in df.columns), None)
    if label_column is None or label_column not in df.columns:
        raise DataError(f"No label column in {source}; columns found: {list(df.columns)}. "
                        "Expected 'sentiment' (Kaggle) or 'label'/'label_text' (mteb); pass label_column=...")
    raw = df[label_column]
    labels = raw.map(lambda v: _MTEB_IDS.get(int(v)) if str(v).strip().isdigit() else str(v).strip().lower())
    texts = df[text_column]
    ok_text = texts.map(lambda t: isinstance(t, str) and t.strip() != "")
    n_bad = int((~ok_text).sum())
    keep = ok_text & labels.isin(names)
    rationale_col = next((c for c in ("selected_text", "rationale") if c in df.columns), None)
    rationales = [r if isinstance(r, str) and r.strip() else None for r in df.loc[keep, rationale_col]] \
        if rationale_col else []
    id_col = next((c for c in ("textID", "id") if c in df.columns), None)
    ids = [str(i) for i in df.loc[keep, id_col]] if id_col else []
    return Tweets(texts=list(df.loc[keep, text_column]), labels=list(labels[keep]), label_names=names,
                  rationales=rationales, ids=ids, source=source, n_dropped=n_bad)


def load_tweets(source: str = "tweets", split: str = "train", label_space="binary", n: int | None = None,
                seed: int = 0, text_column: str = "text", label_column: str | None = None) -> Tweets:
    """Load tweets with labels in the chosen label space.

    Args:
        source: "tweets" (real tweets shipped with the kit; `split` picks "tweets-train" or "tweets-test"), a name
            from `SAMPLES`, "hub" (mteb/tweet_sentiment_extraction), or a CSV path in Kaggle
            (`textID,text,selected_text,sentiment`) or mteb (`id,text,label,label_text`) format.
        split: "train" or "test" for "tweets" and the hub; a named sample or a CSV is its own split.
        label_space: "binary" (negative/positive, the lessons' default), "three", or a list of names/ids.
        n: a seeded stratified subset of this size (None keeps all).
    Empty or non-string texts are dropped and counted in `n_dropped`; rows outside the label space are left out.
    """
    names = resolve_label_space(label_space)
    if source == "tweets":
        if split not in ("train", "test"):
            raise DataError(f"split must be 'train' or 'test' for the shipped tweets, got {split!r}.")
        source = f"tweets-{split}"
    if source in SAMPLES:
        tweets = _from_frame(pd.read_csv(sample_path(source), keep_default_na=False, dtype=str), names, source,
                             text_column, label_column)
    elif source == "hub":
        from .runtime import hub_reachable

        if not hub_reachable():
            raise DataError("Cannot reach the Hugging Face hub for mteb/tweet_sentiment_extraction; use "
                            "load_tweets('tweets', split=...) (shipped real tweets) or a local Kaggle CSV path.")
        from datasets import load_dataset

        df = load_dataset("mteb/tweet_sentiment_extraction", split=split).to_pandas()
        tweets = _from_frame(df, names, f"hub:mteb/tweet_sentiment_extraction[{split}]", text_column, label_column)
    else:
        path = Path(source)
        if not path.exists():
            raise DataError(f"No such data file: {path}. Use 'tweets', one of {sorted(SAMPLES)}, 'hub' or a CSV path.")
        # keep_default_na=False keeps words such as "NA" or "null" as text; truly empty cells become "".
        tweets = _from_frame(pd.read_csv(path, keep_default_na=False, dtype=str), names, str(path), text_column,
                             label_column)
    if len(tweets) == 0:
        raise DataError(f"No usable rows in {tweets.source} for labels {names}.")
    return tweets.subset(n, seed=seed)
