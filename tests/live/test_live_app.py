"""The app's Live page: AppTest on a twin's folder (the small night), and a real browser."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from live_night import small_night
from sim.live.replay import Dropout, TruthSpec
from sim.live.skill import track

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")


@pytest.fixture(scope="module")
def twin_folder(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("live_app")
    night = small_night(tmp, live={"horizon_s": 600, "warn_within_s": 600, "whatif_members": 2,
                                   "whatif_every_s": 600})
    track(night, TruthSpec(seed=8, demand_scale=1.8, rain_onset_s=300, dropouts=(Dropout("west_entry", 540.0),)),
          until_s=900, out_dir=tmp / "twin")
    return tmp / "twin"


def _texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [w.body for w in at.warning]
    parts += [str(m.label) + " " + str(m.value) for m in at.metric]
    return "\n".join(str(p) for p in parts)


def test_live_page_shows_the_twin_of_a_folder(twin_folder):
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["page"] = "live"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("No live twin has written" in i.value for i in at.info)           # the default folder is empty
    at.text_input(key="live_folder").set_value(str(twin_folder)).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Simulated time"] == "minute 15" and metrics["Members"] == "6"
    assert metrics["Running without"] == "west_entry"
    tables = [t.value for t in at.table]
    risk = tables[0]
    assert list(risk.index) == ["plaza", "square"] and "p_cap_10min" in risk.columns
    frames = [d.value for d in at.dataframe]
    alerts = frames[0]
    assert {"event", "lead_time_min"} <= set(alerts.columns) and "cap" in set(alerts["event"])
    whatif = frames[1]
    assert "start the release now" in set(whatif["measure"])
    assert len(at.get("image")) >= 1 + 2 + 3            # maps (now, ahead), a fan per zone, counts per sensor
    assert "Warning active: plaza:cap" in _texts(at)


def test_live_page_in_a_real_browser(twin_folder, tmp_path):
    """``streamlit run app.py`` in headless Chromium: the Live page on the twin's folder shows its metrics,
    warnings, zone table and figures without an exception (screenshot in pytest's tmp_path)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install -e '.[test]')")
    from tests.app_browser import chromium_path, exceptions_shown, launch, screenshot, streamlit_server

    executable = chromium_path()
    if executable is None:
        pytest.skip("Chromium not found at /usr/bin/chromium (run tests/setup_browser.sh, or apt-get install -y chromium)")
    with streamlit_server() as url, sync_playwright() as p:
        browser = launch(p, executable)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1000})
            page.goto(f"{url}/?page=live")
            field = page.get_by_label("Twin folder (the --out of citytwin live)")
            field.wait_for(timeout=60_000)
            page.get_by_text("No live twin has written").first.wait_for(timeout=60_000)
            field.fill(str(twin_folder))
            field.press("Tab")                       # Streamlit takes the value when the field loses focus
            page.get_by_text("minute 15").first.wait_for(timeout=120_000)
            figures = '[data-testid="stImage"] img, [data-testid="stImageContainer"] img'
            page.wait_for_function(                  # maps (now, ahead), a fan per zone, counts per sensor
                f"() => document.querySelectorAll('{figures}').length >= 1 + 2 + 3"
                " && !document.querySelector('[data-testid=\"stStatusWidget\"]')"
                " && [...document.images].every(img => img.complete)", timeout=120_000)
            assert exceptions_shown(page) == []
            text = page.locator('[data-testid="stMain"], section.main').first.inner_text()
            for words in ("Warnings", "Zones: forecast", "Running without", "west_entry", "Warning active: plaza:cap",
                          "What if, from now", "Counts against the twin"):
                assert words in text, words
            shot = screenshot(page, tmp_path / "live.png")
            assert shot.stat().st_size > 50_000
        finally:
            browser.close()
