"""Shortest-travel-time routing on the walk graph: next-hop tables built by reverse Dijkstra.

A table row answers, for every node, "which directed edge do I take next to reach this goal?".
Goals are either a viewing cell (enter it from either end) or a group of sink nodes (leave the
map there; -2 marks "exit here").  Rows are rebuilt from congested travel times at a set interval.
"""

from __future__ import annotations

import threading

import numba
import numpy as np
from numba import njit, prange

__all__ = ["EXIT_HERE", "UNREACHABLE", "dijkstra_to_goals", "fill_next_hop_rows", "fill_next_hops", "road_dijkstra", "road_next_hops"]

EXIT_HERE = -2
UNREACHABLE = -1


@njit(cache=True, inline="always")
def _heap_push(heap_key, heap_node, size, key, node):
    """Add (key, node) to the binary min-heap of ``size`` entries; returns the new size.  Parents are
    moved down into a hole instead of swapped: the same heap as swapping, with half the writes."""
    i = size
    while i > 0:
        parent = (i - 1) >> 1
        if heap_key[parent] <= key:
            break
        heap_key[i] = heap_key[parent]
        heap_node[i] = heap_node[parent]
        i = parent
    heap_key[i] = key
    heap_node[i] = node
    return size + 1


@njit(cache=True, inline="always")
def _heap_pop(heap_key, heap_node, size):
    """Take the smallest (key, node) off the heap; returns it and the new size (the last entry
    sifts down through a hole, as :func:`_heap_push`)."""
    key = heap_key[0]
    node = heap_node[0]
    size -= 1
    last_key = heap_key[size]
    last_node = heap_node[size]
    i = 0
    while True:
        left = 2 * i + 1
        if left >= size:
            break
        child = left
        if left + 1 < size and heap_key[left + 1] < heap_key[left]:
            child = left + 1
        if last_key <= heap_key[child]:
            break
        heap_key[i] = heap_key[child]
        heap_node[i] = heap_node[child]
        i = child
    heap_key[i] = last_key
    heap_node[i] = last_node
    return key, node, size


@njit(cache=True)
def dijkstra_to_goals(seed_nodes, seed_cost_s, seed_next, edge_cost_s, edge_to, out_start, out_edges,
                      dist_out, next_out):
    """Travel time from every node to the nearest goal, and the first edge on that path.

    The walk graph pairs edges (``e`` and ``e ^ 1`` are the two directions of one cell), so the
    edges *into* node ``m`` are the twins of the edges out of it.  ``seed_*`` give goal nodes,
    their starting cost (a penalty, e.g. an uncovered exit in rain) and their next-hop value.
    Results are written into ``dist_out`` and ``next_out`` (one row each).
    """
    n = dist_out.shape[0]
    for k in range(n):
        dist_out[k] = np.inf
        next_out[k] = -1
    cap = edge_to.shape[0] + seed_nodes.shape[0] + 1
    heap_key = np.empty(cap, dtype=np.float64)
    heap_node = np.empty(cap, dtype=np.int32)
    size = 0
    for k in range(seed_nodes.shape[0]):
        node = seed_nodes[k]
        if seed_cost_s[k] < dist_out[node]:
            dist_out[node] = seed_cost_s[k]
            next_out[node] = seed_next[k]
            size = _heap_push(heap_key, heap_node, size, seed_cost_s[k], node)
    while size > 0:
        key, m, size = _heap_pop(heap_key, heap_node, size)
        if key > dist_out[m]:
            continue
        for j in range(out_start[m], out_start[m + 1]):
            into_m = out_edges[j] ^ 1          # edge from the neighbour into m
            n_node = edge_to[out_edges[j]]
            candidate = key + edge_cost_s[into_m]
            if candidate < dist_out[n_node]:
                dist_out[n_node] = candidate
                next_out[n_node] = into_m
                size = _heap_push(heap_key, heap_node, size, candidate, n_node)


@njit(cache=True, nogil=True)
def fill_next_hop_rows(first_row, end_row, goal_seed_start, seed_nodes, seed_cost_s, seed_next, edge_cost_s, edge_to,
                       out_start, out_edges, dist_table, next_table):
    """Run :func:`dijkstra_to_goals` for goal rows ``first_row..end_row-1``; goal ``g`` uses seeds
    ``goal_seed_start[g]:goal_seed_start[g+1]``.  Releases the GIL, so that two threads can fill
    disjoint rows at once (:func:`fill_next_hops`)."""
    for g in range(first_row, end_row):
        lo = goal_seed_start[g]
        hi = goal_seed_start[g + 1]
        dijkstra_to_goals(seed_nodes[lo:hi], seed_cost_s[lo:hi], seed_next[lo:hi], edge_cost_s, edge_to,
                          out_start, out_edges, dist_table[g], next_table[g])


#: Fewest rows worth a second thread (starting one costs about 0.1 ms, a row about 0.04 ms on the Bund).
MIN_ROWS_PER_THREAD = 16


def fill_next_hops(goal_seed_start, seed_nodes, seed_cost_s, seed_next, edge_cost_s, edge_to, out_start,
                   out_edges, dist_table, next_table) -> None:
    """Every goal row of the tables (:func:`fill_next_hop_rows`), the rows split between this thread
    and a second one when Numba may use two threads (``numba.get_num_threads()``; a sweep's worker
    processes set one) and there are enough rows.  Rows are independent, so the tables are the same
    bit for bit however they are split.  A plain thread, started and joined per call, rather than
    Numba's ``prange``: its OpenMP workers spin after each parallel region, which on a 2-core machine
    slowed the single-threaded crowd step that follows, and a pool kept alive would not survive a
    ``fork`` (sweeps, the live twin's forecasts)."""
    n_rows = dist_table.shape[0]
    args = (goal_seed_start, seed_nodes, seed_cost_s, seed_next, edge_cost_s, edge_to, out_start, out_edges,
            dist_table, next_table)
    if n_rows < 2 * MIN_ROWS_PER_THREAD or numba.get_num_threads() < 2:
        fill_next_hop_rows(0, n_rows, *args)
        return
    half = n_rows // 2
    other = threading.Thread(target=fill_next_hop_rows, args=(half, n_rows, *args), name="citytwin-routes")
    other.start()
    try:
        fill_next_hop_rows(0, half, *args)
    finally:
        other.join()


@njit(cache=True)
def road_dijkstra(goal_node, edge_cost_s, edge_from, in_start, in_edges, dist_out, next_out):
    """Travel time from every node to ``goal_node`` over directed road edges, and the first edge of
    that path (``next_out[goal_node]`` is :data:`EXIT_HERE`; -1 where the goal cannot be reached).

    ``edge_cost_s`` is ``inf`` for edges the mode may not use.
    """
    n = dist_out.shape[0]
    for k in range(n):
        dist_out[k] = np.inf
        next_out[k] = UNREACHABLE
    heap_key = np.empty(edge_from.shape[0] + 2, dtype=np.float64)
    heap_node = np.empty(edge_from.shape[0] + 2, dtype=np.int32)
    dist_out[goal_node] = 0.0
    next_out[goal_node] = EXIT_HERE
    size = _heap_push(heap_key, heap_node, 0, 0.0, goal_node)
    while size > 0:
        key, m, size = _heap_pop(heap_key, heap_node, size)
        if key > dist_out[m]:
            continue
        for j in range(in_start[m], in_start[m + 1]):
            e = in_edges[j]
            cost = edge_cost_s[e]
            if not np.isfinite(cost):
                continue
            u = edge_from[e]
            candidate = key + cost
            if candidate < dist_out[u]:
                dist_out[u] = candidate
                next_out[u] = e
                size = _heap_push(heap_key, heap_node, size, candidate, u)


@njit(cache=True, parallel=True)
def road_next_hops(goal_nodes, edge_cost_s, edge_from, in_start, in_edges, dist_table, next_table):
    """:func:`road_dijkstra` for every goal (row ``g`` of the tables answers for ``goal_nodes[g]``)."""
    for g in prange(goal_nodes.shape[0]):
        road_dijkstra(goal_nodes[g], edge_cost_s, edge_from, in_start, in_edges, dist_table[g], next_table[g])
