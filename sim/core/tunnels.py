"""Tunnel tubes as they are mapped: one tube per direction, from the tunnel's geometry between its
portals, with entry and exit ramps as branches; tubes never share an edge.

A tunnel on a real map is rarely one clean chain per direction.  The Renmin Road Tunnel in the
Shanghai extract, for instance, has an entry ramp that merges into the eastbound tube and exit
ramps that leave both tubes, all tagged with the tunnel's name.  Here:

1. The tunnel's edges are the directed road edges open to motor vehicles, tagged ``tunnel=*``,
   named (``name`` or ``name:en``) as the tunnel, plus unnamed or ``*_link`` tunnel edges joined
   to them (ramps often carry no name).
2. Edges that follow one another (the end of one is the start of the next, they are not the two
   directions of one link, and the turn between them is not a U-turn) form a component: one tube
   and its ramps.
3. The tube's main line is the longest path through the component (``*_link`` edges count half);
   the other edges are branches: entry ramps (their first edges are extra entrances, gated with the
   portal) and exit ramps (their last edges are extra exits).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

import numpy as np

from .errors import ScenarioError
from .roads import RoadGraph

__all__ = ["Tube", "find_tubes", "tunnel_names", "branch_offsets", "MAX_TURN_RAD"]


@dataclass
class Tube:
    """One direction of the controlled tunnel: its main line in order, entry portal and exit, and
    its ramps (branches)."""
    index: int
    name: str
    edges: np.ndarray          # main-line edges from the portal to the exit, in order
    length_m: float
    entry_node: int
    exit_node: int
    portal_label: str
    entrances: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))   # first edges of entry ramps
    branch_edges: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))  # every ramp edge
    exits: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))       # last edges of exit ramps

    @property
    def all_edges(self) -> np.ndarray:
        return np.concatenate([self.edges, self.branch_edges]).astype(np.int32)


def tunnel_names(road: RoadGraph) -> list[str]:
    net = road.network
    return sorted({net.link_tags[link].get(key, "") for link in np.flatnonzero(net.tunnel)
                   for key in ("name", "name:en")} - {""})


def _tunnel_edges(road: RoadGraph, tunnel_name: str) -> set[int]:
    net = road.network
    named = {int(e) for e in road.edges_named(tunnel_name) if road.tunnel[e] and road.motor_lanes[e] > 0}
    if not named:
        return named
    extra = {int(e) for e in np.flatnonzero(road.tunnel & (road.motor_lanes > 0))
             if not net.link_tags[road.edge_link[e]].get("name")
             or net.highway[road.edge_link[e]].endswith("_link")}
    edges = set(named)
    nodes = {int(road.edge_from[e]) for e in edges} | {int(road.edge_to[e]) for e in edges}
    grew = True
    while grew:
        grew = False
        for e in list(extra - edges):
            if int(road.edge_from[e]) in nodes or int(road.edge_to[e]) in nodes:
                edges.add(e)
                nodes |= {int(road.edge_from[e]), int(road.edge_to[e])}
                grew = True
    return edges


#: A turn sharper than this from one tunnel edge onto the next is not a way through the tube (two
#: levels or directions of a tunnel that touch at a node, as the Bund Tunnel's decks do in OSM).
MAX_TURN_RAD = 2.0


def _start_heading(road: RoadGraph, e: int) -> float:
    net = road.network
    link = int(road.edge_link[e])
    xy = net.link_geometry_xy[link]
    a, b = (xy[0], xy[1]) if int(road.edge_from[e]) == int(net.link_u[link]) else (xy[-1], xy[-2])
    return float(np.arctan2(b[1] - a[1], b[0] - a[0]))


def _follows(road: RoadGraph, e: int, f: int) -> bool:
    """Does edge ``f`` continue edge ``e`` through the tunnel (not the same link back, no U-turn)?"""
    if road.edge_link[f] == road.edge_link[e]:
        return False
    turn = abs(float(np.remainder(_start_heading(road, f) - road.heading_rad[e] + np.pi, 2 * np.pi) - np.pi))
    return turn <= MAX_TURN_RAD


def _components(road: RoadGraph, edges: set[int]) -> list[list[int]]:
    parent = {e: e for e in edges}

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    by_from: dict[int, list[int]] = {}
    for e in edges:
        by_from.setdefault(int(road.edge_from[e]), []).append(e)
    for e in edges:
        for f in by_from.get(int(road.edge_to[e]), []):
            if _follows(road, e, f):
                parent[find(e)] = find(f)
    groups: dict[int, list[int]] = {}
    for e in sorted(edges):
        groups.setdefault(find(e), []).append(e)
    return sorted(groups.values(), key=lambda g: g[0])


def _main_line(road: RoadGraph, comp: list[int]) -> list[int] | None:
    """Longest path through a component's edges (``*_link`` edges weigh half); None if cyclic."""
    import networkx as nx

    graph = nx.DiGraph()
    graph.add_nodes_from(comp)
    by_from: dict[int, list[int]] = {}
    for e in comp:
        by_from.setdefault(int(road.edge_from[e]), []).append(e)
    for e in comp:
        for f in by_from.get(int(road.edge_to[e]), []):
            if _follows(road, e, f):
                graph.add_edge(e, f)
    if not nx.is_directed_acyclic_graph(graph):
        return None
    net = road.network
    weight = {e: float(road.length_m[e]) * (0.5 if net.highway[road.edge_link[e]].endswith("_link") else 1.0)
              for e in comp}
    best: dict[int, tuple[float, int]] = {}
    for e in nx.topological_sort(graph):
        preds = list(graph.predecessors(e))
        if preds:
            p = max(preds, key=lambda q: (best[q][0], -q))
            best[e] = (best[p][0] + weight[e], p)
        else:
            best[e] = (weight[e], -1)
    end = max(comp, key=lambda e: (best[e][0], -e))
    path = [end]
    while best[path[-1]][1] >= 0:
        path.append(best[path[-1]][1])
    return path[::-1]


def find_tubes(road: RoadGraph, tunnel_name: str, source: str) -> list[Tube]:
    """The tubes of the tunnel named ``tunnel_name`` (see the module docstring); a clean
    :class:`ScenarioError` when there is no such tunnel or it forms a loop."""
    edges = _tunnel_edges(road, tunnel_name)
    if not edges:
        names = tunnel_names(road)
        close = difflib.get_close_matches(tunnel_name, names, n=3, cutoff=0.4)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise ScenarioError(source, [f"tunnel.name: no tunnel=yes road named {tunnel_name!r} on map "
                                     f"{road.network.name!r}{hint} (tunnels on the map: {names!r})"])
    tubes: list[Tube] = []
    for comp in _components(road, edges):
        main = _main_line(road, comp)
        if main is None:
            raise ScenarioError(source, [f"tunnel.name: the tunnel {tunnel_name!r} forms a closed loop on the map; "
                                         f"cannot find its portals"])
        main_set = set(main)
        branch = sorted(set(comp) - main_set)
        ends_into = {int(road.edge_to[e]) for e in comp}
        starts_from = {int(road.edge_from[e]) for e in comp}
        entrances = [e for e in branch if int(road.edge_from[e]) not in ends_into]
        exits = [e for e in branch if int(road.edge_to[e]) not in starts_from]
        k = len(tubes)
        entry, exit_ = int(road.edge_from[main[0]]), int(road.edge_to[main[-1]])
        label = road.network.node_tags[entry].get("name") or f"{tunnel_name} portal {k + 1}"
        tubes.append(Tube(k, tunnel_name, np.asarray(main, dtype=np.int32), float(road.length_m[main].sum()),
                          entry, exit_, label, np.asarray(entrances, dtype=np.int32),
                          np.asarray(branch, dtype=np.int32), np.asarray(exits, dtype=np.int32)))
    return tubes


def branch_offsets(road: RoadGraph, tube: Tube, main_offsets: np.ndarray) -> dict[int, float]:
    """Distance from the portal along the main line of the main-line node each ramp edge joins or
    leaves (ramp edges take their junction's offset; used only to place vehicles for checks)."""
    at_node = {int(road.edge_from[e]): float(off) for e, off in zip(tube.edges, main_offsets)}
    at_node[int(road.edge_to[tube.edges[-1]])] = float(main_offsets[-1] + road.length_m[tube.edges[-1]])
    out = {}
    for e in tube.branch_edges:
        a, b = int(road.edge_from[e]), int(road.edge_to[e])
        out[int(e)] = at_node.get(b, at_node.get(a, 0.0))
    return out
