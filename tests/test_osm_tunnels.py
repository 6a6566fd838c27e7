"""Tunnels as they are mapped, on the real Shanghai extract (../shared/osm; skipped without it):
one tube per direction, ramps as branches, no edge in two tubes; a convoy plan through the real
Renmin Road Tunnel runs with its safety invariants checked every step."""

from __future__ import annotations

import numpy as np
import pytest

from sim.core.osm import load_network
from sim.core.roads import build_road_graph
from sim.core.tunnels import find_tubes
from sim.kinds import scenario_from_dict
from sim.traffic.model import PlanComparison

TUNNELS = ["Renmin Road Tunnel", "Bund Tunnel", "Xinjian Road Tunnel", "Dapu Road Tunnel",
           "Lujiazui Ring Road Tunnel", "Dalian Road Tunnel"]


@pytest.fixture(scope="module")
def road(request):
    from tests.conftest import SHARED_OSM
    if not SHARED_OSM.exists():
        pytest.skip(f"real OSM extract not found at {SHARED_OSM} (../shared is absent on this machine)")
    return build_road_graph(load_network(SHARED_OSM))


@pytest.mark.parametrize("name", TUNNELS)
def test_two_tubes_that_share_no_edge(road, name):
    tubes = find_tubes(road, name, "test")
    assert len(tubes) == 2, [(t.length_m, len(t.edges)) for t in tubes]
    a, b = (set(t.all_edges.tolist()) for t in tubes)
    assert not a & b
    for t in tubes:
        # the main line is a chain from the portal to the exit
        assert all(road.edge_to[x] == road.edge_from[y] for x, y in zip(t.edges[:-1], t.edges[1:]))
        assert t.entry_node == road.edge_from[t.edges[0]] and t.exit_node == road.edge_to[t.edges[-1]]
        assert 300 < t.length_m < 4000


def test_renmin_road_tunnel_ramps_are_branches(road):
    """The real tunnel: an entry ramp merges into the eastbound tube and ramps leave both (the old
    finder returned three 'tubes' sharing four edges)."""
    tubes = find_tubes(road, "Renmin Road Tunnel", "test")
    assert sum(len(t.entrances) for t in tubes) == 1
    assert all(len(t.exits) == 1 for t in tubes)
    assert all(1900 < t.length_m < 2600 for t in tubes)          # published: two tubes of 2,470 m


def _upstream(road, node, hops):
    for _ in range(hops):
        ins = [e for e in road.in_edges[road.in_start[node]:road.in_start[node + 1]]
               if road.bike_lane[e] and road.motor_lanes[e] > 0 and not road.tunnel[e]]
        if not ins:
            break
        node = int(road.edge_from[ins[0]])
    return node


def _downstream(road, node, hops):
    for _ in range(hops):
        outs = [e for e in road.out_edges[road.out_start[node]:road.out_start[node + 1]]
                if road.bike_lane[e] and road.motor_lanes[e] > 0 and not road.tunnel[e]]
        if not outs:
            break
        node = int(road.edge_to[outs[0]])
    return node


def test_convoys_through_the_real_renmin_road_tunnel_keep_every_invariant(road):
    from tests.conftest import SHARED_OSM

    net = road.network
    demand = []
    for t in find_tubes(road, "Renmin Road Tunnel", "test"):
        origin = int(net.node_osmid[_upstream(road, t.entry_node, 3)])
        dest = int(net.node_osmid[_downstream(road, t.exit_node, 3)])
        demand += [{"name": f"bikes {t.index}", "classes": {"ebike": 1.0}, "origins": [origin],
                    "destinations": [dest], "profile": [[0, 240], [30, 240]]},
                   {"name": f"cars {t.index}", "classes": {"car": 1.0}, "origins": [origin],
                    "destinations": [dest], "profile": [[0, 400], [30, 400]]}]
    data = {"name": "renmin", "kind": "traffic", "map": str(SHARED_OSM),
            "simulation": {"duration_s": 2100, "dt_s": 0.5, "seed": 5},
            "tunnel": {"name": "Renmin Road Tunnel", "convoy_lanes": 2},
            "demand": demand,
            "plans": {"p": {"control": "fixed", "motor_s": 300, "convoy_s": 720, "clearance_s": 30}}}
    study = PlanComparison(scenario_from_dict(data))           # invariants are checked in every run
    summary = study.run()                                      # an InvariantError would fail the test
    plan = summary["plans"]["p"]
    assert summary["vehicles_conserved"] and plan["violations"] == 0 and plan["invariants"]["steps"] == 4200
    assert plan["convoys"] >= 2
    model = study.models["p"]
    assert (model.engine.tube_exits[:, 1] > 0).all() and (model.engine.tube_exits[:, 0] > 0).all()
    assert np.isfinite(plan["invariants"]["seconds"])
