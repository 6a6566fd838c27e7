"""What an operations centre and an officer read from a crowd run: ``places.geojson`` (every place
with its KPIs, WGS84), and plots with clock time, gate closings, separate panels and a scale bar."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sim.core.plotting import plt
from sim.core.results import write_results
from sim.crowd.plots import cap_series_figure, scale_bar, time_axis
from sim.kinds import build_run, load_scenario
from sim.study import run_crowd
from tests.conftest import corridor_scenario, to_toml


@pytest.fixture(scope="module")
def capped(tmp_path_factory):
    """A corridor with a 1 m neck into a plaza capped at 400: the gates close and reopen."""
    folder = tmp_path_factory.mktemp("officer")
    data = corridor_scenario(folder, rate_per_min=200, duration_s=600,
                             bottleneck={"highway": "footway", "width": "1.0", "zone": "neck"})
    data["zones"]["neck"] = {"match": "zone=neck"}
    data["zones"]["plaza"]["cap"] = 400
    path = folder / "corridor.toml"
    path.write_text(to_toml(data))
    scenario = load_scenario(path)
    model = build_run(scenario, seed=5)
    model.run()
    out = write_results(model, folder / "out", plots=True)
    return scenario, model, out


def test_places_geojson_holds_every_place_with_its_kpis(capped):
    scenario, model, out = capped
    summary = json.loads((out / "summary.json").read_text())
    data = json.loads((out / "places.geojson").read_text())
    places = model.engine.arrays.places
    assert data["type"] == "FeatureCollection" and data["seed"] == 5 and data["criterion"] == summary["safety"]["criterion"]
    assert [f["properties"]["name"] for f in data["features"]] == list(places.names) == list(summary["places"])
    net = model.engine.arrays.walk.network
    lon = (np.nanmin(net.node_lon), np.nanmax(net.node_lon))
    lat = (np.nanmin(net.node_lat), np.nanmax(net.node_lat))
    for k, feature in enumerate(data["features"]):
        props = feature["properties"]
        for key, value in summary["places"][props["name"]].items():
            assert props[key] == value
        assert props["breaks_criterion"] == (props["name"] in summary["safety"]["failing_places"])
        assert props["worst_rank"] == (summary["worst_places"].index(props["name"]) + 1
                                       if props["name"] in summary["worst_places"] else None)
        lines = feature["geometry"]["coordinates"]
        assert feature["geometry"]["type"] == "MultiLineString"
        assert len(lines) == int((places.cell_place == k).sum())
        points = np.array([pt for line in lines for pt in line])
        # WGS84 longitude, latitude: within the map's own node coordinates (1e-6 deg of rounding)
        assert (points[:, 0] >= lon[0] - 1e-6).all() and (points[:, 0] <= lon[1] + 1e-6).all()
        assert (points[:, 1] >= lat[0] - 1e-6).all() and (points[:, 1] <= lat[1] + 1e-6).all()
    # the corridor's cells run from x = 0 to 400 m: its length comes back from the coordinates (within 1%)
    corridor = [f for f in data["features"] if f["properties"]["name"].startswith("footway at Entry West")][0]
    (x0, y0), (x1, y1) = corridor["geometry"]["coordinates"][0][0], corridor["geometry"]["coordinates"][-1][-1]
    metres = np.hypot((x1 - x0) * 111320 * np.cos(np.radians(y0)), (y1 - y0) * 110574)
    assert metres == pytest.approx(sum(model.engine.arrays.walk.cell_length_m[places.cell_place == 0]), rel=0.01)


def test_gate_closings_are_recorded_when_they_happen(capped):
    _, model, _ = capped
    events = [e for e in model.gate_events if e[1] == "plaza"]
    assert events and events[0][2] is False                        # the first change closes the gates
    rec, dt = model.recorder, model.recorder.dt_s
    z = model.engine.arrays.zone_names.index("plaza")
    for t_s, _, is_open in events:
        step = int(round(t_s / dt)) - 1                            # the state the gate acted on
        if not is_open:
            assert rec.occupancy[step, z] >= 400
        else:
            assert rec.occupancy[step, z] <= model.gates["plaza"].reopen_at
    assert all(a[0] < b[0] and a[2] != b[2] for a, b in zip(events, events[1:]))


def test_time_axis_in_clock_time_and_scale_bar():
    fig, ax = plt.subplots()
    time_axis(ax, 180, "18:30")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["18:30", "19:00", "19:30", "20:00", "20:30", "21:00",
                                                          "21:30"]
    time_axis(ax, 30, None)
    assert ax.get_xticklabels()[1].get_text() == "5" and "minutes from the start" in ax.get_xlabel()
    ax.set_xlim(0, 1800)
    ax.set_ylim(0, 1000)
    scale_bar(ax)
    texts = [t.get_text() for artist in ax.artists for t in artist.findobj(plt.Text)]
    assert "200 m" in texts                                        # about a fifth of 1,800 m, rounded
    plt.close(fig)


def test_compared_caps_share_one_scale_per_panel_and_queues_have_their_own(capped):
    scenario, _, _ = capped
    results = [run_crowd(scenario.model_copy(update={"zones": {**scenario.zones, "plaza": scenario.zones["plaza"]
                                                               .model_copy(update={"cap": cap})}}),
                         seed=5, label=f"cap {cap}") for cap in (300, 400)]
    fig = cap_series_figure(results, "plaza")
    people, queue, density = fig.axes[:3]
    assert people.get_ylabel() == "people on plaza" and queue.get_ylabel() == "queueing at its gates"
    z = results[0].zone_names.index("plaza")
    top_people = max(float(r.occupancy[:, z].max()) for r in results)
    top_queue = max(float(r.gate_queue[:, z].max()) for r in results)
    assert people.get_ylim()[1] >= top_people and queue.get_ylim()[1] >= top_queue
    assert queue.get_ylim()[1] < people.get_ylim()[1]              # the queue is not drawn on the people axis
    assert len(people.get_lines()) >= 2 and len(queue.get_lines()) == 2
    assert results[0].places_geojson and results[0].files()["places.geojson"] == results[0].places_geojson
    plt.close(fig)
