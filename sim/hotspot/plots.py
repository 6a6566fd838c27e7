"""Plots of a coupled hotspot: the peak local density map (heat map), the densities over time, and
the local density at one moment (a frame of :mod:`.frames`), all on one fixed colour scale."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.colors import BoundaryNorm, ListedColormap

from ..core.plotting import figure_png, plt
from .frames import HotspotFrames, load_frames

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = ["plot_hotspot", "hotspot_figure", "frame_figure", "frame_png", "AreaOutline", "outline_of",
           "load_frames", "DENSITY_BANDS_PPM2"]

#: Colour bands of the heat map (p/m2): 4 is critical for a moving crowd, above 5 dangerous (docs/sources.md).
DENSITY_BANDS_PPM2 = [0, 1, 2, 3, 4, 5, 6, 7, 10]
_COLOURS = ["#f7f7f7", "#d9ef8b", "#91cf60", "#fee08b", "#fdae61", "#f46d43", "#d73027", "#7f0000"]


@dataclass(frozen=True)
class AreaOutline:
    """What the heat maps draw of an area (small, picklable: no route fields): its walls ``(k, 4)``
    as x1, y1, x2, y2 (m), the walkable polygon(s), the measurement areas and the separation."""

    walls: np.ndarray
    walkable: object
    areas: dict
    separation: str


def outline_of(area) -> AreaOutline:
    """The outline of a :class:`~.layout.StairArea`."""
    return AreaOutline(walls=np.asarray(area.geometry.walls, dtype=float).copy(), walkable=area.walkable,
                       areas=dict(area.areas), separation=area.layout.separation)


def _draw_area(ax, outline: AreaOutline) -> None:
    for w in outline.walls:
        ax.plot([w[0], w[2]], [w[1], w[3]], color="black", lw=1.2)
    for name, poly in outline.areas.items():
        if name.startswith(("landing", "flight")):
            x, y = poly.exterior.xy
            ax.plot(x, y, color="#555555", lw=0.6, ls="--")
            cx, cy = poly.centroid.x, poly.bounds[3]
            ax.text(cx, cy + 0.15, name.replace("_", " "), ha="center", va="bottom", fontsize=7)


def _heat_map(ax, field: np.ndarray, x0_m: float, y0_m: float, cell_m: float, outline: AreaOutline,
              label: str) -> float:
    """``field`` (p/m2 on the grid) inside the walkable area, in the fixed bands of
    :data:`DENSITY_BANDS_PPM2`, with the area's outline; returns the field's maximum inside (0 if none)."""
    import shapely

    fig = ax.figure
    ny, nx = field.shape
    extent = [x0_m, x0_m + nx * cell_m, y0_m, y0_m + ny * cell_m]
    gx, gy = np.meshgrid(x0_m + (np.arange(nx) + 0.5) * cell_m, y0_m + (np.arange(ny) + 0.5) * cell_m)
    inside = shapely.contains_xy(outline.walkable, gx.ravel(), gy.ravel()).reshape(gx.shape)
    data = np.where(inside, field, np.nan)
    cmap = ListedColormap(_COLOURS)
    norm = BoundaryNorm(DENSITY_BANDS_PPM2, cmap.N)
    im = ax.imshow(data, origin="lower", extent=extent, cmap=cmap, norm=norm, interpolation="nearest")
    _draw_area(ax, outline)
    fig.colorbar(im, ax=ax, label=label, shrink=0.85)
    ax.set_aspect("equal")
    ax.set_xlabel("x along the stairs from the foot (m)")
    ax.set_ylabel("y across (m)")
    return float(np.nanmax(data)) if np.isfinite(data).any() else 0.0


def _separation_text(outline: AreaOutline) -> str:
    return "one-way lanes" if outline.separation == "one_way" else "no separation"


def plot_hotspot(h, path: str | Path, title: str = "") -> Path:
    """Write :func:`hotspot_figure` of hotspot ``h`` to ``path`` (PNG)."""
    path = Path(path)
    path.write_bytes(figure_png(hotspot_figure(h, title)))
    return path


def hotspot_figure(h, title: str = "") -> "Figure":
    """Left: the highest local density each point reached (Gaussian estimate, R = 1/sqrt(pi) m, Helbing,
    Johansson & Al-Abideen 2007).  Right: the highest local density in each measurement area over time,
    with the 4 and 5 p/m2 lines."""
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(13, 4.8), gridspec_kw={"width_ratios": [1.3, 1]})
    outline = outline_of(h.area)
    peak = _heat_map(ax, h.heat_peak, h.heat_x0, h.heat_y0, h.heat_cell_m, outline, "peak local density (p/m2)")
    ax.set_title(f"peak local density ({_separation_text(outline)}); max {peak:.1f} p/m2", fontsize=9)
    t = np.asarray(h.monitor.t_s) / 60.0
    for name in h.monitor.names:
        ax2.plot(t, h.monitor.max_local_ppm2[name], lw=1, label=name.replace("_", " "))
    for level, colour in ((4.0, "#fdae61"), (5.0, "#d73027")):
        ax2.axhline(level, color=colour, ls="--", lw=1)
    ax2.set_xlabel("minutes from the start")
    ax2.set_ylabel("highest local density in the area (p/m2)")
    ax2.legend(fontsize=7, loc="upper left")
    ax2.set_ylim(bottom=0)
    fig.suptitle(title, fontsize=10)
    return fig


def frame_figure(frames: HotspotFrames, k: int, outline: AreaOutline, title: str = "",
                 start_clock: str | None = None) -> "Figure":
    """Frame ``k`` of ``frames``: the local density at that moment (p/m2, the peak map's fixed bands, so
    frames and the peak map compare directly), the area's outline, the time (m:ss from the start,
    and the clock time where ``start_clock`` "HH:MM" is given) in the title."""
    from ..core.plotting import clock_label

    if not 0 <= k < frames.t_s.size:
        raise IndexError(f"frame {k!r}: the run kept {frames.t_s.size} frame(s) (0 to {frames.t_s.size - 1})")
    fig, ax = plt.subplots(figsize=(8, 4.8))
    t_s = float(frames.t_s[k])
    top = _heat_map(ax, frames.frames[k], frames.x0_m, frames.y0_m, frames.cell_m, outline, "local density (p/m2)")
    whole_s = int(round(t_s))
    when = f"{whole_s // 60}:{whole_s % 60:02d} from the start" + (
        f" ({clock_label(start_clock, whole_s // 60)}:{whole_s % 60:02d})" if start_clock else "")
    ax.set_title(f"local density at {when} ({_separation_text(outline)}); max {top:.1f} p/m2", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def frame_png(frames: HotspotFrames, k: int, outline: AreaOutline, title: str = "",
              start_clock: str | None = None, dpi: int = 90) -> bytes:
    """:func:`frame_figure` as PNG bytes."""
    return figure_png(frame_figure(frames, k, outline, title, start_clock), dpi=dpi)
