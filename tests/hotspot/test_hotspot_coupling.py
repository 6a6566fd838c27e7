"""The hotspot coupled to the network crowd run (sim/hotspot/coupling.py, model.py, kind.py) and the New
Year's Eve stairs scenario (issue 14).

Runs are short cuts of ``scenarios/bund_newyear_stairs.toml``; the full 10-minute runs over ten seeds
are ``benchmarks/bench_hotspot_newyear.py`` (its table: /work/notes/issue14_readme.md, for the README)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sim.crowd import kernels as K
from sim.hotspot import ConservationError, read_pedpy_txt
from sim.hotspot.layout import StairArea, StairLayout
from sim.kinds import build_run, load_scenario

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "scenarios" / "bund_newyear_stairs.toml"


def _run(separation: str = "none", duration_s: float = 60.0, seed: int = 1, check_every_steps: int | None = None,
         extra: list[str] | None = None):
    from sim.hotspot.model import HotspotModel

    sc = load_scenario(SCENARIO, [f"hotspots.chen_yi_stairs.separation={separation}",
                                  f"simulation.duration_s={duration_s}", f"show.end_s={duration_s}", *(extra or [])])
    if check_every_steps is None:
        run = build_run(sc, seed=seed)
    else:
        run = HotspotModel(sc, seed=seed, check_every_steps=check_every_steps)
    return run


def _step_all(run) -> None:
    while run.engine.step_index < run.n_steps:
        run.step()


def test_layout_areas_and_separation():
    """18 m2 landing between flights of 2.7 and 2.4 m; one-way separation splits the area in two
    lanes with the entry and the exit of each end on opposite halves (people keep right)."""
    none = StairArea.build(StairLayout(width_m=6, flights_m=(2.7, 2.4), landings_m=(3.0,)))
    assert none.areas["landing_1"].area == pytest.approx(18.0)
    assert none.walkable.area == pytest.approx(2 * 5 * 12 + 8.1 * 6)
    one = StairArea.build(StairLayout(width_m=6, flights_m=(2.7, 2.4), landings_m=(3.0,), separation="one_way"))
    assert one.walkable.geom_type == "MultiPolygon" and len(one.walkable.geoms) == 2
    g = one.geometry
    up_in = g.entry_seg[g.entry_names.index("foot_in")]
    up_out = g.exit_seg[g.exit_names.index("top_out")]
    assert max(up_in[1], up_in[3]) < 0 and max(up_out[1], up_out[3]) < 0       # up on y < 0
    with pytest.raises(ValueError, match="landings_m"):
        StairArea.build(StairLayout(width_m=6, flights_m=(2.7, 2.4), landings_m=()))


def test_coupled_run_conserves_everyone_every_step():
    """Engine recount every step, the coupling's recount after every exchange, and at the end: nobody
    lost or counted twice; people went both ways through the area."""
    run = _run(duration_s=90.0, check_every_steps=1)
    h = run.hotspots["chen_yi_stairs"]
    _step_all(run)
    assert run.engine.recounts >= run.n_steps
    s = run.summary()
    assert s["agents_conserved"] is True
    hs = s["hotspots"]["chen_yi_stairs"]
    assert hs["went_in_at"]["foot"] > 0 and hs["went_in_at"]["top"] > 0
    assert hs["came_out_at"]["foot"] > 0 and hs["came_out_at"]["top"] > 0
    assert hs["handed_in"] - hs["handed_out"] == hs["inside_at_end"] + hs["handing_over_at_end"]
    state = run.engine.agents.state[: run.engine.n_active]
    assert int(np.count_nonzero(state == K.EXITED)) == (
        int(run.engine.nodes.exited.sum() + run.engine.counters[K.C_LEFT_FROM_SOURCE]) + h.parked)


def test_conservation_error_when_someone_is_lost():
    """Take a person out of the area behind the coupling's back: the next step raises."""
    run = _run(duration_s=60.0)
    for _ in range(40):
        run.step()
    sim = run.hotspots["chen_yi_stairs"].sim
    assert sim.n > 1
    sim.a.agent_id[sim.n - 1] = -1
    sim.n -= 1
    with pytest.raises(ConservationError, match="conservation|handed in"):
        run.step()


def test_conservation_error_when_someone_is_on_both():
    run = _run(duration_s=60.0)
    for _ in range(40):
        run.step()
    h = run.hotspots["chen_yi_stairs"]
    i = int(h.sim.a.agent_id[0])
    run.engine.agents.state[i] = K.WALK_OUT          # also on the network
    with pytest.raises(ConservationError):
        h.check()


def test_same_seed_same_trajectories():
    a, b, c = (_run(duration_s=45.0, seed=s) for s in (3, 3, 4))
    for r in (a, b, c):
        _step_all(r)
    ta = a.hotspots["chen_yi_stairs"].recorder.table()
    tb = b.hotspots["chen_yi_stairs"].recorder.table()
    tc = c.hotspots["chen_yi_stairs"].recorder.table()
    assert ta.shape[0] > 100
    np.testing.assert_array_equal(ta, tb)
    assert ta.shape != tc.shape or not np.array_equal(ta, tc)


@pytest.mark.parametrize("seed", [1, 2])
def test_newyear_landing_dense_without_separation_and_not_with_it(seed):
    """Issue 14 acceptance, short version (2.5 minutes, two seeds; ten seeds of 10 minutes in
    benchmarks/bench_hotspot_newyear.py): two streams meeting on the landing push its local density
    above 5 p/m2 (docs/sources.md: 6-7 p/m2 reported for the 2014 crush); with one-way lanes it stays below 4."""
    none = _run("none", duration_s=150.0, seed=seed)
    _step_all(none)
    land = none.summary()["hotspots"]["chen_yi_stairs"]["areas"]["landing_1"]
    assert land["max_local_density_ppm2"] > 5.0, land
    # The area full: walkers wait on the network at the edges leading there, counted as the hotspot
    # zone's gate queue; nobody stands on the replaced cells; the area holds no more than it has room for.
    h = none.hotspots["chen_yi_stairs"]
    assert max(h.series_queue) > 50
    assert h.max_inside < 6.5 * h.area.walkable.area
    zone = none.summary()["zones"]["hotspot_chen_yi_stairs"]
    assert zone["peak_occupancy"] == 0 and zone["max_gate_queue"] == max(h.series_queue)
    one = _run("one_way", duration_s=150.0, seed=seed)
    _step_all(one)
    land1 = one.summary()["hotspots"]["chen_yi_stairs"]["areas"]["landing_1"]
    assert land1["max_local_density_ppm2"] < 4.0, land1
    assert one.summary()["hotspots"]["chen_yi_stairs"]["handed_out"] > none.summary()["hotspots"]["chen_yi_stairs"][
        "handed_out"]


def test_cli_run_writes_heat_map_and_pedpy_trajectories(tmp_path):
    from sim.cli import main

    out = tmp_path / "ny"
    rc = main(["run", str(SCENARIO), "--out", str(out), "--quiet", "--set", "simulation.duration_s=30",
               "--set", "show.end_s=30"])
    assert rc == 0
    assert (out / "hotspot_chen_yi_stairs.png").stat().st_size > 10_000
    rate, rows = read_pedpy_txt(out / "trajectories_chen_yi_stairs.txt")
    assert rate == pytest.approx(2.0) and rows.shape[1] == 4 and rows.shape[0] > 50
    import json

    summary = json.loads((out / "summary.json").read_text())
    assert "landing_1" in summary["hotspots"]["chen_yi_stairs"]["areas"]


def test_bad_hotspot_input_is_named():
    from sim.core.errors import ScenarioError

    with pytest.raises(ScenarioError, match="give either area_buffer_m or flights_m"):
        load_scenario(SCENARIO, ["hotspots.chen_yi_stairs.landings_m=[3.0]"])
    with pytest.raises(ScenarioError, match="landings_m: expected 1 landing"):
        load_scenario(SCENARIO, ["hotspots.chen_yi_stairs.area_buffer_m=none", "hotspots.chen_yi_stairs.flights_m=[2.7, 2.4]"])
    sc = load_scenario(SCENARIO, ["hotspots.chen_yi_stairs.match=name=Nanjing East Road underpass"])
    with pytest.raises(ValueError, match="steps with an incline|stairway"):
        build_run(sc, seed=1)


# ---------------------------------------------------------------------------------------------
# The local density over time: frames (coupling.py, frames.py, model.write_files, plots.frame_figure).
# ---------------------------------------------------------------------------------------------

def _frames_run(duration_s: float, frame_every_s: float, sample_every_s: float = 0.5, seed: int = 1):
    run = _run(duration_s=duration_s, seed=seed,
               extra=[f"hotspots.chen_yi_stairs.frame_every_s={frame_every_s}",
                      f"hotspots.chen_yi_stairs.sample_every_s={sample_every_s}"])
    _step_all(run)
    return run, run.hotspots["chen_yi_stairs"]


def test_frames_every_frame_every_s_and_bounded_by_the_peak():
    """A frame every frame_every_s of simulated time (duration / frame_every_s of them), each the field of
    the last sample: every frame a sample (frame_every_s = sample_every_s) gives the peak exactly; a frame
    every fourth sample never exceeds it, and each of those frames is one of the first run's frames."""
    each, every = _frames_run(60.0, frame_every_s=2.0, sample_every_s=2.0)
    assert every.frames.shape == (30, *every.heat_peak.shape) and every.frames.dtype == np.float32
    np.testing.assert_allclose(every.frames_t_s, 2.0 * np.arange(1, 31))
    assert every.heat_peak.max() > 1.0
    np.testing.assert_array_equal(every.frames.max(axis=0), every.heat_peak.astype(np.float32))
    _, some = _frames_run(60.0, frame_every_s=8.0, sample_every_s=2.0)
    assert some.frames.shape[0] == int(60.0 // 8.0) == 7
    np.testing.assert_allclose(some.frames_t_s, 8.0 * np.arange(1, 8))
    assert (some.frames <= some.heat_peak.astype(np.float32)).all()
    np.testing.assert_array_equal(some.frames, every.frames[3::4])          # same seed: the same fields
    assert each.summary()["hotspots"]["chen_yi_stairs"]["max_local_density_ppm2"] == pytest.approx(
        float(every.heat_peak.max()), abs=1e-3)


def test_frames_of_an_empty_area_are_zero_and_bad_frame_every_s_is_named():
    from sim.hotspot.errors import ParameterError

    run = _run(duration_s=20.0, extra=["hotspots.chen_yi_stairs.frame_every_s=0.5"])
    h = run.hotspots["chen_yi_stairs"]
    run.step()
    assert h.frames.shape[0] == 2 and h.frame_every_s == pytest.approx(0.5)
    assert h.sim.n == 0 and not h.frames.any()            # nobody has reached the stairs in the first second
    h._heat_now[:] = 3.0                                  # a field left from an earlier sample ...
    h._last_sample_n = 0                                  # ... but the last sample found the area empty
    h._keep_frame()
    assert h.frames.shape[0] == 3 and not h.frames[-1].any()
    from sim.core.errors import ScenarioError

    with pytest.raises(ScenarioError, match="frame_every_s"):
        load_scenario(SCENARIO, ["hotspots.chen_yi_stairs.frame_every_s=0"])
    with pytest.raises(ScenarioError, match="frame_every_s"):
        load_scenario(SCENARIO, ["hotspots.chen_yi_stairs.frame_every_s=601"])
    with pytest.raises(ParameterError, match=r"hotspots\.chen_yi_stairs\.frame_every_s: .*dt_s = 0\.05"):
        build_run(load_scenario(SCENARIO, ["hotspots.chen_yi_stairs.frame_every_s=0.01"]), seed=1)
    with pytest.raises(ParameterError, match=r"frame_every_s: .* MiB .*set frame_every_s to"):
        build_run(load_scenario(SCENARIO, ["hotspots.chen_yi_stairs.frame_every_s=0.05",
                                           "simulation.duration_s=604800", "show.end_s=600"]), seed=1)


def test_write_files_writes_frames_that_load_back_equal(tmp_path):
    from sim.hotspot.frames import load_frames
    from sim.hotspot.plots import frame_figure, frame_png, outline_of

    run, h = _frames_run(30.0, frame_every_s=10.0)
    files = run.write_files(tmp_path, run.summary())
    path = tmp_path / "hotspot_chen_yi_stairs_frames.npz"
    assert path in files
    back = load_frames(path)
    np.testing.assert_array_equal(back.t_s, [10.0, 20.0, 30.0])
    np.testing.assert_array_equal(back.frames, h.frames)
    assert (back.x0_m, back.y0_m, back.cell_m) == (h.heat_x0, h.heat_y0, h.heat_cell_m)
    assert back.index_at(24.0) == 1 and back.extent_m[1] - back.extent_m[0] == pytest.approx(
        h.frames.shape[2] * h.heat_cell_m)
    fig = frame_figure(back, 2, outline_of(h.area), title="t")
    assert "local density at 0:30 from the start" in fig.axes[0].get_title()
    png = frame_png(back, 2, outline_of(h.area), start_clock="23:25")
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    with pytest.raises(IndexError, match="3 frame"):
        frame_figure(back, 3, outline_of(h.area))
    np.savez(tmp_path / "other.npz", t_s=np.zeros(2))
    with pytest.raises(ValueError, match="not a hotspot frames file: no frames"):
        load_frames(tmp_path / "other.npz")
