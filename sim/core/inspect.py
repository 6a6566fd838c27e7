"""``citytwin maps inspect MAP``: what a scenario can refer to on a map, and what rests on defaults.

Prints the load report (ways kept and ignored, the defaults profile and the share of the network on
defaults), the named places (nodes, streets, points of interest) with how to write them in a
scenario, the connected parts of the walk and drive networks, dead ends, and every tunnel with its
tubes and ramps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .errors import ScenarioError
from .osm import Network, load_network
from .roads import build_road_graph

__all__ = ["inspect_map", "map_facts"]


def _components_undirected(n: int, u: np.ndarray, v: np.ndarray) -> list[np.ndarray]:
    import networkx as nx

    graph = nx.Graph()
    graph.add_edges_from(zip(u.tolist(), v.tolist()))
    return sorted((np.asarray(sorted(c)) for c in nx.connected_components(graph)), key=len, reverse=True)


def map_facts(net: Network) -> dict[str, Any]:
    """The facts :func:`inspect_map` prints, as data (also for tests)."""
    import networkx as nx

    road = build_road_graph(net)
    walk_parts = _components_undirected(net.n_nodes, net.link_u[net.walk], net.link_v[net.walk])
    drive = road.motor_lanes > 0
    digraph = nx.DiGraph()
    digraph.add_edges_from(zip(road.edge_from[drive].tolist(), road.edge_to[drive].tolist()))
    drive_parts = sorted((sorted(c) for c in nx.strongly_connected_components(digraph)), key=len, reverse=True)
    degree = np.bincount(np.concatenate([net.link_u, net.link_v]), minlength=net.n_nodes)
    dead_ends = np.flatnonzero(degree == 1)
    streets: dict[str, float] = {}
    for k, name in enumerate(net.link_name):
        if name:
            streets[name] = streets.get(name, 0.0) + float(net.length_m[k])
    named_nodes = [(i, t.get("name") or t.get("ref")) for i, t in enumerate(net.node_tags)
                   if t.get("name") or t.get("ref")]
    tunnels = {}
    from .tunnels import find_tubes, tunnel_names

    for name in tunnel_names(road):
        try:
            tunnels[name] = find_tubes(road, name, "maps inspect")
        except ScenarioError as exc:
            tunnels[name] = str(exc)
    return {"road": road, "walk_parts": walk_parts, "drive_parts": drive_parts, "dead_ends": dead_ends,
            "streets": streets, "named_nodes": named_nodes, "tunnels": tunnels}


def inspect_map(path: str | Path, defaults: Any = None, limit: int = 40) -> str:
    """The text of ``citytwin maps inspect``; ``limit`` caps each list."""
    net = load_network(path, defaults=defaults)
    facts = map_facts(net)
    out = [f"map {net.name}  ({net.crs}; loader report below)"]
    out += ["", "LOAD REPORT"] + [f"  {line}" for line in (net.report.lines() if net.report else [])]

    def cut(items: list[str]) -> list[str]:
        return items[:limit] + ([f"  ... and {len(items) - limit} more"] if len(items) > limit else [])

    out += ["", "PLACES a scenario can name (entries, exits, trip ends; see sim.core.places)",
            "  write a name as below, a junction as 'Street A & Street B', an OSM id as 123 or 'node/123',",
            "  a way as 'way/123', or coordinates as 'lat,lon'; names are snapped to the nearest usable node"]
    out.append(f"  named nodes ({len(facts['named_nodes'])}):")
    out += cut([f"    {name!r}  node {int(net.node_osmid[i])}  {net.node_lat[i]:.5f},{net.node_lon[i]:.5f}"
                for i, name in facts["named_nodes"]])
    out.append(f"  streets ({len(facts['streets'])}):")
    out += cut([f"    {name!r}  {length:,.0f} m" for name, length in sorted(facts["streets"].items())])
    out.append(f"  points of interest off the links ({len(net.pois)}):")
    out += cut([f"    {(p['name'] or p['name_en'])!r}  {p['osm']}  {p['kind']}  {p['lat']:.5f},{p['lon']:.5f}"
                for p in sorted(net.pois, key=lambda p: p["name"] or p["name_en"])])
    walk, drive = facts["walk_parts"], facts["drive_parts"]
    out += ["", "CONNECTED PARTS",
            f"  walk network: {len(walk)} part(s); largest {len(walk[0]) if walk else 0} of "
            f"{int(net.node_mask('walk').sum())} walkable nodes",
            f"  drive network (strongly connected: every node reaches every other): {len(drive)} part(s); "
            f"largest {len(drive[0]) if drive else 0} of {int(net.node_mask('drive').sum())} drivable nodes"]
    if len(drive) > 1:
        small = sum(len(p) for p in drive[1:])
        out.append(f"    {small} drivable node(s) outside the largest part (one-way stubs, roads cut at the "
                   f"extract's edge): trips from or to them may have no route")
    ends = facts["dead_ends"]
    out += ["", f"DEAD ENDS: {ends.size} node(s) with a single link (many are where the extract cuts a road)"]
    out += cut([f"    node {int(net.node_osmid[n])}  {net.node_lat[n]:.5f},{net.node_lon[n]:.5f}"
                + (f"  {net.node_tags[n]['name']!r}" if net.node_tags[n].get("name") else "") for n in ends])
    out += ["", f"TUNNELS ({len(facts['tunnels'])})"]
    road = facts["road"]
    for name, tubes in facts["tunnels"].items():
        if isinstance(tubes, str):
            out.append(f"  {name!r}: {tubes}")
            continue
        out.append(f"  {name!r}: {len(tubes)} tube(s)")
        for t in tubes:
            a, b = t.entry_node, t.exit_node
            out.append(f"    tube {t.index + 1}: {t.length_m:,.0f} m, node {int(net.node_osmid[a])} "
                       f"({net.node_lat[a]:.5f},{net.node_lon[a]:.5f}) -> node {int(net.node_osmid[b])} "
                       f"({net.node_lat[b]:.5f},{net.node_lon[b]:.5f}); {len(t.entrances)} entry ramp(s), "
                       f"{len(t.exits)} exit ramp(s), {len(t.branch_edges)} ramp edge(s); bicycles "
                       f"{'allowed' if bool(road.bike_lane[t.edges].all()) else 'not allowed'} by its tags")
    return "\n".join(out)
