"""Crowd plots (matplotlib, no display): zone series against the cap and LOS bands, LOS maps.

``plot_*`` take a finished run and write a PNG (the CLI's plots); ``*_figure`` take plain data (the
study layer's results) and return a figure, for the app.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.colors import BoundaryNorm, ListedColormap

from ..core.plotting import figure_png, plt
from .fundamental import LOS_NAMES

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from ..core.walk import WalkGraph

__all__ = ["plot_zone_series", "plot_density_map", "los_map_figure", "cap_series_figure", "LOS_COLOURS",
           "figure_png"]

LOS_COLOURS = ["#1a9850", "#91cf60", "#d9ef8b", "#fee08b", "#fc8d59", "#d73027"]


def _los_bands(ax, thresholds_ppm2: np.ndarray, top_ppm2: float, label_x: float) -> list[float]:
    """Shade the six Fruin levels of service up to ``top_ppm2``, labelled at ``label_x``."""
    bounds = [0.0, *np.asarray(thresholds_ppm2).tolist(), top_ppm2]
    for k in range(6):
        ax.axhspan(bounds[k], bounds[k + 1], color=LOS_COLOURS[k], alpha=0.25, lw=0)
        ax.text(label_x, (bounds[k] + bounds[k + 1]) / 2, f" LOS {LOS_NAMES[k]}", va="center", fontsize=8)
    return bounds


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
    bounds = _los_bands(ax2, arrays.los_thresholds_ppm2,
                        max(6.0, float(rec.max_density[: rec.n, z].max()) * 1.1), minutes[-1] if minutes.size else 0)
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


def _draw_los_network(fig, ax, walk: "WalkGraph", density_ppm2: np.ndarray, thresholds_ppm2: np.ndarray,
                      width_scale: float = 4.0, colorbar_shrink: float = 0.6) -> None:
    """The walk network (drawn from its own cells: no basemap) coloured by level of service."""
    levels = np.searchsorted(thresholds_ppm2, density_ppm2, side="left")
    cmap = ListedColormap(LOS_COLOURS)
    norm = BoundaryNorm(np.arange(-0.5, 6.5), cmap.N)
    widths = np.clip(walk.cell_width_m / width_scale, 0.6, 8.0)
    lines = LineCollection(walk.cell_xy, array=levels, cmap=cmap, norm=norm, linewidths=widths)
    ax.add_collection(lines)
    ax.autoscale()
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    bar = fig.colorbar(lines, ax=ax, ticks=range(6), shrink=colorbar_shrink)
    bar.ax.set_yticklabels([f"LOS {n}" for n in LOS_NAMES])


def plot_density_map(model, path: str | Path, density_ppm2: np.ndarray | None = None,
                     title: str | None = None) -> Path:
    """The walk network coloured by Fruin level of service at each cell's peak density."""
    arrays = model.engine.arrays
    density = model.recorder.cell_peak_density if density_ppm2 is None else density_ppm2
    fig, ax = plt.subplots(figsize=(8, 9))
    _draw_los_network(fig, ax, arrays.walk, density, arrays.los_thresholds_ppm2)
    ax.set_title(title or f"{model.scenario.name}: peak level of service (Fruin)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def los_map_figure(walk: "WalkGraph", density_ppm2: np.ndarray, thresholds_ppm2: np.ndarray, title: str,
                   figsize: tuple[float, float] = (4.2, 5.4)) -> "Figure":
    """A small map of the walk network coloured by level of service at the given cell densities
    (peak or one moment), for side-by-side comparisons."""
    fig, ax = plt.subplots(figsize=figsize)
    _draw_los_network(fig, ax, walk, np.asarray(density_ppm2), thresholds_ppm2, width_scale=6.0,
                      colorbar_shrink=0.7)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig
CAP_COLOURS = ["#2c7bb6", "#d7191c", "#1a9641", "#7b3294", "#ff7f00", "#525252", "#a6611a", "#01665e"]


def cap_series_figure(results: Sequence, zone: str, title: str | None = None) -> "Figure":
    """Several runs of one scenario (e.g. one per cap) overlaid: the zone's occupancy against each
    run's cap (top) and its densest cell against the LOS bands (bottom; bands of the first run)."""
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 6.5), sharex=True)
    first = results[0]
    ax1.axvspan(first.show_start_s / 60, first.show_end_s / 60, color="#dddddd", alpha=0.6, lw=0)
    ax2.axvspan(first.show_start_s / 60, first.show_end_s / 60, color="#dddddd", alpha=0.6, lw=0)
    top = 3.0
    end_minute = 0.0
    for k, res in enumerate(results):
        colour = CAP_COLOURS[k % len(CAP_COLOURS)]
        z = res.zone_names.index(zone)
        minutes = np.arange(1, res.occupancy.shape[0] + 1) * res.dt_s / 60.0
        end_minute = max(end_minute, float(minutes[-1]) if minutes.size else 0.0)
        ax1.plot(minutes, res.occupancy[:, z], color=colour, lw=1.4, label=res.label)
        cap = res.summary["zones"][zone]["cap"]
        if cap is not None:
            ax1.axhline(cap, color=colour, ls="--", lw=1)
        ax2.plot(minutes, res.max_density[:, z], color=colour, lw=1.2, label=res.label)
        if res.max_density.size:
            top = max(top, float(res.max_density[:, z].max()) * 1.1)
    ax1.set_ylabel(f"people on {zone}")
    ax1.legend(loc="upper left", fontsize=8, title="dashed: cap", title_fontsize=8)
    ax1.set_title(title or f"{first.summary['scenario']}: {zone} (grey band: the show)", fontsize=10)
    ax1.grid(alpha=0.3)
    bounds = _los_bands(ax2, first.los_thresholds_ppm2, top, end_minute)
    ax2.set_ylim(0, bounds[-1])
    ax2.set_ylabel("densest cell (p/m2)")
    ax2.set_xlabel("minutes from start")
    ax2.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig
