"""Bike plots: exit shares dry vs rain, stock per pool over time, the pools on the map."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.collections import LineCollection

from ..core.plotting import clock_label, place_labels, plt
from .compile import exit_shares

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from ..core.walk import WalkGraph

__all__ = ["exit_shares_figure", "plot_exit_shares", "pool_stock_series", "pool_stock_figure", "plot_pool_stock",
           "bike_pools_map_figure"]

def _short_exit(name: str) -> str:
    """``"East Nanjing Road Station Exit 3"`` -> ``"Exit 3"`` (labels under bars)."""
    return name.split(" Station ", 1)[1] if " Station " in name else name


def exit_shares_figure(shares: Mapping[str, Mapping[str, float] | None], rain_mm_per_h: float,
                       title: str) -> "Figure":
    """Bars per exit: expected share of alighting passengers, dry against rain (``shares``: the
    bikes summary's ``exit_shares``, ``{"dry": {exit: share}, "rain": {exit: share} or None}``)."""
    dry = shares["dry"]
    wet = shares.get("rain")
    names = list(dry)
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(10, 4))
    ax.bar(x - 0.2 if wet else x, [dry[n] for n in names], 0.4, color="#fdae61", label="dry")
    if wet:
        ax.bar(x + 0.2, [wet[n] for n in names], 0.4, color="#2c7bb6", label=f"rain {rain_mm_per_h:g} mm/h")
    ax.set_xticks(x)
    ax.set_xticklabels([_short_exit(n) for n in names], fontsize=8)
    ax.set_ylabel("share of alighting passengers")
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def plot_exit_shares(study, path: str | Path) -> Path:
    """Expected share of alighting passengers by exit, dry against the scenario's rain."""
    a = study.arrays
    rain = a.rain_mm_per_h
    shares = {"dry": exit_shares(a, 0.0), "rain": exit_shares(a, rain) if rain > 0 else None}
    fig = exit_shares_figure(shares, rain, f"{study.scenario.name}: exit shares")
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def pool_stock_series(model) -> dict:
    """What :func:`pool_stock_figure` draws for one finished plan (a :class:`~sim.model.BikeModel`),
    as plain picklable data: ``minute`` (samples,), ``stock`` (samples, pools) and ``in_vans``
    (samples,), from the model's ``mesa.DataCollector`` (once a simulated minute)."""
    df = model.datacollector.get_model_vars_dataframe()
    n = len(model.arrays.pool_names)
    stock = np.column_stack([df[f"{k}.stock"].to_numpy(dtype=np.int64) for k in range(n)]) if len(df) else \
        np.zeros((0, n), dtype=np.int64)
    return {"minute": df["minute"].to_numpy(dtype=float), "stock": stock,
            "in_vans": df["in_vans"].to_numpy(dtype=np.int64)}


def pool_stock_figure(series: Mapping[str, dict], pool_names: Sequence[str], start_clock: str, duration_s: float,
                      title: str) -> "Figure":
    """Stock of every pool over the evening, one panel per plan (``series``: plan name -> the
    plan's :func:`pool_stock_series`)."""
    names = list(series)
    fig, axes = plt.subplots(len(names), 1, figsize=(10, 2.6 * len(names) + 0.6), sharex=True, squeeze=False)
    for ax, name in zip(axes[:, 0], names):
        data = series[name]
        for k, pool in enumerate(pool_names):
            ax.step(data["minute"], data["stock"][:, k], where="post", lw=1.1, label=pool)
        ax.set_ylabel("bikes")
        ax.set_title(f"plan {name}", loc="left", fontsize=10)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=7, ncol=4, loc="upper right")
    ax = axes[-1, 0]
    step = 30 if duration_s > 3 * 3600 / 2 else 10
    ticks = np.arange(0.0, duration_s / 60.0 + 1e-9, step)
    ax.set_xticks(ticks)
    ax.set_xticklabels([clock_label(start_clock, t) for t in ticks])
    ax.set_xlim(0, duration_s / 60.0)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def plot_pool_stock(study, path: str | Path) -> Path:
    """Stock of every pool over the evening, one panel per plan."""
    series = {name: pool_stock_series(model) for name, model in study.models.items()}
    fig = pool_stock_figure(series, study.arrays.pool_names, study.scenario.simulation.start_clock,
                            study.scenario.simulation.duration_s, f"{study.scenario.name}: bikes in each pool")
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def bike_pools_map_figure(walk: "WalkGraph", pool_xy_m: np.ndarray, pool_names: Sequence[str],
                          plans: Mapping[str, tuple[Sequence[int], Sequence[float]]], title: str,
                          pool_covered: Sequence[bool] | None = None, margin_m: float = 70.0,
                          panel_in: tuple[float, float] = (3.0, 4.4)) -> "Figure":
    """One map per plan, side by side: the walk network around the station (drawn from its own
    cells: no basemap; sheltered ways in blue) with each bike pool at its exit.  ``plans``: plan
    name -> (unmet pickups per pool, empty minutes per pool).  Circle area grows with the pool's
    unmet pickups (also in brackets), colour with its empty minutes on one scale for every plan;
    pools under cover (``pool_covered``) have a blue rim.  The view is the pools plus ``margin_m``."""
    pool_xy_m = np.asarray(pool_xy_m, dtype=float)
    rim = np.zeros(len(pool_xy_m), dtype=bool) if pool_covered is None else np.asarray(pool_covered, dtype=bool)
    names = list(plans)
    unmet = {n: np.asarray(plans[n][0], dtype=float) for n in names}
    empty = {n: np.asarray(plans[n][1], dtype=float) for n in names}
    vmax = max([1.0] + [float(e.max()) for e in empty.values() if e.size])
    n = len(names)
    fig, axes = plt.subplots(1, n, figsize=(panel_in[0] * n + 0.9, panel_in[1]), squeeze=False)
    covered = np.asarray(walk.cell_covered, dtype=bool)
    widths = np.clip(walk.cell_width_m / 5.0, 0.8, 6.0)
    lo, hi = pool_xy_m.min(axis=0) - margin_m, pool_xy_m.max(axis=0) + margin_m
    dots = None
    for ax, name in zip(axes[0], names):
        ax.add_collection(LineCollection(walk.cell_xy[~covered], colors="#a0a0a0", linewidths=widths[~covered]))
        if covered.any():
            ax.add_collection(LineCollection(walk.cell_xy[covered], colors="#3182bd",
                                             linewidths=widths[covered] + 1.0))
        sizes = 50.0 + 6.0 * unmet[name]
        dots = ax.scatter(pool_xy_m[:, 0], pool_xy_m[:, 1], s=sizes, c=empty[name], cmap="YlOrRd", vmin=0.0,
                          vmax=vmax, edgecolors=np.where(rim, "#3182bd", "k").tolist(),
                          linewidths=np.where(rim, 2.2, 0.8), zorder=3)
        ax.set_xlim(lo[0], hi[0])
        ax.set_ylim(lo[1], hi[1])
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{name}: {int(unmet[name].sum()):,} unmet, {float(empty[name].sum()):.0f} min empty",
                     fontsize=9)
    bar = fig.colorbar(dots, ax=axes[0].tolist(), shrink=0.8, pad=0.02, fraction=0.03)
    bar.set_label("minutes the pool was empty", fontsize=8)
    fig.suptitle(f"{title}  (circle area and brackets: unmet pickups; blue: sheltered ways and pools)",
                 fontsize=10)
    fig.canvas.draw()
    for ax, name in zip(axes[0], names):
        texts = [f"{pool}" + (f" ({int(k):,})" if k else "") for pool, k in zip(pool_names, unmet[name])]
        place_labels(ax, pool_xy_m, np.sqrt(50.0 + 6.0 * unmet[name]) / 2.0, texts, fontsize=7.5)
    return fig
