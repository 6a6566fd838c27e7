"""Crowd plots (matplotlib, no display): zone series against the cap and LOS bands, LOS maps, maps of
where runs broke the safety criterion.

``plot_*`` take a finished run and write a PNG (the CLI's plots); ``*_figure`` take plain data (the
study layer's results) and return a figure, for the app and the advise report.

Plots an officer can read: time axes in clock time where the scenario says when it starts
(``simulation.start_clock``, ``"HH:MM"``; else minutes from the start, labelled so), the show shaded,
the main zone's gate closings and reopenings marked; people on the zone, people queueing at its gates
and densities in separate panels (a queue of thousands is not drawn on an axis of tens of thousands),
one y-scale per panel shared by every compared run; maps with a scale bar and the names of the places
that matter (the squares and promenade sections, and the worst places of the run).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.colors import BoundaryNorm, ListedColormap, Normalize

from ..core.plotting import clock_label, figure_png, place_labels, plt
from .fundamental import LOS_NAMES

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from ..core.walk import WalkGraph
    from .places import Places

__all__ = ["plot_zone_series", "plot_density_map", "los_map_figure", "cap_series_figure", "places_risk_map_figure",
           "start_clock_of", "time_axis", "scale_bar", "LOS_COLOURS", "CAP_COLOURS", "figure_png"]

LOS_COLOURS = ["#1a9850", "#91cf60", "#d9ef8b", "#fee08b", "#fc8d59", "#d73027"]
CAP_COLOURS = ["#2c7bb6", "#d7191c", "#1a9641", "#7b3294", "#ff7f00", "#525252", "#a6611a", "#01665e"]
SHOW_GREY = "#dddddd"
#: Place kinds always named on maps (the places a safety team plans around).
NAMED_KINDS = ("square", "promenade")


def start_clock_of(scenario) -> str | None:
    """The clock time at t = 0 (``simulation.start_clock``, ``"HH:MM"``), or None where the
    scenario does not say."""
    clock = getattr(getattr(scenario, "simulation", None), "start_clock", None)
    return clock if isinstance(clock, str) and ":" in clock else None


def time_axis(ax, end_minute: float, start_clock: str | None) -> None:
    """Ticks on a minutes axis every 15, 30 or 60 minutes, labelled in clock time (else minutes)."""
    span = max(end_minute, 1.0)
    step = 5 if span <= 40 else 10 if span <= 90 else 30 if span <= 300 else 60
    ticks = np.arange(0, span + 1e-9, step)
    ax.set_xticks(ticks)
    if start_clock:
        ax.set_xticklabels([clock_label(start_clock, t) for t in ticks])
        ax.set_xlabel(f"clock time (the run starts at {start_clock})")
    else:
        ax.set_xticklabels([f"{t:.0f}" for t in ticks])
        ax.set_xlabel("minutes from the start (the scenario gives no simulation.start_clock)")
    ax.set_xlim(0, span)


def _los_bands(ax, thresholds_ppm2: np.ndarray, top_ppm2: float, label_x: float) -> list[float]:
    """Shade the six Fruin levels of service up to ``top_ppm2``, labelled at ``label_x``."""
    bounds = [0.0, *np.asarray(thresholds_ppm2).tolist(), top_ppm2]
    for k in range(6):
        ax.axhspan(bounds[k], bounds[k + 1], color=LOS_COLOURS[k], alpha=0.25, lw=0)
        ax.text(label_x, (bounds[k] + bounds[k + 1]) / 2, f" LOS {LOS_NAMES[k]}", va="center", fontsize=8)
    return bounds


GATE_CLOSED = "#6a51a3"


def _gate_marks(axes, events: Sequence[tuple[float, str, bool]], zone: str, end_minute: float,
                colour: str = GATE_CLOSED, label: bool = True) -> None:
    """Shade the spells the zone's gates were closed and mark each closing and reopening."""
    mine = [(t / 60.0, is_open) for t, z, is_open in events if z == zone]
    spells, closed_at = [], None
    for minute, is_open in mine:
        if not is_open and closed_at is None:
            closed_at = minute
        elif is_open and closed_at is not None:
            spells.append((closed_at, minute))
            closed_at = None
    if closed_at is not None:
        spells.append((closed_at, end_minute))
    for ax in axes:
        for k, (a, b) in enumerate(spells):
            ax.axvspan(a, b, color=colour, alpha=0.12, lw=0,
                       label="gates closed" if (label and k == 0 and ax is axes[0]) else None)
            ax.axvline(a, color=colour, lw=0.6, ls=":")
            ax.axvline(b, color=colour, lw=0.6, ls=":")


def _series_axes(n_panels: int = 3):
    fig, axes = plt.subplots(n_panels, 1, figsize=(10, 8.5), sharex=True,
                             gridspec_kw={"height_ratios": [1.2, 0.8, 1.2][:n_panels]})
    return fig, axes


def plot_zone_series(model, path: str | Path, zone: str | None = None) -> Path:
    """The zone over the night in three panels: people on it against the cap; people queueing at its
    gates (own scale); its densest cell against the LOS bands.  Clock time, the show shaded, gate
    closings marked."""
    rec = model.recorder
    arrays = model.engine.arrays
    zone = zone or model.scenario.main_zone
    z = arrays.zone_names.index(zone)
    minutes = np.arange(1, rec.n + 1) * rec.dt_s / 60.0
    end = float(minutes[-1]) if minutes.size else 1.0
    fig, (ax1, axq, ax2) = _series_axes()
    show = model.scenario.show
    for ax in (ax1, axq, ax2):
        if show is not None:
            ax.axvspan(show.start_s / 60, show.end_s / 60, color=SHOW_GREY, alpha=0.6, lw=0)
        ax.grid(alpha=0.3)
    ax1.plot(minutes, rec.occupancy[: rec.n, z], color="#2c7bb6", label=f"people on {zone}")
    gate = model.gates.get(zone)
    cap = getattr(gate, "cap", None)
    if cap is not None:
        ax1.axhline(cap, color="k", ls="--", lw=1, label=f"cap {cap:,}")
    _gate_marks([ax1, axq, ax2], getattr(model, "gate_events", []), zone, end)
    ax1.set_ylabel("people")
    ax1.set_ylim(0, max(1.0, float(rec.occupancy[: rec.n, z].max(initial=0)), cap or 0) * 1.1)
    ax1.legend(loc="upper left", fontsize=8)
    ax1.set_title(f"{model.scenario.name}: {zone} (grey: the show; purple: its gates closed)", fontsize=10)
    axq.plot(minutes, rec.gate_queue[: rec.n, z], color="#e08214", label=f"queueing at {zone}'s gates")
    axq.set_ylabel("people queueing")
    axq.set_ylim(0, max(10.0, float(rec.gate_queue[: rec.n, z].max(initial=0)) * 1.15))
    axq.legend(loc="upper left", fontsize=8)
    bounds = _los_bands(ax2, arrays.los_thresholds_ppm2,
                        max(6.0, float(rec.max_density[: rec.n, z].max(initial=0)) * 1.1), end)
    mean = rec.occupancy[: rec.n, z] / arrays.zone_area_m2[z]
    ax2.plot(minutes, rec.max_density[: rec.n, z], color="#d7191c", label="densest cell")
    ax2.plot(minutes, mean, color="#2c7bb6", label="zone mean")
    ax2.set_ylim(0, bounds[-1])
    ax2.set_ylabel("density (p/m2)")
    ax2.legend(loc="upper left", fontsize=8)
    time_axis(ax2, end, start_clock_of(model.scenario))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def scale_bar(ax, fraction: float = 0.2) -> None:
    """A scale bar in the lower left of a map in metres, about ``fraction`` of its width long
    (rounded to 1, 2 or 5 x 10^k m)."""
    from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

    x0, x1 = ax.get_xlim()
    target = max(1.0, (x1 - x0) * fraction)
    power = 10 ** np.floor(np.log10(target))
    length = max(m * power for m in (1, 2, 5) if m * power <= target)
    label = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    bar = AnchoredSizeBar(ax.transData, length, label, "lower left", pad=0.4, borderpad=0.6, sep=4,
                          frameon=True, size_vertical=max(1.0, (x1 - x0) * 0.004), fontproperties={"size": 8})
    bar.patch.set_alpha(0.8)
    ax.add_artist(bar)


def _label_places(ax, places: "Places | None", names: Sequence[str], fontsize: float = 7) -> None:
    """Name the given places on the map (beside a small dot; labels kept apart)."""
    if places is None or not names:
        return
    index = {name: k for k, name in enumerate(places.names)}
    chosen = [index[n] for n in dict.fromkeys(names) if n in index]
    if not chosen:
        return
    xy = places.xy_m[chosen]
    ax.scatter(xy[:, 0], xy[:, 1], s=9, color="k", zorder=5)
    place_labels(ax, xy, np.full(len(chosen), 3.0), [places.names[k] for k in chosen], fontsize)


def map_labels(places: "Places | None", worst: Sequence[str] = (), limit: int = 8) -> list[str]:
    """The places named on a map: the squares and promenade sections, then the worst ``limit``."""
    if places is None:
        return []
    named = [n for n, kind in zip(places.names, places.kinds) if kind in NAMED_KINDS]
    return [*named, *[w for w in worst if w not in named][:limit]]


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
                     title: str | None = None, worst: Sequence[str] | None = None) -> Path:
    """The walk network coloured by Fruin level of service at each cell's peak density, with a scale
    bar and the names of the squares, promenade sections and the run's worst places (``worst``;
    default: the summary's ``worst_places``)."""
    arrays = model.engine.arrays
    density = model.recorder.cell_peak_density if density_ppm2 is None else density_ppm2
    fig, ax = plt.subplots(figsize=(8, 9))
    _draw_los_network(fig, ax, arrays.walk, density, arrays.los_thresholds_ppm2)
    places = getattr(arrays, "places", None)
    if worst is None:
        worst = model.summary().get("worst_places", [])
    _label_places(ax, places, map_labels(places, worst))
    scale_bar(ax)
    ax.set_title(title or f"{model.scenario.name}: peak level of service (Fruin)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def los_map_figure(walk: "WalkGraph", density_ppm2: np.ndarray, thresholds_ppm2: np.ndarray, title: str,
                   figsize: tuple[float, float] = (4.2, 5.4), places: "Places | None" = None,
                   labels: Sequence[str] = ()) -> "Figure":
    """A small map of the walk network coloured by level of service at the given cell densities
    (peak or one moment), for side-by-side comparisons; with a scale bar and, given ``places``, the
    named ``labels``."""
    fig, ax = plt.subplots(figsize=figsize)
    _draw_los_network(fig, ax, walk, np.asarray(density_ppm2), thresholds_ppm2, width_scale=6.0,
                      colorbar_shrink=0.7)
    _label_places(ax, places, labels, fontsize=6)
    scale_bar(ax, 0.3)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def places_risk_map_figure(walk: "WalkGraph", places: "Places", share: Mapping[str, float], title: str,
                           label_top: int = 8, figsize: tuple[float, float] = (7.5, 8.5)) -> "Figure":
    """Where runs broke the safety criterion: every place coloured by the share of runs in which it
    did (0 grey-green to 1 dark red), the ``label_top`` most frequent named, with a scale bar."""
    values = np.array([share.get(name, 0.0) for name in places.names])
    cell_value = values[places.cell_place]
    fig, ax = plt.subplots(figsize=figsize)
    cmap = plt.get_cmap("YlOrRd")
    norm = Normalize(0.0, 1.0)
    colours = np.where(cell_value[:, None] > 0, cmap(norm(cell_value)), np.array([[0.75, 0.8, 0.75, 1.0]]))
    widths = np.clip(walk.cell_width_m / 4.0, 0.6, 8.0)
    ax.add_collection(LineCollection(walk.cell_xy, colors=colours, linewidths=widths))
    ax.autoscale()
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    sm = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
    bar = fig.colorbar(sm, ax=ax, shrink=0.6)
    bar.set_label("share of runs in which the place broke the criterion")
    top = [n for n in sorted(share, key=lambda n: -share[n]) if share[n] > 0][:label_top]
    _label_places(ax, places, [*top, *[n for n, k in zip(places.names, places.kinds) if k in NAMED_KINDS]])
    scale_bar(ax)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def cap_series_figure(results: Sequence, zone: str, title: str | None = None) -> "Figure":
    """Several runs of one scenario (e.g. one per cap) overlaid, in three panels with one y-scale
    each, shared by every run: people on the zone against each run's cap (dashed); people queueing at
    its gates; its densest cell against the LOS bands (bands of the first run).  Clock time where the
    scenario gives it; the show shaded; each run's gate closings marked in its colour."""
    fig, (ax1, axq, ax2) = _series_axes()
    first = results[0]
    for ax in (ax1, axq, ax2):
        ax.axvspan(first.show_start_s / 60, first.show_end_s / 60, color=SHOW_GREY, alpha=0.6, lw=0)
        ax.grid(alpha=0.3)
    top, top_people, top_queue = 3.0, 1.0, 10.0
    end_minute = 0.0
    for k, res in enumerate(results):
        colour = CAP_COLOURS[k % len(CAP_COLOURS)]
        z = res.zone_names.index(zone)
        minutes = np.arange(1, res.occupancy.shape[0] + 1) * res.dt_s / 60.0
        end_minute = max(end_minute, float(minutes[-1]) if minutes.size else 0.0)
        ax1.plot(minutes, res.occupancy[:, z], color=colour, lw=1.4, label=res.label)
        cap = res.summary["zones"][zone]["cap"]
        top_people = max(top_people, float(res.occupancy[:, z].max(initial=0)), cap or 0)
        if cap is not None:
            ax1.axhline(cap, color=colour, ls="--", lw=1)
        axq.plot(minutes, res.gate_queue[:, z], color=colour, lw=1.2, label=res.label)
        top_queue = max(top_queue, float(res.gate_queue[:, z].max(initial=0)))
        ax2.plot(minutes, res.max_density[:, z], color=colour, lw=1.2, label=res.label)
        if res.max_density.size:
            top = max(top, float(res.max_density[:, z].max()) * 1.1)
        events = getattr(res, "gate_events", ())
        if events:
            _gate_marks([ax1], events, zone, float(minutes[-1]) if minutes.size else 0.0, colour, label=False)
    ax1.set_ylabel(f"people on {zone}")
    ax1.set_ylim(0, top_people * 1.1)
    ax1.legend(loc="upper left", fontsize=8, title="dashed: cap; dotted: gates closed/reopened", title_fontsize=8)
    ax1.set_title(title or f"{first.summary['scenario']}: {zone} (grey band: the show)", fontsize=10)
    axq.set_ylabel("queueing at its gates")
    axq.set_ylim(0, top_queue * 1.15)
    bounds = _los_bands(ax2, first.los_thresholds_ppm2, top, end_minute)
    ax2.set_ylim(0, bounds[-1])
    ax2.set_ylabel("densest cell (p/m2)")
    ax2.legend(loc="upper left", fontsize=8)
    time_axis(ax2, end_minute, getattr(first, "start_clock", None))
    fig.tight_layout()
    return fig
