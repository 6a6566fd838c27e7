"""Crowd-management measures: each one acts, and the run would differ if it did nothing.

A small district written through the OSM loader: two entries (west, north) meet at a junction; from
there a short way and a longer way round (a loop) lead east to plaza A, and a way south to plaza B.
Each test runs the same seed with and without the measure and checks what the measure is for: a
cordon's queue forms where the cordon is; a metered gate admits its rate; a gate opens only in its
windows; a closed station's passengers arrive elsewhere; a one-way way is never walked against;
people held at a closed gate go elsewhere.  These are unit checks of the controllers (the outcome
is the rule the scenario sets), not evidence about crowds.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.core.errors import ScenarioError
from sim.core.osmxml import write_osm
from sim.crowd import kernels as K
from sim.crowd.model import CrowdModel
from sim.kinds import scenario_from_dict

POINTS = {"Entry West": (0, 0), "w1": (100, 0), "Junction": (200, 0), "Entry North": (200, 200),
          "n1": (200, 100), "Loop Top": (250, 40), "Gate A": (300, 0), "A end": (400, 0),
          "Gate B": (200, -100), "B end": (200, -200)}
WAYS = [(["Entry West", "w1", "Junction"], {"highway": "pedestrian", "width": "8", "name": "West Street"}),
        (["Entry North", "n1", "Junction"], {"highway": "footway", "width": "4", "name": "North Street"}),
        (["Junction", "Gate A"], {"highway": "footway", "width": "4", "name": "Short Way"}),
        (["Junction", "Loop Top", "Gate A"], {"highway": "footway", "width": "4", "name": "Long Way"}),
        (["Gate A", "A end"], {"highway": "pedestrian", "width": "30", "zone": "plaza_a"}),
        (["Junction", "Gate B"], {"highway": "footway", "width": "4", "name": "South Way"}),
        (["Gate B", "B end"], {"highway": "pedestrian", "width": "30", "zone": "plaza_b"})]


def district(tmp_path, **changes) -> dict:
    """The district's scenario (people from the west at 240/min for 10 minutes; a show at 15-17 min;
    everyone leaves by the west entry), with ``changes`` merged into its tables."""
    path = write_osm(tmp_path / "district.osm", POINTS, WAYS,
                     node_tags={"Entry West": {"entrance": "yes"}, "Entry North": {"entrance": "yes"}})
    data = {
        "name": "district", "map": str(path),
        "simulation": {"duration_s": 1800, "max_cell_m": 25, "seed": 7, "route_interval_s": 30},
        "show": {"start_s": 900, "end_s": 1020, "release": "all"},
        "zones": {"plaza_a": {"match": "zone=plaza_a", "view": True}},
        "exits": {"home": {"nodes": ["Entry West"]}},
        "sources": [{"name": "west", "nodes": ["Entry West"], "profile": [[0, 240], [10, 240]], "exit": "home"}],
    }
    for key, value in changes.items():
        data[key] = {**data[key], **value} if isinstance(value, dict) and key in data else value
    return data


def run(data: dict, steps: int | None = None, seed: int = 7, watch=None) -> CrowdModel:
    model = CrowdModel(scenario_from_dict(data), seed=seed, check_every_steps=1)
    n = steps if steps is not None else model.n_steps
    for _ in range(n):
        model.step()
        if watch is not None:
            watch(model)
    return model


def cells_of(model: CrowdModel, *ways: str, east_of_m: float = -1e9, west_of_m: float = 1e9) -> np.ndarray:
    """Cells of the named ways whose middle lies between the given distances east of the west entry."""
    walk = model.engine.arrays.walk
    net = walk.network
    links = np.concatenate([net.links_where("name", way) for way in ways])
    cells = walk.cells_of_links(links)
    west = walk.walk_node(net.find_node("Entry West"))
    x = (walk.node_x_m[walk.cell_a[cells]] + walk.node_x_m[walk.cell_b[cells]]) / 2 - walk.node_x_m[west]
    return cells[(x >= east_of_m) & (x < west_of_m)]


def test_a_cordon_holds_people_where_it_stands_and_lets_people_leave(tmp_path):
    """A cordon across West Street at w1 (100 m in), closed while plaza A is full: the queue forms
    west of it instead of at plaza A's gate; people going home pass it (the only way out)."""
    base = {"zones": {"plaza_a": {"match": "zone=plaza_a", "view": True, "cap": 600}}}
    cordon = {"zones": {"plaza_a": {"match": "zone=plaza_a", "view": True, "cap": 600},
                        "cordon": {"nodes": ["w1"], "gate": "inbound", "close_while_full": ["plaza_a"]}}}
    peaks = {}
    for label, changes in (("without", base), ("with", cordon)):
        seen = {"west": 0, "gate": 0}

        def watch(model, seen=seen):
            queued = model.engine.cells.queued
            seen["west"] = max(seen["west"], int(queued[west_cells].sum()))
            seen["gate"] = max(seen["gate"], int(queued[gate_cells].sum()))

        model = CrowdModel(scenario_from_dict(district(tmp_path, **changes)), seed=7, check_every_steps=1)
        west_cells = cells_of(model, "West Street", west_of_m=95)
        gate_cells = np.concatenate([cells_of(model, "West Street", east_of_m=105),
                                     cells_of(model, "Short Way", "Long Way")])
        for _ in range(model.n_steps):
            model.step()
            watch(model)
        peaks[label] = dict(seen)
        summary = model.summary()
        assert summary["agents_conserved"] and summary["agents_inside"] == 0, label   # everyone got home
    assert peaks["without"]["gate"] >= 100 and peaks["without"]["west"] <= 10, peaks
    # With the cordon the queue stands west of it; those who passed before it closed still queue at
    # the gate (measured 1,010 west and 737 at the gate, against 3 and 1,818 without).
    assert peaks["with"]["west"] >= 300 and peaks["with"]["gate"] <= 0.5 * peaks["without"]["gate"], peaks
    assert model.gates["cordon"].closures >= 1


def test_a_metered_gate_admits_at_most_its_rate(tmp_path):
    """plaza A's gates metered at 1.5 people per second: never more people admitted by time t than
    1.5 t + 1, and, with 4 people a second queueing for it, within 5% of that rate."""
    admitted = []
    data = district(tmp_path, zones={"plaza_a": {"match": "zone=plaza_a", "view": True, "meter_pps": 1.5}},
                    simulation={"duration_s": 900, "max_cell_m": 25, "seed": 7},
                    show={"start_s": 800, "end_s": 850, "release": "all"})
    run(data, 600, watch=lambda m: admitted.append(int(m.engine.counters[K.C_ADMITTED])))
    t = np.arange(1, 601)
    assert np.all(np.asarray(admitted) <= 1.5 * t + 1)
    rate = (admitted[599] - admitted[299]) / 300
    assert rate == pytest.approx(1.5, rel=0.05)
    free = []
    run(district(tmp_path, simulation={"duration_s": 900, "max_cell_m": 25, "seed": 7},
                 show={"start_s": 800, "end_s": 850, "release": "all"}), 600,
        watch=lambda m: free.append(int(m.engine.counters[K.C_ADMITTED])))
    assert (free[599] - free[299]) / 300 > 2.5                # unmetered, the gate takes more


def test_gates_open_only_in_their_windows(tmp_path):
    """Alternately opened entrances: plaza A open in 0-300 s and 600-900 s only: nobody is admitted
    between 300 s and 600 s, and people are admitted in both windows."""
    admitted = []
    data = district(tmp_path, zones={"plaza_a": {"match": "zone=plaza_a", "view": True,
                                                 "open_windows": [[0, 300], [600, 900]]}})
    run(data, 900, watch=lambda m: admitted.append(int(m.engine.counters[K.C_ADMITTED])))
    assert admitted[299] > 0 and admitted[598] == admitted[302]
    assert admitted[899] > admitted[598]


def test_a_closed_station_sends_its_passengers_to_the_next_one(tmp_path):
    """The north source (a metro station) closes after its first 300 passengers; the rest arrive at
    the west entry 120 s later.  The people who found it open are the same people as without the
    closure (common random numbers), and without divert_to the rest do not come."""
    sources = [{"name": "west", "nodes": ["Entry West"], "profile": [[0, 120], [10, 120]], "exit": "home"},
               {"name": "north", "nodes": ["Entry North"], "profile": [[0, 120], [10, 120]], "exit": "home"}]
    open_run = run(district(tmp_path, sources=sources), 1)
    closed = [dict(sources[0]), {**sources[1], "close_after_people": 300, "divert_to": "west",
                                 "divert_delay_s": 120}]
    closed_run = run(district(tmp_path, sources=closed), 1)
    walk = open_run.engine.arrays.walk
    north = walk.walk_node(walk.network.find_node("Entry North"))
    a_open, a_closed = open_run.engine.arrivals, closed_run.engine.arrivals
    assert a_open.time_s.size == a_closed.time_s.size                         # nobody lost
    at_north = a_closed.node == north
    assert int(at_north.sum()) == 300
    moved = a_closed.diverted_from == 1
    assert int(moved.sum()) == int((a_open.node == north).sum()) - 300
    assert np.all(a_closed.source[moved] == 0) and not np.any(a_closed.node[moved] == north)
    # The first 300 from the north are the same people (times and viewing spots) in both runs.
    first_open = np.flatnonzero(a_open.node == north)[:300]
    np.testing.assert_array_equal(a_open.time_s[first_open], a_closed.time_s[at_north])
    np.testing.assert_array_equal(a_open.target[first_open], a_closed.target[at_north])
    # The diverted arrive 120 s after the times they had: their earliest is after the closure plus 120 s.
    closing_time = a_open.time_s[first_open[-1]]
    assert a_closed.time_s[moved].min() >= closing_time + 120 - 1e-9
    away = [dict(sources[0]), {**sources[1], "closed_from_s": 300}]
    away_run = run(district(tmp_path, sources=away), 1)
    arrivals = away_run.engine.arrivals
    assert not np.any((arrivals.node == north) & (arrivals.time_s >= 300))
    assert arrivals.not_coming[1] == int(((a_open.node == north) & (a_open.time_s >= 300)).sum()) > 0


def test_a_one_way_way_is_never_walked_against(tmp_path):
    """The short way one-way from the junction to plaza A (in), the long way round one-way back
    (out): nobody walks the short way westward or the long way eastward; without the rule, people
    going home take the short way back."""
    one_way = [{"match": "name=Short Way", "toward": "Gate A"},
               {"match": "name=Long Way", "toward": "Junction"}]
    for rule in (one_way, []):
        model = run(district(tmp_path, one_way=rule))
        walk = model.engine.arrays.walk
        net = walk.network
        passed = model.engine.edge_passed
        short = walk.cells_of_links(net.links_where("name", "Short Way"))
        long_way = walk.cells_of_links(net.links_where("name", "Long Way"))

        def eastward(cells):
            """Directed edges of ``cells`` that go east (away from the junction)."""
            a_to_b_east = walk.node_x_m[walk.cell_b[cells]] > walk.node_x_m[walk.cell_a[cells]]
            return np.where(a_to_b_east, 2 * cells, 2 * cells + 1)

        short_west = passed[eastward(short) ^ 1].sum()
        long_east = passed[eastward(long_way)].sum()
        assert model.summary()["agents_conserved"]
        if rule:
            assert short_west == 0 and long_east == 0, (short_west, long_east)
            assert passed[eastward(long_way) ^ 1].sum() > 0           # they go home the long way
        else:
            assert short_west > 100                                   # home the short way, when allowed


def test_people_held_at_a_closed_gate_go_to_another_entrance(tmp_path):
    """plaza A capped at 300 with divert_after_s = 60, plaza B open: people held at A's gates for a
    minute choose a spot in B; without divert_after_s they keep waiting."""
    zones = {"plaza_a": {"match": "zone=plaza_a", "view": True, "cap": 300, "divert_after_s": 60},
             "plaza_b": {"match": "zone=plaza_b", "view": True, "view_weight": 0.01}}
    with_divert = run(district(tmp_path, zones=zones), 700)
    plain = {**zones, "plaza_a": {k: v for k, v in zones["plaza_a"].items() if k != "divert_after_s"}}
    without = run(district(tmp_path, zones=plain), 700)
    diverted = int(with_divert.engine.counters[K.C_DIVERTED])
    assert diverted > 50 and int(without.engine.counters[K.C_DIVERTED]) == 0
    b = list(with_divert.engine.arrays.zone_names).index("plaza_b")
    assert with_divert.engine.zone_occupancy[b] > without.engine.zone_occupancy[b] + 50


def test_measure_settings_are_checked(tmp_path):
    """Bad measure settings: one clear error naming the field."""
    bad = [({"zones": {"plaza_a": {"view": True}}}, "zones.plaza_a"),
           ({"zones": {"plaza_a": {"match": "zone=plaza_a", "view": True, "close_while_full": ["nowhere"]}}},
            "close_while_full"),
           ({"zones": {"plaza_a": {"match": "zone=plaza_a", "view": True, "open_windows": [[300, 100]]}}},
            "open_windows"),
           ({"sources": [{"name": "west", "nodes": ["Entry West"], "profile": [[0, 1], [1, 1]], "exit": "home",
                          "divert_to": "west", "closed_from_s": 10}]}, "divert_to"),
           ({"one_way": [{"match": "name=Nowhere", "toward": "Gate A"}]}, "one_way.0.match"),
           ({"one_way": [{"match": "name=Short Way", "toward": "Entry North"}]}, "one_way.0.toward")]
    for changes, field in bad:
        with pytest.raises((ScenarioError, ValueError), match=field):
            CrowdModel(scenario_from_dict(district(tmp_path, **changes)))


def test_a_named_plan_applies_its_measures_and_an_unknown_plan_is_refused():
    """``[plans.NAME]`` in a crowd scenario: ``citytwin run --plan NAME`` builds the run with its
    overrides (here the shipped rain night's managed plan); a misspelt name is one clear error."""
    from sim.core.errors import SimError
    from sim.kinds import build_run, load_scenario
    from tests.conftest import ROOT

    rain = load_scenario(ROOT / "scenarios" / "bund_lightshow_rain.toml")
    assert "district" not in rain.zones
    run = build_run(rain, seed=1, plans=["managed"])
    district = run.scenario.zones["district"]
    assert district.gate == "inbound" and district.meter_pps == 16 and district.inside_cap == 70_000
    assert run.scenario.sources[0].closed_from_s == 3600 and run.plan_names == ["managed"]
    with pytest.raises(SimError, match="no plan 'managd'.*managed"):
        build_run(rain, seed=1, plans=["managd"])
