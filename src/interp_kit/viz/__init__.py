"""Every picture the kit draws: attributions, classification metrics, explanation quality, training.

Colours of attributions are signed and symmetric around zero (red for the target, blue against it). Plots work
headless (CI) and inline (Jupyter, Colab).
"""
from .attribution import (ATTRIBUTION_CMAP, heatmap_html, method_grid_html, plot_bars, plot_heatmap,
                          plot_method_grid, show_heatmap)
from .evaluation import plot_agreement, plot_curves, plot_shap_summary
from .metrics import plot_confusion_matrix, plot_metrics_comparison
from .training import plot_loss_curve

__all__ = ["heatmap_html", "show_heatmap", "plot_heatmap", "plot_bars", "method_grid_html", "plot_method_grid",
           "ATTRIBUTION_CMAP", "plot_agreement", "plot_curves", "plot_shap_summary", "plot_confusion_matrix",
           "plot_metrics_comparison", "plot_loss_curve"]
