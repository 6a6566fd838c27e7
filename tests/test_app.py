"""The Streamlit app (app.py): AppTest drives its widgets; a real browser (headless Chromium via
Playwright) runs a comparison on ``streamlit run``.

Runs are shortened (about half an hour of simulated time, set through the app's own run options)
so the file stays quick; the numbers asserted are read from the app's own tables, so the tests
hold whatever the crowd and traffic models compute.
"""

from __future__ import annotations

import re
import sys
import time

import pytest
from streamlit.testing.v1 import AppTest

import sim.compare
from sim.scenario import load_scenario
from tests.app_browser import (chromium_path, exceptions_shown, launch, open_app, run_comparison, screenshot,
                               set_caps, set_run_options, short_crowd_overrides, streamlit_server)
from tests.conftest import ROOT

APP = str(ROOT / "app.py")
RAIN = ROOT / "scenarios" / "bund_lightshow_rain.toml"
TYPHOON = ROOT / "scenarios" / "typhoon_tunnel_convoy.toml"
SCREENSHOTS = ROOT / "docs" / "screenshots"
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


def test_crowd_page_compares_caps_and_states_the_highest_safe_cap(monkeypatch):
    runs = []
    real = sim.compare.run_crowd
    monkeypatch.setattr(sim.compare, "run_crowd", lambda *a, **k: runs.append(k["label"]) or real(*a, **k))
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

    table = at.table[0].value
    assert list(table.columns) == ["cap 15,000", "cap 25,000", "uncapped"]
    peaks = [_number(v) for v in table.loc["peak on promenade (people)"]]
    assert peaks[0] <= 15000 and peaks[1] <= 25000 and peaks[2] >= peaks[1]
    assert all(v in "ABCDEF" for v in table.loc["worst LOS on promenade"])
    # The stated cap is the highest one whose run has no zone at LOS E or worse (read from the table).
    safe = [col for col in table.columns if table.loc["zones at LOS E or worse", col] == "none"]
    stated = (at.success or at.warning)[0].value
    if not safe:
        assert stated.startswith("No cap tried keeps every zone out of LOS E or worse")
    elif safe[-1] == "uncapped":
        assert stated.startswith("Every zone stays out of LOS E or worse even with promenade uncapped")
    else:
        assert stated.startswith(f"The highest cap that keeps every zone out of LOS E or worse is "
                                 f"{safe[-1].removeprefix('cap ')} on promenade.")
    # Switching to LOS F re-judges the same runs without running them again.
    at.radio(key="crowd_avoid").set_value("LOS F").run()
    safe_f = [col for col in table.columns if table.loc["zones at LOS F", col] == "none"]
    stated_f = (at.success or at.warning)[0].value
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
], ids=["too-big", "not-toml", "foreign-map", "traffic-on-crowd-page"])
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


def test_bike_page_says_not_available_until_sim_bikes_lands(monkeypatch):
    monkeypatch.setitem(sys.modules, "sim.bikes", None)          # as if sim/bikes.py did not exist
    at = _app("bikes")
    _no_errors(at)
    assert at.info[0].value.startswith("Not available yet")
    assert not at.table and not at.dataframe and not at.get("image") and not at.metric


def test_bike_page_shows_no_numbers_of_its_own():
    at = _app("bikes")
    _no_errors(at)
    assert at.info or at.warning
    assert not at.table and not at.dataframe and not at.metric


# ---------------------------------------------------------------------------------------------
# A real browser on `streamlit run app.py`.
# ---------------------------------------------------------------------------------------------

def test_browser_runs_a_crowd_comparison():
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
            set_caps(page, "15000, none")
            set_run_options(page, minutes=35, overrides=short_crowd_overrides(RAIN))
            run_comparison(page, timeout_s=240)
            assert exceptions_shown(page) == []
            table = page.locator('[data-testid="stTable"]').first.inner_text()
            assert "cap 15,000" in table and "uncapped" in table and "peak on promenade (people)" in table
            verdict = page.locator('[data-testid="stAlertContentSuccess"], [data-testid="stAlertContentWarning"]')
            assert "LOS F" in verdict.first.inner_text()
            shot = screenshot(page, SCREENSHOTS / "browser_test_crowd_caps_short.png")
            assert shot.stat().st_size > 50_000
        finally:
            browser.close()
