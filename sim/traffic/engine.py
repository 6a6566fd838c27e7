"""The vehicle engine: IDM vehicles on lanes, stepped in Numba (one :meth:`TrafficEngine.step` per
time step).  The tunnel's phase plan is not here: :class:`~sim.traffic.controllers.TunnelController`
opens and closes the portals and launches convoys through the engine's small control API."""

from __future__ import annotations

import math

import numpy as np

from ..core.errors import ConservationError, SimError
from .compile import (
    BIKE,
    MOTOR,
    QUEUE_BREAK_M,
    TrafficArrays,
    _free_costs,
    _route_tables,
)
from .kernels import (
    ARRIVED,
    C_DECEL_CLAMP,
    C_HARD_STOP,
    C_INSTANT_STOP,
    C_OVERLAP,
    DRIVING,
    N_COUNTERS,
    PENDING,
    QUEUED,
    count_states,
    hand_on,
    insert_from_queues,
    move_vehicles,
    portal_queues,
    queue_push,
    queue_push_front,
    sort_lanes,
    tube_occupancy,
    update_signals,
)

__all__ = ["TrafficEngine"]

class TrafficEngine:
    """Vehicle state and one-step advance.  Trips depart into FIFO queues at their first edge;
    escorts (police) are extra vehicles placed by the tunnel controller."""

    def __init__(self, arrays: TrafficArrays, rng: np.random.Generator, n_escorts: int = 0):
        a = self.arrays = arrays
        self.rng = rng
        n_trips = a.trip_depart_s.size
        n = n_trips + n_escorts
        self.n_trips = n_trips
        self.n_vehicles = n
        escort_cls = next(k for k, c in enumerate(a.classes) if c.is_escort)
        self.veh_cls = np.concatenate([a.trip_cls.astype(np.int8), np.full(n_escorts, escort_cls, np.int8)])
        self.veh_mode = np.where(a.cls_is_bike[self.veh_cls], BIKE, MOTOR).astype(np.int8)
        self.veh_dest = np.concatenate([a.trip_dest_row, np.zeros(n_escorts, np.int32)]).astype(np.int32)
        spread = np.array([c.speed_spread for c in a.classes])[self.veh_cls]
        desired = np.array([c.desired_speed_mps for c in a.classes])[self.veh_cls]
        self.veh_v0 = desired * (1.0 + spread * rng.uniform(-1.0, 1.0, n))
        self.veh_edge = np.full(n, -1, dtype=np.int32)
        self.veh_lane = np.zeros(n, dtype=np.int32)
        self.veh_pos = np.zeros(n)
        self.veh_speed = np.zeros(n)
        self.veh_state = np.full(n, PENDING, dtype=np.int8)
        self.veh_wait_s = np.zeros(n)           # time driving below STOPPED_MPS
        self.veh_queue_wait_s = np.zeros(n)     # time in a portal's waiting area
        self.veh_queue_enter_s = np.zeros(n)
        self.veh_insert_s = np.full(n, -1.0)
        self.veh_arrive_s = np.full(n, -1.0)
        self.veh_next = np.full(n, -1, dtype=np.int32)
        self.veh_tube_done = np.zeros(n, dtype=np.int8)
        self.veh_stamp = np.zeros(n, dtype=np.int64)   # has passed through a tube of the tunnel
        self.veh_depart_s = np.concatenate([a.trip_depart_s, np.full(n_escorts, np.inf)])
        self.escort_ids = np.arange(n_trips, n, dtype=np.int64)
        self._escorts_used = 0
        n_lanes = a.lane_edge.size
        self.lane_count = np.zeros(n_lanes, dtype=np.int32)
        self.lane_first = np.zeros(n_lanes + 1, dtype=np.int32)
        self.lane_cursor = np.zeros(n_lanes, dtype=np.int32)
        self.lane_rear_m = np.full(n_lanes, 1.0e9)      # "empty" (traffic_kernels._FAR)
        self.lane_rear_speed = np.zeros(n_lanes)
        self.occ_lanes = np.zeros(n_lanes, dtype=np.int32)
        self.prev_occ = np.zeros(n_lanes, dtype=np.int32)
        self.n_occ = 0
        self.n_prev = 0
        self.order = np.zeros(n, dtype=np.int64)
        self.active = np.zeros(n, dtype=np.int64)
        self.n_active = 0
        self.new_pos = np.zeros(n)
        self.new_speed = np.zeros(n)
        # queues: one per edge (departures), then one waiting area per portal
        n_tubes = len(a.tubes)
        n_queues = a.n_edges + n_tubes
        self.gate_queue = np.arange(a.n_edges, n_queues, dtype=np.int32)
        self.queue_edge = np.concatenate([np.arange(a.n_edges, dtype=np.int32),
                                          np.array([t.edges[0] for t in a.tubes], dtype=np.int32)])
        self.queue_allow = np.full(n_queues, -1, dtype=np.int64)
        self.queue_allow[self.gate_queue] = 0
        self.queue_head = np.full(n_queues, -1, dtype=np.int32)
        self.queue_tail = np.full(n_queues, -1, dtype=np.int32)
        self.inserted_per_queue = np.zeros(n_queues, dtype=np.int64)
        self._queues_in_use: set[int] = set(self.gate_queue.tolist())
        self.gate_motor_open = np.ones(n_tubes, dtype=bool)
        self.gate_closed_penalty_s = np.zeros(n_tubes)
        self.edge_convoy_speed = np.zeros(a.n_edges)
        self.edge_convoy_lanes = np.zeros(a.n_edges, dtype=np.int32)
        self.edge_red = np.zeros(a.n_edges, dtype=bool)
        self.edge_speed_sum = np.zeros((2, a.n_edges))          # per mode: motor, bike
        self.edge_speed_n = np.zeros((2, a.n_edges), dtype=np.int64)
        self.tube_exits = np.zeros((n_tubes, 2), dtype=np.int64)
        self.tube_inside = np.zeros((n_tubes, 3), dtype=np.int64)
        self.motor_in_tubes = 0                 # totals over the tubes (tube_inside), as Python ints
        self.bikes_in_tubes = 0
        self.counters = np.zeros(N_COUNTERS, dtype=np.int64)
        self.state_counts = np.zeros(4, dtype=np.int64)
        self.queue_n = np.zeros((n_tubes, 2), dtype=np.int64)
        self._q_gate = np.zeros(n, dtype=np.int32)
        self._q_dist = np.zeros(n)
        self._q_len = np.zeros(n)
        self.queue_m = np.zeros((n_tubes, 2))
        self.t_s = 0.0
        self.step_index = 0
        self.vehicle_updates = 0
        self._next_departure = 0
        self.conserved = True
        self.conservation_error = ""
        self._motor_free, self._bike_cost = _free_costs(a)
        self.next_hop = _route_tables(a, self._motor_free, self._bike_cost)
        self._last_route_s = 0.0

    # ---------------------------------------------------------------- control API (tunnel controller)
    def set_motor_gate(self, tube: int, open_: bool, closed_for_s: float = 0.0) -> None:
        """Open or close a tube's portal to motor vehicles (escorts always pass).  ``closed_for_s``
        is how long drivers are told it stays closed: routes are refreshed with it at once."""
        changed = bool(self.gate_motor_open[tube]) != open_
        self.gate_motor_open[tube] = open_
        self.gate_closed_penalty_s[tube] = 0.0 if open_ else closed_for_s
        if changed and closed_for_s > 0:
            self.refresh_routes()

    def set_convoy(self, tube: int, active: bool) -> None:
        """Turn a tube into convoy mode (bicycles ride its first lanes at the escort speed) or back."""
        edges = self.arrays.tubes[tube].edges
        tunnel = self.arrays.scenario.tunnel
        if tunnel is None:
            raise SimError("set_convoy: this scenario has no [tunnel]")
        self.edge_convoy_speed[edges] = tunnel.escort_speed_kph / 3.6 if active else 0.0
        self.edge_convoy_lanes[edges] = tunnel.convoy_lanes if active else 0

    def allow_bikes(self, tube: int, n: int) -> None:
        """Let at most ``n`` more vehicles out of a portal's waiting area (0 stops the release)."""
        self.queue_allow[self.gate_queue[tube]] = n

    def waiting_bikes(self, tube: int) -> int:
        """Bicycles (not escorts) in a portal's waiting area."""
        q = self.gate_queue[tube]
        count, i = 0, int(self.queue_head[q])
        while i >= 0:
            if not self.arrays.cls_is_escort[self.veh_cls[i]]:
                count += 1
            i = int(self.veh_next[i])
        return count

    def launch_escort(self, tube: int) -> int:
        """Put a police car at the head of a portal's waiting area, bound for the tube's exit; it
        enters next (before any bicycle still waiting).  Returns its vehicle id."""
        if self._escorts_used >= self.escort_ids.size:
            raise SimError("the run needs more escort cars than were set aside; raise n_escorts")
        i = int(self.escort_ids[self._escorts_used])
        self._escorts_used += 1
        tube_obj = self.arrays.tubes[tube]
        self.veh_dest[i] = int(np.searchsorted(self.arrays.dest_nodes, tube_obj.exit_node))
        self.veh_depart_s[i] = self.t_s
        self.veh_state[i] = QUEUED
        self.veh_queue_enter_s[i] = self.t_s
        q = int(self.gate_queue[tube])
        queue_push_front(q, i, self.queue_head, self.queue_tail, self.veh_next)
        if self.queue_allow[q] >= 0:
            self.queue_allow[q] += 1
        return i

    def tube_position_m(self, i: int, tube: int) -> float:
        """Distance of vehicle ``i``'s front from the tube's portal; -inf before, +inf after it."""
        t = self.arrays.tubes[tube]
        if self.veh_tube_done[i]:
            return math.inf
        if self.veh_state[i] != DRIVING:
            return -math.inf
        hits = np.flatnonzero(t.edges == self.veh_edge[i])
        if hits.size == 0:
            return -math.inf
        return float(self.arrays.edge_len[t.edges[:hits[0]]].sum() + self.veh_pos[i])

    # ---------------------------------------------------------------- stepping
    def _depart(self) -> None:
        a = self.arrays
        t_end = self.t_s + a.dt_s
        k = self._next_departure
        while k < self.n_trips and self.veh_depart_s[k] < t_end:
            node = int(a.trip_origin[k])
            first = int(self.next_hop[self.veh_mode[k], self.veh_dest[k], node])
            if first < 0:
                raise SimError(f"trip {k} has no route from node {node}")
            queue_push(first, k, self.queue_head, self.queue_tail, self.veh_next)
            self._queues_in_use.add(first)
            self.veh_state[k] = QUEUED
            self.veh_queue_enter_s[k] = self.veh_depart_s[k]
            k += 1
        self._next_departure = k

    def refresh_routes(self) -> None:
        """Routes follow the mean speeds measured since the last refresh, each mode its own: motor
        vehicles the motor vehicles' speeds, bicycles the bicycles' (a busy bicycle lane does not
        slow the cars' estimate of a road, nor the reverse).  Edges no vehicle of the mode used keep
        their free-flow cost."""
        a = self.arrays
        n = self.edge_speed_n
        measured = np.where(n > 0, self.edge_speed_sum / np.maximum(n, 1), np.nan)
        speed = np.where(np.isnan(measured[MOTOR]), a.edge_speed_limit,
                         np.clip(measured[MOTOR], 0.5, a.edge_speed_limit))
        motor = np.where(a.motor_edge_ok, a.edge_len / speed, np.inf)
        for g, tube in enumerate(a.tubes):   # drivers are told how long a closed tunnel stays closed
            if not self.gate_motor_open[g]:
                motor[tube.edges[0]] += self.gate_closed_penalty_s[g]
                motor[tube.entrances] += self.gate_closed_penalty_s[g]
        free_bike = self._bike_cost
        bike_speed = np.where(np.isnan(measured[BIKE]), np.nan, np.maximum(measured[BIKE], 0.5))
        bike = np.where(np.isnan(bike_speed) | ~np.isfinite(free_bike), free_bike,
                        np.maximum(free_bike, a.edge_len / np.where(np.isnan(bike_speed), 1.0, bike_speed)))
        convoy = a.edge_tube >= 0
        bike[convoy] = free_bike[convoy]          # the convoy sets the pace in the tunnel
        self.next_hop = _route_tables(a, motor, bike)
        self._last_route_s = self.t_s
        self.edge_speed_sum[:] = 0.0
        self.edge_speed_n[:] = 0

    def step(self) -> None:
        """Advance one time step: departures, signals, IDM moves, hand-overs, insertions."""
        a = self.arrays
        dt = a.dt_s
        if self.t_s - self._last_route_s >= a.scenario.simulation.route_interval_s:
            self.refresh_routes()
        self._depart()
        if a.signal_edges.size:
            update_signals(self.t_s, a.signal_edges, a.edge_signal_group, a.edge_signal_offset_s,
                           a.scenario.signals.cycle_s, a.scenario.signals.intergreen_s, self.edge_red)
        self.prev_occ, self.occ_lanes = self.occ_lanes, self.prev_occ
        self.n_prev = self.n_occ
        n_driving, self.n_occ = sort_lanes(self.active, self.n_active, self.veh_state, self.veh_lane, self.veh_pos,
                                           self.veh_stamp, self.step_index + 1, self.lane_count, self.lane_first,
                                           self.lane_cursor, self.order, self.prev_occ, self.n_prev,
                                           self.occ_lanes)
        if n_driving != int(self.state_counts[DRIVING]) and self.step_index > 0 and self.conserved:
            self.conserved = False
            self.conservation_error = (f"t={self.t_s:.1f}s: {int(self.state_counts[DRIVING])} vehicles driving "
                                       f"but {n_driving} in the active list")
        self.n_active = n_driving
        move_vehicles(self.t_s, dt, self.order, self.lane_first, self.lane_count, self.occ_lanes, self.n_occ, self.prev_occ,
                      self.n_prev, a.lane_edge, a.lane_start, self.lane_rear_m,
                      self.lane_rear_speed, self.veh_cls, self.veh_mode, self.veh_dest, self.veh_v0, self.veh_edge,
                      self.veh_lane, self.veh_pos, self.veh_speed, self.veh_wait_s,
                      a.cls_length, a.cls_s0, a.cls_t, a.cls_a, a.cls_b, a.cls_delta, a.cls_is_bike, a.cls_is_escort,
                      a.edge_len, a.edge_to, a.edge_speed_limit, a.edge_motor_lanes, a.edge_bike_lane,
                      self.edge_convoy_lanes, self.edge_convoy_speed, self.edge_red, a.edge_gate,
                      a.edge_approach, self.gate_motor_open, a.dest_nodes, self.next_hop, self.new_pos, self.new_speed,
                      self.edge_speed_sum, self.edge_speed_n, self.counters)
        hand_on(self.t_s, dt, self.order, self.lane_first, self.lane_count, self.occ_lanes, self.n_occ, a.lane_edge, a.lane_start, self.lane_rear_m,
                self.lane_rear_speed, self.veh_cls, self.veh_mode, self.veh_dest, self.veh_edge, self.veh_lane,
                self.veh_pos, self.veh_speed, self.veh_state, self.veh_arrive_s, self.veh_queue_enter_s,
                self.veh_next, self.veh_tube_done, a.cls_length, a.cls_is_bike, a.cls_is_escort, a.edge_len, a.edge_to,
                a.edge_priority, a.edge_motor_lanes, a.edge_bike_lane, self.edge_convoy_lanes, a.edge_gate,
                a.edge_tube_exit, a.edge_approach, self.gate_motor_open, self.gate_queue, a.dest_nodes, self.next_hop, self.new_pos, self.new_speed,
                self.queue_head, self.queue_tail, self.tube_exits, self.counters)
        self.vehicle_updates += n_driving
        queue_ids = np.fromiter((q for q in self._queues_in_use if self.queue_head[q] >= 0), dtype=np.int64)
        queue_ids.sort()
        self.n_active = insert_from_queues(
            self.t_s + dt, dt, queue_ids, self.queue_edge, self.queue_allow, self.queue_head, self.queue_tail,
            self.veh_next, self.veh_cls, self.veh_v0, self.veh_edge, self.veh_lane, self.veh_pos, self.veh_speed,
            self.veh_state, self.veh_insert_s, self.veh_queue_wait_s, self.veh_queue_enter_s,
            a.cls_length, a.cls_s0, a.cls_t, a.cls_delta, a.cls_is_bike, a.cls_is_escort,
            a.lane_start, self.lane_rear_m, self.lane_rear_speed, a.edge_speed_limit, a.edge_motor_lanes,
            a.edge_bike_lane, self.edge_convoy_lanes, self.edge_convoy_speed, a.edge_class_vcap,
            self.active, self.n_active, self.inserted_per_queue)
        self._queues_in_use = {q for q in self._queues_in_use if self.queue_head[q] >= 0} | set(
            self.gate_queue.tolist())
        self.t_s += dt
        self.step_index += 1
        if a.tubes:
            self.motor_in_tubes, self.bikes_in_tubes = tube_occupancy(
                self.active, self.n_active, self.veh_edge, self.veh_cls, a.cls_is_bike, a.cls_is_escort,
                a.edge_tube, self.tube_inside)
        self._check_conservation()

    def _check_conservation(self) -> None:
        """Every vehicle that departed is queued, driving or arrived (an independent recount of the
        states); a loss stops the run with :class:`ConservationError`."""
        count_states(self.veh_state, self.state_counts)
        departed = self._next_departure + self._escorts_used
        inside = int(self.state_counts[QUEUED] + self.state_counts[DRIVING])
        if departed != inside + int(self.state_counts[ARRIVED]) or not self.conserved:
            if self.conserved:
                self.conservation_error = (f"t={self.t_s:.1f}s: departed {departed} != inside {inside} + "
                                           f"arrived {int(self.state_counts[ARRIVED])} (driving "
                                           f"{int(self.state_counts[DRIVING])}, active list {self.n_active})")
            self.conserved = False
            raise ConservationError("vehicles", self.step_index, self.t_s,
                                    {"departed": departed, "queued": int(self.state_counts[QUEUED]),
                                     "driving": int(self.state_counts[DRIVING]),
                                     "arrived": int(self.state_counts[ARRIVED]), "detail": self.conservation_error})

    @property
    def kinematics(self) -> dict[str, int]:
        """Counts of the engine's honest-kinematics guards (0 on simple networks): braking clamped at
        9 m/s2, speed drops faster than that (no-overlap clamp or hand-over), instant stops at an
        edge's end on hand-over, overlapping pairs seen."""
        c = self.counters
        return {"decel_clamps": int(c[C_DECEL_CLAMP]), "hard_stops": int(c[C_HARD_STOP]),
                "instant_stops": int(c[C_INSTANT_STOP]), "overlaps_seen": int(c[C_OVERLAP])}

    def measure_queues(self) -> None:
        """Portal queues now (``queue_n``, ``queue_m`` per portal and mode).

        Motor vehicles: the stopped vehicles bound for the portal, counted from the stop line back
        for as long as the next one is within ``QUEUE_BREAK_M`` of the last (a longer gap ends the
        queue); its length is the farthest one's distance plus its length.  Bicycles: those in the
        portal's waiting area, in rows of ``tunnel.bikes_abreast``, ``tunnel.bike_row_m`` apart."""
        a = self.arrays
        n = portal_queues(self.active, self.n_active, self.veh_cls, self.veh_mode, self.veh_dest, self.veh_edge,
                          self.veh_pos, self.veh_speed, a.cls_length, a.cls_is_escort, a.edge_len, a.edge_to,
                          a.edge_gate, a.edge_tube, a.dest_nodes, self.next_hop,
                          a.scenario.tunnel.queue_sample_m if a.scenario.tunnel else 1500.0,
                          self._q_gate, self._q_dist, self._q_len)
        self.queue_n[:, :] = 0
        self.queue_m[:, :] = 0.0
        tunnel = a.scenario.tunnel
        for g in range(len(a.tubes)):
            sel = self._q_gate[:n] == g
            if sel.any():
                dist = self._q_dist[:n][sel]
                order = np.argsort(dist)
                dist = dist[order]
                gaps = np.diff(np.concatenate([[0.0], dist]))
                breaks = np.flatnonzero(gaps > QUEUE_BREAK_M)
                count = int(breaks[0]) if breaks.size else dist.size
                if count:
                    self.queue_n[g, MOTOR] = count
                    self.queue_m[g, MOTOR] = dist[count - 1] + self._q_len[:n][sel][order][count - 1]
            if tunnel is None:                  # tubes exist only with a [tunnel]
                raise SimError("measure_queues: portals without a [tunnel]")
            waiting = self.waiting_bikes(g)
            self.queue_n[g, BIKE] = waiting
            self.queue_m[g, BIKE] = math.ceil(waiting / tunnel.bikes_abreast) * tunnel.bike_row_m

    # ---------------------------------------------------------------- checks
    @property
    def inside(self) -> int:
        return int(self.state_counts[QUEUED] + self.state_counts[DRIVING])

    @property
    def arrived(self) -> int:
        return int(self.state_counts[ARRIVED])

    def overlaps(self) -> int:
        """Pairs of consecutive vehicles in a lane that overlap (must always be 0)."""
        a = self.arrays
        ids = np.flatnonzero(self.veh_state == DRIVING)
        if ids.size < 2:
            return 0
        key = np.lexsort((self.veh_pos[ids], self.veh_lane[ids]))
        ids = ids[key]
        same = self.veh_lane[ids[1:]] == self.veh_lane[ids[:-1]]
        rear_of_front = self.veh_pos[ids[1:]] - a.cls_length[self.veh_cls[ids[1:]]]
        return int(np.sum(same & (rear_of_front < self.veh_pos[ids[:-1]] - 1e-6)))
