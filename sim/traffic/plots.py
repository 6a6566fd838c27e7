"""Traffic plots: portal queues with the phase plan as bands, and plan comparisons."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..core.plotting import clock_label, plt

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = ["portal_series", "portal_queues_figure", "plot_portal_queues", "plot_plan_comparison",
           "plan_comparison_figure", "network_series_figure", "plot_network_series"]

PHASE_COLOURS = {"convoy": "#a6d96a", "clear_to_convoy": "#d9d9d9", "clear_to_motor": "#d9d9d9"}


def portal_series(model) -> dict:
    """What :func:`portal_queues_figure` draws for one finished plan (a
    :class:`~sim.model.TrafficModel`), as plain picklable data: sample times, queues per portal and
    mode, phases as ``(phase, start_s, end_s)`` and the portal labels."""
    rec = model.recorder
    phases = []
    if model.controller is not None:
        for phase in model.controller.history:
            end = phase.end_s if phase.end_s is not None else model.engine.t_s
            phases.append((phase.phase, float(phase.start_s), float(end)))
    return {"t_s": rec.t_s[: rec.n].copy(), "queue_n": rec.queue_n[: rec.n].copy(), "phases": phases,
            "portals": [tube.portal_label for tube in model.arrays.tubes]}


def portal_queues_figure(series: Mapping[str, dict], start_clock: str, duration_s: float,
                         title: str) -> "Figure":
    """Per plan (one row each, ``series`` from :func:`portal_series`): motor-vehicle and bicycle
    queues at every portal over time, with the convoy phases (green) and clearances (grey) as bands."""
    names = list(series)
    fig, axes = plt.subplots(len(names), 1, figsize=(11, 2.8 * len(names) + 0.6), sharex=True, squeeze=False)
    for ax, name in zip(axes[:, 0], names):
        data = series[name]
        minutes = np.asarray(data["t_s"]) / 60.0
        for phase, start_s, end_s in data["phases"]:
            colour = PHASE_COLOURS.get(phase)
            if colour:
                ax.axvspan(start_s / 60.0, end_s / 60.0, color=colour, alpha=0.6, lw=0)
        for g, portal in enumerate(data["portals"]):
            ax.plot(minutes, data["queue_n"][:, g, 0], lw=1.2, label=f"motor queue, {portal}")
            ax.plot(minutes, data["queue_n"][:, g, 1], lw=1.2, ls="--", label=f"bicycles waiting, {portal}")
        ax.set_ylabel("vehicles")
        ax.set_title(f"plan {name}", loc="left", fontsize=10)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=7, ncol=2, loc="upper right")
    ax = axes[-1, 0]
    ticks = ax.get_xticks()
    ax.set_xticks(ticks)
    ax.set_xticklabels([clock_label(start_clock, t) for t in ticks])
    ax.set_xlim(0, duration_s / 60.0)
    ax.set_xlabel("time (bands: green convoy phase, grey clearance)")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def plot_portal_queues(study, path: str | Path) -> Path:
    """Per plan (one row each): motor-vehicle and bicycle queues at every portal over time, with
    the convoy phases (green) and clearances (grey) drawn as bands."""
    series = {name: portal_series(model) for name, model in study.models.items()}
    fig = portal_queues_figure(series, study.scenario.simulation.start_clock, study.scenario.simulation.duration_s,
                               f"{study.scenario.name}: portal queues per plan")
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_plan_comparison(study, path: str | Path) -> Path:
    """Bars per plan: mean and p95 wait per mode, and throughput through the tunnel per mode."""
    fig = plan_comparison_figure({name: m.summary() for name, m in study.models.items()})
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plan_comparison_figure(summary: Mapping[str, dict]) -> "Figure":
    """Bars per plan (``summary``: plan name -> the plan's summary): mean and p95 wait per mode, and
    throughput through the tunnel per mode."""
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
    return fig


def network_series_figure(series: Mapping[str, dict], start_clock: str, duration_s: float, title: str) -> "Figure":
    """Per plan (one line each; ``series`` from :meth:`~sim.traffic.model.TrafficModel.network_series`):
    vehicles on the network and waiting to enter, arrivals per minute, and the mean speed of motor
    vehicles per road class (bicycles dashed)."""
    fig, (ax1, ax2, ax3) = plt.subplots(3, 1, figsize=(11, 8.5), sharex=True)
    classes = [k.removeprefix("mean_speed_kph_") for k in next(iter(series.values())) if
               k.startswith("mean_speed_kph_") and k not in ("mean_speed_kph_motor", "mean_speed_kph_bike")]
    for name, data in series.items():
        minutes = np.asarray(data["minute"])
        line, = ax1.plot(minutes, data["vehicles_on_network"], lw=1.3, label=f"{name}: on the network")
        ax1.plot(minutes, data["waiting_to_enter"], lw=1.0, ls="--", color=line.get_color(),
                 label=f"{name}: waiting to enter")
        ax2.plot(minutes, data["arrivals_per_min"], lw=1.2, color=line.get_color(), label=name)
        for cls in classes:
            values = np.asarray(data[f"mean_speed_kph_{cls}"], dtype=float)
            if np.isfinite(values).any():
                ax3.plot(minutes, values, lw=1.0, label=f"{name}: {cls}" if len(series) > 1 else cls)
        bike = np.asarray(data["mean_speed_kph_bike"], dtype=float)
        if np.isfinite(bike).any():
            ax3.plot(minutes, bike, lw=1.2, ls="--", color="#1a9641",
                     label=f"{name}: bicycles" if len(series) > 1 else "bicycles")
    ax1.set_ylabel("vehicles")
    ax2.set_ylabel("arrivals per minute")
    ax3.set_ylabel("mean speed (km/h)")
    for ax, head in ((ax1, "vehicles on the network (solid) and waiting at their origin (dashed)"),
                     (ax2, "arrivals"), (ax3, "mean speed of motor vehicles per road class")):
        ax.set_title(head, loc="left", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, ncol=3, loc="upper right")
    ticks = ax3.get_xticks()
    ax3.set_xticks(ticks)
    ax3.set_xticklabels([clock_label(start_clock, t) for t in ticks])
    ax3.set_xlim(0, duration_s / 60.0)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def plot_network_series(study, path: str | Path) -> Path:
    """Every traffic scenario's network plot (:func:`network_series_figure`), one line per plan."""
    series = {name: model.network_series() for name, model in study.models.items()}
    fig = network_series_figure(series, study.scenario.simulation.start_clock, study.scenario.simulation.duration_s,
                                f"{study.scenario.name}: the network over time")
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
