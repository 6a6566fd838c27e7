"""The vehicle engine and the tunnel controller: IDM against its analytic steady state, convoys
against the bound set by size, escort speed and phase length, the safety invariants, plan
comparisons, clean errors, and the real OpenStreetMap extract."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from sim.core.errors import ScenarioError
from sim.traffic.model import PlanComparison, TrafficModel
from sim.core.osmxml import write_osm
from sim.kinds import load_scenario, scenario_from_dict
from sim.traffic.compile import DEFAULT_CLASSES, compile_traffic, convoy_traverse_s, idm_capacity_veh_per_h
from sim.traffic.kernels import equilibrium_gap_m, equilibrium_speed_mps, idm_acceleration

ROOT = Path(__file__).resolve().parents[1]
TYPHOON = ROOT / "scenarios" / "typhoon_tunnel_convoy.toml"


def single_lane_scenario(tmp_path: Path, rate_veh_h: float = 3000.0, duration_s: float = 3600.0,
                         extra_ways: list | None = None, classes: dict | None = None) -> dict:
    """A 4 km one-way, one-lane road at 50 km/h from 'Origin' to 'Destination'."""
    points = {"Origin": (0, 0), "a1": (1000, 0), "a2": (2000, 0), "Destination": (4000, 0)}
    ways = [(["Origin", "a1", "a2", "Destination"],
             {"highway": "primary", "oneway": "yes", "lanes": "1", "maxspeed": "50", "bicycle": "no"})]
    path = write_osm(tmp_path / "lane.osm", points, ways + (extra_ways or []))
    return {"name": "single lane", "kind": "traffic", "map": str(path),
            "simulation": {"duration_s": duration_s, "dt_s": 0.5, "seed": 1},
            "demand": [{"name": "cars", "classes": classes or {"car": 1.0}, "origins": ["Origin"],
                        "destinations": ["Destination"], "profile": [[0, rate_veh_h], [60, rate_veh_h]]}]}


def tunnel_scenario(tmp_path: Path, plans: dict, bikes_veh_h: float = 600.0, cars_veh_h: float = 900.0,
                    duration_s: float = 3600.0, tube_m: float = 1000.0) -> dict:
    """West -- 300 m road -- portal -- a one-way 2-lane tube 'Test Tunnel' -- portal -- 300 m -- East.
    Bicycles ride a separate lane on the open roads; the tube is bicycle=no (convoys only)."""
    points = {"West": (0, 0), "Portal West": (300, 0), "Portal East": (300 + tube_m, 0),
              "East": (600 + tube_m, 0)}
    road = {"highway": "secondary", "lanes": "4", "maxspeed": "50"}
    ways = [(["West", "Portal West"], road), (["Portal East", "East"], road),
            (["Portal West", "Portal East"], {"highway": "primary", "tunnel": "yes", "layer": "-1", "lanes": "2",
                                              "oneway": "yes", "maxspeed": "40", "bicycle": "no", "foot": "no",
                                              "name": "Test Tunnel"})]
    path = write_osm(tmp_path / "tunnel.osm", points, ways)
    demand = [{"name": "bikes", "classes": {"ebike": 0.7, "bicycle": 0.3}, "origins": ["West"],
               "destinations": ["East"], "profile": [[0, bikes_veh_h], [60, bikes_veh_h]]}]
    if cars_veh_h > 0:
        demand.append({"name": "cars", "classes": {"car": 1.0}, "origins": ["West"], "destinations": ["East"],
                       "profile": [[0, cars_veh_h], [60, cars_veh_h]]})
    return {"name": "test tunnel", "kind": "traffic", "map": str(path),
            "simulation": {"duration_s": duration_s, "dt_s": 0.5, "seed": 2},
            "tunnel": {"name": "Test Tunnel", "escort_speed_kph": 20, "convoy_lanes": 2},
            "demand": demand, "plans": plans}


# ------------------------------------------------------------------------------------------- IDM

def test_idm_kernel_matches_the_textbook_formula():
    """Reference: Treiber, Hennecke & Helbing (2000), a = a0 [1 - (v/v0)^4 - (s*/s)^2]."""
    for v, v0, gap, dv in [(10.0, 13.9, 30.0, 2.0), (0.0, 13.9, 5.0, -1.0), (13.0, 13.9, 200.0, 0.0)]:
        a0, b, s0, t = 1.0, 1.5, 2.0, 1.0
        s_star = s0 + max(0.0, v * t + v * dv / (2 * math.sqrt(a0 * b)))
        expected = a0 * (1 - (v / v0) ** 4 - (s_star / gap) ** 2)
        assert idm_acceleration(v, v0, gap, dv, a0, b, s0, t, 4.0) == pytest.approx(expected, rel=1e-12)
    # equilibrium gap and its inverse
    gap = equilibrium_gap_m(9.0, 13.9, 2.0, 1.0, 4.0)
    assert gap == pytest.approx((2 + 9) / math.sqrt(1 - (9 / 13.9) ** 4))
    assert equilibrium_speed_mps(gap, 13.9, 2.0, 1.0, 4.0) == pytest.approx(9.0, abs=1e-6)


def test_single_lane_fed_beyond_capacity_carries_idm_capacity(tmp_path):
    """A one-lane road fed at 3,000 veh/h carries IDM's steady-state capacity, max over v of
    v / (s_e(v) + length) (docs/sources.md: ~1,900 veh/h for T = 1 s, s0 = 2 m, 5 m cars at 50 km/h;
    observed urban lanes 1,800-2,000).  Tolerance 3%: the stream settles slightly on the free side."""
    scenario = scenario_from_dict(single_lane_scenario(tmp_path))
    model = TrafficModel(scenario)
    arrived = []
    while model.engine.step_index < model.n_steps:
        model.step()
        if model.engine.step_index % 120 == 0:
            arrived.append(model.engine.arrived)
    flow_veh_h = (arrived[-1] - arrived[20]) / ((len(arrived) - 1 - 20) / 60.0)   # after a 20-min warm-up
    capacity, _ = idm_capacity_veh_per_h(DEFAULT_CLASSES["car"], 50 / 3.6)
    assert 1800 <= capacity <= 2100
    assert flow_veh_h == pytest.approx(capacity, rel=0.03)
    assert model.engine.conserved
    assert model.engine.overlaps() == 0


def test_follower_settles_at_the_equilibrium_gap(tmp_path):
    """A car behind a slow bus settles at IDM's equilibrium gap for the bus's speed (within 2%)."""
    data = single_lane_scenario(tmp_path, rate_veh_h=10, duration_s=400)
    data["vehicles"] = {"bus": {"desired_speed_kph": 28.8, "speed_spread": 0.0},
                        "car": {"speed_spread": 0.0}}
    scenario = scenario_from_dict(data)
    arrays = compile_traffic(scenario)
    arrays.trip_depart_s[:2] = [0.0, 6.0]
    arrays.trip_cls[:2] = [1, 0]                      # a bus, then a car
    model = TrafficModel(scenario, arrays=arrays)
    e = model.engine
    while e.t_s < 300:
        model.step()
    bus, car = 0, 1
    gap = e.veh_pos[bus] - DEFAULT_CLASSES["bus"].length_m - e.veh_pos[car]
    assert e.veh_edge[bus] == e.veh_edge[car]
    assert e.veh_speed[car] == pytest.approx(8.0, rel=0.01)
    assert gap == pytest.approx(equilibrium_gap_m(8.0, 50 / 3.6, 2.0, 1.0, 4.0), rel=0.02)


def test_same_seed_same_result_and_vehicles_conserved(tmp_path):
    data = tunnel_scenario(tmp_path, {"p": {"control": "fixed", "motor_s": 600, "convoy_s": 600}},
                           duration_s=1800)
    first = PlanComparison(scenario_from_dict(data)).run()
    second = PlanComparison(scenario_from_dict(data)).run()
    for s in (first, second):
        s.pop("wall_seconds")
        for plan in s["plans"].values():
            plan.pop("wall_seconds")
            plan.pop("vehicle_updates_per_s")
            plan.pop("invariants")                      # its timing
    assert first == second
    assert first["vehicles_conserved"]
    other = PlanComparison(scenario_from_dict(data), seed=99).run()
    assert other["plans"]["p"]["modes"] != first["plans"]["p"]["modes"]


# ------------------------------------------------------------------------------------------ convoys

def _run_with_checks(data: dict, plans: list[str] | None = None) -> PlanComparison:
    study = PlanComparison(scenario_from_dict(data), plans=plans, check_invariants=True)
    study.run()
    return study


def test_convoy_size_bounds_each_convoy(tmp_path):
    """With plenty of bicycles waiting, each convoy carries exactly bikes_per_convoy."""
    data = tunnel_scenario(tmp_path, {"small": {"control": "fixed", "motor_s": 600, "convoy_s": 600,
                                                "bikes_per_convoy": 40}},
                           bikes_veh_h=1500, cars_veh_h=0, duration_s=2400)
    study = _run_with_checks(data)
    model = study.models["small"]
    done = [c for c in model.controller.convoys if c.state == "done"]
    assert len(done) >= 2
    assert all(c.released == 40 for c in done)
    assert int(model.engine.tube_exits[:, 1].sum()) == 40 * len(done)
    assert model.violations == []


def test_convoy_throughput_matches_the_release_window_bound(tmp_path):
    """With a large convoy size, a convoy carries what the release window lets in: convoy lanes x
    (convoy_s - ride time of the last bicycle - 60 s) x the bicycles' IDM capacity at the convoy
    speed (single file per lane, entering at the flow-maximising speed).  Tolerance 10% (the first
    bicycles wait for the lead car, and entries come in whole steps)."""
    convoy_s = 800.0
    data = tunnel_scenario(tmp_path, {"big": {"control": "fixed", "motor_s": 600, "convoy_s": convoy_s,
                                              "bikes_per_convoy": 5000}},
                           bikes_veh_h=3000, cars_veh_h=0, duration_s=2700)
    study = _run_with_checks(data)
    model = study.models["big"]
    window_s = convoy_s - convoy_traverse_s(model.arrays)
    capacity_veh_h, _ = idm_capacity_veh_per_h(DEFAULT_CLASSES["bicycle"], 0.97 * 20 / 3.6)
    bound = 2 * window_s * capacity_veh_h / 3600.0
    done = [c for c in model.controller.convoys if c.state == "done"]
    assert done
    for convoy in done:
        assert convoy.released == pytest.approx(bound, rel=0.10)
    assert model.violations == []


def test_invariants_hold_every_step_on_the_typhoon_scenario():
    """No bicycle in a tube without its lead car ahead and its closing car behind (or still to
    come), no motor vehicle in a tube during a convoy phase, no overlapping vehicles: checked every
    step for a fixed and an on-demand plan of the shipped scenario (first 80 minutes)."""
    scenario = load_scenario(TYPHOON, ["simulation.duration_s=4800"])
    study = PlanComparison(scenario, plans=["fixed_20_10", "on_demand_60"], check_invariants=True)
    summary = study.run()
    for name, model in study.models.items():
        assert model.violations == [], model.violations[:3]
        assert summary["plans"][name]["convoys"] >= 2
        assert summary["plans"][name]["modes"]["bike"]["throughput_per_h"] > 0
    assert summary["vehicles_conserved"]


def test_longer_convoy_phases_lower_bike_waits_and_raise_motor_queues(tmp_path):
    """Same cycle (about 27 minutes), convoy phases of 7 vs 15 minutes."""
    data = tunnel_scenario(tmp_path, {
        "short_convoys": {"control": "fixed", "motor_s": 1200, "convoy_s": 420},
        "long_convoys": {"control": "fixed", "motor_s": 720, "convoy_s": 900},
    }, bikes_veh_h=600, cars_veh_h=1200, duration_s=5400)
    summary = PlanComparison(scenario_from_dict(data)).run()
    short, long_ = summary["plans"]["short_convoys"]["modes"], summary["plans"]["long_convoys"]["modes"]
    assert long_["bike"]["wait_s_mean"] < short["bike"]["wait_s_mean"]
    assert long_["motor"]["mean_queue_vehicles"] > short["motor"]["mean_queue_vehicles"]
    assert long_["motor"]["wait_s_mean"] > short["motor"]["wait_s_mean"]
    assert long_["bike"]["tunnel_utilisation"] > short["bike"]["tunnel_utilisation"]
    assert summary["vehicles_conserved"]


# ------------------------------------------------------------------------------------------- errors

@pytest.mark.parametrize("plan, field", [
    ({"control": "fixed", "motor_s": 0, "convoy_s": 600}, "plans.bad.motor_s"),
    ({"control": "fixed", "motor_s": 600, "convoy_s": -5}, "plans.bad.convoy_s"),
    ({"control": "fixed", "motor_s": 600}, "convoy_s"),
    ({"control": "on_demand", "min_motor_s": 300}, "trigger_bikes"),
    ({"control": "fixed", "motor_s": 600, "convoy_s": 600, "clearance_s": 0}, "plans.bad.clearance_s"),
    ({"control": "fixed", "motor_s": 600, "convoy_s": 600, "colour": "red"}, "plans.bad.colour"),
])
def test_bad_plans_are_clean_errors(tmp_path, plan, field):
    data = tunnel_scenario(tmp_path, {"bad": plan})
    with pytest.raises(ScenarioError) as err:
        compile_traffic(scenario_from_dict(data, "typhoon.toml"))
    assert field in str(err.value)
    assert "typhoon.toml" in str(err.value)


def test_tunnel_not_on_the_map_and_too_short_convoys_are_clean_errors(tmp_path):
    data = tunnel_scenario(tmp_path, {"p": {"control": "fixed", "motor_s": 600, "convoy_s": 600}})
    data["tunnel"]["name"] = "Test Tunel"
    with pytest.raises(ScenarioError, match=r"tunnel\.name: no tunnel=yes road named 'Test Tunel'.*Test Tunnel"):
        compile_traffic(scenario_from_dict(data, "t.toml"))
    data = tunnel_scenario(tmp_path, {"p": {"control": "fixed", "motor_s": 600, "convoy_s": 120}})
    with pytest.raises(ScenarioError, match=r"plans\.p\.convoy_s: 120 s is too short"):
        compile_traffic(scenario_from_dict(data, "t.toml"))
    data = tunnel_scenario(tmp_path, {"p": {"control": "fixed", "motor_s": 600, "convoy_s": 600}})
    data["demand"][0]["origins"] = ["Nowhere"]
    with pytest.raises(ScenarioError, match=r"demand\.0\.origins\.0: no node named 'Nowhere'"):
        compile_traffic(scenario_from_dict(data, "t.toml"))


@pytest.mark.parametrize("key, value", [("dt_s", 5e-324), ("duration_s", 1e300)])
def test_steps_too_many_to_count_are_clean_errors(tmp_path, key, value):
    """Found by the 10,000-case fuzz run: simulation.dt_s = 5e-324 passed "> 0" and the step count
    overflowed; a step below 0.01 s or a run above a week is now refused by the schema."""
    data = tunnel_scenario(tmp_path, {"p": {"control": "fixed", "motor_s": 600, "convoy_s": 600}})
    data["simulation"][key] = value
    with pytest.raises(ScenarioError, match=rf"simulation\.{key}"):
        scenario_from_dict(data, "t.toml")


# ------------------------------------------------------------------------------- real OSM extract

def test_engine_runs_on_the_real_extract_through_dalian_road_tunnel(tmp_path, shared_osm):
    """The Dalian Road Tunnel of the real extract (both tubes found by name), bikes escorted
    through it, cars on the approaches: conserved, invariants hold, convoys cross."""
    from sim.core.osm import load_network
    from sim.core.roads import build_road_graph
    from sim.traffic.tubes import find_tubes

    road = build_road_graph(load_network(shared_osm))
    tubes = find_tubes(road, "Dalian Road Tunnel", "test")
    assert len(tubes) == 2
    assert all(1200 < t.length_m < 2800 for t in tubes)
    net = road.network

    def upstream(node: int, hops: int) -> int:
        for _ in range(hops):
            ins = [e for e in road.in_edges[road.in_start[node]:road.in_start[node + 1]] if road.bike_lane[e]]
            if not ins:
                break
            node = int(road.edge_from[ins[0]])
        return node

    def downstream(node: int, hops: int) -> int:
        for _ in range(hops):
            outs = [e for e in road.out_edges[road.out_start[node]:road.out_start[node + 1]] if road.bike_lane[e]]
            if not outs:
                break
            node = int(road.edge_to[outs[0]])
        return node

    tube = tubes[0]
    origin = int(net.node_osmid[upstream(tube.entry_node, 3)])
    dest = int(net.node_osmid[downstream(tube.exit_node, 3)])
    data = {"name": "dalian", "kind": "traffic", "map": str(shared_osm),
            "simulation": {"duration_s": 1800, "dt_s": 0.5, "seed": 5},
            "tunnel": {"name": "Dalian Road Tunnel", "convoy_lanes": 2},
            "demand": [{"name": "bikes", "classes": {"ebike": 1.0}, "origins": [origin], "destinations": [dest],
                        "profile": [[0, 300], [30, 300]]},
                       {"name": "cars", "classes": {"car": 1.0}, "origins": [origin], "destinations": [dest],
                        "profile": [[0, 600], [30, 600]]}],
            "plans": {"p": {"control": "fixed", "motor_s": 300, "convoy_s": 720, "clearance_s": 30}}}
    study = _run_with_checks(data)
    summary = study.summary()
    model = study.models["p"]
    assert model.violations == [], model.violations[:3]
    assert summary["vehicles_conserved"]
    assert summary["plans"]["p"]["convoys"] >= 2
    assert int(model.engine.tube_exits[tube.index, 1]) > 0
    assert int(model.engine.tube_exits[tube.index, 0]) > 0


# --------------------------------------------------------------------------- issue 13: honest vehicles

def idm_queue_outflow_veh_h(v0_mps: float, a: float = 1.0, b: float = 1.5, s0: float = 2.0, t_headway: float = 1.0,
                            length_m: float = 5.0, n: int = 60, dt_s: float = 0.01, first: int = 10,
                            last: int = 50) -> float:
    """IDM's queue-outflow rate, independently of the engine: a standing queue at IDM's jam gap s0
    starts behind a stop line that vanishes at t = 0 (plain NumPy, step 0.01 s); the rate at which
    vehicles ``first`` .. ``last`` cross the line (Treiber, Hennecke & Helbing 2000; Treiber &
    Kesting, Traffic Flow Dynamics, ch. 11 'dynamic capacity')."""
    x = -np.arange(n) * (s0 + length_m)
    v = np.zeros(n)
    cross = np.full(n, np.nan)
    t = 0.0
    while np.isnan(cross[last]) and t < 900:
        gap = np.concatenate([[1e9], x[:-1] - length_m - x[1:]])
        dv = np.concatenate([[0.0], v[1:] - v[:-1]])
        s_star = s0 + np.maximum(0.0, v * t_headway + v * dv / (2 * math.sqrt(a * b)))
        acc = a * (1 - (v / v0_mps) ** 4 - (s_star / np.maximum(gap, 0.01)) ** 2)
        v_next = np.maximum(v + acc * dt_s, 0.0)
        x_next = x + 0.5 * (v + v_next) * dt_s
        crossed = np.isnan(cross) & (x < 0) & (x_next >= 0)
        cross[crossed] = t + dt_s * (0 - x[crossed]) / np.maximum(x_next[crossed] - x[crossed], 1e-12)
        x, v, t = x_next, v_next, t + dt_s
    return (last - first) / (cross[last] - cross[first]) * 3600.0


def signal_scenario(tmp_path: Path, rate_veh_h: float = 1500.0, duration_s: float = 900.0) -> dict:
    """A one-lane road, 2 km to a signal (a side street gives it a second phase) and 1 km beyond;
    400 s cycles, so a long queue stands at every red."""
    points = {"Origin": (0, 0), "Signal": (2000, 0), "Destination": (3000, 0), "Side": (2000, -300)}
    road = {"highway": "primary", "oneway": "yes", "lanes": "1", "maxspeed": "50", "bicycle": "no"}
    path = write_osm(tmp_path / "signal.osm", points,
                     [(["Origin", "Signal"], road), (["Signal", "Destination"], road),
                      (["Side", "Signal"], {**road, "highway": "secondary"})],
                     node_tags={"Signal": {"highway": "traffic_signals"}})
    return {"name": "queue at a red light", "kind": "traffic", "map": str(path),
            "simulation": {"duration_s": duration_s, "dt_s": 0.5, "seed": 1},
            "signals": {"cycle_s": 400, "intergreen_s": 4}, "vehicles": {"car": {"speed_spread": 0.0}},
            "demand": [{"name": "cars", "classes": {"car": 1.0}, "origins": ["Origin"], "destinations": ["Destination"],
                        "profile": [[0, rate_veh_h], [60, rate_veh_h]]}]}


def test_a_standing_queue_discharges_at_idms_queue_outflow_rate(tmp_path):
    """The lane-capacity test that does not depend on insertion: about 80 cars stand at a red light;
    when it turns green, vehicles 10 to 50 of the queue cross the stop line at IDM's queue-outflow
    rate, computed here by an independent fine-step integration of the same model (3%)."""
    model = TrafficModel(scenario_from_dict(signal_scenario(tmp_path)))
    e, a = model.engine, model.arrays
    signal = a.road.network.find_node("Signal")
    down = int(np.flatnonzero(a.road.edge_from == signal)[0])
    crossed_at: dict[int, float] = {}
    while e.step_index < model.n_steps:
        model.step()
        for i in np.flatnonzero((e.veh_edge == down) | (e.veh_state == 3)):
            crossed_at.setdefault(int(i), e.t_s)
    times = np.sort(np.array(list(crossed_at.values())))
    bursts = np.concatenate([[0], np.flatnonzero(np.diff(times) > 20) + 1])    # one per green
    queued = [k for k in bursts if k + 50 < times.size and times[k] > 100]   # behind a red that built a queue
    assert queued
    k = queued[0]
    outflow = 40 / (times[k + 50] - times[k + 10]) * 3600
    reference = idm_queue_outflow_veh_h(50 / 3.6)
    assert 1700 < reference < 1950
    assert outflow == pytest.approx(reference, rel=0.03)
    assert model.summary()["kinematics"] == {"decel_clamps": 0, "hard_stops": 0, "instant_stops": 0,
                                             "overlaps_seen": 0}


def test_no_clamps_nor_instant_stops_on_the_simple_networks(tmp_path):
    single = TrafficModel(scenario_from_dict(single_lane_scenario(tmp_path, duration_s=1200)))
    single.run()
    tunnel = PlanComparison(scenario_from_dict(tunnel_scenario(
        tmp_path, {"p": {"control": "fixed", "motor_s": 600, "convoy_s": 600}}, duration_s=2400)))
    summary = tunnel.run()
    for kin in (single.engine.kinematics, summary["plans"]["p"]["kinematics"]):
        assert kin == {"decel_clamps": 0, "hard_stops": 0, "instant_stops": 0, "overlaps_seen": 0}


def test_an_invariant_violation_stops_the_run_loudly(tmp_path):
    """A bicycle put into the tube outside a convoy phase: the run stops at once with the first
    violation (every run checks, not only the tests)."""
    from sim.core.errors import InvariantError
    from sim.traffic.kernels import DRIVING

    data = tunnel_scenario(tmp_path, {"p": {"control": "fixed", "motor_s": 900, "convoy_s": 600}}, duration_s=600)
    model = TrafficModel(scenario_from_dict(data), "p")
    e, a = model.engine, model.arrays
    while e.t_s < 120:
        model.step()
    bike = int(np.flatnonzero(a.cls_is_bike[e.veh_cls[: e.n_trips]] & (e.veh_state[: e.n_trips] == DRIVING))[0])
    tube = a.tubes[0]
    e.veh_edge[bike] = tube.edges[0]
    e.veh_lane[bike] = a.lane_start[tube.edges[0]] + 1
    e.veh_pos[bike] = 500.0
    with pytest.raises(InvariantError, match=r"bicycle\(s\) in tube 0 .* outside a convoy phase"):
        for _ in range(4):
            model.step()


def test_area_demand_unreachable_pairs_and_same_place_trips(tmp_path):
    """Random trips between areas; every unreachable pair named; a destination drawn at the origin
    is drawn again (never dropped silently)."""
    points = {"A": (0, 0), "B": (500, 0), "C": (1000, 0), "Island": (3000, 0), "Island 2": (3300, 0)}
    road = {"highway": "residential", "maxspeed": "30"}
    path = write_osm(tmp_path / "areas.osm", points, [(["A", "B", "C"], road), (["Island", "Island 2"], road)])
    data = {"name": "areas", "kind": "traffic", "map": str(path),
            "simulation": {"duration_s": 600, "dt_s": 0.5, "seed": 3},
            "demand": [{"name": "cars", "classes": {"car": 1.0}, "origins": ["A", "B", "C"],
                        "destinations": ["A", "B", "C"], "profile": [[0, 600], [10, 600]]}]}
    arrays = compile_traffic(scenario_from_dict(data))
    assert arrays.trips_redrawn > 0
    assert not (arrays.trip_origin == arrays.dest_nodes[arrays.trip_dest_row]).any()
    # an area: every node in the box that lies in the largest connected part
    data["demand"][0]["origins"] = {"bbox": [31.2399, 121.4799, 31.2401, 121.4911]}
    arrays = compile_traffic(scenario_from_dict(data))
    area = [p for p in arrays.places if p["field"] == "demand.0.origins"][0]
    assert area["nodes"] == 3 and area["left_out_not_connected"] == 0
    # unreachable pairs: each one named
    data["demand"][0]["origins"] = ["A", "B"]
    data["demand"][0]["destinations"] = ["Island", "Island 2"]
    with pytest.raises(ScenarioError) as err:
        compile_traffic(scenario_from_dict(data, "areas.toml"))
    text = str(err.value)
    assert "no motor route for 4 of 4 origin-destination pairs" in text
    for a_ in ("'A'", "'B'"):
        for b_ in ("'Island'", "'Island 2'"):
            assert f"{a_} (node" in text and f"{b_} (node" in text
    assert "np.int64" not in text
    data["demand"][0]["origins"] = ["A"]
    data["demand"][0]["destinations"] = ["A"]
    data["demand"].append({"name": "others", "classes": {"car": 1.0}, "origins": ["A"], "destinations": ["C"],
                           "profile": [[0, 60], [10, 60]]})
    arrays = compile_traffic(scenario_from_dict(data, "areas.toml"))       # said, not silently dropped
    assert arrays.notes == ["demand.0 ('cars') makes no trips: its only origin is its only destination "
                            "('A' (node 1))"]
    assert arrays.trip_depart_s.size > 0 and (arrays.trip_demand == 1).all()


def test_motor_routes_do_not_follow_bicycle_speeds(tmp_path):
    """Route costs per mode: slow bicycles on the direct road do not send cars round a detour."""
    points = {"West": (0, 0), "East": (1000, 0), "N1": (0, 300), "N2": (1000, 300)}
    direct = {"highway": "secondary", "maxspeed": "50", "oneway": "yes"}
    detour = {"highway": "secondary", "maxspeed": "50", "oneway": "yes", "bicycle": "no"}
    path = write_osm(tmp_path / "two_routes.osm", points,
                     [(["West", "East"], direct), (["West", "N1", "N2", "East"], detour)])
    data = {"name": "routes", "kind": "traffic", "map": str(path),
            "simulation": {"duration_s": 900, "dt_s": 0.5, "seed": 4, "route_interval_s": 60},
            "demand": [{"name": "bikes", "classes": {"bicycle": 1.0}, "origins": ["West"], "destinations": ["East"],
                        "profile": [[0, 900], [15, 900]]},
                       {"name": "cars", "classes": {"car": 1.0}, "origins": ["West"], "destinations": ["East"],
                        "profile": [[0, 300], [15, 300]]}]}
    model = TrafficModel(scenario_from_dict(data))
    model.run()
    e, a = model.engine, model.arrays
    west, east = (a.road.network.find_node(n) for n in ("West", "East"))
    row = int(np.searchsorted(a.dest_nodes, east))
    first = int(e.next_hop[0, row, west])
    assert a.road.edge_to[first] == east            # cars still take the direct road


def test_bench_vs_uxsim_smoke(capsys):
    """UXsim on our road graph and trips (C++ and Python engines, platoon 1 and 5) at a tiny size on
    the shipped crossing map; skipped without the optional uxsim package."""
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import bench_vs_uxsim

    reason = bench_vs_uxsim.uxsim_missing()
    if reason:
        pytest.skip(reason)
    assert bench_vs_uxsim.main(["--trips", "200", "--minutes", "3", "--map",
                                str(ROOT / "maps" / "huangpu_crossing.osm")]) == 0
    out = capsys.readouterr().out
    assert "UXsim Python (platoon 1)" in out and "UXsim Python (platoon 5)" in out
    assert "vehicle_seconds_per_wall_s" in out
