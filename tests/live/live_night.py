"""A small night for the live twin's tests (helpers; fixtures in conftest.py): two entries, an uncounted square on the way from the
west, a capped viewing plaza (counted), a rain gauge."""

from __future__ import annotations

from pathlib import Path

from sim.core.osmxml import write_osm
from sim.core.schema import scenario_toml, validate_as
from sim.crowd.schema import CrowdScenario


def small_night_data(tmp_path: Path, *, cap: int = 2500, duration_s: float = 2700.0, live: dict | None = None,
                     sensors: dict | None = None) -> dict:
    """Scenario data of the small night (its map written into ``tmp_path``)."""
    points = {"Entry West": (0, 0), "w1": (60, 0), "Square West": (100, 0), "Square East": (160, 0),
              "Gate": (200, 0), "p1": (260, 0), "p2": (320, 0), "p3": (380, 0), "Exit East": (440, 0),
              "Entry North": (320, 160)}
    ways = [(["Entry West", "w1", "Square West"], {"highway": "footway", "width": "6"}),
            (["Square West", "Square East"], {"highway": "pedestrian", "width": "20", "zone": "square"}),
            (["Square East", "Gate"], {"highway": "footway", "width": "6"}),
            (["Gate", "p1", "p2", "p3"], {"highway": "pedestrian", "width": "12", "zone": "plaza"}),
            (["p3", "Exit East"], {"highway": "footway", "width": "6"}),
            (["Entry North", "p2"], {"highway": "footway", "width": "4"})]
    path = write_osm(tmp_path / "small_night.osm", points, ways,
                     node_tags={n: {"entrance": "yes"} for n in ("Entry West", "Entry North", "Exit East")})
    data = {
        "name": "small night", "map": str(path),
        "simulation": {"duration_s": duration_s, "dt_s": 2.0, "max_cell_m": 30, "seed": 5},
        "weather": {"rain_mm_per_h": 10.0},
        "show": {"start_s": duration_s - 600, "end_s": duration_s - 300, "release": "all"},
        "zones": {"plaza": {"match": "zone=plaza", "view": True, "cap": cap},
                  "square": {"match": "zone=square"}},
        "exits": {"street": {"nodes": ["Exit East", "Entry West", "Entry North"]}},
        "sources": [
            {"name": "west", "nodes": ["Entry West"], "profile": [[0, 40], [20, 90], [40, 90]], "exit": "street"},
            {"name": "north", "nodes": ["Entry North"], "profile": [[0, 20], [20, 45], [40, 45]], "exit": "street"}],
        "sensors": sensors if sensors is not None else {
            "plaza_count": {"kind": "zone_occupancy", "zone": "plaza", "noise_frac": 0.05},
            "plaza_in": {"kind": "cordon", "zone": "plaza", "direction": "in"},
            "west_entry": {"kind": "source", "source": "west"},
            "rain_gauge": {"kind": "rain"}},
        "live": {"members": 6, "seed": 1, "forecast_every_s": 300, "horizon_s": 900, "warn_within_s": 900,
                 "whatif_members": 2, "whatif_every_s": 600, **(live or {})},
    }
    return data


def small_night(tmp_path: Path, **kw) -> CrowdScenario:
    return validate_as(CrowdScenario, small_night_data(tmp_path, **kw), str(tmp_path / "small_night.toml"))


def small_night_toml(tmp_path: Path, **kw) -> Path:
    """The small night written as a scenario file (``tmp_path / "night.toml"``), for commands and scripts."""
    path = tmp_path / "night.toml"
    path.write_text(scenario_toml(small_night_data(tmp_path, **kw)))
    return path


