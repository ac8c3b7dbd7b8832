"""Per-example gradients of the label loss with respect to a LoRA adapter's weights, batched with torch.func.

Why LoRA: influence needs one gradient per training tweet; the adapter has under a million weights, so these
gradients fit in memory, where gradients over all 135M base weights would not.
"""
from __future__ import annotations

from contextlib import contextmanager

import torch
from tqdm.auto import tqdm

__all__ = ["InfluenceError", "adapter_parameters", "training_examples", "per_example_grads"]


class InfluenceError(ValueError):
    """Influence cannot be computed from what was given (no adapter, no checkpoints, no tweets); says what to do."""


def _classifier(model_or_result):
    return getattr(model_or_result, "classifier", model_or_result)


def adapter_parameters(classifier) -> dict[str, torch.Tensor]:
    """The fine-tuned classifier's own LoRA weights, by parameter name (the names checkpoints use)."""
    clf = _classifier(classifier)
    name = getattr(clf, "adapter_name", None)
    if not name:
        raise InfluenceError("This classifier has no LoRA adapter (a zero-shot model): influence is measured on the "
                             "adapter's weights. Fine-tune first: result = fine_tune(clf, train, checkpoints=...).")
    params = {k: p for k, p in clf.model.named_parameters() if f".{name}." in k and "lora_" in k}
    if not params:
        raise InfluenceError(f"The model has no weights of adapter {name!r}.")
    return params


def training_examples(classifier, tweets) -> list[tuple[list[int], int]]:
    """(tweet token ids, label index) per tweet, tokenized by the classifier itself (tweet text is data)."""
    clf = _classifier(classifier)
    if tweets is None or len(tweets.texts) == 0:
        raise InfluenceError("No tweets given: pass a non-empty Tweets set (e.g. load_tweets('tweets', n=48)).")
    if tuple(tweets.label_names) != tuple(clf.label_names):
        raise InfluenceError(f"Data labels {tuple(tweets.label_names)} differ from the classifier's "
                             f"{tuple(clf.label_names)}; load the tweets with the classifier's label space.")
    return [(list(clf.tokenize_tweet(t).token_ids), clf.label_index(lab))
            for t, lab in zip(tweets.texts, tweets.labels)]


def _padded(layout, examples, dtype=torch.float32):
    """Whole prompts, left padded, with a 4-D boolean attention mask per example (so no mask is built from data
    inside vmap); padded positions attend to themselves only, so they stay finite and never reach a real token."""
    seqs = [layout.prompt_ids(t) for t, _ in examples]
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), layout.pad_token_id, dtype=torch.long)
    real = torch.zeros(len(seqs), width, dtype=torch.bool)
    for i, s in enumerate(seqs):
        ids[i, width - len(s):] = torch.tensor(s)
        real[i, width - len(s):] = True
    positions = (real.long().cumsum(-1) - 1).clamp(min=0)
    causal = torch.tril(torch.ones(width, width, dtype=torch.bool))
    allowed = (causal[None] & real[:, None, :]) | torch.eye(width, dtype=torch.bool)[None]
    # additive float mask (0 = attend, dtype minimum = blocked): what eager attention adds to its scores
    mask = torch.zeros(allowed.shape, dtype=dtype).masked_fill(~allowed, torch.finfo(dtype).min)
    targets = torch.tensor([layout.label_token_ids[y] for _, y in examples])
    return ids, mask[:, None], positions, targets


@contextmanager
def _eager_attention(model):
    """Plain matmul attention for the duration: vmap has batching rules for it, while the fused CPU kernel
    (scaled_dot_product_attention) falls back to a slow per-example loop under vmap."""
    config = model.config
    before = config._attn_implementation
    config._attn_implementation = "eager"
    try:
        yield
    finally:
        config._attn_implementation = before


def _flat(grads: dict, names) -> torch.Tensor:
    return torch.cat([grads[k].reshape(grads[k].shape[0], -1) if grads[k].dim() > 0 else grads[k] for k in names],
                     dim=-1)


METHODS = ("hooks", "vmap", "loop")


def _lora_modules(model, names):
    """The LoRA Linear module of each adapter weight, or None when some weight is not a plain Linear's weight
    (DoRA magnitudes, LoRA embeddings, biases): then only vmap and the loop apply."""
    modules = []
    for k in names:
        owner, _, leaf = k.rpartition(".")
        mod = model.get_submodule(owner)
        if leaf != "weight" or type(mod) is not torch.nn.Linear or mod.bias is not None:
            return None
        modules.append(mod)
    return modules


def _hooked_grads(engine, modules, examples, chunk_size: int, progress: bool) -> torch.Tensor:
    """One batched forward and backward per chunk; hooks on each LoRA Linear keep its input x and the gradient g of
    its output per tweet, and the tweet's weight gradient is sum over positions of g x^T (Goodfellow 2015; what Opacus
    does). The loss of a chunk is the sum of its tweets' losses and no tweet sees another, so each row is exactly
    that tweet's gradient. Padded positions reach no loss: their g is zero."""
    seen = {}

    def keep(mod, args, out):
        seen[mod] = [args[0].detach(), None]
        out.register_hook(lambda g, mod=mod: seen[mod].__setitem__(1, g.detach()))

    order = sorted(range(len(examples)), key=lambda i: len(examples[i][0]))  # chunks of similar length: less padding
    out = torch.empty(len(examples), sum(m.weight.numel() for m in modules))
    handles = [m.register_forward_hook(keep) for m in modules]
    try:
        for start in tqdm(range(0, len(order), chunk_size), desc="per-example gradients", disable=not progress):
            idx = order[start:start + chunk_size]
            chunk = [examples[i] for i in idx]
            seen.clear()
            # right padding: causal attention keeps every real token blind to the pads after it, so no mask is
            # needed and each row computes what it would alone (left padding with a mask drifts by ~1e-5)
            seqs = [engine.layout.prompt_ids(t) for t, _ in chunk]
            ids = torch.full((len(seqs), max(map(len, seqs))), engine.layout.pad_token_id, dtype=torch.long)
            for i, s in enumerate(seqs):
                ids[i, :len(s)] = torch.tensor(s)
            last = torch.tensor([len(s) - 1 for s in seqs])
            keep = torch.unique(last)
            with torch.enable_grad():
                logits = engine.model(input_ids=ids.to(engine.device), use_cache=False,
                                      logits_to_keep=keep.to(engine.device)).logits
                logits = logits[torch.arange(len(seqs)), torch.searchsorted(keep, last).to(logits.device)]
                targets = torch.tensor([engine.layout.label_token_ids[y] for _, y in chunk], device=logits.device)
                # autograd.grad, not backward(): only the path to the adapter is computed, and no .grad is written
                # on base weights that happen to require gradients (a loaded model's default)
                torch.autograd.grad(torch.nn.functional.cross_entropy(logits.float(), targets, reduction="sum"),
                                    [m.weight for m in modules])
            cols = [torch.einsum("nto,nti->noi", seen[m][1], seen[m][0]).reshape(len(idx), -1) for m in modules]
            out[idx] = torch.cat(cols, dim=1).float().cpu()
    finally:
        for h in handles:
            h.remove()
        seen.clear()
    return out


def per_example_grads(classifier, tweets, state: dict | None = None, method: str = "hooks", chunk_size: int = 16,
                      progress: bool = False) -> torch.Tensor:
    """Gradient of each tweet's label loss w.r.t. the adapter's weights, one row per tweet: (n, n_weights), float32.

    The loss is the fine-tuning loss (`engine.label_loss`: cross-entropy of the label token after the prompt); every
    TracIn implementation needs these per-example gradients (Pruthi et al. 2020). Three ways, the same numbers:

    * "hooks" (default): one batched forward and backward per chunk of tweets; hooks on the LoRA layers turn each
      tweet's layer inputs and output gradients into its weight gradient. Works wherever the model trains (also
      4-bit models on CUDA).
    * "vmap": torch.func (functional_call + vmap + grad) over whole prompts, with eager attention (the fused CPU
      attention kernel has no vmap rule). Needs `chunk_size` of about 4 on CPU for memory.
    * "loop": one autograd pass of `engine.label_loss` per tweet (the reference, and the benchmark's baseline).

    Args:
        classifier: a fine-tuned classifier (or a FineTuneResult).
        tweets: a Tweets set with the classifier's labels.
        state: adapter weights to differentiate at (a checkpoint's "state"); default the current weights.
        method: "hooks", "vmap" or "loop".
        chunk_size: tweets per batched chunk (bounds memory).
    """
    from torch.func import functional_call, grad, vmap

    if method not in METHODS:
        raise InfluenceError(f"Unknown method {method!r}: choose one of {', '.join(METHODS)}.")
    clf = _classifier(classifier)
    params = adapter_parameters(clf)
    examples = training_examples(clf, tweets)
    names = list(params)
    dev = clf.device
    if state is not None:
        missing = set(names) - set(state)
        if missing:
            raise InfluenceError(f"The checkpoint lacks {len(missing)} of this adapter's weights (e.g. "
                                 f"{sorted(missing)[0]!r}); it belongs to another adapter.")
        values = {k: state[k].to(dev, params[k].dtype) for k in names}
    else:
        values = {k: p.detach() for k, p in params.items()}
    model, engine = clf.model, clf.engine
    modules = _lora_modules(model, names) if method == "hooks" else None
    if method == "hooks" and modules is None:
        method = "vmap"  # an adapter with weights other than plain LoRA Linear weights
    was_training = model.training
    model.eval()  # no dropout: a gradient is a function of the weights and the tweet
    rows = []
    try:
        with engine.model_context():
            if method == "vmap":
                float_dtype = next(iter(values.values())).dtype
                def loss(p, ids, mask, pos, target):
                    out = functional_call(model, p, args=(), kwargs=dict(
                        input_ids=ids[None], attention_mask=mask[None], position_ids=pos[None], use_cache=False,
                        logits_to_keep=1))
                    return torch.nn.functional.cross_entropy(out.logits[:, -1].float(), target[None])

                per_grad = vmap(grad(loss), in_dims=(None, 0, 0, 0, 0))
                order = sorted(range(len(examples)), key=lambda i: len(examples[i][0]))
                out = torch.empty(len(examples), sum(v.numel() for v in values.values()))
                with _eager_attention(model):
                    for start in tqdm(range(0, len(order), chunk_size), desc="per-example gradients (vmap)",
                                      disable=not progress):
                        idx = order[start:start + chunk_size]
                        ids, mask, pos, tg = _padded(clf.layout, [examples[i] for i in idx], float_dtype)
                        g = per_grad(values, ids.to(dev), mask.to(dev), pos.to(dev), tg.to(dev))
                        out[idx] = _flat(g, names).detach().float().cpu()
                return out
            live = list(params.values())
            saved = [p.detach().clone() for p in live] if state is not None else None
            flags = [p.requires_grad for p in live]
            try:
                with torch.no_grad():
                    for k in names:
                        params[k].copy_(values[k])
                for p in live:
                    p.requires_grad_(True)
                if method == "hooks":
                    return _hooked_grads(engine, modules, examples, chunk_size, progress)
                for ex in tqdm(examples, desc="per-example gradients (loop)", disable=not progress):
                    with torch.enable_grad():
                        g = torch.autograd.grad(engine.label_loss([ex], share_prefix=False), live)
                    rows.append(torch.cat([x.reshape(-1) for x in g]).float().cpu())
            finally:
                with torch.no_grad():
                    for p, f in zip(live, flags):
                        p.grad = None
                        p.requires_grad_(f)
                    if saved is not None:
                        for p, s in zip(live, saved):
                            p.copy_(s)
                engine.clear_prefix_cache()
            return torch.stack(rows)
    finally:
        model.train(was_training)
