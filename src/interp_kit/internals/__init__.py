"""Inside the model (lesson 06): attention, logit lens, linear probes and activation patching.

Everything reads and writes activations through the engine's hook points (`clf.engine.hooks()`), so it runs the
same on the zero-shot model and on a fine-tuned (PEFT) one. Importing this package registers the attention methods
("attention", "attention_rollout") with `explain`.
"""
from ._common import InternalsError, margin as label_margin
from .attention import (AnswerAttention, AttentionMethod, AttentionRolloutMethod, answer_attention,
                        attention_agreement, rollout, summarize_agreement)
from .lens import LogitLens, PositionLens, compare_lens, logit_lens, logit_lens_positions
from .patching import PATCH_KINDS, PatchResult, Patching, patch_margin, patch_sweep
from .probes import ProbeResult, compare_probes, control_labels, probe_layers
from .replication import AttentionStudy, attention_vs_attribution
from .residual import ResidualStream, residual_stream
from .plots import plot_layer_curves, plot_probe_curves, plot_attention_heads
from .widgets import AttentionViewer, PatchingPanel, attention_viewer, patching_panel

__all__ = ["InternalsError", "label_margin", "AnswerAttention", "answer_attention", "rollout", "AttentionMethod",
           "AttentionRolloutMethod", "attention_agreement", "summarize_agreement", "LogitLens", "PositionLens",
           "logit_lens", "logit_lens_positions", "compare_lens", "ResidualStream", "residual_stream", "ProbeResult",
           "probe_layers", "control_labels", "compare_probes", "PATCH_KINDS", "Patching", "PatchResult", "patch_sweep",
           "patch_margin", "AttentionStudy", "attention_vs_attribution", "plot_layer_curves", "plot_probe_curves",
           "plot_attention_heads", "AttentionViewer", "PatchingPanel", "attention_viewer", "patching_panel"]
