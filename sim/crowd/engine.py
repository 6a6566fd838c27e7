"""The crowd engine: owns the mutable state of one crowd run and steps the Numba kernels.

The Mesa model (:mod:`sim.crowd.model`) drives it; its controllers (gates, release) act through
:meth:`CrowdEngine.set_gate` and :meth:`CrowdEngine.release_group`.
"""

from __future__ import annotations

import numpy as np

from . import kernels as K
from .compile import (
    CrowdArrays,
    compile_crowd,
    compute_routes,
    free_flow_costs,
    generate_arrivals,
)
from .schema import CrowdScenario

__all__ = ["CrowdEngine"]

class CrowdEngine:
    """Mutable state of one crowd run and the step that advances it.

    Agents are structure-of-arrays; index order is arrival order, so agents ``0..n_active-1`` have
    arrived.  Conservation (arrived = exited + inside) is checked after every step.
    """

    def __init__(self, scenario: CrowdScenario, rng: np.random.Generator, arrays: CrowdArrays | None = None):
        self.scenario = scenario
        self.arrays = arrays if arrays is not None else compile_crowd(scenario)
        self.rng = rng
        a = self.arrays
        walk = a.walk
        self.t_s = 0.0
        self.step_index = 0
        self.edge_cost_s = free_flow_costs(a)
        self.view_dist, self.view_next, self.exit_dist, self.exit_next = compute_routes(a, self.edge_cost_s)
        self.next_route_s = scenario.simulation.route_interval_s
        arr = generate_arrivals(a, scenario, rng, self.view_dist)
        self.arrivals = arr
        n = arr.time_s.size
        self.n_agents = n
        self.state = np.zeros(n, dtype=np.int8)
        self.edge = np.full(n, -1, dtype=np.int32)
        self.pos_m = np.zeros(n)
        self.target = arr.target.copy()
        self.stand_frac = arr.stand_frac
        self.source_node = arr.node
        self.exit_group = arr.exit_row
        self.wait_start_s = np.full(n, -1.0)
        self.gate_wait_s = np.full(n, -1.0)
        self.n_active = 0
        n_cells = walk.n_cells
        self.cell_count = np.zeros(n_cells, dtype=np.int32)
        self.cell_standing = np.zeros(n_cells, dtype=np.int32)
        self.cell_density = np.zeros(n_cells)
        self.cell_speed = np.full(n_cells, a.v0_mps)
        self.cell_move_speed = np.full(n_cells, a.v0_mps)
        self.in_budget = np.zeros(n_cells)
        self.out_budget = np.zeros(2 * n_cells)
        self.sink_budget = np.zeros(walk.n_nodes)
        self.edge_queue = np.zeros(2 * n_cells, dtype=np.int32)
        self.edge_passed = np.zeros(2 * n_cells, dtype=np.int64)   # people who left each edge, cumulative
        self.swap_wait_prev = np.zeros(2 * n_cells, dtype=np.int32)
        self.swap_wait_now = np.zeros(2 * n_cells, dtype=np.int32)
        n_zones = len(a.zone_names)
        self.zone_open = np.ones(n_zones, dtype=np.bool_)
        self.zone_admit = np.zeros(n_zones, dtype=np.int64)
        self.zone_gate_queue = np.zeros(n_zones, dtype=np.int64)
        self.zone_occupancy = np.zeros(n_zones, dtype=np.int64)
        self.zone_max_density = np.zeros(n_zones)
        self.counters = np.zeros(K.N_COUNTERS, dtype=np.int64)
        self.exited = 0
        self.admitted_last_step = np.zeros(n_zones, dtype=np.int64)
        self.conserved = True
        self._state_counts = np.zeros(6, dtype=np.int64)

    # -- controls (called by the Mesa controller agents) ------------------------------------------
    def set_gate(self, zone: int, is_open: bool) -> None:
        self.zone_open[zone] = is_open

    def release_group(self, group: int, max_people: int = -1) -> int:
        """Send home people standing in release group ``group`` (at most ``max_people``; -1: all)."""
        return int(K.release_standing(self.n_active, self.state, self.edge, self.arrays.edge_cell,
                                      self.cell_standing, self.arrays.cell_release_group, group, max_people))

    def end_arrivals(self) -> None:
        """The show is over: arriving walkers turn home, people still at sources leave."""
        K.end_arrivals(self.t_s, self.n_active, self.state, self.wait_start_s, self.gate_wait_s, self.counters)

    # -- stepping ---------------------------------------------------------------------------------
    def refresh_routes(self) -> None:
        a = self.arrays
        out_rate = np.maximum(a.edge_out_cap / a.dt_s, 1e-3)
        K.edge_costs(a.edge_cell, a.edge_length_m, self.cell_speed, a.walk.cell_covered, a.shelter_factor,
                     self.edge_queue / out_rate, 0.1, self.edge_cost_s)
        self.view_dist, self.view_next, self.exit_dist, self.exit_next = compute_routes(a, self.edge_cost_s)
        K.retarget_full(self.n_active, self.state, self.edge, self.target, a.walk.edge_to, a.edge_cell,
                        a.view_cell, self.cell_standing, a.cell_view_capacity, a.view_log_attr, self.view_dist,
                        self.scenario.crowd.view_distance_scale_s, self.counters)

    def step(self) -> None:
        """Advance one time step: arrivals, routes (at their interval), budgets, agents, checks."""
        a = self.arrays
        dt = a.dt_s
        t = self.t_s
        new_active = int(np.searchsorted(self.arrivals.time_s, t, side="right"))
        if new_active > self.n_active:
            self.state[self.n_active:new_active] = K.AT_SOURCE
            self.n_active = new_active
        if t >= self.next_route_s:
            self.refresh_routes()
            self.next_route_s += self.scenario.simulation.route_interval_s
        K.refresh_cells(self.cell_count, a.walk.cell_area_m2, a.walk.cell_width_m, dt, a.v0_mps, a.gamma,
                        a.rho_jam_ppm2, a.rho_crit_ppm2, a.q_max_ppms, self.cell_density, self.cell_speed,
                        self.cell_move_speed,
                        self.in_budget, a.edge_out_cap, self.out_budget, a.sink_rate, self.sink_budget)
        np.subtract(a.zone_cap, self.zone_occupancy, out=self.zone_admit)
        admit_before = self.zone_admit.copy()
        offset = int(self.rng.integers(0, self.n_active)) if self.n_active else 0
        before = self.counters.copy()
        K.step_agents(t, dt, offset, self.n_active, self.state, self.edge, self.pos_m, self.target,
                      self.stand_frac, self.source_node, self.exit_group, self.wait_start_s, self.gate_wait_s,
                      a.walk.edge_to, a.edge_cell, a.edge_length_m, self.out_budget, self.cell_count,
                      self.cell_standing, a.cell_capacity, a.cell_view_capacity, a.cell_zone, self.cell_move_speed,
                      self.in_budget, self.zone_open, self.zone_admit, self.zone_gate_queue, self.view_next,
                      self.view_dist, a.view_cell, a.view_log_attr, self.scenario.crowd.view_distance_scale_s,
                      self.exit_next, self.sink_budget, self.scenario.crowd.patience_s, self.counters,
                      self.edge_queue, self.edge_passed, a.cell_hard_capacity, self.swap_wait_prev,
                      self.swap_wait_now)
        self.admitted_last_step = admit_before - self.zone_admit
        K.zone_stats(self.cell_count, a.walk.cell_area_m2, a.cell_zone, self.zone_occupancy,
                     self.zone_max_density)
        self.exited = int(self.counters[K.C_EXITED] + self.counters[K.C_LEFT_FROM_SOURCE])
        self.step_index += 1
        self.t_s = self.step_index * dt
        self._check_conservation(before)

    @property
    def inside(self) -> int:
        """People in the simulation: on the walk network or waiting at a source."""
        return self.n_active - self.exited

    @property
    def on_network(self) -> int:
        return int(self.cell_count.sum())

    def _check_conservation(self, before: np.ndarray) -> None:
        """entered = exited + inside, from the cells' counts; every minute also by a full recount."""
        at_source_bound = self.n_active - self.exited - self.on_network
        if at_source_bound < 0:
            self.conserved = False
        if self.step_index % max(1, int(round(60.0 / self.arrays.dt_s))) == 0 or self.n_active == self.exited:
            self.recount_ok()

    def recount_ok(self) -> bool:
        """Recount every agent's state and compare with the cells' counts and the counters."""
        K.count_states(self.n_active, self.state, self._state_counts)
        c = self._state_counts
        walking_or_standing = c[K.WALK_IN] + c[K.STANDING] + c[K.WALK_OUT]
        ok = (walking_or_standing == self.on_network
              and c[K.EXITED] == self.exited
              and c[K.AT_SOURCE] + walking_or_standing + c[K.EXITED] == self.n_active
              and int(self.cell_standing.sum()) == c[K.STANDING])
        if not ok:
            self.conserved = False
        return ok
