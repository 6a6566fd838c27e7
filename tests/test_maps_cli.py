"""`citytwin maps fetch` (offline, against a recorded Overpass answer), `citytwin maps inspect`, and
the acceptance runs of issue 13: a crowd run and a traffic run on a map the project did not draw
(the shipped maps/west_oakland.osm, ODbL), through the CLI, with places given by name."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from sim import cli
from sim.core import fetch
from sim.core.osm import load_network
from tests.conftest import ROOT

# An Overpass API answer in its own output format (OSM XML with Overpass's note and meta), made from
# the West Oakland extract: no network here.  ODbL, (c) OpenStreetMap contributors (maps/README.md).
RECORDED = ROOT / "tests" / "data" / "overpass_west_oakland.osm"


def test_maps_fetch_writes_osm_with_every_tag_the_loader_reads(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CITYTWIN_CACHE_DIR", str(tmp_path / "cache"))
    asked = []

    def recorded(url, query):
        asked.append((url, query))
        return RECORDED.read_bytes()

    args = cli.get_parser().parse_args(["maps", "fetch", "oakland", "--bbox", "37.80914", "37.80615", "-122.29825",
                                        "-122.30258", "--dir", str(tmp_path)])
    assert cli._cmd_maps_fetch(args, post=recorded) == 0
    (url, query), = asked
    assert url == fetch.OVERPASS_URL
    assert "[bbox:37.8061500,-122.3025800,37.8091400,-122.2982500]" in query
    for part in ('way["highway"]', 'way["railway"="platform"]', 'node["name"]', "(._;>;);", "out body;"):
        assert part in query                       # complete ways, every tag, named places
    target = tmp_path / "oakland.osm"
    assert target.read_bytes() == RECORDED.read_bytes() and not list(tmp_path.glob("*.graphml"))
    out = capsys.readouterr().out
    assert f"wrote {target}" in out and "31 roads and paths" in out
    net = load_network(target)
    tags = {k for t in net.link_tags for k in t}
    assert {"sidewalk", "cycleway", "lanes", "oneway", "name"} <= tags
    assert any(t.get("highway") == "traffic_signals" for t in net.node_tags)
    assert any(p["name"] == "Revolution Cafe" for p in net.pois)


def test_maps_fetch_help_says_osm_and_errors_are_clean(tmp_path, capsys):
    with pytest.raises(SystemExit):
        cli.main(["maps", "fetch", "--help"])
    assert "NAME.osm" in capsys.readouterr().out
    assert cli.main(["maps", "fetch", "x", "--bbox", "1", "2", "3", "4", "--dir", str(tmp_path)]) == 2
    assert "--bbox" in capsys.readouterr().err

    def refused(url, query):
        return b'<?xml version="1.0"?><osm><remark> runtime error: Query timed out </remark></osm>'

    args = cli.get_parser().parse_args(["maps", "fetch", "x", "--bbox", "2", "1", "4", "3", "--dir", str(tmp_path)])
    with pytest.raises(Exception, match="refused the query: runtime error"):
        cli._cmd_maps_fetch(args, post=refused)
    assert not (tmp_path / "x.osm").exists()


def test_maps_inspect_lists_places_parts_tunnels_and_defaults(capsys):
    assert cli.main(["maps", "inspect", str(ROOT / "maps" / "west_oakland.osm")]) == 0
    out = capsys.readouterr().out
    for text in ("23 building", "defaults profile: US-CA", "rests on defaults, speed limit", "'Campbell Street'",
                 "'Oakland Main Post Office'", "CONNECTED PARTS", "DEAD ENDS", "TUNNELS (0)", "'A & B'"
                 if False else "Street A & Street B"):
        assert text in out, text
    assert cli.main(["maps", "inspect", str(ROOT / "maps" / "huangpu_crossing.osm")]) == 0
    out = capsys.readouterr().out
    assert "'Renmin Road Tunnel': 2 tube(s)" in out and "bicycles not allowed" in out


def test_crowd_run_on_oakland_with_places_by_name(tmp_path, capsys):
    out = tmp_path / "party"
    assert cli.main(["run", str(ROOT / "scenarios" / "oakland_block_party.toml"), "--out", str(out),
                     "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["agents_conserved"] is True
    assert summary["agents_total"] > 1500 and summary["agents_exited"] == summary["agents_total"]
    # people left by the places named in the scenario (junctions and a building, resolved by name)
    net = load_network(ROOT / "maps" / "west_oakland.osm")
    named = {str(int(net.node_osmid[net.find_node(p, usable=net.node_mask("walk"))])) for p in
             ("8th Street & Campbell Street", "Willow Street & 8th Street", "7th Street & Wood Street",
              "Oakland Main Post Office")}
    assert len(summary["exited_by_node"]) >= 2 and set(summary["exited_by_node"]) <= named
    assert "seventh_street" in capsys.readouterr().out


def test_traffic_run_on_oakland_with_places_and_areas(tmp_path, capsys):
    out = tmp_path / "traffic"
    assert cli.main(["run", str(ROOT / "scenarios" / "oakland_evening_traffic.toml"), "--out", str(out),
                     "--quiet", "--set", "simulation.duration_s=1200"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["vehicles_conserved"] is True and summary["tunnel"] is None
    plan = summary["plans"]["traffic"]
    assert plan["modes"]["motor"]["arrived"] > 50 and plan["modes"]["bike"]["arrived"] > 0
    assert plan["modes"]["motor"]["delay_s_mean"] is not None and plan["modes"]["motor"]["travel_time_s_mean"] > 0
    assert plan["invariants"]["checked"] and plan["invariants"]["steps"] == 2400
    assert summary["map_defaults"]["profile"] == "US-CA"
    fields = {p["field"]: p for p in summary["places"]}
    assert fields["demand.1.destinations.0"]["how"] == "POI" and fields["demand.1.destinations.0"]["snap_m"] > 0
    assert fields["demand.0.origins"]["nodes"] > 3
    rows = list(csv.DictReader((out / "timeseries.csv").open()))
    assert len(rows) == 20 and rows[-1]["vehicles_on_network"] != "" and int(rows[-1]["arrived"]) > 50
    assert float(rows[-1]["mean_speed_kph_motor"]) > 0
    assert (out / "network.png").stat().st_size > 10_000 and not (out / "portal_queues.png").exists()
    printed = capsys.readouterr().out
    assert "travel min" in printed and "delay min" in printed and "safety invariants held" in printed
