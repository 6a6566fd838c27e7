"""The crowd engine: owns the mutable state of one crowd run and steps the Numba kernels.

The Mesa model (:mod:`sim.crowd.model`) drives it; its controllers (gates, release) act through
:meth:`CrowdEngine.set_gate` and :meth:`CrowdEngine.release_group`.
"""

from __future__ import annotations

import operator

import numpy as np

from ..core.errors import ConservationError
from . import kernels as K
from .compile import (MIN_ROUTE_SPEED_MPS, CrowdArrays, compile_crowd, compute_routes, free_flow_costs, generate_arrivals,
                      one_way_penalty_s, place_populations)
from .schema import CrowdScenario

__all__ = ["CrowdEngine"]


class CrowdEngine:
    """Mutable state of one crowd run and the step that advances it.

    Agents are structure-of-arrays (:class:`~sim.crowd.kernels.Agents`): people placed on the map
    first (active from the start), then arrivals in arrival order, so agents ``0..n_active-1`` are
    in the simulation.  An independent recount of every agent (:meth:`recount`) runs every
    ``check_every_steps`` steps (1: every step, as the tests do) and raises
    :class:`~sim.core.errors.ConservationError` when anyone is lost or counted twice.
    """

    #: Recount cadence of ordinary runs (steps); about 2% of a run's time at one a simulated minute.
    DEFAULT_CHECK_EVERY_S = 60.0
    #: Caches rebuilt on demand, not state: a copy or a pickle of the engine starts without them.
    CACHE_ATTRIBUTES = ("_packed", "_packed_from")

    def __init__(self, scenario: CrowdScenario, rng: np.random.Generator, arrays: CrowdArrays | None = None,
                 check_every_steps: int | None = None):
        self.scenario = scenario
        self.arrays = arrays if arrays is not None else compile_crowd(scenario)
        self.rng = rng
        a = self.arrays
        walk = a.walk
        self.t_s = 0.0
        self.step_index = 0
        self.check_every_steps = check_every_steps or max(1, int(round(self.DEFAULT_CHECK_EVERY_S / a.dt_s)))
        n_cells, n_edges = walk.n_cells, 2 * walk.n_cells
        self.edges = K.Edges(speed_factor=a.net.edge_free_factor.copy(), out_budget=np.zeros(n_edges),
                             queue=np.zeros(n_edges, dtype=np.int32), passed=np.zeros(n_edges, dtype=np.int64),
                             q_head=np.full(n_edges, -1, dtype=np.int32), q_tail=np.full(n_edges, -1, dtype=np.int32),
                             q_status=np.zeros(n_edges, dtype=np.int8), q_for=np.zeros(n_edges, dtype=np.int32),
                             held_for=np.zeros(n_edges, dtype=np.int32),
                             held_prev=np.zeros(n_edges, dtype=np.int32),
                             v0_walking=np.zeros(n_edges), walkers=np.zeros(n_edges, dtype=np.int32))
        self.arrivals_over = False
        self.first_at_source = 0     # no one below this agent waits at a source (set AT_SOURCE: lower it)
        self._release_from: dict[int, int] = {}   # release group -> first agent that may still stand
        self.edge_penalty_s = one_way_penalty_s(a, scenario, 0.0)
        self.edge_cost_s = free_flow_costs(a, self.edge_penalty_s)
        self.routes = self._routes(self.edge_cost_s)
        self.next_route_s = scenario.simulation.route_interval_s
        placed = place_populations(a, scenario, rng)
        arr = generate_arrivals(a, scenario, rng, self.routes.view_dist)
        self.arrivals = arr
        self.placed = placed
        n_placed = placed.edge.size
        n = n_placed + arr.time_s.size
        self.n_agents = n
        self.n_placed = n_placed
        self.arrival_time_s = np.concatenate([np.zeros(n_placed), arr.time_s])
        state = np.full(n, K.PENDING, dtype=np.int8)
        state[:n_placed] = K.WAITING
        self.agents = K.Agents(
            state=state, edge=np.concatenate([placed.edge, np.full(arr.time_s.size, -1)]).astype(np.int32),
            pos_m=np.concatenate([placed.pos_m, np.zeros(arr.time_s.size)]),
            target=np.concatenate([np.zeros(n_placed, dtype=np.int32), arr.target]).astype(np.int32),
            stand_frac=np.concatenate([np.zeros(n_placed), arr.stand_frac]),
            source_node=np.concatenate([np.full(n_placed, -1, dtype=np.int32), arr.node]).astype(np.int32),
            exit_row=np.concatenate([placed.exit_row, arr.exit_row]).astype(np.int32),
            v0_mps=np.concatenate([placed.v0_mps, arr.v0_mps]),
            start_s=np.concatenate([placed.start_s, np.full(arr.time_s.size, np.inf)]),
            q_edge=np.full(n, -1, dtype=np.int32), q_next=np.full(n, -1, dtype=np.int32),
            wait_start_s=np.full(n, -1.0), gate_wait_s=np.full(n, -1.0), movers=np.empty(n, dtype=np.int32),
            may_move=np.zeros((n + 63) // 64, dtype=np.uint64), relist=np.ones(1, dtype=np.bool_),
            may_wait=np.zeros((n + 63) // 64, dtype=np.uint64))
        self.n_active = n_placed
        count = np.bincount(a.edge_cell[placed.edge], minlength=n_cells).astype(np.int32)
        self.cells = K.Cells(count=count, standing=np.zeros(n_cells, dtype=np.int32), waiting=count.copy(),
                             queued=np.zeros(n_cells, dtype=np.int32),
                             density_ppm2=count / a.net.cell_area_m2, flow_density=np.zeros(n_cells),
                             free_share=np.ones(n_cells), room=a.net.cell_capacity.copy(), walk_density=np.zeros(n_cells),
                             hold_density=np.zeros(n_cells), supply_step=np.zeros(n_cells), in_budget=np.zeros(n_cells),
                             out_budget=np.zeros(n_cells))
        self.nodes = K.Nodes(sink_budget=np.zeros(walk.n_nodes), exited=np.zeros(walk.n_nodes, dtype=np.int64))
        n_zones = len(a.zone_names)
        self.zones = K.Zones(open=np.ones(n_zones, dtype=np.bool_), admit=np.zeros(n_zones, dtype=np.int64),
                             meter_budget=np.zeros(n_zones),
                             gate_queue=np.zeros(n_zones, dtype=np.int64), occupancy=np.zeros(n_zones, dtype=np.int64),
                             max_density=np.zeros(n_zones), max_walk_density=np.zeros(n_zones),
                             max_hold_density=np.zeros(n_zones))
        K.zone_stats(self.cells, a.net, self.zones, a.params)
        n_places = a.places.n
        self.places = K.PlaceStats(a.places.cell_place, *(np.zeros(n_places) for _ in range(10)))
        self.counters = np.zeros(K.N_COUNTERS, dtype=np.int64)
        self.exited = 0
        self.admitted_last_step = np.zeros(n_zones, dtype=np.int64)
        self.recounts = 0
        self._recount_states = np.zeros(K.N_STATES, dtype=np.int64)
        self._recount_cells = [np.zeros(n_cells, dtype=np.int64) for _ in range(3)]
        self._recount_marks = np.zeros(3, dtype=np.int64)
        self._packed: K.StepState | None = None
        self._packed_from: tuple | None = None

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        for name in self.CACHE_ATTRIBUTES:
            state[name] = None
        return state

    # -- views used by controllers, KPIs and plots --------------------------------------------------
    @property
    def state(self) -> np.ndarray:
        return self.agents.state

    def positions_m(self) -> np.ndarray:
        """Where each agent stands along its edge (m from the edge's start): walkers at their own
        position, people in a queue at their place in it (:func:`~sim.crowd.kernels.queue_positions`)."""
        out = np.empty_like(self.agents.pos_m)
        K.queue_positions(self.agents.pos_m, self.agents.q_next, self.edges, self.arrays.net, self.cells,
                          self.arrays.params, out)
        return out

    @property
    def gate_wait_s(self) -> np.ndarray:
        return self.agents.gate_wait_s

    @property
    def wait_start_s(self) -> np.ndarray:
        return self.agents.wait_start_s

    @property
    def cell_count(self) -> np.ndarray:
        return self.cells.count

    @property
    def cell_standing(self) -> np.ndarray:
        return self.cells.standing

    @property
    def cell_density(self) -> np.ndarray:
        """Everyone on each cell per m2, after the last step."""
        return self.cells.density_ppm2

    @property
    def walk_density(self) -> np.ndarray:
        """The moving walkers' density on each cell, in the ground left to them (p/m2)."""
        return self.cells.walk_density

    @property
    def edge_passed(self) -> np.ndarray:
        return self.edges.passed

    @property
    def edge_queue(self) -> np.ndarray:
        return self.edges.queue

    @property
    def zone_occupancy(self) -> np.ndarray:
        return self.zones.occupancy

    @property
    def zone_max_density(self) -> np.ndarray:
        return self.zones.max_density

    @property
    def zone_gate_queue(self) -> np.ndarray:
        return self.zones.gate_queue

    # -- controls (called by the Mesa controller agents) ------------------------------------------
    def set_gate(self, zone: int, is_open: bool) -> None:
        self.zones.open[zone] = is_open

    def release_group(self, group: int, max_people: int = -1) -> int:
        """Send home people standing in release group ``group`` (at most ``max_people``; -1: all)."""
        # Once arrivals are over no one starts to stand, so a group's search resumes where the last
        # one stopped (a marshalled release calls this every step).
        start = self._release_from.get(group, 0) if self.arrivals_over else 0
        a, net, routes = self.agents, self.arrays.net, self.routes
        released, stop = K.release_standing(start, self.n_active, a.state, a.edge, a.pos_m, a.exit_row, a.may_move,
                                            net.edge_cell, net.edge_length_m, net.edge_to, net.edge_from,
                                            self.cells.standing, routes.exit_dist, routes.edge_cost_s,
                                            self.arrays.cell_release_group, group, max_people, self.counters)
        if self.arrivals_over:
            self._release_from[group] = int(stop)
        return int(released)

    def mark_may_move(self, agent_ids) -> None:
        """Agents that code outside the kernels made walkers (not in a queue): the next step lists
        them among the movers.  Every such change must call this (or :meth:`agents_changed`); the
        recount raises when a walker is missing from the list."""
        ids = np.asarray(agent_ids, dtype=np.int64).ravel()
        np.bitwise_or.at(self.agents.may_move, ids >> 6, np.left_shift(np.uint64(1), (ids & 63).astype(np.uint64)))

    def agents_changed(self) -> None:
        """Agents were changed outside the kernels in bulk: the next step lists its movers from
        everyone (one pass over all agents)."""
        self.agents.relist[0] = True

    def set_edge_penalty(self, penalty_s: np.ndarray) -> None:
        """New route penalties per directed edge (one-way ways); routes follow at once."""
        self.edge_penalty_s = np.asarray(penalty_s, dtype=np.float64)
        self.refresh_routes()

    def end_arrivals(self) -> None:
        """The show is over: arriving walkers leave their queues and turn home, people still at
        sources leave."""
        K.leave_queues(self.n_active, self.agents, self.edges, K.WALK_IN, self.arrays.net, self.cells,
                       self.arrays.params)
        K.end_arrivals(self.t_s, self.n_active, self.agents, self.counters)
        self.arrivals_over = True

    # -- stepping ---------------------------------------------------------------------------------
    def _routes(self, edge_cost_s: np.ndarray, view: bool = True) -> K.Routes:
        a = self.arrays
        if view:
            view_dist, view_next, exit_dist, exit_next = compute_routes(a, edge_cost_s)
        else:
            view_dist, view_next = self.routes.view_dist, self.routes.view_next
            exit_dist, exit_next = compute_routes(a, edge_cost_s, view=False)[2:]
        return K.Routes(view_next=view_next, view_dist=view_dist, exit_next=exit_next, exit_dist=exit_dist,
                        edge_cost_s=edge_cost_s, view_cell=a.view_cell, view_log_attr=a.view_log_attr)

    def refresh_routes(self) -> None:
        """Route tables from the congestion now (the speeds and queues on every edge); the viewing targets' rows
        only while people may still arrive."""
        a = self.arrays
        cost = np.empty_like(self.edge_cost_s)
        K.edge_costs(a.net, self.edges.speed_factor, a.v0_mps, a.walk.cell_covered, a.shelter_factor,
                     self.edges.queue, self.cells.free_share, a.params.queue_density_ppm2, a.dt_s,
                     MIN_ROUTE_SPEED_MPS, self.edge_penalty_s, cost)
        self.edge_cost_s = cost
        heading_in = (not self.arrivals_over or self.n_active < self.n_agents
                      or bool(np.any(self.agents.state[:self.n_active] == K.WALK_IN)))
        self.routes = self._routes(cost, view=heading_in)
        K.retarget_full(self.n_active, self.agents, a.net, self.cells, self.routes, a.params, self.counters)

    def _step_state(self) -> K.StepState:
        """The bundles a step reads, packed once (:class:`~sim.crowd.kernels.StepState`) and packed
        again whenever one of them is a new object (new route tables, arrays rebuilt by the live twin)."""
        a = self.arrays
        bundles = (self.agents, a.net, self.cells, self.edges, self.zones, self.nodes, self.routes, a.params,
                   self.counters, a.zone_cap, self.admitted_last_step, self.places)
        packed_from = self._packed_from
        if packed_from is None or not all(map(operator.is_, bundles, packed_from)):
            self._packed = K.pack_step_state(*bundles)
            self._packed_from = bundles
        return self._packed

    def step(self) -> None:
        """Advance one time step: arrivals, routes (at their interval), budgets, agents, checks."""
        a = self.arrays
        t = self.t_s
        arrival_s, arrived = self.arrivals.time_s, self.n_active - self.n_placed
        # (arrival times are sorted: nobody new unless the next one's time has come)
        new_active = self.n_placed + int(arrival_s.searchsorted(t, side="right")) if (
            arrived < arrival_s.size and arrival_s[arrived] <= t) else self.n_active
        if new_active > self.n_active:
            self.agents.state[self.n_active:new_active] = K.AT_SOURCE
            self.first_at_source = min(self.first_at_source, self.n_active)
            self.n_active = new_active
        if t >= self.next_route_s:
            self.refresh_routes()
            self.next_route_s += self.scenario.simulation.route_interval_s
        offset = int(self.rng.integers(0, self.n_active)) if self.n_active else 0
        self.first_at_source = int(K.advance_packed(t, offset, self.n_active, self._step_state(),
                                                    self.first_at_source))
        self.exited = int(self.counters[K.C_EXITED] + self.counters[K.C_LEFT_FROM_SOURCE])
        self.step_index += 1
        self.t_s = self.step_index * a.dt_s
        if self.step_index % self.check_every_steps == 0 or self.n_active == self.exited:
            self.recount()

    @property
    def inside(self) -> int:
        """People in the simulation: on the walk network or waiting at a source."""
        return self.n_active - self.exited

    @property
    def on_network(self) -> int:
        return int(self.cells.count.sum())

    def state_counts(self) -> dict[str, int]:
        """How many agents are in each state now (an independent recount)."""
        self.recount()
        return {name: int(v) for name, v in zip(K.STATE_NAMES, self._recount_states)}

    def recount(self) -> None:
        """Recount every agent from its own state and edge and compare with the running counts (cells,
        standing viewers, people in place, exits); raise :class:`ConservationError` on a mismatch."""
        states, count, standing, waiting = self._recount_states, *self._recount_cells
        K.count_states(self.n_active, self.agents.state, self.agents.edge, self.arrays.edge_cell, states, count,
                       standing, waiting)
        self.recounts += 1
        problems = {}
        if states[K.PENDING] != 0:
            problems["active but pending"] = int(states[K.PENDING])
        if states[K.EXITED] != self.exited:
            problems["exited (recount / counters)"] = (int(states[K.EXITED]), self.exited)
        for name, recounted, running in (("people on cells", count, self.cells.count),
                                         ("standing", standing, self.cells.standing),
                                         ("waiting in place", waiting, self.cells.waiting)):
            bad = np.flatnonzero(recounted != running)
            if bad.size:
                c = int(bad[0])
                problems[f"{name} (cell {c}: recount / engine)"] = (int(recounted[c]), int(running[c]))
                problems[f"{name}: cells that disagree"] = int(bad.size)
        a, marks = self.agents, self._recount_marks
        K.check_marks(self.n_active, a.state, a.q_edge, a.wait_start_s, a.may_move, a.may_wait, marks)
        if not a.relist[0] and marks[0] >= 0:
            problems["walkers missing from the movers list (first agent)"] = int(marks[0])
        if marks[1] >= 0:
            problems["waiting at a gate but not marked so (first agent)"] = int(marks[1])
        if marks[2] != int(self.edges.queue.sum()):
            problems["queued (walkers marked / queue lengths)"] = (int(marks[2]), int(self.edges.queue.sum()))
        if problems:
            raise ConservationError("crowd agents", self.step_index, self.t_s,
                                    {"entered": self.n_active, "exited": self.exited, **problems})
