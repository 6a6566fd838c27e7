"""Plots (matplotlib, no display needed): crowd zone series and peak-density map; traffic portal
queues with the phase plan as bands, and plan comparisons."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.colors import BoundaryNorm, ListedColormap  # noqa: E402

from .fundamental import LOS_NAMES  # noqa: E402

__all__ = ["plot_zone_series", "plot_density_map", "LOS_COLOURS", "plot_portal_queues", "plot_plan_comparison"]

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


PHASE_COLOURS = {"convoy": "#a6d96a", "clear_to_convoy": "#d9d9d9", "clear_to_motor": "#d9d9d9"}


def _clock_label(start_clock: str, minutes: float) -> str:
    h, m = (int(x) for x in start_clock.split(":"))
    total = h * 60 + m + int(round(minutes))
    return f"{(total // 60) % 24:02d}:{total % 60:02d}"


def plot_portal_queues(study, path: str | Path) -> Path:
    """Per plan (one row each): motor-vehicle and bicycle queues at every portal over time, with
    the convoy phases (green) and clearances (grey) drawn as bands."""
    names = list(study.models)
    fig, axes = plt.subplots(len(names), 1, figsize=(11, 2.8 * len(names) + 0.6), sharex=True, squeeze=False)
    start_clock = study.scenario.simulation.start_clock
    for ax, name in zip(axes[:, 0], names):
        model = study.models[name]
        rec = model.recorder
        minutes = rec.t_s[: rec.n] / 60.0
        if model.controller is not None:
            for phase in model.controller.history:
                colour = PHASE_COLOURS.get(phase.phase)
                if colour:
                    end = phase.end_s if phase.end_s is not None else model.engine.t_s
                    ax.axvspan(phase.start_s / 60.0, end / 60.0, color=colour, alpha=0.6, lw=0)
        for g, tube in enumerate(model.arrays.tubes):
            ax.plot(minutes, rec.queue_n[: rec.n, g, 0], lw=1.2, label=f"motor queue, {tube.portal_label}")
            ax.plot(minutes, rec.queue_n[: rec.n, g, 1], lw=1.2, ls="--", label=f"bicycles waiting, {tube.portal_label}")
        ax.set_ylabel("vehicles")
        ax.set_title(f"plan {name}", loc="left", fontsize=10)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=7, ncol=2, loc="upper right")
    ax = axes[-1, 0]
    ticks = ax.get_xticks()
    ax.set_xticks(ticks)
    ax.set_xticklabels([_clock_label(start_clock, t) for t in ticks])
    ax.set_xlim(0, study.scenario.simulation.duration_s / 60.0)
    ax.set_xlabel(f"time (bands: green convoy phase, grey clearance)")
    fig.suptitle(f"{study.scenario.name}: portal queues per plan", fontsize=11)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_plan_comparison(study, path: str | Path) -> Path:
    """Bars per plan: mean and p95 wait per mode, and throughput through the tunnel per mode."""
    summary = {name: m.summary() for name, m in study.models.items()}
    names = list(summary)
    x = np.arange(len(names))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    width = 0.2
    for k, (mode, colour) in enumerate((("motor", "#2c7bb6"), ("bike", "#1a9641"))):
        means = [summary[n]["modes"][mode]["wait_s_mean"] / 60 for n in names]
        p95 = [summary[n]["modes"][mode]["wait_s_p95"] / 60 for n in names]
        ax1.bar(x + (2 * k - 1.5) * width, means, width, color=colour, label=f"{mode} mean")
        ax1.bar(x + (2 * k - 0.5) * width, p95, width, color=colour, alpha=0.45, label=f"{mode} p95")
        through = [summary[n]["modes"][mode]["throughput_per_h"] or 0 for n in names]
        ax2.bar(x + (k - 0.5) * 0.35, through, 0.35, color=colour, label=mode)
    for ax, title, unit in ((ax1, "wait per trip", "minutes"), (ax2, "through the tunnel", "vehicles per hour")):
        ax.set_xticks(x)
        ax.set_xticklabels(names, rotation=15, fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.set_ylabel(unit)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
