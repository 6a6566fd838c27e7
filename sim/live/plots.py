"""Plots of a live twin's folder (matplotlib, no display), for the app's Live page: each zone's
counts against the twin's band with the latest forecast fan, a sensor's counts against the band,
and the district map coloured by the level of service now and at its forecast peak."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..core.plotting import plt
from ..crowd.plots import los_map_figure, start_clock_of, time_axis
from .view import LiveView

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = ["zone_fan_figure", "counts_figure", "live_map_figures"]

BAND = "#9ecae1"
FAN = "#fdae6b"


def _band(ax, counts) -> None:
    if counts.empty:
        return
    m = counts["t_s"].to_numpy(float) / 60.0
    ax.fill_between(m, counts["twin_p5"], counts["twin_p95"], color=BAND, alpha=0.6, lw=0,
                    label="twin before each update, p5-p95")
    ax.plot(m, counts["value"], ".", color="k", ms=3, label="counts")


def zone_fan_figure(view: LiveView, zone: str, figsize: tuple[float, float] = (6.4, 4.6)) -> "Figure":
    """A zone: occupancy counts against the twin's band, the latest forecast fan (p5-p95, median)
    and the cap; below, its densest cell's fan against the walkway LOS E and F thresholds."""
    fig, (top, low) = plt.subplots(2, 1, figsize=figsize, sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    sensor = view.occupancy_sensor(zone)
    if sensor is not None:
        _band(top, view.counts(sensor))
    fan = view.fan(zone)
    end = view.t_s / 60.0
    if not fan.empty:
        m = fan["t_s"].to_numpy(float) / 60.0
        top.fill_between(m, fan["occupancy_p5"], fan["occupancy_p95"], color=FAN, alpha=0.6, lw=0,
                         label="forecast p5-p95")
        top.plot(m, fan["occupancy_p50"], color="#e6550d", lw=1.5, label="forecast median")
        low.fill_between(m, fan["max_density_p5_ppm2"], fan["max_density_p95_ppm2"], color=FAN, alpha=0.6, lw=0)
        low.plot(m, fan["max_density_p50_ppm2"], color="#e6550d", lw=1.5, label="densest cell, median")
        end = max(end, float(m.max()))
    cap = view.status.get("caps", {}).get(zone)
    if cap is not None:
        top.axhline(cap, color="#d7191c", lw=1, ls="--", label=f"cap {cap:,}")
    thresholds = view.status.get("los_thresholds_ppm2") or []
    if len(thresholds) >= 5:
        low.axhline(thresholds[3], color="#fc8d59", lw=1, ls="--", label="walkway LOS E")
        low.axhline(thresholds[4], color="#d73027", lw=1, ls="--", label="walkway LOS F")
    for ax in (top, low):
        ax.axvline(view.t_s / 60.0, color="#555555", lw=0.8)
        ax.grid(alpha=0.3)
    top.set_ylabel("people")
    low.set_ylabel("p/m2")
    top.set_title(f"{zone}: counts, twin and forecast", fontsize=10)
    top.legend(fontsize=6, loc="upper left")
    low.legend(fontsize=6, loc="upper left")
    time_axis(low, end, start_clock_of(view.scenario))
    fig.tight_layout()
    return fig


def counts_figure(view: LiveView, sensor: str, figsize: tuple[float, float] = (4.2, 2.6)) -> "Figure":
    """One sensor's counts against the twin's band (p5-p95 before each update)."""
    fig, ax = plt.subplots(figsize=figsize)
    counts = view.counts(sensor)
    _band(ax, counts)
    ax.set_title(sensor, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6, loc="upper left")
    time_axis(ax, max(view.t_s / 60.0, 1.0), start_clock_of(view.scenario))
    ax.xaxis.label.set_fontsize(7)
    fig.tight_layout()
    return fig


def live_map_figures(view: LiveView, walk, places=None) -> tuple["Figure", "Figure"] | None:
    """The district coloured by the walkers' level of service now and at its forecast peak (ensemble
    medians per cell), or None before the first forecast."""
    densities = view.cell_densities()
    thresholds = view.status.get("los_thresholds_ppm2")
    if densities is None or not thresholds or densities[0].size != walk.n_cells:
        return None
    now, peak = densities
    horizon = int(view.latest()["lead_min"].max()) if not view.latest().empty else 0
    issued = view.issued_s or 0.0
    t = np.asarray(thresholds, dtype=float)
    return (los_map_figure(walk, now, t, f"now (minute {issued / 60:.0f})", places=places),
            los_map_figure(walk, peak, t, f"forecast peak, next {horizon} min", places=places))
