"""Plots of a crowd run (matplotlib, no display needed): zone series and the peak-density map."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.colors import BoundaryNorm, ListedColormap  # noqa: E402

from .fundamental import LOS_NAMES  # noqa: E402

__all__ = ["plot_zone_series", "plot_density_map", "LOS_COLOURS"]

LOS_COLOURS = ["#1a9850", "#91cf60", "#d9ef8b", "#fee08b", "#fc8d59", "#d73027"]


def plot_zone_series(model, path: str | Path, zone: str | None = None) -> Path:
    """Occupancy against the cap (top) and densest-cell density against the LOS bands (bottom)."""
    rec = model.recorder
    arrays = model.engine.arrays
    zone = zone or model.scenario.main_zone
    z = arrays.zone_names.index(zone)
    minutes = np.arange(1, rec.n + 1) * rec.dt_s / 60.0
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    ax1.plot(minutes, rec.occupancy[: rec.n, z], color="#2c7bb6", label=f"{zone} occupancy")
    ax1.plot(minutes, rec.gate_queue[: rec.n, z], color="#fdae61", label="queue at gates")
    gate = model.gates.get(zone)
    if gate is not None:
        ax1.axhline(gate.cap, color="k", ls="--", lw=1, label=f"cap {gate.cap:,}")
    show = model.scenario.show
    for ax in (ax1, ax2):
        ax.axvspan(show.start_s / 60, show.end_s / 60, color="#dddddd", alpha=0.6, lw=0)
    ax1.set_ylabel("people")
    ax1.legend(loc="upper left")
    ax1.set_title(f"{model.scenario.name}: {zone} (grey band: the show)")
    bounds = [0.0, *arrays.los_thresholds_ppm2.tolist(), max(6.0, float(rec.max_density[: rec.n, z].max()) * 1.1)]
    for k in range(6):
        ax2.axhspan(bounds[k], bounds[k + 1], color=LOS_COLOURS[k], alpha=0.25, lw=0)
        ax2.text(minutes[-1] if minutes.size else 0, (bounds[k] + bounds[k + 1]) / 2, f" LOS {LOS_NAMES[k]}",
                 va="center", fontsize=8)
    mean = rec.occupancy[: rec.n, z] / arrays.zone_area_m2[z]
    ax2.plot(minutes, rec.max_density[: rec.n, z], color="#d7191c", label="densest cell")
    ax2.plot(minutes, mean, color="#2c7bb6", label="zone mean")
    ax2.set_ylim(0, bounds[-1])
    ax2.set_ylabel("density (p/m2)")
    ax2.set_xlabel("minutes from start")
    ax2.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_density_map(model, path: str | Path, density_ppm2: np.ndarray | None = None,
                     title: str | None = None) -> Path:
    """The walk network coloured by Fruin level of service at each cell's peak density."""
    arrays = model.engine.arrays
    walk = arrays.walk
    density = model.recorder.cell_peak_density if density_ppm2 is None else density_ppm2
    levels = np.searchsorted(arrays.los_thresholds_ppm2, density, side="left")
    cmap = ListedColormap(LOS_COLOURS)
    norm = BoundaryNorm(np.arange(-0.5, 6.5), cmap.N)
    widths = np.clip(walk.cell_width_m / 4.0, 0.6, 8.0)
    fig, ax = plt.subplots(figsize=(8, 9))
    lines = LineCollection(walk.cell_xy, array=levels, cmap=cmap, norm=norm, linewidths=widths)
    ax.add_collection(lines)
    ax.autoscale()
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    bar = fig.colorbar(lines, ax=ax, ticks=range(6), shrink=0.6)
    bar.ax.set_yticklabels([f"LOS {n}" for n in LOS_NAMES])
    ax.set_title(title or f"{model.scenario.name}: peak level of service (Fruin)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
