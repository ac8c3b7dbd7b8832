"""Zero-shot scoring speed, measured side by side in one run on real tweets and the same model.

1. examples/s of the kit's scorer vs the seed's approach (`generate(max_new_tokens=1)` on inputs padded to 512);
2. the kit's tokens/s vs a plain batched forward (all logits at every position) over the very same batches.
Targets: >= 10x the seed's approach; >= 80% of the plain forward's tokens/s.

    python bench/zero_shot.py [--n 200] [--seed-n 200] [--batch-size 16]
"""
import argparse
import time
from pathlib import Path

import numpy as np
import torch

from interp_kit import ZeroShotClassifier, load_model, load_tweets, setup

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "tweet_sentiment_extraction" / "test.csv"


def batches(clf, texts, batch_size):
    """The classifier's own batches: sorted by length, left padded."""
    enc = [clf.prompt_ids(t) for t in texts]
    order = np.argsort([len(e) for e in enc], kind="stable")
    for s in range(0, len(enc), batch_size):
        yield [enc[i] for i in order[s:s + batch_size]]


def pad_left(seqs, pad):
    width = max(map(len, seqs))
    ids = torch.full((len(seqs), width), pad)
    mask = torch.zeros_like(ids)
    for i, s in enumerate(seqs):
        ids[i, width - len(s):], mask[i, width - len(s):] = torch.tensor(s), 1
    return ids, mask


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--seed-n", type=int, default=200, help="tweets for the (slow) seed approach")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--data", default=str(DATA))
    args = ap.parse_args()
    rt = setup(seed=0)
    model, tok = load_model("offline", rt)
    clf = ZeroShotClassifier(model, tok)
    texts = load_tweets(args.data, label_space="binary", n=args.n, seed=0).texts
    clf.label_logits(texts[:4])  # warm-up

    t0 = time.perf_counter()
    ours = clf.label_logits(texts, batch_size=args.batch_size, progress=False)
    t_ours = time.perf_counter() - t0

    n_tokens, t_plain = 0, 0.0
    with torch.inference_mode():
        for seqs in batches(clf, texts, args.batch_size):
            ids, mask = pad_left(seqs, tok.pad_token_id)
            n_tokens += ids.numel()
            t0 = time.perf_counter()
            model(input_ids=ids, attention_mask=mask).logits  # plain: every position, whole vocabulary
            t_plain += time.perf_counter() - t0

    # the seed's approach: the whole prompt text, padded to 512, one generated token, label scores from it
    seed_texts = texts[:args.seed_n]
    prompts = [tok.decode(clf.prompt_ids(t)) for t in seed_texts]
    t0 = time.perf_counter()
    seed_scores = []
    with torch.inference_mode():
        for s in range(0, len(prompts), args.batch_size):
            enc = tok(prompts[s:s + args.batch_size], padding="max_length", max_length=512, return_tensors="pt",
                      add_special_tokens=False)
            out = model.generate(**enc, max_new_tokens=1, do_sample=False, output_scores=True,
                                 return_dict_in_generate=True, pad_token_id=tok.pad_token_id)
            seed_scores.append(out.scores[0][:, list(clf.label_token_ids)])
    t_seed = time.perf_counter() - t0
    seed_scores = torch.cat(seed_scores).numpy()
    agree = float((seed_scores.argmax(1) == ours[:len(seed_texts)].argmax(1)).mean())

    ex_ours, ex_seed = len(texts) / t_ours, len(seed_texts) / t_seed
    print(f"\nZero-shot scoring on {len(texts)} real tweets, SmolLM2-135M, {rt.accelerator}, batch {args.batch_size}")
    print(f"{'':34s}{'seconds':>10s}{'examples/s':>12s}{'tokens/s':>11s}")
    print(f"{'interp_kit scorer':34s}{t_ours:10.2f}{ex_ours:12.1f}{n_tokens / t_ours:11.0f}")
    print(f"{'plain batched forward (same)':34s}{t_plain:10.2f}{len(texts) / t_plain:12.1f}{n_tokens / t_plain:11.0f}")
    print(f"{'seed: generate, pad to 512':34s}{t_seed:10.2f}{ex_seed:12.1f}{'':>11s}  ({len(seed_texts)} tweets)")
    print(f"\nspeed-up over the seed's approach: {ex_ours / ex_seed:.1f}x (target >= 10x)")
    print(f"tokens/s vs plain forward: {t_plain / t_ours:.0%} (target >= 80%)")
    print(f"same predicted label as the seed's approach: {agree:.0%}")


if __name__ == "__main__":
    main()
