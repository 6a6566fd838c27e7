"""Crowd engine: flows against the fundamental diagram and IMO figures, conservation, determinism."""

import numpy as np
import pytest

from sim.crowd import kernels as K
from sim.crowd.compile import compile_crowd
from sim.crowd.model import CrowdModel
from sim.kinds import scenario_from_dict
from tests.conftest import corridor_scenario


def _run(data, seed=None):
    model = CrowdModel(scenario_from_dict(data, "test.toml"), seed=seed)
    passed = []
    while model.engine.step_index < model.n_steps:
        model.step()
        passed.append(model.engine.edge_passed.copy())
        assert model.engine.n_active == model.engine.exited + model.engine.inside
    return model, np.array(passed)


def _edge_into(model, node_name):
    walk = model.engine.arrays.walk
    node = walk.walk_node(walk.network.find_node(node_name))
    edges = np.flatnonzero(walk.edge_to == node)
    return edges


def test_a_queue_discharges_at_capacity(tmp_path):
    """Unit check (the capacity is an input): 600 p/min into a 4 m corridor is twice its capacity;
    the queue at its entrance discharges at Weidmann's maximum, 1.22 p/(m s) (5%: heterogeneous free
    speeds and whole people), although every walker in it moves at the diagram's speed."""
    model, passed = _run(corridor_scenario(tmp_path, width_m=4.0, duration_s=1500))
    walk = model.engine.arrays.walk
    entry = walk.walk_node(walk.network.find_node("Entry West"))
    first = np.flatnonzero(walk.edge_from == entry)
    flow = passed[:, first].sum(axis=1)
    specific = (flow[1200] - flow[600]) / 600 / 4.0
    assert specific == pytest.approx(1.2249, rel=0.05)
    assert model.summary()["agents_conserved"]


def test_stairs_carry_imo_specific_flow(tmp_path):
    # Unit check (the stair capacity is an input): a 2 m flight of stairs (drawn up, walked up)
    # inside a 6 m corridor carries IMO MSC.1/Circ.1238's 0.88 p/(m s) up. Tolerance 6%: the
    # stair's triangular diagram peaks sharply at capacity, and walkers of different free speeds
    # keep the flow on it a little below (measured 0.84).
    stairs = {"highway": "steps", "width": "2", "incline": "up"}
    model, passed = _run(corridor_scenario(tmp_path, width_m=6.0, bottleneck=stairs, duration_s=1500))
    edges = _edge_into(model, "b1")
    flow = passed[:, edges].sum(axis=1)
    specific = (flow[1200] - flow[600]) / 600 / 2.0
    assert specific == pytest.approx(0.88, rel=0.06)
    # Upstream the corridor queues at the queue density (Fruin's queuing LOS D/E, 3.57 p/m2).
    assert model.recorder.cell_peak_density.max() <= 1 / 0.28 + 1e-9


def test_same_seed_same_summary_and_different_seed_differs(tmp_path):
    data = corridor_scenario(tmp_path, rate_per_min=300, duration_s=900)
    a = CrowdModel(scenario_from_dict(data, "t.toml"), seed=5).run()
    b = CrowdModel(scenario_from_dict(data, "t.toml"), seed=5).run()
    c = CrowdModel(scenario_from_dict(data, "t.toml"), seed=6).run()
    for s in (a, b, c):
        s.pop("wall_seconds")
    assert a == b
    assert a != c


def test_cap_holds_and_gate_queues(tmp_path):
    data = corridor_scenario(tmp_path, rate_per_min=600, duration_s=1500,
                             extra={"zones": {"plaza": {"match": "zone=plaza", "view": True, "cap": 2000,
                                                        "reopen_fraction": 0.9}}})
    model, _ = _run(data)
    rec = model.recorder
    occ = rec.occupancy[: rec.n, 0]
    # Never above the cap by more than the people admitted in one step (here: never above it).
    assert (occ[1:] <= 2000 + rec.admitted[1: rec.n, 0]).all()
    assert occ.max() == 2000
    summary = model.summary()
    assert summary["max_gate_queue"] > 0 and summary["gate_wait_s_p95"] > 0
    assert summary["agents_conserved"]


def test_compile_errors_name_fields(tmp_path):
    from sim.core.errors import ScenarioError
    data = corridor_scenario(tmp_path)
    data["sources"][0]["nodes"] = ["Nowhere Street"]
    data["zones"]["plaza"]["match"] = "zone=atlantis"
    with pytest.raises(ScenarioError) as info:
        compile_crowd(scenario_from_dict(data, "bad.toml"))
    text = str(info.value)
    assert "bad.toml" in text and "sources.0.nodes.0" in text and "zones.plaza.match" in text


@pytest.mark.parametrize("table, key, value", [("crowd", "rho_max_ppm2", 1e300), ("crowd", "v0_mps", 480.5),
                                                ("crowd", "gamma", 1e-300), ("simulation", "short_cell_m", 5.96e-08),
                                                ("simulation", "max_cell_m", 1e-3)])
def test_parameters_out_of_any_sensible_range_are_clean_errors(tmp_path, table, key, value):
    """Found by the 10,000-case fuzz run: crowd.rho_max_ppm2 = 1e300 left no flow at all and compiling
    divided by zero; simulation.short_cell_m = 6e-8 m cut the ways into billions of cells and the run
    was killed for memory.  The schema bounds them."""
    from sim.core.errors import ScenarioError
    data = corridor_scenario(tmp_path)
    data.setdefault(table, {})[key] = value
    with pytest.raises(ScenarioError, match=rf"{table}\.{key}"):
        scenario_from_dict(data, "bad.toml")


def test_released_viewers_head_for_their_exit_from_where_they_stand(tmp_path):
    """Issue 10, finding 6: released viewers first walked to the far end of the edge they stood on,
    then turned back (152 m walked for an exit 52 m away).  Viewers standing on the plaza (west part
    of a 200 m way whose exit is at its west end) turn toward it: each walks no more than the way
    back to the exit from where it stood (+ one step of rounding)."""
    data = corridor_scenario(tmp_path, rate_per_min=60, duration_s=900)
    data["show"] = {"start_s": 300, "end_s": 400, "release": "all"}
    data["exits"] = {"street": {"nodes": ["Corridor End"]}}
    model = CrowdModel(scenario_from_dict(data, "t.toml"), check_every_steps=1)
    engine = model.engine
    while engine.t_s < 400:
        model.step()
    walk = engine.arrays.walk
    a = engine.agents
    standing = np.flatnonzero(a.state[:engine.n_active] == K.STANDING)
    assert standing.size > 10 and engine.counters[K.C_TURNED] == 0
    end = walk.walk_node(walk.network.find_node("Corridor End"))
    x_end = walk.node_x_m[end]

    def x(i):
        e = a.edge[i]
        c = e // 2
        pos = engine.positions_m()[i]
        xa, xb = walk.node_x_m[walk.cell_a[c]], walk.node_x_m[walk.cell_b[c]]
        from_a = pos if e % 2 == 0 else walk.cell_length_m[c] - pos
        return xa + (xb - xa) * from_a / walk.cell_length_m[c]

    distance = {i: abs(x(i) - x_end) for i in standing}
    walked = {i: 0.0 for i in standing}
    last = {i: x(i) for i in standing}
    while engine.t_s < 900 and any(a.state[i] != K.EXITED for i in standing):
        model.step()
        for i in standing:
            if a.state[i] != K.EXITED:
                walked[i] += abs(x(i) - last[i])
                last[i] = x(i)
            elif last[i] is not None:
                walked[i] += abs(x_end - last[i])
                last[i] = None
    assert engine.counters[K.C_TURNED] > 0
    assert all(walked[i] <= distance[i] + 2.0 for i in standing)


def test_turnout_and_timing_uncertainty_are_drawn_per_run_from_their_own_stream(tmp_path):
    """``[demand]``: with no spread the arrivals are exactly those of the profiles (the default keeps
    every earlier result); with ``turnout_sd`` = 0.3 the number of people who come varies between
    seeds far beyond Poisson noise (sd of the log about 0.3 against 1/sqrt(n)), around the profile's
    mean; a timing shift moves the first arrivals; the people each source sends to the same node
    draw their other choices from the run's own stream, unchanged by the demand's draws."""
    base = corridor_scenario(tmp_path, rate_per_min=60, duration_s=1500)
    plain = CrowdModel(scenario_from_dict(base, "t.toml"), seed=5).engine.arrivals
    zero = CrowdModel(scenario_from_dict({**base, "demand": {"turnout_sd": 0.0, "timing_sd_s": 0.0}}, "t.toml"),
                      seed=5).engine.arrivals
    assert np.array_equal(plain.time_s, zero.time_s) and np.array_equal(plain.target, zero.target)
    spread = {**base, "demand": {"turnout_sd": 0.3}}
    counts = np.array([CrowdModel(scenario_from_dict(spread, "t.toml"), seed=s).engine.n_agents
                       for s in range(1, 21)])
    expected = plain.time_s.size                  # the profile's own count (seed 5): 60 a minute to the show's end
    log_sd = np.log(counts).std()
    assert 0.15 < log_sd < 0.5, (log_sd, counts)              # Poisson alone: about 0.03
    assert 0.7 * expected < np.median(counts) < 1.3 * expected
    shifted = CrowdModel(scenario_from_dict({**base, "demand": {"timing_sd_s": 300.0}}, "t.toml"),
                         seed=5).engine.arrivals
    assert not np.allclose(shifted.time_s[:50], plain.time_s[:50])
    with pytest.raises(Exception, match="turnout_sd"):
        scenario_from_dict({**base, "demand": {"turnout_sd": -0.1}}, "t.toml")
