"""LoRA fine-tuning on the classifier's own prompt, with the loss on the label token only."""
from __future__ import annotations

import math
import time
from contextlib import nullcontext
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from ..engine import has_adapter, only_adapter
from .classifier import FineTunedClassifier
from .lora import (base_of, compute_dtype, default_target_modules, grad_flags_kept, is_4bit, kbit_training,
                   new_adapter_name, peak_memory_mb, quiet_peft)
from .lora import precision as amp_precision

__all__ = ["FineTuneResult", "fine_tune", "label_loss"]


@dataclass
class FineTuneResult:
    """What `fine_tune` returns: the fine-tuned classifier and how the training went."""

    classifier: FineTunedClassifier
    losses: list[float]  # mean label-token loss of each optimizer step
    seconds: float
    examples_per_second: float
    peak_memory_mb: float | None  # CUDA: peak allocated during training; CPU: the process's peak RSS
    settings: dict = field(default_factory=dict)
    # fine_tune(checkpoints=k): the adapter's weights every k optimizer steps and after the last one, each as
    # {"step": optimizer steps done, "lr": the learning rate of that step, "state": {parameter name: CPU tensor}}
    # (what TracIn needs: Pruthi et al. 2020)
    checkpoints: list[dict] = field(default_factory=list)

    def __repr__(self) -> str:
        first, last = (f"{self.losses[0]:.3f}", f"{self.losses[-1]:.3f}") if self.losses else ("-", "-")
        return (f"FineTuneResult({len(self.losses)} steps, loss {first} -> {last}, {self.seconds:.1f}s, "
                f"{self.examples_per_second:.1f} examples/s, adapter {self.classifier.adapter_name!r})")


def _examples(classifier, tweets) -> list[tuple[list[int], int]]:
    """(tweet token ids, label index) per tweet, tokenized as the classifier scores them."""
    if tuple(tweets.label_names) != tuple(classifier.label_names):
        raise ValueError(f"Data labels {tuple(tweets.label_names)} differ from the classifier's "
                         f"{classifier.label_names}; load the tweets with the classifier's label space.")
    if len(tweets.texts) == 0:
        raise ValueError("No tweets to train on.")
    return [(list(classifier.tokenize_tweet(t).token_ids), classifier.label_index(lab))
            for t, lab in zip(tweets.texts, tweets.labels)]


def label_loss(classifier, tweets, batch_size: int = 16) -> float:
    """Mean label-token cross-entropy of `classifier` on `tweets`: the quantity `fine_tune` minimises."""
    examples = _examples(classifier, tweets)
    total = 0.0
    with torch.inference_mode():
        for start in range(0, len(examples), batch_size):
            chunk = examples[start:start + batch_size]
            total += float(classifier.engine.label_loss(chunk, share_prefix=False)) * len(chunk)
    return total / len(examples)


def fine_tune(classifier, tweets, *, epochs: int = 1, lr: float = 2e-4, batch_size: int = 8,
              grad_accum: int = 1, r: int = 8, alpha: int = 16, dropout: float = 0.05,
              target_modules: list[str] | None = None, seed: int = 0, progress: bool = True,
              max_steps: int | None = None, weight_decay: float = 0.0, max_grad_norm: float | None = 1.0,
              schedule: str = "linear", checkpoints: int | None = None,
              n_checkpoints: int | None = None) -> FineTuneResult:
    """Train a LoRA adapter so the classifier's label token gets the gold label; return the fine-tuned classifier.

    The zero-shot `classifier` keeps scoring the untouched base model: its model object gains LoRA layers, which
    it turns off whenever it runs.

    Args:
        classifier: the zero-shot classifier; its prompt, label words and tokenizer are reused unchanged.
        tweets: a `Tweets` set with the classifier's label names.
        epochs, lr, batch_size, grad_accum: optimisation (AdamW over the adapter's weights; an optimizer step
            every `grad_accum` batches, so the effective batch is batch_size * grad_accum).
        r, alpha, dropout, target_modules: the LoRA adapter; target_modules defaults to the attention
            projections of the architecture (`default_target_modules`), else peft's defaults.
        seed: seeds the adapter's initialisation, dropout and the shuffling.
        progress: show a progress bar with the running loss.
        max_steps: stop after this many optimizer steps (e.g. for a quick check).
        schedule: "linear" (decay to 0 over the run) or "constant" learning rate.
        checkpoints: keep the adapter's weights (on the CPU, in `FineTuneResult.checkpoints`) every this many
            optimizer steps and after the last step, with the learning rate of that step: for TracIn.
        n_checkpoints: instead of `checkpoints`, keep this many, evenly spaced over the run, the last at its end.
    """
    from peft import LoraConfig, PeftModel, get_peft_model

    if isinstance(classifier, FineTunedClassifier) or (classifier.use_adapter and has_adapter(classifier.model)):
        raise ValueError("This classifier is already fine-tuned; pass the zero-shot classifier "
                         "(fine_tune always trains a fresh adapter on the base model).")
    if schedule not in {"linear", "constant"}:
        raise ValueError(f"Unknown schedule '{schedule}'; use 'linear' or 'constant'.")
    if epochs < 1 or batch_size < 1 or grad_accum < 1:
        raise ValueError("epochs, batch_size and grad_accum must be at least 1.")
    if checkpoints is not None and checkpoints < 1:
        raise ValueError("checkpoints must be a number of optimizer steps >= 1 (or None to keep none).")
    if n_checkpoints is not None and (n_checkpoints < 1 or checkpoints is not None):
        raise ValueError("n_checkpoints must be >= 1, and given instead of checkpoints (every k steps), not with it.")
    examples = _examples(classifier, tweets)
    base = base_of(classifier.model)
    device = classifier.device
    kbit = is_4bit(base)
    targets = list(target_modules) if target_modules is not None else default_target_modules(base)
    name = new_adapter_name(base)
    config = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=targets, bias="none",
                        task_type="CAUSAL_LM")

    # the optimizer steps: seeded shuffles, batch_size examples per batch, grad_accum batches per step
    generator = torch.Generator().manual_seed(seed)
    batches = [order[i:i + batch_size].tolist() for _ in range(epochs)
               for order in [torch.randperm(len(examples), generator=generator)]
               for i in range(0, len(examples), batch_size)]
    steps = [batches[i:i + grad_accum] for i in range(0, len(batches), grad_accum)]
    if max_steps is not None:
        steps = steps[:max_steps]
    total = len(steps)
    if n_checkpoints:  # the optimizer steps after which the adapter's weights are kept
        keep_at = {max(1, round(total * (i + 1) / n_checkpoints)) for i in range(n_checkpoints)}
    else:
        keep_at = set(range(checkpoints, total + 1, checkpoints)) | {total} if checkpoints else set()

    torch.manual_seed(seed)  # the adapter's initialisation and dropout
    if device.type == "cuda":
        torch.cuda.manual_seed_all(seed)
        torch.cuda.reset_peak_memory_stats(device)
    losses: list[float] = []
    kept: list[dict] = []
    was_training = base.training
    with grad_flags_kept(base), (kbit_training(base) if kbit else nullcontext()):
        with quiet_peft():
            if isinstance(classifier.model, PeftModel):
                peft_model = classifier.model
                peft_model.add_adapter(name, config)
            else:
                try:
                    peft_model = get_peft_model(base, config, adapter_name=name)
                except ValueError as exc:
                    if target_modules is None and "target_modules" in str(exc):
                        raise ValueError(f"peft has no default LoRA target modules for this architecture "
                                         f"('{getattr(base.config, 'model_type', '?')}'); pass target_modules=[...] "
                                         "(the attention projection layers' names).") from exc
                    raise
        params = []
        for pname, p in peft_model.named_parameters():
            p.requires_grad_(f".{name}." in pname and "lora_" in pname)
            if p.requires_grad:
                params.append(p)
        if not params:
            raise RuntimeError(f"LoRA found no trainable weights for target modules {targets}.")
        optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
        lr_lambda = (lambda s: max(0.0, 1.0 - s / total)) if schedule == "linear" else (lambda s: 1.0)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda)
        amp_dtype, scaler, precision = amp_precision(device, compute_dtype(base, kbit))
        # The engine of the adapter being trained computes the loss: the prompt prefix runs once per batch with
        # gradients and its keys/values are repeated per row. Gradient checkpointing (the 4-bit path) turns the cache
        # off, so there every batch runs the whole prompt.
        share_prefix = not kbit and len(classifier.prefix_ids) > 0
        engine = type(classifier.engine)(peft_model, classifier.layout, adapter=True)

        def batch_loss(idx):
            return engine.label_loss([examples[i] for i in idx], share_prefix=share_prefix)

        bar = tqdm(total=total, desc="fine-tuning", unit="step", disable=not progress)
        seen = 0
        t0 = time.perf_counter()
        try:
            peft_model.train()
            with torch.enable_grad(), only_adapter(peft_model, name):
                for step in steps:
                    n_step = sum(len(b) for b in step)
                    step_loss = 0.0
                    for idx in step:
                        with (torch.autocast(device.type, dtype=amp_dtype) if amp_dtype else nullcontext()):
                            loss = batch_loss(idx)
                        # weight each batch by its share of the step's examples: a short last batch counts less
                        weighted = loss * (len(idx) / n_step)
                        (scaler.scale(weighted) if scaler else weighted).backward()
                        step_loss += float(loss.detach()) * len(idx) / n_step
                    if scaler:
                        scaler.unscale_(optimizer)
                    if max_grad_norm:
                        torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
                    if scaler:
                        scaler.step(optimizer)
                        scaler.update()
                    else:
                        optimizer.step()
                    optimizer.zero_grad(set_to_none=True)
                    step_lr = scheduler.get_last_lr()[0]
                    scheduler.step()
                    if len(losses) + 1 in keep_at:
                        kept.append({"step": len(losses) + 1, "lr": step_lr, "state": {
                            k: p.detach().to("cpu", torch.float32, copy=True)
                            for k, p in peft_model.named_parameters() if f".{name}." in k and "lora_" in k}})
                    if not math.isfinite(step_loss):
                        raise FloatingPointError(f"The loss became {step_loss} at step {len(losses) + 1}; "
                                                 "try a lower lr.")
                    losses.append(step_loss)
                    seen += n_step
                    bar.update(1)
                    bar.set_postfix(loss=f"{sum(losses[-10:]) / len(losses[-10:]):.4f}")
        finally:
            bar.close()
            peft_model.train(was_training)
            base.train(was_training)
            for p in params:
                p.requires_grad_(False)
                p.grad = None
    seconds = time.perf_counter() - t0
    settings = dict(epochs=epochs, lr=lr, batch_size=batch_size, grad_accum=grad_accum, r=r, alpha=alpha,
                    dropout=dropout, target_modules=targets, seed=seed, max_steps=max_steps,
                    weight_decay=weight_decay, max_grad_norm=max_grad_norm, schedule=schedule, steps=len(losses),
                    shared_prefix=share_prefix, n_train=len(examples), label_names=list(classifier.label_names),
                    precision=precision, load_in_4bit=kbit, device=device.type,
                    base_model_id=classifier.base_model_id, adapter_name=name)
    fine_tuned = FineTunedClassifier(peft_model, classifier.tokenizer, classifier.label_names, classifier.label_words,
                                     classifier.template, adapter_name=name, training_settings=settings,
                                     max_tweet_tokens=classifier.max_tweet_tokens)
    fine_tuned.checkpoints = kept
    # same tokenizer, template and label words: the scored token is the trained token
    assert fine_tuned.label_token_ids == classifier.label_token_ids and fine_tuned.prefix_ids == classifier.prefix_ids
    return FineTuneResult(classifier=fine_tuned, losses=losses, seconds=seconds,
                          examples_per_second=seen / seconds if seconds > 0 else float("nan"),
                          peak_memory_mb=peak_memory_mb(device), settings=settings, checkpoints=kept)


