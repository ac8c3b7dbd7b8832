"""Zero-shot scoring speed, measured side by side in one run on real tweets and the same model.

1. examples/s of the kit's scorer vs the seed's approach (`generate(max_new_tokens=1)` on inputs left padded to
   512), both fed exactly the same token sequences (checked: same label logits);
2. the kit's tokens/s vs a plain batched forward (all logits at every position, full prompts) over the same
   batches. Tokens are the prompts' real tokens; with the prefix cache the scorer computes fewer of them, so it
   is also shown with the cache off (`use_prefix_cache=False`: full prompts, logits only where read).
Targets: >= 10x the seed's approach; >= 80% of the plain forward's tokens/s.

    python bench/zero_shot.py [--n 200] [--seed-n 200] [--batch-size 16]
"""
import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch

from interp_kit import ZeroShotClassifier, load_model, load_tweets, setup

DATA = "tweets-test"  # the shipped real-tweet sample; --data takes the full Kaggle test.csv too


def batches(clf, texts, batch_size):
    """The classifier's own batches: sorted by length."""
    enc = [clf.prompt_ids(t) for t in texts]
    order = np.argsort([len(e) for e in enc], kind="stable")
    for s in range(0, len(enc), batch_size):
        yield [enc[i] for i in order[s:s + batch_size]], order[s:s + batch_size]


def pad_left(seqs, pad, width=None):
    width = width or max(map(len, seqs))
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
    n_real = sum(len(clf.prompt_ids(t)) for t in texts)
    n_prefix = len(clf.prefix_ids)
    print(f"load average at the start: {os.getloadavg()[0]:.1f} (1 min) on {os.cpu_count()} cores; "
          f"torch threads {torch.get_num_threads()}")
    clf.label_logits(texts[:4])  # warm-up

    t0 = time.perf_counter()
    ours = clf.label_logits(texts, batch_size=args.batch_size, progress=False)
    t_ours = time.perf_counter() - t0

    clf.use_prefix_cache = False
    t0 = time.perf_counter()
    ours_nocache = clf.label_logits(texts, batch_size=args.batch_size, progress=False)
    t_nocache = time.perf_counter() - t0
    clf.use_prefix_cache = True

    t_plain = 0.0
    with torch.inference_mode():
        for seqs, _ in batches(clf, texts, args.batch_size):
            ids, mask = pad_left(seqs, tok.pad_token_id)
            t0 = time.perf_counter()
            model(input_ids=ids, attention_mask=mask).logits  # plain: every position, whole vocabulary
            t_plain += time.perf_counter() - t0

    # the seed's approach on the very same token sequences: left padded to 512, one generated token
    seed_texts = texts[:args.seed_n]
    seed_scores = np.empty((len(seed_texts), len(clf.label_names)), dtype=np.float32)
    t0 = time.perf_counter()
    with torch.inference_mode():
        for seqs, idx in batches(clf, seed_texts, args.batch_size):
            ids, mask = pad_left(seqs, tok.pad_token_id, width=512)
            out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=1, do_sample=False,
                                 output_scores=True, return_dict_in_generate=True, pad_token_id=tok.pad_token_id)
            seed_scores[idx] = out.scores[0][:, list(clf.label_token_ids)].float().numpy()
    t_seed = time.perf_counter() - t0
    diff = float(np.abs(seed_scores - ours[:len(seed_texts)]).max())
    diff_nocache = float(np.abs(ours_nocache - ours).max())

    ex = lambda n, t: n / t  # noqa: E731
    print(f"\nZero-shot scoring on {len(texts)} real tweets ({n_real / len(texts):.0f} prompt tokens on average, "
          f"{n_prefix} of them the shared prefix), SmolLM2-135M, {rt.accelerator}, batch {args.batch_size}")
    print(f"| scorer | seconds | examples/s | prompt tokens/s |\n|---|---|---|---|")
    print(f"| interp_kit (prefix cached) | {t_ours:.2f} | {ex(len(texts), t_ours):.1f} | {n_real / t_ours:.0f} |")
    print(f"| interp_kit, prefix cache off | {t_nocache:.2f} | {ex(len(texts), t_nocache):.1f} | "
          f"{n_real / t_nocache:.0f} |")
    print(f"| plain batched forward (same batches) | {t_plain:.2f} | {ex(len(texts), t_plain):.1f} | "
          f"{n_real / t_plain:.0f} |")
    print(f"| seed: generate, padded to 512 ({len(seed_texts)} tweets) | {t_seed:.2f} | "
          f"{ex(len(seed_texts), t_seed):.1f} | {sum(len(clf.prompt_ids(t)) for t in seed_texts) / t_seed:.0f} |")
    speed = ex(len(texts), t_ours) / ex(len(seed_texts), t_seed)
    print(f"\nspeed-up over the seed's approach: {speed:.1f}x (target >= 10x); "
          f"cache off: {ex(len(texts), t_nocache) / ex(len(seed_texts), t_seed):.1f}x")
    print(f"prompt tokens/s vs plain forward: {t_plain / t_ours:.0%} (target >= 80%); cache off: "
          f"{t_plain / t_nocache:.0%}")
    print(f"max |label logit diff|: seed vs ours {diff:.1e}, cache on vs off {diff_nocache:.1e}")
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
