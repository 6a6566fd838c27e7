"""Plots of studies: a sweep's risk bands per grid cell; the risk against the cap (advise)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..core.plotting import plt
from ..crowd.plots import CAP_COLOURS, LOS_COLOURS

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = ["sweep_bands_figure", "risk_curve_figure"]


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


def risk_curve_figure(curves: Mapping[str, Sequence[Mapping]], risk: float, answer: Mapping[str, object] | None = None,
                      title: str = "") -> "Figure":
    """P(a run breaks the safety criterion) against the cap, one line per plan: each tested cap's
    share of failing runs with its 90% Clopper-Pearson interval (each end a one-sided 95% bound),
    the number of runs beside it, the risk as a dashed line and the answer circled.

    ``curves``: plan -> records with ``cap`` (None: uncapped, drawn at the right past a gap),
    ``runs``, ``failures``, ``p``, ``lower``, ``upper``; ``answer``: ``{"plan", "cap"}``."""
    fig, ax = plt.subplots(figsize=(9, 4.8))
    numeric = sorted({r["cap"] for recs in curves.values() for r in recs if r["cap"] is not None})
    span = (numeric[-1] - numeric[0]) if len(numeric) > 1 else max(numeric[0] if numeric else 1, 1)
    x_none = (numeric[-1] + 0.15 * span) if numeric else 1.0
    colours = list(CAP_COLOURS)
    for k, (plan, recs) in enumerate(curves.items()):
        recs = sorted([r for r in recs if r["runs"]], key=lambda r: (r["cap"] is None, r["cap"] or 0))
        if not recs:
            continue
        colour = colours[k % len(colours)]
        x = np.array([x_none if r["cap"] is None else r["cap"] for r in recs], dtype=float)
        x = x + (k - (len(curves) - 1) / 2) * 0.006 * span          # plans side by side
        p = np.array([r["p"] for r in recs], dtype=float)
        lo = np.array([r["lower"] for r in recs], dtype=float)
        hi = np.array([r["upper"] for r in recs], dtype=float)
        ax.errorbar(x, p, yerr=np.vstack([p - lo, hi - p]), fmt="o-" if len(curves) == 1 else "o--", color=colour,
                    ecolor=colour, capsize=3, lw=1.2, ms=4, label=f"plan {plan}")
        for xk, pk, r in zip(x, p, recs):
            ax.annotate(f"{r['failures']}/{r['runs']}", (xk, pk), xytext=(3, 4), textcoords="offset points",
                        fontsize=6.5, color=colour)
        if answer and answer.get("plan") == plan:
            cap = answer.get("cap")
            xa = x_none if cap is None else float(cap)
            ra = next((r for r in recs if r["cap"] == cap), None)
            if ra is not None:
                ax.plot([xa], [ra["p"]], "o", ms=14, mfc="none", mec="k", mew=1.5, label="the answer")
    ax.axhline(risk, color="k", ls="--", lw=1, label=f"risk {risk:g}")
    ax.set_ylim(-0.03, 1.05)
    ax.set_ylabel("P(a run breaks the safety criterion)")
    ax.set_xlabel("cap (people)")
    ticks = list(numeric)
    if len(ticks) > 12:
        ticks = ticks[:: int(np.ceil(len(ticks) / 12))]
    labels = [f"{t / 1000:g}k" if t >= 1000 else str(t) for t in ticks]
    if any(r["cap"] is None for recs in curves.values() for r in recs):
        ticks.append(x_none)
        labels.append("none")
    ax.set_xticks(ticks)
    ax.set_xticklabels(labels, fontsize=8)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    ax.set_title(title or "Risk against the cap (bars: 90% Clopper-Pearson interval; labels: failing/runs)",
                 fontsize=10)
    fig.tight_layout()
    return fig
