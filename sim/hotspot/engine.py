"""The hotspot engine: agents in a walkable area, stepped by the collision-free speed model.

The Python side owns the buffers, the loop and the bookkeeping; :mod:`.kernels` does the work.  One
step: sort agents into a cell grid (counting sort), compute every agent's new position from the frozen
state (``csm_step``, parallel over agents), detect exits crossed and way points reached, then apply:
move, advance routes, remove those who left.  People are conserved: ``inserted == inside + removed``
is checked after every step against an independent recount, and a violation raises
:class:`~.errors.ConservationError`.

Coupling API: :meth:`HotspotSim.insert` puts people in at a named entry where there is free room and
returns how many went in (the caller keeps the rest queued); :meth:`HotspotSim.step` returns a
:class:`StepReport` with the ids that left through each exit this step.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import NamedTuple

import numba
import numpy as np
from numpy.typing import ArrayLike
from scipy.spatial import cKDTree

from .errors import ConservationError, GeometryError, ParameterError
from .field_kernels import segment_distances
from .geometry import HotspotGeometry, as_segment
from .kernels import build_grid, count_line_crossings, csm_step, desired_direction, goal_events, recount
from .params import MAX_FREE_SPEED_MPS, CsmParameters, draw_free_speeds

__all__ = ["HotspotSim", "StepReport", "AgentView"]

_EMPTY_IDS = np.zeros(0, dtype=np.int64)
_EMPTY_EXITS = np.zeros(0, dtype=np.int32)


class StepReport(NamedTuple):
    """What one step did: the time at its end, and who left through which exit."""

    t_s: float
    exited_id: np.ndarray          # int64 agent ids
    exited_exit: np.ndarray        # int32 exit index (``HotspotSim.geometry.exit_names``)

    def by_exit(self, exit_names: Sequence[str]) -> dict[str, np.ndarray]:
        """The ids that left, per exit name (exits nobody used are left out)."""
        return {exit_names[e]: self.exited_id[self.exited_exit == e] for e in np.unique(self.exited_exit)}


class AgentView(NamedTuple):
    """Copies of the state of the agents inside (SI units)."""

    agent_id: np.ndarray
    x_m: np.ndarray
    y_m: np.ndarray
    speed_mps: np.ndarray
    free_speed_mps: np.ndarray
    radius_m: np.ndarray
    goal: np.ndarray


@dataclass
class _Agents:
    """Agent state (index < n are inside) and per-step outputs, as arrays of one capacity."""

    x_m: np.ndarray
    y_m: np.ndarray
    ex: np.ndarray
    ey: np.ndarray
    radius_m: np.ndarray
    free_speed_mps: np.ndarray
    speed_mps: np.ndarray
    goal: np.ndarray
    route: np.ndarray
    route_pos: np.ndarray
    agent_id: np.ndarray
    new_x_m: np.ndarray
    new_y_m: np.ndarray
    new_ex: np.ndarray
    new_ey: np.ndarray
    e0x: np.ndarray
    e0y: np.ndarray
    exit_index: np.ndarray
    reached: np.ndarray
    order: np.ndarray
    sorted_x_m: np.ndarray
    sorted_y_m: np.ndarray
    sorted_radius_m: np.ndarray
    cell: np.ndarray

    INT32 = ("goal", "route", "route_pos", "exit_index", "order", "cell")

    @classmethod
    def empty(cls, capacity: int) -> "_Agents":
        arrays = {}
        for f in fields(cls):
            if f.name in cls.INT32:
                arrays[f.name] = np.zeros(capacity, dtype=np.int32)
            elif f.name == "agent_id":
                arrays[f.name] = np.full(capacity, -1, dtype=np.int64)
            elif f.name == "reached":
                arrays[f.name] = np.zeros(capacity, dtype=np.bool_)
            else:
                arrays[f.name] = np.zeros(capacity)
        return cls(**arrays)

    @property
    def capacity(self) -> int:
        return self.x_m.size

    def grown(self, capacity: int, n: int) -> "_Agents":
        new = _Agents.empty(capacity)
        for f in fields(self):
            getattr(new, f.name)[:n] = getattr(self, f.name)[:n]
        return new

    STATE = ("x_m", "y_m", "ex", "ey", "radius_m", "free_speed_mps", "speed_mps", "goal", "route", "route_pos",
             "agent_id")


class HotspotSim:
    """A crowd in one walkable area (see module docstring).

    Parameters
    ----------
    geometry : the walkable area, goals, entries and stairs
    params : model parameters (``CsmParameters()``: JuPedSim's defaults, dt 0.05 s)
    seed : seeds the one random generator (free speeds drawn here, entry slot order)
    lines : measurement lines name -> segment; crossings are counted every step
    max_radius_m : the largest agent radius allowed (default ``params.radius_m``); sizes the search
    capacity : initial buffer size (grows as needed)
    num_threads : Numba threads for the step kernel; default: Numba's current setting for crowds of
        ``PARALLEL_MIN_AGENTS`` or more, one thread below (a parallel launch costs more than it saves
        there).  Results are the same for any number.
    block : neighbour-grid cells per repulsion cut-off (1: cells as large as the cut-off, a 3 x 3
        block is scanned; 2: half as large, 5 x 5); a speed knob, results do not change
    exits_for_goal_only : an exit removes only the people whose goal it is; anyone else whose step
        would cross it stays where they were this step (in a coupled area, so that a jam does not push
        people back out through the exit beside their entry and onto the network, to queue again)
    """

    PARALLEL_MIN_AGENTS = 500

    def __init__(self, geometry: HotspotGeometry, params: CsmParameters | None = None, *, seed: int = 0,
                 lines: Mapping[str, object] | None = None, max_radius_m: float | None = None, capacity: int = 256,
                 num_threads: int | None = None, block: int = 1,
                 exits_for_goal_only: bool = False):
        if not isinstance(geometry, HotspotGeometry):
            raise ParameterError(f"geometry: expected a HotspotGeometry, got {type(geometry).__name__!r}")
        self.geometry = geometry
        self.params = params if params is not None else CsmParameters()
        p = self.params
        self.max_radius_m = float(max_radius_m if max_radius_m is not None else p.radius_m)
        if not (0 < self.max_radius_m <= 1.0 and self.max_radius_m >= p.radius_m):
            raise ParameterError(f"max_radius_m: expected (radius_m={p.radius_m!r}, 1] m, got {max_radius_m!r}")
        self.rng = np.random.default_rng(seed)
        max_threads = numba.config.NUMBA_NUM_THREADS
        if num_threads is not None and not (isinstance(num_threads, int) and 1 <= num_threads <= max_threads):
            raise ParameterError(f"num_threads: expected 1-{numba.config.NUMBA_NUM_THREADS}, got {num_threads!r}")
        self.num_threads = num_threads
        problems: list[str] = []
        self.line_names = list(lines or {})
        self.lines = np.zeros((len(self.line_names), 4))
        for k, (name, value) in enumerate((lines or {}).items()):
            seg = as_segment(f"lines[{name!r}]", value, problems)
            if seg is not None:
                self.lines[k] = seg
        if problems:
            raise GeometryError(problems)
        self.line_counts = np.zeros((len(self.line_names), 2), dtype=np.int64)

        # Stair speed factors, relative to the population's mean free speed on the level.
        g = geometry
        self._stair_ux = np.ascontiguousarray(g.stair_up[:, 0])
        self._stair_uy = np.ascontiguousarray(g.stair_up[:, 1])
        self._stair_f_up = g.stair_speed_mps[:, 0] / p.level_mean_speed_mps
        self._stair_f_down = g.stair_speed_mps[:, 1] / p.level_mean_speed_mps
        max_factor = max(1.0, float(np.max(g.stair_speed_mps, initial=0.0)) / p.level_mean_speed_mps)

        # Neighbour grid: cells at least as large as the repulsion cut-off.
        r = self.max_radius_m
        self.rep_cut_m = p.neighbor_cutoff_m(r)
        self.wall_cut_m = p.wall_cutoff_m(r) - r
        self.consider_m = 2 * r + MAX_FREE_SPEED_MPS * max_factor * p.time_gap_s
        if not (isinstance(block, int) and 1 <= block <= 4):
            raise ParameterError(f"block: expected an integer 1-4, got {block!r}")
        self.block = block
        self.exits_for_goal_only = bool(exits_for_goal_only)
        hc = max(self.rep_cut_m, 0.5) / self.block
        if g.periodic_x:
            self.grid_nx = max(1, int(g.period_x_m // hc))
            hc = g.period_x_m / self.grid_nx
            self.grid_x0_m = g.x_min_m
        else:
            self.grid_x0_m = g.field_x0_m
            self.grid_nx = int(math.ceil(g.field_nx * g.field_cell_m / hc))
        self.grid_y0_m = g.field_y0_m
        self.grid_ny = int(math.ceil(g.field_ny * g.field_cell_m / hc))
        self.cell_m = hc
        self.ring_max = int(math.ceil(max(self.consider_m, self.rep_cut_m) / hc))
        if g.periodic_x and self.grid_nx < 2 * self.ring_max + 1:
            raise GeometryError([f"periodic_x: the period {g.period_x_m!r} m must hold at least "
                                 f"{2 * self.ring_max + 1} search cells of {hc:.3g} m"])
        self._build_wall_lists()
        n_cells = self.grid_nx * self.grid_ny
        self._cell_start = np.zeros(n_cells + 1, dtype=np.int32)
        self._cell_cursor = np.zeros(n_cells, dtype=np.int32)

        # Routes: tuples of goal indices; an agent walks to routes[route][route_pos].
        self._routes: list[tuple[int, ...]] = []
        self._route_ids: dict[tuple[int, ...], int] = {}
        self._route_table = np.zeros((0, 1), dtype=np.int32)

        self.a = _Agents.empty(max(int(capacity), 16))
        self.n = 0
        self.t_s = 0.0
        self.step_count = 0
        self.inserted_total = 0
        self.removed_total = 0
        self.removed_by_exit = np.zeros(len(g.exit_names), dtype=np.int64)
        self._removed_by_exit_sum = 0
        self._next_id = 0

    # ------------------------------------------------------------------ set-up helpers
    def _build_wall_lists(self) -> None:
        """Per grid cell: the walls that can repel or stop its agents, and the walls that can hide a
        neighbour (not on the convex hull of the area) within the search radius."""
        g, hc = self.geometry, self.cell_m
        xs = self.grid_x0_m + (np.arange(self.grid_nx) + 0.5) * hc
        ys = self.grid_y0_m + (np.arange(self.grid_ny) + 0.5) * hc
        cx, cy = (a.ravel() for a in np.meshgrid(xs, ys))
        half_diag = hc * math.sqrt(0.5)
        reach_wall = half_diag + max(self.wall_cut_m + self.max_radius_m,
                                     MAX_FREE_SPEED_MPS * self.params.dt_s + self.max_radius_m) + 0.05
        reach_los = half_diag + max(self.consider_m, self.rep_cut_m) + 0.05
        near_w, near_l = [], []
        d = np.empty(cx.size)
        for w in range(len(g.walls)):
            segment_distances(cx, cy, g.walls[w:w + 1], d)
            near_w.append(d <= reach_wall)
            near_l.append((d <= reach_los) & bool(g.los_walls[w]))
        self._cw_start, self._cw_idx = self._csr(near_w, cx.size)
        self._cl_start, self._cl_idx = self._csr(near_l, cx.size)

    @staticmethod
    def _csr(masks: list[np.ndarray], n_cells: int) -> tuple[np.ndarray, np.ndarray]:
        if not masks:
            return np.zeros(n_cells + 1, dtype=np.int32), np.zeros(0, dtype=np.int32)
        m = np.stack(masks, axis=1)                   # cells x walls
        counts = m.sum(axis=1)
        start = np.zeros(n_cells + 1, dtype=np.int32)
        np.cumsum(counts, out=start[1:])
        idx = np.nonzero(m)[1].astype(np.int32)       # row-major: walls of cell 0, then cell 1, ...
        return start, idx

    def _route_id(self, goal: str | Sequence[str]) -> int:
        names = (goal,) if isinstance(goal, str) else tuple(goal)
        if not names:
            raise ParameterError(f"goal: expected a goal name or a non-empty list of names, got {goal!r}")
        route = tuple(self.geometry.goal_index(nm) for nm in names)
        if route not in self._route_ids:
            self._route_ids[route] = len(self._routes)
            self._routes.append(route)
            width = max(len(rt) for rt in self._routes)
            table = np.full((len(self._routes), width), -1, dtype=np.int32)
            for k, rt in enumerate(self._routes):
                table[k, : len(rt)] = rt
            self._route_table = table
        return self._route_ids[route]

    def _ensure_capacity(self, extra: int) -> None:
        if self.n + extra > self.a.capacity:
            self.a = self.a.grown(max(2 * self.a.capacity, self.n + extra), self.n)

    def _attributes(self, m: int, free_speed_mps: ArrayLike | None, radius_m: ArrayLike | None,
                    ids: ArrayLike | None, problems: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if free_speed_mps is None:
            v0 = draw_free_speeds(self.rng, m)
        else:
            v0 = np.broadcast_to(np.asarray(free_speed_mps, dtype=float), (m,)).copy()
            bad = ~((v0 > 0) & (v0 <= MAX_FREE_SPEED_MPS))
            if bad.any():
                problems.append(f"free_speed_mps: expected (0, {MAX_FREE_SPEED_MPS}] m/s, got {v0[bad][:5].tolist()!r}")
        radius = np.broadcast_to(np.asarray(self.params.radius_m if radius_m is None else radius_m, dtype=float),
                                 (m,)).copy()
        bad = ~((radius > 0) & (radius <= self.max_radius_m))
        if bad.any():
            problems.append(f"radius_m: expected (0, max_radius_m={self.max_radius_m!r}] m, "
                            f"got {radius[bad][:5].tolist()!r}")
        if ids is None:
            agent_id = np.arange(self._next_id, self._next_id + m, dtype=np.int64)
        else:
            agent_id = np.asarray(ids, dtype=np.int64).reshape(-1)
            if agent_id.size < m:
                problems.append(f"ids: expected at least {m} ids, got {agent_id.size}")
            else:
                agent_id = agent_id[:m]
                clash = np.intersect1d(agent_id, self.a.agent_id[: self.n])
                if (agent_id < 0).any() or np.unique(agent_id).size != m or clash.size:
                    problems.append(f"ids: expected new unique ids >= 0, got clashes {clash[:5].tolist()!r} "
                                    f"or negatives/repeats in {agent_id[:5].tolist()!r}...")
        return v0, radius, agent_id

    def _append(self, x: np.ndarray, y: np.ndarray, v0: np.ndarray, radius: np.ndarray, agent_id: np.ndarray,
                route: int) -> None:
        m = x.size
        self._ensure_capacity(m)
        a, n = self.a, self.n
        goal = self._route_table[route, 0]
        sl = slice(n, n + m)
        a.x_m[sl], a.y_m[sl] = x, y
        gx, gy = self._desired(x, y, goal)
        a.ex[sl], a.ey[sl] = gx, gy
        a.radius_m[sl], a.free_speed_mps[sl], a.speed_mps[sl] = radius, v0, 0.0
        a.goal[sl], a.route[sl], a.route_pos[sl], a.agent_id[sl] = goal, route, 0, agent_id
        self.n += m
        self.inserted_total += m
        self._next_id = max(self._next_id, int(agent_id.max()) + 1)

    def _desired(self, x: np.ndarray, y: np.ndarray, goal: int) -> tuple[np.ndarray, np.ndarray]:
        g = self.geometry
        out = np.array([desired_direction(float(xx), float(yy), goal, g.field_gx, g.field_gy, g.field_x0_m,
                                          g.field_y0_m, g.field_cell_m) for xx, yy in zip(x, y)]).reshape(-1, 2)
        return out[:, 0], out[:, 1]

    # ------------------------------------------------------------------ public API
    def add_agents(self, x_m: ArrayLike, y_m: ArrayLike, *, goal: str | Sequence[str],
                   free_speed_mps: ArrayLike | None = None, radius_m: ArrayLike | None = None,
                   ids: ArrayLike | None = None) -> np.ndarray:
        """Place agents at given positions (initial crowds); returns their ids.

        Positions must lie in the area, at least one radius from walls, not overlapping each other or
        anyone inside, with the goal reachable.  ``goal`` is a goal name or a route (list of names).
        Free speeds default to Weidmann's law drawn from the run's generator."""
        x = np.atleast_1d(np.asarray(x_m, dtype=float)).ravel()
        y = np.atleast_1d(np.asarray(y_m, dtype=float)).ravel()
        problems: list[str] = []
        if x.shape != y.shape:
            raise GeometryError([f"x_m, y_m: expected equal lengths, got {x.size} and {y.size}"])
        m = x.size
        if m == 0:
            return _EMPTY_IDS.copy()
        route = self._route_id(goal)
        attribute_problems: list[str] = []
        v0, radius, agent_id = self._attributes(m, free_speed_mps, radius_m, ids, attribute_problems)
        g = self.geometry
        if not np.isfinite(x).all() or not np.isfinite(y).all():
            problems.append("x_m, y_m: positions must be finite")
        else:
            inside = g.contains(x, y)
            if not inside.all():
                k = np.flatnonzero(~inside)
                problems.append(f"x_m, y_m: {k.size} position(s) outside the area, e.g. "
                                f"{[(float(a), float(b)) for a, b in zip(x[k][:3], y[k][:3])]!r}")
            if len(g.walls):
                near = g.distance_to_walls(x, y) < radius
                if near.any():
                    k = np.flatnonzero(near)
                    problems.append(f"x_m, y_m: {k.size} position(s) closer than one radius to a wall, e.g. "
                                    f"{[(float(a), float(b)) for a, b in zip(x[k][:3], y[k][:3])]!r}")
            goal0 = int(self._route_table[route, 0])
            if not np.isfinite(g.travel_distance(g.goal_names[goal0], x, y)[inside]).all():
                problems.append(f"goal: {g.goal_names[goal0]!r} cannot be reached from some positions")
            n_overlap = self._count_overlaps(x, y, radius)
            if n_overlap:
                problems.append(f"x_m, y_m: {n_overlap} pair(s) of agents overlap")
        if problems:
            raise GeometryError(problems + attribute_problems)
        if attribute_problems:
            raise ParameterError("add_agents: " + "; ".join(attribute_problems))
        self._append(x, y, v0, radius, agent_id, route)
        return agent_id

    def _count_overlaps(self, x: np.ndarray, y: np.ndarray, radius: np.ndarray) -> int:
        """Pairs (new-new or new-inside) whose discs overlap."""
        g, m, n = self.geometry, x.size, self.n
        px = np.concatenate([x, self.a.x_m[:n]])
        py = np.concatenate([y, self.a.y_m[:n]])
        rr = np.concatenate([radius, self.a.radius_m[:n]])
        if g.periodic_x:
            px = np.mod(px - g.x_min_m, g.period_x_m)
            y0, span = py.min(), np.ptp(py) * 4 + 10.0
            tree = cKDTree(np.column_stack([px, py - y0]), boxsize=[g.period_x_m, span])
        else:
            tree = cKDTree(np.column_stack([px, py]))
        pairs = tree.query_pairs(2 * self.max_radius_m, output_type="ndarray")
        if not pairs.size:
            return 0
        i, j = pairs[:, 0], pairs[:, 1]
        dx = px[i] - px[j]
        if g.periodic_x:
            dx -= g.period_x_m * np.round(dx / g.period_x_m)
        d = np.hypot(dx, py[i] - py[j])
        return int(np.count_nonzero((d < rr[i] + rr[j]) & (i < m)))

    def insert(self, entry: str, n: int, *, goal: str | Sequence[str], free_speed_mps: ArrayLike | None = None,
               radius_m: ArrayLike | None = None, ids: ArrayLike | None = None,
               clearance_m: float | None = None) -> int:
        """Put up to ``n`` people in at ``entry`` where there is free room; returns how many went in.

        Slots lie one radius (plus 5 cm) inside the entry segment, ``clearance_m`` apart (default two
        radii + 2 cm); a slot is free when no agent centre is closer than ``clearance_m``.  Slots are
        tried in an order drawn from the run's generator.  With ``ids`` the first k of them are used
        (k returned): the caller keeps the others queued."""
        if not (isinstance(n, (int, np.integer)) and n >= 0):
            raise ParameterError(f"n: expected a count >= 0, got {n!r}")
        g = self.geometry
        k = g.entry_index(entry)
        if n == 0:
            return 0
        r = float(self.params.radius_m if radius_m is None else np.max(radius_m))
        clearance = 2 * self.max_radius_m + 0.02 if clearance_m is None else float(clearance_m)
        if not clearance > 0:
            raise ParameterError(f"clearance_m: expected a positive distance, got {clearance_m!r}")
        seg, inward = g.entry_seg[k], g.entry_inward[k]
        a, b = seg[:2], seg[2:]
        length = float(np.hypot(*(b - a)))
        t = (b - a) / length
        usable = length - 2 * (r + 0.05)
        if usable < 0:
            return 0
        n_slots = int(usable // clearance) + 1
        offsets = (r + 0.05) + (usable - (n_slots - 1) * clearance) / 2 + clearance * np.arange(n_slots)
        slots = a + offsets[:, None] * t + inward * (r + 0.05)
        slots = slots[self.rng.permutation(n_slots)]
        lo, hi = slots.min(axis=0) - clearance, slots.max(axis=0) + clearance
        px, py = self.a.x_m[: self.n], self.a.y_m[: self.n]
        near = (px >= lo[0]) & (px <= hi[0]) & (py >= lo[1]) & (py <= hi[1])
        occupied = list(zip(px[near], py[near]))
        chosen = []
        for sx_, sy_ in slots:
            if len(chosen) == n:
                break
            if all((sx_ - ox) ** 2 + (sy_ - oy) ** 2 >= clearance ** 2 for ox, oy in occupied):
                chosen.append((sx_, sy_))
                occupied.append((sx_, sy_))
        m = len(chosen)
        if m == 0:
            return 0
        problems: list[str] = []
        fs = None if free_speed_mps is None else np.broadcast_to(np.asarray(free_speed_mps, float), (n,))[:m]
        rad = None if radius_m is None else np.broadcast_to(np.asarray(radius_m, float), (n,))[:m]
        route = self._route_id(goal)
        v0, radius, agent_id = self._attributes(m, fs, rad, ids, problems)
        if problems:
            raise ParameterError("insert: " + "; ".join(problems))
        xy = np.array(chosen)
        self._append(xy[:, 0], xy[:, 1], v0, radius, agent_id, route)
        return m

    def step(self) -> StepReport:
        """Advance one step of ``params.dt_s``; returns who left through which exit."""
        p, g, a = self.params, self.geometry, self.a
        n = self.n
        self.step_count += 1
        if n == 0:                      # an empty area costs nothing
            self.t_s = self.step_count * p.dt_s
            return StepReport(self.t_s, _EMPTY_IDS, _EMPTY_EXITS)
        build_grid(n, a.x_m, a.y_m, a.radius_m, self.grid_x0_m, self.grid_y0_m, self.cell_m, self.grid_nx,
                   self.grid_ny, self._cell_cursor, self._cell_start, a.order, a.sorted_x_m, a.sorted_y_m,
                   a.sorted_radius_m, a.cell)
        threads_before = numba.get_num_threads()
        threads = self.num_threads if self.num_threads is not None else (
            threads_before if n >= self.PARALLEL_MIN_AGENTS else 1)
        if threads != threads_before:
            numba.set_num_threads(threads)
        csm_step(n, a.x_m, a.y_m, a.ex, a.ey, a.radius_m, a.free_speed_mps, a.goal,
                 a.order, self._cell_start, a.sorted_x_m, a.sorted_y_m, a.sorted_radius_m, a.cell,
                 self.grid_nx, self.grid_ny, self.cell_m, self.block, g.period_x_m, self.ring_max,
                 g.field_gx, g.field_gy, g.field_x0_m, g.field_y0_m, g.field_cell_m, g.stair_id,
                 self._stair_ux, self._stair_uy, self._stair_f_up, self._stair_f_down,
                 g.walls, self._cw_start, self._cw_idx, self._cl_start, self._cl_idx,
                 p.time_gap_s, p.strength_neighbor_repulsion, p.range_neighbor_repulsion_m,
                 p.strength_geometry_repulsion, p.range_geometry_repulsion_m, self.rep_cut_m, self.wall_cut_m,
                 self.consider_m, self.max_radius_m, p.dt_s, p.wall_min_distance_ratio,
                 a.new_x_m, a.new_y_m, a.new_ex, a.new_ey, a.speed_mps, a.e0x, a.e0y)
        if threads != threads_before:
            numba.set_num_threads(threads_before)
        n_gone, n_reached = goal_events(n, a.x_m, a.y_m, a.new_x_m, a.new_y_m, a.goal, g.goal_kind, g.goal_seg,
                                        g.exit_seg, p.waypoint_reach_m, a.exit_index, a.reached)
        if n_gone and self.exits_for_goal_only:
            wrong = (a.exit_index[:n] >= 0) & (a.exit_index[:n] != a.goal[:n])
            if wrong.any():
                a.new_x_m[:n][wrong] = a.x_m[:n][wrong]
                a.new_y_m[:n][wrong] = a.y_m[:n][wrong]
                a.exit_index[:n][wrong] = -1
                n_gone -= int(wrong.sum())
        if len(self.line_names):
            count_line_crossings(n, a.x_m, a.y_m, a.new_x_m, a.new_y_m, self.lines, self.line_counts)
        # apply
        a.x_m, a.new_x_m = a.new_x_m, a.x_m
        a.y_m, a.new_y_m = a.new_y_m, a.y_m
        a.ex, a.new_ex = a.new_ex, a.ex
        a.ey, a.new_ey = a.new_ey, a.ey
        if g.periodic_x:
            a.x_m[:n] = g.x_min_m + np.mod(a.x_m[:n] - g.x_min_m, g.period_x_m)
        if n_reached:
            k = np.flatnonzero(a.reached[:n])
            width = self._route_table.shape[1]
            nxt = np.minimum(a.route_pos[k] + 1, width - 1)
            nxt_goal = self._route_table[a.route[k], nxt]
            ok = nxt_goal >= 0
            a.route_pos[k[ok]] = nxt[ok]
            a.goal[k[ok]] = nxt_goal[ok]
        self.t_s = self.step_count * p.dt_s
        if not n_gone:
            self._check(0)
            return StepReport(self.t_s, _EMPTY_IDS, _EMPTY_EXITS)
        gone = a.exit_index[:n] >= 0
        left_id = a.agent_id[:n][gone].copy()
        left_exit = a.exit_index[:n][gone].copy()
        keep = ~gone
        m = int(keep.sum())
        for name in _Agents.STATE:
            arr = getattr(a, name)
            arr[:m] = arr[:n][keep]
        a.agent_id[m:n] = -1
        self.n = m
        self.removed_total += left_id.size
        self.removed_by_exit += np.bincount(left_exit, minlength=self.removed_by_exit.size)
        self._check(left_id.size)
        return StepReport(self.t_s, left_id, left_exit)

    def run(self, duration_s: float | None = None, *, until_empty: bool = False, max_s: float = 3600.0) -> float:
        """Step for ``duration_s`` (or until nobody is inside, bounded by ``max_s``); returns the time."""
        if duration_s is None and not until_empty:
            raise ParameterError("run: give duration_s or until_empty=True")
        end = self.t_s + (duration_s if duration_s is not None else max_s)
        while self.t_s < end - 1e-9 and not (until_empty and self.n == 0):
            self.step()
        return self.t_s

    def _check(self, removed_now: int) -> None:
        """inserted == inside + removed, with inside recounted over the whole id buffer and removed
        summed per exit (both kept apart from the engine's running counts)."""
        inside, finite = recount(self.a.agent_id, self.a.x_m, self.a.y_m, self.n)
        removed = int(self.removed_by_exit.sum()) if removed_now else self._removed_by_exit_sum
        self._removed_by_exit_sum = removed
        if inside != self.n or removed != self.removed_total or self.inserted_total != inside + removed:
            raise ConservationError(
                f"conservation broken at t={self.t_s!r} s: inserted {self.inserted_total!r} != inside "
                f"{inside!r} (engine count {self.n!r}) + removed {removed!r} (engine count {self.removed_total!r})")
        if not finite:
            raise ConservationError(f"non-finite agent position at t={self.t_s!r} s")

    def check_invariants(self) -> None:
        """Full check (tests, end of run): the counts, and no agent id twice."""
        self._check(1)
        ids = self.a.agent_id[: self.n]
        if np.unique(ids).size != ids.size:
            raise ConservationError(f"duplicate agent ids inside at t={self.t_s!r} s")

    # ------------------------------------------------------------------ views
    def agents(self) -> AgentView:
        """Copies of the state of everyone inside."""
        a, n = self.a, self.n
        return AgentView(a.agent_id[:n].copy(), a.x_m[:n].copy(), a.y_m[:n].copy(), a.speed_mps[:n].copy(),
                         a.free_speed_mps[:n].copy(), a.radius_m[:n].copy(), a.goal[:n].copy())

    def line_count(self, name: str) -> tuple[int, int]:
        """Crossings of measurement line ``name`` so far: (left to right, right to left)."""
        try:
            k = self.line_names.index(name)
        except ValueError:
            raise ParameterError(f"line: unknown measurement line {name!r}, "
                                 f"expected one of {self.line_names!r}") from None
        return int(self.line_counts[k, 0]), int(self.line_counts[k, 1])
