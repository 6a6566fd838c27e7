"""Measurement tests: densities (classic, Voronoi, grid, local), flow, and the trajectory writer."""

from __future__ import annotations

import math

import numpy as np
import pytest
from shapely.geometry import box

from sim.hotspot import (CrowdMonitor, HotspotGeometry, HotspotSim, TrajectoryRecorder, classic_density, density_map,
                         flow_from_crossings, mean_speed, read_pedpy_txt, voronoi_cells, voronoi_density)


def _square_lattice(spacing: float, size: float = 10.0):
    c = np.arange(spacing / 2, size, spacing)
    x, y = np.meshgrid(c, c)
    return x.ravel(), y.ravel()


def test_classic_density_and_mean_speed():
    x, y = _square_lattice(0.5)
    assert classic_density(x, y, box(2, 2, 6, 6)) == pytest.approx(4.0)
    speeds = np.where(x < 5, 1.0, 0.5)
    assert mean_speed(x, y, speeds, box(0, 0, 5, 10)) == pytest.approx(1.0)
    assert math.isnan(mean_speed(x, y, speeds, box(20, 20, 21, 21)))


def test_voronoi_density_of_a_square_lattice_is_exact():
    """Each cell of a square lattice of spacing a is an a x a square: density 1/a^2 anywhere inside,
    also for a measurement area that cuts cells (PedPy's area-weighted sum)."""
    x, y = _square_lattice(0.5)
    walkable = box(0, 0, 10, 10)
    assert voronoi_density(x, y, walkable, box(2.1, 3.3, 6.7, 7.05)) == pytest.approx(4.0, rel=1e-9)
    cells = voronoi_cells(x, y, walkable)
    assert sum(c.area for c in cells) == pytest.approx(100.0)      # clipped cells tile the walkable area


def test_voronoi_cut_off_bounds_lonely_people():
    cells = voronoi_cells([5.0], [5.0], box(0, 0, 10, 10), cutoff_radius_m=1.0, quad_segments=16)
    assert cells[0].area == pytest.approx(math.pi, rel=0.01)
    assert voronoi_cells([], [], box(0, 0, 10, 10)) == []
    assert voronoi_density([1.0, 1.0], [1.0, 1.0], box(0, 0, 10, 10), box(0, 0, 2, 2)) > 0   # duplicates


def test_density_map_averages_frames_and_walkable_part_of_cells():
    x, y = _square_lattice(0.5)
    walkable = box(0, 0, 10, 10)
    dens, xe, ye = density_map([(x, y), (x[: len(x) // 2], y[: len(y) // 2])], walkable, cell_m=1.0)
    assert dens.shape == (10, 10) and xe[0] == 0 and ye[-1] == 10
    assert dens[8, 5] == pytest.approx(2.0)                       # full in one frame, empty in the other
    assert dens[1, 5] == pytest.approx(4.0)


def test_flow_from_crossings():
    t = np.arange(0, 11.0)
    assert flow_from_crossings(t, 1.5 * t, t_from_s=2, t_to_s=8) == pytest.approx(1.5)
    with pytest.raises(ValueError, match="t_to_s: expected after t_from_s"):
        flow_from_crossings(t, t, t_from_s=5, t_to_s=5)


def test_monitor_local_density_and_time_above_thresholds():
    """A lattice at 4.5 p/m2 reads about 4.5 inside (Gaussian local density, Helbing et al. 2007, with
    an effective area of 1 m2); time above 4 counts, above 5 does not."""
    x, y = _square_lattice(1 / math.sqrt(4.5), 12.0)
    mon = CrowdMonitor({"centre": box(4, 4, 8, 8), "empty": box(20, 20, 22, 22)})
    for t in np.arange(0.0, 10.5, 0.5):
        mon.sample(t, x, y)
    s = mon.summary()
    assert s["centre"]["max_local_density_ppm2"] == pytest.approx(4.5, rel=0.02)
    assert s["centre"]["time_above_4_ppm2_s"] == pytest.approx(10.0)
    assert s["centre"]["time_above_5_ppm2_s"] == 0.0
    assert s["empty"]["max_local_density_ppm2"] == 0.0
    with pytest.raises(ValueError, match="samples must go forward in time"):
        mon.sample(5.0, x, y)


def test_trajectory_file_in_pedpy_format(tmp_path):
    g = HotspotGeometry(box(0, 0, 10, 3), exits={"e": ((10, 0), (10, 3))})
    sim = HotspotSim(g, seed=1)
    sim.add_agents([1.0, 1.0], [1.0, 2.0], goal="e")
    rec = TrajectoryRecorder(sim.params.dt_s, every_steps=4)
    while sim.n:
        sim.step()
        rec.record_sim(sim)
    path = rec.write(tmp_path / "traj.txt")
    header = [ln for ln in path.read_text().splitlines() if ln.startswith("#")]
    assert any("framerate" in ln for ln in header) and any("x/m" in ln.lower() for ln in header)
    assert not any("in cm" in ln.lower() or "x/cm" in ln.lower() for ln in header)
    rate, rows = read_pedpy_txt(path)
    assert rate == pytest.approx(5.0) and rows.shape[1] == 4
    assert set(rows[:, 0].astype(int)) == {0, 1} and (np.diff(rows[rows[:, 0] == 0, 1]) == 1).all()


def test_trajectory_file_loads_in_pedpy(tmp_path):
    pedpy = pytest.importorskip("pedpy", reason="PedPy is not installed (optional check)")
    g = HotspotGeometry(box(0, 0, 10, 3), exits={"e": ((10, 0), (10, 3))})
    sim = HotspotSim(g, seed=1)
    sim.add_agents([1.0], [1.5], goal="e")
    rec = TrajectoryRecorder(sim.params.dt_s, every_steps=2)
    for _ in range(20):
        sim.step()
        rec.record_sim(sim)
    traj = pedpy.load_trajectory(trajectory_file=rec.write(tmp_path / "t.txt"))
    assert traj.frame_rate == pytest.approx(10.0) and len(traj.data) == 10


@pytest.mark.parametrize("cutoff", [None, 0.8])
def test_voronoi_density_matches_pedpy(cutoff):
    """Reference test against PedPy's compute_voronoi_density on one frame of a random crowd in a
    non-convex area; tolerance 1e-6 relative (both clip Voronoi cells with shapely)."""
    pedpy = pytest.importorskip("pedpy", reason="PedPy is not installed (optional check)")
    import pandas as pd
    from shapely.geometry import Polygon

    from sim.hotspot.scenarios import random_positions

    walkable = Polygon([(0, 0), (12, 0), (12, 12), (10, 12), (10, 2), (0, 2)])
    pos = random_positions(walkable, 60, np.random.default_rng(3))
    area = box(8, 0.5, 11.5, 4)
    traj = pedpy.TrajectoryData(data=pd.DataFrame({"id": np.arange(60), "frame": 0, "x": pos[:, 0], "y": pos[:, 1]}),
                                frame_rate=10.0)
    kw = {} if cutoff is None else {"cut_off": pedpy.Cutoff(radius=cutoff, quad_segments=3)}
    cells = pedpy.compute_individual_voronoi_polygons(traj_data=traj, walkable_area=pedpy.WalkableArea(walkable), **kw)
    theirs, _ = pedpy.compute_voronoi_density(individual_voronoi_data=cells,
                                              measurement_area=pedpy.MeasurementArea(area))
    ours = voronoi_density(pos[:, 0], pos[:, 1], walkable, area, cutoff_radius_m=cutoff, quad_segments=3)
    assert ours == pytest.approx(float(theirs["density"].iloc[0]), rel=1e-6)


def test_monitor_on_a_shared_field_agrees_with_its_own_grids():
    """sample_field (one local-density field for all areas, compiled counts) against sample (shapely
    counts, a grid per area): the same counts and mean speeds exactly; peaks within the difference
    of two 0.25 m grids (cell centres up to 0.18 m apart: 10% of a peak here)."""
    from shapely.geometry import Polygon
    from sim.hotspot.kernels import gaussian_local_density
    from sim.hotspot.measure import LOCAL_DENSITY_RADIUS_M
    rng = np.random.default_rng(7)
    areas = {"box": box(2.1, 1.3, 6.2, 4.4), "skewed": Polygon([(5, 1), (9, 2), (8.5, 5.5), (5.5, 4)])}
    own, shared = CrowdMonitor(areas), CrowdMonitor(areas)
    x0, y0, h = 0.0, 0.0, 0.25
    field = np.zeros((32, 44))
    for k in range(5):
        x, y = rng.uniform(1, 10, 60), rng.uniform(0.5, 7, 60)
        speed = rng.uniform(0.2, 1.4, 60)
        own.sample(float(k), x, y, speed)
        gaussian_local_density(x.size, x, y, x0, y0, h, field, LOCAL_DENSITY_RADIUS_M)
        shared.sample_field(float(k), x, y, speed, field, x0, y0, h)
    for name in areas:
        assert shared.classic_ppm2[name] == pytest.approx(own.classic_ppm2[name], abs=1e-12)
        assert shared.mean_speed_mps[name] == pytest.approx(own.mean_speed_mps[name], abs=1e-12)
        assert shared.max_local_ppm2[name] == pytest.approx(own.max_local_ppm2[name], rel=0.10)
    shared.sample_field(5.0, np.empty(0), np.empty(0), np.empty(0), field, x0, y0, h)
    assert shared.classic_ppm2["box"][-1] == 0.0 and shared.max_local_ppm2["box"][-1] == 0.0
