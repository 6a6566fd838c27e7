"""sim.study: cap, plan and bike-plan verdicts, scenario text from uploads, results as the CLI
writes them."""

import json

import numpy as np
import pytest

from sim.study import (MAP_DIR, best_plans, bike_kpi_rows, bike_pool_rows, exit_share_rows, fewest_unmet,
                         parse_caps, run_bike_plans, run_crowd, safe_cap, scenario_data_from_toml, sweep_cap_key,
                         sweep_grid_keys, sweep_risk_rows, sweep_safe_cap, sweep_zones, validate_scenario)
from sim.core.errors import ScenarioError
from sim.core.results import write_results
from sim.bikes.model import BikePlanComparison
from sim.crowd.model import CrowdModel
from sim.kinds import load_scenario, scenario_from_dict
from tests.conftest import ROOT, corridor_scenario

RAIN = ROOT / "scenarios" / "bund_lightshow_rain.toml"
BIKES_RAIN = ROOT / "scenarios" / "bund_bikes_rain.toml"


def _crowd(cap, f_s: dict, e_s: dict | None = None) -> dict:
    """A crowd summary with the fields the verdict reads: seconds at LOS F (and E or worse) per zone."""
    e_s = e_s or {}
    return {"zones": {z: {"cap": cap if z == "promenade" else None, "seconds_at_los_f": f,
                          "seconds_at_los_e_or_worse": max(f, e_s.get(z, 0.0))} for z, f in f_s.items()}}


@pytest.mark.parametrize("text, caps", [
    ("40000, 60000, 80000, none", [40000, 60000, 80000, None]),
    ("40,000, 60,000; 80 000, uncapped", [40000, 60000, 80000, None]),
    ("60k, 40k, 60000", [40000, 60000]),
    ("none", [None]),
])
def test_parse_caps(text, caps):
    assert parse_caps(text) == caps


def test_parse_caps_lists_every_bad_entry():
    with pytest.raises(ScenarioError) as info:
        parse_caps("4o000, -5, 1.5, 60000")
    assert len(info.value.problems) == 3
    assert "'4o000'" in str(info.value) and "'-5'" in str(info.value)
    with pytest.raises(ScenarioError, match="no caps given"):
        parse_caps(" , ")


def test_safe_cap_is_the_highest_cap_whose_run_keeps_every_zone_out_of_los_f():
    runs = [_crowd(80000, {"promenade": 1200, "park": 30}), _crowd(40000, {"promenade": 0, "park": 0}),
            _crowd(None, {"promenade": 3000, "park": 0}), _crowd(60000, {"promenade": 0, "park": 0})]
    verdict = safe_cap(runs, "promenade")
    assert verdict.found and verdict.safe_cap == 60000
    assert [c.cap for c in verdict.checks] == [40000, 60000, 80000, None]
    assert verdict.text.startswith("The highest cap that keeps every zone out of LOS F is 60,000 on promenade.")
    assert "At 80,000, promenade (20 min), park (30 s) reach LOS F." in verdict.text


def test_safe_cap_counts_every_zone_and_the_users_level():
    # The promenade is fine at 60,000 but a square reaches LOS E: with "avoid E" only 40,000 is safe.
    runs = [_crowd(40000, {"promenade": 0, "square": 0}),
            _crowd(60000, {"promenade": 0, "square": 0}, {"square": 120})]
    assert safe_cap(runs, "promenade", "F").safe_cap == 60000
    verdict = safe_cap(runs, "promenade", "E")
    assert verdict.safe_cap == 40000 and "square (2 min) reaches LOS E or worse" in verdict.text


def test_safe_cap_when_none_or_all_are_safe_and_when_not_monotonic():
    none_safe = safe_cap([_crowd(40000, {"promenade": 90}), _crowd(None, {"promenade": 900})], "promenade")
    assert not none_safe.found and none_safe.safe_cap is None
    assert none_safe.text.startswith("No cap tried keeps every zone out of LOS F: even with promenade capped at 40,000")
    all_safe = safe_cap([_crowd(40000, {"promenade": 0}), _crowd(None, {"promenade": 0})], "promenade")
    assert all_safe.found and all_safe.safe_cap is None
    assert all_safe.text == "Every zone stays out of LOS F even with promenade uncapped."
    odd = safe_cap([_crowd(40000, {"promenade": 0, "square": 60}), _crowd(60000, {"promenade": 0, "square": 0})],
                   "promenade")
    assert odd.safe_cap == 60000 and "not monotonic" in odd.text
    with pytest.raises(ValueError, match="avoid must be"):
        safe_cap([_crowd(1, {"promenade": 0})], "promenade", "D")


def _plans(waits: dict) -> dict:
    return {"plans": {name: {"modes": {mode: {"wait_s_mean": w, "departed": 0 if w is None else 10}
                                       for mode, w in modes.items()}} for name, modes in waits.items()}}


def test_best_plans_per_mode_with_ties():
    verdict = best_plans(_plans({"a": {"bike": 600, "motor": 60}, "b": {"bike": 300, "motor": 90},
                                 "c": {"bike": 300, "motor": 120}}))
    assert verdict.best_bike == ("b", "c") and verdict.best_motor == ("a",)
    assert verdict.text == "Lowest mean bicycle wait: b and c (5.0 min). Lowest mean motor-vehicle wait: a (1.0 min)."
    both = best_plans(_plans({"a": {"bike": 60, "motor": 60}, "b": {"bike": 90, "motor": 90}}))
    assert both.text.endswith("a is best for both modes.")
    no_bikes = best_plans(_plans({"a": {"bike": None, "motor": 60}}))
    assert no_bikes.best_bike == () and "No bicycle trips started" in no_bikes.text


def _bikes(plans: dict, rain: float = 15.0) -> dict:
    """A bikes summary with the fields the verdict and tables read; ``plans``: name -> (unmet
    pickups, empty minutes per pool, van-km); 100 requests in every plan, two pools."""
    out = {}
    for name, (unmet, empty, km) in plans.items():
        out[name] = {"pickups": 100 - unmet, "unmet_pickups": unmet, "unmet_share": round(unmet / 100, 4),
                     "empty_pool_minutes": dict(zip(("p1", "p2"), empty)), "bikes_moved": int(km * 10),
                     "van_km": km, "extra_walk_m_mean": 1.5, "returns": 50, "lost_returns": 0,
                     "bikes_conserved": True, "unmet_pickups_by_pool": {"p1": unmet, "p2": 0},
                     "pickups_by_pool": {"p1": 60 - unmet, "p2": 40}, "start_stock": {"p1": 10, "p2": 10},
                     "end_stock": {"p1": 0, "p2": 20}}
    shares = {"dry": {"Exit A": 0.6, "Exit B": 0.4}, "rain": {"Exit A": 0.45, "Exit B": 0.55} if rain else None}
    return {"plans": out, "rain_mm_per_h": rain, "exit_shares": shares,
            "forecast_pickups": {"p1": 55.0, "p2": 45.0}, "forecast_returns": {"p1": 20.0, "p2": 30.0}}


def test_fewest_unmet_names_the_plan_and_its_share():
    verdict = fewest_unmet(_bikes({"none": (12, (30.0, 5.0), 0.0), "optimised": (4, (10.0, 0.0), 6.9),
                                   "static": (9, (20.0, 0.0), 0.6)}))
    assert verdict.best == "optimised" and verdict.tied == ("optimised",)
    assert (verdict.unmet_pickups, verdict.requests, verdict.unmet_share) == (4, 100, 0.04)
    assert verdict.text == ("Fewest unmet pickups: optimised (4 of 100 bike requests, unmet share 4.0%). "
                            "The most unmet: none (12, 12.0%). It moves 69 bikes over 6.9 van-km.")


def test_fewest_unmet_breaks_ties_on_empty_minutes_then_van_km():
    tie = fewest_unmet(_bikes({"none": (0, (60.0, 22.2), 0.0), "static": (0, (40.0, 0.0), 0.6),
                               "optimised": (0, (20.0, 7.7), 1.1), "forecast": (3, (0.0, 0.0), 1.3)}))
    assert tie.best == "optimised" and tie.tied == ("none", "static", "optimised")
    assert tie.text == ("Fewest unmet pickups: optimised (0 of 100 bike requests, unmet share 0.0%). Plans none and "
                        "static tie with it on unmet pickups; optimised is named because its pools stand empty "
                        "for the fewest minutes (28 min in all, against 40-82).")
    by_km = fewest_unmet(_bikes({"a": (2, (10.0, 0.0), 3.0), "b": (2, (5.0, 5.0), 1.0)}))
    assert by_km.best == "b" and by_km.text.endswith("Plan a ties with it on unmet pickups and empty-pool minutes; "
                                                     "b is named because it needs the fewest van-km (1.0).")
    same = fewest_unmet(_bikes({"a": (2, (10.0, 0.0), 1.0), "b": (2, (5.0, 5.0), 1.0)}))
    assert same.best == "a"
    assert same.text.endswith("Plan b ties with it on unmet pickups, empty-pool minutes and van-km.")
    alone = fewest_unmet(_bikes({"none": (7, (1.0, 2.0), 0.0)}))
    assert alone.text == "Fewest unmet pickups: none (7 of 100 bike requests, unmet share 7.0%)."
    with pytest.raises(ValueError, match="no plans"):
        fewest_unmet({"plans": {}})


def test_bike_tables():
    summary = _bikes({"none": (12, (30.0, 5.5), 0.0), "optimised": (4, (10.0, 0.0), 6.9)})
    rows = {r["KPI"]: r for r in bike_kpi_rows(summary)}
    assert list(rows) == ["pickups", "unmet pickups", "unmet share (%)", "empty-pool minutes, all pools",
                          "empty-pool minutes, p1", "empty-pool minutes, p2", "bikes moved", "van-km",
                          "extra walk to another pool, mean (m)", "returns (lost: pool full)", "bikes conserved"]
    assert rows["empty-pool minutes, all pools"] == {"KPI": "empty-pool minutes, all pools", "none": "35.5",
                                                     "optimised": "10.0"}
    assert rows["unmet share (%)"]["none"] == "12.0" and rows["bikes conserved"]["optimised"] == "yes"
    assert len(bike_pool_rows(summary)) == 4
    assert exit_share_rows(summary) == [
        {"exit": "Exit A", "dry (%)": 60.0, "rain 15 mm/h (%)": 45.0, "change (points)": -15.0},
        {"exit": "Exit B", "dry (%)": 40.0, "rain 15 mm/h (%)": 55.0, "change (points)": 15.0}]
    assert exit_share_rows(_bikes({"none": (0, (0.0, 0.0), 0.0)}, rain=0.0)) == [
        {"exit": "Exit A", "dry (%)": 60.0}, {"exit": "Exit B", "dry (%)": 40.0}]


def test_run_bike_plans_matches_the_cli(tmp_path):
    """Same summary, time series and scenario as ``citytwin run`` on the shipped rain evening, and the
    stock series the app draws is the time series' stock."""
    scenario = load_scenario(BIKES_RAIN)
    plain = BikePlanComparison(scenario, plans=["none", "optimised"])
    plain.run()
    write_results(plain, tmp_path / "cli", plots=False)
    result = run_bike_plans(scenario, plans=["none", "optimised"])
    files = result.files()

    def without_walls(summary: dict) -> dict:
        summary.pop("wall_seconds")
        for plan in summary["plans"].values():
            plan.pop("wall_seconds")
        return summary
    assert without_walls(json.loads(files["summary.json"])) == without_walls(
        json.loads((tmp_path / "cli" / "summary.json").read_text()))
    assert files["timeseries.csv"] == (tmp_path / "cli" / "timeseries.csv").read_bytes().decode("utf-8")
    assert files["scenario.json"] == (tmp_path / "cli" / "scenario.json").read_bytes().decode("utf-8")
    assert list(result.stock) == ["none", "optimised"] and result.pool_names == tuple(scenario.pools)
    assert result.pool_xy_m.shape == (len(scenario.pools), 2)
    assert result.pool_covered == tuple(p.covered for p in scenario.pools.values())
    for name, series in result.stock.items():
        assert series["stock"].shape == (series["minute"].size, len(scenario.pools))
        end = result.summary["plans"][name]["end_stock"]
        assert series["stock"][-1].tolist() == [end[pool] for pool in result.pool_names]


def test_uploaded_text_gets_the_clis_errors(tmp_path):
    bad = RAIN.read_text(encoding="utf-8").replace("patience_s = 1800", "patience_s = -5\nunknown_knob = 3")
    path = tmp_path / "bad.toml"
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(ScenarioError) as cli:
        load_scenario(path)
    with pytest.raises(ScenarioError) as upload:
        validate_scenario(scenario_data_from_toml(bad.encode(), str(path)), str(path))
    assert str(upload.value) == str(cli.value)
    assert len(cli.value.problems) == 2


def test_uploaded_text_limits(tmp_path):
    with pytest.raises(ScenarioError, match="at most 200,000 bytes"):
        scenario_data_from_toml(b"#" * 200_001, "big.toml")
    with pytest.raises(ScenarioError, match="not a UTF-8 text file"):
        scenario_data_from_toml(b"name = '\xff'", "latin.toml")
    with pytest.raises(ScenarioError, match="not valid TOML"):
        scenario_data_from_toml("import os\nos.system('echo hi')", "code.toml")
    data = scenario_data_from_toml(RAIN.read_bytes(), str(RAIN))
    data["map"] = "/etc/hosts"
    with pytest.raises(ScenarioError, match="not one of the shipped maps"):
        validate_scenario(data, str(RAIN), map_dir=MAP_DIR)
    data["map"] = "../maps/bund.osm"
    uncapped = validate_scenario(data, str(RAIN), ["zones.promenade.cap=none"], map_dir=MAP_DIR)
    assert uncapped.zones["promenade"].cap is None


def test_run_crowd_matches_the_cli_and_keeps_density_snapshots(tmp_path):
    """The cell-density snapshots change nothing else: same summary and files as a plain run."""
    scenario = scenario_from_dict(corridor_scenario(tmp_path, rate_per_min=300, duration_s=900), "c.toml")
    plain = CrowdModel(scenario, seed=5)
    plain.run()
    write_results(plain, tmp_path / "cli", plots=False)
    result = run_crowd(scenario, seed=5, label="run")
    files = result.files()
    expected = json.loads((tmp_path / "cli" / "summary.json").read_text())
    got = json.loads(files["summary.json"])
    expected.pop("wall_seconds"), got.pop("wall_seconds")
    assert got == expected
    assert files["timeseries.csv"] == (tmp_path / "cli" / "timeseries.csv").read_bytes().decode("utf-8")
    assert files["scenario.json"] == (tmp_path / "cli" / "scenario.json").read_bytes().decode("utf-8")
    assert result.cell_density.shape == (15, plain.engine.arrays.walk.n_cells)
    np.testing.assert_allclose(result.cell_density_t_s, np.arange(1, 16) * 60.0)
    assert np.all(result.cell_density.max(axis=0) <= result.cell_peak_density + 1e-6)
    np.testing.assert_array_equal(result.density_at(7.2), result.cell_density[6])
    assert plain.recorder.n_cell_snapshots == 0


def _risk(cap, p_f: float, runs_ok: int = 5, **extra) -> dict:
    """A risk.csv record as pandas gives it: caps as floats, an empty cap (uncapped) as NaN."""
    return {"zones.promenade.cap": float("nan") if cap is None else float(cap), "runs_ok": runs_ok,
            "runs_failed": max(0, 5 - runs_ok), "p_unsafe": p_f, "p_any_place_los_f": p_f, "p_any_place_crush_density": 0.0,
            **extra}


def test_sweep_safe_cap_is_the_highest_cap_shown_below_the_risk():
    """Safe means the one-sided 95% upper Clopper-Pearson bound is below the risk: 0 unsafe of 59 runs
    shows 5% (bound 1 - 0.05^(1/59) = 4.95%), 0 of 5 runs does not (45.1%)."""
    keys = ["zones.promenade.cap"]
    risk = [_risk(40000, 0.0, 59), _risk(60000, 0.0, 59), _risk(80000, 0.4), _risk(None, 1.0)]
    verdict = sweep_safe_cap(risk, keys)
    assert verdict.found and verdict.safe_cap == 60000 and verdict.zone == "promenade"
    assert [c for c, _, _ in verdict.p_by_cap] == [40000, 60000, 80000, None]
    assert dict(verdict.upper_by_cap)[60000] == pytest.approx(1 - 0.05 ** (1 / 59), abs=1e-6)
    assert verdict.text == ("The highest cap shown to keep the probability of an unsafe night below 5% is 60,000 "
                            "on promenade: 0 of 59 runs unsafe, upper bound 4.95%. At 80,000: 2 of 5 runs unsafe, "
                            "upper bound 81.1%.")
    # 2 of 5 runs cannot show any risk below 81%; a risk of 100% allows every cap, uncapped included.
    assert sweep_safe_cap(risk, keys, 0.8).safe_cap == 60000
    assert sweep_safe_cap(risk, keys, 0.82).safe_cap == 80000
    loose = sweep_safe_cap(risk, keys, 1.0)
    assert loose.found and loose.safe_cap is None and loose.text.startswith("Even with promenade uncapped,")
    # Few runs without an unsafe one: not a verdict; the text says how many runs would be needed and
    # never advises lower caps.
    few = sweep_safe_cap([_risk(40000, 0.0), _risk(60000, 0.6)], keys)
    assert not few.found and few.safe_cap is None
    assert few.text == ("No cap of this sweep is shown to keep the probability of an unsafe night below 5% "
                        "(one-sided 95% Clopper-Pearson bound); the least risky is promenade at 40,000: 0 of 5 "
                        "runs unsafe, upper bound 45.1%. Cap 40,000 had no unsafe run, but 5 run(s) cannot show "
                        "less than 45.1%: 59 runs without an unsafe one are needed (more seeds, or citytwin "
                        "advise).")
    assert "lower caps" not in few.text
    # A lower cap doing worse than a higher safe one: said, not hidden.
    odd = sweep_safe_cap([_risk(40000, 0.2, 59), _risk(60000, 0.0, 59)], keys)
    assert odd.safe_cap == 60000 and "Caution: the lower cap 40,000 did worse (12 of 59 runs unsafe" in odd.text
    # A cell without an ok run is not judged.
    assert sweep_safe_cap([_risk(40000, 0.0, 59), _risk(60000, float("nan"), runs_ok=0)], keys).safe_cap == 40000


def test_sweep_safe_cap_with_other_grid_keys_judges_each_cap_by_its_worst_cell():
    keys = ["zones.promenade.cap", "crowd.patience_s"]
    risk = [_risk(40000, 0.0, 59, **{"crowd.patience_s": 600}), _risk(40000, 0.0, 59, **{"crowd.patience_s": 1800}),
            _risk(60000, 0.0, 59, **{"crowd.patience_s": 600}), _risk(60000, 0.2, 5, **{"crowd.patience_s": 1800})]
    verdict = sweep_safe_cap(risk, keys)
    assert verdict.safe_cap == 40000 and "worst cell" in verdict.text
    with pytest.raises(ValueError, match="no zones.ZONE.cap key"):
        sweep_safe_cap(risk, ["crowd.patience_s"])
    with pytest.raises(ValueError, match="between 0 and 1"):
        sweep_safe_cap(risk, keys, 5)


def test_sweep_risk_rows_and_keys_from_a_risk_table():
    columns = ["zones.promenade.cap", "runs_ok", "runs_failed", "p_unsafe", "promenade.peak_density_ppm2.mean",
               "park.peak_density_ppm2.mean"]
    assert sweep_grid_keys(columns) == ["zones.promenade.cap"]
    assert sweep_cap_key(["crowd.patience_s", "zones.park.cap"]) == "zones.park.cap"
    assert sweep_cap_key(["crowd.patience_s"]) is None
    assert sweep_zones(columns) == ["promenade", "park"]
    with pytest.raises(ValueError, match="runs_ok"):
        sweep_grid_keys(["a", "b"])
    kpis = {"promenade.peak_density_ppm2.mean": 2.346, "promenade.peak_density_ppm2.p5": 2.0,
            "promenade.peak_density_ppm2.p95": 3.0, "gate_wait_s_p95.mean": 600.0, "gate_wait_s_p95.p5": 300.0,
            "gate_wait_s_p95.p95": 900.0, "clearance_s.mean": float("nan"), "clearance_s.p5": float("nan"),
            "clearance_s.p95": float("nan")}
    rows = sweep_risk_rows([_risk(40000, 0.2, **kpis), _risk(None, 1.0, runs_ok=4, **kpis)],
                           ["zones.promenade.cap"], "promenade")
    assert [r["cell"] for r in rows] == ["cap 40,000", "uncapped"]
    first = rows[0]
    assert (first["runs ok"], first["runs failed"], first["P(unsafe)"], first["P(any place LOS F)"],
            first["P(crush density)"]) == (5, 0, 0.2, 0.2, 0.0)
    assert (first["promenade peak density (p/m2) mean"], first["promenade peak density (p/m2) p5"],
            first["promenade peak density (p/m2) p95"]) == (2.35, 2.0, 3.0)
    assert (first["gate wait p95 (min) mean"], first["gate wait p95 (min) p5"], first["gate wait p95 (min) p95"]) == \
        (10.0, 5.0, 15.0)
    assert first["clearance (min) mean"] is None                 # no run cleared within its time
    assert (rows[1]["runs ok"], rows[1]["runs failed"]) == (4, 1)
