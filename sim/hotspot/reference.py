"""A plain-Python reference of the velocity rule, for a few agents (tests compare the kernel with it).

It follows the rule stated in :mod:`.kernels` literally: every pair and every wall is visited, with
the same cut-offs, so kernel and reference agree to rounding.  It is O(n^2): for checks only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["reference_step"]


def _closest(px, py, w):
    ax, ay, bx, by = w
    abx, aby = bx - ax, by - ay
    l2 = abx * abx + aby * aby
    t = 0.0 if l2 == 0 else min(1.0, max(0.0, ((px - ax) * abx + (py - ay) * aby) / l2))
    return ax + t * abx, ay + t * aby


def _orient(ax, ay, bx, by, cx, cy):
    return (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)


def _on(ax, ay, bx, by, px, py):
    return min(ax, bx) <= px <= max(ax, bx) and min(ay, by) <= py <= max(ay, by)


def _intersect(p1, p2, w):
    (p1x, p1y), (p2x, p2y) = p1, p2
    q1x, q1y, q2x, q2y = w
    d1 = _orient(q1x, q1y, q2x, q2y, p1x, p1y)
    d2 = _orient(q1x, q1y, q2x, q2y, p2x, p2y)
    d3 = _orient(p1x, p1y, p2x, p2y, q1x, q1y)
    d4 = _orient(p1x, p1y, p2x, p2y, q2x, q2y)
    if d1 * d2 < 0 and d3 * d4 < 0:
        return True
    return ((d1 == 0 and _on(q1x, q1y, q2x, q2y, p1x, p1y)) or (d2 == 0 and _on(q1x, q1y, q2x, q2y, p2x, p2y))
            or (d3 == 0 and _on(p1x, p1y, p2x, p2y, q1x, q1y)) or (d4 == 0 and _on(p1x, p1y, p2x, p2y, q2x, q2y)))


def _keep_off_walls(p, q, dmin, walls):
    """Slide along walls the step p->q would cross, hold dmin off walls, else stay (as the kernel)."""
    (xi, yi), (nx, ny) = p, q
    for w in walls:
        if _intersect((xi, yi), (nx, ny), w):
            tx, ty = w[2] - w[0], w[3] - w[1]
            tl = math.hypot(tx, ty)
            tx, ty = tx / tl, ty / tl
            along = (nx - xi) * tx + (ny - yi) * ty
            nx, ny = xi + along * tx, yi + along * ty
    if dmin > 0:
        for w in walls:
            qx, qy = _closest(nx, ny, w)
            dx, dy = nx - qx, ny - qy
            dist = math.hypot(dx, dy)
            if dist >= dmin:
                continue
            side_old = _orient(*w, xi, yi)
            side_new = _orient(*w, nx, ny)
            if dist > 1e-12 and side_old * side_new > 0:
                nx, ny = qx + dx / dist * dmin, qy + dy / dist * dmin
            else:
                tx, ty = w[2] - w[0], w[3] - w[1]
                tl = math.hypot(tx, ty)
                sgn = 1.0 if side_old >= 0 else -1.0
                nx, ny = qx - sgn * ty / tl * dmin, qy + sgn * tx / tl * dmin
    for w in walls:
        if _intersect((xi, yi), (nx, ny), w):
            return xi, yi
    return nx, ny


def reference_step(x: Sequence[float], y: Sequence[float], radius: Sequence[float], v0: Sequence[float],
                   e0: Sequence[tuple[float, float]], orientation: Sequence[tuple[float, float]],
                   walls: Sequence[tuple[float, float, float, float]], los: Sequence[bool], *, dt_s: float,
                   time_gap_s: float, a_n: float, d_n: float, a_w: float, d_w: float, rep_cut_m: float,
                   wall_cut_m: float, consider_m: float, wall_min_ratio: float) -> list[tuple[float, ...]]:
    """One CSM step for every agent from the same frozen state; returns (x, y, ex, ey, speed) per agent.

    ``v0`` is the effective free speed (stair factors applied), ``e0`` the desired directions, ``los``
    marks the walls that can hide a neighbour."""
    n = len(x)
    los_walls = [w for w, flag in zip(walls, los) if flag]
    out = []
    for i in range(n):
        xi, yi, ri = x[i], y[i], radius[i]
        visible = []
        rx = ry = 0.0
        for j in range(n):
            if j == i:
                continue
            dx, dy = x[j] - xi, y[j] - yi
            d = math.hypot(dx, dy)
            if d == 0 or d > consider_m or any(_intersect((xi, yi), (x[j], y[j]), w) for w in los_walls):
                continue
            visible.append((dx, dy, d, ri + radius[j]))
            if d <= rep_cut_m:
                w = a_n * math.exp((ri + radius[j] - d) / d_n)
                rx -= w * dx / d
                ry -= w * dy / d
        for wall in walls:
            qx, qy = _closest(xi, yi, wall)
            dist = math.hypot(qx - xi, qy - yi)
            if dist == 0 or dist > ri + wall_cut_m:
                continue
            w = a_w * math.exp((ri - dist) / d_w)
            rx -= w * (qx - xi) / dist
            ry -= w * (qy - yi) / dist
        dirx, diry = e0[i][0] + rx, e0[i][1] + ry
        norm = math.hypot(dirx, diry)
        dirx, diry = (dirx / norm, diry / norm) if norm > 0 else orientation[i]
        gap = math.inf
        for dx, dy, d, contact in visible:
            if dirx * dx + diry * dy >= 0 and abs(dirx * dy - diry * dx) <= contact:
                gap = min(gap, d - contact)
        speed = min(v0[i], max(0.0, gap / time_gap_s))
        nx, ny = xi + dirx * speed * dt_s, yi + diry * speed * dt_s
        nx, ny = _keep_off_walls((xi, yi), (nx, ny), wall_min_ratio * ri, walls)
        out.append((nx, ny, dirx, diry, math.hypot(nx - xi, ny - yi) / dt_s))
    return out
