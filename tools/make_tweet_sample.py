"""Rebuild the kit's real-tweet sample (data/tweets_{train,test}.csv) from the full Kaggle CSVs.

Usage: python tools/make_tweet_sample.py [--source ../shared/data/tweet_sentiment_extraction] [--check]

The full files are checked against the sha256 sums in their SOURCE.md first, so the sample is reproducible:
a seeded (seed 0) sample stratified by sentiment, 3,000 train rows with their human `selected_text` rationales and
1,000 test rows. Rows with an empty text, and test rows whose text also occurs in train, are left out first, so
training and evaluation tweets are disjoint. `--check` rebuilds in memory and fails if the shipped files differ.
"""
from __future__ import annotations

import argparse
import hashlib
import re
import sys
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

ROOT = Path(__file__).resolve().parents[1]
SIZES = {"train": 3000, "test": 1000}
SEED = 0
DATA = ROOT / "data"  # src/interp_kit/data/ holds symlinks to these files, so pip installs them as package data
PACKAGE_DATA = ROOT / "src" / "interp_kit" / "data"


def expected_sums(source: Path) -> dict[str, str]:
    text = (source / "SOURCE.md").read_text()
    return {m.group(1): m.group(2) for m in re.finditer(r"\|\s*(\w+)\.csv\s*\|[^\n]*`([0-9a-f]{64})`", text)}


def build(source: Path) -> dict[str, str]:
    sums = expected_sums(source)
    frames = {}
    for split in SIZES:
        path = source / f"{split}.csv"
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if sums.get(split) != digest:
            sys.exit(f"{path} has sha256 {digest}, but SOURCE.md lists {sums.get(split)}: not the published file.")
        frames[split] = pd.read_csv(path, keep_default_na=False, dtype=str)
    train, test = frames["train"], frames["test"]
    train = train[train["text"].str.strip() != ""]
    test = test[(test["text"].str.strip() != "") & ~test["text"].str.strip().isin(set(train["text"].str.strip()))]
    out = {}
    for split, df in (("train", train), ("test", test)):
        keep, _ = train_test_split(df.index.to_numpy(), train_size=SIZES[split], random_state=SEED,
                                   stratify=df["sentiment"])
        out[split] = df.loc[sorted(keep)].to_csv(index=False, lineterminator="\n")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=ROOT.parent / "shared" / "data" / "tweet_sentiment_extraction")
    parser.add_argument("--check", action="store_true", help="fail if the shipped sample differs from a rebuild")
    args = parser.parse_args()
    if not (args.source / "train.csv").exists():
        sys.exit(f"Full CSVs not found in {args.source}; pass --source DIR (the folder with train.csv, test.csv).")
    built = build(args.source)
    for split, text in built.items():
        name = f"tweets_{split}.csv"
        if args.check:
            for target in (DATA, PACKAGE_DATA):
                if (target / name).read_text() != text:
                    sys.exit(f"{target / name} differs from the rebuilt sample; run python tools/make_tweet_sample.py")
            continue
        tmp = DATA / (name + ".tmp")
        tmp.write_text(text)
        tmp.replace(DATA / name)  # atomic: a reader never sees half a file
        link = PACKAGE_DATA / name
        if not link.is_symlink():
            link.unlink(missing_ok=True)
            link.symlink_to(Path("..", "..", "..", "data", name))
        print(f"{name}: {text.count(chr(10)) - 1} rows, {len(text.encode()) / 1e3:.0f} kB")
    if args.check:
        print("sample matches the full CSVs")


if __name__ == "__main__":
    main()
