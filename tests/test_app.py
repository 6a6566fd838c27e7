"""The Streamlit app (app.py): AppTest drives its widgets; a real browser (headless Chromium via
Playwright) runs a comparison on ``streamlit run``.

Crowd and tunnel runs are shortened (about half an hour of simulated time, set through the app's
own run options) so the file stays quick; the bike evenings run in full (a few seconds).  The
numbers asserted are read from the app's own tables, so the tests hold whatever the crowd, traffic
and bike models compute; the bike table is also checked against a plain ``citytwin run``.
"""

from __future__ import annotations

import re
import time

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

import sim.study
from sim.study import bike_kpi_rows, exit_share_rows
from sim.bikes.model import BikePlanComparison
from sim.kinds import load_scenario
from tests.app_browser import (chromium_path, choose, exceptions_shown, launch, open_app, run_comparison,
                               screenshot, set_caps, set_run_options, short_crowd_overrides, streamlit_server)
from tests.conftest import ROOT

APP = str(ROOT / "app.py")
RAIN = ROOT / "scenarios" / "bund_lightshow_rain.toml"
TYPHOON = ROOT / "scenarios" / "typhoon_tunnel_convoy.toml"
OAKLAND_TRAFFIC = ROOT / "scenarios" / "oakland_evening_traffic.toml"   # no tunnel
BIKES_DRY = ROOT / "scenarios" / "bund_bikes_dry.toml"
BIKES_RAIN = ROOT / "scenarios" / "bund_bikes_rain.toml"
NEWYEAR = ROOT / "scenarios" / "bund_newyear_stairs.toml"     # kind = "hotspot"
UPLOAD = "Upload a scenario file..."


def _app(page: str = "crowd") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=240)
    at.query_params["page"] = page
    return at.run()


def _no_errors(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _by_key_part(widgets, part: str):
    matches = [w for w in widgets if w.key and part in w.key]
    assert len(matches) == 1, [w.key for w in widgets]
    return matches[0]


def _set_short_run(at: AppTest, page: str, minutes: float, overrides: list[str] = ()) -> None:
    _by_key_part(at.number_input, f"{page}_minutes").set_value(float(minutes))
    at.text_area(key=f"{page}_overrides").set_value("\n".join(overrides))


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def _choose_scenario(at: AppTest, page: str, path) -> None:
    box = at.selectbox(key=f"{page}_scenario")
    box.set_value(next(o for o in box.options if path.name in o)).run()


def test_crowd_page_compares_caps_and_states_the_highest_safe_cap(monkeypatch):
    runs = []
    real = sim.study.run_crowd
    monkeypatch.setattr(sim.study, "run_crowd", lambda *a, **k: runs.append(k["label"]) or real(*a, **k))
    at = _app("crowd")
    _no_errors(at)
    at.selectbox(key="crowd_scenario").set_value(next(o for o in at.selectbox(key="crowd_scenario").options
                                                      if RAIN.name in o)).run()
    _by_key_part(at.radio, "crowd_weather").set_value("Rain")
    at.run()
    _by_key_part(at.slider, "crowd_rain").set_value(10.0)
    at.text_input(key="crowd_caps").set_value("15000, 25000, none")
    at.radio(key="crowd_avoid").set_value("LOS E or worse")
    _set_short_run(at, "crowd", 35, short_crowd_overrides(RAIN))
    at.button(key="crowd_run").click().run()
    _no_errors(at)
    assert runs == ["cap 15,000", "cap 25,000", "uncapped"]
    assert any("one run (one seed) per cap" in c.value for c in at.caption)

    table = at.table[0].value
    assert list(table.columns) == ["cap 15,000", "cap 25,000", "uncapped"]
    peaks = [_number(v) for v in table.loc["peak on promenade (people)"]]
    assert peaks[0] <= 15000 and peaks[1] <= 25000 and peaks[2] >= peaks[1]
    assert all(v in "ABCDEF" for v in table.loc["worst LOS on promenade"])
    # One seed per cap is never a verdict: the page says what that night showed (the highest cap whose
    # run has no zone at LOS E or worse, read from the table) and points to the answer over seeds.
    safe = [col for col in table.columns if table.loc["zones at LOS E or worse", col] == "none"]
    assert not at.success and not at.warning
    stated = _one_night(at)
    assert stated.startswith("One run per cap, so no verdict: on this one night, ")
    assert stated.endswith("For the cap with its risk over seeds, use The answer over seeds above.")
    if not safe:
        assert "no cap tried keeps every zone out of LOS E or worse" in stated
    elif safe[-1] == "uncapped":
        assert "every zone stays out of LOS E or worse even with promenade uncapped" in stated
    else:
        assert (f"the highest cap that keeps every zone out of LOS E or worse is "
                f"{safe[-1].removeprefix('cap ')} on promenade." in stated)
    # Switching to LOS F re-judges the same runs without running them again.
    at.radio(key="crowd_avoid").set_value("LOS F").run()
    safe_f = [col for col in table.columns if table.loc["zones at LOS F", col] == "none"]
    stated_f = _one_night(at)
    assert ("LOS F" in stated_f) and (not safe_f or safe_f[-1].removeprefix("cap ") in stated_f
                                      or "uncapped" in stated_f)
    # Series plot, one peak map per cap and one map per cap at the slider's minute.
    assert len(at.get("image")) == 1 + 3 + 3
    at.slider(key="crowd_minute").set_value(22).run()
    _no_errors(at)
    assert len(at.get("image")) == 7

    # A repeated comparison comes from the cache: nothing is run again.
    start = time.perf_counter()
    at.button(key="crowd_run").click().run()
    cached_s = time.perf_counter() - start
    _no_errors(at)
    assert runs == ["cap 15,000", "cap 25,000", "uncapped"]
    assert at.table[0].value.equals(table)
    print(f"repeated comparison (cached): {cached_s:.2f} s")


def _one_night(at: AppTest) -> str:
    (note,) = [i.value for i in at.info if i.value.startswith("One run per cap")]
    return note.replace("**", "")


def test_crowd_page_advises_over_seeds_with_a_progress_bar(tmp_path, monkeypatch):
    """The answer over seeds on the page is sim.study.advise's (as `citytwin advise` gives it): the
    same text, every cap tried with its runs and bounds, the curve, the files for download."""
    import json
    from pathlib import Path

    monkeypatch.chdir(tmp_path)                  # advise writes its runs under out/
    at = _app("crowd")
    _choose_scenario(at, "crowd", RAIN)
    _set_short_run(at, "crowd", 20, short_crowd_overrides(RAIN, show_start_min=10))
    at.number_input(key="advise_risk").set_value(0.5).run()
    assert any("5 runs without a failure are the fewest" in c.value for c in at.caption)
    at.text_input(key="advise_caps").set_value("none")
    at.button(key="advise_run").click().run()
    _no_errors(at)
    (path,) = Path("out").glob("*/advice.json")
    advice = json.loads(path.read_text())
    assert (at.success or at.warning)[0].value == advice["text"]
    assert any(c.value.startswith(f"{advice['runs_total']} run(s) behind this answer") for c in at.caption)
    (caps,) = [d.value for d in at.dataframe if "verdict" in d.value.columns]
    tried = advice["plans"][0]["caps"]
    assert list(caps["runs"]) == [c["runs"] for c in tried] and list(caps["verdict"]) == [c["status"] for c in tried]
    assert list(caps["95% upper"]) == pytest.approx([c["upper"] for c in tried])
    assert len(at.get("image")) == 1                                    # the curve
    assert {b.label for b in at.get("download_button")} >= {"advice.json", "advice.html"}
    assert "done:" in at.get("progress")[0].proto.text


def test_tunnel_page_compares_plans_and_states_the_best_per_mode():
    at = _app("tunnel")
    _no_errors(at)
    plans = list(load_scenario(TYPHOON).plans)
    assert _by_key_part(at.multiselect, "tunnel_plans").value == plans
    _set_short_run(at, "tunnel", 40)
    at.button(key="tunnel_run").click().run()
    _no_errors(at)
    motor, bike = (d.value for d in at.dataframe)
    assert list(motor["plan"]) == plans and list(bike["plan"]) == plans
    for table in (motor, bike):
        assert {"through tunnel (per h)", "wait mean (min)", "wait p95 (min)", "max queue (vehicles)"} <= set(table)
    assert (bike["convoys"] >= 1).all()
    stated = at.success[0].value
    for words, table in (("bicycle", bike), ("motor-vehicle", motor)):
        names = re.search(rf"Lowest mean {words} wait: (.+?) \(", stated).group(1).split(" and ")
        waits = table.set_index("plan")["wait mean (min)"]
        assert all(waits[name] == waits.min() for name in names), (stated, waits)
    assert len(at.get("image")) == 2        # queues per portal with phases; waits and throughput


def test_tunnel_page_plan_choice_and_bad_settings():
    at = _app("tunnel")
    _by_key_part(at.multiselect, "tunnel_plans").set_value([])
    at.button(key="tunnel_run").click().run()
    assert at.error[0].value == "Choose at least one phase plan."
    _by_key_part(at.multiselect, "tunnel_plans").set_value(["fixed_20_10"])
    at.text_area(key="tunnel_overrides").set_value("plans.fixed_20_10.motor_s=-1\ntunnel.namee=x")
    at.button(key="tunnel_run").click().run()
    message = at.error[0].value
    assert "plans.fixed_20_10.motor_s" in message and "tunnel.namee: unknown key" in message
    assert not at.exception and not at.dataframe


def test_tunnel_page_lists_only_scenarios_with_a_tunnel():
    at = _app("tunnel")
    _no_errors(at)
    options = at.selectbox(key="tunnel_scenario").options
    assert any(TYPHOON.name in o for o in options) and not any(OAKLAND_TRAFFIC.name in o for o in options)
    assert options[-1] == UPLOAD and not at.info


def test_tunnel_page_says_so_when_no_scenario_has_a_tunnel(monkeypatch):
    real = sim.study.shipped_scenarios
    monkeypatch.setattr(sim.study, "shipped_scenarios",
                        lambda kind, *a: {k: v for k, v in real(kind, *a).items() if v.name != TYPHOON.name})
    at = _app("tunnel")
    assert not at.exception and not at.error
    assert at.selectbox(key="tunnel_scenario").options == [UPLOAD]
    assert "No shipped traffic scenario has a tunnel" in at.info[0].value
    assert not at.multiselect and not at.button


def test_tunnel_page_refuses_an_uploaded_traffic_scenario_without_a_tunnel():
    at = _upload(_app("tunnel"), "tunnel", "oakland.toml", OAKLAND_TRAFFIC.read_bytes())
    assert not at.exception and not at.error
    assert "has no tunnel" in at.warning[0].value and not at.multiselect and not at.button

def _upload(at: AppTest, page: str, name: str, content: bytes) -> AppTest:
    if not hasattr(at, "file_uploader"):
        pytest.skip("this Streamlit's AppTest cannot drive st.file_uploader")
    at.selectbox(key=f"{page}_scenario").set_value(UPLOAD).run()
    at.file_uploader(key=f"{page}_upload").set_value((name, content, "application/toml"))
    return at.run()


def test_upload_is_validated_with_the_clis_errors(tmp_path):
    bad = RAIN.read_text(encoding="utf-8").replace("patience_s = 1800", "patience_s = -5\nunknown_knob = 3")
    (tmp_path / "bad.toml").write_text(bad, encoding="utf-8")
    with pytest.raises(Exception) as cli:
        load_scenario(tmp_path / "bad.toml")
    at = _upload(_app("crowd"), "crowd", "bad.toml", bad.encode())
    assert not at.exception and not at.table
    message = at.error[0].value
    assert message.startswith("invalid scenario ") and "bad.toml: 2 problem(s)" in message
    assert message.splitlines()[1:] == str(cli.value).splitlines()[1:]


@pytest.mark.parametrize("name, content, expected", [
    ("big.toml", b"#" * 200_001, "at most 200,000 bytes"),
    ("code.toml", b"import os\nos.system('rm -rf /')\n", "not valid TOML"),
    ("elsewhere.toml", RAIN.read_bytes().replace(b'"../maps/bund.osm"', b'"/etc/hosts"'),
     "not one of the shipped maps"),
    ("typhoon.toml", TYPHOON.read_bytes(), "open it on the Tunnel plans page"),
    ("bikes.toml", BIKES_RAIN.read_bytes(), "open it on the Bike plans page"),
], ids=["too-big", "not-toml", "foreign-map", "traffic-on-crowd-page", "bikes-on-crowd-page"])
def test_upload_refuses_big_non_toml_foreign_map_and_wrong_kind(name, content, expected):
    at = _upload(_app("crowd"), "crowd", name, content)
    assert not at.exception
    assert expected in at.error[0].value


def test_valid_upload_is_offered_for_a_run():
    text = RAIN.read_bytes().replace(b"cap = 60000", b"cap = 50000")
    at = _upload(_app("crowd"), "crowd", "my night.toml", text)
    _no_errors(at)
    assert at.button(key="crowd_run")
    assert _by_key_part(at.selectbox, "crowd_zone").value == "promenade"


def test_crowd_page_loads_a_sweep_and_states_the_highest_cap_within_the_risk(tmp_path):
    """A tiny sweep (2 caps x 2 seeds of a shortened rain night) made with the sim.sweep API, loaded
    on the page: one table row per cap with the numbers of risk.csv, the verdict of sim.study, a chart."""
    from sim.study import duration_override, sweep_grid_keys, sweep_safe_cap
    from sim.study.sweep import load_sweep, run_sweep
    start = time.perf_counter()
    out = tmp_path / "sweep"
    result = run_sweep(RAIN, ["zones.promenade.cap=15000,none"], 2, out, workers=2, log=lambda msg: None,
                       overrides=[duration_override(30), *short_crowd_overrides(RAIN, show_start_min=15)])
    assert result.failed == 0 and len(result.ran) == 4
    sweep_s = time.perf_counter() - start

    at = _app("crowd")
    at.text_input(key="crowd_sweep_dir").set_value(str(tmp_path / "nothing"))
    at.button(key="crowd_sweep_load").click().run()
    assert not at.exception and "No sweep in" in at.warning[0].value and not at.dataframe
    at.text_input(key="crowd_sweep_dir").set_value(str(out))
    at.button(key="crowd_sweep_load").click().run()
    _no_errors(at)
    table = at.dataframe[0].value
    _, risk = load_sweep(out)
    assert list(table["cell"]) == ["cap 15,000", "uncapped"]
    assert list(table["runs ok"]) == [2, 2] and list(table["runs failed"]) == [0, 0]
    for label, column in (("P(unsafe)", "p_unsafe"), ("P(any place LOS F)", "p_any_place_los_f"),
                          ("P(crush density)", "p_any_place_crush_density")):
        assert list(table[label]) == pytest.approx(list(risk[column]), abs=1e-3)
    for label, column, scale in (("promenade peak density (p/m2)", "promenade.peak_density_ppm2", 1),
                                 ("gate wait p95 (min)", "gate_wait_s_p95", 60)):
        for stat in ("mean", "p5", "p95"):
            assert list(table[f"{label} {stat}"] * scale) == pytest.approx(list(risk[f"{column}.{stat}"]),
                                                                           abs=0.01 * scale)
        assert (table[f"{label} p5"] <= table[f"{label} mean"] + 1e-9).all()
        assert (table[f"{label} mean"] <= table[f"{label} p95"] + 1e-9).all()
    capped = risk.iloc[0]
    assert table["promenade peak density (p/m2) mean"][0] == pytest.approx(capped["promenade.peak_density_ppm2.mean"],
                                                                          abs=0.01)
    records = risk.to_dict("records")
    stated = (at.success or at.warning)[0].value
    assert stated == sweep_safe_cap(records, sweep_grid_keys(risk.columns), 0.05).text
    # two seeds per cap can show no risk below 77.6%: never a verdict at 5%
    assert stated.startswith("No cap of this sweep is shown to keep the probability of an unsafe night below 5%")
    assert len(at.get("image")) == 2                 # bands per cap, and P(unsafe) against the cap
    # Another acceptable risk re-judges the same sweep; 100% always allows the highest cap (uncapped).
    at.number_input(key="crowd_sweep_risk").set_value(1.0).run()
    _no_errors(at)
    assert at.success[0].value.startswith("Even with promenade uncapped, the probability of an unsafe night is "
                                          "shown below 100%")
    print(f"tiny sweep: {sweep_s:.1f} s; app: {time.perf_counter() - start - sweep_s:.1f} s")


# ---------------------------------------------------------------------------------------------
# Bike plans.
# ---------------------------------------------------------------------------------------------

BIKE_KPIS = {"pickups", "unmet pickups", "unmet share (%)", "empty-pool minutes, all pools", "bikes moved",
             "van-km", "extra walk to another pool, mean (m)", "bikes conserved"}
VERDICT = re.compile(r"Fewest unmet pickups: (.+?) \(([\d,]+) of ([\d,]+) bike requests, unmet share ([\d.]+)%\)\.")


def _check_bike_verdict(stated: str, table) -> str:
    """The stated plan has the fewest unmet pickups in the table (ties: the fewest empty-pool
    minutes among them) and its unmet share; returns the plan."""
    best, unmet, requests, share = VERDICT.match(stated).groups()
    unmet_by_plan = {p: _number(table.loc["unmet pickups", p]) for p in table.columns}
    assert _number(unmet) == unmet_by_plan[best] == min(unmet_by_plan.values()), (stated, unmet_by_plan)
    tied = [p for p, v in unmet_by_plan.items() if v == unmet_by_plan[best]]
    empty = {p: _number(table.loc["empty-pool minutes, all pools", p]) for p in tied}
    assert empty[best] == min(empty.values()), (stated, empty)
    assert share == table.loc["unmet share (%)", best]
    assert _number(requests) == _number(table.loc["pickups", best]) + _number(unmet)
    return best


def test_bike_page_compares_plans_in_rain_and_states_the_fewest_unmet(monkeypatch):
    runs = []
    real = sim.study.run_bike_plans
    monkeypatch.setattr(sim.study, "run_bike_plans", lambda *a, **k: runs.append(tuple(k["plans"])) or real(*a, **k))
    at = _app("bikes")
    _no_errors(at)
    _choose_scenario(at, "bikes", BIKES_RAIN)
    scenario = load_scenario(BIKES_RAIN)
    plans = list(scenario.plans)
    assert _by_key_part(at.radio, "bikes_weather").value == "Rain"
    assert _by_key_part(at.slider, "bikes_rain").value == scenario.weather.rain_mm_per_h == 15.0
    assert _by_key_part(at.multiselect, "bikes_plans").value == plans
    start = time.perf_counter()
    at.button(key="bikes_run").click().run()
    run_s = time.perf_counter() - start
    _no_errors(at)
    assert runs == [tuple(plans)]

    table = at.table[0].value
    assert list(table.columns) == plans
    assert BIKE_KPIS | {f"empty-pool minutes, {pool}" for pool in scenario.pools} <= set(table.index)
    assert (table.loc["bikes conserved"] == "yes").all()
    requests = {_number(table.loc["pickups", p]) + _number(table.loc["unmet pickups", p]) for p in plans}
    assert len(requests) == 1                                  # every plan sees the same evening
    for plan in plans:                                         # the total is the sum over the pools
        total = sum(_number(table.loc[f"empty-pool minutes, {pool}", plan]) for pool in scenario.pools)
        assert abs(total - _number(table.loc["empty-pool minutes, all pools", plan])) <= 0.1 * len(scenario.pools)
    _check_bike_verdict(at.success[0].value, table)
    # The same numbers as a plain `citytwin run` of the file (same seed): the app runs the scenario as is.
    plain = BikePlanComparison(scenario).run()
    assert table.equals(pd.DataFrame(bike_kpi_rows(plain)).set_index("KPI"))

    shares = at.table[1].value.apply(lambda col: col.map(_number))
    assert list(shares.columns) == ["dry (%)", "rain 15 mm/h (%)", "change (points)"]
    assert shares.equals(pd.DataFrame(exit_share_rows(plain)).set_index("exit").astype(float))
    for column in ("dry (%)", "rain 15 mm/h (%)"):
        assert abs(shares[column].sum() - 100) < 0.5
    # Pools on the map (a panel per plan), stock per pool over time, exit shares.
    assert len(at.get("image")) == 3

    # A repeated comparison comes from the cache: nothing is run again.
    start = time.perf_counter()
    at.button(key="bikes_run").click().run()
    cached_s = time.perf_counter() - start
    _no_errors(at)
    assert runs == [tuple(plans)]
    assert at.table[0].value.equals(table)
    print(f"bike comparison: {run_s:.2f} s; repeated (cached): {cached_s:.2f} s")


def test_bike_page_rain_intensity_plan_choice_and_short_run():
    """The dry file with the rain set on the page is the rain file (same numbers); a chosen subset of
    plans, a shorter evening and a dry run are laid out the same way."""
    at = _app("bikes")
    _choose_scenario(at, "bikes", BIKES_DRY)
    assert _by_key_part(at.radio, "bikes_weather").value == "Dry"
    _by_key_part(at.multiselect, "bikes_plans").set_value(["none", "optimised"])
    _by_key_part(at.radio, "bikes_weather").set_value("Rain").run()
    assert _by_key_part(at.slider, "bikes_rain").value == 15.0
    at.button(key="bikes_run").click().run()
    _no_errors(at)
    from_dry_file = at.table[0].value
    assert list(from_dry_file.columns) == ["none", "optimised"]
    assert "rain 15 mm/h (%)" in at.table[1].value.columns
    plain = BikePlanComparison(load_scenario(BIKES_RAIN), plans=["none", "optimised"]).run()
    assert from_dry_file.equals(pd.DataFrame(bike_kpi_rows(plain)).set_index("KPI"))

    _by_key_part(at.radio, "bikes_weather").set_value("Dry").run()
    _set_short_run(at, "bikes", 90)
    at.button(key="bikes_run").click().run()
    _no_errors(at)
    dry = at.table[0].value
    assert list(dry.columns) == ["none", "optimised"]
    assert list(at.table[1].value.columns) == ["dry (%)"]     # no rain to compare with
    best = _check_bike_verdict(at.success[0].value, dry)
    assert best in ("none", "optimised")
    assert "dry; seed 11; settings simulation.duration_s=5400.0" in " ".join(c.value for c in at.caption)


def test_bike_page_plan_choice_and_bad_settings():
    at = _app("bikes")
    _by_key_part(at.multiselect, "bikes_plans").set_value([])
    at.button(key="bikes_run").click().run()
    assert at.error[0].value == "Choose at least one redistribution plan."
    _by_key_part(at.multiselect, "bikes_plans").set_value(["static"])
    # A plan that moves bikes to a pool that does not exist: the CLI's clean error, no run.
    at.text_area(key="bikes_overrides").set_value("plans.static.layout.exit_9=5")
    at.button(key="bikes_run").click().run()
    assert "plans.static.layout: 'exit_9' is not a pool" in at.error[0].value
    assert not at.exception and not at.table
    # A bad value and an unknown key: one message that names both.
    at.text_area(key="bikes_overrides").set_value("vans.capacity=0\nvans.capacityy=3")
    at.button(key="bikes_run").click().run()
    message = at.error[0].value
    assert "2 problem(s)" in message and "vans.capacity: " in message and "vans.capacityy: unknown key" in message
    assert not at.exception and not at.table


def test_bike_scenario_upload_runs_on_the_bike_page():
    text = BIKES_RAIN.read_bytes().replace(b"rain_mm_per_h = 15.0", b"rain_mm_per_h = 5.0")
    at = _upload(_app("bikes"), "bikes", "my evening.toml", text)
    _no_errors(at)
    assert _by_key_part(at.slider, "bikes_rain").value == 5.0
    _by_key_part(at.multiselect, "bikes_plans").set_value(["none"])
    at.button(key="bikes_run").click().run()
    _no_errors(at)
    assert list(at.table[0].value.columns) == ["none"]
    assert "rain 5 mm/h (%)" in at.table[1].value.columns
    assert at.success[0].value.startswith("Fewest unmet pickups: none (")
    wrong = _upload(_app("bikes"), "bikes", "night.toml", RAIN.read_bytes())
    assert "open it on the Crowd caps page" in wrong.error[0].value


def test_hotspot_page_runs_the_stairs_and_slides_through_density_frames(monkeypatch):
    """A 3-minute New Year's Eve run on the Hotspots page: the table per measurement area is the run's
    summary (as a plain run with the same settings gives it), the peak map, and a frame slider whose
    move draws the frame at the chosen time."""
    import sim.hotspot.plots
    from sim.kinds import build_run

    drawn = []
    real = sim.hotspot.plots.frame_png
    monkeypatch.setattr(sim.hotspot.plots, "frame_png",
                        lambda frames, k, *a, **kw: drawn.append(float(frames.t_s[k])) or real(frames, k, *a, **kw))
    at = _app("hotspot")
    _no_errors(at)
    assert "Hotspots: 2D crowds on the stairs" in at.sidebar.radio[0].options
    _choose_scenario(at, "hotspot", NEWYEAR)
    _set_short_run(at, "hotspot", 3)
    at.button(key="hotspot_run").click().run()
    _no_errors(at)
    table = at.table[0].value
    assert list(table.columns) == ["max local density (p/m2)", "max N/A density (p/m2)", "s above 4 p/m2",
                                   "s above 5 p/m2"]
    assert {"flight 1", "landing 1", "flight 2"} <= set(table.index)
    assert table["max local density (p/m2)"].max() > 0
    plain = build_run(load_scenario(NEWYEAR, ["simulation.duration_s=180.0", "show.end_s=180.0"]), seed=2014)
    areas = plain.run()["hotspots"]["chen_yi_stairs"]["areas"]
    assert table.loc["landing 1", "max local density (p/m2)"] == areas["landing_1"]["max_local_density_ppm2"]
    assert table.loc["landing 1", "s above 5 p/m2"] == areas["landing_1"]["time_above_5_ppm2_s"]
    assert len(at.get("image")) == 2                     # the peak map and one frame
    slider = _by_key_part(at.select_slider, "hotspot_frame")
    assert slider.value == 180.0 and len(slider.options) == 18 and drawn == [180.0]
    slider.set_value(60.0).run()
    _no_errors(at)
    assert _by_key_part(at.select_slider, "hotspot_frame").value == 60.0 and drawn == [180.0, 60.0]
    assert len(at.get("image")) == 2
    assert {"summary.json", "hotspot_chen_yi_stairs_frames.npz"} <= {b.label for b in at.get("download_button")}


def test_hotspot_and_crowd_pages_send_an_upload_of_the_other_kind_to_its_page():
    wrong = _upload(_app("hotspot"), "hotspot", "night.toml", RAIN.read_bytes())
    assert not wrong.exception and "open it on the Crowd caps page" in wrong.error[0].value
    wrong = _upload(_app("crowd"), "crowd", "stairs.toml", NEWYEAR.read_bytes())
    assert not wrong.exception and "open it on the Hotspots: 2D crowds on the stairs page" in wrong.error[0].value


# ---------------------------------------------------------------------------------------------
# A real browser on `streamlit run app.py`.
# ---------------------------------------------------------------------------------------------

def test_browser_runs_a_crowd_and_a_bike_comparison(tmp_path):
    """Screenshots go to pytest's tmp_path (the README's are taken by ``python tests/app_browser.py``)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install -e '.[test]')")
    executable = chromium_path()
    if executable is None:
        pytest.skip("Chromium not found at /usr/bin/chromium (run tests/setup_browser.sh, or "
                    "apt-get install -y chromium)")
    with streamlit_server() as url, sync_playwright() as p:
        browser = launch(p, executable)
        try:
            page = open_app(browser, url, "crowd")
            choose(page, "Scenario", RAIN.name)
            set_caps(page, "15000, none")
            set_run_options(page, minutes=35, overrides=short_crowd_overrides(RAIN))
            run_comparison(page, "crowd", timeout_s=240)
            assert exceptions_shown(page) == []
            table = page.locator('[data-testid="stTable"]').first.inner_text()
            assert "cap 15,000" in table and "uncapped" in table and "peak on promenade (people)" in table
            verdict = page.locator('[data-testid="stAlertContentInfo"]').filter(has_text="One run per cap")
            assert "LOS F" in verdict.first.inner_text()       # one seed per cap: labelled, not a verdict
            shot = screenshot(page, tmp_path / "crowd_caps_short.png")
            assert shot.stat().st_size > 50_000

            page = open_app(browser, url, "bikes")
            choose(page, "Scenario", BIKES_RAIN.name)
            run_comparison(page, "bikes", timeout_s=240)
            assert exceptions_shown(page) == []
            table = page.locator('[data-testid="stTable"]').first.inner_text()
            assert all(word in table for word in ("unmet pickups", "van-km", "none", "optimised"))
            verdict = page.locator('[data-testid="stAlertContentSuccess"]').first.inner_text()
            assert VERDICT.match(verdict), verdict
            shot = screenshot(page, tmp_path / "bike_plans.png")
            assert shot.stat().st_size > 50_000
        finally:
            browser.close()
