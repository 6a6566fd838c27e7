"""The shipped Huangpu crossing map (maps/huangpu_crossing.osm): tube lengths against the published
figures (docs/sources.md, "Typhoon bike crossings"), tube permissions, drivable links between the
banks, no bike route across the river, and a byte-identical generator."""

from __future__ import annotations

import subprocess
import sys

import networkx as nx
import numpy as np
import pytest

from sim.core.osm import load_network
from tests.conftest import ROOT

MAP = ROOT / "maps" / "huangpu_crossing.osm"
BUILDER = ROOT / "maps" / "build_crossing_map.py"
RIVER_LON = 121.4930  # the river (not drawn) runs north-south across this longitude on the map
# Published tube lengths (m), docs/sources.md: Renmin Rd two tubes of 2,470 m; Yan'an East Rd 2,261 m and
# 2,207 m (assigned to the westbound north tube and the eastbound south tube, see maps/README.md).
PUBLISHED_M = {
    ("Renmin Road Tunnel", "eastbound"): 2470.0,
    ("Renmin Road Tunnel", "westbound"): 2470.0,
    ("Yan'an East Road Tunnel", "eastbound"): 2207.0,
    ("Yan'an East Road Tunnel", "westbound"): 2261.0,
}
PUXI_PLACES = ["Puxi Bund offices", "Puxi Yan'an Road homes", "Puxi Jinling Road homes",
               "Puxi Renmin Road homes"]
PUDONG_PLACES = ["Lujiazui offices", "Century Avenue homes", "Dongchang Road homes", "Pudong Avenue homes"]


@pytest.fixture(scope="module")
def net():
    return load_network(MAP)


def tubes(net) -> dict[tuple[str, str], list[int]]:
    """Tunnel links grouped into tubes: (tunnel name, eastbound|westbound) -> links, portal to portal."""
    graph = nx.DiGraph()
    for link in np.flatnonzero(net.tunnel):
        graph.add_edge(int(net.link_u[link]), int(net.link_v[link]), link=int(link))
    out = {}
    for nodes in nx.weakly_connected_components(graph):
        chain = graph.subgraph(nodes)
        (start,) = [n for n in chain if chain.in_degree(n) == 0]
        (end,) = [n for n in chain if chain.out_degree(n) == 0]
        path = nx.shortest_path(chain, start, end)
        links = [chain.edges[a, b]["link"] for a, b in zip(path, path[1:])]
        assert len(links) == chain.number_of_edges(), "a tube is not a single portal-to-portal chain"
        names = {net.link_name[k] for k in links}
        assert len(names) == 1, f"a tube's links carry several names: {names!r}"
        direction = "eastbound" if net.node_lon[start] < net.node_lon[end] else "westbound"
        key = (names.pop(), direction)
        assert key not in out, f"two tubes for {key!r}"
        out[key] = links
    return out


def test_tubes_match_published_lengths(net):
    found = tubes(net)
    assert set(found) == set(PUBLISHED_M)
    for key, links in found.items():
        assert net.length_m[links].sum() == pytest.approx(PUBLISHED_M[key], rel=0.02), key


def test_tubes_are_one_way_two_lane_drive_only(net):
    for (tunnel, direction), links in tubes(net).items():
        assert net.drive_forward[links].all() and not net.drive_backward[links].any(), (tunnel, direction)
        assert (net.lanes_forward[links] == 2).all() and (net.lanes_backward[links] == 0).all()
        assert not net.bike[links].any() and not net.walk[links].any()
        assert np.allclose(net.speed_limit_mps[links], 40 / 3.6)
        assert all(net.link_tags[k].get("name:en", tunnel) == tunnel for k in links)
        # Portal nodes carry entrance=tunnel_portal and say which end of which tube they are.
        first, last = int(net.link_u[links[0]]), int(net.link_v[links[-1]])
        entry_bank, exit_bank = ("west", "east") if direction == "eastbound" else ("east", "west")
        for node, bank, end in ((first, entry_bank, "in"), (last, exit_bank, "out")):
            assert net.node_tags[node] == {"entrance": "tunnel_portal",
                                           "name": f"{tunnel} {bank} portal ({direction} {end})"}
    assert sum(tags.get("entrance") == "tunnel_portal" for tags in net.node_tags) == 8


def test_places_are_on_their_banks_and_signals_survive_simplification(net):
    named = net.named_nodes()
    assert all(net.node_lon[named[p]] < RIVER_LON for p in PUXI_PLACES)
    assert all(net.node_lon[named[p]] > RIVER_LON for p in PUDONG_PLACES)
    # Every signalised junction drawn keeps its node through the loader's simplification.
    signals = [n for n, tags in enumerate(net.node_tags) if tags.get("highway") == "traffic_signals"]
    assert len(signals) == MAP.read_text(encoding="utf-8").count('v="traffic_signals"') >= 10


def test_every_place_reaches_every_place_across_the_river_by_car(net):
    graph = nx.DiGraph()
    graph.add_nodes_from(range(net.n_nodes))
    for link in range(net.n_links):
        u, v = int(net.link_u[link]), int(net.link_v[link])
        if net.drive_forward[link]:
            graph.add_edge(u, v)
        if net.drive_backward[link]:
            graph.add_edge(v, u)
    named = net.named_nodes()
    for a in PUXI_PLACES:
        for b in PUDONG_PLACES:
            assert nx.has_path(graph, named[a], named[b]), f"no drive from {a!r} to {b!r}"
            assert nx.has_path(graph, named[b], named[a]), f"no drive from {b!r} to {a!r}"


def test_bikes_cannot_cross_the_river(net):
    """Only the tunnels (bicycle=no) join the banks: no bridge, no ferry, no other way."""
    west = net.node_lon < RIVER_LON
    crossing = [k for k in range(net.n_links) if west[net.link_u[k]] != west[net.link_v[k]]]
    assert crossing and all(net.tunnel[crossing])
    graph = nx.Graph()
    graph.add_nodes_from(range(net.n_nodes))
    graph.add_edges_from((int(net.link_u[k]), int(net.link_v[k])) for k in np.flatnonzero(net.bike))
    for component in nx.connected_components(graph):
        assert len({bool(west[n]) for n in component}) == 1
    named = net.named_nodes()
    assert all(net.bike[k] for k in range(net.n_links) if not net.tunnel[k]), "surface streets allow bikes"
    assert not any(nx.has_path(graph, named[a], named[b]) for a in PUXI_PLACES for b in PUDONG_PLACES)


def test_generator_is_byte_identical(tmp_path):
    out = tmp_path / "crossing.osm"
    subprocess.run([sys.executable, str(BUILDER), str(out)], check=True, capture_output=True, cwd=tmp_path)
    assert out.read_bytes() == MAP.read_bytes()
