"""Shared fixtures: small synthetic maps (written through the same OSM loader as real maps)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.core.osmxml import write_osm
from sim.core.schema import scenario_toml

ROOT = Path(__file__).resolve().parents[1]
SHARED_OSM = ROOT.parent / "shared" / "osm" / "shanghai_center.osm"


def corridor_scenario(tmp_path: Path, *, width_m: float = 4.0, rate_per_min: float = 600.0,
                      bottleneck: dict | None = None, duration_s: float = 1800.0, extra: dict | None = None) -> dict:
    """A 200 m corridor from 'Entry West' into a wide viewing plaza; optionally a narrow link
    (``bottleneck`` = way tags) 10 m long in the middle of the corridor."""
    points = {"Entry West": (0, 0), "c1": (100, 0), "Corridor End": (200, 0), "p1": (300, 0), "Exit East": (400, 0)}
    ways = [(["Corridor End", "p1", "Exit East"], {"highway": "pedestrian", "width": "60", "zone": "plaza"})]
    if bottleneck is None:
        ways.append((["Entry West", "c1", "Corridor End"], {"highway": "footway", "width": str(width_m)}))
    else:
        points.update({"b0": (95, 0), "b1": (105, 0)})
        ways += [(["Entry West", "b0"], {"highway": "footway", "width": str(width_m)}),
                 (["b0", "b1"], bottleneck),
                 (["b1", "Corridor End"], {"highway": "footway", "width": str(width_m)})]
    path = write_osm(tmp_path / "corridor.osm", points, ways,
                     node_tags={"Entry West": {"entrance": "yes"}, "Exit East": {"entrance": "yes"}})
    data = {
        "name": "corridor", "map": str(path),
        "simulation": {"duration_s": duration_s, "max_cell_m": 50, "seed": 3},
        "show": {"start_s": duration_s - 200, "end_s": duration_s - 100, "release": "all"},
        "zones": {"plaza": {"match": "zone=plaza", "view": True}},
        "exits": {"street": {"nodes": ["Exit East", "Entry West"]}},
        "sources": [{"name": "west", "nodes": ["Entry West"], "profile": [[0, rate_per_min], [60, rate_per_min]],
                     "exit": "street"}],
    }
    for key, value in (extra or {}).items():
        data[key] = {**data.get(key, {}), **value}
    return data


@pytest.fixture
def shared_osm() -> Path:
    if not SHARED_OSM.exists():
        pytest.skip(f"real OSM extract not found at {SHARED_OSM} (../shared is absent on this machine)")
    return SHARED_OSM


to_toml = scenario_toml    # scenario data as TOML text (sim.core.schema)
