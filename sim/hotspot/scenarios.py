"""Standard geometries and crowd placements for validation and benchmarks.

Geometries follow the published set-ups (dimensions as JuPedSim's RiMEA notebooks and test suite
use them, RiMEA guideline 3.0): the corner of test 6, the room with four exits of test 9, the two
bottlenecks of test 12, plus a periodic corridor for the fundamental diagram and a room with a
bottleneck after Seyfried et al. (2009) / Liao et al. (2014).
"""

from __future__ import annotations

import math

import numpy as np
import shapely
from shapely.geometry import Polygon, box

from .errors import GeometryError
from .geometry import HotspotGeometry

__all__ = ["lattice_positions", "random_positions", "periodic_corridor", "bottleneck_room", "rimea6_corner",
           "rimea9_room",
           "rimea12_double_bottleneck", "counterflow_corridor"]


def lattice_positions(polygon: Polygon, n: int, rng: np.random.Generator, *, radius_m: float = 0.2,
                      wall_gap_m: float = 0.05, jitter_m: float | None = None, periodic_x: bool = False) -> np.ndarray:
    """``n`` positions (n x 2) on a triangular lattice filling ``polygon`` at density n / area, at
    least ``radius_m + wall_gap_m`` from its boundary (except the open ends when ``periodic_x``);
    lattice points are picked at random when more fit than needed.  Each point is moved at random by
    up to ``jitter_m`` in x and y (default: as far as bodies cannot overlap), so no lane order is
    imposed."""
    if n <= 0:
        return np.zeros((0, 2))
    minx, miny, maxx, maxy = polygon.bounds
    inner = polygon.buffer(-(radius_m + wall_gap_m))
    if periodic_x:
        inner = box(minx, miny + radius_m + wall_gap_m, maxx, maxy - radius_m - wall_gap_m)
    if inner.is_empty:
        raise GeometryError([f"polygon: no room for agents of radius {radius_m!r} m"])
    spacing = math.sqrt(2.0 / (math.sqrt(3.0) * n / inner.area))
    for _ in range(60):
        row_h = spacing * math.sqrt(3.0) / 2
        if periodic_x:                       # whole number of columns so the lattice wraps cleanly
            spacing = (maxx - minx) / max(1, round((maxx - minx) / spacing))
        ys = np.arange(inner.bounds[1], inner.bounds[3] + 1e-9, row_h)
        pts = []
        for k, y in enumerate(ys):
            x0 = minx + (spacing / 2 if k % 2 else 0.0) + (0.0 if periodic_x else spacing / 4)
            xs = np.arange(x0, maxx, spacing)
            pts.append(np.column_stack([xs, np.full(xs.size, y)]))
        pts = np.concatenate(pts)
        pts = pts[shapely.contains_xy(inner, pts[:, 0], pts[:, 1])] if not periodic_x else pts[
            (pts[:, 1] >= inner.bounds[1]) & (pts[:, 1] <= inner.bounds[3])]
        if len(pts) >= n:
            break
        spacing *= 0.97
    if len(pts) < n:
        raise GeometryError([f"n: {n!r} agents of radius {radius_m!r} m do not fit in an area of "
                             f"{polygon.area:.3g} m2"])
    # two neighbours each moved by (j, j) come closer by at most 2 j sqrt(2)
    max_jitter = max(0.0, (spacing - 2 * radius_m - 0.01) / (2 * math.sqrt(2.0)))
    jitter_m = max_jitter if jitter_m is None else min(jitter_m, max_jitter)
    pick = np.sort(rng.choice(len(pts), size=n, replace=False))
    out = pts[pick] + rng.uniform(-jitter_m, jitter_m, size=(n, 2))
    lo, hi = inner.bounds[1], inner.bounds[3]
    if periodic_x:
        out[:, 1] = np.clip(out[:, 1], lo, hi)
        out[:, 0] = minx + np.mod(out[:, 0] - minx, maxx - minx)
    return out


def random_positions(polygon: Polygon, n: int, rng: np.random.Generator, *, radius_m: float = 0.2,
                     gap_m: float = 0.01, wall_gap_m: float = 0.05, periodic_x: bool = False,
                     max_tries: int = 400) -> np.ndarray:
    """``n`` positions (n x 2) placed one by one uniformly at random in ``polygon`` (at least
    ``radius_m + wall_gap_m`` from its boundary, open ends excepted when ``periodic_x``), each at least
    ``2 radius_m + gap_m`` from those placed before (random sequential adsorption: no order imposed;
    it jams near 0.54 of the area covered by discs, about 4.2 p/m2 for 0.2 m radii)."""
    minx, miny, maxx, maxy = polygon.bounds
    margin = radius_m + wall_gap_m
    inner = box(minx, miny + margin, maxx, maxy - margin) if periodic_x else polygon.buffer(-margin)
    if inner.is_empty:
        raise GeometryError([f"polygon: no room for agents of radius {radius_m!r} m"])
    d_min = 2 * radius_m + gap_m
    bx0, by0, bx1, by1 = inner.bounds
    period = maxx - minx
    if periodic_x:        # columns tile the period exactly, so neighbour columns wrap correctly
        nx = max(3, int(period // d_min))
        cell_x = period / nx
    else:
        cell_x = d_min
        nx = int((bx1 - bx0) / cell_x) + 1
    grid: dict[tuple[int, int], list[int]] = {}
    pts = np.zeros((n, 2))
    placed = tries = 0
    while placed < n:
        batch = rng.uniform((bx0, by0), (bx1, by1), size=(256, 2))
        if not periodic_x:
            batch = batch[shapely.contains_xy(inner, batch[:, 0], batch[:, 1])]
        for x, y in batch:
            ix, iy = min(int((x - bx0) / cell_x), nx - 1), int((y - by0) / d_min)
            ok = True
            for jx in range(ix - 1, ix + 2):
                kx = jx % nx if periodic_x else jx
                for jy in range(iy - 1, iy + 2):
                    for k in grid.get((kx, jy), ()):
                        dx = pts[k, 0] - x
                        if periodic_x:
                            dx -= period * round(dx / period)
                        if dx * dx + (pts[k, 1] - y) ** 2 < d_min * d_min:
                            ok = False
                            break
                    if not ok:
                        break
                if not ok:
                    break
            if ok:
                pts[placed] = (x, y)
                grid.setdefault((ix, iy), []).append(placed)
                placed += 1
                tries = 0
                if placed == n:
                    break
            else:
                tries += 1
                if tries > max_tries * 256:
                    raise GeometryError([f"n: could place only {placed} of {n!r} agents at random in "
                                         f"{polygon.area:.3g} m2; use lattice_positions"])
    return pts


def periodic_corridor(length_m: float = 30.0, width_m: float = 3.0) -> HotspotGeometry:
    """A corridor repeating along x; everyone walks east (goal ``"east"``)."""
    return HotspotGeometry(box(0.0, 0.0, length_m, width_m), directions={"east": (1.0, 0.0)}, periodic_x=True)


def bottleneck_room(width_m: float, *, room_m: float = 8.0, length_m: float = 2.0,
                    field_cell_m: float = 0.05, wall_slowdown_m: float = 0.0) -> tuple[HotspotGeometry, Polygon]:
    """A square waiting room (``room_m`` side) with a ``length_m`` long bottleneck of ``width_m`` centred
    in its east wall and a 4 m x ``room_m`` free area behind it (exit ``"out"`` at its far end; line
    ``"bottleneck"`` at the bottleneck's exit).  Returns the geometry and the room polygon."""
    room = box(0.0, 0.0, room_m, room_m)
    y0, y1 = (room_m - width_m) / 2, (room_m + width_m) / 2
    neck = box(room_m, y0, room_m + length_m, y1)
    x1 = room_m + length_m
    behind = box(x1, 0.0, x1 + 4.0, room_m)
    area = shapely.union_all([room, neck, behind])
    geometry = HotspotGeometry(area, exits={"out": ((x1 + 4.0, 0.0), (x1 + 4.0, room_m))}, field_cell_m=field_cell_m,
                               wall_slowdown_m=wall_slowdown_m)
    return geometry, room


def rimea6_corner() -> tuple[HotspotGeometry, Polygon]:
    """RiMEA test 6: a 2 m wide corridor, 12 m east then a left turn and 12 m north (JuPedSim's corner
    notebook geometry); exit ``"out"`` across the end; start area the first 6 m."""
    area = Polygon([(0, 0), (12, 0), (12, 12), (10, 12), (10, 2), (0, 2)])
    return HotspotGeometry(area, exits={"out": ((10.0, 12.0), (12.0, 12.0))}), box(0.0, 0.0, 6.0, 2.0)


def rimea9_room(open_exits: tuple[str, ...] = ("sw", "se", "nw", "ne")) -> HotspotGeometry:
    """RiMEA test 9: a 30 m x 20 m room with four 1 m exits in its long walls, 4-5 m from the corners
    (JuPedSim's test-suite geometry); ``open_exits`` names those open (the rest are walls)."""
    doors = {"sw": ((4.0, 0.0), (5.0, 0.0)), "se": ((25.0, 0.0), (26.0, 0.0)),
             "nw": ((5.0, 20.0), (4.0, 20.0)), "ne": ((26.0, 20.0), (25.0, 20.0))}
    return HotspotGeometry(box(0.0, 0.0, 30.0, 20.0), exits={k: doors[k] for k in open_exits})


def rimea12_double_bottleneck(width_m: float = 1.0) -> tuple[HotspotGeometry, Polygon]:
    """RiMEA test 12: two 10 m x 10 m rooms joined by a 5 m corridor of ``width_m``, which goes on 3 m
    past the second room (JuPedSim's notebook); exit ``"out"`` at its end, lines ``"b1"``/``"b2"`` are
    the two bottleneck entrances.  Start area: the west half of room 1."""
    half = width_m / 2
    room1, room2 = box(0, 0, 10, 10), box(15, 0, 25, 10)
    corridor = box(10, 5 - half, 28, 5 + half)
    area = shapely.union_all([room1, room2, corridor])
    return (HotspotGeometry(area, exits={"out": ((28.0, 5 - half), (28.0, 5 + half))}, field_cell_m=0.05),
            box(0, 0, 5, 10))


def counterflow_corridor(length_m: float = 20.0, width_m: float = 3.0) -> HotspotGeometry:
    """A corridor with an exit at each end (``"east"``, ``"west"``) for two groups walking towards each
    other."""
    return HotspotGeometry(box(0.0, 0.0, length_m, width_m),
                           exits={"east": ((length_m, 0.0), (length_m, width_m)), "west": ((0.0, width_m), (0.0, 0.0))})
