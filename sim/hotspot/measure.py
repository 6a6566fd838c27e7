"""Measurements a safety officer needs, after the methods of PedPy (Mohcine Chraibi, Tobias Schrödter
et al., PedestrianDynamics/PedPy) and of Helbing, Johansson & Al-Abideen (2007).

* classic density: people in a measurement area over its area (PedPy ``compute_classic_density``);
* Voronoi density: each person's Voronoi cell, clipped to the walkable area (and optionally to a
  cut-off circle); the density in a measurement area M is ``sum_i |V_i & M| / |V_i| / |M|`` (PedPy
  ``compute_voronoi_density``, after Steffen & Seyfried 2010);
* a grid density map averaged over frames (cell counts over the walkable part of each cell);
* flow through a line: crossings per second (N-t curve, PedPy ``compute_n_t`` / ``compute_flow``);
* local density ``sum_j exp(-|x - x_j|^2 / R^2) / (pi R^2)`` on a grid (Helbing et al. 2007, Phys.
  Rev. E 75:046109) with R = 1/sqrt(pi) m, so that one person spreads over one square metre: its
  maximum per area and the time spent above 4 and 5 p/m2 (docs/sources.md: about 4 p/m2 critical for a
  moving crowd, above 5 p/m2 dangerous) are what :class:`CrowdMonitor` reports.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import shapely
from numpy.typing import ArrayLike
from scipy.spatial import Voronoi
from shapely.geometry import MultiPolygon, Polygon, box

from .errors import GeometryError, ParameterError
from .kernels import gaussian_local_density, polygon_counts

__all__ = ["classic_density", "voronoi_cells", "voronoi_density", "density_map", "flow_from_crossings",
           "mean_speed", "CrowdMonitor", "LOCAL_DENSITY_RADIUS_M"]

LOCAL_DENSITY_RADIUS_M = 1.0 / math.sqrt(math.pi)     # the kernel's effective area is 1 m2


def _xy(x_m: ArrayLike, y_m: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    x = np.atleast_1d(np.asarray(x_m, dtype=float)).ravel()
    y = np.atleast_1d(np.asarray(y_m, dtype=float)).ravel()
    if x.shape != y.shape:
        raise ParameterError(f"x_m, y_m: expected equal lengths, got {x.size} and {y.size}")
    return x, y


def _polygon(name: str, value: object) -> Polygon | MultiPolygon:
    if not isinstance(value, (Polygon, MultiPolygon)) or value.is_empty or value.area <= 0:
        raise GeometryError([f"{name}: expected a polygon with a positive area, got {value!r}"])
    return value


def classic_density(x_m: ArrayLike, y_m: ArrayLike, area: Polygon) -> float:
    """People inside ``area`` divided by its area (p/m2)."""
    x, y = _xy(x_m, y_m)
    area = _polygon("area", area)
    return float(np.count_nonzero(shapely.intersects_xy(area, x, y))) / area.area


def voronoi_cells(x_m: ArrayLike, y_m: ArrayLike, walkable: Polygon | MultiPolygon, *,
                  cutoff_radius_m: float | None = None,
                  quad_segments: int = 3) -> list[Polygon]:
    """Each person's Voronoi cell (scipy.spatial.Voronoi), clipped to the walkable area and, with
    ``cutoff_radius_m``, to a circle around the person (PedPy's ``Cutoff(radius, quad_segments)``).
    Far-away helper points bound the outer cells; an empty list for no people."""
    x, y = _xy(x_m, y_m)
    walkable = _polygon("walkable", walkable)
    if x.size == 0:
        return []
    if cutoff_radius_m is not None and not cutoff_radius_m > 0:
        raise ParameterError(f"cutoff_radius_m: expected a positive radius, got {cutoff_radius_m!r}")
    minx, miny, maxx, maxy = walkable.bounds
    span = 10.0 * max(maxx - minx, maxy - miny, 1.0)
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    ghosts = np.array([[cx - span, cy - span], [cx + span, cy - span], [cx + span, cy + span], [cx - span, cy + span]])
    pts = np.column_stack([x, y])
    unique, inverse = np.unique(pts, axis=0, return_inverse=True)
    vor = Voronoi(np.vstack([unique, ghosts]))
    raw = []
    for k in range(len(unique)):
        region = vor.regions[vor.point_region[k]]
        raw.append(Polygon(vor.vertices[region]) if region and -1 not in region else Polygon())
    cells = shapely.intersection(np.array(raw, dtype=object), walkable)
    if cutoff_radius_m is not None:
        circles = shapely.buffer(shapely.points(unique), cutoff_radius_m, quad_segs=quad_segments)
        cells = shapely.intersection(cells, circles)
    cells = list(cells)
    return [cells[k] for k in np.asarray(inverse).ravel()]


def voronoi_density(x_m: ArrayLike, y_m: ArrayLike, walkable: Polygon | MultiPolygon, area: Polygon, *,
                    cutoff_radius_m: float | None = None, quad_segments: int = 3) -> float:
    """Voronoi density in ``area``: ``sum_i |V_i & area| / |V_i| / |area|`` (p/m2)."""
    area = _polygon("area", area)
    cells = voronoi_cells(x_m, y_m, walkable, cutoff_radius_m=cutoff_radius_m, quad_segments=quad_segments)
    if not cells:
        return 0.0
    arr = np.array(cells, dtype=object)
    cell_area = shapely.area(arr)
    inside = shapely.area(shapely.intersection(arr, area))
    ok = cell_area > 0
    return float(np.sum(inside[ok] / cell_area[ok]) / area.area)


def density_map(frames: Sequence[tuple[np.ndarray, np.ndarray]], walkable: Polygon | MultiPolygon, *,
                cell_m: float = 0.5, bounds: tuple[float, float, float, float] | None = None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean density (p/m2) per grid cell over ``frames`` (a list of (x, y) arrays): counts per cell
    divided by the walkable area of the cell and the number of frames.  Returns (density[ny, nx],
    x_edges, y_edges); cells without walkable area are NaN."""
    walkable = _polygon("walkable", walkable)
    if not 0.1 <= cell_m <= 5.0:
        raise ParameterError(f"cell_m: expected 0.1-5 m, got {cell_m!r}")
    if not frames:
        raise ParameterError("frames: expected at least one frame, got none")
    minx, miny, maxx, maxy = bounds if bounds is not None else walkable.bounds
    nx = max(1, int(math.ceil((maxx - minx) / cell_m)))
    ny = max(1, int(math.ceil((maxy - miny) / cell_m)))
    x_edges = minx + cell_m * np.arange(nx + 1)
    y_edges = miny + cell_m * np.arange(ny + 1)
    counts = np.zeros((ny, nx))
    for x_m, y_m in frames:
        x, y = _xy(x_m, y_m)
        h, _, _ = np.histogram2d(y, x, bins=[y_edges, x_edges])
        counts += h
    cells = np.array([[box(x_edges[i], y_edges[j], x_edges[i + 1], y_edges[j + 1]) for i in range(nx)]
                      for j in range(ny)], dtype=object)
    walk_area = shapely.area(shapely.intersection(cells, walkable))
    with np.errstate(invalid="ignore", divide="ignore"):
        dens = np.where(walk_area > 1e-9, counts / (len(frames) * walk_area), np.nan)
    return dens, x_edges, y_edges


def flow_from_crossings(t_s: np.ndarray, cumulative: np.ndarray, *, t_from_s: float, t_to_s: float) -> float:
    """People per second over a line between two times, from a cumulative count sampled at ``t_s``."""
    t_s, cumulative = np.asarray(t_s, float), np.asarray(cumulative, float)
    if t_to_s <= t_from_s:
        raise ParameterError(f"t_to_s: expected after t_from_s={t_from_s!r}, got {t_to_s!r}")
    n0, n1 = np.interp([t_from_s, t_to_s], t_s, cumulative)
    return float((n1 - n0) / (t_to_s - t_from_s))


def mean_speed(x_m: ArrayLike, y_m: ArrayLike, speed_mps: ArrayLike, area: Polygon) -> float:
    """Mean speed (m/s) of the people inside ``area`` (NaN if nobody)."""
    x, y = _xy(x_m, y_m)
    speed = np.asarray(speed_mps, float).ravel()
    inside = shapely.intersects_xy(_polygon("area", area), x, y)
    return float(speed[inside].mean()) if inside.any() else float("nan")


class CrowdMonitor:
    """Per named area: classic density, maximum local density, time above 4 and 5 p/m2, mean speed.

    Call :meth:`sample` with the crowd's positions every ``interval_s`` of simulated time (e.g. from
    the engine loop); local density is evaluated on a ``cell_m`` grid over each area."""

    THRESHOLDS_PPM2 = (4.0, 5.0)

    def __init__(self, areas: Mapping[str, Polygon], *, cell_m: float = 0.25,
                 radius_m: float = LOCAL_DENSITY_RADIUS_M):
        if not areas:
            raise ParameterError("areas: expected at least one named measurement area, got none")
        if not 0.05 <= cell_m <= 2.0:
            raise ParameterError(f"cell_m: expected 0.05-2 m, got {cell_m!r}")
        self.radius_m = float(radius_m)
        self.names = list(areas)
        self._grids = []
        for name, poly in areas.items():
            poly = _polygon(f"areas[{name!r}]", poly)
            minx, miny, maxx, maxy = poly.bounds
            nx, ny = max(1, int(math.ceil((maxx - minx) / cell_m))), max(1, int(math.ceil((maxy - miny) / cell_m)))
            cx = minx + (np.arange(nx) + 0.5) * cell_m
            cy = miny + (np.arange(ny) + 0.5) * cell_m
            gx, gy = np.meshgrid(cx, cy)
            mask = shapely.intersects_xy(poly, gx.ravel(), gy.ravel()).reshape(gy.shape)
            if not mask.any():
                mask[ny // 2, nx // 2] = True
            self._grids.append((poly, minx, miny, cell_m, np.zeros((ny, nx)), mask))
        # Simple polygons (no holes) as rings for the compiled count (:meth:`sample_field`).
        polys = [g[0] for g in self._grids]
        self._simple = all(isinstance(q, Polygon) and not q.interiors for q in polys)
        if self._simple:
            rings = [np.asarray(q.exterior.coords)[:-1] for q in polys]
            self._ring_start = np.concatenate([[0], np.cumsum([len(r) for r in rings])]).astype(np.int64)
            self._ring_x = np.ascontiguousarray(np.concatenate([r[:, 0] for r in rings]))
            self._ring_y = np.ascontiguousarray(np.concatenate([r[:, 1] for r in rings]))
            self._area_m2 = np.array([q.area for q in polys])
        self._field_masks: tuple | None = None      # (grid key, per-area masks of a caller's field)
        self.t_s: list[float] = []
        self.classic_ppm2 = {n: [] for n in self.names}
        self.max_local_ppm2 = {n: [] for n in self.names}
        self.mean_speed_mps = {n: [] for n in self.names}
        self._above_s = {n: [0.0, 0.0] for n in self.names}
        self._last_t: float | None = None

    def sample(self, t_s: float, x_m: ArrayLike, y_m: ArrayLike, speed_mps: ArrayLike | None = None) -> None:
        """Record one instant; the time since the previous sample counts as above a threshold when
        this sample is."""
        x, y = _xy(x_m, y_m)
        dt = 0.0 if self._last_t is None else t_s - self._last_t
        if dt < 0:
            raise ParameterError(f"t_s: samples must go forward in time, got {t_s!r} after {self._last_t!r}")
        self._last_t = t_s
        self.t_s.append(float(t_s))
        reach = 3.0 * self.radius_m
        for name, (poly, x0, y0, h, grid, mask) in zip(self.names, self._grids):
            self.classic_ppm2[name].append(classic_density(x, y, poly))
            minx, miny, maxx, maxy = poly.bounds
            near = (x >= minx - reach) & (x <= maxx + reach) & (y >= miny - reach) & (y <= maxy + reach)
            xs, ys = np.ascontiguousarray(x[near]), np.ascontiguousarray(y[near])
            gaussian_local_density(xs.size, xs, ys, x0, y0, h, grid, self.radius_m)
            peak = float(grid[mask].max())
            self.max_local_ppm2[name].append(peak)
            for k, thr in enumerate(self.THRESHOLDS_PPM2):
                if peak >= thr:
                    self._above_s[name][k] += dt
            if speed_mps is not None:
                self.mean_speed_mps[name].append(mean_speed(x, y, speed_mps, poly))

    def sample_field(self, t_s: float, x_m: np.ndarray, y_m: np.ndarray, speed_mps: np.ndarray,
                     field: np.ndarray, x0: float, y0: float, cell_m: float) -> None:
        """As :meth:`sample`, with the local density given as ``field`` (p/m2 on a grid of ``cell_m``
        cells from (x0, y0), e.g. the caller's heat map, computed once for all areas): each area's
        peak is the field's maximum over the cells whose centres lie in it.  Counts and speeds are
        compiled (:func:`~.kernels.polygon_counts`); an empty crowd costs nothing but the zeros."""
        if not self._simple:
            self.sample(t_s, x_m, y_m, speed_mps)
            return
        dt = 0.0 if self._last_t is None else t_s - self._last_t
        if dt < 0:
            raise ParameterError(f"t_s: samples must go forward in time, got {t_s!r} after {self._last_t!r}")
        self._last_t = t_s
        self.t_s.append(float(t_s))
        n = x_m.size
        if n == 0:
            for name in self.names:
                self.classic_ppm2[name].append(0.0)
                self.max_local_ppm2[name].append(0.0)
                self.mean_speed_mps[name].append(float("nan"))
            return
        key = (field.shape, float(x0), float(y0), float(cell_m))
        if self._field_masks is None or self._field_masks[0] != key:
            ny, nx = field.shape
            gx, gy = np.meshgrid(x0 + (np.arange(nx) + 0.5) * cell_m, y0 + (np.arange(ny) + 0.5) * cell_m)
            masks = []
            for poly, *_ in self._grids:
                mask = shapely.intersects_xy(poly, gx.ravel(), gy.ravel()).reshape(gy.shape)
                if not mask.any():                   # an area smaller than a cell: its nearest cell
                    c = poly.centroid
                    mask[min(ny - 1, max(0, int((c.y - y0) / cell_m))), min(nx - 1, max(0, int((c.x - x0) / cell_m)))] = True
                masks.append(mask)
            self._field_masks = (key, masks)
        counts = np.zeros(len(self.names), dtype=np.int64)
        speed_sum = np.zeros(len(self.names))
        polygon_counts(n, x_m, y_m, speed_mps, self._ring_start, self._ring_x, self._ring_y, counts, speed_sum)
        for k, name in enumerate(self.names):
            self.classic_ppm2[name].append(float(counts[k]) / self._area_m2[k])
            peak = float(field[self._field_masks[1][k]].max())
            self.max_local_ppm2[name].append(peak)
            for j, thr in enumerate(self.THRESHOLDS_PPM2):
                if peak >= thr:
                    self._above_s[name][j] += dt
            self.mean_speed_mps[name].append(float(speed_sum[k] / counts[k]) if counts[k] else float("nan"))

    def summary(self) -> dict[str, dict[str, float]]:
        """Per area: max classic and local density (p/m2), seconds above 4 and 5 p/m2 (local density)."""
        out = {}
        for name in self.names:
            out[name] = {
                "max_classic_density_ppm2": max(self.classic_ppm2[name], default=0.0),
                "max_local_density_ppm2": max(self.max_local_ppm2[name], default=0.0),
                "time_above_4_ppm2_s": self._above_s[name][0],
                "time_above_5_ppm2_s": self._above_s[name][1],
            }
        return out
