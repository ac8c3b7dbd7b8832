"""Pictures of training: the label-token loss per optimizer step."""
from __future__ import annotations

__all__ = ["plot_loss_curve"]


def plot_loss_curve(result, ax=None, window: int = 10):
    """The label-token loss of each optimizer step, with a running mean over `window` steps."""
    import matplotlib.pyplot as plt

    losses = list(result.losses)
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 3.2))
    steps = range(1, len(losses) + 1)
    ax.plot(steps, losses, color="tab:blue", alpha=0.35, lw=1, label="loss per step")
    if losses:
        w = max(1, min(window, len(losses)))
        running = [sum(losses[max(0, i - w + 1):i + 1]) / len(losses[max(0, i - w + 1):i + 1])
                   for i in range(len(losses))]
        ax.plot(steps, running, color="tab:blue", lw=2, label=f"running mean ({w} steps)")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("cross-entropy on the label token")
    s = result.settings
    ax.set_title(f"LoRA fine-tuning: {s.get('n_train', '?')} tweets, {s.get('epochs', '?')} epoch(s), "
                 f"lr {s.get('lr', '?')}", fontsize=10)
    ax.legend(fontsize=8)
    ax.figure.tight_layout()
    return ax.figure
