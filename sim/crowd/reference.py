"""Plain-Python reference of the crowd engine: one ``mesa.Agent`` per pedestrian.

The same rules as the Numba kernels of :mod:`sim.crowd_kernels` (their module docstring states
them), written the way a typical Mesa model is: every :class:`Pedestrian` holds its own state
(edge, position, state, viewing target, exit group, gate wait) and decides in plain Python, one
agent after another.  It is the baseline the engine is tested against (``tests/test_reference.py``:
identical per-step counts) and timed against (``benchmarks/bench_reference.py``).

What is shared with the engine, so that both start from the same inputs: the compiled scenario
(:func:`~sim.crowd.compile_crowd`), the route tables (:func:`~sim.crowd.compute_routes`, a
network-level Dijkstra, not per-agent logic), the arrival list (:func:`~sim.crowd.generate_arrivals`
with the model's seeded generator), Weidmann's formula (its plain-Python form) and the controller
agents of :mod:`sim.control` (gates, end of show, release), which act through ``model.engine``.

What is written again here, without NumPy or Numba: cell densities, speeds and flow budgets with
their carry-over; every walker's move (viewing spot, end of edge, exit sink, gates and patience,
sending and receiving capacity, jam space, counterflow swaps); people waiting at sources in
arrival order; edge costs for the route refresh; retargeting when a viewing spot is full; the end
of arrivals and the release of standing groups; zone statistics; the conservation check.

Step order (as :meth:`sim.model.CityModel.step` and :meth:`sim.crowd.CrowdEngine.step`): gates,
show controller, arrivals, route refresh at its interval, cell refresh, zone admissions, the
rotating start index drawn from ``model.rng``, walkers from that index round, people at sources,
zone statistics, conservation.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

import mesa
import numpy as np

from ..core.routing import EXIT_HERE
from .compile import (
    NO_CAP,
    CrowdArrays,
    compile_crowd,
    compute_routes,
    generate_arrivals,
)
from .controllers import ShowController, ZoneGate
from .fundamental import weidmann_speed
from .kernels import (
    AT_SOURCE,
    C_ADMITTED,
    C_BALKED,
    C_ENTERED_NETWORK,
    C_EXITED,
    C_LEFT_FROM_SOURCE,
    C_RETARGETED,
    EXITED,
    N_COUNTERS,
    PENDING,
    STANDING,
    WALK_IN,
    WALK_OUT,
)
from .schema import CrowdScenario

__all__ = ["Pedestrian", "ReferenceCrowdModel", "StepCounts", "engine_step_counts"]

#: Weidmann's speed as plain Python (the compiled function's own source, run by the interpreter).
_weidmann_speed_mps = getattr(weidmann_speed, "py_func", weidmann_speed)

#: Slowest speed an edge cost assumes (m/s), as the engine's route refresh.
MIN_ROUTE_SPEED_MPS = 0.1
N_STATES = 6


@dataclass(frozen=True)
class StepCounts:
    """Integer counts after one step, comparable between the engine and the reference."""

    entered: int                      # arrived so far (agents 0..entered-1)
    exited: int                       # left the map or gave up at a source
    inside: int                       # entered - exited
    states: tuple[int, ...]           # agents per state (PENDING..EXITED) among those arrived
    counters: tuple[int, ...]         # cumulative event counters (crowd_kernels.C_*)
    cell_count: tuple[int, ...]       # people on each cell
    cell_standing: tuple[int, ...]    # people standing to watch on each cell
    zone_occupancy: tuple[int, ...]
    zone_gate_queue: tuple[int, ...]  # people held at each zone's gates this step
    edge_passed: tuple[int, ...]      # people who left each directed edge, cumulative


def engine_step_counts(engine) -> StepCounts:
    """The engine's :class:`StepCounts` (``engine`` is a :class:`~sim.crowd.CrowdEngine`)."""
    n = engine.n_active
    states = np.bincount(engine.state[:n], minlength=N_STATES)
    return StepCounts(
        entered=n, exited=int(engine.exited), inside=int(engine.inside),
        states=tuple(int(x) for x in states), counters=tuple(int(x) for x in engine.counters),
        cell_count=tuple(engine.cell_count.tolist()), cell_standing=tuple(engine.cell_standing.tolist()),
        zone_occupancy=tuple(engine.zone_occupancy.tolist()),
        zone_gate_queue=tuple(engine.zone_gate_queue.tolist()), edge_passed=tuple(engine.edge_passed.tolist()))


class Pedestrian(mesa.Agent):
    """One person: where they are (directed edge and metres along it), what they are doing
    (arriving, standing, leaving) and where they are going (viewing target, exit group)."""

    def __init__(self, model: "ReferenceCrowdModel", index: int, arrival_time_s: float, source_node: int,
                 target: int, stand_frac: float, exit_group: int):
        super().__init__(model)
        self.index = index                    # arrival order (the engine's agent index)
        self.arrival_time_s = arrival_time_s
        self.state = AT_SOURCE
        self.edge = -1                        # directed edge, -1 off the network
        self.pos_m = 0.0                      # metres along the edge
        self.target = target                  # viewing target (row of the view tables)
        self.stand_frac = stand_frac          # where along the target cell they stop (0..1)
        self.source_node = source_node
        self.exit_group = exit_group          # row of the exit tables
        self.wait_start_s = -1.0              # when they began waiting at a closed gate (-1: not)
        self.gate_wait_s = -1.0               # last completed gate wait

    # -- the walker's step -----------------------------------------------------------------------
    def step(self) -> None:
        """Walk on: stop at the viewing spot, or advance and try to cross into the next edge."""
        m = self.model
        e = self.edge
        c = m.edge_cell[e]
        advance_m = m.cell_move_speed_mps[c] * m.dt_s
        if self.state == WALK_IN and c == m.view_cell[self.target]:
            stop_m = self.stand_frac * m.edge_length_m[e]
            if self.pos_m <= stop_m:
                self._approach_spot(c, stop_m, advance_m)
                return
        pos_m = self.pos_m + advance_m
        length_m = m.edge_length_m[e]
        if pos_m < length_m:
            self.pos_m = pos_m
            return
        self.pos_m = length_m
        self._cross_node(e, c, pos_m - length_m)

    def _approach_spot(self, c: int, stop_m: float, advance_m: float) -> None:
        """On the target cell before the chosen spot: walk to it, then stand if there is room,
        else choose another spot (or stand here if none has room)."""
        m = self.model
        if self.pos_m + advance_m < stop_m:
            self.pos_m += advance_m
            return
        self.pos_m = stop_m
        if m.cell_standing[c] < m.cell_view_capacity[c]:
            self._stand(c)
            return
        new_target = self.choose_view_target(m.edge_to[self.edge])
        m.counters[C_RETARGETED] += 1
        if new_target == self.target:
            self._stand(c)
        else:
            self.target = new_target

    def _stand(self, c: int) -> None:
        self.state = STANDING
        self.model.cell_standing[c] += 1

    def _cross_node(self, e: int, c: int, overshoot_m: float) -> None:
        """At the end of edge ``e``: leave the map, turn back, or step into the next edge if the
        gate, the sending edge and the receiving cell all allow it; otherwise queue."""
        m = self.model
        node = m.edge_to[e]
        if self.state == WALK_IN:
            f = m.view_next[self.target][node]
        else:
            f = m.exit_next[self.exit_group][node]
        if f == EXIT_HERE:
            if m.sink_budget[node] >= 1.0:
                m.sink_budget[node] -= 1.0
                m.cell_count[c] -= 1
                m.counters[C_EXITED] += 1
                m.edge_passed[e] += 1
                self.state = EXITED
                self.edge = -1
            else:
                m.edge_queue[e] += 1
            return
        if f < 0:
            return
        c2 = m.edge_cell[f]
        if c2 == c:                                   # turn back on the same cell
            self.edge = f
            self.pos_m = 0.0
            return
        z = m.cell_zone[c2]
        gated = z >= 0 and m.cell_zone[c] != z
        if gated and not m.gate_admits(z):
            self._wait_at_gate(z)
            m.edge_queue[e] += 1
            if self.state == WALK_IN and m.t_s - self.wait_start_s >= m.patience_s:
                self._give_up(WALK_OUT)
            return
        if m.out_budget[e] < 1.0:                     # sending capacity of this edge used up
            m.edge_queue[e] += 1
            return
        if m.in_budget[c2] < 1.0 or m.cell_count[c2] >= m.cell_capacity[c2]:
            # No room: squeeze past someone waiting to come the other way (up to the body limit).
            if m.swap_wait_prev[e ^ 1] > 0 and m.cell_count[c2] < m.cell_hard_capacity[c2]:
                m.swap_wait_prev[e ^ 1] -= 1
                m.swaps += 1
            else:
                m.swap_wait_now[f] += 1
                m.edge_queue[e] += 1
                return
        else:
            m.in_budget[c2] -= 1.0
        m.out_budget[e] -= 1.0
        m.cell_count[c] -= 1
        m.cell_count[c2] += 1
        if gated:
            self._pass_gate(z)
        m.edge_passed[e] += 1
        self.edge = f
        self.pos_m = min(overshoot_m, m.edge_length_m[f])

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

    def _pass_gate(self, z: int) -> None:
        m = self.model
        m.zone_admit[z] -= 1
        m.counters[C_ADMITTED] += 1
        if self.wait_start_s >= 0.0:
            self.gate_wait_s = m.t_s - self.wait_start_s
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
        if m.in_budget[c2] < 1.0 or m.cell_count[c2] >= m.cell_capacity[c2]:
            return
        m.in_budget[c2] -= 1.0
        m.cell_count[c2] += 1
        if z >= 0:
            self._pass_gate(z)
        self.edge = f
        self.pos_m = 0.0
        self.state = WALK_IN
        m.counters[C_ENTERED_NETWORK] += 1

    # -- choices and orders ----------------------------------------------------------------------
    def choose_view_target(self, node: int) -> int:
        """Best viewing target with room other than the current one, by appeal and travel time
        from ``node``; the current target if none has room."""
        m = self.model
        best = self.target
        best_score = -math.inf
        for t in range(len(m.view_cell)):
            c = m.view_cell[t]
            if t == self.target or m.cell_standing[c] >= m.cell_view_capacity[c]:
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
        if m.cell_standing[m.view_cell[self.target]] < m.cell_view_capacity[m.view_cell[self.target]]:
            return
        new_target = self.choose_view_target(m.edge_to[self.edge])
        if new_target != self.target:
            self.target = new_target
            m.counters[C_RETARGETED] += 1

    def end_arrival(self) -> None:
        """The show is over: an arriving walker turns home; someone still at a source leaves."""
        m = self.model
        if self.wait_start_s >= 0.0:
            self.gate_wait_s = m.t_s - self.wait_start_s
            self.wait_start_s = -1.0
        if self.state == WALK_IN:
            self.state = WALK_OUT
        else:
            self.state = EXITED
            m.counters[C_LEFT_FROM_SOURCE] += 1

    def go_home(self) -> None:
        """Released: a standing viewer starts walking out."""
        self.state = WALK_OUT
        self.model.cell_standing[self.model.edge_cell[self.edge]] -= 1


class ReferenceCrowdModel(mesa.Model):
    """A crowd scenario with one :class:`Pedestrian` agent per person (the naive baseline).

    Built from the same inputs as :class:`~sim.model.CityModel` (compiled arrays, routes, seeded
    arrivals), with the same controllers; with the same seed, every step's counts equal the
    engine's (:meth:`step_counts`, :func:`engine_step_counts`).
    """

    def __init__(self, scenario: CrowdScenario, seed: int | None = None, arrays: CrowdArrays | None = None):
        seed_value = scenario.simulation.seed if seed is None else int(seed)
        super().__init__(rng=seed_value)
        self.seed_value = seed_value
        self.scenario = scenario
        a = arrays if arrays is not None else compile_crowd(scenario)
        self.arrays = a
        self.engine = self          # the controllers of sim.control act through ``model.engine``
        walk = a.walk
        self.dt_s = float(a.dt_s)
        self.t_s = 0.0
        self.step_index = 0
        self.n_steps = int(math.ceil(scenario.simulation.duration_s / self.dt_s))
        self.steps_per_minute = max(1, int(round(60.0 / self.dt_s)))
        self.patience_s = scenario.crowd.patience_s
        self.view_distance_scale_s = scenario.crowd.view_distance_scale_s
        self.route_interval_s = scenario.simulation.route_interval_s
        self.next_route_s = self.route_interval_s
        # Fixed inputs as plain lists.
        self.edge_to: list[int] = walk.edge_to.tolist()
        self.edge_cell: list[int] = a.edge_cell.tolist()
        self.edge_length_m: list[float] = a.edge_length_m.tolist()
        self.edge_out_cap: list[float] = a.edge_out_cap.tolist()
        self.cell_area_m2: list[float] = walk.cell_area_m2.tolist()
        self.cell_width_m: list[float] = walk.cell_width_m.tolist()
        self.cell_covered: list[bool] = walk.cell_covered.tolist()
        self.cell_capacity: list[int] = a.cell_capacity.tolist()
        self.cell_hard_capacity: list[int] = a.cell_hard_capacity.tolist()
        self.cell_view_capacity: list[int] = a.cell_view_capacity.tolist()
        self.cell_zone: list[int] = a.cell_zone.tolist()
        self.cell_release_group: list[int] = a.cell_release_group.tolist()
        self.view_cell: list[int] = a.view_cell.tolist()
        self.view_log_attr: list[float] = a.view_log_attr.tolist()
        self.sink_rate: list[float] = a.sink_rate.tolist()
        self.zone_cap: list[int] = a.zone_cap.tolist()
        # Mutable cell, edge, node and zone state.
        n_cells, n_edges, n_zones = walk.n_cells, 2 * walk.n_cells, len(a.zone_names)
        self.cell_count = [0] * n_cells
        self.cell_standing = [0] * n_cells
        self.cell_density_ppm2 = [0.0] * n_cells
        self.cell_speed_mps = [a.v0_mps] * n_cells
        self.cell_move_speed_mps = [a.v0_mps] * n_cells
        self.in_budget = [0.0] * n_cells
        self.out_budget = [0.0] * n_edges
        self.sink_budget = [0.0] * walk.n_nodes
        self.edge_queue = [0] * n_edges
        self.edge_passed = [0] * n_edges
        self.swap_wait_prev = [0] * n_edges
        self.swap_wait_now = [0] * n_edges
        self.zone_open = [True] * n_zones
        self.zone_admit = [0] * n_zones
        self.zone_gate_queue = [0] * n_zones
        self.zone_occupancy = [0] * n_zones
        self.zone_max_density_ppm2 = [0.0] * n_zones
        self.counters = [0] * N_COUNTERS
        self.swaps = 0                 # counterflow swaps (a diagnostic the engine does not count)
        self.exited = 0
        self.conserved = True
        # Routes and arrivals: the engine's own functions, the model's generator.
        self.edge_cost_s = self._edge_costs([a.v0_mps] * n_cells, [0] * n_edges)
        self._set_routes(compute_routes(a, np.array(self.edge_cost_s)))
        arrivals = generate_arrivals(a, scenario, self.rng, self._view_dist_array)
        self._arrival_time_s: list[float] = arrivals.time_s.tolist()
        self._arrival_args = list(zip(arrivals.time_s.tolist(), arrivals.node.tolist(), arrivals.target.tolist(),
                                      arrivals.stand_frac.tolist(), arrivals.exit_row.tolist()))
        self.n_agents = len(self._arrival_args)
        self.arrived: list[Pedestrian] = []   # in arrival order; exited agents stay (state EXITED)
        # Controllers, as in CityModel.
        self.gates: dict[str, ZoneGate] = {}
        for z, name in enumerate(a.zone_names):
            if a.zone_cap[z] < NO_CAP:
                self.gates[name] = ZoneGate(self, z, name, int(a.zone_cap[z]), int(a.zone_reopen[z]))
        self.show = ShowController(self, scenario.show.end_s, a.release_times_s, scenario.show.release_rate_pps)
        self.inside_per_step: list[int] = []

    # -- control surface used by ZoneGate and ShowController ---------------------------------------
    def set_gate(self, zone: int, is_open: bool) -> None:
        """Open or close every entrance of ``zone``."""
        self.zone_open[zone] = bool(is_open)

    def gate_admits(self, zone: int) -> bool:
        """Whether the zone's gates let one more person in this step."""
        return self.zone_open[zone] and self.zone_admit[zone] > 0

    def release_group(self, group: int, max_people: int = -1) -> int:
        """Send home people standing on cells of release ``group``, in arrival order, at most
        ``max_people`` (-1: all); returns how many went."""
        released = 0
        for ped in self.arrived:
            if released == max_people:
                break
            if ped.state == STANDING and self.cell_release_group[self.edge_cell[ped.edge]] == group:
                ped.go_home()
                released += 1
        return released

    def end_arrivals(self) -> None:
        """The show is over: arriving walkers turn home, people still at sources leave."""
        for ped in self.arrived:
            if ped.state == WALK_IN or ped.state == AT_SOURCE:
                ped.end_arrival()

    # -- routes ----------------------------------------------------------------------------------
    def _edge_costs(self, cell_speed_mps: list[float], edge_queue: list[int]) -> list[float]:
        """Perceived time of each directed edge: length / congested speed (uncovered cells weighted
        by the rain's shelter factor) plus the queue at its end over its sending rate."""
        a = self.arrays
        costs = []
        for e in range(len(self.edge_cell)):
            c = self.edge_cell[e]
            cost_s = self.edge_length_m[e] / max(cell_speed_mps[c], MIN_ROUTE_SPEED_MPS)
            if not self.cell_covered[c]:
                cost_s *= a.shelter_factor
            out_rate_pps = max(self.edge_out_cap[e] / self.dt_s, 1e-3)
            costs.append(cost_s + edge_queue[e] / out_rate_pps)
        return costs

    def _set_routes(self, tables) -> None:
        view_dist, view_next, exit_dist, exit_next = tables
        self._view_dist_array = view_dist
        self.view_dist: list[list[float]] = view_dist.tolist()
        self.view_next: list[list[int]] = view_next.tolist()
        self.exit_next: list[list[int]] = exit_next.tolist()

    def refresh_routes(self) -> None:
        """New routes from congested speeds and queues; walkers heading for a full spot retarget."""
        self.edge_cost_s = self._edge_costs(self.cell_speed_mps, self.edge_queue)
        self._set_routes(compute_routes(self.arrays, np.array(self.edge_cost_s)))
        for ped in self.arrived:
            if ped.state == WALK_IN:
                ped.retarget_if_full()

    # -- stepping --------------------------------------------------------------------------------
    def refresh_cells(self) -> None:
        """Densities, speeds and this step's flow budgets from the counts at the start of the step
        (fractions of a person carry over, at most one)."""
        a = self.arrays
        dt = self.dt_s
        for c in range(len(self.cell_count)):
            rho = self.cell_count[c] / self.cell_area_m2[c]
            self.cell_density_ppm2[c] = rho
            speed = _weidmann_speed_mps(rho, a.v0_mps, a.gamma, a.rho_jam_ppm2)
            self.cell_speed_mps[c] = speed
            if rho <= a.rho_crit_ppm2:
                supply = a.q_max_ppms
                self.cell_move_speed_mps[c] = speed
            else:
                supply = rho * speed
                self.cell_move_speed_mps[c] = a.q_max_ppms / rho    # queue discharge at capacity
            self.in_budget[c] = min(self.in_budget[c], 1.0) + supply * self.cell_width_m[c] * dt
        for e in range(len(self.out_budget)):
            self.out_budget[e] = min(self.out_budget[e], 1.0) + self.edge_out_cap[e]
        for n in range(len(self.sink_budget)):
            self.sink_budget[n] = min(self.sink_budget[n], 1.0) + self.sink_rate[n]

    def _admit_arrivals(self) -> None:
        new_active = bisect.bisect_right(self._arrival_time_s, self.t_s)
        for index in range(len(self.arrived), new_active):
            time_s, node, target, frac, exit_row = self._arrival_args[index]
            self.arrived.append(Pedestrian(self, index, time_s, node, target, frac, exit_row))

    def _move_pedestrians(self) -> None:
        """Walkers from a random start index round, then people at sources in arrival order."""
        self.zone_gate_queue = [0] * len(self.zone_gate_queue)
        self.edge_queue = [0] * len(self.edge_queue)
        self.swap_wait_prev = self.swap_wait_now
        self.swap_wait_now = [0] * len(self.swap_wait_now)
        peds = self.arrived
        n = len(peds)
        offset = int(self.rng.integers(0, n)) if n else 0
        for k in range(n):
            ped = peds[(offset + k) % n]
            if ped.state == WALK_IN or ped.state == WALK_OUT:
                ped.step()
        for ped in peds:
            if ped.state == AT_SOURCE:
                ped.enter_from_source()

    def _zone_stats(self) -> None:
        occupancy = [0] * len(self.zone_occupancy)
        densest = [0.0] * len(self.zone_occupancy)
        for c in range(len(self.cell_count)):
            z = self.cell_zone[c]
            if z >= 0:
                occupancy[z] += self.cell_count[c]
                rho = self.cell_count[c] / self.cell_area_m2[c]
                if rho > densest[z]:
                    densest[z] = rho
        self.zone_occupancy = occupancy
        self.zone_max_density_ppm2 = densest

    def advance(self) -> None:
        """One step of the pedestrians (what :meth:`sim.crowd.CrowdEngine.step` does)."""
        self._admit_arrivals()
        if self.t_s >= self.next_route_s:
            self.refresh_routes()
            self.next_route_s += self.route_interval_s
        self.refresh_cells()
        self.zone_admit = [cap - occ for cap, occ in zip(self.zone_cap, self.zone_occupancy)]
        self._move_pedestrians()
        self._zone_stats()
        self.exited = self.counters[C_EXITED] + self.counters[C_LEFT_FROM_SOURCE]
        self.step_index += 1
        self.t_s = self.step_index * self.dt_s
        self._check_conservation()

    def step(self) -> None:
        """Controllers act on the last state, then every pedestrian takes one step."""
        for gate in self.gates.values():
            gate.step()
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
        """People who have arrived so far."""
        return len(self.arrived)

    @property
    def inside(self) -> int:
        """People in the simulation: on the walk network or waiting at a source."""
        return self.n_active - self.exited

    @property
    def on_network(self) -> int:
        return sum(self.cell_count)

    def state_counts(self) -> list[int]:
        """Agents per state, recounted from the Mesa agent set (independently of ``arrived``)."""
        counts = [0] * N_STATES
        if Pedestrian in self.agents_by_type:
            for ped in self.agents_by_type[Pedestrian]:
                counts[ped.state] += 1
        return counts

    def _check_conservation(self) -> None:
        if self.n_active - self.exited - self.on_network < 0:
            self.conserved = False
        if self.step_index % self.steps_per_minute == 0 or self.n_active == self.exited:
            self.recount_ok()

    def recount_ok(self) -> bool:
        """Entered = exited + inside, from a recount of every agent's state against the cells'
        counts, the standing counts and the exit counters."""
        c = self.state_counts()
        walking_or_standing = c[WALK_IN] + c[STANDING] + c[WALK_OUT]
        ok = (c[PENDING] == 0
              and walking_or_standing == self.on_network
              and c[EXITED] == self.exited
              and c[AT_SOURCE] + walking_or_standing + c[EXITED] == self.n_active
              and sum(self.cell_standing) == c[STANDING])
        if not ok:
            self.conserved = False
        return ok

    def step_counts(self) -> StepCounts:
        """This step's :class:`StepCounts` (compare with :func:`engine_step_counts`)."""
        states = [0] * N_STATES
        for ped in self.arrived:
            states[ped.state] += 1
        return StepCounts(
            entered=self.n_active, exited=self.exited, inside=self.inside, states=tuple(states),
            counters=tuple(self.counters), cell_count=tuple(self.cell_count),
            cell_standing=tuple(self.cell_standing), zone_occupancy=tuple(self.zone_occupancy),
            zone_gate_queue=tuple(self.zone_gate_queue), edge_passed=tuple(self.edge_passed))

    def agent_table(self) -> dict[str, list]:
        """Every arrived agent's state, edge, position, target and gate wait, in arrival order."""
        return {"state": [p.state for p in self.arrived], "edge": [p.edge for p in self.arrived],
                "pos_m": [p.pos_m for p in self.arrived], "target": [p.target for p in self.arrived],
                "gate_wait_s": [p.gate_wait_s for p in self.arrived]}
