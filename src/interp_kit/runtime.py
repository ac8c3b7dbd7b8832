"""Device, dtype, seeds, quantization and the Hugging Face token: one call used by every lesson."""
from __future__ import annotations

import os
import re
import random
import socket
import sys
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["Runtime", "setup", "seed_everything", "resolve_hf_token", "hub_reachable", "in_colab", "in_ci",
           "find_secrets"]


def in_colab() -> bool:
    """True inside Google Colab."""
    return "google.colab" in sys.modules


def in_ci() -> bool:
    """True when run by CI (or nbval under CI), so lessons can shrink their work."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"} or os.environ.get("INTERP_KIT_PROFILE") == "ci"


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and torch so a lesson shows the same numbers every time."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def _pick_device(device: str | None) -> torch.device:
    if device is not None:
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def _pick_dtype(device: torch.device) -> torch.dtype:
    # bf16 on Ampere and newer, fp16 on T4-class GPUs (no bf16 tensor cores), fp32 on CPU.
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "mps":
        return torch.float16
    return torch.float32


@dataclass(frozen=True)
class Runtime:
    """Where and how models run: device, dtype, 4-bit or not, seed, and the environment."""

    device: torch.device
    dtype: torch.dtype
    load_in_4bit: bool
    seed: int
    in_colab: bool
    in_ci: bool
    accelerator: str

    def summary(self) -> str:
        """One line that says what hardware the lesson runs on."""
        quant = "4-bit NF4" if self.load_in_4bit else "full precision"
        where = "Colab" if self.in_colab else ("CI" if self.in_ci else "local")
        return (f"interp_kit: {self.accelerator} | device={self.device.type} dtype={str(self.dtype).replace('torch.', '')} "
                f"| {quant} | seed={self.seed} | {where} | torch {torch.__version__}")

    def quantization_config(self):
        """A BitsAndBytesConfig for 4-bit NF4 with this runtime's compute dtype, or None."""
        if not self.load_in_4bit:
            return None
        from transformers import BitsAndBytesConfig

        return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                                  bnb_4bit_compute_dtype=self.dtype)


def setup(seed: int = 0, device: str | None = None, load_in_4bit: bool | None = None, verbose: bool = True) -> Runtime:
    """Detect Colab and the accelerator, pick the dtype, seed everything and print a one-line summary.

    Args:
        seed: seeds torch, NumPy and random.
        device: force "cpu", "cuda" or "mps"; by default the best one present.
        load_in_4bit: None picks 4-bit only when CUDA is present; True without CUDA is an error
            (bitsandbytes 4-bit needs a CUDA GPU); False always uses full precision.
    """
    dev = _pick_device(device)
    if load_in_4bit and dev.type != "cuda":
        raise RuntimeError(
            "4-bit loading needs a CUDA GPU (bitsandbytes), and none is available here. "
            "Use load_in_4bit=False (CLI: --no-load-in-4bit), or in Colab pick Runtime > Change runtime type > GPU.")
    use_4bit = bool(load_in_4bit) if load_in_4bit is not None else dev.type == "cuda"
    if use_4bit:
        try:
            import bitsandbytes  # noqa: F401
        except ImportError as exc:
            if load_in_4bit:
                raise RuntimeError("4-bit loading needs bitsandbytes: pip install bitsandbytes") from exc
            use_4bit = False
    if dev.type == "cuda":
        accel = torch.cuda.get_device_name(dev)
    elif dev.type == "mps":
        accel = "Apple GPU (MPS)"
    else:
        accel = f"CPU ({os.cpu_count()} cores, no GPU)"
    seed_everything(seed)
    rt = Runtime(device=dev, dtype=_pick_dtype(dev), load_in_4bit=use_4bit, seed=seed, in_colab=in_colab(),
                 in_ci=in_ci(), accelerator=accel)
    if verbose:
        print(rt.summary())
        if load_in_4bit is None and dev.type != "cuda":
            print("interp_kit: no CUDA GPU, so 4-bit quantization is off and models load in full precision.")
        if rt.in_colab and dev.type == "cpu":
            print("interp_kit: this Colab runtime has no GPU. The lessons run on CPU with the small offline model; "
                  "for a larger model and faster runs pick Runtime > Change runtime type > T4 GPU, then rerun.")
    return rt


HF_TOKEN_PATTERN = re.compile(r"hf_[A-Za-z0-9]{30,}")


def find_secrets(text: str, extra: tuple[str, ...] = ()) -> list[str]:
    """Token-like strings (Hugging Face `hf_...`) and any of the `extra` secret values found in `text`, redacted
    to their first 5 characters so the report itself leaks nothing."""
    found = HF_TOKEN_PATTERN.findall(text) + [s for s in extra if s and s in text]
    return list(dict.fromkeys(f[:5] + "…" for f in found))  # each secret once


def resolve_hf_token(token: str | None = None) -> str | None:
    """The Hugging Face token from the argument, $HF_TOKEN, or Colab secrets; never printed or saved."""
    if token:
        return token
    for var in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        if os.environ.get(var):
            return os.environ[var]
    if in_colab():
        try:
            from google.colab import userdata  # type: ignore

            return userdata.get("HF_TOKEN")
        except Exception:  # secret missing or notebook access not granted
            return None
    return None


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether huggingface.co answers on port 443 (a quick check instead of minutes of retries)."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes"}:
        return False
    try:
        with socket.create_connection(("huggingface.co", 443), timeout=timeout):
            return True
    except OSError:
        return False
