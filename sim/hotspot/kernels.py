"""Numba kernels of the hotspot model: arrays and scalars in, preallocated arrays out, no I/O.

The velocity rule is the collision-free speed model (CSM) of Tordeux, Chraibi & Seyfried (2016,
"Collision-free speed model for pedestrian dynamics", Traffic and Granular Flow '15, pp. 225-232,
arXiv:1512.05597) in the form JuPedSim implements it:

* direction ``e_i = normalise(e0_i + sum_j R_ij + sum_w W_iw)`` with ``e0_i`` the desired direction,
  ``R_ij = -a_n exp((r_i + r_j - d_ij) / D_n) u_ij`` (``u_ij`` the unit vector from i to j) for the
  neighbours j seen without a wall in between, and ``W_iw = -a_w exp((r_i - d_iw) / D_w) u_iw`` for
  the walls w (``u_iw`` towards the closest point of the wall);
* speed ``v_i = min(v0_i, max(0, s_i / T))`` with ``s_i`` the smallest gap ``d_ij - r_i - r_j`` to a
  neighbour j ahead (``e_i . (x_j - x_i) >= 0``) inside the corridor ``|e_i x (x_j - x_i)| <= r_i + r_j``;
* ``x_i <- x_i + v_i e_i dt``.

Neighbour terms below 1e-3 are dropped (cut-off distances in :class:`~.params.CsmParameters`); the
gap search scans rings of grid cells until no farther agent could lower the speed, so ``s_i`` is exact.
One addition keeps bodies out of walls: a step that would cross a wall slides along it, and a centre
never comes closer to a wall than ``wall_min_ratio x r_i`` (the plain model only repels).

Every update reads the frozen state and writes only its own agent's outputs, so results do not depend
on agent order or on the number of threads.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = ["build_grid", "desired_direction", "csm_step", "goal_events", "count_line_crossings", "recount",
           "gaussian_local_density"]


@njit(cache=True)
def build_grid(n, px, py, radius, x0, y0, hc, gnx, gny, cell_cursor, cell_start, order, sx, sy, sr, agent_cell):
    """Counting sort of the agents into a ``gnx x gny`` grid of ``hc``-metre cells (stable in index order)."""
    n_cells = gnx * gny
    for c in range(n_cells):
        cell_cursor[c] = 0
    for i in range(n):
        ix = int((px[i] - x0) / hc)
        iy = int((py[i] - y0) / hc)
        ix = min(max(ix, 0), gnx - 1)
        iy = min(max(iy, 0), gny - 1)
        c = iy * gnx + ix
        agent_cell[i] = c
        cell_cursor[c] += 1
    total = 0
    for c in range(n_cells):
        cell_start[c] = total
        total += cell_cursor[c]
        cell_cursor[c] = cell_start[c]
    cell_start[n_cells] = total
    for i in range(n):
        c = agent_cell[i]
        k = cell_cursor[c]
        cell_cursor[c] = k + 1
        order[k] = i
        sx[k] = px[i]
        sy[k] = py[i]
        sr[k] = radius[i]


@njit(cache=True)
def desired_direction(x, y, g, fgx, fgy, fx0, fy0, fh):
    """Bilinear interpolation of goal ``g``'s direction field at (x, y), normalised (0, 0 if none)."""
    ny, nx = fgx.shape[1], fgx.shape[2]
    u = (x - fx0) / fh - 0.5
    v = (y - fy0) / fh - 0.5
    i0 = min(max(int(np.floor(u)), 0), nx - 2)
    j0 = min(max(int(np.floor(v)), 0), ny - 2)
    fu = min(max(u - i0, 0.0), 1.0)
    fv = min(max(v - j0, 0.0), 1.0)
    w00, w10, w01, w11 = (1 - fu) * (1 - fv), fu * (1 - fv), (1 - fu) * fv, fu * fv
    gx = w00 * fgx[g, j0, i0] + w10 * fgx[g, j0, i0 + 1] + w01 * fgx[g, j0 + 1, i0] + w11 * fgx[g, j0 + 1, i0 + 1]
    gy = w00 * fgy[g, j0, i0] + w10 * fgy[g, j0, i0 + 1] + w01 * fgy[g, j0 + 1, i0] + w11 * fgy[g, j0 + 1, i0 + 1]
    norm = np.sqrt(gx * gx + gy * gy)
    if norm > 0.0:
        return gx / norm, gy / norm
    return 0.0, 0.0


@njit(cache=True, inline="always")
def _orient(ax, ay, bx, by, cx, cy):
    return (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)


@njit(cache=True)
def segments_intersect(p1x, p1y, p2x, p2y, q1x, q1y, q2x, q2y):
    """Whether segments p1-p2 and q1-q2 share a point (touching counts)."""
    d1 = _orient(q1x, q1y, q2x, q2y, p1x, p1y)
    d2 = _orient(q1x, q1y, q2x, q2y, p2x, p2y)
    d3 = _orient(p1x, p1y, p2x, p2y, q1x, q1y)
    d4 = _orient(p1x, p1y, p2x, p2y, q2x, q2y)
    if ((d1 > 0 and d2 < 0) or (d1 < 0 and d2 > 0)) and ((d3 > 0 and d4 < 0) or (d3 < 0 and d4 > 0)):
        return True
    if d1 == 0 and _within(q1x, q1y, q2x, q2y, p1x, p1y):
        return True
    if d2 == 0 and _within(q1x, q1y, q2x, q2y, p2x, p2y):
        return True
    if d3 == 0 and _within(p1x, p1y, p2x, p2y, q1x, q1y):
        return True
    if d4 == 0 and _within(p1x, p1y, p2x, p2y, q2x, q2y):
        return True
    return False


@njit(cache=True, inline="always")
def _within(ax, ay, bx, by, px, py):
    return min(ax, bx) <= px <= max(ax, bx) and min(ay, by) <= py <= max(ay, by)


@njit(cache=True)
def closest_point(px, py, ax, ay, bx, by):
    """Closest point to (px, py) on segment a-b."""
    abx, aby = bx - ax, by - ay
    l2 = abx * abx + aby * aby
    t = 0.0
    if l2 > 0.0:
        t = ((px - ax) * abx + (py - ay) * aby) / l2
        t = min(1.0, max(0.0, t))
    return ax + t * abx, ay + t * aby


@njit(cache=True)
def _blocked(xi, yi, xj, yj, walls, cl_start, cl_idx, c):
    for k in range(cl_start[c], cl_start[c + 1]):
        w = cl_idx[k]
        if segments_intersect(xi, yi, xj, yj, walls[w, 0], walls[w, 1], walls[w, 2], walls[w, 3]):
            return True
    return False


@njit(cache=True)
def _keep_off_walls(xi, yi, nx_, ny_, dmin, walls, cw_start, cw_idx, c):
    """The new position, slid along walls it would cross and held ``dmin`` off every wall."""
    for k in range(cw_start[c], cw_start[c + 1]):
        w = cw_idx[k]
        ax, ay, bx, by = walls[w, 0], walls[w, 1], walls[w, 2], walls[w, 3]
        if segments_intersect(xi, yi, nx_, ny_, ax, ay, bx, by):
            tx, ty = bx - ax, by - ay
            tl = np.sqrt(tx * tx + ty * ty)
            tx, ty = tx / tl, ty / tl
            along = (nx_ - xi) * tx + (ny_ - yi) * ty
            nx_, ny_ = xi + along * tx, yi + along * ty
    if dmin > 0.0:
        for k in range(cw_start[c], cw_start[c + 1]):
            w = cw_idx[k]
            ax, ay, bx, by = walls[w, 0], walls[w, 1], walls[w, 2], walls[w, 3]
            qx, qy = closest_point(nx_, ny_, ax, ay, bx, by)
            dx, dy = nx_ - qx, ny_ - qy
            dist = np.sqrt(dx * dx + dy * dy)
            if dist >= dmin:
                continue
            # push away from the wall, towards the side the agent came from
            side_old = _orient(ax, ay, bx, by, xi, yi)
            side_new = _orient(ax, ay, bx, by, nx_, ny_)
            if dist > 1e-12 and side_old * side_new > 0:
                nx_, ny_ = qx + dx / dist * dmin, qy + dy / dist * dmin
            else:
                tx, ty = bx - ax, by - ay
                tl = np.sqrt(tx * tx + ty * ty)
                sgn = 1.0 if side_old >= 0 else -1.0
                nx_, ny_ = qx - sgn * ty / tl * dmin, qy + sgn * tx / tl * dmin
    for k in range(cw_start[c], cw_start[c + 1]):
        w = cw_idx[k]
        if segments_intersect(xi, yi, nx_, ny_, walls[w, 0], walls[w, 1], walls[w, 2], walls[w, 3]):
            return xi, yi
    return nx_, ny_


_CHUNK = 64        # agents per parallel work item
_BUFFER = 512      # neighbours kept per agent within one cell size (far above any physical density)
_LOS_MAX = 64      # walls that can hide a neighbour, cached per agent (more: the uncached test)


@njit(cache=True, parallel=True)
def csm_step(n, px, py, ex, ey, radius, v0, goal,
             order, cell_start, sx, sy, sr, agent_cell, gnx, gny, hc, block, period_x, ring_max,
             fgx, fgy, fx0, fy0, fh, stair_id, stair_ux, stair_uy, stair_f_up, stair_f_down,
             walls, cw_start, cw_idx, cl_start, cl_idx,
             time_gap_s, a_n, d_n, a_w, d_w, rep_cut_m, wall_cut_m, consider_m, r_max, dt_s, wall_min_ratio,
             out_x, out_y, out_ex, out_ey, out_speed, out_e0x, out_e0y):
    """One CSM step for agents 0..n-1 from the frozen state; writes positions, directions and speeds.

    Agents are visited cell by cell (``order``) in chunks shared out over threads; each writes only
    its own outputs, so the result is the same for any thread count.  (The per-agent body is written
    inline on purpose: as a function taking these ~50 arrays it ran at half the speed.)"""
    rep_cut2 = rep_cut_m * rep_cut_m
    near = block * hc
    near2 = near * near
    consider2 = consider_m * consider_m
    half = 0.5 * period_x
    fny, fnx = stair_id.shape
    n_chunks = (n + _CHUNK - 1) // _CHUNK
    for ch in prange(n_chunks):
        buf_dx = np.empty(_BUFFER)
        buf_dy = np.empty(_BUFFER)
        buf_l = np.empty(_BUFFER)
        los = np.empty((_LOS_MAX, 5))        # ax, ay, bx, by, side of the agent
        for kk in range(ch * _CHUNK, min(n, (ch + 1) * _CHUNK)):
            i = order[kk]
            xi, yi, ri = px[i], py[i], radius[i]
            c = agent_cell[i]
            cix, ciy = c % gnx, c // gnx
            e0x, e0y = desired_direction(xi, yi, goal[i], fgx, fgy, fx0, fy0, fh)
            v0i = v0[i]
            sx_i = min(max(int((xi - fx0) / fh), 0), fnx - 1)
            sy_i = min(max(int((yi - fy0) / fh), 0), fny - 1)
            st = stair_id[sy_i, sx_i]
            if st >= 0:
                if e0x * stair_ux[st] + e0y * stair_uy[st] > 0.0:
                    v0i *= stair_f_up[st]
                else:
                    v0i *= stair_f_down[st]
            # Walls that can hide a neighbour: a neighbour strictly on the agent's side of a wall's
            # line cannot be hidden by it, so the full intersection test runs only across the line.
            n_los = cl_start[c + 1] - cl_start[c]
            los_cached = n_los <= _LOS_MAX
            if los_cached:
                for q in range(n_los):
                    w = cl_idx[cl_start[c] + q]
                    los[q, 0], los[q, 1], los[q, 2], los[q, 3] = walls[w, 0], walls[w, 1], walls[w, 2], walls[w, 3]
                    los[q, 4] = _orient(walls[w, 0], walls[w, 1], walls[w, 2], walls[w, 3], xi, yi)

            # Pass 1: neighbours within ``block`` cells (kept), repulsion from those within the cut-off.
            rx, ry = 0.0, 0.0
            m = 0
            overflow = False
            for ddy in range(-block, block + 1):
                cy = ciy + ddy
                if cy < 0 or cy >= gny:
                    continue
                for ddx in range(-block, block + 1):
                    cx = cix + ddx
                    if period_x > 0.0:
                        cx = cx % gnx
                    elif cx < 0 or cx >= gnx:
                        continue
                    cc = cy * gnx + cx
                    for k in range(cell_start[cc], cell_start[cc + 1]):
                        dx, dy = sx[k] - xi, sy[k] - yi
                        if period_x > 0.0:
                            if dx > half:
                                dx -= period_x
                            elif dx < -half:
                                dx += period_x
                        d2 = dx * dx + dy * dy
                        if d2 > near2 or d2 == 0.0:        # d2 == 0: the agent itself (or a twin)
                            continue
                        if n_los > 0:
                            xj, yj = xi + dx, yi + dy
                            hidden = False
                            if los_cached:
                                for q in range(n_los):
                                    if los[q, 4] * _orient(los[q, 0], los[q, 1], los[q, 2], los[q, 3], xj, yj) > 0.0:
                                        continue
                                    if segments_intersect(xi, yi, xj, yj, los[q, 0], los[q, 1], los[q, 2], los[q, 3]):
                                        hidden = True
                                        break
                            else:
                                hidden = _blocked(xi, yi, xj, yj, walls, cl_start, cl_idx, c)
                            if hidden:
                                continue
                        contact = ri + sr[k]
                        if m < buf_dx.shape[0]:
                            buf_dx[m], buf_dy[m], buf_l[m] = dx, dy, contact
                            m += 1
                        else:
                            overflow = True
                        if d2 <= rep_cut2:
                            d = np.sqrt(d2)
                            w = a_n * np.exp((contact - d) / d_n) / d
                            rx -= w * dx
                            ry -= w * dy
            for kk in range(cw_start[c], cw_start[c + 1]):
                wi = cw_idx[kk]
                qx, qy = closest_point(xi, yi, walls[wi, 0], walls[wi, 1], walls[wi, 2], walls[wi, 3])
                dx, dy = qx - xi, qy - yi
                dist = np.sqrt(dx * dx + dy * dy)
                if dist == 0.0 or dist > ri + wall_cut_m:
                    continue
                w = a_w * np.exp((ri - dist) / d_w) / dist
                rx -= w * dx
                ry -= w * dy
            dirx, diry = e0x + rx, e0y + ry
            norm = np.sqrt(dirx * dirx + diry * diry)
            if norm > 0.0:
                dirx, diry = dirx / norm, diry / norm
            else:
                dirx, diry = ex[i], ey[i]

            # Pass 2: gap to the closest neighbour ahead, within the corridor of the direction.
            best = np.inf
            for k in range(m):
                dx, dy, contact = buf_dx[k], buf_dy[k], buf_l[k]
                if dirx * dx + diry * dy < 0.0 or abs(dirx * dy - diry * dx) > contact:
                    continue
                gap = np.sqrt(dx * dx + dy * dy) - contact
                if gap < best:
                    best = gap
            # Farther neighbours matter only if the closest one ahead is not decisive (free flow) or the
            # buffer overflowed: scan rings of cells outwards (agents kept above are skipped).
            if overflow or ri + r_max + min(best, v0i * time_gap_s) > near:
                skip2 = 0.0 if overflow else near2
                ring = 1            # cells of the block also hold agents beyond ``near``
                while True:
                    for ddy in range(-ring, ring + 1):
                        cy = ciy + ddy
                        if cy < 0 or cy >= gny:
                            continue
                        step = 1 if (ddy == ring or ddy == -ring) else 2 * ring
                        ddx = -ring
                        while ddx <= ring:
                            cx = cix + ddx
                            ddx += step
                            if period_x > 0.0:
                                cx = cx % gnx
                            elif cx < 0 or cx >= gnx:
                                continue
                            cc = cy * gnx + cx
                            for k in range(cell_start[cc], cell_start[cc + 1]):
                                dx, dy = sx[k] - xi, sy[k] - yi
                                if period_x > 0.0:
                                    if dx > half:
                                        dx -= period_x
                                    elif dx < -half:
                                        dx += period_x
                                contact = ri + sr[k]
                                if dirx * dx + diry * dy < 0.0 or abs(dirx * dy - diry * dx) > contact:
                                    continue
                                d2 = dx * dx + dy * dy
                                if d2 <= skip2 or d2 > consider2 or d2 == 0.0:
                                    continue
                                gap = np.sqrt(d2) - contact
                                if gap >= best:
                                    continue
                                if n_los > 0:
                                    xj, yj = xi + dx, yi + dy
                                    hidden = False
                                    if los_cached:
                                        for q in range(n_los):
                                            lq = los[q]
                                            if lq[4] * _orient(lq[0], lq[1], lq[2], lq[3], xj, yj) > 0.0:
                                                continue
                                            if segments_intersect(xi, yi, xj, yj, lq[0], lq[1], lq[2], lq[3]):
                                                hidden = True
                                                break
                                    else:
                                        hidden = _blocked(xi, yi, xj, yj, walls, cl_start, cl_idx, c)
                                    if hidden:
                                        continue
                                best = gap
                    if ri + r_max + min(best, v0i * time_gap_s) <= ring * hc or ring >= ring_max:
                        break
                    ring += 1
            speed = min(v0i, max(0.0, best / time_gap_s))

            nx_ = xi + dirx * speed * dt_s
            ny_ = yi + diry * speed * dt_s
            if cw_start[c + 1] > cw_start[c]:
                nx_, ny_ = _keep_off_walls(xi, yi, nx_, ny_, wall_min_ratio * ri, walls, cw_start, cw_idx, c)
            mx, my = nx_ - xi, ny_ - yi
            out_x[i], out_y[i], out_ex[i], out_ey[i] = nx_, ny_, dirx, diry
            out_speed[i], out_e0x[i], out_e0y[i] = np.sqrt(mx * mx + my * my) / dt_s, e0x, e0y




@njit(cache=True)
def _crossing(px, py, qx, qy, ax, ay, bx, by):
    """+1 / -1 when the step p->q crosses segment a-b from its left / right side (0 otherwise); a step
    that ends exactly on the segment counts, one that starts on it does not."""
    s0 = _orient(ax, ay, bx, by, px, py)
    s1 = _orient(ax, ay, bx, by, qx, qy)
    if not ((s0 > 0.0 and s1 <= 0.0) or (s0 < 0.0 and s1 >= 0.0)):
        return 0
    lam = s0 / (s0 - s1)
    cx, cy = px + lam * (qx - px), py + lam * (qy - py)
    abx, aby = bx - ax, by - ay
    t = ((cx - ax) * abx + (cy - ay) * aby) / (abx * abx + aby * aby)
    if t < 0.0 or t > 1.0:
        return 0
    return 1 if s0 > 0.0 else -1


@njit(cache=True)
def goal_events(n, px, py, qx, qy, goal, goal_kind, goal_seg, exit_seg, reach_m, out_exit, out_reached):
    """Which exit each agent crossed on its step p -> q (-1: none; positions before any periodic
    wrap), and whether it reached its way point.  Returns (agents that left, way points reached)."""
    n_gone = 0
    n_reached = 0
    for i in range(n):
        out_exit[i] = -1
        for e in range(exit_seg.shape[0]):
            ax, ay, bx, by = exit_seg[e, 0], exit_seg[e, 1], exit_seg[e, 2], exit_seg[e, 3]
            if _crossing(px[i], py[i], qx[i], qy[i], ax, ay, bx, by) != 0:
                out_exit[i] = e
                break
        out_reached[i] = False
        g = goal[i]
        if goal_kind[g] == 1:
            cx, cy = closest_point(qx[i], qy[i], goal_seg[g, 0], goal_seg[g, 1], goal_seg[g, 2], goal_seg[g, 3])
            out_reached[i] = (cx - qx[i]) ** 2 + (cy - qy[i]) ** 2 <= reach_m * reach_m
        n_gone += out_exit[i] >= 0
        n_reached += out_reached[i]
    return n_gone, n_reached


@njit(cache=True)
def recount(agent_id, px, py, n):
    """Independent recount for the conservation check: slots holding an agent id (whole buffer),
    and whether the first n positions are finite."""
    inside = 0
    for k in range(agent_id.shape[0]):
        if agent_id[k] >= 0:
            inside += 1
    finite = True
    for k in range(n):
        if not (np.isfinite(px[k]) and np.isfinite(py[k])):
            finite = False
    return inside, finite


@njit(cache=True)
def count_line_crossings(n, px, py, qx, qy, lines, counts):
    """Add this step's crossings of each line to ``counts[line, 0]`` (from its left to its right, i.e.
    along the line's normal (dy, -dx)) and ``counts[line, 1]`` (the other way); positions before any
    periodic wrap."""
    for i in range(n):
        for m in range(lines.shape[0]):
            s = _crossing(px[i], py[i], qx[i], qy[i], lines[m, 0], lines[m, 1], lines[m, 2], lines[m, 3])
            if s > 0:
                counts[m, 0] += 1
            elif s < 0:
                counts[m, 1] += 1


@njit(cache=True)
def gaussian_local_density(n, px, py, x0, y0, h, out, radius_m):
    """Local density on a grid (cell centres x0 + (i + 0.5) h): sum_j exp(-|x - x_j|^2 / R^2) / (pi R^2)
    (Helbing, Johansson & Al-Abideen 2007), kernel truncated at 3 R.  ``out`` is zeroed first."""
    ny, nx = out.shape
    for a in range(ny):
        for b in range(nx):
            out[a, b] = 0.0
    r2 = radius_m * radius_m
    norm = 1.0 / (np.pi * r2)
    reach = int(np.ceil(3.0 * radius_m / h))
    for j in range(n):
        cx = int((px[j] - x0) / h)
        cy = int((py[j] - y0) / h)
        for a in range(max(cy - reach, 0), min(cy + reach + 1, ny)):
            yc = y0 + (a + 0.5) * h
            for b in range(max(cx - reach, 0), min(cx + reach + 1, nx)):
                xc = x0 + (b + 0.5) * h
                d2 = (xc - px[j]) ** 2 + (yc - py[j]) ** 2
                if d2 <= 9.0 * r2:
                    out[a, b] += norm * np.exp(-d2 / r2)


@njit(cache=True)
def polygon_counts(n, px, py, speed, ring_start, ring_x, ring_y, out_count, out_speed_sum):
    """People inside each simple polygon (ring ``p``: vertices ``ring_start[p]:ring_start[p+1]``, by
    the crossing-number test) and the sum of their speeds; a point on an edge may fall either way."""
    for p in range(ring_start.shape[0] - 1):
        lo, hi = ring_start[p], ring_start[p + 1]
        count = 0
        total = 0.0
        for j in range(n):
            x, y = px[j], py[j]
            inside = False
            k = hi - 1
            for i in range(lo, hi):
                yi, yk = ring_y[i], ring_y[k]
                if (yi > y) != (yk > y):
                    x_cross = ring_x[i] + (y - yi) * (ring_x[k] - ring_x[i]) / (yk - yi)
                    if x < x_cross:
                        inside = not inside
                k = i
            if inside:
                count += 1
                total += speed[j]
        out_count[p] = count
        out_speed_sum[p] = total
