"""Unit tests of the hotspot kernels: the step kernel against the plain-Python reference of the
velocity rule (compiled and with NUMBA_DISABLE_JIT=1), the direction fields, the grid sort."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import shapely
from shapely.geometry import Polygon, box

from sim.hotspot import CsmParameters, HotspotGeometry, HotspotSim, Stair
from sim.hotspot.kernels import build_grid, segments_intersect
from sim.hotspot.reference import reference_step
from sim.hotspot.scenarios import random_positions

ROOT = Path(__file__).resolve().parents[2]


def _scene(n: int, seed: int, field_cell_m: float = 0.1, block: int = 1):
    """A 6 m x 4 m room with a pillar (its walls can hide neighbours) and a stair strip, n agents
    at random, everyone walking east (a constant direction: no exit, so nobody leaves)."""
    area = box(0, 0, 6, 4).difference(box(2.5, 1.5, 3.0, 2.5))
    stair = Stair(name="steps", polygon=box(4.0, 0.0, 5.0, 4.0), up=(1.0, 0.0))
    geometry = HotspotGeometry(area, directions={"east": (1.0, 0.2)}, stairs=[stair], field_cell_m=field_cell_m)
    sim = HotspotSim(geometry, CsmParameters(), seed=seed, block=block)
    pos = random_positions(area, n, np.random.default_rng(seed), radius_m=0.18, gap_m=0.0, wall_gap_m=0.0)
    sim.add_agents(pos[:, 0], pos[:, 1], goal="east")
    return sim, stair


def _compare(sim, stair) -> float:
    """Largest difference between one kernel step and the reference (positions, directions, speeds)."""
    g, p, a, n = sim.geometry, sim.params, sim.a, sim.n
    before = dict(x=a.x_m[:n].copy(), y=a.y_m[:n].copy(), ex=a.ex[:n].copy(), ey=a.ey[:n].copy(),
                  r=a.radius_m[:n].copy(), v0=a.free_speed_mps[:n].copy(), ids=a.agent_id[:n].copy())
    sim.step()
    assert sim.n == n and (a.agent_id[:n] == before["ids"]).all()
    e0 = list(zip(sim.a.e0x[:n], sim.a.e0y[:n]))
    on_stair = shapely.contains_xy(stair.polygon, before["x"], before["y"])
    up = np.array(e0) @ np.array(stair.up) > 0
    factor = np.where(on_stair, np.where(up, stair.up_speed_mps, stair.down_speed_mps) / p.level_mean_speed_mps, 1.0)
    ref = reference_step(before["x"], before["y"], before["r"], before["v0"] * factor, e0,
                         list(zip(before["ex"], before["ey"])), [tuple(w) for w in g.walls], list(g.los_walls),
                         dt_s=p.dt_s, time_gap_s=p.time_gap_s, a_n=p.strength_neighbor_repulsion,
                         d_n=p.range_neighbor_repulsion_m, a_w=p.strength_geometry_repulsion,
                         d_w=p.range_geometry_repulsion_m, rep_cut_m=sim.rep_cut_m, wall_cut_m=sim.wall_cut_m,
                         consider_m=sim.consider_m, wall_min_ratio=p.wall_min_distance_ratio)
    ref = np.array(ref)
    kernel = np.column_stack([sim.a.x_m[:n], sim.a.y_m[:n], sim.a.ex[:n], sim.a.ey[:n], sim.a.speed_mps[:n]])
    return float(np.abs(kernel - ref).max())


@pytest.mark.parametrize("seed, block", [(1, 1), (2, 1), (3, 2)])
def test_kernel_step_agrees_with_python_reference(seed, block):
    """Source: the CSM rule as stated in sim/hotspot/kernels.py; tolerance 1e-9 (summation order).
    ``block`` 2 scans smaller grid cells: a speed knob that must not change results."""
    sim, stair = _scene(40, seed, block=block)
    for _ in range(5):                     # several steps: agents come close to walls and each other
        assert _compare(sim, stair) < 1e-9


def test_reference_sees_the_cases_it_is_meant_to_check():
    """The scene exercises hidden neighbours (pillar), the stair factor and the wall guard."""
    sim, _ = _scene(40, 1)
    assert sim.geometry.los_walls.sum() == 4                  # the pillar's four sides
    assert (sim.geometry.stair_id >= 0).any()
    for _ in range(20):
        sim.step()
    d = sim.geometry.distance_to_walls(sim.a.x_m[: sim.n], sim.a.y_m[: sim.n])
    assert d.min() >= sim.params.radius_m - 1e-9              # wall guard: centres a radius off walls


_NO_JIT_SCRIPT = """
import sys
sys.path.insert(0, {root!r})
sys.path.insert(0, {tests!r})
import test_hotspot_kernels as t
sim, stair = t._scene(8, 5, field_cell_m=0.25)
print(max(t._compare(sim, stair) for _ in range(2)))
"""


def test_kernel_agrees_with_reference_without_jit():
    """The same comparison with NUMBA_DISABLE_JIT=1 (Python path of the kernels); tolerance 1e-9."""
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1"}
    script = _NO_JIT_SCRIPT.format(root=str(ROOT), tests=str(Path(__file__).parent))
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert float(out.stdout.strip().splitlines()[-1]) < 1e-9


def test_grid_counting_sort_is_stable_and_complete():
    rng = np.random.default_rng(0)
    n = 500
    x, y = rng.uniform(0, 10, n), rng.uniform(0, 5, n)
    gnx, gny, h = 8, 4, 1.3
    cursor = np.zeros(gnx * gny, dtype=np.int32)
    start = np.zeros(gnx * gny + 1, dtype=np.int32)
    order = np.zeros(n, dtype=np.int32)
    sx, sy, sr, cell = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n, dtype=np.int32)
    build_grid(n, x, y, np.full(n, 0.2), 0.0, 0.0, h, gnx, gny, cursor, start, order, sx, sy, sr, cell)
    assert sorted(order) == list(range(n))
    expect = np.minimum((y // h).astype(int), gny - 1) * gnx + np.minimum((x // h).astype(int), gnx - 1)
    assert (cell == expect).all()
    for c in range(gnx * gny):
        members = order[start[c]:start[c + 1]]
        assert (np.diff(members) > 0).all() and (cell[members] == c).all()
    assert (sx == x[order]).all() and (sy == y[order]).all()


def test_segment_intersection_cases():
    assert segments_intersect(0, 0, 2, 2, 0, 2, 2, 0)
    assert not segments_intersect(0, 0, 1, 0, 0, 1, 1, 1)
    assert segments_intersect(0, 0, 1, 0, 1, 0, 1, 1)          # touching counts
    assert not segments_intersect(0, 0, 1, 0, 2, 0, 3, 0)      # collinear, apart


def test_direction_field_goes_round_the_corner():
    """RiMEA test 6 geometry: the field points east along the first leg, north along the second,
    and its route length grows by the path round the corner."""
    area = Polygon([(0, 0), (12, 0), (12, 12), (10, 12), (10, 2), (0, 2)])
    g = HotspotGeometry(area, exits={"out": ((10.0, 12.0), (12.0, 12.0))})
    gi = g.goal_index("out")

    def direction(x, y):
        ix, iy = int((x - g.field_x0_m) / g.field_cell_m), int((y - g.field_y0_m) / g.field_cell_m)
        return g.field_gx[gi, iy, ix], g.field_gy[gi, iy, ix]

    assert direction(3.0, 1.0)[0] > 0.95
    assert direction(11.0, 6.0)[1] > 0.95
    d = g.travel_distance("out", np.array([1.0]), np.array([1.0]))[0]
    assert 9 + 10 < d < 9 + 10 + 3                # 9 m east + 10 m north + corner + apron (0.5 m)


def test_params_validation_names_field_and_value():
    with pytest.raises(ValueError, match=r"time_gap_s: expected a positive finite number, got -1"):
        CsmParameters(time_gap_s=-1)
    with pytest.raises(ValueError, match=r"dt_s: must be below time_gap_s"):
        CsmParameters(dt_s=1.0, time_gap_s=0.8)
    assert CsmParameters.jupedsim_defaults().time_gap_s == 1.0
