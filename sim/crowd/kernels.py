"""Numba kernels of the crowd engine: named bundles of arrays in, arrays out, no I/O.

The pedestrian rules (the plain-Python reference in :mod:`sim.crowd.reference` implements the same):

* **Speed.** Every step starts from the cell densities of the last step.  A walker on directed
  edge ``e`` of cell ``c`` advances ``v0_i * speed_factor[e] * dt``: ``v0_i`` is the person's own
  free speed on the level (drawn per person), ``speed_factor`` the share of the mean free speed the
  space allows (:func:`refresh_cells`).  Below the critical density that share is Weidmann's shape
  ``1 - exp(-gamma (1/rho - 1/rho_jam))`` at the cell's density (all people in it, standing ones
  included), so the mean walker follows Weidmann's fundamental diagram and faster walkers pass
  slower ones by the same share.  Above it the cell is congested: walkers move at the diagram's
  speed, or faster where the cell can pass on more (the cell transmission model's flux: at the head
  of a queue that dissolves), so that queues discharge at capacity.  On stairs the free speed is the stair
  speed of the direction (up or down), and the diagram is triangular: free speed up to the density
  at which the stair carries its capacity (IMO), then the flow falls linearly to zero at jam.
* **Crossing a node.** A walker reaching the end of its edge takes the next edge of its route (to
  its viewing spot, or to its exit group) if all hold: the gate of the zone it enters, if any, is
  open and still admits; the edge it leaves and the cell it leaves both have *sending* capacity left
  this step (per edge: the direction's capacity, the IMO figure on stairs, a green share at
  signals; per cell: the larger of its two directions, so that two-way flow never exceeds the
  capacity); the cell it enters has *receiving* capacity left (the cell transmission model's supply:
  the maximum flow while its density is below critical, the congested flow above) and has room:
  fewer people than at the queue density (area / queue space per person, umbrellas included):
  people stop closing up there, so a queue fills the cells behind it at the density people queue
  at.  When the cell is full but someone waits at its near end to come the opposite way, the two
  swap places (a counterflow swap): no cell gets denser, and both cells' sending capacity is used.
* **Other ways.** If the route's edge is blocked, the walker takes another edge leaving the same
  node (never straight back) whose remaining cost to the same goal is within the tolerance, or
  within the wait it expects for the route's edge (the people held for it last step over its
  capacity), whichever is larger: ``cost(g) + dist(goal, end of g) <= dist(goal, node) +
  max(tolerance_s, tolerance_frac * dist, wait)``, trying them in the node's edge order.  Otherwise it waits at the end of its edge: it queues, it
  never vanishes, and the cells behind fill at the queue density.
* **Exits.** A walker leaves the map at an exit node only through the sending capacity of the edge
  it arrives on (and the exit's own rate, when the scenario sets one).
* **Queues have a length.** The people held at an edge's end form a queue at the queue density
  across the ground left to walkers (the cell's width times its free share); a walker reaching the
  back of that queue joins it there, so the walkers behind a queue are only those still walking up
  to it.
* **Short cells.** When a walker crosses a short cell within a step, it moves on in the same step
  (at most :data:`MAX_HOPS` cells), so short cells never slow anyone.
* **Order.** Capacity left unused in a step carries over to the next one (at most one step's worth,
  and at least one person), so flows are exact on average even when walkers reach a cell's end in
  bursts.  Each step first serves the queues at edge ends, then moves the walkers who are not in a
  queue when that pass begins (someone who leaves a queue by a counterflow swap during it moves on
  next step), from a rotating start index drawn from the run's random generator, then people waiting
  at sources in arrival order, so no agent index is always first.  The congested speed of an edge
  (refresh) uses the free speeds of everyone walking on it (not queued) at the end of the step.
* **Standing and waiting.** Viewers stand at their spot (if that leaves the people walking there
  at most the queue density in the ground left; else they choose another spot, or wait) until released; people placed on the map at
  the start wait until their pre-movement time has passed.  Both then head for their exit from where
  they stand: they turn round when the exit is nearer behind them.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit
from numba.core import types
from numba.experimental import structref

from numba.cpython.unsafe.numbers import trailing_zeros

from ..core.routing import EXIT_HERE

__all__ = [
    "PENDING", "AT_SOURCE", "WALK_IN", "STANDING", "WALK_OUT", "EXITED", "WAITING", "N_STATES", "STATE_NAMES",
    "C_EXITED", "C_BALKED", "C_RETARGETED", "C_ENTERED_NETWORK", "C_ADMITTED", "C_LEFT_FROM_SOURCE",
    "C_SWAPS", "C_REROUTED", "C_TURNED", "C_STARTED", "C_WALKER_MOVES", "C_QUEUE_TRIES", "C_DIVERTED", "C_SENT_HOME", "N_COUNTERS", "COUNTER_NAMES", "MAX_HOPS",
    "Agents", "Net", "Cells", "Edges", "Zones", "Nodes", "PlaceStats", "Routes", "Params",
    "refresh_cells", "step_agents", "advance", "place_stats", "queue_positions", "leave_queues", "retarget_full", "release_standing", "end_arrivals", "zone_stats",
    "count_states", "edge_costs", "weidmann_shape", "record_step",
]

# Agent states.
PENDING, AT_SOURCE, WALK_IN, STANDING, WALK_OUT, EXITED, WAITING = 0, 1, 2, 3, 4, 5, 6
N_STATES = 7
STATE_NAMES = ("pending", "at_source", "walking_in", "standing", "walking_out", "exited", "waiting")
# Indices into the counters array (cumulative over the run).
(C_EXITED, C_BALKED, C_RETARGETED, C_ENTERED_NETWORK, C_ADMITTED, C_LEFT_FROM_SOURCE, C_SWAPS, C_REROUTED,
 C_TURNED, C_STARTED, C_WALKER_MOVES, C_QUEUE_TRIES, C_DIVERTED, C_SENT_HOME) = range(14)
N_COUNTERS = 14
COUNTER_NAMES = ("exited", "gave_up_at_gates", "retargeted", "entered_network", "admitted_at_gates",
                 "left_from_source", "counterflow_swaps", "took_another_way", "turned_to_exit", "started_moving",
                 "walker_moves", "queue_head_tries", "diverted_at_gates", "sent_home_at_show_end")
#: Most cells one walker crosses in one step (short cells are crossed in the same step).
MAX_HOPS = 8
#: Route rows a queue's head remembers as failed this step (people further back with one of them are
#: not tried; a memory of the work, not a rule: any number gives the same results).
MAX_FAILED_ROWS = 16
#: Smallest share of a cell's ground left to walkers when people stand on it (a standing crowd
#: leaves a little room to squeeze through).
MIN_FREE_SHARE = 0.05

# Results of trying to enter an edge.
_OK, _BLOCK_GATE, _BLOCK_OUT, _BLOCK_IN, _BLOCK_FULL = 0, 1, 2, 3, 4
#: cross_node's result when the walker left the map or turned round (not an edge, not held).
_LEFT = -100


class Agents(NamedTuple):
    """Everyone of a run, as parallel arrays (index = arrival order; people in place first)."""
    state: np.ndarray          # int8, one of the states above
    edge: np.ndarray           # int32 directed edge, -1 off the network
    pos_m: np.ndarray          # metres along the edge
    target: np.ndarray         # int32 viewing target (row of the view tables)
    stand_frac: np.ndarray     # where along the target cell they stop (0..1)
    source_node: np.ndarray    # int32 walk node they arrive at
    exit_row: np.ndarray       # int32 row of the exit tables
    v0_mps: np.ndarray         # own free speed on the level
    start_s: np.ndarray        # people in place: when they start to move
    q_edge: np.ndarray         # int32 the edge at whose end the walker queues (-1: not queued)
    q_next: np.ndarray         # int32 the next walker in that queue, toward its back (-1: last)
    wait_start_s: np.ndarray   # when they began waiting at a closed gate (-1: not waiting)
    gate_wait_s: np.ndarray    # last completed gate wait (-1: none)
    movers: np.ndarray         # int32 scratch: the walkers one step moves, in order
    may_move: np.ndarray       # uint64 bitmap: everyone who may be a walker not in a queue (a superset;
                               # see :func:`mark_may_move`), so a step lists its walkers without a
                               # pass over everyone
    relist: np.ndarray         # bool[1]: rebuild may_move from every agent at the next step (set after
                               # agents are changed outside the kernels)
    may_wait: np.ndarray       # uint64 bitmap: everyone whose wait_start_s may be >= 0 (a superset, set
                               # where a wait starts): a walker crossing a node reads its wait start
                               # only if marked (one cache miss a crossing fewer); see :func:`bitmap_of`


class Net(NamedTuple):
    """The compiled walk network (never written by the kernels)."""
    edge_to: np.ndarray            # int32
    edge_from: np.ndarray          # int32
    edge_cell: np.ndarray          # int32
    edge_length_m: np.ndarray
    edge_out_cap: np.ndarray       # people per step that may leave the edge
    edge_free_factor: np.ndarray   # free speed on the edge / free speed on the level (stairs, rain)
    edge_stairs_ppms: np.ndarray   # stairs: capacity of the direction, p/(m s); 0 on the level
    cell_area_m2: np.ndarray
    cell_width_m: np.ndarray
    cell_out_cap: np.ndarray       # people per step that may leave the cell, both directions together
    cell_capacity: np.ndarray      # int32 people walkers fill the cell to: the queue density (area / queue space)
    cell_jam_capacity: np.ndarray  # int32 people at the weather's jam density: counterflow never goes beyond
    cell_view_capacity: np.ndarray # int32 people that stand to watch
    cell_zone: np.ndarray          # int32, -1 outside every zone
    cell_stairs_ppms: np.ndarray   # stairs: the larger capacity of its directions; 0 on the level
    cell_stairs_rho_c: np.ndarray  # stairs: density at which that capacity is reached
    out_start: np.ndarray          # int32 CSR: edges leaving node n are out_edges[out_start[n]:out_start[n+1]]
    out_edges: np.ndarray          # int32
    edge_front: np.ndarray         # int32 people abreast at the head of a queue at the edge's end
    sink_rate: np.ndarray          # people per step per walk node that an exit lets out (inf: no own limit)
    node_exit: np.ndarray          # bool: some exit group leaves the map at this walk node
    zone_inbound_only: np.ndarray  # bool: the zone's gates hold only people on their way in (a cordon)
    zone_divert_after_s: np.ndarray  # people held at its closed gates this long look elsewhere (inf: never)
    zone_meter_ppstep: np.ndarray  # people its gates let in per step at most (inf: no metering)


class Cells(NamedTuple):
    """Per-cell state: counts and this step's densities and budgets."""
    count: np.ndarray          # int32 everyone on the cell
    standing: np.ndarray       # int32 viewers standing
    waiting: np.ndarray        # int32 people in place before they move
    queued: np.ndarray         # int32 walkers held at an end of the cell this step, or walking up to a
                               # queue held at a gate there (they are joining a standing queue)
    density_ppm2: np.ndarray   # everyone on the cell per m2
    flow_density: np.ndarray   # the walkers' density in the ground standing and waiting people leave them
    free_share: np.ndarray     # that ground's share of the cell (its width share for flows)
    room: np.ndarray           # int32 people the cell holds before walkers stop entering (queue density)
    walk_density: np.ndarray   # the moving walkers' density in the ground left to them (zone_stats)
    hold_density: np.ndarray   # the cell's density where people stand, queue or wait (0: nobody does)
    supply_step: np.ndarray    # people the cell can receive this step (0 when it has no room)
    in_budget: np.ndarray      # people who may still enter this step
    out_budget: np.ndarray     # people who may still leave this step (both directions)


class Edges(NamedTuple):
    """Per-directed-edge state."""
    speed_factor: np.ndarray   # share of a walker's free speed the space allows this step
    out_budget: np.ndarray
    queue: np.ndarray          # int32 walkers queued at the edge's end (a FIFO: q_head .. q_tail)
    q_head: np.ndarray         # int32 first in that queue (-1: empty)
    q_tail: np.ndarray         # int32 last in it
    q_status: np.ndarray       # int8 why its head was held at its last try (a _BLOCK_* code)
    q_for: np.ndarray          # int32 the edge its head waits to enter (itself when it waits for sending)
    passed: np.ndarray         # int64 people who left the edge, cumulative
    held_for: np.ndarray       # int32 walkers held this step waiting to enter the edge (route costs)
    held_prev: np.ndarray      # int32 ... last step (the wait a walker expects for it)
    v0_walking: np.ndarray     # sum of the free speeds of the walkers on the edge not in its queue (after the last step)
    walkers: np.ndarray        # int32 how many walkers those are


class Zones(NamedTuple):
    open: np.ndarray           # bool gate open
    admit: np.ndarray          # int64 people the gate still admits this step
    meter_budget: np.ndarray   # people a metered gate may let in (carried over, at most a step's worth)
    gate_queue: np.ndarray     # int64 people held at its gates this step
    occupancy: np.ndarray      # int64
    max_density: np.ndarray    # densest cell, p/m2 (everyone)
    max_walk_density: np.ndarray   # densest walkers' ground, p/m2
    max_hold_density: np.ndarray   # densest cell where people stand, queue or wait, p/m2


class Nodes(NamedTuple):
    """Per-walk-node state: the exits."""
    sink_budget: np.ndarray    # people an exit node may still let out this step
    exited: np.ndarray         # int64 people who left the map at each node, cumulative


class PlaceStats(NamedTuple):
    """Per place (a named stair, square, street section...: :mod:`sim.crowd.places`), over the run."""
    cell_place: np.ndarray     # int32 place of each cell (never written)
    walk: np.ndarray           # this step: the densest walkers' ground among the place's cells
    hold: np.ndarray           # this step: the densest cell where people stand, queue or wait
    peak_walk: np.ndarray
    peak_hold: np.ndarray
    peak_total: np.ndarray     # the densest cell, everyone counted
    walk_e_s: np.ndarray       # seconds with walkers at walkway LOS E or worse
    walk_f_s: np.ndarray       # seconds with walkers at walkway LOS F
    hold_e_s: np.ndarray       # seconds with people standing or queueing at queuing LOS E or worse
    spell_f_s: np.ndarray      # the current spell at walkway LOS F (s)
    longest_f_s: np.ndarray    # the longest such spell (s)


class Routes(NamedTuple):
    view_next: np.ndarray      # int32 (targets, nodes): next edge toward each viewing target
    view_dist: np.ndarray      # (targets, nodes) perceived seconds to it
    exit_next: np.ndarray      # int32 (exit rows, nodes); EXIT_HERE at the exit nodes
    exit_dist: np.ndarray
    edge_cost_s: np.ndarray    # perceived seconds to cross each directed edge
    view_cell: np.ndarray      # int32 cell of each viewing target
    view_log_attr: np.ndarray  # log appeal of each viewing target


class Params(NamedTuple):
    dt_s: float
    v0_mps: float              # mean free speed on the level (Weidmann's v0; rain included)
    gamma: float               # Weidmann's gamma (1/m2)
    rho_jam_ppm2: float        # walking stops here (rain: umbrellas)
    rho_crit_ppm2: float       # density of maximum flow on the level
    q_max_ppms: float          # maximum specific flow on the level
    patience_s: float          # wait at a closed gate before going home
    distance_scale_s: float    # walking time that divides a viewing spot's appeal by e
    route_tolerance_s: float
    route_tolerance_frac: float
    view_space_m2: float       # ground a standing viewer takes (weather included)
    queue_density_ppm2: float  # people queue at this density (weather included)
    walk_e_ppm2: float         # walkway LOS E begins above this density (weather included)
    walk_f_ppm2: float         # walkway LOS F begins above this
    hold_e_ppm2: float         # queuing LOS E begins above this


@njit(cache=True)
def weidmann_shape(density_ppm2: float, gamma: float, rho_jam: float) -> float:
    """Share of the free speed Weidmann's diagram allows at a density (1 when empty, 0 at jam)."""
    if density_ppm2 <= 1e-9:
        return 1.0
    if density_ppm2 >= rho_jam:
        return 0.0
    return 1.0 - np.exp(-gamma * (1.0 / density_ppm2 - 1.0 / rho_jam))


@njit(cache=True, inline="always")
def _stairs_shape(density_ppm2: float, capacity_ppms: float, free_mps: float, rho_jam: float) -> float:
    """Share of the free stair speed on a stair of the given capacity (triangular diagram)."""
    rho_c = capacity_ppms / free_mps
    if density_ppm2 <= rho_c:
        return 1.0
    if density_ppm2 >= rho_jam:
        return 0.0
    flow = capacity_ppms * (rho_jam - density_ppm2) / (rho_jam - rho_c)
    return flow / (density_ppm2 * free_mps)


@njit(cache=True)
def refresh_cells(net, cells, edges, zones, nodes, p):
    """Densities, speed factors and this step's flow budgets, from the counts at the start of the step.

    Below the critical density a walker's share of its free speed is the diagram's (Weidmann on the
    level, triangular on stairs).  Above it the cell is congested and its walkers advance at the
    flux the edge can pass on: ``F``, the smaller of the edge's sending capacity and what the cells
    beyond its end can receive (the cell transmission model's flux), shared so that the walkers on
    the edge, each at its own free speed times one common factor, bring ``F`` people to its end per
    step on average, but never slower than the diagram's speed at the cell's density.  In a queue
    that is the diagram's speed; at the head of a queue that dissolves it is faster (the queue
    discharges at capacity); behind a closed gate or a full cell walkers close up at the diagram's
    speed and wait at the end."""
    for c in range(cells.count.shape[0]):
        area = net.cell_area_m2[c]
        cells.density_ppm2[c] = cells.count[c] / area
        # People standing or waiting take their ground; the walkers move in what is left.
        free = area - cells.standing[c] * p.view_space_m2 - cells.waiting[c] / p.queue_density_ppm2
        free = max(free, MIN_FREE_SHARE * area)
        share = free / area
        cells.free_share[c] = share
        rho = (cells.count[c] - cells.standing[c] - cells.waiting[c]) / free
        cells.flow_density[c] = rho
        # Room: up to the queue density.  A cell packed beyond it (people placed there denser) keeps
        # the room of its densest count while it stays packed: it never gets denser, but it still
        # moves, taking in as many as it sent.
        room = int(free * p.queue_density_ppm2) + cells.standing[c] + cells.waiting[c]
        cells.room[c] = room if cells.count[c] <= room else max(cells.room[c], cells.count[c])
        q_stairs = net.cell_stairs_ppms[c]
        if q_stairs > 0.0:
            rho_c = net.cell_stairs_rho_c[c]
            if rho <= rho_c:
                supply = q_stairs
            elif rho >= p.rho_jam_ppm2:
                supply = 0.0
            else:
                supply = q_stairs * (p.rho_jam_ppm2 - rho) / (p.rho_jam_ppm2 - rho_c)
        elif rho <= p.rho_crit_ppm2:
            supply = p.q_max_ppms
        else:
            supply = rho * p.v0_mps * weidmann_shape(rho, p.gamma, p.rho_jam_ppm2)
        per_step = supply * net.cell_width_m[c] * share * p.dt_s
        cells.supply_step[c] = per_step if cells.count[c] < cells.room[c] else 0.0
        cells.in_budget[c] = min(cells.in_budget[c], max(per_step, 1.0)) + per_step
        out = net.cell_out_cap[c] * share
        cells.out_budget[c] = min(cells.out_budget[c], max(out, 1.0)) + out
    level_c, level_shape = -1, 1.0       # the last level cell's Weidmann shape (a cell's two edges follow each other)
    for e in range(edges.speed_factor.shape[0]):
        c = net.edge_cell[e]
        rho = cells.flow_density[c]
        free = net.edge_free_factor[e]
        q = net.edge_stairs_ppms[e]
        if q > 0.0:
            rho_c = q / (free * p.v0_mps)
            shape = _stairs_shape(rho, q, free * p.v0_mps, p.rho_jam_ppm2)
        else:
            rho_c = p.rho_crit_ppm2
            if c != level_c:
                level_c, level_shape = c, weidmann_shape(rho, p.gamma, p.rho_jam_ppm2)
            shape = level_shape
        out = net.edge_out_cap[e] * cells.free_share[c]
        if rho <= rho_c or edges.v0_walking[e] <= 0.0:
            edges.speed_factor[e] = free * shape
        else:
            # Congested: the walkers on the edge (not yet in its queue) together bring the flux F
            # to the back of its queue per step.
            flux = min(out, _downstream_supply(e, c, net, cells, zones))
            queue_m = edges.queue[e] / (p.queue_density_ppm2 * net.cell_width_m[c] * cells.free_share[c])
            share = flux * max(net.edge_length_m[e] - queue_m, 0.0) / (p.dt_s * edges.v0_walking[e])
            edges.speed_factor[e] = min(free, max(free * shape, share))
        edges.out_budget[e] = min(edges.out_budget[e], max(out, 1.0)) + out
    for n in range(nodes.sink_budget.shape[0]):
        nodes.sink_budget[n] = min(nodes.sink_budget[n], max(net.sink_rate[n], 1.0)) + net.sink_rate[n]


@njit(cache=True, inline="always")
def _downstream_supply(e, c, net, cells, zones):
    """People per step the cells beyond the end of edge ``e`` can take (not back into its own
    cell, not through a closed gate); at an exit, as many as the edge sends."""
    node = net.edge_to[e]
    total = net.edge_out_cap[e] * cells.free_share[c] if net.node_exit[node] else 0.0
    for j in range(net.out_start[node], net.out_start[node + 1]):
        c2 = net.edge_cell[net.out_edges[j]]
        if c2 == c:
            continue
        z = net.cell_zone[c2]
        if z >= 0 and net.cell_zone[c] != z and not zones.open[z]:
            continue
        total += cells.supply_step[c2]
    return total


@njit(cache=True)
def _choose_view_target(node, cells, net, routes, p, current, avoid_zone):
    """Best viewing target with room, scored by appeal and travel time from ``node`` (not in zone
    ``avoid_zone``; -1: any)."""
    best = current
    best_score = -np.inf
    for t in range(routes.view_cell.shape[0]):
        c = routes.view_cell[t]
        if t == current or cells.standing[c] >= net.cell_view_capacity[c]:
            continue
        if avoid_zone >= 0 and net.cell_zone[c] == avoid_zone:
            continue
        d = routes.view_dist[t, node]
        if not np.isfinite(d):
            continue
        score = routes.view_log_attr[t] - d / p.distance_scale_s
        if score > best_score:
            best_score = score
            best = t
    return best


@njit(cache=True, inline="always")
def _turn_round_if_nearer(i, edge, pos_m, exit_row, edge_length_m, edge_to, edge_from, exit_dist, edge_cost_s,
                          counters):
    """Face the nearer way to the exit from where person ``i`` stands: turn round if the exit is
    nearer behind (by the route costs of the two parts of the edge)."""
    e = edge[i]
    length = edge_length_m[e]
    pos = pos_m[i]
    row = exit_row[i]
    ahead = exit_dist[row, edge_to[e]] + edge_cost_s[e] * (length - pos) / length
    behind = exit_dist[row, edge_from[e]] + edge_cost_s[e ^ 1] * pos / length
    if behind < ahead:
        edge[i] = e ^ 1
        pos_m[i] = length - pos
        counters[C_TURNED] += 1


@njit(cache=True)
def _turn_to_exit(i, a, net, routes, counters):
    """:func:`_turn_round_if_nearer` with the bundles."""
    _turn_round_if_nearer(i, a.edge, a.pos_m, a.exit_row, net.edge_length_m, net.edge_to, net.edge_from,
                          routes.exit_dist, routes.edge_cost_s, counters)


@njit(cache=True, inline="always")
def set_bit(bitmap, i):
    """Set bit ``i`` of a uint64 bitmap."""
    bitmap[i >> 6] |= np.uint64(1) << np.uint64(i & 63)


@njit(cache=True, inline="always")
def clear_bit(bitmap, i):
    """Clear bit ``i`` of a uint64 bitmap."""
    bitmap[i >> 6] &= ~(np.uint64(1) << np.uint64(i & 63))


@njit(cache=True, inline="always")
def has_bit(bitmap, i):
    """Whether bit ``i`` of a uint64 bitmap is set."""
    return (bitmap[i >> 6] >> np.uint64(i & 63)) & np.uint64(1) != np.uint64(0)


def bitmap_of(mask: np.ndarray) -> np.ndarray:
    """The uint64 bitmap (bit ``i`` of word ``i >> 6``) of a boolean mask over agents."""
    n = mask.size
    padded = np.zeros(((n + 63) // 64) * 64, dtype=np.bool_)
    padded[:n] = mask
    return np.packbits(padded, bitorder="little").view(np.uint64).copy()


@njit(cache=True, inline="always")
def mark_may_move(may_move, i):
    """Agent ``i`` may now be a walker not in a queue (it left a queue, started to move, stepped on
    from a source or was released): the next step's listing looks at it."""
    set_bit(may_move, i)


@njit(cache=True)
def list_movers(order_offset, n_active, state, q_edge, may_move, relist, movers):
    """The walkers not in a queue, in index order from ``order_offset`` round, into ``movers``;
    returns how many.  Looks only at agents marked in ``may_move`` (clearing those that are no such
    walker), or at everyone when ``relist[0]`` is set (then marks them afresh)."""
    n_words = (n_active + 63) >> 6
    if relist[0]:
        for w in range(may_move.shape[0]):
            may_move[w] = 0
        for i in range(n_active):
            s = state[i]
            if (s == WALK_IN or s == WALK_OUT) and q_edge[i] < 0:
                mark_may_move(may_move, i)
        relist[0] = False
    n_movers = 0
    if n_words == 0:
        return 0
    first_word = order_offset >> 6
    below_offset = (np.uint64(1) << np.uint64(order_offset & 63)) - np.uint64(1)
    for k in range(n_words + 1):
        w = first_word + k
        if w >= n_words:
            w -= n_words
        word = may_move[w]
        if k == 0:
            word &= ~below_offset           # from the offset on ...
        elif k == n_words:
            word &= below_offset            # ... and round to just before it
        while word:
            b = trailing_zeros(word)
            word &= word - np.uint64(1)
            i = (w << 6) + b
            s = state[i]
            if (s == WALK_IN or s == WALK_OUT) and q_edge[i] < 0:
                movers[n_movers] = i
                n_movers += 1
            else:
                clear_bit(may_move, i)
    return n_movers


@njit(cache=True)
def step_agents(t_s, order_offset, n_active, a, net, cells, edges, zones, nodes, routes, p, counters, source_from=0):
    """One step for agents ``0..n_active-1``: people in place whose time has come start; the queues
    at edge ends are served (edges from ``order_offset`` round); walkers move from ``order_offset``
    round; people waiting at gates are counted and may give up; people waiting at sources step on,
    in arrival order (no one below agent ``source_from`` waits at a source).  The rules are in the
    module docstring.  Returns the first agent still waiting at a source (``n_active`` if none).

    The hot path reads the bundles' arrays as locals (inner functions close over them): Numba passes
    a bundle to a called function by value, which costs more than the work of a step."""
    state, edge, pos_m, target, exit_row = a.state, a.edge, a.pos_m, a.target, a.exit_row
    v0, wait_start, gate_wait, q_next, q_edge = a.v0_mps, a.wait_start_s, a.gate_wait_s, a.q_next, a.q_edge
    edge_to, edge_cell, edge_length = net.edge_to, net.edge_cell, net.edge_length_m
    cell_zone, room = net.cell_zone, cells.room
    out_start, out_edges, view_capacity, front = net.out_start, net.out_edges, net.cell_view_capacity, net.edge_front
    count, standing, queued = cells.count, cells.standing, cells.queued
    in_budget, cell_out = cells.in_budget, cells.out_budget
    speed_factor, edge_out, passed = edges.speed_factor, edges.out_budget, edges.passed
    q_head, q_tail, q_len, q_status, q_for = edges.q_head, edges.q_tail, edges.queue, edges.q_status, edges.q_for
    v0_walking, n_walkers, held_for, held_prev = edges.v0_walking, edges.walkers, edges.held_for, edges.held_prev
    edge_out_cap, cell_width, free_share, queue_ppm = net.edge_out_cap, net.cell_width_m, cells.free_share, p.queue_density_ppm2
    zone_open, zone_admit, gate_queue = zones.open, zones.admit, zones.gate_queue
    inbound_only, divert_after = net.zone_inbound_only, net.zone_divert_after_s
    view_next, view_dist, exit_next, exit_dist = routes.view_next, routes.view_dist, routes.exit_next, routes.exit_dist
    edge_cost, view_cell = routes.edge_cost_s, routes.view_cell
    dt, patience, tol_s, tol_frac = p.dt_s, p.patience_s, p.route_tolerance_s, p.route_tolerance_frac
    sink_budget, exited_at = nodes.sink_budget, nodes.exited
    n_edges = q_head.shape[0]
    may_move, may_wait = a.may_move, a.may_wait
    q_for_now = np.zeros(1, dtype=np.int64)        # the edge a walker just held waits for
    failed_keys = np.empty(MAX_FAILED_ROWS, dtype=np.int64)   # route rows that failed at a queue's head
    walker_pass = np.zeros(1, dtype=np.bool_)      # whether the walkers are moving (swaps count as walkers)

    def next_edge(j, node):
        """The route's next edge for walker ``j`` at ``node``."""
        if state[j] == WALK_IN:
            return view_next[target[j], node]
        return exit_next[exit_row[j], node]

    def join(i, e, spot_m):
        """Walker ``i`` joins the back of the queue at the end of edge ``e``, standing at ``spot_m``."""
        pos_m[i] = spot_m
        q_edge[i] = e
        q_next[i] = -1
        if q_tail[e] >= 0:
            q_next[q_tail[e]] = i
        else:
            q_head[e] = i
        q_tail[e] = i
        q_len[e] += 1

    def unlink(i, e, prev):
        """Take walker ``i`` (after ``prev``, -1 at the head) out of the queue of edge ``e``."""
        nxt = q_next[i]
        if prev < 0:
            q_head[e] = nxt
        else:
            q_next[prev] = nxt
        if q_tail[e] == i:
            q_tail[e] = prev
        q_len[e] -= 1
        q_edge[i] = -1
        q_next[i] = -1
        mark_may_move(may_move, i)

    def end_wait(i):
        """A walker held at a gate moves on (through it, or another way): its gate wait is over."""
        if has_bit(may_wait, i) and wait_start[i] >= 0.0:
            gate_wait[i] = t_s - wait_start[i]
            wait_start[i] = -1.0

    def try_enter(i, e, c, f):
        """Move walker ``i`` from the end of ``e`` (cell ``c``) into ``f`` if gate, sending and
        receiving capacity and room allow, or by a counterflow swap; returns _OK or why not."""
        c2 = edge_cell[f]
        z = cell_zone[c2]
        gated = z >= 0 and cell_zone[c] != z and (state[i] == WALK_IN or not inbound_only[z])
        if gated and (not zone_open[z] or zone_admit[z] <= 0):
            return _BLOCK_GATE
        if edge_out[e] < 1.0 or cell_out[c] < 1.0:
            return _BLOCK_OUT
        if count[c2] >= room[c2]:
            # Counterflow: the person at the head of the queue on the other way (f ^ 1) waits to
            # come into c; the two swap places, so no cell gets denser and both cells send one.
            back = f ^ 1
            j = q_head[back]
            if j < 0 or gated or cell_out[c2] < 1.0 or edge_out[back] < 1.0:
                return _BLOCK_FULL
            g = next_edge(j, edge_to[back])
            if g < 0 or edge_cell[g] != c:
                return _BLOCK_FULL
            unlink(j, back, -1)
            edge_out[back] -= 1.0
            cell_out[c2] -= 1.0
            passed[back] += 1
            edge[j] = g
            pos_m[j] = 0.0
            end_wait(j)
            counters[C_SWAPS] += 1
            if walker_pass[0]:      # j will not move again this step: it walks on g now
                v0_walking[g] += v0[j]
                n_walkers[g] += 1
        elif in_budget[c2] < 1.0:
            return _BLOCK_IN
        else:
            in_budget[c2] -= 1.0
            count[c] -= 1
            count[c2] += 1
        cell_out[c] -= 1.0
        edge_out[e] -= 1.0
        passed[e] += 1
        if gated:
            zone_admit[z] -= 1
            counters[C_ADMITTED] += 1
        return _OK

    def cross_node(i, e):
        """A walker at the end of ``e``: leave, turn back, or enter the next edge (the route's or
        another within the tolerance).  Returns the edge entered (>= 0), _LEFT (left the map or
        turned round) or -(1 + why) when held."""
        c = edge_cell[e]
        node = edge_to[e]
        walking_in = state[i] == WALK_IN
        row = target[i] if walking_in else exit_row[i]
        f = view_next[row, node] if walking_in else exit_next[row, node]
        if f == EXIT_HERE:
            if edge_out[e] < 1.0 or cell_out[c] < 1.0:
                status = _BLOCK_OUT
            elif sink_budget[node] < 1.0:
                status = _BLOCK_IN
            else:
                edge_out[e] -= 1.0
                cell_out[c] -= 1.0
                sink_budget[node] -= 1.0
                exited_at[node] += 1
                count[c] -= 1
                passed[e] += 1
                state[i] = EXITED
                edge[i] = -1
                counters[C_EXITED] += 1
                end_wait(i)
                return _LEFT
        elif f < 0:
            q_for_now[0] = e
            return -1 - _BLOCK_OUT
        elif edge_cell[f] == c:             # the goal is back along this cell: turn round
            edge[i] = f
            pos_m[i] = 0.0
            end_wait(i)
            return _LEFT
        else:
            status = try_enter(i, e, c, f)
            if status == _OK:
                end_wait(i)
                return f
        degree = out_start[node + 1] - out_start[node]
        if status != _BLOCK_OUT and degree > 2 and edge_out[e] >= 1.0 and cell_out[c] >= 1.0:
            # Another way within the tolerance of the route's remaining cost, or the expected wait.
            best = view_dist[row, node] if walking_in else exit_dist[row, node]
            slack = max(tol_s, tol_frac * best)
            if f >= 0 and edge_out_cap[f] > 0.0:
                slack = max(slack, held_prev[f] / edge_out_cap[f] * dt)
            for j in range(out_start[node], out_start[node + 1]):
                g = out_edges[j]
                if g == f or g == (e ^ 1) or edge_cell[g] == c:
                    continue
                rest = view_dist[row, edge_to[g]] if walking_in else exit_dist[row, edge_to[g]]
                if edge_cost[g] + rest > best + slack:
                    continue
                if try_enter(i, e, c, g) == _OK:
                    counters[C_REROUTED] += 1
                    end_wait(i)
                    return g
        q_for_now[0] = f if f >= 0 and status != _BLOCK_OUT else e
        return -1 - status

    def leaves_walkers_room(c):
        """Whether one more person standing on cell ``c`` (taking a viewer's ground) leaves the others
        walking there at most the queue density: standing never squeezes walkers to a standstill."""
        walkers_after = count[c] - standing[c] - cells.waiting[c] - 1
        free_after = net.cell_area_m2[c] - (standing[c] + 1) * p.view_space_m2 - cells.waiting[c] / queue_ppm
        return walkers_after <= free_after * queue_ppm

    def walk(i):
        """One walker's move: stop at its viewing spot, or advance and cross nodes (at most MAX_HOPS);
        at a queue it joins the back."""
        e = edge[i]
        c = edge_cell[e]
        length = edge_length[e]
        pos = pos_m[i]
        advance = v0[i] * speed_factor[e] * dt
        if state[i] == WALK_IN and c == view_cell[target[i]]:
            stop = a.stand_frac[i] * length
            if pos <= stop:
                if pos + advance < stop:
                    pos_m[i] = pos + advance
                    return
                pos_m[i] = stop
                fits = leaves_walkers_room(c)
                if fits and standing[c] < view_capacity[c]:
                    state[i] = STANDING
                    standing[c] += 1
                    return
                new_target = _choose_view_target(edge_to[e], cells, net, routes, p, target[i], -1)
                counters[C_RETARGETED] += 1
                if new_target != target[i]:
                    target[i] = new_target
                elif fits:                           # nowhere with room: stay here
                    state[i] = STANDING
                    standing[c] += 1
                return                               # (else wait here, walking, and try again)
        pos = pos + advance
        for _hop in range(MAX_HOPS):
            if q_len[e] > 0 and pos >= length - q_len[e] / (queue_ppm * cell_width[c] * free_share[c]):
                join(i, e, min(pos, length))  # reached the back of the queue at this end: join it
                return
            if pos < length:
                pos_m[i] = pos
                return
            overshoot = pos - length
            pos_m[i] = length
            f = cross_node(i, e)
            if f == _LEFT:
                return
            if f < 0:
                join(i, e, length)
                q_status[e] = -1 - f
                q_for[e] = q_for_now[0]
                return
            edge[i] = f
            e = f
            c = edge_cell[f]
            length = edge_length[f]
            pos = overshoot
            pos_m[i] = min(pos, length)

    for z in range(gate_queue.shape[0]):
        gate_queue[z] = 0
    for e in range(n_edges):
        held_prev[e] = held_for[e]
        held_for[e] = 0
        v0_walking[e] = 0.0
        n_walkers[e] = 0
    for c in range(queued.shape[0]):
        queued[c] = 0
    for i in range(n_active if cells.waiting.sum() > 0 else 0):
        if state[i] == WAITING and a.start_s[i] <= t_s:
            state[i] = WALK_OUT
            mark_may_move(may_move, i)
            cells.waiting[edge_cell[edge[i]]] -= 1
            counters[C_STARTED] += 1
            _turn_to_exit(i, a, net, routes, counters)
    # The queues at edge ends: the people at the head (as many as stand abreast) try to move on.
    edge_offset = order_offset % n_edges
    for k in range(n_edges):
        e = edge_offset + k
        if e >= n_edges:
            e -= n_edges
        if q_len[e] == 0:
            continue
        prev = -1
        i = q_head[e]
        # A try that fails changes nothing, and its outcome depends on the walker only through its
        # route row (and whether it is heading in): until someone gets through, anyone further back
        # with a row that has failed fails alike and is not tried (up to MAX_FAILED_ROWS rows kept).
        n_failed = 0
        for _tried in range(front[e]):
            if i < 0:
                break
            nxt = q_next[i]
            counters[C_QUEUE_TRIES] += 1
            heading_in = state[i] == WALK_IN
            row = target[i] if heading_in else exit_row[i]
            key = 2 * row + (1 if heading_in else 0)
            known = False
            for k_failed in range(n_failed):
                if failed_keys[k_failed] == key:
                    known = True
                    break
            if known:
                prev = i
                i = nxt
                continue
            f = cross_node(i, e)
            if f >= 0 or f == _LEFT:
                n_failed = 0
            elif n_failed < MAX_FAILED_ROWS:
                failed_keys[n_failed] = key
                n_failed += 1
            if f >= 0 or f == _LEFT:
                if prev < 0:
                    q_status[e] = _OK
                unlink(i, e, prev)
                if f >= 0:
                    edge[i] = f
                    pos_m[i] = 0.0
            else:
                if prev < 0:
                    q_status[e] = -1 - f
                    q_for[e] = q_for_now[0]
                prev = i
            i = nxt
    # Walkers not in a queue, listed first, from ``order_offset`` round.  Someone who leaves a
    # queue by a counterflow swap during this pass moves on next step.
    movers = a.movers
    n_movers = list_movers(order_offset, n_active, state, q_edge, may_move, a.relist, movers)
    counters[C_WALKER_MOVES] += n_movers
    walker_pass[0] = True
    for k in range(n_movers):
        i = movers[k]
        e = edge[i]
        c = edge_cell[e]
        pos = pos_m[i] + v0[i] * speed_factor[e] * dt
        length = edge_length[e]
        if (pos < length and not (state[i] == WALK_IN and c == view_cell[target[i]])
                and (q_len[e] == 0 or pos < length - q_len[e] / (queue_ppm * cell_width[c] * free_share[c]))):
            pos_m[i] = pos               # the common case: a step along the edge, short of any queue
        else:
            walk(i)
            s = state[i]
            if (s != WALK_IN and s != WALK_OUT) or q_edge[i] >= 0:
                continue
            e = edge[i]
        v0_walking[e] += v0[i]           # still walking: its free speed counts on its edge
        n_walkers[e] += 1
    walker_pass[0] = False
    # Queue statistics; people held at gates are counted and may give up.
    for e in range(n_edges):
        n = q_len[e]
        if n == 0:
            continue
        queued[edge_cell[e]] += n
        held_for[q_for[e]] += n
        if q_status[e] != _BLOCK_GATE:
            continue
        z = cell_zone[edge_cell[q_for[e]]]
        prev = -1
        i = q_head[e]
        while i >= 0:
            nxt = q_next[i]
            if wait_start[i] < 0.0:
                wait_start[i] = t_s
                set_bit(may_wait, i)
            gate_queue[z] += 1
            if state[i] == WALK_IN and t_s - wait_start[i] >= divert_after[z]:
                # Held too long: a viewing spot elsewhere (another entrance), if one has room.
                new_target = _choose_view_target(edge_to[e], cells, net, routes, p, target[i], z)
                if new_target != target[i]:
                    target[i] = new_target
                    gate_wait[i] = t_s - wait_start[i]
                    wait_start[i] = -1.0
                    counters[C_DIVERTED] += 1
                    unlink(i, e, prev)
                    v0_walking[e] += v0[i]      # walking again, on this edge
                    n_walkers[e] += 1
                    i = nxt
                    continue
            if state[i] == WALK_IN and t_s - wait_start[i] >= patience:   # gives up and goes home
                gate_wait[i] = t_s - wait_start[i]
                wait_start[i] = -1.0
                state[i] = WALK_OUT
                counters[C_BALKED] += 1
                unlink(i, e, prev)
                v0_walking[e] += v0[i]
                n_walkers[e] += 1
            else:
                prev = i
            i = nxt
    # Walkers walking up to a queue held at a gate are joining it.
    for e in range(n_edges):
        if q_len[e] > 0 and q_status[e] == _BLOCK_GATE:
            queued[edge_cell[e]] += n_walkers[e]
    # People waiting at a source step onto the first edge of their route if there is room.
    source_node = a.source_node
    first_waiting = n_active
    for i in range(source_from, n_active):
        if state[i] != AT_SOURCE:
            continue
        first_waiting = min(first_waiting, i)
        f = view_next[target[i], source_node[i]]
        if f < 0:
            continue
        c2 = edge_cell[f]
        z = cell_zone[c2]
        if z >= 0 and (not zone_open[z] or zone_admit[z] <= 0):
            if wait_start[i] < 0.0:
                wait_start[i] = t_s
                set_bit(may_wait, i)
            gate_queue[z] += 1
            if t_s - wait_start[i] >= patience:
                gate_wait[i] = t_s - wait_start[i]
                wait_start[i] = -1.0
                state[i] = EXITED
                counters[C_BALKED] += 1
                counters[C_LEFT_FROM_SOURCE] += 1
            continue
        if in_budget[c2] < 1.0 or count[c2] >= room[c2]:
            continue
        in_budget[c2] -= 1.0
        count[c2] += 1
        if z >= 0:
            zone_admit[z] -= 1
            counters[C_ADMITTED] += 1
            if wait_start[i] >= 0.0:
                gate_wait[i] = t_s - wait_start[i]
                wait_start[i] = -1.0
        edge[i] = f
        pos_m[i] = 0.0
        state[i] = WALK_IN
        mark_may_move(may_move, i)
        counters[C_ENTERED_NETWORK] += 1
        v0_walking[f] += v0[i]
        n_walkers[f] += 1
    return first_waiting


@njit(cache=True)
def place_stats(cells, pl, p):
    """Each place's densest walkers' ground and densest holding cell this step; its peaks, the
    seconds spent at the levels of service that matter (walkers at walkway LOS E and F, people who
    stand or queue at queuing LOS E) and the longest spell at walkway LOS F."""
    for k in range(pl.walk.shape[0]):
        pl.walk[k] = 0.0
        pl.hold[k] = 0.0
    for c in range(cells.count.shape[0]):
        k = pl.cell_place[c]
        if cells.walk_density[c] > pl.walk[k]:
            pl.walk[k] = cells.walk_density[c]
        if cells.hold_density[c] > pl.hold[k]:
            pl.hold[k] = cells.hold_density[c]
        if cells.density_ppm2[c] > pl.peak_total[k]:
            pl.peak_total[k] = cells.density_ppm2[c]
    dt = p.dt_s
    for k in range(pl.walk.shape[0]):
        w = pl.walk[k]
        h = pl.hold[k]
        if w > pl.peak_walk[k]:
            pl.peak_walk[k] = w
        if h > pl.peak_hold[k]:
            pl.peak_hold[k] = h
        if w > p.walk_e_ppm2:
            pl.walk_e_s[k] += dt
        if w > p.walk_f_ppm2:
            pl.walk_f_s[k] += dt
            pl.spell_f_s[k] += dt
            if pl.spell_f_s[k] > pl.longest_f_s[k]:
                pl.longest_f_s[k] = pl.spell_f_s[k]
        else:
            pl.spell_f_s[k] = 0.0
        if h > p.hold_e_ppm2:
            pl.hold_e_s[k] += dt


@njit(cache=True)
def advance(t_s, order_offset, n_active, a, net, cells, edges, zones, nodes, routes, p, counters, zone_cap,
            admitted_out, pl, source_from=0):
    """One whole step in one call (one dispatch of the bundles from Python): cell refresh, zone
    admissions (cap - occupancy, and a metered gate's budget), :func:`step_agents`, people admitted per zone, zone and place
    statistics.  Returns the first agent still waiting at a source (:func:`step_agents`)."""
    refresh_cells(net, cells, edges, zones, nodes, p)
    for z in range(zone_cap.shape[0]):
        admit = zone_cap[z] - zones.occupancy[z]
        rate = net.zone_meter_ppstep[z]
        if rate < np.inf:           # metered gates: a steady number per step (unused: one step carried)
            zones.meter_budget[z] = min(zones.meter_budget[z], max(rate, 1.0)) + rate
            admit = min(admit, np.int64(zones.meter_budget[z]))
        zones.admit[z] = admit
        admitted_out[z] = admit
    first_waiting = step_agents(t_s, order_offset, n_active, a, net, cells, edges, zones, nodes, routes, p, counters,
                                source_from)
    for z in range(zone_cap.shape[0]):
        admitted_out[z] -= zones.admit[z]
        if net.zone_meter_ppstep[z] < np.inf:
            zones.meter_budget[z] -= admitted_out[z]
    zone_stats(cells, net, zones, p)
    place_stats(cells, pl, p)
    return first_waiting


@structref.register
class StepStateType(types.StructRef):
    """Numba's type of :class:`StepState` (its fields' types as Numba sees them)."""

    def preprocess_fields(self, fields):
        return tuple((name, types.unliteral(t)) for name, t in fields)


class StepState(structref.StructRefProxy):
    """Every bundle a step reads, held by Numba (:func:`pack_step_state`), so that a step hands one
    object to :func:`advance_packed` instead of about 100 arrays: Numba unboxes each array of a
    bundle at every call, about 40 us a step (0.4 s a 3-hour night), against about 1 us for this.
    The arrays are shared, not copied: writes from Python (a gate opened) are seen by the next step;
    a bundle replaced by a new object needs a new pack (``CrowdEngine._step_state`` checks)."""


STEP_STATE_FIELDS = ("agents", "net", "cells", "edges", "zones", "nodes", "routes", "params", "counters", "zone_cap",
                     "admitted_out", "places")
structref.define_proxy(StepState, StepStateType, list(STEP_STATE_FIELDS))


@njit(cache=True)
def pack_step_state(agents, net, cells, edges, zones, nodes, routes, params, counters, zone_cap, admitted_out, places):
    """The bundles of :func:`advance` (in its order) as one :class:`StepState`."""
    return StepState(agents, net, cells, edges, zones, nodes, routes, params, counters, zone_cap, admitted_out, places)


@njit(cache=True)
def advance_packed(t_s, order_offset, n_active, s, source_from):
    """:func:`advance` on the bundles of a :class:`StepState`."""
    return advance(t_s, order_offset, n_active, s.agents, s.net, s.cells, s.edges, s.zones, s.nodes, s.routes,
                   s.params, s.counters, s.zone_cap, s.admitted_out, s.places, source_from)


@njit(cache=True)
def _queue_spacing_m(width_m, free_share, queue_density_ppm2, length_m, queued):
    """Distance between people in a queue at an edge's end: one person per (queue density x width
    left to walkers) metre, closer where the queue is longer than the edge."""
    return min(1.0 / (queue_density_ppm2 * width_m * free_share), length_m / queued)


@njit(cache=True)
def queue_positions(pos_m, q_next, edges, net, cells, p, out_pos_m):
    """Where everyone stands (``out_pos_m``): walkers at their own position; people in a queue at
    their place in it, the k-th behind the head ``k`` spacings before the edge's end (the spacing:
    1 / (queue density x width x free share), closer where the queue is longer than the edge), or
    where they joined, if that is further on.  The engine keeps only the
    spot where each joined; this is the read-out for measurements and for people leaving a queue."""
    out_pos_m[:] = pos_m
    for e in range(edges.q_head.shape[0]):
        if edges.queue[e] == 0:
            continue
        length = net.edge_length_m[e]
        spacing_m = _queue_spacing_m(net.cell_width_m[net.edge_cell[e]], cells.free_share[net.edge_cell[e]],
                                     p.queue_density_ppm2, length, edges.queue[e])
        k = 0
        i = edges.q_head[e]
        while i >= 0:
            out_pos_m[i] = max(pos_m[i], length - k * spacing_m)
            k += 1
            i = q_next[i]


@njit(cache=True)
def leave_queues(n_active, a, edges, only_state, net, cells, p):
    """Take everyone in state ``only_state`` (-1: everyone) out of the queues at edge ends (they
    stay at their place in the queue and choose again next step): at the show's end, people heading
    in turn home."""
    q_head, q_tail, q_len = edges.q_head, edges.q_tail, edges.queue
    for e in range(q_head.shape[0]):
        if q_len[e] == 0:
            continue
        length = net.edge_length_m[e]
        spacing_m = _queue_spacing_m(net.cell_width_m[net.edge_cell[e]], cells.free_share[net.edge_cell[e]],
                                     p.queue_density_ppm2, length, q_len[e])
        k = 0
        prev = -1
        i = q_head[e]
        while i >= 0:
            nxt = a.q_next[i]
            place_m = max(a.pos_m[i], length - k * spacing_m)
            k += 1
            if only_state < 0 or a.state[i] == only_state:
                a.pos_m[i] = place_m
                if prev < 0:
                    q_head[e] = nxt
                else:
                    a.q_next[prev] = nxt
                if q_tail[e] == i:
                    q_tail[e] = prev
                q_len[e] -= 1
                a.q_edge[i] = -1
                a.q_next[i] = -1
                mark_may_move(a.may_move, i)
            else:
                prev = i
            i = nxt


@njit(cache=True)
def retarget_full(n_active, a, net, cells, routes, p, counters):
    """Walkers whose viewing spot has filled up choose the best one with room (at route refresh),
    instead of discovering it only on arrival."""
    for i in range(n_active):
        if a.state[i] != WALK_IN:
            continue
        c = routes.view_cell[a.target[i]]
        if cells.standing[c] < net.cell_view_capacity[c]:
            continue
        new_target = _choose_view_target(net.edge_to[a.edge[i]], cells, net, routes, p, a.target[i], -1)
        if new_target != a.target[i]:
            a.target[i] = new_target
            counters[C_RETARGETED] += 1


@njit(cache=True)
def release_standing(start, n_active, state, edge, pos_m, exit_row, may_move, edge_cell, edge_length_m, edge_to,
                     edge_from, standing, exit_dist, edge_cost_s, cell_release_group, group, max_people, counters):
    """Send people standing on cells of release ``group`` home, in arrival order from agent ``start``
    (no one of the group stands below it), at most ``max_people`` (negative: everyone), each facing the
    nearer way to its exit; returns how many, and the agent the next search may start from.  Takes
    the arrays it needs, not the bundles: a marshalled release calls it every step and group, and
    handing over the bundles cost more than the search."""
    released = 0
    i = start
    while i < n_active and released != max_people:
        if state[i] == STANDING:
            c = edge_cell[edge[i]]
            if cell_release_group[c] == group:
                state[i] = WALK_OUT
                mark_may_move(may_move, i)
                standing[c] -= 1
                released += 1
                _turn_round_if_nearer(i, edge, pos_m, exit_row, edge_length_m, edge_to, edge_from, exit_dist,
                                      edge_cost_s, counters)
        i += 1
    return released, i


@njit(cache=True)
def end_arrivals(t_s, n_active, a, counters):
    """At the show's end: walkers still arriving turn home; people still at sources leave at once."""
    for i in range(n_active):
        s = a.state[i]
        if s == WALK_IN or s == AT_SOURCE:
            if a.wait_start_s[i] >= 0.0:
                a.gate_wait_s[i] = t_s - a.wait_start_s[i]
                a.wait_start_s[i] = -1.0
            counters[C_SENT_HOME] += 1
            if s == WALK_IN:
                a.state[i] = WALK_OUT
            else:
                a.state[i] = EXITED
                counters[C_LEFT_FROM_SOURCE] += 1


@njit(cache=True)
def max_per_group(values, group, out):
    """``out[g]`` = the largest ``values[c]`` with ``group[c] == g`` (-inf where none; entries with a
    group outside ``0..out.size-1`` are ignored): one pass instead of one fancy-index per group."""
    for g in range(out.shape[0]):
        out[g] = -np.inf
    for c in range(values.shape[0]):
        g = group[c]
        if 0 <= g < out.shape[0] and values[c] > out[g]:
            out[g] = values[c]


@njit(cache=True)
def zone_stats(cells, net, zones, p):
    """Each cell's densities, as each group of people there experiences it, and each zone's
    occupancy and densest cells.

    ``density_ppm2`` counts everyone on the cell (the crush measure).  People who stand (viewers),
    queue or wait in place take their ground (the view space, or the queue space); the walkers that
    move on the cell share what is left: ``walk_density`` is theirs (judged on Fruin's walkway
    levels), ``hold_density`` the whole cell's where people stand, queue or wait (judged on his
    queuing levels; 0 where nobody does)."""
    for z in range(zones.occupancy.shape[0]):
        zones.occupancy[z] = 0
        zones.max_density[z] = 0.0
        zones.max_walk_density[z] = 0.0
        zones.max_hold_density[z] = 0.0
    for c in range(cells.count.shape[0]):
        area = net.cell_area_m2[c]
        n = cells.count[c]
        rho = n / area
        cells.density_ppm2[c] = rho
        holding = cells.standing[c] + cells.queued[c] + cells.waiting[c]
        walkers = n - holding
        free = area - cells.standing[c] * p.view_space_m2 - (cells.queued[c] + cells.waiting[c]) / p.queue_density_ppm2
        if walkers <= 0:
            walk = 0.0
        else:
            walk = min(walkers / max(free, MIN_FREE_SHARE * area), p.rho_jam_ppm2)
        cells.walk_density[c] = walk
        hold = rho if holding > 0 else 0.0
        cells.hold_density[c] = hold
        z = net.cell_zone[c]
        if z >= 0:
            zones.occupancy[z] += n
            if rho > zones.max_density[z]:
                zones.max_density[z] = rho
            if walk > zones.max_walk_density[z]:
                zones.max_walk_density[z] = walk
            if hold > zones.max_hold_density[z]:
                zones.max_hold_density[z] = hold


@njit(cache=True)
def count_states(n_active, state, edge, edge_cell, out_states, out_cell_count, out_cell_standing, out_cell_waiting):
    """An independent recount: agents per state, and people per cell (on it, standing, waiting),
    from each agent's own state and edge (never from the cells' running counts)."""
    out_states[:] = 0
    out_cell_count[:] = 0
    out_cell_standing[:] = 0
    out_cell_waiting[:] = 0
    for i in range(n_active):
        s = state[i]
        out_states[s] += 1
        if s == WALK_IN or s == WALK_OUT or s == STANDING or s == WAITING:
            c = edge_cell[edge[i]]
            out_cell_count[c] += 1
            if s == STANDING:
                out_cell_standing[c] += 1
            elif s == WAITING:
                out_cell_waiting[c] += 1


@njit(cache=True)
def check_marks(n_active, state, q_edge, wait_start_s, may_move, may_wait, out):
    """The recount's look at the bitmaps, from each agent's own state: ``out[0]`` the first walker
    not in a queue that ``may_move`` misses, ``out[1]`` the first person waiting at a gate that
    ``may_wait`` misses (-1: none), ``out[2]`` the people in queues."""
    out[0] = -1
    out[1] = -1
    out[2] = 0
    for i in range(n_active):
        s = state[i]
        if q_edge[i] >= 0:
            out[2] += 1
        elif (s == WALK_IN or s == WALK_OUT) and out[0] < 0 and not has_bit(may_move, i):
            out[0] = i
        if wait_start_s[i] >= 0.0 and out[1] < 0 and not has_bit(may_wait, i):
            out[1] = i


@njit(cache=True)
def edge_costs(net, speed_factor, v0_mps, cell_covered, shelter_factor, queue_len, free_share, queue_density_ppm2,
               dt_s, min_speed_mps, penalty_s, out_cost_s):
    """Perceived time to cross each directed edge: the walk up to the back of the queue at its end
    at the walkers' speed there (stairs and congestion included; uncovered cells weighted by the
    rain's shelter factor), plus the wait in that queue (the people in it over the edge's sending
    capacity, or over the exit's own rate where the edge ends at an exit that lets out fewer: a queue
    at a metro entrance costs what it takes to get in), plus ``penalty_s`` (one-way ways walked
    against their direction).  Without a queue: length / speed."""
    for e in range(net.edge_cell.shape[0]):
        c = net.edge_cell[e]
        v = max(v0_mps * speed_factor[e], min_speed_mps)
        length = net.edge_length_m[e]
        wait_s = 0.0
        if queue_len[e] > 0:
            width = net.cell_width_m[c] * free_share[c]
            length = max(length - queue_len[e] / (queue_density_ppm2 * width), 0.0)
            rate = min(net.edge_out_cap[e] * free_share[c], net.sink_rate[net.edge_to[e]])
            wait_s = queue_len[e] / max(rate, 1e-9) * dt_s
        cost = length / v
        if not cell_covered[c]:
            cost *= shelter_factor
        out_cost_s[e] = cost + wait_s + penalty_s[e]


@njit(cache=True)
def record_step(k, occupancy, max_density, max_walk_density, max_hold_density, gate_queue, admitted,
                cell_density, cell_walk_density, cell_hold_density, rec_occupancy, rec_max_density,
                rec_max_walk_density, rec_max_hold_density, rec_gate_queue, rec_admitted, peak_density,
                peak_walk, peak_hold):
    """Row ``k`` of the recorder's per-zone series from this step's zone statistics, and each cell's
    peak densities so far (one call instead of a dozen NumPy ones per step)."""
    for z in range(occupancy.shape[0]):
        rec_occupancy[k, z] = occupancy[z]
        rec_max_density[k, z] = max_density[z]
        rec_max_walk_density[k, z] = max_walk_density[z]
        rec_max_hold_density[k, z] = max_hold_density[z]
        rec_gate_queue[k, z] = gate_queue[z]
        rec_admitted[k, z] = admitted[z]
    for c in range(cell_density.shape[0]):
        peak_density[c] = max(peak_density[c], cell_density[c])
        peak_walk[c] = max(peak_walk[c], cell_walk_density[c])
        peak_hold[c] = max(peak_hold[c], cell_hold_density[c])
