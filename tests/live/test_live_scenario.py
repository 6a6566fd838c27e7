"""The shipped live scenario is the rain night plus its sensors and the twin's settings."""

from __future__ import annotations

import tomllib
from pathlib import Path

from sim.kinds import load_scenario
from sim.live.measures import select_measures

ROOT = Path(__file__).resolve().parents[2]


def test_the_live_scenario_is_the_rain_night_with_sensors():
    live = tomllib.loads((ROOT / "scenarios" / "bund_lightshow_live.toml").read_text())
    rain = tomllib.loads((ROOT / "scenarios" / "bund_lightshow_rain.toml").read_text())
    sensors, settings = live.pop("sensors"), live.pop("live")
    for key in ("name", "description"):
        live.pop(key), rain.pop(key)
    rain.pop("plans", None)        # the rain night's named plans are for advise; the twin has its own what-ifs
    assert live == rain, "bund_lightshow_live.toml has drifted from bund_lightshow_rain.toml"
    assert {s["kind"] for s in sensors.values()} == {"zone_occupancy", "cordon", "source", "rain"}
    assert settings["members"] == 20 and settings["horizon_s"] == 1800 and settings["forecast_every_s"] == 300


def test_the_live_scenario_loads_and_offers_its_measures():
    scenario = load_scenario(ROOT / "scenarios" / "bund_lightshow_live.toml")
    assert [m.name for m in select_measures(scenario)] == ["close_source:East Nanjing Road metro", "start_release",
                                                          "close_zone:promenade"]
