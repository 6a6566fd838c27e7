"""Places by name on a real extract (the shipped maps/west_oakland.osm, ODbL): junctions, points of
interest and coordinates snapped to the nearest usable node with the snap reported, ambiguous names
listing their candidates, OSM ids removed by simplification, areas."""

from __future__ import annotations

import numpy as np
import pytest

from sim.core.errors import MapError
from sim.core.osm import load_network
from sim.core.places import links_in_area, nodes_in_area, resolve_place
from tests.conftest import ROOT

OAKLAND = ROOT / "maps" / "west_oakland.osm"


@pytest.fixture(scope="module")
def net():
    return load_network(OAKLAND)


def test_junction_street_and_osm_id(net):
    p = resolve_place(net, "7th Street & Wood Street", "x")
    assert p.how == "junction" and p.snap_m == 0 and int(net.node_osmid[p.node]) == 53131081
    assert resolve_place(net, "wood street & 7TH STREET", "x").node == p.node      # any order, any case
    assert resolve_place(net, 53131081, "x").node == p.node
    assert resolve_place(net, "node/53131081", "x").node == p.node
    street = resolve_place(net, "Campbell Street", "x")
    assert street.how == "street" and "way/6340506" in street.label


def test_points_of_interest_are_snapped_and_the_snap_reported(net):
    p = resolve_place(net, "Oakland Main Post Office", "x")            # a building (two outlines: one place)
    assert p.how == "POI" and 5 < p.snap_m < 150 and "way/" in p.label
    # a named node on no way: a node of the network without links (as OSM has it); a mode's
    # usable nodes snap it to the nearest street, and say how far
    walk = net.node_mask("walk")
    exact = resolve_place(net, "Revolution Cafe", "x")
    assert exact.snap_m == 0 and not walk[exact.node]
    cafe = resolve_place(net, "Revolution Cafe", "x", usable=walk)
    assert walk[cafe.node] and cafe.snap_m > 0
    assert "snapped" in cafe.describe(net)
    with pytest.raises(MapError, match=r"demand\.0\.origins\.0: 'Revolution Cafe' .* lies \d+ m from the nearest "
                                       r"usable node .* more than max_snap_m = 5 m"):
        resolve_place(net, "Revolution Cafe", "demand.0.origins.0", usable=walk, max_snap_m=5)


def test_coordinates_and_ids_removed_by_simplification(net):
    p = resolve_place(net, "37.8075, -122.3005", "x")
    assert p.how == "coordinates" and p.snap_m < 50
    # node 53030244 lies on a street between junctions: simplification merged it into a link
    assert 53030244 not in set(net.node_osmid.tolist())
    q = resolve_place(net, 53030244, "x")
    assert q.how == "OSM node id" and q.snap_m > 0
    with pytest.raises(MapError, match="OSM node id 999 is not on map"):
        resolve_place(net, 999, "x")


def test_ambiguous_names_list_their_candidates(net):
    with pytest.raises(MapError) as err:
        resolve_place(net, "7th Street", "sources.0.nodes.0")
    text = str(err.value)
    assert "sources.0.nodes.0: '7th Street' names 2 places" in text
    assert text.count("street 7th Street") == 2 and "'way/ID'" in text and "37.80" in text
    with pytest.raises(MapError, match="'West Oakland' names 2 places"):
        resolve_place(net, "West Oakland", "x")                        # two BART stop positions


def test_unknown_names_suggest_close_ones(net):
    with pytest.raises(MapError, match="no node named 'Wood Stret'.*did you mean 'Wood Street'"):
        resolve_place(net, "Wood Stret", "x")
    with pytest.raises(MapError, match="do not meet"):
        resolve_place(net, "Goss Street & Campbell Street", "x")


def test_usable_nodes_by_mode(net):
    walk = net.node_mask("walk")
    p = resolve_place(net, "Oakland Main Post Office", "x", usable=walk)
    assert walk[p.node]


def test_areas(net):
    box = nodes_in_area(net, {"bbox": [37.806, -122.303, 37.808, -122.300]})
    assert box.size > 5
    assert ((net.node_lat[box] >= 37.806) & (net.node_lat[box] <= 37.808)).all()
    poly = nodes_in_area(net, {"polygon": [[37.806, -122.303], [37.808, -122.303], [37.808, -122.300],
                                           [37.806, -122.300]]})
    assert set(poly.tolist()) == set(box.tolist())
    near = nodes_in_area(net, {"near": "7th Street & Wood Street", "radius_m": 150})
    assert resolve_place(net, "7th Street & Wood Street", "x").node in near
    links = links_in_area(net, {"bbox": [37.806, -122.303, 37.808, -122.300]})
    assert net.walk[links].all()
    with pytest.raises(MapError, match="no usable node"):
        nodes_in_area(net, {"bbox": [1.0, 1.0, 2.0, 2.0]}, "demand.0.origins")


def test_find_node_keeps_exact_names_first():
    bund = load_network(ROOT / "maps" / "bund.osm")
    assert bund.find_node("East Nanjing Road Station Exit 1") >= 0
    node = bund.find_node("East Nanjing Road Station Exit 1")
    assert bund.node_tags[node]["name"] == "East Nanjing Road Station Exit 1"
    assert np.isfinite(bund.node_x_m[node])
