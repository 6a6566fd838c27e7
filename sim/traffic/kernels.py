"""Numba kernels of the vehicle engine: arrays in, arrays out, no I/O.

The rules (Intelligent Driver Model, Treiber, Hennecke & Helbing 2000):

* Each directed road edge has lanes: its motor lanes, then its single-file bicycle lanes.
  Vehicles keep the lane they chose on entering an edge (the allowed lane with the most free space);
  there is no lane changing within an edge.
* Every step, driving vehicles are sorted by lane and position.  A vehicle's leader is the next
  vehicle ahead in its lane; the front vehicle of a lane looks ahead along its route (up to
  ``LOOKAHEAD_M``): a red signal or a tunnel portal closed to its class is a standing obstacle at the
  stop line; otherwise the rearmost vehicle of the next edge's best lane is its leader.
* Acceleration is IDM's: ``a [1 - (v/v0)^delta - (s*/s)^2]`` with ``s* = s0 + v T + v dv / (2 sqrt(a b))``,
  integrated ballistically over ``dt``.  Before a stop line that has just appeared (a red signal, a
  closed portal) drivers brake for what stopping takes (:func:`stop_line_acceleration`, the ACC
  model's constant-acceleration heuristic) instead of IDM's emergency response.  Braking beyond
  ``MAX_DECEL_MPS2`` is clamped, and counted, as are speed cuts by the no-overlap clamp and
  instant stops on hand-over (the engine's ``kinematics``).  From the positions at the start of the step no vehicle
  moves closer than ``MIN_GAP_M`` to anything ahead of it (leaders only move forward, so this
  guarantees no overlap), none comes closer than its ``s0`` to a standing leader or stop line (where
  IDM comes to rest; a ballistic step would overshoot), and none moves backwards.
* Vehicles that reach the end of their edge are handed on one by one, higher road classes first
  (priority at unsignalised junctions), into the allowed lane of the next edge with the most space,
  never closer than ``MIN_GAP_M`` to its last vehicle; a vehicle with no room waits at the end of its
  edge.  On the approach to a portal closed to motor vehicles, those bound for it keep to the first
  lane and the others keep out of it, so a queue for a closed tube does not block the other tube's
  exit traffic.  A bicycle that reaches a tunnel portal joins the portal's waiting area (a FIFO queue).
* Waiting vehicles (at their origin, or in a portal's waiting area) enter an edge at position 0 when
  the best lane has room for the equilibrium gap at the insertion speed (one per lane per step);
  waiting areas let out only as many as the tunnel controller allows.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..core.routing import EXIT_HERE

__all__ = [
    "PENDING", "QUEUED", "DRIVING", "ARRIVED", "MIN_GAP_M", "LOOKAHEAD_M", "STOPPED_MPS", "MAX_DECEL_MPS2",
    "C_ARRIVED", "C_DECEL_CLAMP", "C_HARD_STOP", "C_INSTANT_STOP", "C_OVERLAP", "N_COUNTERS", "tube_order_check",
    "idm_acceleration", "equilibrium_gap_m", "equilibrium_speed_mps", "sort_lanes", "update_signals",
    "move_vehicles", "hand_on", "insert_from_queues", "queue_push", "queue_push_front", "count_states",
    "tube_occupancy", "portal_queues",
]

# Vehicle states.
PENDING, QUEUED, DRIVING, ARRIVED = 0, 1, 2, 3
MIN_GAP_M = 0.1            # closest approach allowed by the position clamp (bumper to bumper)
LOOKAHEAD_M = 50.0         # the front vehicle of a lane looks this far along its route ...
LOOKAHEAD_S = 8.0          # ... plus this many seconds of travel (IDM's interaction term is < 2% beyond)
STOPPED_MPS = 0.5          # below this a vehicle counts as waiting (queue, wait time)
DILEMMA_DECEL_MPS2 = 4.0   # at a signal turning red, a vehicle that would need more than this goes on
MAX_DECEL_MPS2 = 9.0       # braking beyond this is clamped (and counted): about the limit of tyres on dry asphalt
_FAR = 1.0e9
# Slots of the engine's ``counters`` array.
C_ARRIVED, C_DECEL_CLAMP, C_HARD_STOP, C_INSTANT_STOP, C_OVERLAP = 0, 1, 2, 3, 4
N_COUNTERS = 8


@njit(cache=True)
def idm_acceleration(v, v0, gap_m, dv, a, b, s0, t_headway, delta):
    """IDM acceleration (m/s2) at speed ``v``, desired speed ``v0``, bumper gap ``gap_m`` and
    approach rate ``dv = v - v_leader``."""
    s_star = s0 + max(0.0, v * t_headway + v * dv / (2.0 * math.sqrt(a * b)))
    gap = max(gap_m, 0.01)
    if v0 <= 0.0:
        free = -1.0
    elif delta == 4.0:
        x = v / v0
        x *= x
        free = 1.0 - x * x
    else:
        free = 1.0 - (v / v0) ** delta
    r = s_star / gap
    return a * (free - r * r)


@njit(cache=True)
def stop_line_acceleration(acc_idm, v, gap_m, b):
    """Braking for a stop line that has just appeared (a signal turning red, a portal closing):
    IDM alone treats it as a standing leader met at full speed and asks for far more than the
    kinematic need ``v^2 / (2 s)``.  Drivers brake for what stopping takes: the constant-acceleration
    heuristic of the ACC model (Kesting, Treiber & Helbing 2010, Phil. Trans. R. Soc. A 368:4585),
    ``(1 - c) a_IDM + c [a_CAH + b tanh((a_IDM - a_CAH) / b)]`` with c = 0.99 and, for a standing
    obstacle, ``a_CAH = -v^2 / (2 s)``; IDM's own value where it brakes less."""
    a_cah = -v * v / (2.0 * max(gap_m, 0.01))
    if acc_idm >= a_cah:
        return acc_idm
    return 0.01 * acc_idm + 0.99 * (a_cah + b * math.tanh((acc_idm - a_cah) / b))


@njit(cache=True)
def equilibrium_gap_m(v, v0, s0, t_headway, delta):
    """IDM steady-state gap at speed ``v``: (s0 + v T) / sqrt(1 - (v/v0)^delta)."""
    ratio = 1.0 - (v / v0) ** delta
    if ratio <= 1e-12:
        return _FAR
    return (s0 + v * t_headway) / math.sqrt(ratio)


@njit(cache=True)
def equilibrium_speed_mps(gap_m, v0, s0, t_headway, delta):
    """Inverse of :func:`equilibrium_gap_m` (bisection): the speed whose steady-state gap is ``gap_m``."""
    if gap_m <= s0:
        return 0.0
    lo, hi = 0.0, v0
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        if equilibrium_gap_m(mid, v0, s0, t_headway, delta) < gap_m:
            lo = mid
        else:
            hi = mid
    return lo


@njit(cache=True)
def sort_lanes(active, n_active, veh_state, veh_lane, veh_pos, veh_stamp, stamp, lane_count, lane_first,
               lane_cursor, order, prev_occ, n_prev, occ_lanes):
    """Drop vehicles that stopped driving from ``active`` (in place) and bucket the rest by lane,
    each bucket sorted by position (rear first): lane ``l``'s vehicles are
    ``order[lane_first[l] : lane_first[l] + lane_count[l]]``.  Only the lanes listed in ``prev_occ``
    (occupied last step) and ``occ_lanes`` (occupied now, filled here) are touched, so the cost
    does not grow with the size of the network.

    A vehicle may appear twice in ``active`` (it left for a waiting area and re-entered in the same
    step); ``veh_stamp`` keeps only its first entry.  Returns (vehicles driving, occupied lanes)."""
    for q in range(n_prev):
        lane_count[prev_occ[q]] = 0
    m = 0
    n_occ = 0
    for k in range(n_active):
        i = active[k]
        if veh_state[i] == DRIVING and veh_stamp[i] != stamp:
            veh_stamp[i] = stamp
            active[m] = i
            m += 1
            lane = veh_lane[i]
            if lane_count[lane] == 0:
                occ_lanes[n_occ] = lane
                n_occ += 1
            lane_count[lane] += 1
    start = 0
    for q in range(n_occ):
        lane = occ_lanes[q]
        lane_first[lane] = start
        lane_cursor[lane] = start
        start += lane_count[lane]
    for k in range(m):
        i = active[k]
        lane = veh_lane[i]
        order[lane_cursor[lane]] = i
        lane_cursor[lane] += 1
    for q in range(n_occ):                           # insertion sort: buckets are nearly sorted
        lane = occ_lanes[q]
        lo = lane_first[lane]
        hi = lo + lane_count[lane]
        for k in range(lo + 1, hi):
            i = order[k]
            p = veh_pos[i]
            j = k - 1
            while j >= lo and veh_pos[order[j]] > p:
                order[j + 1] = order[j]
                j -= 1
            order[j + 1] = i
    return m, n_occ


@njit(cache=True)
def update_signals(t_s, signal_edges, edge_signal_group, edge_signal_offset_s, cycle_s, intergreen_s, edge_red):
    """Fixed-time two-phase signals: edge ``e`` ending at a signalised node is green while
    ``(t + offset) mod cycle`` lies in its group's half of the cycle, less the intergreen."""
    half = 0.5 * cycle_s
    for k in range(signal_edges.shape[0]):
        e = signal_edges[k]
        phase_t = (t_s + edge_signal_offset_s[e]) % cycle_s
        start = edge_signal_group[e] * half
        edge_red[e] = not (start <= phase_t < start + half - intergreen_s)


@njit(cache=True, inline="always")
def _lane_ok(lane, e, is_bike, lane_start, edge_motor_lanes, edge_bike_lane, edge_convoy_lanes):
    k = lane - lane_start[e]
    if is_bike:
        if edge_bike_lane[e] > 0 and k >= edge_motor_lanes[e]:
            return True
        return k < edge_convoy_lanes[e]
    return k < edge_motor_lanes[e]


@njit(cache=True, inline="always")
def _portal_rule(i, e, is_bike, is_escort, veh_mode, veh_dest, next_hop, dest_node, edge_to, edge_gate,
                 edge_approach, gate_motor_open):
    """Lane discipline near a portal closed to motor vehicles (as police channel traffic there):
    on its approach, vehicles bound for it keep to the first lane (1), the others leave the first lane
    free of them (2); elsewhere any lane (0)."""
    g = edge_approach[e]
    if g < 0 or is_bike or is_escort or gate_motor_open[g]:
        return 0
    if edge_len_hops_bound(i, e, g, veh_mode, veh_dest, next_hop, dest_node, edge_to, edge_gate):
        return 1
    return 2


@njit(cache=True, inline="always")
def edge_len_hops_bound(i, e, g, veh_mode, veh_dest, next_hop, dest_node, edge_to, edge_gate):
    """Does vehicle ``i``'s route from the end of edge ``e`` enter portal ``g`` within 8 edges?"""
    cur = e
    for _hop in range(8):
        node = edge_to[cur]
        if node == dest_node[veh_dest[i]]:
            return False
        ne = next_hop[veh_mode[i], veh_dest[i], node]
        if ne < 0:
            return False
        if edge_gate[ne] == g:
            return True
        cur = ne
    return False


@njit(cache=True, inline="always")
def _best_lane(e, is_bike, lane_start, edge_motor_lanes, edge_bike_lane, edge_convoy_lanes, lane_rear_m,
               rule=0):
    """Allowed lane of edge ``e`` with the most room at its start (-1 if none is allowed); ``rule``
    1 keeps to the first lane, 2 avoids it where there is another (see :func:`_portal_rule`)."""
    best = -1
    best_rear = -_FAR
    for lane in range(lane_start[e], lane_start[e + 1]):
        k = lane - lane_start[e]
        if rule == 1 and k > 0:
            continue
        if rule == 2 and k == 0 and edge_motor_lanes[e] > 1:
            continue
        if _lane_ok(lane, e, is_bike, lane_start, edge_motor_lanes, edge_bike_lane, edge_convoy_lanes):
            if lane_rear_m[lane] > best_rear:
                best_rear = lane_rear_m[lane]
                best = lane
    return best


@njit(cache=True, inline="always")
def _min_rear(e, lane_start, lane_rear_m):
    """Rear of the rearmost vehicle over all lanes of edge ``e`` (a closing escort stays behind the
    whole convoy, not just its own lane)."""
    rear = _FAR
    for lane in range(lane_start[e], lane_start[e + 1]):
        rear = min(rear, lane_rear_m[lane])
    return rear


@njit(cache=True, inline="always")
def _next_edge(i, node, veh_mode, veh_dest, next_hop):
    return next_hop[veh_mode[i], veh_dest[i], node]


@njit(cache=True, inline="always")
def _blocked_at_end(e, is_bike, is_escort, next_e, edge_red, edge_gate, gate_motor_open):
    """Is the end of edge ``e`` a stop line for this vehicle (red signal, or portal closed to it)?"""
    if edge_red[e]:
        return True
    g = edge_gate[next_e]
    if g >= 0 and not is_bike and not is_escort and not gate_motor_open[g]:
        return True
    return False


@njit(cache=True)
def move_vehicles(t_s, dt_s, order, lane_first, lane_count, occ_lanes, n_occ, prev_occ, n_prev, lane_edge, lane_start,
                  lane_rear_m, lane_rear_speed,
                  veh_cls, veh_mode, veh_dest, veh_v0, veh_edge, veh_lane, veh_pos, veh_speed, veh_wait_s,
                  cls_length, cls_s0, cls_t, cls_a, cls_b, cls_delta, cls_is_bike, cls_is_escort,
                  edge_len, edge_to, edge_speed_limit, edge_motor_lanes, edge_bike_lane, edge_convoy_lanes,
                  edge_convoy_speed, edge_red, edge_gate, edge_approach, gate_motor_open, dest_node, next_hop,
                  new_pos, new_speed, edge_speed_sum, edge_speed_n, counters):
    """IDM step for every driving vehicle from the state at the start of the step.

    Writes ``new_pos`` / ``new_speed`` (positions may pass the edge end: :func:`hand_on` moves those
    vehicles on) and accumulates per-mode, per-edge speed sums for routing (``edge_speed_sum[mode, e]``).
    Counts (``counters``): braking clamped at ``MAX_DECEL_MPS2``, speed cuts by the no-overlap clamp
    faster than that, and overlapping vehicle pairs seen at the start of the step (always 0)."""
    for q in range(n_prev):            # lanes emptied since the last step
        lane_rear_m[prev_occ[q]] = _FAR
        lane_rear_speed[prev_occ[q]] = 0.0
    for q in range(n_occ):             # rear of each occupied lane and its speed (old state), for look-ahead
        lane = occ_lanes[q]
        j = order[lane_first[lane]]
        lane_rear_m[lane] = veh_pos[j] - cls_length[veh_cls[j]]
        lane_rear_speed[lane] = veh_speed[j]
    for q in range(n_occ):
        lane = occ_lanes[q]
        lo = lane_first[lane]
        hi = lo + lane_count[lane]
        e = lane_edge[lane]
        for k in range(lo, hi):
            i = order[k]
            c = veh_cls[i]
            is_bike = cls_is_bike[c]
            is_escort = cls_is_escort[c]
            v = veh_speed[i]
            pos = veh_pos[i]
            v0 = min(veh_v0[i], edge_speed_limit[e])
            if edge_convoy_speed[e] > 0.0:
                v0 = edge_convoy_speed[e] if is_escort else 0.97 * edge_convoy_speed[e]
            gap = _FAR
            v_lead = 0.0
            stop_line = False
            side_gap = _FAR
            side_v = 0.0
            if is_escort and edge_convoy_speed[e] > 0.0:
                # an escort in a convoy keeps behind the nearest vehicle ahead in every lane
                for other in range(lane_start[e], lane_start[e + 1]):
                    if other == lane:
                        continue
                    for kk in range(lane_first[other], lane_first[other] + lane_count[other]):
                        j = order[kk]
                        if veh_pos[j] > pos:
                            g2 = veh_pos[j] - cls_length[veh_cls[j]] - pos
                            if g2 < side_gap:
                                side_gap = g2
                                side_v = veh_speed[j]
                            break
            if k + 1 < hi:
                j = order[k + 1]
                gap = veh_pos[j] - cls_length[veh_cls[j]] - pos
                v_lead = veh_speed[j]
                if gap < -1e-6:
                    counters[C_OVERLAP] += 1
            else:
                dist = edge_len[e] - pos
                cur = e
                for _hop in range(12):
                    node = edge_to[cur]
                    if node == dest_node[veh_dest[i]]:
                        break
                    ne = _next_edge(i, node, veh_mode, veh_dest, next_hop)
                    if ne < 0:
                        gap = dist
                        v_lead = 0.0
                        break
                    if _blocked_at_end(cur, is_bike, is_escort, ne, edge_red, edge_gate, gate_motor_open):
                        dilemma = cur == e and v * v / (2.0 * max(dist, 0.1)) > DILEMMA_DECEL_MPS2 \
                            and not (edge_gate[ne] >= 0 and not is_escort)
                        if not dilemma:
                            gap = dist
                            v_lead = 0.0
                            stop_line = True
                            break
                    if is_bike and edge_gate[ne] >= 0 and not is_escort:
                        break                                  # rides into the portal's waiting area
                    rule = _portal_rule(i, ne, is_bike, is_escort, veh_mode, veh_dest, next_hop, dest_node,
                                        edge_to, edge_gate, edge_approach, gate_motor_open)
                    best = _best_lane(ne, is_bike, lane_start, edge_motor_lanes, edge_bike_lane,
                                      edge_convoy_lanes, lane_rear_m, rule)
                    if best < 0:
                        gap = dist
                        v_lead = 0.0
                        break
                    if lane_rear_m[best] < _FAR:
                        gap = dist + lane_rear_m[best]
                        v_lead = lane_rear_speed[best]
                        break
                    dist += edge_len[ne]
                    if dist > LOOKAHEAD_M + LOOKAHEAD_S * v:
                        break
                    cur = ne
            if side_gap < gap:
                gap = side_gap
                v_lead = side_v
            acc = idm_acceleration(v, v0, gap, v - v_lead, cls_a[c], cls_b[c], cls_s0[c], cls_t[c], cls_delta[c])
            if stop_line and side_gap >= gap:
                acc = stop_line_acceleration(acc, v, gap, cls_b[c])
            if acc < -MAX_DECEL_MPS2:
                counters[C_DECEL_CLAMP] += 1
                acc = -MAX_DECEL_MPS2
            v_next = v + acc * dt_s
            if v_next < 0.0:
                dx = -v * v / (2.0 * acc) if acc < 0.0 else 0.0
                v_next = 0.0
            else:
                dx = 0.5 * (v + v_next) * dt_s
            if gap < _FAR:
                limit = max(gap - MIN_GAP_M, 0.0)
                if v_lead == 0.0:
                    # IDM comes to rest s0 behind a standing leader; a ballistic step would overshoot
                    # into that gap (and the queue would then discharge late, behind every leader)
                    limit = min(limit, max(gap - cls_s0[c], 0.0))
                if dx > limit:
                    dx = limit
                    v_cut = min(v_next, v_lead)
                    if v - v_cut > MAX_DECEL_MPS2 * dt_s + 1e-9:
                        counters[C_HARD_STOP] += 1
                    v_next = v_cut
            if dx < 0.0:
                dx = 0.0
            new_pos[i] = pos + dx
            new_speed[i] = v_next
            if v_next < STOPPED_MPS:
                veh_wait_s[i] += dt_s
            edge_speed_sum[veh_mode[i], e] += v_next
            edge_speed_n[veh_mode[i], e] += 1


@njit(cache=True)
def queue_push(q, i, queue_head, queue_tail, veh_next):
    """Append vehicle ``i`` to FIFO queue ``q`` (a linked list through ``veh_next``)."""
    veh_next[i] = -1
    if queue_tail[q] < 0:
        queue_head[q] = i
    else:
        veh_next[queue_tail[q]] = i
    queue_tail[q] = i


@njit(cache=True)
def queue_push_front(q, i, queue_head, queue_tail, veh_next):
    """Put vehicle ``i`` at the head of queue ``q`` (an escort that must go next)."""
    veh_next[i] = queue_head[q]
    queue_head[q] = i
    if queue_tail[q] < 0:
        queue_tail[q] = i


@njit(cache=True, inline="always")
def _stop_at_end(i, e, dt_s, veh_pos, veh_speed, edge_len, counters):
    """A vehicle with no room past its edge's end waits there: its speed drops to 0 at once,
    counted as an instant stop (and as a hard stop when faster than ``MAX_DECEL_MPS2``)."""
    if veh_speed[i] > STOPPED_MPS:
        counters[C_INSTANT_STOP] += 1
        if veh_speed[i] > MAX_DECEL_MPS2 * dt_s:
            counters[C_HARD_STOP] += 1
    veh_pos[i] = edge_len[e]
    veh_speed[i] = 0.0


@njit(cache=True)
def hand_on(t_s, dt_s, order, lane_first, lane_count, occ_lanes, n_occ, lane_edge, lane_start, lane_rear_m, lane_rear_speed,
            veh_cls, veh_mode, veh_dest, veh_edge, veh_lane, veh_pos, veh_speed, veh_state, veh_arrive_s,
            veh_queue_enter_s, veh_next, veh_tube_done,
            cls_length, cls_is_bike, cls_is_escort, edge_len, edge_to, edge_priority, edge_motor_lanes,
            edge_bike_lane, edge_convoy_lanes, edge_gate, edge_tube_exit, edge_approach, gate_motor_open,
            gate_queue, dest_node, next_hop, new_pos, new_speed, queue_head, queue_tail, tube_exits, counters):
    """Commit the step: write new positions, then hand vehicles past their edge's end to the next
    edge (or arrive them, or put bicycles into a portal's waiting area).

    ``tube_exits[g, mode]`` counts vehicles leaving the tube behind portal ``g``; ``counters[0]``
    counts arrivals.  Returns nothing; vehicles with no room stay at the end of their edge.
    """
    n_cross = 0
    for q in range(n_occ):
        lane = occ_lanes[q]
        lo = lane_first[lane]
        hi = lo + lane_count[lane]
        for k in range(lo, hi):
            i = order[k]
            veh_pos[i] = new_pos[i]
            veh_speed[i] = new_speed[i]
        j = order[lo]
        lane_rear_m[lane] = veh_pos[j] - cls_length[veh_cls[j]]
        lane_rear_speed[lane] = veh_speed[j]
        if veh_pos[order[hi - 1]] >= edge_len[lane_edge[lane]]:
            n_cross += 1
    if n_cross == 0:
        return
    crossing = np.empty(n_cross, dtype=np.int64)
    key = np.empty(n_cross, dtype=np.float64)
    m = 0
    for q in range(n_occ):
        lane = occ_lanes[q]
        lo = lane_first[lane]
        hi = lo + lane_count[lane]
        if hi > lo:
            i = order[hi - 1]
            e = lane_edge[lane]
            if veh_pos[i] >= edge_len[e]:
                crossing[m] = i
                key[m] = -edge_priority[e] * 1.0e6 - (veh_pos[i] - edge_len[e])
                m += 1
    sequence = np.argsort(key, kind="mergesort")
    for s in range(n_cross):
        i = crossing[sequence[s]]
        e = veh_edge[i]
        c = veh_cls[i]
        over = veh_pos[i] - edge_len[e]
        node = edge_to[e]
        g_exit = edge_tube_exit[e]
        if node == dest_node[veh_dest[i]]:
            veh_state[i] = ARRIVED
            veh_arrive_s[i] = t_s + dt_s
            counters[C_ARRIVED] += 1
            if g_exit >= 0:
                tube_exits[g_exit, veh_mode[i]] += 1
                veh_tube_done[i] = 1
            continue
        ne = next_hop[veh_mode[i], veh_dest[i], node]
        if ne < 0 or ne == EXIT_HERE:
            _stop_at_end(i, e, dt_s, veh_pos, veh_speed, edge_len, counters)
            continue
        g = edge_gate[ne]
        if g >= 0 and cls_is_bike[c] and not cls_is_escort[c]:
            queue_push(gate_queue[g], i, queue_head, queue_tail, veh_next)
            veh_state[i] = QUEUED
            veh_queue_enter_s[i] = t_s + dt_s
            veh_speed[i] = 0.0
            continue
        rule = _portal_rule(i, ne, cls_is_bike[c], cls_is_escort[c], veh_mode, veh_dest, next_hop, dest_node,
                            edge_to, edge_gate, edge_approach, gate_motor_open)
        lane = _best_lane(ne, cls_is_bike[c], lane_start, edge_motor_lanes, edge_bike_lane, edge_convoy_lanes,
                          lane_rear_m, rule)
        if lane < 0:
            _stop_at_end(i, e, dt_s, veh_pos, veh_speed, edge_len, counters)
            continue
        room = lane_rear_m[lane]
        if cls_is_escort[c] and edge_convoy_lanes[ne] > 0:
            room = _min_rear(ne, lane_start, lane_rear_m)
        p = min(over, room - MIN_GAP_M)
        if p < 0.0:
            _stop_at_end(i, e, dt_s, veh_pos, veh_speed, edge_len, counters)
            continue
        veh_edge[i] = ne
        veh_lane[i] = lane
        veh_pos[i] = p
        lane_rear_m[lane] = p - cls_length[c]
        lane_rear_speed[lane] = veh_speed[i]
        if g_exit >= 0:
            tube_exits[g_exit, veh_mode[i]] += 1
            veh_tube_done[i] = 1


@njit(cache=True)
def insert_from_queues(t_s, dt_s, queue_ids, queue_edge, queue_allow, queue_head, queue_tail, veh_next,
                       veh_cls, veh_v0, veh_edge, veh_lane, veh_pos, veh_speed, veh_state, veh_insert_s,
                       veh_queue_wait_s, veh_queue_enter_s,
                       cls_length, cls_s0, cls_t, cls_delta, cls_is_bike, cls_is_escort,
                       lane_start, lane_rear_m, lane_rear_speed, edge_speed_limit, edge_motor_lanes, edge_bike_lane,
                       edge_convoy_lanes, edge_convoy_speed, edge_class_vcap, active, n_active, inserted_per_queue):
    """Let waiting vehicles onto their edge where the best lane has room for the equilibrium gap
    at the slower of the lane's rear vehicle and the flow-maximising speed (one per lane per step,
    placed up to one step's travel into the edge so that flows are not rounded to whole steps).

    ``queue_allow[q]`` caps how many queue ``q`` may let out (decremented; < 0 means no cap).
    Returns the new ``n_active``.
    """
    for k in range(queue_ids.shape[0]):
        q = queue_ids[k]
        e = queue_edge[q]
        inserted_per_queue[q] = 0
        while queue_head[q] >= 0 and queue_allow[q] != 0:
            i = queue_head[q]
            c = veh_cls[i]
            is_bike = cls_is_bike[c]
            lane = _best_lane(e, is_bike, lane_start, edge_motor_lanes, edge_bike_lane, edge_convoy_lanes,
                              lane_rear_m)
            if lane < 0:
                break
            v0 = min(veh_v0[i], edge_speed_limit[e])
            if edge_convoy_speed[e] > 0.0:
                v0 = edge_convoy_speed[e] if cls_is_escort[c] else 0.97 * edge_convoy_speed[e]
            rear = lane_rear_m[lane]
            if cls_is_escort[c] and edge_convoy_lanes[e] > 0:
                rear = _min_rear(e, lane_start, lane_rear_m)
            if rear >= _FAR:
                v_ins = v0
                p = 0.0
            else:
                # enter at the slower of the rear vehicle and the flow-maximising speed, at that
                # speed's equilibrium gap, placed as if it had entered during the last step
                v_ins = min(v0, lane_rear_speed[lane], edge_class_vcap[e, c])
                need_gap = equilibrium_gap_m(v_ins, v0, cls_s0[c], cls_t[c], cls_delta[c])
                if rear < need_gap or rear < cls_s0[c]:
                    break
                p = min(rear - need_gap, v_ins * dt_s)
            # pop and place
            queue_head[q] = veh_next[i]
            if queue_head[q] < 0:
                queue_tail[q] = -1
            veh_next[i] = -1
            veh_edge[i] = e
            veh_lane[i] = lane
            veh_pos[i] = p
            veh_speed[i] = v_ins
            veh_state[i] = DRIVING
            if veh_insert_s[i] < 0.0:
                veh_insert_s[i] = t_s                      # first time on the road: departure delay
            else:
                veh_queue_wait_s[i] += t_s - veh_queue_enter_s[i]   # waited in a portal's area
            lane_rear_m[lane] = p - cls_length[c]
            lane_rear_speed[lane] = v_ins
            active[n_active] = i
            n_active += 1
            inserted_per_queue[q] += 1
            if queue_allow[q] > 0:
                queue_allow[q] -= 1
    return n_active


@njit(cache=True)
def count_states(veh_state, out):
    """Vehicles per state (PENDING, QUEUED, DRIVING, ARRIVED) into ``out``."""
    out[:] = 0
    for i in range(veh_state.shape[0]):
        out[veh_state[i]] += 1


@njit(cache=True)
def tube_occupancy(active, n_active, veh_edge, veh_cls, cls_is_bike, cls_is_escort, edge_tube, out):
    """``out[g, 0]`` motor vehicles, ``out[g, 1]`` bicycles, ``out[g, 2]`` escorts inside tube ``g``.
    Returns (motor vehicles, bicycles) in all tubes."""
    out[:, :] = 0
    motor = 0
    bikes = 0
    for k in range(n_active):
        i = active[k]
        g = edge_tube[veh_edge[i]]
        if g >= 0:
            c = veh_cls[i]
            if cls_is_escort[c]:
                out[g, 2] += 1
            elif cls_is_bike[c]:
                out[g, 1] += 1
                bikes += 1
            else:
                out[g, 0] += 1
                motor += 1
    return motor, bikes


@njit(cache=True)
def portal_queues(active, n_active, veh_cls, veh_mode, veh_dest, veh_edge, veh_pos, veh_speed, cls_length,
                  cls_is_escort, edge_len, edge_to, edge_gate, edge_tube, dest_node, next_hop, max_dist_m,
                  out_gate, out_dist_m, out_length_m):
    """Stopped motor vehicles whose route enters a portal within ``max_dist_m``: for each, the portal
    (``out_gate``), the distance of its front from the stop line and its length.  Returns how many
    were written (see :meth:`sim.traffic.TrafficEngine.measure_queues` for the queue itself)."""
    m = 0
    for k in range(n_active):
        i = active[k]
        if veh_speed[i] >= STOPPED_MPS or cls_is_escort[veh_cls[i]] or veh_mode[i] != 0:
            continue
        e = veh_edge[i]
        if edge_tube[e] >= 0:
            continue
        dist = edge_len[e] - veh_pos[i]
        cur = e
        for _hop in range(30):
            node = edge_to[cur]
            if node == dest_node[veh_dest[i]]:
                break
            ne = next_hop[veh_mode[i], veh_dest[i], node]
            if ne < 0:
                break
            g = edge_gate[ne]
            if g >= 0:
                out_gate[m] = g
                out_dist_m[m] = dist
                out_length_m[m] = cls_length[veh_cls[i]]
                m += 1
                break
            dist += edge_len[ne]
            if dist > max_dist_m:
                break
            cur = ne
    return m


@njit(cache=True)
def tube_order_check(active, n_active, veh_state, veh_edge, veh_pos, veh_cls, cls_is_bike, cls_is_escort,
                     edge_tube, edge_tube_offset_m, tube_lead_m, tube_closer_m, tube_convoy, out):
    """Convoy invariants for every bicycle in a tube: a convoy is running there (``tube_convoy``),
    its lead car is ahead (``tube_lead_m``, -inf/+inf before/after the tube) and its closing car
    behind (``tube_closer_m``; NaN while it is still to come).  Writes the first violation into
    ``out`` (kind 1 no convoy, 2 not behind the lead, 3 behind the closer; tube; vehicle) and
    returns the number of violating bicycles."""
    bad = 0
    for k in range(n_active):
        i = active[k]
        if veh_state[i] != DRIVING:
            continue
        c = veh_cls[i]
        if not cls_is_bike[c] or cls_is_escort[c]:
            continue
        g = edge_tube[veh_edge[i]]
        if g < 0:
            continue
        pos = edge_tube_offset_m[veh_edge[i]] + veh_pos[i]
        kind = 0
        if not tube_convoy[g]:
            kind = 1
        elif not tube_lead_m[g] > pos:
            kind = 2
        elif not np.isnan(tube_closer_m[g]) and not tube_closer_m[g] < pos:
            kind = 3
        if kind:
            if bad == 0:
                out[0] = kind
                out[1] = g
                out[2] = i
            bad += 1
    return bad
