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
    that a run is unsafe, that walkers reach LOS F in some place, that some place reaches crush
    density (bars), then per KPI label the mean across seeds
    with its p5-p95 band as error bars (cells without a value are left out)."""
    cells = [str(r["cell"]) for r in rows]
    x = np.arange(len(cells))
    fig, axes = plt.subplots(1, 1 + len(kpi_labels), figsize=(3.6 * (1 + len(kpi_labels)), 3.8))
    ax = axes[0]
    bars = (("P(unsafe)", "#444444"), ("P(any place LOS F)", LOS_COLOURS[5]), ("P(crush density)", "#7b3294"))
    for k, (name, colour) in enumerate(bars):
        values = [np.nan if r.get(name) is None else r[name] for r in rows]
        ax.bar(x + (k - 1) * 0.27, values, 0.27, color=colour, label=name[2:-1])
        for xk, v in zip(x + (k - 1) * 0.27, values):
            if not np.isnan(v):
                ax.text(xk, v + 0.02, f"{v:.2f}", ha="center", va="bottom", fontsize=7)
    ax.set_ylim(0, 1.3)
    ax.set_title("probability over seeds", fontsize=10)
    ax.legend(fontsize=7, loc="upper center", ncol=3)
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
