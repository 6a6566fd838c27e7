"""Walkable areas for the hotspot model: walls, goals, entries, stairs and the desired-direction fields.

A walkable area is a shapely ``Polygon`` (holes allowed), a ``MultiPolygon`` or a list of polygons
(their union).  Its boundary, less the exit segments, becomes the walls.  Goals are named segments:

* **exits** remove the agents that cross them (the coupling hands them to the network); an exit on the
  boundary is an opening in the wall, an exit inside the area is a line to cross;
* **way points** are intermediate goals, reached within ``CsmParameters.waypoint_reach_m``;
* **directions** are constant desired directions (periodic corridors, tests).

Entries are named segments on the boundary where the caller inserts people.  For every goal a
travel-time field is solved on a regular grid (``field_cell_m``, default 0.1 m) inside the area; its
negative gradient is the desired direction, so routes go round corners and obstacles.  Behind an exit
on the boundary the field extends into a short apron, so that the desired direction at the opening
points out through it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from scipy import ndimage
from shapely.geometry import LineString, MultiPolygon, Point, Polygon

from .errors import GeometryError
from .field_kernels import descent_directions, fast_marching, segment_distances
from .params import FRUIN_DOWN_MPS, FRUIN_UP_MPS

__all__ = ["Stair", "HotspotGeometry", "GOAL_EXIT", "GOAL_WAYPOINT", "GOAL_DIRECTION"]

GOAL_EXIT, GOAL_WAYPOINT, GOAL_DIRECTION = 0, 1, 2
_TOL_M = 1e-6
_MIN_SPEED_NEAR_WALL = 0.25     # eikonal speed at a wall, relative to free space


@dataclass(frozen=True, kw_only=True)
class Stair:
    """A stair as an area.  ``up`` is a plan vector pointing uphill; agents whose desired direction has
    a positive component along it walk up.  On the stair an agent's free speed is scaled by
    ``up_speed_mps / level_mean_speed_mps`` (or the down figure), so the population's mean speed on the
    stair is ``up_speed_mps`` / ``down_speed_mps``.  Defaults: the middle of Fruin's ranges (up 0.49-0.67,
    down 0.60-1.01 m/s; docs/sources.md), taken as plan speeds."""

    name: str
    polygon: Polygon
    up: tuple[float, float]
    up_speed_mps: float = round(sum(FRUIN_UP_MPS) / 2, 3)
    down_speed_mps: float = round(sum(FRUIN_DOWN_MPS) / 2, 3)


def as_segment(field: str, value: object, problems: list[str]) -> np.ndarray | None:
    """``value`` (((x0, y0), (x1, y1)) or a 2-point LineString) as ``[x0, y0, x1, y1]``."""
    try:
        coords = list(value.coords) if isinstance(value, LineString) else [tuple(p) for p in value]
        arr = np.asarray(coords, dtype=float)
    except (TypeError, ValueError):
        problems.append(f"{field}: expected a segment ((x0, y0), (x1, y1)), got {value!r}")
        return None
    if arr.shape != (2, 2) or not np.isfinite(arr).all():
        problems.append(f"{field}: expected a segment ((x0, y0), (x1, y1)), got {value!r}")
        return None
    if math.hypot(*(arr[1] - arr[0])) < 1e-3:
        problems.append(f"{field}: segment is shorter than 1 mm: {value!r}")
        return None
    return arr.reshape(4)


def _ring_edges(area: Polygon | MultiPolygon) -> list[np.ndarray]:
    edges = []
    polys = area.geoms if isinstance(area, MultiPolygon) else [area]
    for poly in polys:
        for ring in [poly.exterior, *poly.interiors]:
            c = np.asarray(ring.coords)
            for k in range(len(c) - 1):
                if math.hypot(*(c[k + 1] - c[k])) > 1e-9:
                    edges.append(np.array([c[k, 0], c[k, 1], c[k + 1, 0], c[k + 1, 1]]))
    return edges


def _edge_interval(edge: np.ndarray, seg: np.ndarray) -> tuple[float, float] | None:
    """Where ``seg`` lies on ``edge``, as a parameter interval of the edge (None unless collinear)."""
    a, b = edge[:2], edge[2:]
    ab = b - a
    length = float(np.hypot(*ab))
    normal = np.array([-ab[1], ab[0]]) / length
    for p in (seg[:2], seg[2:]):
        if abs(float((p - a) @ normal)) > _TOL_M * max(1.0, length):
            return None
    t0, t1 = sorted(float((p - a) @ ab) / length ** 2 for p in (seg[:2], seg[2:]))
    t0, t1 = max(t0, 0.0), min(t1, 1.0)
    return (t0, t1) if t1 - t0 > 1e-9 else None


class HotspotGeometry:
    """A walkable area with walls, goals, entries and stairs, and one desired-direction field per goal.

    Parameters
    ----------
    area : Polygon, MultiPolygon or list of Polygon
        Walkable area (m).  Walls must be at least ``field_cell_m`` thick.
    exits, waypoints : mapping name -> segment ((x0, y0), (x1, y1))
    entries : mapping name -> segment on the boundary
    directions : mapping name -> (dx, dy), constant desired directions
    stairs : Stair areas
    field_cell_m : grid size of the desired-direction fields (0.02-0.5 m)
    wall_slowdown_m : within this distance of a wall the route-finding front slows down
    periodic_x : the area repeats along x (its left and right edges are not walls; a rectangle)
    """

    def __init__(self, area: Polygon | MultiPolygon | Sequence[Polygon], *, exits: Mapping[str, object] | None = None,
                 entries: Mapping[str, object] | None = None, waypoints: Mapping[str, object] | None = None,
                 directions: Mapping[str, Sequence[float]] | None = None, stairs: Sequence[Stair] = (),
                 field_cell_m: float = 0.1, wall_slowdown_m: float = 0.0, periodic_x: bool = False):
        problems: list[str] = []
        self.area = self._walkable(area, problems)
        exits, entries = dict(exits or {}), dict(entries or {})
        waypoints, directions = dict(waypoints or {}), dict(directions or {})
        if not (isinstance(field_cell_m, (int, float)) and 0.02 <= field_cell_m <= 0.5):
            problems.append(f"field_cell_m: expected 0.02-0.5 m, got {field_cell_m!r}")
        if not (isinstance(wall_slowdown_m, (int, float)) and 0 <= wall_slowdown_m <= 5):
            problems.append(f"wall_slowdown_m: expected 0-5 m, got {wall_slowdown_m!r}")
        names = [*exits, *waypoints, *directions]
        dupes = sorted({n for n in names if names.count(n) > 1} | (set(entries) & set(names)))
        if dupes:
            problems.append(f"names: every exit, way point, direction and entry needs its own name, repeated {dupes!r}")
        if not names:
            problems.append("exits/waypoints/directions: at least one goal is needed, got none")
        if self.area is None:
            raise GeometryError(problems or ["area: unusable"])
        boundary = self.area.boundary
        self.field_cell_m = float(field_cell_m)
        self.periodic_x = bool(periodic_x)
        minx, miny, maxx, maxy = self.area.bounds
        self.x_min_m, self.period_x_m = (minx, maxx - minx) if periodic_x else (minx, 0.0)
        if periodic_x and abs(self.area.area - (maxx - minx) * (maxy - miny)) > 1e-6 * self.area.area:
            problems.append(f"periodic_x: the area must be a rectangle, got bounds {self.area.bounds!r} "
                            f"and area {self.area.area!r} m2")

        # Goals and entries.
        self.exit_names = list(exits)
        self.exit_seg = np.zeros((len(exits), 4))
        self.exit_outward = np.zeros((len(exits), 2))       # zero for an exit inside the area
        for k, (name, value) in enumerate(exits.items()):
            seg = as_segment(f"exits[{name!r}]", value, problems)
            if seg is None:
                continue
            self.exit_seg[k] = seg
            on_boundary = all(boundary.distance(Point(p)) < _TOL_M for p in (seg[:2], seg[2:], (seg[:2] + seg[2:]) / 2))
            if on_boundary:
                self.exit_outward[k] = self._outward(seg)
            elif not self.area.buffer(_TOL_M).contains(LineString(seg.reshape(2, 2))):
                problems.append(f"exits[{name!r}]: must lie on the boundary or inside the area, got {value!r}")
        self.entry_names = list(entries)
        self.entry_seg = np.zeros((len(entries), 4))
        self.entry_inward = np.zeros((len(entries), 2))
        for k, (name, value) in enumerate(entries.items()):
            seg = as_segment(f"entries[{name!r}]", value, problems)
            if seg is None:
                continue
            self.entry_seg[k] = seg
            if all(boundary.distance(Point(p)) < _TOL_M for p in (seg[:2], seg[2:], (seg[:2] + seg[2:]) / 2)):
                self.entry_inward[k] = -self._outward(seg)
            else:
                problems.append(f"entries[{name!r}]: must lie on the boundary of the area, got {value!r}")
        self.goal_names = [*exits, *waypoints, *directions]
        n_goals = len(self.goal_names)
        self.goal_kind = np.array([GOAL_EXIT] * len(exits) + [GOAL_WAYPOINT] * len(waypoints)
                                  + [GOAL_DIRECTION] * len(directions), dtype=np.int32)
        self.goal_seg = np.zeros((n_goals, 4))
        self.goal_seg[: len(exits)] = self.exit_seg
        for k, (name, value) in enumerate(waypoints.items()):
            seg = as_segment(f"waypoints[{name!r}]", value, problems)
            if seg is not None:
                self.goal_seg[len(exits) + k] = seg
                if not self.area.buffer(_TOL_M).intersects(LineString(seg.reshape(2, 2))):
                    problems.append(f"waypoints[{name!r}]: must touch the area, got {value!r}")
        direction_vectors = []
        for name, value in directions.items():
            try:
                d = np.asarray(value, dtype=float).reshape(2)
            except (TypeError, ValueError):
                d = np.zeros(2)
            if not (np.isfinite(d).all() and np.hypot(*d) > 0):
                problems.append(f"directions[{name!r}]: expected a non-zero vector (dx, dy), got {value!r}")
                d = np.array([1.0, 0.0])
            direction_vectors.append(d / np.hypot(*d))

        # Stairs.
        self.stair_names = []
        self.stair_up = np.zeros((len(stairs), 2))
        self.stair_speed_mps = np.zeros((len(stairs), 2))    # (up, down)
        for k, st in enumerate(stairs):
            if not isinstance(st, Stair):
                problems.append(f"stairs[{k}]: expected a Stair, got {st!r}")
                continue
            self.stair_names.append(st.name)
            up = np.asarray(st.up, dtype=float).reshape(-1)
            if up.shape != (2,) or not np.isfinite(up).all() or np.hypot(*up) == 0:
                problems.append(f"stairs[{st.name!r}].up: expected a non-zero vector (dx, dy), got {st.up!r}")
            else:
                self.stair_up[k] = up / np.hypot(*up)
            for field_name in ("up_speed_mps", "down_speed_mps"):
                v = getattr(st, field_name)
                if not (isinstance(v, (int, float)) and 0 < v <= 3):
                    problems.append(f"stairs[{st.name!r}].{field_name}: expected 0-3 m/s, got {v!r}")
            self.stair_speed_mps[k] = (st.up_speed_mps, st.down_speed_mps)
            if not isinstance(st.polygon, Polygon) or st.polygon.is_empty or not st.polygon.intersects(self.area):
                problems.append(f"stairs[{st.name!r}].polygon: expected a polygon overlapping the area, "
                                f"got {st.polygon!r}")
        if problems:
            raise GeometryError(problems)

        self.walls = self._walls()
        hull = self.area.convex_hull.exterior
        on_hull = np.array([all(hull.distance(Point(p)) < _TOL_M for p in (w[:2], w[2:], (w[:2] + w[2:]) / 2))
                            for w in self.walls], dtype=bool)
        self.los_walls = ~on_hull if not periodic_x else np.zeros(len(self.walls), dtype=bool)
        self._build_fields(stairs, direction_vectors, float(wall_slowdown_m))

    # ------------------------------------------------------------------ construction helpers
    @staticmethod
    def _walkable(area: object, problems: list[str]) -> Polygon | MultiPolygon | None:
        if isinstance(area, (list, tuple)):
            if not area or not all(isinstance(p, Polygon) for p in area):
                problems.append(f"area: expected a Polygon, a MultiPolygon or a list of Polygons, got {area!r}")
                return None
            area = shapely.union_all(area)
        if not isinstance(area, (Polygon, MultiPolygon)) or area.is_empty:
            problems.append(f"area: expected a non-empty Polygon or MultiPolygon, got {area!r}")
            return None
        if not area.is_valid:
            problems.append(f"area: polygon is not valid ({shapely.is_valid_reason(area)})")
            return None
        return shapely.normalize(area)

    def _outward(self, seg: np.ndarray) -> np.ndarray:
        d = seg[2:] - seg[:2]
        n = np.array([d[1], -d[0]]) / np.hypot(*d)
        mid = (seg[:2] + seg[2:]) / 2
        eps = max(1e-4, self.field_cell_m / 10)
        return -n if self.area.contains(Point(mid + n * eps)) else n

    def _walls(self) -> np.ndarray:
        minx, _, maxx, _ = self.area.bounds
        walls = []
        for edge in _ring_edges(self.area):
            if self.periodic_x and ((abs(edge[0] - minx) < _TOL_M and abs(edge[2] - minx) < _TOL_M)
                                    or (abs(edge[0] - maxx) < _TOL_M and abs(edge[2] - maxx) < _TOL_M)):
                continue
            pieces = [(0.0, 1.0)]
            for seg in self.exit_seg[np.hypot(*self.exit_outward.T) > 0]:
                cut = _edge_interval(edge, seg)
                if cut is None:
                    continue
                pieces = [p for lo, hi in pieces
                          for p in ((lo, min(hi, cut[0])), (max(lo, cut[1]), hi)) if p[1] - p[0] > 1e-9]
            a, ab = edge[:2], edge[2:] - edge[:2]
            for lo, hi in pieces:
                walls.append(np.concatenate([a + lo * ab, a + hi * ab]))
        return np.array(walls, dtype=float).reshape(-1, 4)

    def _apron(self, k: int) -> Polygon:
        seg, n = self.exit_seg[k], self.exit_outward[k]
        depth = self.apron_m
        a, b = seg[:2], seg[2:]
        return Polygon([a, b, b + n * depth, a + n * depth])

    def _build_fields(self, stairs: Sequence[Stair], direction_vectors: list[np.ndarray], slowdown_m: float) -> None:
        h = self.field_cell_m
        self.apron_m = max(4 * h, 0.5)
        aprons = {k: self._apron(k) for k in range(len(self.exit_names)) if np.hypot(*self.exit_outward[k]) > 0}
        extent = shapely.union_all([self.area, *aprons.values()]) if aprons else self.area
        minx, miny, maxx, maxy = extent.bounds
        margin = 2 * h
        self.field_x0_m, self.field_y0_m = minx - margin, miny - margin
        self.field_nx = int(math.ceil((maxx - minx + 2 * margin) / h))
        self.field_ny = int(math.ceil((maxy - miny + 2 * margin) / h))
        xs = self.field_x0_m + (np.arange(self.field_nx) + 0.5) * h
        ys = self.field_y0_m + (np.arange(self.field_ny) + 0.5) * h
        cx, cy = np.meshgrid(xs, ys)
        flat_x, flat_y = cx.ravel(), cy.ravel()
        inside = shapely.contains_xy(self.area, flat_x, flat_y).reshape(cx.shape)
        d_wall = np.empty(flat_x.size)
        segment_distances(flat_x, flat_y, self.walls, d_wall)
        d_wall = d_wall.reshape(cx.shape)
        if slowdown_m > 0:
            speed = _MIN_SPEED_NEAR_WALL + (1 - _MIN_SPEED_NEAR_WALL) * np.clip(d_wall / slowdown_m, 0.0, 1.0)
        else:
            speed = np.ones_like(d_wall)
        n_goals = len(self.goal_names)
        self.field_t = np.full((n_goals, self.field_ny, self.field_nx), np.inf)
        self.field_gx = np.zeros((n_goals, self.field_ny, self.field_nx))
        self.field_gy = np.zeros((n_goals, self.field_ny, self.field_nx))
        n_seg_goals = n_goals - len(direction_vectors)
        for g in range(n_seg_goals):
            mask = inside.copy()
            if g in aprons:
                mask |= shapely.contains_xy(aprons[g], flat_x, flat_y).reshape(cx.shape)
                seed_seg = self.exit_seg[g] + np.tile(self.exit_outward[g] * self.apron_m, 2)
            else:
                seed_seg = self.goal_seg[g]
            d_goal = np.empty(flat_x.size)
            segment_distances(flat_x, flat_y, seed_seg.reshape(1, 4), d_goal)
            d_goal = d_goal.reshape(cx.shape)
            seed = np.where(mask & (d_goal <= 1.5 * h), d_goal, np.inf)
            if not np.isfinite(seed).any():
                raise GeometryError([f"{self.goal_names[g]!r}: no field cell lies within {1.5 * h:g} m of the goal "
                                     f"segment inside the area; use a finer field_cell_m"])
            t_grid = fast_marching(mask, speed, seed, h)
            gx, gy = np.zeros_like(t_grid), np.zeros_like(t_grid)
            descent_directions(t_grid, h, gx, gy)
            valid = np.isfinite(t_grid) & mask & ((gx != 0) | (gy != 0))
            if valid.any():        # cells outside the area copy the nearest valid cell (agents near walls)
                _, (iy, ix) = ndimage.distance_transform_edt(~valid, return_indices=True)
                gx, gy = gx[iy, ix], gy[iy, ix]
            self.field_t[g], self.field_gx[g], self.field_gy[g] = t_grid, gx, gy
        for k, d in enumerate(direction_vectors):
            g = n_seg_goals + k
            self.field_t[g] = 0.0
            self.field_gx[g] = d[0]
            self.field_gy[g] = d[1]
        self.stair_id = np.full((self.field_ny, self.field_nx), -1, dtype=np.int32)
        for k, st in enumerate(stairs):
            self.stair_id[shapely.contains_xy(st.polygon, flat_x, flat_y).reshape(cx.shape)] = k

    # ------------------------------------------------------------------ queries
    def goal_index(self, name: str) -> int:
        """Index of the goal ``name`` (exit, way point or direction)."""
        try:
            return self.goal_names.index(name)
        except ValueError:
            raise GeometryError([f"goal: unknown goal {name!r}, expected one of {self.goal_names!r}"]) from None

    def entry_index(self, name: str) -> int:
        try:
            return self.entry_names.index(name)
        except ValueError:
            raise GeometryError([f"entry: unknown entry {name!r}, expected one of {self.entry_names!r}"]) from None

    def contains(self, x_m: np.ndarray, y_m: np.ndarray) -> np.ndarray:
        """Whether each point lies in the walkable area (boundary included)."""
        return shapely.intersects_xy(self.area, np.asarray(x_m, float), np.asarray(y_m, float))

    def distance_to_walls(self, x_m: np.ndarray, y_m: np.ndarray) -> np.ndarray:
        """Distance from each point to the closest wall segment (inf without walls)."""
        x_m, y_m = np.ascontiguousarray(x_m, dtype=float), np.ascontiguousarray(y_m, dtype=float)
        out = np.empty(x_m.size)
        segment_distances(x_m.ravel(), y_m.ravel(), self.walls, out)
        return out.reshape(x_m.shape)

    def travel_distance(self, goal: str, x_m: np.ndarray, y_m: np.ndarray) -> np.ndarray:
        """The goal's field value (route length in m, longer near walls) at the cells holding the points."""
        g = self.goal_index(goal)
        ix = np.clip(((np.asarray(x_m) - self.field_x0_m) / self.field_cell_m).astype(int), 0, self.field_nx - 1)
        iy = np.clip(((np.asarray(y_m) - self.field_y0_m) / self.field_cell_m).astype(int), 0, self.field_ny - 1)
        return self.field_t[g][iy, ix]
