"""Keys/values encoded once and handed to many continuations, and the model state a cache is valid for."""
from __future__ import annotations

import copy

from .adapters import adapter_flags

__all__ = ["SharedKV", "model_state"]


class SharedKV:
    """The keys/values of one encoded sequence (its first `length` positions), handed to a batch of continuations
    as expanded views: no copy per row, and the encoded cache itself is never modified."""

    def __init__(self, cache, length: int | None = None):
        self.template = cache
        self.tensors = [(layer.keys[:, :, :length], layer.values[:, :, :length]) for layer in cache.layers]

    @property
    def length(self) -> int:
        return self.tensors[0][0].shape[2] if self.tensors else 0

    def batch(self, n: int, length: int | None = None):
        """A cache of the template's kind with the first `length` positions (default: all) for n rows."""
        cache = copy.copy(self.template)
        cache.layers = [copy.copy(layer) for layer in self.template.layers]
        for layer, (k, v) in zip(cache.layers, self.tensors):
            layer.keys = k[:, :, :length].expand(n, -1, -1, -1)
            layer.values = v[:, :, :length].expand(n, -1, -1, -1)
        return cache


def model_state(model, *extra) -> tuple:
    """What a cache of this model's activations depends on, cheap to compute on every call (~0.1 ms).

    Each parameter's in-place version counter (bumped by optimizer steps, `copy_`, `load_state_dict`) and storage
    (replaced by `.data =` or `assign=True` loads), dtype, device, train/eval mode and which LoRA layers are on or
    merged. Writes through `param.data` bypass the version counter: clear the cache after those.
    """
    params = list(model.parameters())
    return (id(model), model.training, len(params), sum(p._version for p in params),
            sum(p.data_ptr() for p in params), params[0].dtype, params[0].device, adapter_flags(model), *extra)
