"""Map loading: the shipped Bund map, synthetic maps, the real extract, and clear errors."""

import numpy as np
import pytest

from sim.core.errors import MapError
from sim.core.osm import load_network, parse_speed_mps, parse_width_m
from sim.core.walk import build_walk_graph
from tests.conftest import ROOT


def test_parse_tags():
    assert parse_width_m("12") == 12.0 and parse_width_m("3,5 m") == 3.5 and parse_width_m("x") is None
    assert parse_speed_mps("50") == pytest.approx(50 / 3.6) and parse_speed_mps("30 mph") == pytest.approx(13.41, abs=0.01)


def test_bund_map_arrays():
    net = load_network(ROOT / "maps" / "bund.osm")
    walk = build_walk_graph(net, max_cell_m=100)
    promenade = walk.cells_of_links(net.links_where("zone", "promenade"))
    # The map generator draws about 50,000 m2 of promenade (maps/README.md).
    assert 48_000 < walk.cell_area_m2[promenade].sum() < 52_000
    assert walk.cell_length_m.max() <= 100 + 1e-6
    assert net.steps.sum() >= 8 and net.covered.sum() >= 3 and net.tunnel.sum() >= 3
    assert len([t for t in net.node_tags if t.get("railway") == "subway_entrance"]) >= 5
    # CSR adjacency: every directed edge appears once, leaving its own from-node.
    for n in range(walk.n_nodes):
        edges = walk.out_edges[walk.out_start[n]:walk.out_start[n + 1]]
        assert (walk.edge_from[edges] == n).all()
    assert np.array_equal(np.sort(walk.out_edges), np.arange(walk.n_edges))
    # The Bund road is drivable, not walkable (sidewalk=separate, foot=no).
    road = [i for i, name in enumerate(net.link_name) if name == "Zhongshan East 1st Road"]
    assert road and not net.walk[road].any() and net.drive_forward[road].all()
    assert net.lanes_forward[road].max() == 3


def test_find_node_errors_name_the_field():
    net = load_network(ROOT / "maps" / "bund.osm")
    assert net.find_node("East Nanjing Road Station Exit 1") >= 0
    with pytest.raises(MapError, match=r"sources\.0\.nodes.*'Exit 99'"):
        net.find_node("Exit 99", "sources.0.nodes")


def test_missing_and_bad_map_files(tmp_path):
    with pytest.raises(MapError, match="does not exist"):
        load_network(tmp_path / "nope.osm")
    bad = tmp_path / "bad.osm"
    bad.write_text("not xml at all")
    with pytest.raises(MapError, match="could not be read"):
        load_network(bad)


def test_real_shanghai_extract_loads(shared_osm):
    net = load_network(shared_osm)
    assert net.n_links > 5000 and net.walk.sum() > 5000
    tunnels = {net.link_name[i] for i in np.flatnonzero(net.tunnel)}
    assert any("大连路隧道" in name for name in tunnels)
    walk = build_walk_graph(net)
    assert walk.n_cells >= net.walk.sum()



def _swapping_heap_next_hops(seed_nodes, seed_cost_s, seed_next, edge_cost_s, edge_to, out_start, out_edges):
    """Plain-Python Dijkstra with the textbook swapping binary heap (the reference for the kernel's)."""
    n = out_start.size - 1
    dist, nxt = [float("inf")] * n, [-1] * n
    heap: list[tuple[float, int]] = []

    def push(key, node):
        heap.append((key, node))
        i = len(heap) - 1
        while i > 0 and not heap[(i - 1) >> 1][0] <= heap[i][0]:
            heap[(i - 1) >> 1], heap[i] = heap[i], heap[(i - 1) >> 1]
            i = (i - 1) >> 1

    def pop():
        top = heap[0]
        last = heap.pop()
        if heap:
            heap[0] = last
            i = 0
            while 2 * i + 1 < len(heap):
                child = 2 * i + 1
                if child + 1 < len(heap) and heap[child + 1][0] < heap[child][0]:
                    child += 1
                if heap[i][0] <= heap[child][0]:
                    break
                heap[i], heap[child] = heap[child], heap[i]
                i = child
        return top

    for node, cost, first in zip(seed_nodes, seed_cost_s, seed_next):
        if cost < dist[node]:
            dist[node], nxt[node] = float(cost), int(first)
            push(float(cost), int(node))
    while heap:
        key, m = pop()
        if key > dist[m]:
            continue
        for e in out_edges[out_start[m]:out_start[m + 1]]:
            into_m, other = int(e) ^ 1, int(edge_to[e])
            candidate = key + float(edge_cost_s[into_m])
            if candidate < dist[other]:
                dist[other], nxt[other] = candidate, into_m
                push(candidate, other)
    return dist, nxt


@pytest.mark.parametrize("whole_seconds", [False, True])
def test_next_hop_tables_agree_with_a_plain_dijkstra_bit_for_bit(whole_seconds):
    """Kernel vs plain Python on the Bund's walk graph: every distance and every next hop equal, ties
    included (costs rounded to whole seconds make many)."""
    from sim.core.routing import fill_next_hop_rows, fill_next_hops
    from sim.crowd.compile import _view_seeds, compile_crowd, free_flow_costs
    from sim.kinds import load_scenario
    arrays = compile_crowd(load_scenario(ROOT / "scenarios" / "bund_lightshow_rain.toml"))
    walk = arrays.walk
    cost = free_flow_costs(arrays) * np.random.default_rng(3).uniform(1.0, 3.0, arrays.edge_cell.size)
    if whole_seconds:
        cost = np.round(cost)
    start, nodes, seed_cost, seed_next = _view_seeds(arrays)
    rows = range(0, arrays.view_cell.size, 23)
    dist = np.empty((arrays.view_cell.size, walk.n_nodes))
    nxt = np.empty((arrays.view_cell.size, walk.n_nodes), dtype=np.int32)
    fill_next_hops(start, nodes, seed_cost, seed_next, cost, walk.edge_to, walk.out_start, walk.out_edges, dist, nxt)
    # The rows split between two threads (162 rows, two Numba threads on CI) or not: the same tables.
    one_dist, one_next = np.empty_like(dist), np.empty_like(nxt)
    fill_next_hop_rows(0, dist.shape[0], start, nodes, seed_cost, seed_next, cost, walk.edge_to, walk.out_start,
                       walk.out_edges, one_dist, one_next)
    assert np.array_equal(dist, one_dist) and np.array_equal(nxt, one_next)
    for g in rows:
        lo, hi = start[g], start[g + 1]
        ref_dist, ref_next = _swapping_heap_next_hops(nodes[lo:hi], seed_cost[lo:hi], seed_next[lo:hi], cost,
                                                      walk.edge_to, walk.out_start, walk.out_edges)
        assert dist[g].tolist() == ref_dist and nxt[g].tolist() == ref_next
