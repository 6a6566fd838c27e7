"""Numba kernels for the static fields of a walkable area: wall distances and distance-to-goal fields.

The desired direction of an agent is the negative gradient of its goal's travel-time field ``T``,
the solution of the eikonal equation ``|grad T| = 1 / F`` on a regular grid inside the walkable area
(first-order fast marching, Sethian 1996).  ``F`` is 1 away from walls and falls linearly towards
walls, so routes keep clear of corners instead of grazing them (JuPedSim's floor-field router does
the same with its wall-avoidance term).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["segment_distances", "fast_marching", "descent_directions"]

_FAR, _TRIAL, _DONE = 0, 1, 2


@njit(cache=True)
def segment_distances(xs, ys, seg, out):
    """``out[k]`` = distance from point k to the closest of the segments ``seg[s] = (ax, ay, bx, by)``
    (``inf`` when there is no segment)."""
    for k in range(xs.shape[0]):
        best = np.inf
        px, py = xs[k], ys[k]
        for s in range(seg.shape[0]):
            ax, ay, bx, by = seg[s, 0], seg[s, 1], seg[s, 2], seg[s, 3]
            abx, aby = bx - ax, by - ay
            l2 = abx * abx + aby * aby
            t = 0.0
            if l2 > 0.0:
                t = ((px - ax) * abx + (py - ay) * aby) / l2
                t = min(1.0, max(0.0, t))
            dx, dy = ax + t * abx - px, ay + t * aby - py
            d = np.sqrt(dx * dx + dy * dy)
            if d < best:
                best = d
        out[k] = best


@njit(cache=True)
def _heap_push(heap_t, heap_k, size, t, k):
    i = size
    heap_t[i], heap_k[i] = t, k
    while i > 0:
        parent = (i - 1) >> 1
        if heap_t[parent] <= heap_t[i]:
            break
        heap_t[parent], heap_t[i] = heap_t[i], heap_t[parent]
        heap_k[parent], heap_k[i] = heap_k[i], heap_k[parent]
        i = parent
    return size + 1


@njit(cache=True)
def _heap_pop(heap_t, heap_k, size):
    t, k = heap_t[0], heap_k[0]
    size -= 1
    heap_t[0], heap_k[0] = heap_t[size], heap_k[size]
    i = 0
    while True:
        left = 2 * i + 1
        if left >= size:
            break
        child = left
        if left + 1 < size and heap_t[left + 1] < heap_t[left]:
            child = left + 1
        if heap_t[i] <= heap_t[child]:
            break
        heap_t[child], heap_t[i] = heap_t[i], heap_t[child]
        heap_k[child], heap_k[i] = heap_k[i], heap_k[child]
        i = child
    return t, k, size


@njit(cache=True)
def _solve(t_grid, state, iy, ix, ny, nx, cost):
    """First-order upwind eikonal update of cell (iy, ix) from its settled neighbours."""
    a = np.inf
    if ix > 0 and state[iy, ix - 1] == _DONE:
        a = t_grid[iy, ix - 1]
    if ix < nx - 1 and state[iy, ix + 1] == _DONE:
        a = min(a, t_grid[iy, ix + 1])
    b = np.inf
    if iy > 0 and state[iy - 1, ix] == _DONE:
        b = t_grid[iy - 1, ix]
    if iy < ny - 1 and state[iy + 1, ix] == _DONE:
        b = min(b, t_grid[iy + 1, ix])
    if a == np.inf and b == np.inf:
        return np.inf
    if a == np.inf or b == np.inf or abs(a - b) >= cost:
        return min(a, b) + cost
    return 0.5 * (a + b + np.sqrt(2.0 * cost * cost - (a - b) * (a - b)))


@njit(cache=True)
def fast_marching(inside, speed, seed_t, h):
    """Travel time from the seeds (cells with finite ``seed_t``) to every cell of ``inside``.

    ``speed`` in (0, 1] slows the front near walls; cells not reachable stay ``inf``."""
    ny, nx = inside.shape
    t_grid = np.full((ny, nx), np.inf)
    state = np.zeros((ny, nx), dtype=np.int8)
    cap = 4 * ny * nx + 16
    heap_t = np.empty(cap)
    heap_k = np.empty(cap, dtype=np.int64)
    size = 0
    for iy in range(ny):
        for ix in range(nx):
            if inside[iy, ix] and seed_t[iy, ix] < np.inf:
                t_grid[iy, ix] = seed_t[iy, ix]
                state[iy, ix] = _TRIAL
                size = _heap_push(heap_t, heap_k, size, seed_t[iy, ix], iy * nx + ix)
    while size > 0:
        t, k, size = _heap_pop(heap_t, heap_k, size)
        iy, ix = k // nx, k % nx
        if state[iy, ix] == _DONE or t > t_grid[iy, ix]:
            continue
        state[iy, ix] = _DONE
        for d in range(4):
            jy, jx = iy, ix
            if d == 0:
                jx = ix - 1
            elif d == 1:
                jx = ix + 1
            elif d == 2:
                jy = iy - 1
            else:
                jy = iy + 1
            if jx < 0 or jx >= nx or jy < 0 or jy >= ny or not inside[jy, jx] or state[jy, jx] == _DONE:
                continue
            t_new = _solve(t_grid, state, jy, jx, ny, nx, h / speed[jy, jx])
            if t_new < t_grid[jy, jx]:
                t_grid[jy, jx] = t_new
                state[jy, jx] = _TRIAL
                if size >= cap:          # cannot happen (each cell is pushed at most 4 times + seeds)
                    break
                size = _heap_push(heap_t, heap_k, size, t_new, jy * nx + jx)
    return t_grid


@njit(cache=True)
def descent_directions(t_grid, h, gx, gy):
    """Unit vectors of ``-grad T`` (central differences where both neighbours are finite, one-sided
    otherwise); zero where ``T`` is infinite or flat."""
    ny, nx = t_grid.shape
    for iy in range(ny):
        for ix in range(nx):
            t0 = t_grid[iy, ix]
            gx[iy, ix] = 0.0
            gy[iy, ix] = 0.0
            if t0 == np.inf:
                continue
            tl = t_grid[iy, ix - 1] if ix > 0 else np.inf
            tr = t_grid[iy, ix + 1] if ix < nx - 1 else np.inf
            td = t_grid[iy - 1, ix] if iy > 0 else np.inf
            tu = t_grid[iy + 1, ix] if iy < ny - 1 else np.inf
            if tl < np.inf and tr < np.inf:
                dx = (tr - tl) / (2.0 * h)
            elif tl < np.inf:
                dx = (t0 - tl) / h
            elif tr < np.inf:
                dx = (tr - t0) / h
            else:
                dx = 0.0
            if td < np.inf and tu < np.inf:
                dy = (tu - td) / (2.0 * h)
            elif td < np.inf:
                dy = (t0 - td) / h
            elif tu < np.inf:
                dy = (tu - t0) / h
            else:
                dy = 0.0
            norm = np.sqrt(dx * dx + dy * dy)
            if norm > 0.0:
                gx[iy, ix] = -dx / norm
                gy[iy, ix] = -dy / norm
