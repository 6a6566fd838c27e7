"""Plots of studies: a sweep's risk bands per grid cell."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..core.plotting import plt
from ..crowd.plots import CAP_COLOURS, LOS_COLOURS

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = ["sweep_bands_figure"]


def sweep_bands_figure(rows: Sequence[Mapping], kpi_labels: Sequence[str], title: str = "") -> "Figure":
    """A sweep's risk per grid cell (``rows``: :func:`sim.compare.sweep_risk_rows`): the probabilities
    that any zone reaches LOS F or more than 4 p/m2 (bars), then per KPI label the mean across seeds
    with its p5-p95 band as error bars (cells without a value are left out)."""
    cells = [str(r["cell"]) for r in rows]
    x = np.arange(len(cells))
    fig, axes = plt.subplots(1, 1 + len(kpi_labels), figsize=(3.6 * (1 + len(kpi_labels)), 3.8))
    ax = axes[0]
    for k, (name, colour) in enumerate((("P(any zone LOS F)", LOS_COLOURS[5]), ("P(any zone > 4 p/m2)", "#7b3294"))):
        values = [np.nan if r[name] is None else r[name] for r in rows]
        ax.bar(x + (k - 0.5) * 0.38, values, 0.38, color=colour, label=name.replace("P(any zone ", "").rstrip(")"))
        for xk, v in zip(x + (k - 0.5) * 0.38, values):
            if not np.isnan(v):
                ax.text(xk, v + 0.02, f"{v:.2f}", ha="center", va="bottom", fontsize=7)
    ax.set_ylim(0, 1.3)
    ax.set_title("probability, any zone", fontsize=10)
    ax.legend(fontsize=8, loc="upper center", ncol=2)
    for ax, label in zip(axes[1:], kpi_labels):
        mean = np.array([np.nan if r[f"{label} mean"] is None else r[f"{label} mean"] for r in rows], dtype=float)
        lo = np.array([np.nan if r[f"{label} p5"] is None else r[f"{label} p5"] for r in rows], dtype=float)
        hi = np.array([np.nan if r[f"{label} p95"] is None else r[f"{label} p95"] for r in rows], dtype=float)
        ok = ~np.isnan(mean)
        if ok.any():
            yerr = np.vstack([np.clip(mean - lo, 0, None), np.clip(hi - mean, 0, None)])[:, ok]
            ax.errorbar(x[ok], mean[ok], yerr=yerr, fmt="o", color=CAP_COLOURS[0], ecolor="#555555", capsize=5,
                        lw=1.5, label="mean, p5-p95")
            ax.legend(fontsize=8)
        else:
            ax.text(0.5, 0.5, "no value in any run", ha="center", va="center", transform=ax.transAxes, fontsize=9)
        ax.set_title(label, fontsize=10)
        ax.set_xlim(-0.6, len(cells) - 0.4)
    for ax in axes:
        ax.set_xticks(x)
        ax.set_xticklabels(cells, rotation=20, fontsize=8, ha="right")
        ax.grid(axis="y", alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
