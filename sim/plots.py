"""Plots (matplotlib, no display needed): crowd zone series and peak-density map; traffic portal
queues with the phase plan as bands, and plan comparisons; bike exit shares dry vs rain, stock per
pool over time and the pools on the map.

``plot_*`` functions take a finished run and write a PNG (the CLI's plots).  ``*_figure`` functions
take plain data (results of :mod:`sim.compare`, summaries) and return a figure, for the app, which
keeps results in a cache rather than live models; both kinds share the drawing code.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.colors import BoundaryNorm, ListedColormap  # noqa: E402

from .fundamental import LOS_NAMES  # noqa: E402

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from .compare import CrowdResult
    from .network import WalkGraph

__all__ = ["plot_exit_shares", "plot_pool_stock", "plot_zone_series", "plot_density_map", "LOS_COLOURS",
           "plot_portal_queues", "plot_plan_comparison",
           "cap_series_figure", "los_map_figure", "portal_series", "portal_queues_figure",
           "plan_comparison_figure", "exit_shares_figure", "pool_stock_series", "pool_stock_figure",
           "bike_pools_map_figure", "sweep_bands_figure", "figure_png"]

LOS_COLOURS = ["#1a9850", "#91cf60", "#d9ef8b", "#fee08b", "#fc8d59", "#d73027"]


def figure_png(fig: "Figure", dpi: int = 110) -> bytes:
    """The figure as PNG bytes; closes it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    return buffer.getvalue()


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


def cap_series_figure(results: Sequence["CrowdResult"], zone: str, title: str | None = None) -> "Figure":
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


PHASE_COLOURS = {"convoy": "#a6d96a", "clear_to_convoy": "#d9d9d9", "clear_to_motor": "#d9d9d9"}


def _clock_label(start_clock: str, minutes: float) -> str:
    h, m = (int(x) for x in start_clock.split(":"))
    total = h * 60 + m + int(round(minutes))
    return f"{(total // 60) % 24:02d}:{total % 60:02d}"


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
    ax.set_xticklabels([_clock_label(start_clock, t) for t in ticks])
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
    from .bikes import exit_shares
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
    ax.set_xticklabels([_clock_label(start_clock, t) for t in ticks])
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


def _place_labels(ax, xy: np.ndarray, radii_pt: np.ndarray, texts: Sequence[str], fontsize: float) -> None:
    """Label each point beside its circle where the label covers no other circle or label and stays
    inside the axes (tried right, left, above, below, then the diagonals; the first free place, else
    the right)."""
    fig = ax.figure
    fig.canvas.draw()
    to_pt = 72.0 / fig.dpi
    centres = ax.transData.transform(xy) * to_pt
    frame = ax.get_window_extent()
    fx0, fy0, fx1, fy1 = frame.x0 * to_pt, frame.y0 * to_pt, frame.x1 * to_pt, frame.y1 * to_pt
    placed: list[tuple[float, float, float, float]] = []

    def hits(box) -> bool:
        x0, y0, x1, y1 = box
        if x0 < fx0 or y0 < fy0 or x1 > fx1 or y1 > fy1:
            return True
        for (cx, cy), r in zip(centres, radii_pt):
            if x0 - r < cx < x1 + r and y0 - r < cy < y1 + r:
                return True
        return any(x0 < b[2] and b[0] < x1 and y0 < b[3] and b[1] < y1 for b in placed)

    for k in np.argsort(-radii_pt, kind="stable"):
        (cx, cy), r, text = centres[k], radii_pt[k], texts[k]
        w, h, gap = 0.58 * fontsize * len(text), 1.2 * fontsize, r + 2.0
        candidates = [(gap, -h / 2), (-gap - w, -h / 2), (-w / 2, gap), (-w / 2, -gap - h),
                      (0.7 * gap, 0.7 * gap), (-0.7 * gap - w, 0.7 * gap), (0.7 * gap, -0.7 * gap - h),
                      (-0.7 * gap - w, -0.7 * gap - h)]
        dx, dy = next(((dx, dy) for dx, dy in candidates
                       if not hits((cx + dx, cy + dy, cx + dx + w, cy + dy + h))), candidates[0])
        placed.append((cx + dx, cy + dy, cx + dx + w, cy + dy + h))
        ax.annotate(text, xy[k], xytext=(dx, dy), textcoords="offset points", fontsize=fontsize,
                    ha="left", va="bottom", zorder=4)


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
        _place_labels(ax, pool_xy_m, np.sqrt(50.0 + 6.0 * unmet[name]) / 2.0, texts, fontsize=7.5)
    return fig


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
