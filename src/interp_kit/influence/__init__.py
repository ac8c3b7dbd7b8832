"""Which training tweets made it say that? (lesson 08): nearest training examples and influence.

* `nearest_examples`, `knn_accuracy`: training tweets nearest in the answer-position hidden state.
* `per_example_grads`: label-loss gradients w.r.t. the LoRA adapter, one per tweet, batched (one backward per chunk).
* `tracin` (Pruthi et al. 2020), `grad_cosine`, `self_influence`: influence over fine-tuning checkpoints
  (`fine_tune(..., checkpoints=k)`); `datainf` (Kwon et al. 2024): an influence function in closed form at the final
  weights; `flip_labels`, `mislabel_detection`: the papers' validation.
"""
from .gradients import InfluenceError, adapter_parameters, per_example_grads
from .representation import NearestExamples, answer_states, knn_accuracy, nearest_examples
from .tracin import (InfluenceScores, checkpoint_grads, compare_estimators, gradient_memory_check, grad_cosine,
                     self_influence, tracin, tracin_from_grads)
from .datainf import datainf, datainf_from_grads, weight_blocks
from .validation import flip_labels, mislabel_detection
from .widgets import InfluenceExplorer, influence_explorer

__all__ = ["InfluenceError", "adapter_parameters", "per_example_grads", "NearestExamples", "answer_states",
           "knn_accuracy", "nearest_examples", "InfluenceScores", "compare_estimators", "grad_cosine",
           "self_influence", "tracin", "checkpoint_grads", "gradient_memory_check", "tracin_from_grads", "datainf",
           "datainf_from_grads", "weight_blocks", "flip_labels",
           "mislabel_detection", "InfluenceExplorer",
           "influence_explorer"]
