"""Coupling of a hotspot area with the network crowd engine (:class:`sim.crowd.engine.CrowdEngine`).

The hotspot replaces some cells of the walk network (the ways a ``[hotspots.NAME]`` table selects).
Those cells form a zone whose gates stay shut, so network walkers whose route enters the area are
held in the ordinary network queue at the end of the edge that leads there (they queue on the
network, behind each other, counted as that zone's gate queue).  After every network step the
coupling runs the area for the same time in steps of its own ``dt_s`` and exchanges people both ways:

* **into the area**: the walkers at the head of those queues go in, first come first served, as
  fast as the area takes them (free room at the entry segment, :meth:`HotspotSim.insert`) and at
  most at the sending capacity of the network edge they leave; each keeps its own free speed, and
  its goal in the area is the exit at the end where its network route leaves the area;
* **out of the area**: people crossing an exit are put back onto the network at that end's node, on
  the next edge of their route (viewing spot or exit group, as routes are then), when that edge's
  cell has room and, for people walking in, the gates of a zone they enter there admit them (else they
  wait in a hand-over list, counted; walkers are not taken in while such a gate is shut); at an exit
  node of the map they leave the map there.

While in the area (or in the hand-over list) a network agent is parked: its state is ``EXITED`` off
the network, booked as an exit in the engine's counters and un-booked when it comes back, so the
engine's own recount stays exact.  The coupling's recount (:meth:`NetworkHotspot.check`) checks
after every step that everyone parked is in the area or in the hand-over list exactly once, that
``handed in - handed out`` equals them, and (:func:`check_parked`) that the engine's exited agents
are exactly the people who left at exit nodes or from sources plus everyone parked; any difference
raises :class:`~.errors.ConservationError`.  The same seed gives the same run (the area draws from
its own seeded generator; the exchange order is fixed).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..core.routing import EXIT_HERE
from ..crowd import kernels as K
from .engine import HotspotSim
from .errors import ConservationError, GeometryError, ParameterError
from .kernels import gaussian_local_density
from .layout import ENDS, StairArea
from .measure import LOCAL_DENSITY_RADIUS_M, CrowdMonitor
from .params import CsmParameters
from .trajectories import TrajectoryRecorder

__all__ = ["NetworkHotspot", "stair_ends", "check_parked", "MAX_FRAME_BYTES"]

#: Most memory the density frames of one hotspot may take (bytes); see :class:`NetworkHotspot`.
MAX_FRAME_BYTES = 1 << 30


def stair_ends(arrays, cells: np.ndarray, name: str) -> tuple[dict[str, int], float]:
    """The walk nodes where a chain of stair cells meets the rest of the network, as
    ``{"foot": node, "top": node}`` (from the cells' ``incline`` tags), and the cells' mean width."""
    walk = arrays.walk
    if cells.size == 0:
        raise GeometryError([f"hotspots.{name}.match: selects no walkable way on the map"])
    in_h = np.zeros(walk.n_cells, dtype=bool)
    in_h[cells] = True
    ends: dict[str, int] = {}
    problems = []
    boundary = []
    for node in np.unique(np.concatenate([walk.cell_a[cells], walk.cell_b[cells]])):
        out = walk.out_edges[walk.out_start[node]:walk.out_start[node + 1]]
        touching = arrays.edge_cell[out]
        if (~in_h[touching]).any() or touching.size == 1:
            boundary.append(int(node))
    for node in boundary:
        c = int(cells[(walk.cell_a[cells] == node) | (walk.cell_b[cells] == node)][0])
        up = int(walk.cell_incline_up[c])
        if up == 0 or not bool(walk.cell_steps[c]):
            problems.append(f"hotspots.{name}.match: the selected ways must be steps with an incline "
                            f"(cell {c} is not)")
            continue
        lower = walk.cell_a[c] if up > 0 else walk.cell_b[c]
        end = "foot" if node == lower else "top"
        if end in ends:
            problems.append(f"hotspots.{name}.match: expected one stairway (two ends), found several {end}s")
        ends[end] = node
    if not problems and set(ends) != set(ENDS):
        problems.append(f"hotspots.{name}.match: expected a stairway with a foot and a top on the network, "
                        f"found ends {sorted(ends)!r}")
    if problems:
        raise GeometryError(problems)
    return ends, float(np.mean(walk.cell_width_m[cells]))


class NetworkHotspot:
    """One hotspot area coupled to a crowd engine (see the module docstring).

    Parameters
    ----------
    name : the hotspot's name (``[hotspots.NAME]``)
    engine : the crowd engine, built with the hotspot's cells as zone ``zone`` (gates shut here)
    zone : index of that zone
    area : the area and its ends (:class:`~.layout.StairArea`)
    ends : walk node of each end (:func:`stair_ends`)
    params : model parameters of the area
    seed : seeds the area's generator
    sample_every_s : how often densities are measured (s of simulated time)
    frame_every_s : how often the local-density field is kept as a frame (s of simulated time; at
        least the area's step): the heat map over time (:attr:`frames`, :attr:`frames_t_s`)
    duration_s : the run's simulated time, if known: checks up front that the frames fit in
        :data:`MAX_FRAME_BYTES` (else :class:`~.errors.ParameterError` names ``frame_every_s``)
    trajectory_every_steps : keep trajectories every this many area steps (0: none)
    heat_cell_m : grid of the heat map (local density, Helbing et al. 2007)
    num_threads : Numba threads of the area's step (None: the engine's default)

    Frames are float32 copies of the field of the last sample (every ``frame_every_s``, at
    ``frame_every_s``, ``2 frame_every_s``, ...; an area that was empty at that sample gives a zero
    frame), so the largest frame never exceeds :attr:`heat_peak` and equals it when every sample is a
    frame.  Memory: one frame per grid, 4 bytes a cell; the Chen Yi Square stairs area (18.1 m x 12 m,
    73 x 48 cells of 0.25 m) takes 14 kB a frame, so a 3-hour night at the default 10 s (1,080 frames)
    keeps 15 MB.
    """

    def __init__(self, name: str, engine, zone: int, area: StairArea, ends: dict[str, int], *,
                 params: CsmParameters, seed: int, sample_every_s: float = 0.5, trajectory_every_steps: int = 0,
                 heat_cell_m: float = 0.25, num_threads: int | None = None, frame_every_s: float = 10.0,
                 duration_s: float | None = None):
        self.name = name
        self.engine = engine
        self.zone = int(zone)
        self.area = area
        self.ends = dict(ends)
        a = engine.arrays
        self.in_area = a.net.cell_zone == self.zone
        self.sim = HotspotSim(area.geometry, params, seed=seed, num_threads=num_threads, exits_for_goal_only=True)
        dt_net, dt = float(a.dt_s), params.dt_s
        self.substeps = int(round(dt_net / dt))
        if self.substeps < 1 or abs(self.substeps * dt - dt_net) > 1e-9 * dt_net:
            raise GeometryError([(f"hotspots.{name}.dt_s: the network step ({dt_net!r} s) must be a whole number "
                                  f"of area steps, got {dt!r} s")])
        # Edges that lead into each end from outside the area, and their sending budgets.
        self.entry_edges: dict[str, np.ndarray] = {}
        for end, node in self.ends.items():
            into = np.flatnonzero((a.net.edge_to == node) & ~self.in_area[a.edge_cell])
            self.entry_edges[end] = into.astype(np.int64)
        all_entry = np.concatenate(list(self.entry_edges.values()))
        self._budget = dict.fromkeys(all_entry.tolist(), 0.0)
        n = engine.n_agents
        self.prev_state = np.full(n, -1, dtype=np.int8)     # state before parking (-1: not parked)
        self.goal_end = np.full(n, -1, dtype=np.int8)       # end where the walker leaves the area
        self.handover: list[tuple[int, int]] = []           # (agent, end) out of the area, not yet on the network
        self.handed_in = 0
        self.handed_out = 0
        self.handed_in_by_end = dict.fromkeys(ENDS, 0)
        self.handed_out_by_end = dict.fromkeys(ENDS, 0)
        self.max_inside = 0
        self.max_handover = 0
        self.wall_s = 0.0
        self.monitor = CrowdMonitor(area.areas, cell_m=0.25)
        self._sample_every = max(1, int(round(sample_every_s / dt)))
        self.recorder = TrajectoryRecorder(dt, trajectory_every_steps) if trajectory_every_steps else None
        self.heat_cell_m = float(heat_cell_m)
        minx, miny, maxx, maxy = area.walkable.bounds
        self.heat_x0, self.heat_y0 = minx, miny
        nx, ny = int(math.ceil((maxx - minx) / heat_cell_m)), int(math.ceil((maxy - miny) / heat_cell_m))
        self.heat_peak = np.zeros((ny, nx))
        self._heat_now = np.zeros((ny, nx))
        self.series_t_s: list[float] = []
        self.series_inside: list[int] = []
        self.series_queue: list[int] = []
        if not frame_every_s >= dt * (1 - 1e-9):
            raise ParameterError(f"hotspots.{name}.frame_every_s: frames are kept at most once an area step "
                                 f"(dt_s = {dt!r} s), got {frame_every_s!r} s; set it to {dt!r} s or more")
        self._frame_every = max(1, int(round(frame_every_s / dt)))
        self.frame_every_s = self._frame_every * dt
        if duration_s is not None:
            n_frames = int(duration_s / self.frame_every_s + 1e-9)
            size = n_frames * nx * ny * 4
            if size > MAX_FRAME_BYTES:
                least = duration_s * nx * ny * 4 / MAX_FRAME_BYTES
                raise ParameterError(f"hotspots.{name}.frame_every_s: {n_frames:,} frames of {nx} x {ny} cells "
                                     f"would take {size / 2**20:,.0f} MiB (at most {MAX_FRAME_BYTES / 2**20:,.0f} "
                                     f"MiB); set frame_every_s to {math.ceil(least * 10) / 10:g} s or more")
        self._frames: list[np.ndarray] = []
        self._frames_t_s: list[float] = []
        self._last_sample_n = 0                             # people in the area at the last sample

    # ------------------------------------------------------------------ routes
    def _next_edge(self, i: int, node: int, walking_in: bool) -> int:
        r = self.engine.routes
        a = self.engine.agents
        return int(r.view_next[a.target[i], node] if walking_in else r.exit_next[a.exit_row[i], node])

    def _leaving_end(self, i: int, node: int, walking_in: bool) -> int:
        """The end where walker ``i``'s route, entering the area at ``node``, leaves it (-1: none)."""
        arrays = self.engine.arrays
        for _ in range(self.in_area.size + 2):
            f = self._next_edge(i, node, walking_in)
            if f < 0 or not self.in_area[arrays.edge_cell[f]]:
                break
            node = int(arrays.net.edge_to[f])
        for k, end in enumerate(ENDS):
            if self.ends[end] == node:
                return k
        return -1

    # ------------------------------------------------------------------ exchange
    def _refill_budgets(self) -> None:
        net, cells = self.engine.arrays.net, self.engine.cells
        for e in self._budget:
            cap = float(net.edge_out_cap[e] * cells.free_share[net.edge_cell[e]])
            self._budget[e] = min(self._budget[e], max(cap, 1.0)) + cap

    def _admit(self, t_s: float) -> None:
        """Walkers at the heads of the network queues go in while the entry has room."""
        eng = self.engine
        ag, ed, net = eng.agents, eng.edges, eng.arrays.net
        for end in ENDS:
            entry = self.area.entry_at[end]
            edges = self.entry_edges[end]
            if edges.size == 0:
                continue
            start = eng.step_index % edges.size          # no edge always first
            full = False
            for k in range(edges.size):
                e = int(edges[(start + k) % edges.size])
                while not full and self._budget[e] >= 1.0:
                    i = int(ed.q_head[e])
                    if i < 0:
                        break
                    walking_in = ag.state[i] == K.WALK_IN
                    f = self._next_edge(i, self.ends[end], walking_in)
                    if f < 0 or not self.in_area[net.edge_cell[f]]:
                        break                              # the head waits for something else: first come first served
                    leave = self._leaving_end(i, self.ends[end], walking_in)
                    if leave < 0 or (walking_in and self._gate_shut(i, self.ends[ENDS[leave]])):
                        break                              # a closed gate beyond the area holds them here
                    goal = self.area.exit_at[ENDS[leave]]
                    if self.sim.insert(entry, 1, goal=goal, ids=[i], free_speed_mps=[float(ag.v0_mps[i])]) == 0:
                        full = True
                        break
                    self._park(i, e, int(ag.state[i]), leave, t_s)
                    self._budget[e] -= 1.0
                    self.handed_in_by_end[end] += 1
                if full:
                    break

    def _gate_shut(self, i: int, node: int) -> bool:
        """Whether the zone walker ``i`` (walking in) would enter from ``node`` keeps its gates shut."""
        eng = self.engine
        f = self._next_edge(i, node, True)
        if f < 0:
            return False
        z = int(eng.arrays.net.cell_zone[eng.arrays.net.edge_cell[f]])
        return z >= 0 and z != self.zone and not (eng.zones.open[z] and eng.zones.admit[z] > 0)

    def _park(self, i: int, e: int, state: int, leave: int, t_s: float) -> None:
        """Take walker ``i`` (head of the queue at the end of ``e``) off the network."""
        eng = self.engine
        ag, ed, net = eng.agents, eng.edges, eng.arrays.net
        nxt = int(ag.q_next[i])
        ed.q_head[e] = nxt
        if ed.q_tail[e] == i:
            ed.q_tail[e] = -1
        ed.queue[e] -= 1
        ag.q_edge[i] = -1
        ag.q_next[i] = -1
        eng.cells.count[net.edge_cell[e]] -= 1
        ed.passed[e] += 1
        if ag.wait_start_s[i] >= 0.0:
            ag.gate_wait_s[i] = t_s - ag.wait_start_s[i]
            ag.wait_start_s[i] = -1.0
        self.prev_state[i] = state
        self.goal_end[i] = leave
        ag.state[i] = K.EXITED
        ag.edge[i] = -1
        ag.pos_m[i] = 0.0
        eng.counters[K.C_EXITED] += 1
        self.handed_in += 1

    def _release(self) -> None:
        """People who left the area go onto the network at their end's node, in the order they left."""
        eng = self.engine
        ag, net, cells = eng.agents, eng.arrays.net, eng.cells
        waiting = []
        blocked = set()
        for i, k in self.handover:
            end = ENDS[k]
            if end in blocked:
                waiting.append((i, k))
                continue
            node = self.ends[end]
            state = int(self.prev_state[i])
            if state == K.WALK_IN and eng.arrivals_over:
                state = K.WALK_OUT
            walking_in = state == K.WALK_IN
            f = self._next_edge(i, node, walking_in)
            if f == EXIT_HERE:                     # an exit of the map: they leave here (already booked)
                eng.nodes.exited[node] += 1
                self._unpark(i, k)
                continue
            if f < 0 or self.in_area[net.edge_cell[f]]:
                f = self._other_way(i, node, walking_in)
            c = int(net.edge_cell[f]) if f >= 0 else -1
            z = int(net.cell_zone[c]) if c >= 0 else -1
            gated = z >= 0 and z != self.zone and walking_in
            if c < 0 or cells.count[c] >= cells.room[c] or (gated and not (eng.zones.open[z] and eng.zones.admit[z] > 0)):
                blocked.add(end)
                waiting.append((i, k))
                continue
            if gated:
                eng.zones.admit[z] -= 1
                eng.counters[K.C_ADMITTED] += 1
            ag.state[i] = state
            ag.edge[i] = f
            ag.pos_m[i] = 0.0
            eng.mark_may_move(i)
            cells.count[c] += 1
            cells.in_budget[c] -= 1.0
            eng.counters[K.C_EXITED] -= 1
            self._unpark(i, k)
        self.handover = waiting

    def _unpark(self, i: int, k: int) -> None:
        self.prev_state[i] = -1
        self.goal_end[i] = -1
        self.handed_out += 1
        self.handed_out_by_end[ENDS[k]] += 1

    def _other_way(self, i: int, node: int, walking_in: bool) -> int:
        """The cheapest edge out of ``node`` outside the area toward the walker's goal (-1: none)."""
        eng = self.engine
        net, routes, ag = eng.arrays.net, eng.routes, eng.agents
        dist = routes.view_dist[ag.target[i]] if walking_in else routes.exit_dist[ag.exit_row[i]]
        best, best_cost = -1, np.inf
        for g in net.out_edges[net.out_start[node]:net.out_start[node + 1]]:
            if self.in_area[net.edge_cell[g]]:
                continue
            cost = routes.edge_cost_s[g] + dist[net.edge_to[g]]
            if cost < best_cost:
                best, best_cost = int(g), cost
        return best

    def exchange(self) -> None:
        """Run the area for one network step (its own substeps), exchanging people both ways."""
        import time

        t0 = time.perf_counter()
        eng = self.engine
        sim = self.sim
        self._refill_budgets()
        t_net = eng.t_s - eng.arrays.dt_s
        for s in range(self.substeps):
            self._admit(t_net + s * sim.params.dt_s)
            report = sim.step()
            if report.exited_id.size:
                ends = [0 if sim.geometry.exit_names[x] == self.area.exit_at["foot"] else 1
                        for x in report.exited_exit]
                self.handover.extend(zip(report.exited_id.tolist(), ends))
            if self.recorder is not None:
                self.recorder.record_sim(sim)
            if sim.step_count % self._sample_every == 0:
                self._sample()
            if sim.step_count % self._frame_every == 0:
                self._keep_frame()
        self._release()
        self.max_inside = max(self.max_inside, sim.n)
        self.max_handover = max(self.max_handover, len(self.handover))
        self.series_t_s.append(float(eng.t_s))
        self.series_inside.append(int(sim.n))
        self.series_queue.append(int(eng.zones.gate_queue[self.zone]))
        self.check()
        self.wall_s += time.perf_counter() - t0

    def _sample(self) -> None:
        """The local density over the area (one field for the heat map and every measurement area)."""
        sim = self.sim
        n, a = sim.n, sim.a
        x, y = np.ascontiguousarray(a.x_m[:n]), np.ascontiguousarray(a.y_m[:n])
        self._last_sample_n = n
        if n:
            gaussian_local_density(n, x, y, self.heat_x0, self.heat_y0, self.heat_cell_m, self._heat_now,
                                   LOCAL_DENSITY_RADIUS_M)
            np.maximum(self.heat_peak, self._heat_now, out=self.heat_peak)
        self.monitor.sample_field(sim.t_s, x, y, np.ascontiguousarray(a.speed_mps[:n]), self._heat_now,
                                  self.heat_x0, self.heat_y0, self.heat_cell_m)

    def _keep_frame(self) -> None:
        """Keep the field of the last sample (a zero frame if the area was empty then) as a frame."""
        if self._last_sample_n:
            frame = self._heat_now.astype(np.float32)
        else:
            frame = np.zeros(self._heat_now.shape, dtype=np.float32)
        self._frames.append(frame)
        self._frames_t_s.append(float(self.sim.t_s))

    @property
    def frames_t_s(self) -> np.ndarray:
        """Simulated time of each frame (s from the start)."""
        return np.asarray(self._frames_t_s, dtype=np.float64)

    @property
    def frames(self) -> np.ndarray:
        """The local density at each frame time, (frames, ny, nx) float32 p/m2 on the heat map's grid
        (cell ``[j, i]`` centred at ``heat_x0 + (i + 0.5) heat_cell_m``, ``heat_y0 + (j + 0.5) heat_cell_m``)."""
        if not self._frames:
            return np.zeros((0, *self._heat_now.shape), dtype=np.float32)
        return np.stack(self._frames)

    # ------------------------------------------------------------------ checks and results
    @property
    def parked(self) -> int:
        """People of the network in the area or in the hand-over list."""
        return self.sim.n + len(self.handover)

    def parked_ids(self) -> np.ndarray:
        return np.concatenate([self.sim.a.agent_id[: self.sim.n],
                               np.array([i for i, _ in self.handover], dtype=np.int64)])

    def check(self) -> None:
        """Recount: everyone parked is in the area or handing over exactly once, in state EXITED off the
        network, and handed in - handed out equals them; raises :class:`ConservationError`."""
        ids = self.parked_ids()
        problems = []
        if np.unique(ids).size != ids.size:
            problems.append(f"{ids.size - np.unique(ids).size} people counted twice")
        if self.handed_in - self.handed_out != ids.size:
            problems.append(f"handed in {self.handed_in} - handed out {self.handed_out} != in the area "
                            f"{self.sim.n} + handing over {len(self.handover)}")
        if int(np.count_nonzero(self.prev_state >= 0)) != ids.size:
            problems.append(f"{int(np.count_nonzero(self.prev_state >= 0))} marked parked, {ids.size} found")
        ag = self.engine.agents
        if ids.size and ((ag.state[ids] != K.EXITED).any() or (ag.edge[ids] != -1).any()):
            problems.append("someone in the area is also on the network")
        self.sim._check(0)
        if problems:
            raise ConservationError(f"hotspot {self.name!r} at t={self.engine.t_s!r} s: " + "; ".join(problems))

    def summary(self) -> dict:
        mon = self.monitor.summary()
        return {
            "separation": self.area.layout.separation,
            "area_m2": round(float(self.area.walkable.area), 2),
            "foot_node": int(self.ends["foot"]), "top_node": int(self.ends["top"]),
            "handed_in": int(self.handed_in), "handed_out": int(self.handed_out),
            "went_in_at": {k: int(v) for k, v in self.handed_in_by_end.items()},
            "came_out_at": {k: int(v) for k, v in self.handed_out_by_end.items()},
            "inside_at_end": int(self.sim.n), "handing_over_at_end": len(self.handover),
            "max_inside": int(self.max_inside), "max_handing_over": int(self.max_handover),
            "max_local_density_ppm2": round(float(self.heat_peak.max()), 3),
            "max_entry_queue": int(max(self.series_queue, default=0)),
            "areas": {k: {kk: round(float(vv), 3) for kk, vv in v.items()} for k, v in mon.items()},
            "wall_s": round(self.wall_s, 2),
        }


def check_parked(engine, hotspots: Sequence[NetworkHotspot]) -> None:
    """The engine's exited agents are exactly those who left at exit nodes or from their sources plus
    everyone parked in a hotspot (an independent recount over the agents' states)."""
    state = engine.agents.state[: engine.n_active]
    exited = int(np.count_nonzero(state == K.EXITED))
    parked = sum(h.parked for h in hotspots)
    left = int(engine.nodes.exited.sum() + engine.counters[K.C_LEFT_FROM_SOURCE])
    if exited != left + parked:
        raise ConservationError(f"at t={engine.t_s!r} s: {exited} agents exited or parked, but {left} left the map "
                                f"and {parked} are in hotspots")
