"""The Numba crowd engine against its plain-Python Mesa reference (:mod:`sim.reference`), step by step.

Agreement is *exact*, not within a tolerance: after every step the integer counts (arrived, exited,
inside, agents per state, event counters, people and standing viewers per cell, zone occupancy,
gate queues, people who left each directed edge) are equal, and every simulated minute and at the
end every agent's state, edge, position (m, compared as floats with ``==``), viewing target and
gate wait are equal.  That
is possible because both sides do the same IEEE double operations in the same order (Numba
compiles without fast-math, so no reassociation or fused multiply-add; ``math.exp`` is libm's on
both sides), draw the same random start index from the same seeded generator, and visit agents in
the same order.  Should a rounding difference ever appear, the failure message names the first
step and the counts that differ; it is a change of rule or of operation order until shown otherwise.

Each scenario is a small corridor (``tests/conftest.py::corridor_scenario``; one redrawn with two
branches), about 2,000-2,600 arrivals over 7 simulated minutes, and each test also asserts that
the rules it protects were exercised, so the agreement is not vacuous.
``test_comparison_catches_a_changed_rule`` shows the comparison fails when one rule of the
reference is changed.  Not exercised: the body limit that bounds counterflow swaps (cells here
never reach jam capacity, so swaps happen only when the receiving budget is spent).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from sim.crowd import kernels as K
from sim.crowd.model import CrowdModel
from sim.core.osmxml import write_osm
from sim.crowd.reference import Pedestrian, ReferenceCrowdModel, engine_step_counts
from sim.kinds import scenario_from_dict
from tests.conftest import corridor_scenario


@dataclasses.dataclass
class Comparison:
    engine: CrowdModel
    reference: ReferenceCrowdModel
    first_difference: tuple[int, list[str]] | None     # (step, fields that differ), None if none


def _agent_tables(engine: CrowdModel, reference: ReferenceCrowdModel) -> list[str]:
    """Names of the per-agent columns that differ (every arrived agent, in arrival order)."""
    e = engine.engine
    n = e.n_active
    a = e.agents
    ours = {"state": a.state[:n].tolist(), "edge": a.edge[:n].tolist(), "pos_m": a.pos_m[:n].tolist(),
            "target": a.target[:n].tolist(), "gate_wait_s": a.gate_wait_s[:n].tolist()}
    theirs = reference.agent_table()
    return [k for k in ours if ours[k] != theirs[k]]


def _compare(data: dict) -> Comparison:
    """Run engine and reference in lockstep from the same scenario and seed; stop at the first
    step whose counts differ (every step) or whose agents differ (every simulated minute and at
    the end)."""
    scenario = scenario_from_dict(data, "reference.toml")
    engine = CrowdModel(scenario, check_every_steps=1)
    reference = ReferenceCrowdModel(scenario)
    for step in range(engine.n_steps):
        engine.step()
        reference.step()
        ours, theirs = engine_step_counts(engine.engine), reference.step_counts()
        fields = [f.name for f in dataclasses.fields(ours) if getattr(ours, f.name) != getattr(theirs, f.name)]
        if not fields and ((step + 1) % engine.steps_per_minute == 0 or step + 1 == engine.n_steps):
            fields = _agent_tables(engine, reference)
        if fields:
            return Comparison(engine, reference, (step, fields))
    return Comparison(engine, reference, None)


def _assert_agree(result: Comparison) -> None:
    assert result.first_difference is None, (
        f"engine and reference differ from step {result.first_difference[0]} in "
        f"{result.first_difference[1]}")
    assert result.engine.summary()["agents_conserved"]
    assert result.reference.recount_ok()


def _corridor_beyond_capacity(tmp_path: Path) -> dict:
    # 400 p/min into a 4 m corridor (capacity 1.22 p/(m s) x 4 m = 293 p/min); metered release;
    # each exit node lets out 0.5 p/s, so the sink budget's carry-over decides who leaves when.
    return corridor_scenario(tmp_path, width_m=4.0, rate_per_min=400, duration_s=420,
                             extra={"show": {"release_rate_pps": 5.0},
                                    "exits": {"street": {"nodes": ["Exit East", "Entry West"], "flow_pps": 0.5}}})


def _stairs_in_rain_full_plaza(tmp_path: Path) -> dict:
    # A 2 m flight of stairs (IMO 0.88 p/(m s) up) inside a 6 m corridor, in rain; viewers claim
    # 100 m2 each, so the plaza's 120 spots fill and late walkers find their spot taken.
    stairs = {"highway": "steps", "width": "2", "incline": "up"}
    return corridor_scenario(tmp_path, width_m=6.0, rate_per_min=400, bottleneck=stairs, duration_s=420,
                             extra={"weather": {"rain_mm_per_h": 12.0}, "crowd": {"view_space_m2": 100.0}})


def _two_routes_in_rain(tmp_path: Path) -> dict:
    # The corridor splits into a short uncovered 2 m branch and a longer covered 4 m one. Fed
    # beyond the short branch's capacity, the route refresh (every 30 s, from congested speeds,
    # queues and the rain's shelter weight) sends newcomers the long way; viewers claim 100 m2
    # each, so spots fill and walkers heading for a full one retarget at the refresh.
    data = corridor_scenario(tmp_path, rate_per_min=400, duration_s=420,
                             extra={"crowd": {"view_space_m2": 100.0}, "simulation": {"route_interval_s": 30.0},
                                    "weather": {"rain_mm_per_h": 2.0}})
    points = {"Entry West": (0, 0), "a": (40, 0), "s1": (100, 0), "n1": (100, 40), "b": (160, 0),
              "Corridor End": (200, 0), "p1": (300, 0), "Exit East": (400, 0)}
    ways = [(["Entry West", "a"], {"highway": "footway", "width": "6"}),
            (["a", "s1", "b"], {"highway": "footway", "width": "2"}),
            (["a", "n1", "b"], {"highway": "footway", "width": "4", "covered": "yes"}),
            (["b", "Corridor End"], {"highway": "footway", "width": "6"}),
            (["Corridor End", "p1", "Exit East"], {"highway": "pedestrian", "width": "60", "zone": "plaza"})]
    data["map"] = str(write_osm(tmp_path / "two_routes.osm", points, ways,
                                node_tags={"Entry West": {"entrance": "yes"}, "Exit East": {"entrance": "yes"}}))
    return data


def _capped_zones_with_counterflow(tmp_path: Path) -> dict:
    # A 10 m bridge in the corridor capped at 25 (gates reopen at 15, so they open and close) and
    # the plaza capped at 300 with a second source inside it: people wait at gates in the corridor
    # and at the east source; after 10 s they give up and walk back against the queue.
    bridge = {"highway": "footway", "width": "3", "zone": "bridge"}
    data = corridor_scenario(tmp_path, width_m=3.0, rate_per_min=400, duration_s=420, bottleneck=bridge,
                             extra={"zones": {"plaza": {"match": "zone=plaza", "view": True, "cap": 300,
                                                        "reopen_fraction": 0.9},
                                              "bridge": {"match": "zone=bridge", "cap": 25, "reopen_fraction": 0.6}},
                                    "crowd": {"patience_s": 10.0}})
    data["sources"].append({"name": "east", "nodes": ["Exit East"], "profile": [[0, 100], [60, 100]],
                            "exit": "street"})
    return data


def test_corridor_beyond_capacity_agrees_exactly(tmp_path):
    """Protects: Weidmann speeds, queue discharge at capacity, sending, receiving and exit budgets
    with their carry-over, sources in arrival order, the end of arrivals and the metered release
    (``release_group`` with a maximum)."""
    result = _compare(_corridor_beyond_capacity(tmp_path))
    _assert_agree(result)
    counters = result.reference.counters
    assert result.reference.n_agents > 1500
    assert counters[K.C_EXITED] > 0 and counters[K.C_LEFT_FROM_SOURCE] > 0
    # A queue formed: some cell went past the critical density (queue discharge was exercised).
    assert result.engine.recorder.cell_peak_density.max() > result.engine.engine.arrays.rho_crit_ppm2


def test_stairs_in_rain_with_full_viewing_spots_agrees_exactly(tmp_path):
    """Protects: stairs' sending capacity (by direction), rain-adjusted capacities and speeds,
    choosing another viewing spot on arrival, standing where no spot has room."""
    result = _compare(_stairs_in_rain_full_plaza(tmp_path))
    _assert_agree(result)
    assert result.reference.counters[K.C_RETARGETED] > 0
    walk = result.engine.engine.arrays.walk
    stairs = walk.cells_of_links(walk.network.links_where("highway", "steps"))
    assert result.engine.engine.edge_passed.reshape(-1, 2)[stairs].sum() > 0


def test_capped_zone_gates_balking_and_counterflow_agree_exactly(tmp_path):
    """Protects: zone gates that close at the cap and reopen (hysteresis), admissions per step,
    gate waits, patience and balking (walkers and people at sources, and in queues held at a gate),
    people walking back against the queue, releasing everyone at the show's end."""
    result = _compare(_capped_zones_with_counterflow(tmp_path))
    _assert_agree(result)
    counters = result.reference.counters
    assert counters[K.C_BALKED] > 0 and counters[K.C_ADMITTED] > 0
    assert result.engine.recorder.gate_queue.max() > 0


def test_route_refresh_over_two_routes_in_rain_agrees_exactly(tmp_path):
    """Protects: edge costs from congested speeds, queue delays and shelter in rain, the route
    refresh interval, and retargeting at the refresh."""
    result = _compare(_two_routes_in_rain(tmp_path))
    _assert_agree(result)
    walk = result.engine.engine.arrays.walk
    long_way = walk.cells_of_links(walk.network.links_where("covered", "yes"))
    passed = result.engine.engine.edge_passed.reshape(-1, 2)[long_way].sum()
    assert passed > 0, "nobody took the longer covered branch, so the route refresh was not exercised"
    assert result.reference.counters[K.C_RETARGETED] > 0


def _rimea_data(file: str, overrides: list[str]) -> dict:
    """A RiMEA scenario's data (scenarios/rimea/FILE) with overrides, its map path made absolute."""
    from sim.core.schema import read_scenario_data
    from tests.validation.rimea_runs import RIMEA

    data = read_scenario_data(RIMEA / file, overrides)
    data["map"] = str((RIMEA / data["map"]).resolve())
    return data


def test_people_in_place_two_doors_on_one_node_agree_exactly():
    """Protects: people placed on the map with pre-movement times, turning toward their exit, the
    congested flux that lets a queue discharge at capacity, another door at the same node (within
    the tolerance or the expected wait), exits bounded by the edge that feeds them, short cells."""
    data = _rimea_data("test09b_four_exits.toml", ["populations.0.people=400", "simulation.duration_s=200",
                                                   'populations.0.premovement={kind="uniform", low_s=0, high_s=20}'])
    result = _compare(data)
    _assert_agree(result)
    counters = result.reference.counters
    assert counters[K.C_REROUTED] > 0 and counters[K.C_TURNED] > 0 and counters[K.C_STARTED] == 400
    assert result.engine.recorder.cell_peak_density.max() > result.engine.engine.arrays.rho_crit_ppm2


def test_two_way_corridor_with_swaps_and_speed_groups_agrees_exactly():
    """Protects: counterflow swaps at full cells, speed groups, waits attributed to the edge waited
    for, a corridor packed to the queue density from both ends."""
    data = _rimea_data("test15_corner_group.toml", [])
    data.update({"populations": [
        {"name": "east", "match": "name=V1 west hall", "people": 500, "exit": "east"},
        {"name": "west", "match": "name=V1 east hall", "people": 500, "exit": "west"}],
        "exits": {"east": {"nodes": ["V1 east exit"]}, "west": {"nodes": ["V1 west exit"]}},
        "crowd": {"groups": {"young": {"share": 2, "speed_mean_mps": 1.4, "speed_sd_mps": 0.2, "speed_min_mps": 0.9,
                                       "speed_max_mps": 1.9},
                             "old": {"share": 1, "speed_mean_mps": 1.0, "speed_sd_mps": 0.1, "speed_min_mps": 0.7,
                                     "speed_max_mps": 1.3}}},
        "simulation": {"duration_s": 240, "seed": 4}})
    result = _compare(data)
    _assert_agree(result)
    assert result.reference.counters[K.C_SWAPS] > 0


def _admit_one_over_the_cap(self, zone: int) -> bool:
    return self.zone_open[zone] and self.zone_admit[zone] >= 0


def _never_choose_another_spot(self, node: int) -> int:
    return self.target


def _no_congested_flux(self, e: int, c: int) -> float:
    return 0.0



@pytest.mark.parametrize("scenario, owner, name, changed", [
    (_capped_zones_with_counterflow, ReferenceCrowdModel, "gate_admits", _admit_one_over_the_cap),
    (_two_routes_in_rain, Pedestrian, "choose_view_target", _never_choose_another_spot),
    (_corridor_beyond_capacity, ReferenceCrowdModel, "_downstream_supply", _no_congested_flux),
], ids=["gate-off-by-one", "no-retargeting", "no-congested-flux"])
def test_comparison_catches_a_changed_rule(tmp_path, monkeypatch, scenario, owner, name, changed):
    """Protects the comparison itself: one changed rule in the reference must show as a difference."""
    monkeypatch.setattr(owner, name, changed)
    assert _compare(scenario(tmp_path)).first_difference is not None


@pytest.mark.parametrize("seed", range(6))
def test_listing_movers_from_the_bitmap_agrees_with_a_pass_over_everyone(seed):
    """Kernel vs plain Python: the walkers not in a queue, in index order from the offset round,
    whether the step lists them from the marks (a superset) or from every agent."""
    import numpy as np
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 300))
    state = rng.choice([K.AT_SOURCE, K.WALK_IN, K.STANDING, K.WALK_OUT, K.EXITED], size=n).astype(np.int8)
    q_edge = np.where(rng.random(n) < 0.3, rng.integers(0, 9, n), -1).astype(np.int32)
    walker = ((state == K.WALK_IN) | (state == K.WALK_OUT)) & (q_edge < 0)
    offset = int(rng.integers(0, n))
    expected = [i for i in list(range(offset, n)) + list(range(offset)) if walker[i]]
    # Marks: every walker and some others (people who stopped since they were marked).
    may_move = np.zeros((n + 63) // 64, dtype=np.uint64)
    for i in np.flatnonzero(walker | (rng.random(n) < 0.2)):
        K.mark_may_move(may_move, int(i))
    movers = np.empty(n, dtype=np.int32)
    got = K.list_movers(offset, n, state, q_edge, may_move, np.zeros(1, dtype=np.bool_), movers)
    assert movers[:got].tolist() == expected
    marked = [i for i in range(n) if (int(may_move[i >> 6]) >> (i & 63)) & 1]
    assert marked == np.flatnonzero(walker).tolist()          # the others are cleared
    relist = np.ones(1, dtype=np.bool_)
    got = K.list_movers(offset, n, state, q_edge, np.zeros_like(may_move), relist, movers)
    assert movers[:got].tolist() == expected and not relist[0]


@pytest.mark.parametrize("seed", range(4))
def test_peak_density_per_release_group_agrees_with_plain_python(seed):
    """Kernel vs plain Python: the largest value of each group's cells (the marshalled release's
    hold test), -inf for a group with no cell, cells of no group (-1) ignored."""
    import numpy as np
    rng = np.random.default_rng(seed)
    n_cells, n_groups = int(rng.integers(1, 60)), int(rng.integers(1, 8))
    values = rng.random(n_cells) * 5.0
    group = rng.integers(-1, n_groups + 1, n_cells).astype(np.int32)     # n_groups: out of range, ignored
    out = np.empty(n_groups)
    K.max_per_group(values, group, out)
    for g in range(n_groups):
        mine = [v for v, h in zip(values, group) if h == g]
        assert out[g] == (max(mine) if mine else -np.inf)


def test_a_step_follows_bundles_replaced_between_steps(tmp_path):
    """The packed step state (one object handed to the kernel instead of ~100 arrays) is packed
    again when a bundle is a new object, and a copied or pickled engine starts without it and
    steps as the original does."""
    import pickle
    import numpy as np
    from sim.crowd.state import copy_engine
    model = CrowdModel(scenario_from_dict(corridor_scenario(tmp_path, rate_per_min=400, duration_s=420)))
    for _ in range(30):
        model.step()
    engine = model.engine
    first = engine._step_state()
    assert engine._step_state() is first                      # unchanged bundles: the same pack
    engine.counters = engine.counters.copy()
    assert engine._step_state() is not first                  # a new array object: packed again
    assert engine._packed_from[8] is engine.counters
    copies = [copy_engine(engine, np.random.default_rng(2)), pickle.loads(pickle.dumps(engine))]
    for other in copies:
        assert other._packed is None
        other.rng = np.random.default_rng(2)
    engine.rng = np.random.default_rng(2)
    for _ in range(30):
        for e in [engine] + copies:
            e.step()
    for other in copies:
        assert np.array_equal(other.agents.pos_m, engine.agents.pos_m)
        assert np.array_equal(other.counters, engine.counters)
        assert other._packed_from[0] is other.agents           # its own arrays, not the original's
