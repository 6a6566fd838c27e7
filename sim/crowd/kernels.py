"""Numba kernels of the crowd engine: arrays in, arrays out, no I/O.

The pedestrian rules (the plain-Python reference in :mod:`sim.reference` implements the same):

* Walkers on a cell move at Weidmann's speed for the cell's density (both directions share the
  cell's area), computed once per step from the densities at the start of the step; above the
  critical density they advance at q_max / rho, so a queue discharges at capacity.
* A walker at the end of its edge crosses into the next edge of its route only if all hold:
  the edge it leaves still has *sending* capacity this step (width x specific-flow capacity x dt:
  the fundamental diagram's maximum, or the IMO figure for stairs, or a share of it at signalised
  crossings); the cell it enters still has *receiving* capacity (width x dt x the maximum flow
  while its density is below critical, else the congested flow rho * v(rho)); the cell is below
  its jam capacity (area x jam density), except that two people waiting to cross the same node in
  opposite directions may swap places up to the body limit (area x rho_max); and, when the cell belongs to another zone with a gate,
  the gate is open and still admits people this step.  Otherwise the walker waits at the end of
  its edge: it queues, it never vanishes.
* Fractions of capacity carry over to the next step (at most one person), so flows are exact on
  average.
* Walkers are processed from a rotating start index drawn from the run's random generator, then
  people waiting at sources in arrival order, so no agent index is always first.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..core.routing import EXIT_HERE
from .fundamental import weidmann_flow, weidmann_speed

__all__ = [
    "PENDING", "AT_SOURCE", "WALK_IN", "STANDING", "WALK_OUT", "EXITED",
    "C_EXITED", "C_BALKED", "C_RETARGETED", "C_ENTERED_NETWORK", "C_ADMITTED", "N_COUNTERS",
    "refresh_cells", "step_agents", "retarget_full", "release_standing", "end_arrivals", "zone_stats", "count_states",
    "edge_costs",
]

# Agent states.
PENDING, AT_SOURCE, WALK_IN, STANDING, WALK_OUT, EXITED = 0, 1, 2, 3, 4, 5
# Indices into the per-step counters array.
C_EXITED, C_BALKED, C_RETARGETED, C_ENTERED_NETWORK, C_ADMITTED, C_LEFT_FROM_SOURCE = 0, 1, 2, 3, 4, 5
N_COUNTERS = 6


@njit(cache=True)
def refresh_cells(cell_count, cell_area_m2, cell_width_m, dt_s, v0_mps, gamma, rho_max, rho_crit,
                  q_max_ppms, cell_density, cell_speed, cell_move_speed, in_budget, edge_out_cap, out_budget,
                  sink_rate, sink_budget):
    """Densities, speeds and this step's flow budgets, from the counts at the start of the step.

    ``cell_speed`` is Weidmann's speed (routing costs, reported speeds); ``cell_move_speed`` is how
    fast walkers advance toward the cell's end (equal below critical density)."""
    for c in range(cell_count.shape[0]):
        rho = cell_count[c] / cell_area_m2[c]
        cell_density[c] = rho
        cell_speed[c] = weidmann_speed(rho, v0_mps, gamma, rho_max)
        if rho <= rho_crit:
            supply = q_max_ppms
            cell_move_speed[c] = cell_speed[c]
        else:
            supply = weidmann_flow(rho, v0_mps, gamma, rho_max)
            # Queue discharge: a congested cell still sends at capacity toward its ends (the sending
            # side of the cell transmission model), so walkers advance at q_max / rho.
            cell_move_speed[c] = q_max_ppms / rho
        in_budget[c] = min(in_budget[c], 1.0) + supply * cell_width_m[c] * dt_s
    for e in range(edge_out_cap.shape[0]):
        out_budget[e] = min(out_budget[e], 1.0) + edge_out_cap[e]
    for n in range(sink_rate.shape[0]):
        sink_budget[n] = min(sink_budget[n], 1.0) + sink_rate[n]


@njit(cache=True)
def _choose_view_target(node, view_cell, cell_standing, cell_view_capacity, view_log_attr, view_dist,
                        distance_scale_s, current):
    """Best viewing target with room, scored by attractiveness and travel time from ``node``."""
    best = current
    best_score = -np.inf
    for t in range(view_cell.shape[0]):
        c = view_cell[t]
        if t == current or cell_standing[c] >= cell_view_capacity[c]:
            continue
        d = view_dist[t, node]
        if not np.isfinite(d):
            continue
        score = view_log_attr[t] - d / distance_scale_s
        if score > best_score:
            best_score = score
            best = t
    return best


@njit(cache=True)
def step_agents(t_s, dt_s, order_offset, n_active, state, edge, pos_m, target, stand_frac, source_node,
                exit_group, wait_start_s, gate_wait_s, edge_to, edge_cell, edge_length_m, out_budget,
                cell_count, cell_standing, cell_capacity, cell_view_capacity, cell_zone, cell_move_speed,
                in_budget, zone_open, zone_admit, zone_gate_queue, view_next, view_dist, view_cell,
                view_log_attr, distance_scale_s, exit_next, sink_budget, patience_s, counters, edge_queue,
                edge_passed, cell_hard_capacity, swap_wait_prev, swap_wait_now):
    """One step for agents ``0..n_active-1``: walkers from ``order_offset`` round (the rules are in
    the module docstring), then people waiting at sources, in arrival order."""
    for z in range(zone_gate_queue.shape[0]):
        zone_gate_queue[z] = 0
    for e in range(edge_queue.shape[0]):
        edge_queue[e] = 0
        swap_wait_prev[e] = swap_wait_now[e]
        swap_wait_now[e] = 0
    for k in range(n_active):
        i = order_offset + k
        if i >= n_active:
            i -= n_active
        s = state[i]
        if s != WALK_IN and s != WALK_OUT:
            continue
        e = edge[i]
        c = edge_cell[e]
        length = edge_length_m[e]
        pos = pos_m[i]
        advance = cell_move_speed[c] * dt_s
        if s == WALK_IN and c == view_cell[target[i]]:
            stop = stand_frac[i] * length
            if pos <= stop:
                if pos + advance < stop:
                    pos_m[i] = pos + advance
                    continue
                pos_m[i] = stop
                if cell_standing[c] < cell_view_capacity[c]:
                    state[i] = STANDING
                    cell_standing[c] += 1
                    continue
                new_target = _choose_view_target(edge_to[e], view_cell, cell_standing, cell_view_capacity,
                                                 view_log_attr, view_dist, distance_scale_s, target[i])
                counters[C_RETARGETED] += 1
                if new_target == target[i]:          # nowhere with room: stay here
                    state[i] = STANDING
                    cell_standing[c] += 1
                else:
                    target[i] = new_target
                continue
        pos = pos + advance
        if pos < length:
            pos_m[i] = pos
            continue
        overshoot = pos - length
        pos_m[i] = length
        node = edge_to[e]
        if s == WALK_IN:
            f = view_next[target[i], node]
        else:
            f = exit_next[exit_group[i], node]
        if f == EXIT_HERE:
            if sink_budget[node] >= 1.0:
                sink_budget[node] -= 1.0
                cell_count[c] -= 1
                state[i] = EXITED
                edge[i] = -1
                counters[C_EXITED] += 1
                edge_passed[e] += 1
            else:
                edge_queue[e] += 1
            continue
        if f < 0:
            continue
        c2 = edge_cell[f]
        if c2 == c:                                   # turn back on the same cell
            edge[i] = f
            pos_m[i] = 0.0
            continue
        z = cell_zone[c2]
        gated = z >= 0 and cell_zone[c] != z
        if gated and (not zone_open[z] or zone_admit[z] <= 0):
            if wait_start_s[i] < 0.0:
                wait_start_s[i] = t_s
            zone_gate_queue[z] += 1
            edge_queue[e] += 1
            if s == WALK_IN and t_s - wait_start_s[i] >= patience_s:   # gives up and goes home
                gate_wait_s[i] = t_s - wait_start_s[i]
                wait_start_s[i] = -1.0
                state[i] = WALK_OUT
                counters[C_BALKED] += 1
            continue
        if out_budget[e] < 1.0:
            edge_queue[e] += 1
            continue
        if in_budget[c2] < 1.0 or cell_count[c2] >= cell_capacity[c2]:
            # Counterflow swap: someone in c2 waits to come the other way into c, so the two squeeze
            # past each other (bounded by the body limit) instead of locking each other in.
            if swap_wait_prev[e ^ 1] > 0 and cell_count[c2] < cell_hard_capacity[c2]:
                swap_wait_prev[e ^ 1] -= 1
            else:
                swap_wait_now[f] += 1
                edge_queue[e] += 1
                continue
        else:
            in_budget[c2] -= 1.0
        out_budget[e] -= 1.0
        cell_count[c] -= 1
        cell_count[c2] += 1
        if gated:
            zone_admit[z] -= 1
            counters[C_ADMITTED] += 1
            if wait_start_s[i] >= 0.0:
                gate_wait_s[i] = t_s - wait_start_s[i]
                wait_start_s[i] = -1.0
        edge_passed[e] += 1
        edge[i] = f
        pos_m[i] = min(overshoot, edge_length_m[f])
    # People waiting at a source step onto the first edge of their route if there is room.
    for i in range(n_active):
        if state[i] != AT_SOURCE:
            continue
        f = view_next[target[i], source_node[i]]
        if f < 0:
            continue
        c2 = edge_cell[f]
        z = cell_zone[c2]
        if z >= 0 and (not zone_open[z] or zone_admit[z] <= 0):
            if wait_start_s[i] < 0.0:
                wait_start_s[i] = t_s
            zone_gate_queue[z] += 1
            if t_s - wait_start_s[i] >= patience_s:
                gate_wait_s[i] = t_s - wait_start_s[i]
                wait_start_s[i] = -1.0
                state[i] = EXITED
                counters[C_BALKED] += 1
                counters[C_LEFT_FROM_SOURCE] += 1
            continue
        if in_budget[c2] < 1.0 or cell_count[c2] >= cell_capacity[c2]:
            continue
        in_budget[c2] -= 1.0
        cell_count[c2] += 1
        if z >= 0:
            zone_admit[z] -= 1
            counters[C_ADMITTED] += 1
            if wait_start_s[i] >= 0.0:
                gate_wait_s[i] = t_s - wait_start_s[i]
                wait_start_s[i] = -1.0
        edge[i] = f
        pos_m[i] = 0.0
        state[i] = WALK_IN
        counters[C_ENTERED_NETWORK] += 1


@njit(cache=True)
def retarget_full(n_active, state, edge, target, edge_to, edge_cell, view_cell, cell_standing,
                  cell_view_capacity, view_log_attr, view_dist, distance_scale_s, counters):
    """Walkers whose viewing spot has filled up choose the best one with room (at route refresh),
    instead of discovering it only on arrival."""
    for i in range(n_active):
        if state[i] != WALK_IN:
            continue
        c = view_cell[target[i]]
        if cell_standing[c] < cell_view_capacity[c]:
            continue
        node = edge_to[edge[i]]
        new_target = _choose_view_target(node, view_cell, cell_standing, cell_view_capacity, view_log_attr,
                                         view_dist, distance_scale_s, target[i])
        if new_target != target[i]:
            target[i] = new_target
            counters[C_RETARGETED] += 1


@njit(cache=True)
def release_standing(n_active, state, edge, edge_cell, cell_standing, cell_release_group, group, max_people):
    """Send people standing on cells of release ``group`` home, in arrival order, at most
    ``max_people`` (negative: everyone); returns how many were released."""
    released = 0
    for i in range(n_active):
        if released == max_people:
            break
        if state[i] == STANDING:
            c = edge_cell[edge[i]]
            if cell_release_group[c] == group:
                state[i] = WALK_OUT
                cell_standing[c] -= 1
                released += 1
    return released


@njit(cache=True)
def end_arrivals(t_s, n_active, state, wait_start_s, gate_wait_s, counters):
    """At the show's end: walkers still arriving turn home; people still at sources leave at once."""
    for i in range(n_active):
        s = state[i]
        if s == WALK_IN or s == AT_SOURCE:
            if wait_start_s[i] >= 0.0:
                gate_wait_s[i] = t_s - wait_start_s[i]
                wait_start_s[i] = -1.0
            if s == WALK_IN:
                state[i] = WALK_OUT
            else:
                state[i] = EXITED
                counters[C_LEFT_FROM_SOURCE] += 1


@njit(cache=True)
def zone_stats(cell_count, cell_area_m2, cell_zone, zone_occupancy, zone_max_density):
    """Occupancy and densest cell of each zone."""
    for z in range(zone_occupancy.shape[0]):
        zone_occupancy[z] = 0
        zone_max_density[z] = 0.0
    for c in range(cell_count.shape[0]):
        z = cell_zone[c]
        if z >= 0:
            zone_occupancy[z] += cell_count[c]
            rho = cell_count[c] / cell_area_m2[c]
            if rho > zone_max_density[z]:
                zone_max_density[z] = rho


@njit(cache=True)
def count_states(n_active, state, out):
    """How many agents are in each state (an independent recount for the conservation check)."""
    for k in range(out.shape[0]):
        out[k] = 0
    for i in range(n_active):
        out[state[i]] += 1


@njit(cache=True)
def edge_costs(edge_cell, edge_length_m, cell_speed, cell_covered, shelter_factor, queue_delay_s, min_speed_mps,
               out_cost_s):
    """Perceived travel time of each directed edge: length / congested speed, uncovered cells
    weighted by the rain's shelter factor, plus the queue delay at its end."""
    for e in range(edge_cell.shape[0]):
        c = edge_cell[e]
        v = max(cell_speed[c], min_speed_mps)
        cost = edge_length_m[e] / v
        if not cell_covered[c]:
            cost *= shelter_factor
        out_cost_s[e] = cost + queue_delay_s[e]
