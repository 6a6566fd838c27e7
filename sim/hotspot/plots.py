"""Plots of a coupled hotspot: the peak local density map (heat map) and the densities over time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.colors import BoundaryNorm, ListedColormap

from ..core.plotting import figure_png, plt

__all__ = ["plot_hotspot", "DENSITY_BANDS_PPM2"]

#: Colour bands of the heat map (p/m2): 4 is critical for a moving crowd, above 5 dangerous (docs/sources.md).
DENSITY_BANDS_PPM2 = [0, 1, 2, 3, 4, 5, 6, 7, 10]
_COLOURS = ["#f7f7f7", "#d9ef8b", "#91cf60", "#fee08b", "#fdae61", "#f46d43", "#d73027", "#7f0000"]


def _draw_area(ax, h) -> None:
    for w in h.area.geometry.walls:
        ax.plot([w[0], w[2]], [w[1], w[3]], color="black", lw=1.2)
    for name, poly in h.area.areas.items():
        if name.startswith(("landing", "flight")):
            x, y = poly.exterior.xy
            ax.plot(x, y, color="#555555", lw=0.6, ls="--")
            cx, cy = poly.centroid.x, poly.bounds[3]
            ax.text(cx, cy + 0.15, name.replace("_", " "), ha="center", va="bottom", fontsize=7)


def plot_hotspot(h, path: str | Path, title: str = "") -> Path:
    """Left: the highest local density each point reached (Gaussian estimate, R = 1/sqrt(pi) m, Helbing,
    Johansson & Al-Abideen 2007).  Right: the highest local density in each measurement area over time,
    with the 4 and 5 p/m2 lines."""
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(13, 4.8), gridspec_kw={"width_ratios": [1.3, 1]})
    ny, nx = h.heat_peak.shape
    extent = [h.heat_x0, h.heat_x0 + nx * h.heat_cell_m, h.heat_y0, h.heat_y0 + ny * h.heat_cell_m]
    xs = h.heat_x0 + (np.arange(nx) + 0.5) * h.heat_cell_m
    ys = h.heat_y0 + (np.arange(ny) + 0.5) * h.heat_cell_m
    gx, gy = np.meshgrid(xs, ys)
    import shapely

    inside = shapely.contains_xy(h.area.walkable, gx.ravel(), gy.ravel()).reshape(gx.shape)
    data = np.where(inside, h.heat_peak, np.nan)
    cmap = ListedColormap(_COLOURS)
    norm = BoundaryNorm(DENSITY_BANDS_PPM2, cmap.N)
    im = ax.imshow(data, origin="lower", extent=extent, cmap=cmap, norm=norm, interpolation="nearest")
    _draw_area(ax, h)
    fig.colorbar(im, ax=ax, label="peak local density (p/m2)", shrink=0.85)
    ax.set_aspect("equal")
    ax.set_xlabel("x along the stairs from the foot (m)")
    ax.set_ylabel("y across (m)")
    sep = "one-way lanes" if h.area.layout.separation == "one_way" else "no separation"
    ax.set_title(f"peak local density ({sep}); max {np.nanmax(data) if np.isfinite(data).any() else 0:.1f} p/m2",
                 fontsize=9)
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
    path = Path(path)
    path.write_bytes(figure_png(fig))
    return path
