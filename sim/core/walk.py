"""The walk graph: walkable links split into cells, as directed edges in CSR form.

Every crowd kernel and the bikes case's walking routes run on it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .errors import MapError
from .osm import Network

__all__ = ["WalkGraph", "build_walk_graph", "fine_links", "narrowing_nodes", "cell_cuts"]

@dataclass(frozen=True)
class WalkGraph:
    """Directed walk edges over walkable links, long links split into cells, in CSR form.

    Each physical cell ``c`` (a link, or a piece of one) carries two directed edges, ``2c`` (from
    ``cell_a`` to ``cell_b``) and ``2c+1`` (back); both share the cell's area, so densities count
    walkers of both directions.  Node indices here are walk-graph nodes (``node_net`` maps them back
    to :class:`Network` nodes; -1 for split points).
    """

    network: Network
    n_nodes: int
    node_net: np.ndarray          # int32: Network node index or -1 for split points
    node_x_m: np.ndarray
    node_y_m: np.ndarray
    cell_link: np.ndarray         # int32: Network link of each cell
    cell_a: np.ndarray            # int32
    cell_b: np.ndarray
    cell_length_m: np.ndarray
    cell_width_m: np.ndarray
    cell_area_m2: np.ndarray
    cell_covered: np.ndarray      # bool
    cell_steps: np.ndarray        # bool
    cell_signal: np.ndarray       # bool
    cell_incline_up: np.ndarray   # int8 (+1: a->b is up)
    cell_xy: np.ndarray           # (n_cells, 2, 2) endpoints for plotting
    edge_from: np.ndarray         # int32 per directed edge (2 per cell)
    edge_to: np.ndarray
    out_start: np.ndarray         # int32 CSR: edges leaving node n are out_edges[out_start[n]:out_start[n+1]]
    out_edges: np.ndarray
    net_node_to_walk: dict[int, int] = field(repr=False)

    @property
    def n_cells(self) -> int:
        return int(self.cell_link.shape[0])

    @property
    def n_edges(self) -> int:
        return int(self.edge_from.shape[0])

    def cells_of_links(self, links: np.ndarray) -> np.ndarray:
        """Cells that belong to any of the given Network links."""
        return np.flatnonzero(np.isin(self.cell_link, links))

    def walk_node(self, net_node: int, field: str = "node") -> int:
        """Walk-graph node of a Network node; MapError if the node has no walkable way."""
        if net_node not in self.net_node_to_walk:
            tags = self.network.node_tags[net_node]
            raise MapError(f"{field}: node {tags.get('name', self.network.node_osmid[net_node])!r} "
                           f"is not on any walkable way of map {self.network.name!r}")
        return self.net_node_to_walk[net_node]


def _point_along(xy: np.ndarray, distance_m: float) -> np.ndarray:
    seg = np.diff(xy, axis=0)
    seg_len = np.hypot(seg[:, 0], seg[:, 1])
    cum = np.concatenate([[0.0], np.cumsum(seg_len)])
    distance_m = min(max(distance_m, 0.0), cum[-1])
    k = int(np.searchsorted(cum, distance_m, side="right") - 1)
    k = min(k, len(seg_len) - 1)
    frac = 0.0 if seg_len[k] == 0 else (distance_m - cum[k]) / seg_len[k]
    return xy[k] + frac * seg[k]


def fine_links(net: Network) -> np.ndarray:
    """Walkable links that get short cells end to end: stairs, ramps and crossings (by OSM tags)."""
    out = np.zeros(net.n_links, dtype=bool)
    for i, tags in enumerate(net.link_tags):
        if not net.walk[i]:
            continue
        out[i] = bool(net.steps[i] or net.signal_crossing[i] or tags.get("ramp") == "yes"
                      or tags.get("footway") == "crossing" or "crossing" in tags)
    return out


#: A node where the walkable widths of its ways differ by more than this factor is a narrowing
#: (a door, a bottleneck), where queues form: its approaches get short cells.
NARROWING_RATIO = 1.5


def narrowing_nodes(net: Network) -> np.ndarray:
    """Nodes where walkable ways of clearly different widths meet (doors, bottlenecks)."""
    widest = np.zeros(net.n_nodes)
    narrowest = np.full(net.n_nodes, np.inf)
    walk = np.flatnonzero(net.walk)
    for ends in (net.link_u[walk], net.link_v[walk]):
        np.maximum.at(widest, ends, net.width_m[walk])
        np.minimum.at(narrowest, ends, net.width_m[walk])
    return widest > NARROWING_RATIO * narrowest


def cell_cuts(length_m: float, max_cell_m: float, short_cell_m: float, fine_link: bool,
              fine_start_m: float, fine_end_m: float) -> np.ndarray:
    """Positions (m from the start) where a link of ``length_m`` is cut into cells.

    A fine link is cut into cells of at most ``short_cell_m`` end to end.  Otherwise the first
    ``fine_start_m`` and the last ``fine_end_m`` metres (the approaches to a fine feature) get short
    cells, and the middle cells of at most ``max_cell_m``; every stretch is cut into equal pieces."""
    if fine_link:
        n = max(1, int(math.ceil(length_m / short_cell_m - 1e-9)))
        return np.linspace(0.0, length_m, n + 1)[1:-1]
    head = min(fine_start_m, length_m)
    tail = min(fine_end_m, length_m - head)
    stretches = [(0.0, head, short_cell_m), (head, length_m - tail, max_cell_m), (length_m - tail, length_m, short_cell_m)]
    cuts: list[float] = []
    for lo, hi, size in stretches:
        if hi - lo <= 1e-9:
            continue
        n = max(1, int(math.ceil((hi - lo) / size - 1e-9)))
        cuts.extend(np.linspace(lo, hi, n + 1)[1:].tolist())
    bounds = [0.0, *cuts]
    # No sliver cells: a piece shorter than half a short cell joins its neighbour.
    min_piece = 0.5 * short_cell_m
    kept = [0.0]
    for b in bounds[1:]:
        if b - kept[-1] >= min_piece - 1e-9 or len(kept) == 1 and b >= length_m - 1e-9:
            kept.append(b)
        elif b >= length_m - 1e-9:
            kept[-1] = b
    if len(kept) > 2 and kept[-1] - kept[-2] < min_piece - 1e-9:
        kept.pop(-2)
    return np.asarray(kept[1:-1])


def build_walk_graph(net: Network, max_cell_m: float = 100.0, short_cell_m: float | None = None,
                     approach_m: float = 0.0, fine_nodes: np.ndarray | None = None) -> WalkGraph:
    """Split walkable links into cells and index them as directed edges.

    Cells are at most ``max_cell_m`` long.  With ``short_cell_m``, stairs, ramps and crossings
    (:func:`fine_links`) are cut into cells of at most ``short_cell_m`` end to end, and so is the last
    ``approach_m`` of every link leading to them, to a narrowing (:func:`narrowing_nodes`: doors,
    bottlenecks) or to one of ``fine_nodes`` (network node indices: e.g. the gates of a zone), so
    that a queue's density is seen where it stands."""
    if max_cell_m <= 0:
        raise MapError(f"max_cell_m must be positive, got {max_cell_m!r}")
    if short_cell_m is not None and not 0 < short_cell_m <= max_cell_m:
        raise MapError(f"short_cell_m must be positive and at most max_cell_m ({max_cell_m!r}), "
                       f"got {short_cell_m!r}")
    links = np.flatnonzero(net.walk)
    if links.size == 0:
        raise MapError(f"map {net.name!r} has no walkable ways (footway, pedestrian, steps, or roads "
                       f"with sidewalks)")
    fine = fine_links(net) if short_cell_m is not None else np.zeros(net.n_links, dtype=bool)
    hot = np.zeros(net.n_nodes, dtype=bool)
    if short_cell_m is not None:
        hot[net.link_u[fine]] = True
        hot[net.link_v[fine]] = True
        hot |= narrowing_nodes(net)
        if fine_nodes is not None:
            hot[np.asarray(fine_nodes, dtype=np.int64)] = True
    short = short_cell_m if short_cell_m is not None else max_cell_m
    net_to_walk: dict[int, int] = {}
    node_net: list[int] = []
    xs: list[float] = []
    ys: list[float] = []

    def node_for(net_node: int) -> int:
        if net_node not in net_to_walk:
            net_to_walk[net_node] = len(node_net)
            node_net.append(net_node)
            xs.append(net.node_x_m[net_node])
            ys.append(net.node_y_m[net_node])
        return net_to_walk[net_node]

    cells: dict[str, list] = {k: [] for k in ("link", "a", "b", "len", "xy")}
    for link in links:
        u, v = int(net.link_u[link]), int(net.link_v[link])
        a = node_for(u)
        b_final = node_for(v)
        length = float(net.length_m[link])
        cuts = cell_cuts(length, max_cell_m, short, bool(fine[link]), approach_m if hot[u] else 0.0,
                         approach_m if hot[v] else 0.0)
        bounds = np.concatenate([[0.0], cuts, [length]])
        xy = net.link_geometry_xy[link]
        geom_len = float(np.hypot(*np.diff(xy, axis=0).T).sum()) or 1.0
        start_xy = xy[0]
        for p in range(bounds.size - 1):
            if p == bounds.size - 2:
                b = b_final
                end_xy = xy[-1]
            else:
                end_xy = _point_along(xy, geom_len * bounds[p + 1] / length)
                b = len(node_net)
                node_net.append(-1)
                xs.append(float(end_xy[0]))
                ys.append(float(end_xy[1]))
            cells["link"].append(link)
            cells["a"].append(a)
            cells["b"].append(b)
            cells["len"].append(float(bounds[p + 1] - bounds[p]))
            cells["xy"].append([start_xy, end_xy])
            a, start_xy = b, end_xy

    cell_link = np.asarray(cells["link"], dtype=np.int32)
    cell_a = np.asarray(cells["a"], dtype=np.int32)
    cell_b = np.asarray(cells["b"], dtype=np.int32)
    cell_len = np.asarray(cells["len"], dtype=np.float64)
    cell_width = net.width_m[cell_link].astype(np.float64)
    n_cells = cell_link.shape[0]
    edge_from = np.empty(2 * n_cells, dtype=np.int32)
    edge_to = np.empty(2 * n_cells, dtype=np.int32)
    edge_from[0::2], edge_to[0::2] = cell_a, cell_b
    edge_from[1::2], edge_to[1::2] = cell_b, cell_a
    n_nodes = len(node_net)
    order = np.argsort(edge_from, kind="stable").astype(np.int32)
    counts = np.bincount(edge_from, minlength=n_nodes)
    out_start = np.zeros(n_nodes + 1, dtype=np.int32)
    out_start[1:] = np.cumsum(counts)
    return WalkGraph(
        network=net, n_nodes=n_nodes, node_net=np.asarray(node_net, dtype=np.int32),
        node_x_m=np.asarray(xs), node_y_m=np.asarray(ys),
        cell_link=cell_link, cell_a=cell_a, cell_b=cell_b, cell_length_m=cell_len,
        cell_width_m=cell_width, cell_area_m2=cell_len * cell_width,
        cell_covered=net.covered[cell_link].copy(), cell_steps=net.steps[cell_link].copy(),
        cell_signal=net.signal_crossing[cell_link].copy(),
        cell_incline_up=net.incline_up[cell_link].copy(),
        cell_xy=np.asarray(cells["xy"], dtype=np.float64),
        edge_from=edge_from, edge_to=edge_to, out_start=out_start, out_edges=order,
        net_node_to_walk=net_to_walk,
    )
