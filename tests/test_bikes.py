"""Shared bikes at metro exits: conservation, rain-aware exit choice, redistribution plans."""

from __future__ import annotations

import copy
import tomllib

import numpy as np
import pytest

from sim.bikes.compile import bike_share, compile_bikes
from sim.bikes.controllers import forecast_window
from sim.core.errors import ScenarioError
from sim.bikes.model import BikePlanComparison
from sim.kinds import load_scenario, scenario_from_dict
from tests.conftest import ROOT

DRY = ROOT / "scenarios" / "bund_bikes_dry.toml"
RAIN = ROOT / "scenarios" / "bund_bikes_rain.toml"


@pytest.fixture(scope="module")
def dry_study():
    study = BikePlanComparison(load_scenario(DRY))
    return study, study.run()


@pytest.fixture(scope="module")
def rain_study():
    study = BikePlanComparison(load_scenario(RAIN))
    return study, study.run()


def _data(path) -> dict:
    data = tomllib.loads(path.read_text())
    data["map"] = str((path.parent / data["map"]).resolve())
    return data


def test_bikes_are_conserved_in_every_plan(dry_study, rain_study):
    """Pools + vans = start + accepted returns - pickups, checked every step (engine) and at the end."""
    for study, summary in (dry_study, rain_study):
        assert summary["bikes_conserved"] is True
        for name, model in study.models.items():
            e = model.engine
            e.recount()                                             # raises ConservationError
            assert e.recounts > 1
            assert int(e.stock.sum()) + e.in_vans == e.initial_total + int(e.returns.sum()) - int(e.pickups.sum())
            assert (e.stock >= 0).all() and (e.stock <= study.arrays.pool_capacity).all()
            requests = summary["plans"][name]["pickups"] + summary["plans"][name]["unmet_pickups"]
            assert requests == summary["pickup_requests"]            # every rider is counted once


def test_every_plan_sees_the_same_evening(dry_study):
    study, summary = dry_study
    assert len({p["pickups"] + p["unmet_pickups"] for p in summary["plans"].values()}) == 1
    totals = {int(sum(p["start_stock"].values())) for p in summary["plans"].values()}
    assert totals == {int(study.arrays.pool_stock0.sum())}        # layouts move bikes, never add them


def test_bike_share_falls_with_rain_as_published():
    """Tin Tin et al. (2012): -10.6% cycling per +1 mm/h; levelling off near 20 mm/h (Liu et al. 2025)."""
    scenario = load_scenario(DRY)
    dry = scenario.demand.bike_share_dry
    assert bike_share(scenario, 0.0) == dry
    assert bike_share(scenario, 1.0) == pytest.approx(dry * 0.894)
    assert bike_share(scenario, 10.0) == pytest.approx(dry * 0.894 ** 10)
    assert bike_share(scenario, 40.0) == pytest.approx(bike_share(scenario, 20.0))


def test_rain_shifts_passengers_toward_the_driest_exit(rain_study):
    """In heavy rain more passengers leave by the exit that keeps them driest for their destination,
    and the mean distance walked in the open falls (same routes, same destinations)."""
    study, summary = rain_study
    shelter = summary["shelter"]
    assert shelter["rain"]["driest_exit_share"] > shelter["dry"]["driest_exit_share"] + 0.05
    assert shelter["rain"]["open_m_walked_mean"] < shelter["dry"]["open_m_walked_mean"]
    a = study.arrays
    rain = a.rain_mm_per_h
    driest = np.argmin(a.open_m[rain], axis=1)
    rows = np.arange(driest.size)
    assert (a.p_walker[rain][rows, driest] >= a.p_walker[0.0][rows, driest] - 1e-12).all()
    assert sum(summary["exit_shares"]["rain"].values()) == pytest.approx(1.0, abs=1e-3)


def test_without_a_rain_weight_rain_does_not_move_exit_choice(tmp_path):
    data = _data(RAIN)
    data["exit_choice"]["rain_weight_per_100m"] = 0.0
    data["weather"]["shelter_weight"] = 0.0
    a = compile_bikes(scenario_from_dict(data, "rain.toml"))
    assert np.allclose(a.p_walker[a.rain_mm_per_h], a.p_walker[0.0], atol=0.02)


def test_optimised_never_has_more_unmet_pickups_than_none(dry_study, rain_study):
    for _, summary in (dry_study, rain_study):
        plans = summary["plans"]
        assert plans["optimised"]["unmet_pickups"] <= plans["none"]["unmet_pickups"]
    # on the dry evening the vans make a real difference
    dry = dry_study[1]["plans"]
    assert dry["optimised"]["unmet_pickups"] < 0.8 * dry["none"]["unmet_pickups"]
    assert dry["optimised"]["bikes_moved"] > 0 and dry["optimised"]["van_km"] > 0
    assert dry["none"]["bikes_moved"] == 0 and dry["none"]["van_km"] == 0


def test_optimiser_respects_van_capacity_and_time(dry_study):
    study, _ = dry_study
    model = study.models["optimised"]
    vans = study.scenario.vans
    assert model.trips
    rounds: dict[tuple[int, int], list] = {}
    for trip in model.trips:
        assert 1 <= trip.bikes <= vans.capacity
        assert trip.end_s > trip.start_s
        made = max(t0 for t0 in model.round_starts_s if t0 <= trip.start_s + 1e-9)
        assert trip.end_s <= made + vans.replan_interval_s + 1e-6       # done before the next round
        rounds.setdefault((trip.van, made), []).append(trip)
    for van in model.vans:
        assert van.max_load <= vans.capacity
    for trips in rounds.values():                              # within a round, a van does one load at a time
        trips.sort(key=lambda t: t.start_s)
        for earlier, later in zip(trips, trips[1:]):
            assert later.start_s >= earlier.end_s - 1e-6


def test_forecast_window_adds_up(dry_study):
    study, _ = dry_study
    a = study.arrays
    duration = study.scenario.simulation.duration_s
    first, first_r = forecast_window(a, 0, duration / 2)
    second, second_r = forecast_window(a, duration / 2, duration)
    assert first + second == pytest.approx(a.forecast_pickups)
    assert first_r + second_r == pytest.approx(a.forecast_returns)


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["plans"]["static"]["layout"].update({"exit_9": 5}), "plans.static.layout: 'exit_9' is not a pool"),
    (lambda d: d["plans"]["static"]["layout"].update({"exit_1": 90}), "plans.static.layout: puts"),
    (lambda d: d["pools"]["exit_1"].update({"exit": "Entry Fuzhou Road"}), "pools.exit_1.exit: 'Entry Fuzhou Road' is not an exit"),
    (lambda d: d["pools"]["exit_1"].update({"stock": 80}), "pools.exit_1"),
    (lambda d: d["plans"].update({"bad": {"kind": "static"}}), "plans.bad"),
    (lambda d: d["vans"].update({"capacity": 0}), "vans.capacity"),
    (lambda d: d["demand"]["destinations"].update({"Nowhere": 1.0}), "no node named 'Nowhere'"),
])
def test_bad_bike_scenarios_are_clean_errors(edit, message):
    data = copy.deepcopy(_data(DRY))
    edit(data)
    with pytest.raises(ScenarioError) as err:
        compile_bikes(scenario_from_dict(data, "bikes.toml"))
    assert message in str(err.value)
    assert "bikes.toml" in str(err.value)


def test_same_seed_same_result():
    def run(seed=None):
        summary = BikePlanComparison(load_scenario(RAIN), seed=seed, plans=["none", "optimised"]).run()
        summary.pop("wall_seconds")
        for plan in summary["plans"].values():
            plan.pop("wall_seconds")
        return summary
    first = run()
    assert first == run()
    assert run(seed=5)["pickup_requests"] != first["pickup_requests"]


def test_a_map_without_roads_for_vans_is_a_clean_error(tmp_path):
    """Found by the 10,000-case fuzz run: a map of footways and a cycleway only (no motor lanes)
    crashed in the van matrices with numpy's argmin error; now one ScenarioError naming vans."""
    from sim.core.osmxml import write_osm
    points = {"Gare Exit 1": (-104.0, 300.0), "Pool": (300.0, 0.0), "Depot": (-68.0, 0.0), "Square": (113.0, -206.0)}
    ways = [(["Depot", "Square"], {"highway": "pedestrian", "width": "4"}),
            (["Gare Exit 1", "Pool", "Depot"], {"highway": "cycleway", "foot": "yes", "width": "3"})]
    write_osm(tmp_path / "map.osm", points, ways, node_tags={"Gare Exit 1": {"railway": "subway_entrance"}})
    data = {"name": "no roads", "kind": "bikes", "map": "map.osm", "simulation": {"duration_s": 1800.0, "dt_s": 30.0},
            "station": {"name": "Gare", "headway_s": 120.0, "alighting": [[0, 32.0], [60, 32.0]]},
            "demand": {"destinations": {"Pool": 1.0}, "returns_per_h": [[0, 50.0], [60, 50.0]]},
            "pools": {"pool_0": {"exit": "Gare Exit 1", "stock": 15, "capacity": 22}},
            "vans": {"count": 1, "depot": "Depot"},
            "plans": {"none": {"kind": "none"}, "optimised": {"kind": "optimised"}}}
    with pytest.raises(ScenarioError) as err:
        compile_bikes(scenario_from_dict(data, str(tmp_path / "bikes.toml")))
    assert "vans: the map has no way vans may drive" in str(err.value)
