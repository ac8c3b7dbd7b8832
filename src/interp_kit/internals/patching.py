"""Activation patching (causal tracing): which activations carry the label from a clean tweet into a corrupted one.

Meng et al. 2022 (Locating and editing factual associations in GPT, causal tracing) and Heimersheim & Nanda 2024
(How to use and interpret activation patching). Run the corrupted prompt, but replace one activation (a hook point at
one position) with its value from the clean run, and measure how much of the clean label margin comes back:

    recovery = (margin_patched − margin_corrupted) / (margin_clean − margin_corrupted)

1 means this activation alone carries the difference, 0 that it carries none of it. The corruption is either a
minimal pair of equal token length ("I love this movie" / "I hate this movie", so positions line up) or, for tweets
without one, Gaussian noise added to the tweet's token embeddings (Meng et al.'s corruption; 3 × the embeddings'
standard deviation by default).

The sweep is batched: each row of one forward pass carries a different (point, position) patch, so a layer ×
position sweep of three kinds costs a few dozen forward passes instead of one per patch. The instruction is the same
in both runs (its keys/values come from the engine's prefix cache), so positions are the tweet's and the answer
cue's.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from itertools import product

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from ._common import InternalsError, check_layer, margin, tweet_ids

__all__ = ["PatchResult", "Patching", "patch_sweep", "patch_margin", "PATCH_KINDS"]

#: What a sweep can patch: the residual stream entering a layer, and what its attention and MLP add.
PATCH_KINDS = ("resid_pre", "attn_out", "mlp_out")


class Patching:
    """A clean tweet and its corruption, ready to patch: both runs' margins and the clean activations.

    Args:
        classifier: a label-word classifier (zero-shot or fine-tuned).
        clean: the tweet whose activations are patched in.
        corrupt: a tweet of the same token length (a minimal pair), or None for noise corruption.
        noise: with corrupt=None, the noise scale in units of the token embeddings' standard deviation.
        target: the label whose margin is measured (default: the clean run's prediction).
        seed: seeds the noise.
    """

    def __init__(self, classifier, clean: str, corrupt: str | None = None, noise: float = 3.0,
                 target: str | None = None, seed: int = 0):
        self.clf, self.hooks = classifier, classifier.engine.hooks()
        self.clean_ids = tweet_ids(classifier, clean)
        self.clean_text, self.corrupt_text = clean, corrupt
        if corrupt is not None:
            self.corrupt_ids = tweet_ids(classifier, corrupt)
            if len(self.corrupt_ids) != len(self.clean_ids):
                tok = classifier.tokenizer
                raise InternalsError(
                    f"A minimal pair needs the same number of tokens so that positions line up: the clean tweet has "
                    f"{len(self.clean_ids)} {[tok.decode([i]) for i in self.clean_ids]}, the corrupted one "
                    f"{len(self.corrupt_ids)} {[tok.decode([i]) for i in self.corrupt_ids]}. Swap words that are "
                    "one token each, or use corrupt=None (noise corruption).")
            self.noise = None
        else:
            self.corrupt_ids = list(self.clean_ids)
            if noise <= 0:
                raise InternalsError("noise must be > 0 (the scale of the Gaussian noise added to the embeddings).")
            emb = classifier.model.get_input_embeddings().weight
            std = float(emb.detach().float().std())
            g = torch.Generator().manual_seed(seed)
            width = len(self.clean_ids) + len(classifier.suffix_ids)
            z = torch.zeros(width, emb.shape[1])
            z[:len(self.clean_ids)] = torch.randn(len(self.clean_ids), emb.shape[1], generator=g) * noise * std
            self.noise = z  # added to the tweet's embeddings (resid_pre.0), never to the answer cue
        self.noise_scale = noise if corrupt is None else None
        self._clean_acts: dict[str, torch.Tensor] = {}
        self._corrupt_kv = None
        self._prefix_length = len(classifier.prefix_ids)
        clean_run = self.hooks.run([self.clean_ids], share_prefix=True)
        self.target = int(clean_run.label_logits[0].argmax()) if target is None else classifier.label_index(target)
        self.clean_margin = float(margin(clean_run.label_logits, self.target)[0])
        self.corrupt_margin = float(self.margins([])[0])
        if abs(self.clean_margin - self.corrupt_margin) < 1e-3:
            raise InternalsError(f"The clean and corrupted runs give the same margin ({self.clean_margin:.4f}): there "
                                 "is nothing to recover. Choose a pair the model labels differently.")

    @property
    def width(self) -> int:
        """Positions that can be patched: the tweet's tokens and the answer cue's."""
        return len(self.clean_ids) + len(self.clf.suffix_ids)

    @property
    def tokens(self) -> list[str]:
        """Clean tokens at each position ("love→hate" where the pair differs)."""
        tok = self.clf.tokenizer
        suffix = list(self.clf.suffix_ids)
        out = []
        for a, b in zip(self.clean_ids + suffix, self.corrupt_ids + suffix):
            out.append(tok.decode([a]) if a == b else f"{tok.decode([a])}→{tok.decode([b])}")
        return out

    def point(self, kind: str, layer: int) -> str:
        if kind not in PATCH_KINDS + ("resid_post",):
            raise InternalsError(f"Unknown kind '{kind}'; patch one of {PATCH_KINDS + ('resid_post',)}.")
        return f"{kind}.{check_layer(layer, self.hooks.n_layers)}"

    def clean_acts(self, points) -> dict[str, torch.Tensor]:
        """The clean run's activations (width, d) at `points` (read once, in one pass, and kept)."""
        missing = [p for p in points if p not in self._clean_acts]
        if missing:
            trace = self.hooks.run([self.clean_ids], read=missing, share_prefix=True)
            self._clean_acts.update({p: trace.acts[p][0] for p in missing})
        return {p: self._clean_acts[p] for p in points}

    def _check_positions(self, positions) -> list[int]:
        if positions is None or (isinstance(positions, str) and positions == "all"):
            return list(range(self.width))
        out = []
        for p in positions:
            if isinstance(p, bool) or not isinstance(p, (int, np.integer)) or not -self.width <= p < self.width:
                raise InternalsError(f"Position {p!r} is out of range: positions are 0 .. {self.width - 1} (the "
                                     f"tweet's {len(self.clean_ids)} tokens, then the answer cue).")
            out.append(int(p) % self.width)
        return out

    def margins(self, patches: list[list[tuple[str, list[int]]]], start: int = 0) -> np.ndarray:
        """The corrupted run's margin of the target with each row's patches applied (see `label_logits`)."""
        return margin(self.label_logits(patches, start), self.target).double().numpy()

    def label_logits(self, patches: list[list[tuple[str, list[int]]]], start: int = 0) -> torch.Tensor:
        """The corrupted run's label logits with each row's patches applied; one forward pass for all rows.

        Args:
            patches: per row, a list of (hook point, positions) to take from the clean run; [] is the plain
                corrupted run (then one row).
            start: every patched position is >= start, so positions before it are the corrupted run's: their
                keys/values come from the corrupted run's cache and only positions start.. are computed.
        """
        rows = patches if patches else [[]]
        acts = self.clean_acts(sorted({p for row in rows for p, _ in row}))
        plan: dict[str, tuple[list[int], list[int]]] = {}
        for r, row in enumerate(rows):
            for point, cols in row:
                if cols and min(cols) < start:
                    raise InternalsError(f"Position {min(cols)} is before start={start}.")
                rr, cc = plan.setdefault(point, ([], []))
                rr += [r] * len(cols)
                cc += list(cols)
        noise = None if self.noise is None else self.noise[start:]

        def writer(point):
            rr, cc = plan.get(point, ([], []))
            rows_t, cols_t = torch.tensor(rr, dtype=torch.long), torch.tensor(cc, dtype=torch.long)
            source = acts[point][cols_t] if rr else None

            def write(act, positions):
                if noise is not None and point == "resid_pre.0":
                    act = act + noise.to(act.device, act.dtype)
                if rr:
                    act = act.clone()
                    dev = act.device
                    act[rows_t.to(dev), (cols_t - start).to(dev)] = source.to(dev, act.dtype)
                return act
            return write

        names = set(plan) | ({"resid_pre.0"} if noise is not None else set())
        past = None
        if start > 0:
            if self._corrupt_kv is None:
                self._corrupt_kv = self._corrupt_cache()
            past = type(self._corrupt_kv)(self._corrupt_kv.template, self._prefix_length + start)
        trace = self.hooks.run([self.corrupt_ids] * len(rows), write={p: writer(p) for p in names},
                               share_prefix=True, past=past)
        return trace.label_logits

    def _corrupt_cache(self):
        """The corrupted run's keys/values (prefix, tweet and answer cue), noise included."""
        noise = self.noise
        write = None
        if noise is not None:
            write = {"resid_pre.0": lambda act, positions: act + noise.to(act.device, act.dtype)}
        return self.hooks.run([self.corrupt_ids], write=write, share_prefix=True, return_cache=True).cache

    def recovery(self, patched_margin):
        """Normalised recovery of the clean margin: 0 = the corrupted run, 1 = the clean run."""
        return (np.asarray(patched_margin) - self.corrupt_margin) / (self.clean_margin - self.corrupt_margin)


@dataclass
class PatchResult:
    """A layer × position patching sweep.

    Attributes:
        recovery: kind -> (n_layers, n_positions) normalised recovery of the clean margin.
        margins: kind -> (n_layers, n_positions) patched margins.
        tokens: the position labels (tweet tokens, then the answer cue; "a→b" where the pair differs).
    """

    clean: str
    corrupt: str
    target: str
    clean_margin: float
    corrupt_margin: float
    layers: list[int]
    tokens: list[str]
    margins: dict[str, np.ndarray]
    recovery: dict[str, np.ndarray]
    forward_passes: int = 0
    extras: dict = field(default_factory=dict)

    def table(self, kind: str = "resid_pre") -> pd.DataFrame:
        return pd.DataFrame(self.recovery[kind], index=pd.Index(self.layers, name="layer"),
                            columns=[f"{i}:{t}" for i, t in enumerate(self.tokens)])

    def top(self, k: int = 5) -> pd.DataFrame:
        """The k patches that recover the most, over every kind."""
        rows = [{"kind": kind, "layer": self.layers[i], "position": j, "token": self.tokens[j],
                 "recovery": float(r[i, j])} for kind, r in self.recovery.items() for i, j in np.ndindex(r.shape)]
        return pd.DataFrame(rows).sort_values("recovery", ascending=False).head(k).reset_index(drop=True)

    def plot(self, kinds=None):
        from .plots import plot_patching

        return plot_patching(self, kinds)


def patch_margin(classifier, clean: str, corrupt: str | None, point: str, positions="all", **kwargs) -> float:
    """The corrupted run's label margin with one hook point patched from the clean run at `positions` ("all", a
    list, or [] for none). Keyword arguments go to `Patching` (noise, target, seed)."""
    setup = Patching(classifier, clean, corrupt, **kwargs)
    kind, layer = point.split(".") if "." in point else (point, "x")
    try:
        name = setup.point(kind, int(layer))
    except ValueError as exc:
        if isinstance(exc, InternalsError):
            raise
        raise InternalsError(f"Unknown hook point '{point}'; use e.g. 'resid_pre.5' or 'mlp_out.3'.") from None
    return float(setup.margins([[(name, setup._check_positions(positions))]])[0])


def patch_sweep(classifier, clean: str, corrupt: str | None = None, kinds=PATCH_KINDS, layers=None, positions=None,
                noise: float = 3.0, target: str | None = None, seed: int = 0, batch_size: int = 64,
                progress: bool | None = None) -> PatchResult:
    """Patch every (kind, layer, position) from the clean run into the corrupted one; batched forward passes.

    Args:
        classifier: a label-word classifier (zero-shot or fine-tuned).
        clean, corrupt: a minimal pair of equal token length; corrupt=None corrupts `clean` with embedding noise.
        kinds: which activations to patch (`PATCH_KINDS`: resid_pre, attn_out, mlp_out).
        layers: the layers to sweep (default every one); positions: the positions (default: the tweet's tokens and
            the answer cue).
        noise, seed: the noise corruption's scale (× the embeddings' std) and seed.
        target: the label whose margin is recovered (default: the clean prediction).
        batch_size: patches per forward pass.
    """
    setup = Patching(classifier, clean, corrupt, noise=noise, target=target, seed=seed)
    kinds = (kinds,) if isinstance(kinds, str) else tuple(kinds)
    layers = list(range(setup.hooks.n_layers)) if layers is None else [check_layer(l, setup.hooks.n_layers)
                                                                         for l in layers]
    positions = setup._check_positions(positions)
    jobs = [(kind, layer, pos) for kind, layer, pos in product(kinds, layers, positions)]
    names = sorted({setup.point(k, l) for k, l, _ in jobs})
    setup.clean_acts(names)  # one clean pass reads every point the sweep patches
    values = np.empty(len(jobs))
    # patches at the same position share the corrupted run's keys/values before it: grouped by position, each
    # forward pass computes only the positions from the patched one on
    by_position: dict[int, list[int]] = {}
    for j, (_, _, pos) in enumerate(jobs):
        by_position.setdefault(pos, []).append(j)
    batches = [(pos, idx[s:s + batch_size]) for pos, idx in by_position.items() for s in range(0, len(idx), batch_size)]
    show = progress if progress is not None else len(batches) > 4
    for pos, idx in tqdm(batches, desc="patching", disable=not show, unit="pass"):
        values[idx] = setup.margins([[(setup.point(jobs[j][0], jobs[j][1]), [pos])] for j in idx], start=pos)
    passes = len(batches)
    shape = (len(layers), len(positions))
    margins = {k: values[i * shape[0] * shape[1]:(i + 1) * shape[0] * shape[1]].reshape(shape)
               for i, k in enumerate(kinds)}
    tokens = [setup.tokens[p] for p in positions]
    corrupt_name = corrupt if corrupt is not None else f"{clean} + noise ({noise:g}σ)"
    return PatchResult(clean, corrupt_name, classifier.label_names[setup.target], setup.clean_margin,
                       setup.corrupt_margin, layers, tokens, margins,
                       {k: setup.recovery(v) for k, v in margins.items()}, passes + 4,
                       {"positions": positions, "noise": setup.noise_scale})
