"""Plain-Python reference of the crowd engine: one ``mesa.Agent`` per pedestrian.

The same rules as the Numba kernels of :mod:`sim.crowd.kernels` (their module docstring states
them), written the way a typical Mesa model is: every :class:`Pedestrian` holds its own state
(edge, position, state, free speed, viewing target, exit group, gate wait) and decides in plain
Python, one agent after another.  It is the baseline the engine is tested against
(``tests/test_reference.py``: identical per-step counts and agents) and timed against
(``benchmarks/bench_reference.py``).

Shared with the engine, so both start from the same inputs: the compiled scenario
(:func:`~sim.crowd.compile.compile_crowd`), the route tables (:func:`~sim.crowd.compile.compute_routes`,
a network-level Dijkstra, not per-agent logic), the people placed on the map and the arrival list
(:func:`~sim.crowd.compile.place_populations`, :func:`~sim.crowd.compile.generate_arrivals`, with the
model's seeded generator in the same order), and the controller agents of
:mod:`sim.crowd.controllers` (gates, end of show, release), which act through ``model.engine``.

Written again here, without NumPy or Numba: cell densities, supplies, speed shares (Weidmann on the
level, the triangular diagram on stairs, the congested flux), flow budgets with their carry-over;
every walker's move (viewing spot, the end of an edge, exits, gates and patience, sending and
receiving capacity, the queue density, counterflow swaps, other ways within the tolerance or the
expected wait, short cells crossed in one step); people in place starting at their time and facing
their exit; people waiting at sources in arrival order; edge costs for the route refresh;
retargeting when a viewing spot is full; the end of arrivals and the release of standing groups;
zone statistics.

Step order (as :meth:`sim.crowd.model.CrowdModel.step` and :meth:`sim.crowd.engine.CrowdEngine.step`):
gates, show controller, arrivals, route refresh at its interval, cell refresh, zone admissions, the
rotating start index drawn from ``model.rng``, people in place, walkers from that index round,
people at sources, zone statistics.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

import mesa
import numpy as np

from ..core.routing import EXIT_HERE
from .compile import (
    MIN_ROUTE_SPEED_MPS,
    CrowdArrays,
    compile_crowd,
    compute_routes,
    generate_arrivals,
    one_way_penalty_s,
    place_populations,
)
from .controllers import ZoneGate, build_controllers
from .kernels import (
    AT_SOURCE,
    C_ADMITTED,
    C_BALKED,
    C_DIVERTED,
    C_SENT_HOME,
    C_ENTERED_NETWORK,
    C_EXITED,
    C_LEFT_FROM_SOURCE,
    C_REROUTED,
    C_RETARGETED,
    C_STARTED,
    C_SWAPS,
    C_QUEUE_TRIES,
    C_TURNED,
    C_WALKER_MOVES,
    EXITED,
    MAX_HOPS,
    MIN_FREE_SHARE,
    N_COUNTERS,
    N_STATES,
    PENDING,
    STANDING,
    WAITING,
    WALK_IN,
    WALK_OUT,
)
from .schema import CrowdScenario

__all__ = ["Pedestrian", "ReferenceCrowdModel", "StepCounts", "engine_step_counts"]

_OK, _BLOCK_GATE, _BLOCK_OUT, _BLOCK_IN, _BLOCK_FULL = 0, 1, 2, 3, 4
_LEFT = -100


def _weidmann_shape(rho: float, gamma: float, rho_jam: float) -> float:
    if rho <= 1e-9:
        return 1.0
    if rho >= rho_jam:
        return 0.0
    return 1.0 - math.exp(-gamma * (1.0 / rho - 1.0 / rho_jam))


def _stairs_shape(rho: float, capacity_ppms: float, free_mps: float, rho_jam: float) -> float:
    rho_c = capacity_ppms / free_mps
    if rho <= rho_c:
        return 1.0
    if rho >= rho_jam:
        return 0.0
    return capacity_ppms * (rho_jam - rho) / (rho_jam - rho_c) / (rho * free_mps)


@dataclass(frozen=True)
class StepCounts:
    """Integer counts after one step, comparable between the engine and the reference."""

    entered: int                      # in the simulation so far (agents 0..entered-1)
    exited: int                       # left the map or gave up at a source
    inside: int                       # entered - exited
    states: tuple[int, ...]           # agents per state among those entered
    counters: tuple[int, ...]         # cumulative event counters (kernels.C_*)
    cell_count: tuple[int, ...]       # people on each cell
    cell_standing: tuple[int, ...]    # people standing to watch on each cell
    zone_occupancy: tuple[int, ...]
    zone_gate_queue: tuple[int, ...]  # people held at each zone's gates this step
    edge_passed: tuple[int, ...]      # people who left each directed edge, cumulative
    edge_queue: tuple[int, ...]       # people queued at the end of each directed edge


def engine_step_counts(engine) -> StepCounts:
    """The engine's :class:`StepCounts` (``engine`` is a :class:`~sim.crowd.engine.CrowdEngine`)."""
    n = engine.n_active
    states = np.bincount(engine.state[:n], minlength=N_STATES)
    return StepCounts(
        entered=n, exited=int(engine.exited), inside=int(engine.inside),
        states=tuple(int(x) for x in states), counters=tuple(int(x) for x in engine.counters),
        cell_count=tuple(engine.cell_count.tolist()), cell_standing=tuple(engine.cell_standing.tolist()),
        zone_occupancy=tuple(engine.zone_occupancy.tolist()),
        zone_gate_queue=tuple(engine.zone_gate_queue.tolist()), edge_passed=tuple(engine.edge_passed.tolist()),
        edge_queue=tuple(engine.edges.queue.tolist()))


class Pedestrian(mesa.Agent):
    """One person: where they are (directed edge and metres along it), what they are doing
    (waiting in place, arriving, standing, leaving), how fast they walk and where they are going."""

    def __init__(self, model: "ReferenceCrowdModel", index: int, state: int, edge: int, pos_m: float,
                 source_node: int, target: int, stand_frac: float, exit_row: int, v0_mps: float, start_s: float):
        super().__init__(model)
        self.index = index                    # the engine's agent index
        self.state = state
        self.edge = edge                      # directed edge, -1 off the network
        self.pos_m = pos_m                    # metres along the edge
        self.source_node = source_node
        self.target = target                  # viewing target (row of the view tables)
        self.stand_frac = stand_frac          # where along the target cell they stop (0..1)
        self.exit_row = exit_row              # row of the exit tables
        self.v0_mps = v0_mps                  # own free speed on the level
        self.start_s = start_s                # people in place: when they start to move
        self.wait_start_s = -1.0              # when they began waiting at a closed gate (-1: not)
        self.gate_wait_s = -1.0               # last completed gate wait
        self.q_edge = -1                      # the edge at whose end it queues (-1: not queued)
        self.q_next: Pedestrian | None = None # next in that queue, toward its back

    # -- the walker's step -----------------------------------------------------------------------
    def step(self) -> None:
        """Walk on: stop at the viewing spot, or advance and cross nodes (short cells in one step);
        at the back of the queue at an edge's end (its length: the queue density across the free
        ground), join it."""
        m = self.model
        e = self.edge
        c = m.edge_cell[e]
        length = m.edge_length_m[e]
        advance = self.v0_mps * m.speed_factor[e] * m.dt_s
        if self.state == WALK_IN and c == m.view_cell[self.target]:
            stop = self.stand_frac * length
            if self.pos_m <= stop:
                self._approach_spot(c, e, stop, advance)
                return
        pos = self.pos_m + advance
        for _hop in range(MAX_HOPS):
            if m.q_len[e] > 0:
                c = m.edge_cell[e]
                back_of_queue_m = length - m.q_len[e] / (m.queue_density * m.cell_width_m[c] * m.free_share[c])
                if pos >= back_of_queue_m:
                    m.join(self, e, min(pos, length))
                    return
            if pos < length:
                self.pos_m = pos
                return
            overshoot = pos - length
            self.pos_m = length
            f = self.cross_node(e)
            if f == _LEFT:
                return
            if f < 0:
                m.join(self, e, length)
                m.q_status[e] = -1 - f
                m.q_for[e] = m.q_for_now
                return
            self.edge = f
            e = f
            length = m.edge_length_m[f]
            pos = overshoot
            self.pos_m = min(pos, length)

    def _approach_spot(self, c: int, e: int, stop: float, advance: float) -> None:
        """On the target cell before the chosen spot: walk to it, then stand if there is room (and it
        leaves the walkers there at most the queue density), else choose another spot (or stand here
        if none has room and it leaves them room; else wait, walking)."""
        m = self.model
        if self.pos_m + advance < stop:
            self.pos_m += advance
            return
        self.pos_m = stop
        walkers_after = m.cell_count[c] - m.cell_standing[c] - m.cell_waiting[c] - 1
        free_after = m.cell_area_m2[c] - (m.cell_standing[c] + 1) * m.view_space - m.cell_waiting[c] / m.queue_density
        fits = walkers_after <= free_after * m.queue_density
        if fits and m.cell_standing[c] < m.cell_view_capacity[c]:
            self._stand(c)
            return
        new_target = self.choose_view_target(m.edge_to[e])
        m.counters[C_RETARGETED] += 1
        if new_target != self.target:
            self.target = new_target
        elif fits:
            self._stand(c)

    def _stand(self, c: int) -> None:
        self.state = STANDING
        self.model.cell_standing[c] += 1

    def next_edge(self, node: int) -> int:
        """The route's next edge at ``node`` (toward the viewing spot, or the exit)."""
        m = self.model
        return m.view_next[self.target][node] if self.state == WALK_IN else m.exit_next[self.exit_row][node]

    def cross_node(self, e: int) -> int:
        """At the end of edge ``e``: leave the map, turn back, or step into the route's next edge
        or another within the tolerance (or the expected wait).  Returns the edge entered, _LEFT,
        or -(1 + why) when held (``model.q_for_now``: the edge it waits for)."""
        m = self.model
        c = m.edge_cell[e]
        node = m.edge_to[e]
        walking_in = self.state == WALK_IN
        row = self.target if walking_in else self.exit_row
        f = self.next_edge(node)
        if f == EXIT_HERE:
            if m.edge_out[e] < 1.0 or m.cell_out[c] < 1.0:
                status = _BLOCK_OUT
            elif m.sink_budget[node] < 1.0:
                status = _BLOCK_IN
            else:
                m.edge_out[e] -= 1.0
                m.cell_out[c] -= 1.0
                m.sink_budget[node] -= 1.0
                m.node_exited[node] += 1
                m.cell_count[c] -= 1
                m.edge_passed[e] += 1
                self.state = EXITED
                self.edge = -1
                m.counters[C_EXITED] += 1
                self.end_wait()
                return _LEFT
        elif f < 0:
            m.q_for_now = e
            return -1 - _BLOCK_OUT
        elif m.edge_cell[f] == c:                     # the goal is back along this cell: turn round
            self.edge = f
            self.pos_m = 0.0
            self.end_wait()
            return _LEFT
        else:
            status = m.try_enter(self, e, c, f)
            if status == _OK:
                self.end_wait()
                return f
        degree = m.out_start[node + 1] - m.out_start[node]
        if status != _BLOCK_OUT and degree > 2 and m.edge_out[e] >= 1.0 and m.cell_out[c] >= 1.0:
            dist = m.view_dist if walking_in else m.exit_dist
            best = dist[row][node]
            slack = max(m.tolerance_s, m.tolerance_frac * best)
            if f >= 0 and m.edge_out_cap[f] > 0.0:        # the expected wait for the route's edge
                slack = max(slack, m.held_prev[f] / m.edge_out_cap[f] * m.dt_s)
            for j in range(m.out_start[node], m.out_start[node + 1]):
                g = m.out_edges[j]
                if g == f or g == (e ^ 1) or m.edge_cell[g] == c:
                    continue
                if m.edge_cost_s[g] + dist[row][m.edge_to[g]] > best + slack:
                    continue
                if m.try_enter(self, e, c, g) == _OK:
                    m.counters[C_REROUTED] += 1
                    self.end_wait()
                    return g
        m.q_for_now = f if f >= 0 and status != _BLOCK_OUT else e
        return -1 - status

    # -- gates -----------------------------------------------------------------------------------
    def _wait_at_gate(self, z: int) -> None:
        m = self.model
        if self.wait_start_s < 0.0:
            self.wait_start_s = m.t_s
        m.zone_gate_queue[z] += 1

    def _give_up(self, new_state: int) -> None:
        """Waited past their patience at a closed gate: go home."""
        m = self.model
        self.gate_wait_s = m.t_s - self.wait_start_s
        self.wait_start_s = -1.0
        self.state = new_state
        m.counters[C_BALKED] += 1
        if new_state == EXITED:
            m.counters[C_LEFT_FROM_SOURCE] += 1

    def end_wait(self) -> None:
        """Held at a gate and moving on (through it, or another way): the gate wait is over."""
        if self.wait_start_s >= 0.0:
            self.gate_wait_s = self.model.t_s - self.wait_start_s
            self.wait_start_s = -1.0

    # -- at the source ---------------------------------------------------------------------------
    def enter_from_source(self) -> None:
        """Waiting at the arrival node: step onto the route's first edge if gate and cell allow."""
        m = self.model
        f = m.view_next[self.target][self.source_node]
        if f < 0:
            return
        c2 = m.edge_cell[f]
        z = m.cell_zone[c2]
        if z >= 0 and not m.gate_admits(z):
            self._wait_at_gate(z)
            if m.t_s - self.wait_start_s >= m.patience_s:
                self._give_up(EXITED)
            return
        if m.in_budget[c2] < 1.0 or m.cell_count[c2] >= m.room[c2]:
            return
        m.in_budget[c2] -= 1.0
        m.cell_count[c2] += 1
        if z >= 0:
            m.zone_admit[z] -= 1
            m.counters[C_ADMITTED] += 1
            if self.wait_start_s >= 0.0:
                self.gate_wait_s = m.t_s - self.wait_start_s
                self.wait_start_s = -1.0
        self.edge = f
        self.pos_m = 0.0
        self.state = WALK_IN
        m.counters[C_ENTERED_NETWORK] += 1
        m.v0_walking[f] += self.v0_mps
        m.n_walkers[f] += 1

    # -- choices ---------------------------------------------------------------------------------
    def choose_view_target(self, node: int, avoid_zone: int = -1) -> int:
        """Best viewing target with room other than the current one (and not in ``avoid_zone``), by
        appeal and travel time from ``node``; the current target if none has room."""
        m = self.model
        best = self.target
        best_score = -math.inf
        for t in range(len(m.view_cell)):
            c = m.view_cell[t]
            if t == self.target or m.cell_standing[c] >= m.cell_view_capacity[c]:
                continue
            if avoid_zone >= 0 and m.cell_zone[c] == avoid_zone:
                continue
            d_s = m.view_dist[t][node]
            if not math.isfinite(d_s):
                continue
            score = m.view_log_attr[t] - d_s / m.view_distance_scale_s
            if score > best_score:
                best_score = score
                best = t
        return best

    def retarget_if_full(self) -> None:
        """At a route refresh: a walker whose viewing spot has filled picks one with room."""
        m = self.model
        c = m.view_cell[self.target]
        if m.cell_standing[c] < m.cell_view_capacity[c]:
            return
        new_target = self.choose_view_target(m.edge_to[self.edge])
        if new_target != self.target:
            self.target = new_target
            m.counters[C_RETARGETED] += 1

    def turn_to_exit(self) -> None:
        """Face the nearer way to the exit from where the person stands."""
        m = self.model
        e = self.edge
        length = m.edge_length_m[e]
        row = self.exit_row
        ahead = m.exit_dist[row][m.edge_to[e]] + m.edge_cost_s[e] * (length - self.pos_m) / length
        behind = m.exit_dist[row][m.edge_from[e]] + m.edge_cost_s[e ^ 1] * self.pos_m / length
        if behind < ahead:
            self.edge = e ^ 1
            self.pos_m = length - self.pos_m
            m.counters[C_TURNED] += 1

    def end_arrival(self) -> None:
        """The show is over: an arriving walker turns home; someone still at a source leaves."""
        m = self.model
        if self.wait_start_s >= 0.0:
            self.gate_wait_s = m.t_s - self.wait_start_s
            self.wait_start_s = -1.0
        m.counters[C_SENT_HOME] += 1
        if self.state == WALK_IN:
            self.state = WALK_OUT
        else:
            self.state = EXITED
            m.counters[C_LEFT_FROM_SOURCE] += 1


class ReferenceCrowdModel(mesa.Model):
    """A crowd scenario with one :class:`Pedestrian` agent per person (the naive baseline).

    Built from the same inputs as :class:`~sim.crowd.model.CrowdModel` (compiled arrays, routes,
    seeded placements and arrivals), with the same controllers; with the same seed, every step's
    counts equal the engine's (:meth:`step_counts`, :func:`engine_step_counts`).
    """

    def __init__(self, scenario: CrowdScenario, seed: int | None = None, arrays: CrowdArrays | None = None):
        seed_value = scenario.simulation.seed if seed is None else int(seed)
        super().__init__(rng=seed_value)
        self.seed_value = seed_value
        self.scenario = scenario
        a = arrays if arrays is not None else compile_crowd(scenario)
        self.arrays = a
        self.engine = self          # the controllers act through ``model.engine``
        net, p = a.net, a.params
        self.dt_s = float(a.dt_s)
        self.t_s = 0.0
        self.step_index = 0
        self.n_steps = int(math.ceil(scenario.simulation.duration_s / self.dt_s))
        self.steps_per_minute = max(1, int(round(60.0 / self.dt_s)))
        self.patience_s = p.patience_s
        self.view_distance_scale_s = p.distance_scale_s
        self.tolerance_s, self.tolerance_frac = p.route_tolerance_s, p.route_tolerance_frac
        self.route_interval_s = scenario.simulation.route_interval_s
        self.next_route_s = self.route_interval_s
        # Fixed inputs as plain lists.
        self.edge_to: list[int] = net.edge_to.tolist()
        self.edge_from: list[int] = net.edge_from.tolist()
        self.edge_cell: list[int] = net.edge_cell.tolist()
        self.edge_length_m: list[float] = net.edge_length_m.tolist()
        self.edge_out_cap: list[float] = net.edge_out_cap.tolist()
        self.edge_free_factor: list[float] = net.edge_free_factor.tolist()
        self.edge_stairs_ppms: list[float] = net.edge_stairs_ppms.tolist()
        self.cell_area_m2: list[float] = net.cell_area_m2.tolist()
        self.cell_width_m: list[float] = net.cell_width_m.tolist()
        self.cell_out_cap: list[float] = net.cell_out_cap.tolist()
        self.cell_capacity: list[int] = net.cell_capacity.tolist()
        self.cell_view_capacity: list[int] = net.cell_view_capacity.tolist()
        self.cell_zone: list[int] = net.cell_zone.tolist()
        self.cell_stairs_ppms: list[float] = net.cell_stairs_ppms.tolist()
        self.cell_stairs_rho_c: list[float] = net.cell_stairs_rho_c.tolist()
        self.cell_covered: list[bool] = a.walk.cell_covered.tolist()
        self.cell_release_group: list[int] = a.cell_release_group.tolist()
        self.out_start: list[int] = net.out_start.tolist()
        self.out_edges: list[int] = net.out_edges.tolist()
        self.sink_rate: list[float] = net.sink_rate.tolist()
        self.node_exit: list[bool] = net.node_exit.tolist()
        self.view_cell: list[int] = a.view_cell.tolist()
        self.view_log_attr: list[float] = a.view_log_attr.tolist()
        self.zone_cap: list[int] = a.zone_cap.tolist()
        self.v0_mps, self.gamma = p.v0_mps, p.gamma
        self.rho_jam, self.rho_crit, self.q_max = p.rho_jam_ppm2, p.rho_crit_ppm2, p.q_max_ppms
        # Mutable cell, edge, node and zone state.
        n_cells, n_edges, n_zones, n_nodes = a.walk.n_cells, 2 * a.walk.n_cells, len(a.zone_names), a.walk.n_nodes
        self.cell_count = [0] * n_cells
        self.cell_standing = [0] * n_cells
        self.cell_waiting = [0] * n_cells
        self.cell_queued = [0] * n_cells
        self.cell_density_ppm2 = [0.0] * n_cells
        self.supply_step = [0.0] * n_cells
        self.flow_density = [0.0] * n_cells
        self.walk_density_ppm2 = [0.0] * n_cells
        self.free_share = [1.0] * n_cells
        self.room: list[int] = net.cell_capacity.tolist()
        self.view_space, self.queue_density = p.view_space_m2, p.queue_density_ppm2
        self.in_budget = [0.0] * n_cells
        self.cell_out = [0.0] * n_cells
        self.speed_factor = list(self.edge_free_factor)
        self.edge_out = [0.0] * n_edges
        self.edge_passed = [0] * n_edges
        self.q_head: list[Pedestrian | None] = [None] * n_edges
        self.q_tail: list[Pedestrian | None] = [None] * n_edges
        self.q_len = [0] * n_edges
        self.q_status = [0] * n_edges
        self.q_for = [0] * n_edges
        self.q_for_now = 0
        self.edge_front: list[int] = net.edge_front.tolist()
        self.held_for = [0] * n_edges
        self.held_prev = [0] * n_edges
        self.v0_walking = [0.0] * n_edges
        self.n_walkers = [0] * n_edges
        self.walker_pass = False       # swaps made while walkers move count the swapped as walkers
        self.sink_budget = [0.0] * n_nodes
        self.node_exited = [0] * n_nodes
        self.zone_open = [True] * n_zones
        self.zone_admit = [0] * n_zones
        self.zone_inbound_only: list[bool] = net.zone_inbound_only.tolist()
        self.zone_divert_after_s: list[float] = net.zone_divert_after_s.tolist()
        self.zone_meter_ppstep: list[float] = net.zone_meter_ppstep.tolist()
        self.meter_budget = [0.0] * n_zones
        self.edge_penalty_s: list[float] = one_way_penalty_s(a, scenario, 0.0).tolist()
        self.zone_gate_queue = [0] * n_zones
        self.zone_occupancy = [0] * n_zones
        self.zone_max_density_ppm2 = [0.0] * n_zones
        self.counters = [0] * N_COUNTERS
        self.exited = 0
        # Routes, people in place and arrivals: the engine's own functions, the model's generator.
        self.edge_cost_s = self._edge_costs()
        self._set_routes(compute_routes(a, np.array(self.edge_cost_s)))
        placed = place_populations(a, scenario, self.rng)
        arrivals = generate_arrivals(a, scenario, self.rng, self._view_dist_array)
        self.n_placed = int(placed.edge.size)
        self._arrival_time_s: list[float] = arrivals.time_s.tolist()
        self._arrival_args = list(zip(arrivals.node.tolist(), arrivals.target.tolist(),
                                      arrivals.stand_frac.tolist(), arrivals.exit_row.tolist(),
                                      arrivals.v0_mps.tolist()))
        self.n_agents = self.n_placed + len(self._arrival_args)
        self.arrived: list[Pedestrian] = []   # in engine index order; exited agents stay (state EXITED)
        for k, (edge, pos, start, row, v0) in enumerate(zip(placed.edge.tolist(), placed.pos_m.tolist(),
                                                            placed.start_s.tolist(), placed.exit_row.tolist(),
                                                            placed.v0_mps.tolist())):
            self.arrived.append(Pedestrian(self, k, WAITING, edge, pos, -1, 0, 0.0, row, v0, start))
            c = self.edge_cell[edge]
            self.cell_count[c] += 1
            self.cell_waiting[c] += 1
        self._zone_stats()
        # Controllers, as in CrowdModel.
        self.gates: dict[str, ZoneGate]
        self.gates, self.one_way, self.show = build_controllers(self)
        self.inside_per_step: list[int] = []

    # -- the control surface used by ZoneGate and ShowController -----------------------------------
    def set_gate(self, zone: int, is_open: bool) -> None:
        """Open or close every entrance of ``zone``."""
        self.zone_open[zone] = bool(is_open)

    def set_edge_penalty(self, penalty_s) -> None:
        """New route penalties per directed edge (one-way ways); routes follow at once."""
        self.edge_penalty_s = [float(v) for v in penalty_s]
        self.refresh_routes()

    @property
    def on_network(self) -> int:
        return sum(self.cell_count)

    def gate_admits(self, zone: int) -> bool:
        """Whether the zone's gates let one more person in this step."""
        return self.zone_open[zone] and self.zone_admit[zone] > 0

    def release_group(self, group: int, max_people: int = -1) -> int:
        """Send home people standing on cells of release ``group``, in index order, at most
        ``max_people`` (-1: all), each facing its exit; returns how many went."""
        released = 0
        for ped in self.arrived:
            if released == max_people:
                break
            if ped.state == STANDING and self.cell_release_group[self.edge_cell[ped.edge]] == group:
                ped.state = WALK_OUT
                self.cell_standing[self.edge_cell[ped.edge]] -= 1
                released += 1
                ped.turn_to_exit()
        return released

    def end_arrivals(self) -> None:
        """The show is over: arriving walkers leave their queues and turn home, people still at
        sources leave."""
        self.leave_queues(WALK_IN)
        for ped in self.arrived:
            if ped.state == WALK_IN or ped.state == AT_SOURCE:
                ped.end_arrival()

    @property
    def walk_density(self) -> list[float]:
        """Moving walkers per m2 of the ground left to them, per cell (as the engine's zone_stats)."""
        return self.walk_density_ppm2

    # -- routes ----------------------------------------------------------------------------------
    def _edge_costs(self) -> list[float]:
        """Perceived time of each directed edge (as the engine's edge_costs): the walk to the back of
        its queue, uncovered cells weighted by the rain's shelter factor, plus the wait in the queue."""
        a = self.arrays
        costs = []
        for e in range(len(self.edge_cell)):
            c = self.edge_cell[e]
            v = max(self.v0_mps * self.speed_factor[e], MIN_ROUTE_SPEED_MPS)
            length = self.edge_length_m[e]
            wait_s = 0.0
            if self.q_len[e] > 0:
                width = self.cell_width_m[c] * self.free_share[c]
                length = max(length - self.q_len[e] / (self.queue_density * width), 0.0)
                rate = min(self.edge_out_cap[e] * self.free_share[c], self.sink_rate[self.edge_to[e]])
                wait_s = self.q_len[e] / max(rate, 1e-9) * self.dt_s
            cost_s = length / v
            if not self.cell_covered[c]:
                cost_s *= a.shelter_factor
            costs.append(cost_s + wait_s + self.edge_penalty_s[e])
        return costs

    def _set_routes(self, tables) -> None:
        view_dist, view_next, exit_dist, exit_next = tables
        self._view_dist_array = view_dist
        self.view_dist: list[list[float]] = view_dist.tolist()
        self.view_next: list[list[int]] = view_next.tolist()
        self.exit_dist: list[list[float]] = exit_dist.tolist()
        self.exit_next: list[list[int]] = exit_next.tolist()

    def refresh_routes(self) -> None:
        """New routes from the speeds on every edge; walkers heading for a full spot retarget."""
        self.edge_cost_s = self._edge_costs()
        self._set_routes(compute_routes(self.arrays, np.array(self.edge_cost_s)))
        for ped in self.arrived:
            if ped.state == WALK_IN:
                ped.retarget_if_full()

    # -- stepping --------------------------------------------------------------------------------
    def _downstream_supply(self, e: int, c: int) -> float:
        node = self.edge_to[e]
        total = self.edge_out_cap[e] * self.free_share[c] if self.node_exit[node] else 0.0
        for j in range(self.out_start[node], self.out_start[node + 1]):
            c2 = self.edge_cell[self.out_edges[j]]
            if c2 == c:
                continue
            z = self.cell_zone[c2]
            if z >= 0 and self.cell_zone[c] != z and not self.zone_open[z]:
                continue
            total += self.supply_step[c2]
        return total

    def refresh_cells(self) -> None:
        """Densities, supplies, speed shares and this step's flow budgets from the counts at the
        start of the step (unused capacity carries over, at most one step's worth)."""
        dt = self.dt_s
        for c in range(len(self.cell_count)):
            area = self.cell_area_m2[c]
            self.cell_density_ppm2[c] = self.cell_count[c] / area
            free = area - self.cell_standing[c] * self.view_space - self.cell_waiting[c] / self.queue_density
            free = max(free, MIN_FREE_SHARE * area)
            share = free / area
            self.free_share[c] = share
            rho = (self.cell_count[c] - self.cell_standing[c] - self.cell_waiting[c]) / free
            self.flow_density[c] = rho
            room = int(free * self.queue_density) + self.cell_standing[c] + self.cell_waiting[c]
            self.room[c] = room if self.cell_count[c] <= room else max(self.room[c], self.cell_count[c])
            q_stairs = self.cell_stairs_ppms[c]
            if q_stairs > 0.0:
                rho_c = self.cell_stairs_rho_c[c]
                if rho <= rho_c:
                    supply = q_stairs
                elif rho >= self.rho_jam:
                    supply = 0.0
                else:
                    supply = q_stairs * (self.rho_jam - rho) / (self.rho_jam - rho_c)
            elif rho <= self.rho_crit:
                supply = self.q_max
            else:
                supply = rho * self.v0_mps * _weidmann_shape(rho, self.gamma, self.rho_jam)
            per_step = supply * self.cell_width_m[c] * share * dt
            self.supply_step[c] = per_step if self.cell_count[c] < self.room[c] else 0.0
            self.in_budget[c] = min(self.in_budget[c], max(per_step, 1.0)) + per_step
            out = self.cell_out_cap[c] * share
            self.cell_out[c] = min(self.cell_out[c], max(out, 1.0)) + out
        for e in range(len(self.edge_cell)):
            c = self.edge_cell[e]
            rho = self.flow_density[c]
            free = self.edge_free_factor[e]
            q = self.edge_stairs_ppms[e]
            if q > 0.0:
                rho_c = q / (free * self.v0_mps)
                shape = _stairs_shape(rho, q, free * self.v0_mps, self.rho_jam)
            else:
                rho_c = self.rho_crit
                shape = _weidmann_shape(rho, self.gamma, self.rho_jam)
            out = self.edge_out_cap[e] * self.free_share[c]
            if rho <= rho_c or self.v0_walking[e] <= 0.0:
                self.speed_factor[e] = free * shape
            else:
                flux = min(out, self._downstream_supply(e, c))
                queue_m = self.q_len[e] / (self.queue_density * self.cell_width_m[c] * self.free_share[c])
                share = flux * max(self.edge_length_m[e] - queue_m, 0.0) / (dt * self.v0_walking[e])
                self.speed_factor[e] = min(free, max(free * shape, share))
            self.edge_out[e] = min(self.edge_out[e], max(out, 1.0)) + out
        for n in range(len(self.sink_budget)):
            self.sink_budget[n] = min(self.sink_budget[n], max(self.sink_rate[n], 1.0)) + self.sink_rate[n]

    def try_enter(self, ped: Pedestrian, e: int, c: int, f: int) -> int:
        """Move ``ped`` from the end of ``e`` (cell ``c``) into ``f`` if gate, sending and receiving
        capacity and room allow, or by swapping places with someone waiting to come the other way."""
        c2 = self.edge_cell[f]
        z = self.cell_zone[c2]
        gated = z >= 0 and self.cell_zone[c] != z and (ped.state == WALK_IN or not self.zone_inbound_only[z])
        if gated and not self.gate_admits(z):
            return _BLOCK_GATE
        if self.edge_out[e] < 1.0 or self.cell_out[c] < 1.0:
            return _BLOCK_OUT
        if self.cell_count[c2] >= self.room[c2]:
            back = f ^ 1
            other = self.q_head[back]
            if other is None or gated or self.cell_out[c2] < 1.0 or self.edge_out[back] < 1.0:
                return _BLOCK_FULL
            g = other.next_edge(self.edge_to[back])
            if g < 0 or self.edge_cell[g] != c:
                return _BLOCK_FULL
            self.unlink(other, back, None)
            self.edge_out[back] -= 1.0
            self.cell_out[c2] -= 1.0
            self.edge_passed[back] += 1
            other.edge = g
            other.pos_m = 0.0
            other.end_wait()
            self.counters[C_SWAPS] += 1
            if self.walker_pass:        # the other will not move again this step: it walks on g now
                self.v0_walking[g] += other.v0_mps
                self.n_walkers[g] += 1
        elif self.in_budget[c2] < 1.0:
            return _BLOCK_IN
        else:
            self.in_budget[c2] -= 1.0
            self.cell_count[c] -= 1
            self.cell_count[c2] += 1
        self.cell_out[c] -= 1.0
        self.edge_out[e] -= 1.0
        self.edge_passed[e] += 1
        if gated:
            self.zone_admit[z] -= 1
            self.counters[C_ADMITTED] += 1
        return _OK

    def _admit_arrivals(self) -> None:
        new_active = self.n_placed + bisect.bisect_right(self._arrival_time_s, self.t_s)
        for index in range(len(self.arrived), new_active):
            node, target, frac, exit_row, v0 = self._arrival_args[index - self.n_placed]
            self.arrived.append(Pedestrian(self, index, AT_SOURCE, -1, 0.0, node, target, frac, exit_row, v0,
                                           math.inf))

    def join(self, ped: Pedestrian, e: int, spot_m: float) -> None:
        """``ped`` joins the back of the queue at the end of edge ``e``, standing at ``spot_m``."""
        ped.pos_m = spot_m
        ped.q_edge = e
        ped.q_next = None
        if self.q_tail[e] is not None:
            self.q_tail[e].q_next = ped
        else:
            self.q_head[e] = ped
        self.q_tail[e] = ped
        self.q_len[e] += 1

    def unlink(self, ped: Pedestrian, e: int, prev: Pedestrian | None) -> None:
        """Take ``ped`` (after ``prev``; None at the head) out of the queue of edge ``e``."""
        nxt = ped.q_next
        if prev is None:
            self.q_head[e] = nxt
        else:
            prev.q_next = nxt
        if self.q_tail[e] is ped:
            self.q_tail[e] = prev
        self.q_len[e] -= 1
        ped.q_edge = -1
        ped.q_next = None

    def leave_queues(self, only_state: int) -> None:
        """Everyone in state ``only_state`` leaves the queues at edge ends, from their place in it."""
        for e in range(len(self.q_len)):
            c = self.edge_cell[e]
            length = self.edge_length_m[e]
            if self.q_len[e] == 0:
                continue
            spacing_m = min(1.0 / (self.queue_density * self.cell_width_m[c] * self.free_share[c]),
                            length / self.q_len[e])
            prev = None
            ped = self.q_head[e]
            k = 0
            while ped is not None:
                nxt = ped.q_next
                place_m = max(ped.pos_m, length - k * spacing_m)
                k += 1
                if ped.state == only_state:
                    ped.pos_m = place_m
                    self.unlink(ped, e, prev)
                else:
                    prev = ped
                ped = nxt

    def _serve_queues(self, offset: int) -> None:
        """The people at the head of each queue (as many as stand abreast) try to move on."""
        n_edges = len(self.q_len)
        edge_offset = offset % n_edges
        for k in range(n_edges):
            e = (edge_offset + k) % n_edges
            if self.q_len[e] == 0:
                continue
            prev = None
            ped = self.q_head[e]
            for _tried in range(self.edge_front[e]):
                if ped is None:
                    break
                nxt = ped.q_next
                self.counters[C_QUEUE_TRIES] += 1
                f = ped.cross_node(e)
                if f >= 0 or f == _LEFT:
                    if prev is None:
                        self.q_status[e] = _OK
                    self.unlink(ped, e, prev)
                    if f >= 0:
                        ped.edge = f
                        ped.pos_m = 0.0
                else:
                    if prev is None:
                        self.q_status[e] = -1 - f
                        self.q_for[e] = self.q_for_now
                    prev = ped
                ped = nxt

    def _queue_stats_and_gates(self) -> None:
        """Queued people per cell, the waits they stand in, and people held at gates (who may give up)."""
        for e in range(len(self.q_len)):
            n = self.q_len[e]
            if n == 0:
                continue
            self.cell_queued[self.edge_cell[e]] += n
            self.held_for[self.q_for[e]] += n
            if self.q_status[e] != _BLOCK_GATE:
                continue
            z = self.cell_zone[self.edge_cell[self.q_for[e]]]
            prev = None
            ped = self.q_head[e]
            while ped is not None:
                nxt = ped.q_next
                ped._wait_at_gate(z)
                if ped.state == WALK_IN and self.t_s - ped.wait_start_s >= self.zone_divert_after_s[z]:
                    new_target = ped.choose_view_target(self.edge_to[e], avoid_zone=z)
                    if new_target != ped.target:
                        ped.target = new_target
                        ped.gate_wait_s = self.t_s - ped.wait_start_s
                        ped.wait_start_s = -1.0
                        self.counters[C_DIVERTED] += 1
                        self.unlink(ped, e, prev)
                        self.v0_walking[e] += ped.v0_mps       # walking again, on this edge
                        self.n_walkers[e] += 1
                        ped = nxt
                        continue
                if ped.state == WALK_IN and self.t_s - ped.wait_start_s >= self.patience_s:
                    ped._give_up(WALK_OUT)
                    self.unlink(ped, e, prev)
                    self.v0_walking[e] += ped.v0_mps
                    self.n_walkers[e] += 1
                else:
                    prev = ped
                ped = nxt

    def _move_pedestrians(self) -> None:
        """People in place whose time has come; the queues; walkers from a random start index
        round; queue statistics and gates; then people at sources in arrival order."""
        self.zone_gate_queue = [0] * len(self.zone_gate_queue)
        self.held_prev = self.held_for
        self.held_for = [0] * len(self.held_for)
        self.v0_walking = [0.0] * len(self.v0_walking)
        self.n_walkers = [0] * len(self.n_walkers)
        self.cell_queued = [0] * len(self.cell_queued)
        peds = self.arrived
        n = len(peds)
        offset = int(self.rng.integers(0, n)) if n else 0
        for ped in peds:
            if ped.state == WAITING and ped.start_s <= self.t_s:
                ped.state = WALK_OUT
                self.cell_waiting[self.edge_cell[ped.edge]] -= 1
                self.counters[C_STARTED] += 1
                ped.turn_to_exit()
        self._serve_queues(offset)
        # The walkers not in a queue when the pass begins move, from the start index round (someone
        # who leaves a queue by a counterflow swap during the pass moves on next step).
        movers = [peds[(offset + k) % n] for k in range(n)]
        movers = [ped for ped in movers if (ped.state == WALK_IN or ped.state == WALK_OUT) and ped.q_edge < 0]
        self.walker_pass = True
        for ped in movers:
            self.counters[C_WALKER_MOVES] += 1
            ped.step()
            if (ped.state == WALK_IN or ped.state == WALK_OUT) and ped.q_edge < 0:
                # Still walking after its move: its free speed counts on its edge.
                self.v0_walking[ped.edge] += ped.v0_mps
                self.n_walkers[ped.edge] += 1
        self.walker_pass = False
        self._queue_stats_and_gates()
        # Walkers walking up to a queue held at a gate are joining it.
        for e in range(len(self.n_walkers)):
            if self.q_len[e] > 0 and self.q_status[e] == _BLOCK_GATE:
                self.cell_queued[self.edge_cell[e]] += self.n_walkers[e]
        for ped in peds:
            if ped.state == AT_SOURCE:
                ped.enter_from_source()

    def _zone_stats(self) -> None:
        occupancy = [0] * len(self.zone_occupancy)
        densest = [0.0] * len(self.zone_occupancy)
        for c in range(len(self.cell_count)):
            area = self.cell_area_m2[c]
            holding = self.cell_standing[c] + self.cell_queued[c] + self.cell_waiting[c]
            walkers = self.cell_count[c] - holding
            free = (area - self.cell_standing[c] * self.view_space
                    - (self.cell_queued[c] + self.cell_waiting[c]) / self.queue_density)
            self.walk_density_ppm2[c] = (0.0 if walkers <= 0
                                         else min(walkers / max(free, MIN_FREE_SHARE * area), self.rho_jam))
            z = self.cell_zone[c]
            if z >= 0:
                occupancy[z] += self.cell_count[c]
                rho = self.cell_count[c] / area
                if rho > densest[z]:
                    densest[z] = rho
        self.zone_occupancy = occupancy
        self.zone_max_density_ppm2 = densest

    def advance(self) -> None:
        """One step of the pedestrians (what :meth:`sim.crowd.engine.CrowdEngine.step` does)."""
        self._admit_arrivals()
        if self.t_s >= self.next_route_s:
            self.refresh_routes()
            self.next_route_s += self.route_interval_s
        self.refresh_cells()
        self.zone_admit = []
        for z, (cap, occ) in enumerate(zip(self.zone_cap, self.zone_occupancy)):
            admit = cap - occ
            rate = self.zone_meter_ppstep[z]
            if rate < math.inf:
                self.meter_budget[z] = min(self.meter_budget[z], max(rate, 1.0)) + rate
                admit = min(admit, int(self.meter_budget[z]))
            self.zone_admit.append(admit)
        admit_at_start = list(self.zone_admit)
        self._move_pedestrians()
        for z, rate in enumerate(self.zone_meter_ppstep):
            if rate < math.inf:
                self.meter_budget[z] -= admit_at_start[z] - self.zone_admit[z]
        self._zone_stats()
        self.exited = self.counters[C_EXITED] + self.counters[C_LEFT_FROM_SOURCE]
        self.step_index += 1
        self.t_s = self.step_index * self.dt_s

    def step(self) -> None:
        """Controllers act on the last state, then every pedestrian takes one step."""
        for gate in self.gates.values():
            gate.step()
        if self.one_way is not None:
            self.one_way.step()
        if self.show is not None:
            self.show.step()
        self.advance()
        self.inside_per_step.append(self.inside)

    def run(self) -> None:
        """Step to the scenario's end."""
        while self.step_index < self.n_steps:
            self.step()

    # -- counts and checks -----------------------------------------------------------------------
    @property
    def n_active(self) -> int:
        """People in the simulation so far (placed, or arrived)."""
        return len(self.arrived)

    @property
    def inside(self) -> int:
        return self.n_active - self.exited

    def state_counts(self) -> list[int]:
        """Agents per state, recounted from the Mesa agent set (independently of ``arrived``)."""
        counts = [0] * N_STATES
        if Pedestrian in self.agents_by_type:
            for ped in self.agents_by_type[Pedestrian]:
                counts[ped.state] += 1
        return counts

    def recount_ok(self) -> bool:
        """Everyone accounted for: a recount of every agent's state and cell against the running
        cell counts, standing and waiting counts and the exit counters."""
        counts = self.state_counts()
        on_cells = [0] * len(self.cell_count)
        for ped in self.arrived:
            if ped.state in (WALK_IN, WALK_OUT, STANDING, WAITING):
                on_cells[self.edge_cell[ped.edge]] += 1
        return (counts[PENDING] == 0 and on_cells == self.cell_count and counts[EXITED] == self.exited
                and sum(counts) == self.n_active and sum(self.cell_standing) == counts[STANDING]
                and sum(self.cell_waiting) == counts[WAITING])

    def step_counts(self) -> StepCounts:
        """This step's :class:`StepCounts` (compare with :func:`engine_step_counts`)."""
        states = [0] * N_STATES
        for ped in self.arrived:
            states[ped.state] += 1
        return StepCounts(
            entered=self.n_active, exited=self.exited, inside=self.inside, states=tuple(states),
            counters=tuple(self.counters), cell_count=tuple(self.cell_count),
            cell_standing=tuple(self.cell_standing), zone_occupancy=tuple(self.zone_occupancy),
            zone_gate_queue=tuple(self.zone_gate_queue), edge_passed=tuple(self.edge_passed),
            edge_queue=tuple(self.q_len))

    def agent_table(self) -> dict[str, list]:
        """Every agent's state, edge, position, target and gate wait, in index order."""
        return {"state": [p.state for p in self.arrived], "edge": [p.edge for p in self.arrived],
                "pos_m": [p.pos_m for p in self.arrived], "target": [p.target for p in self.arrived],
                "gate_wait_s": [p.gate_wait_s for p in self.arrived]}
