"""The loader on real OpenStreetMap extracts nobody here drew: only ways that carry people or
vehicles become links, the load report counts what was ignored and what rests on defaults, the
defaults profile follows the map's location and the scenario, and the disk cache is keyed by
content and settings.  Extracts: ../shared/osm/ (skipped without it) and the shipped
maps/west_oakland.osm (ODbL, maps/README.md)."""

from __future__ import annotations

import os
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from sim.core import cache
from sim.core.errors import MapError
from sim.core.osm import load_network, parse_speed_mps
from sim.core.osmraw import way_keep_reason
from sim.core.profiles import resolve_defaults
from tests.conftest import ROOT

SHARED = ROOT.parent / "shared" / "osm"
OAKLAND = ROOT / "maps" / "west_oakland.osm"


def shared_file(name: str) -> Path:
    path = SHARED / name
    if not path.exists():
        pytest.skip(f"real OSM extract not found at {path} (../shared is absent on this machine)")
    return path


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CITYTWIN_CACHE_DIR", str(tmp_path / "cache"))
    from sim.core import osm
    monkeypatch.setattr(osm, "_NETWORK_CACHE", {})
    return tmp_path / "cache"


def ways_by_kind(path: Path) -> dict[str, set[int]]:
    """An independent reading of the file: way ids by what they are."""
    out: dict[str, set[int]] = {"highway": set(), "building": set(), "landuse": set(), "railway": set(),
                                "other": set()}
    for way in ET.parse(path).getroot().iter("way"):
        tags = {t.get("k"): t.get("v") for t in way.iter("tag")}
        kind = next((k for k in ("highway", "building", "landuse", "railway") if k in tags), "other")
        out[kind].add(int(way.get("id")))
    return out


@pytest.mark.parametrize("name, profile", [("west_oakland.osm", "US-CA"), ("bavaria_residential.osm", "DE")])
def test_no_building_landuse_or_railway_becomes_a_link(name, profile, private_cache):
    path = shared_file(name)
    net = load_network(path)
    kinds = ways_by_kind(path)
    linked = set(net.link_osmid.tolist())
    for kind in ("building", "landuse", "railway"):
        assert not (linked & kinds[kind]), f"{kind} ways became links: {sorted(linked & kinds[kind])[:5]}"
    assert linked <= kinds["highway"]
    # the report's counts agree with the independent reading
    report = net.report
    total = sum(len(v) for v in kinds.values())
    assert report.ways_total == total
    assert report.ways_kept + sum(report.ways_ignored.values()) + report.ways_dropped_clipped == total
    assert report.ways_ignored.get("building", 0) == len(kinds["building"])
    assert report.ways_ignored.get("landuse", 0) == len(kinds["landuse"] - kinds["building"])
    assert report.ways_ignored.get("railway", 0) == len(kinds["railway"])
    assert report.profile == profile and report.profile_picked_by.startswith("location")
    # roads without maxspeed rest on the profile's speed limit, and the report says how much
    drive = net.drive_forward | net.drive_backward
    assert 0 < report.on_defaults["maxspeed"]["share"] <= 1
    assert np.isclose(report.on_defaults["maxspeed"]["km"],
                      net.length_m[net.defaulted["maxspeed"] & drive].sum() / 1000, atol=0.01)


def test_oakland_counts_and_us_defaults(private_cache):
    path = shared_file("west_oakland.osm")
    net = load_network(path)
    r = net.report
    assert (r.ways_total, r.ways_kept) == (66, 31)
    assert r.ways_ignored == {"building": 23, "landuse": 6, "amenity": 2, "leisure": 2, "railway": 2}
    # California urban default 25 mph on the streets without maxspeed (the whole extract); 15 mph
    # on service roads and alleys
    drive = (net.drive_forward | net.drive_backward) & net.defaulted["maxspeed"]
    streets = drive & np.isin(net.highway, ["secondary", "residential", "unclassified"])
    service = drive & (np.asarray(net.highway) == "service")
    assert streets.sum() > 20 and np.allclose(net.speed_limit_mps[streets], 40.2 / 3.6)
    assert service.any() and np.allclose(net.speed_limit_mps[service], 15 * 1.609344 / 3.6, atol=0.01)
    # sidewalks: 1.5 m a side where untagged; 7th Street is tagged sidewalk=right: one side
    seventh = [k for k, n in enumerate(net.link_name) if n == "7th Street" and net.link_tags[k].get("sidewalk") == "right"]
    assert seventh and np.allclose(net.width_m[seventh], 1.5)
    assert np.isclose(net.width_m[[k for k, n in enumerate(net.link_name) if n == "Goss Street"]], 3.0).all()
    # named places off the links are kept for places by name
    assert any(p["name"] == "Oakland Main Post Office" for p in net.pois)


def test_the_scenario_overrides_the_profile(private_cache):
    base = load_network(OAKLAND)
    other = load_network(OAKLAND, defaults={"profile": "DE", "sidewalk_width_m": 2.0,
                                            "maxspeed_kph": {"residential": 30}})
    res = [k for k, h in enumerate(other.highway) if h == "residential" and other.defaulted["maxspeed"][k]]
    assert res and np.allclose(other.speed_limit_mps[res], 30 / 3.6)
    assert other.report.profile == "DE" and other.report.profile_picked_by == "scenario"
    assert other.report.overridden == ("maxspeed_kph", "sidewalk_width_m")
    assert base.report.profile == "US-CA"
    assert other.width_m.sum() > base.width_m.sum()


def test_profile_values_and_zone_speeds():
    de = resolve_defaults({"profile": "DE"})
    assert parse_speed_mps("DE:urban", de) == pytest.approx(50 / 3.6)
    assert parse_speed_mps("walk", de) == pytest.approx(7 / 3.6)
    assert parse_speed_mps("30 mph") == pytest.approx(13.41, abs=0.01)
    assert resolve_defaults(None, 31.23, 121.48).profile == "CN"
    assert resolve_defaults(None, 37.8, -122.3).profile == "US-CA"
    assert resolve_defaults(None, -33.9, 18.4).profile == "generic"
    with pytest.raises(ValueError, match="map_defaults.profile: 'XX'"):
        resolve_defaults({"profile": "XX"})


def test_way_classification():
    assert way_keep_reason({"highway": "residential"}) == (True, "highway=residential")
    assert way_keep_reason({"railway": "platform"}) == (True, "platform")
    assert way_keep_reason({"building": "yes", "name": "Post Office"}) == (False, "building")
    assert way_keep_reason({"highway": "proposed"}) == (False, "highway=proposed")
    assert way_keep_reason({}) == (False, "untagged")
    assert way_keep_reason({"area": "yes"}) == (False, "area")


def test_map_without_movement_ways_is_a_clean_error(tmp_path, private_cache):
    path = tmp_path / "buildings.osm"
    path.write_text('<?xml version="1.0"?><osm version="0.6"><node id="1" lat="1" lon="1"/>'
                    '<node id="2" lat="1.001" lon="1"/><way id="5"><nd ref="1"/><nd ref="2"/>'
                    '<tag k="building" v="yes"/></way></osm>')
    with pytest.raises(MapError, match="no ways that carry people or vehicles.*1 building"):
        load_network(path)


def test_disk_cache_is_keyed_by_content_and_settings(tmp_path, private_cache, monkeypatch):
    from sim.core import osm

    copy = tmp_path / "district.osm"
    copy.write_bytes(OAKLAND.read_bytes())
    first = load_network(copy)
    entries = list((private_cache / "maps").glob("*.pkl"))
    assert len(entries) == 1 and not list((private_cache / "maps").glob("*.tmp"))
    monkeypatch.setattr(osm, "_NETWORK_CACHE", {})
    calls = []
    monkeypatch.setattr(osm, "read_osm_xml", lambda *a, **k: calls.append(a) or (_ for _ in ()).throw(AssertionError))
    second = load_network(copy)                       # from disk: no parsing
    assert not calls and np.array_equal(first.length_m, second.length_m) and second.report == first.report
    monkeypatch.undo()
    monkeypatch.setenv("CITYTWIN_CACHE_DIR", str(private_cache))
    monkeypatch.setattr(osm, "_NETWORK_CACHE", {})
    load_network(copy, defaults={"profile": "generic"})            # other settings: another entry
    copy.write_bytes(OAKLAND.read_bytes().replace(b"Goss Street", b"Goss Road"))   # other content
    changed = load_network(copy)
    assert "Goss Road" in changed.link_name
    assert len(list((private_cache / "maps").glob("*.pkl"))) == 3
    # a damaged entry is ignored and rebuilt
    for entry in (private_cache / "maps").glob("*.pkl"):
        entry.write_bytes(b"not a pickle")
    monkeypatch.setattr(osm, "_NETWORK_CACHE", {})
    assert load_network(copy).n_links == changed.n_links


def test_second_load_of_the_shanghai_extract_is_fast(private_cache):
    """Issue 13: a second run of the Shanghai extract starts in about a second (the disk cache)."""
    from sim.core import osm

    path = shared_file("shanghai_center.osm")
    load_network(path)
    osm._NETWORK_CACHE.clear()
    t0 = time.perf_counter()
    net = load_network(path)
    assert time.perf_counter() - t0 < 1.5
    assert net.n_links > 5000 and net.report.profile == "CN"


def test_cache_off(tmp_path, monkeypatch):
    monkeypatch.setenv("CITYTWIN_CACHE_DIR", "off")
    assert cache.cache_dir() is None and cache.cache_put("maps", "k", 1) is None and cache.cache_get("maps", "k") is None
    monkeypatch.setenv("CITYTWIN_CACHE_DIR", str(tmp_path))
    assert cache.cache_put("maps", "k", {"a": 1}) is not None and cache.cache_get("maps", "k") == {"a": 1}
    assert not [p for p in os.listdir(tmp_path / "maps") if p.endswith(".tmp")]


def test_every_scenario_kind_accepts_map_defaults():
    from sim.core.errors import ScenarioError
    from sim.kinds import load_scenario, scenario_from_dict
    from sim.core.schema import read_scenario_data

    for name in ("bund_lightshow_rain.toml", "typhoon_tunnel_convoy.toml", "bund_bikes_dry.toml"):
        data = read_scenario_data(ROOT / "scenarios" / name)
        data["map_defaults"] = {"profile": "CN", "sidewalk_width_m": 2.5, "max_snap_m": 80}
        scenario = scenario_from_dict(data, name)
        assert scenario.map_defaults.profile == "CN" and scenario.map_defaults.max_snap_m == 80
    data["map_defaults"] = {"profile": "Mars", "sidewalk_width_m": -1}
    with pytest.raises(ScenarioError) as err:
        scenario_from_dict(data, "x.toml")
    assert "map_defaults.profile" in str(err.value) and "map_defaults.sidewalk_width_m" in str(err.value)
    assert load_scenario(ROOT / "scenarios" / "oakland_block_party.toml").map_defaults.profile == "US-CA"
