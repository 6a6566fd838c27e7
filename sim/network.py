"""Street networks: load an OSM extract offline and build compact arrays for the kernels.

Data flow: ``.osm`` / ``.osm.bz2`` / ``.graphml`` file -> osmnx ``MultiDiGraph`` (projected to
metres) -> :class:`Network` (physical links with their attributes) -> :class:`WalkGraph` (directed
walk edges in CSR form, long links split into cells of at most ``max_cell_m``) and
:class:`RoadGraph` (directed road edges with lanes for motor vehicles and bicycles).

OSM tag values are strings; they are parsed here, once, into SI numbers (metres, m/s).
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import MapError

__all__ = [
    "Network",
    "WalkGraph",
    "load_network",
    "load_graph",
    "network_from_graph",
    "build_walk_graph",
    "RoadGraph",
    "build_road_graph",
    "parse_width_m",
    "parse_speed_mps",
]

#: Highway values walked on by default (foot=no still forbids them).
WALK_HIGHWAYS = {"footway", "pedestrian", "path", "steps", "living_street", "corridor", "track"}
#: Roads: drivable; walkable along their sidewalks unless ``sidewalk=separate|no|none`` or ``foot=no``.
ROAD_HIGHWAYS = {
    "motorway", "motorway_link", "trunk", "trunk_link", "primary", "primary_link", "secondary",
    "secondary_link", "tertiary", "tertiary_link", "unclassified", "residential", "service",
    "living_street", "road", "busway",
}
NO_WALK_ROADS = {"motorway", "motorway_link", "trunk", "trunk_link", "busway"}
#: Default walkable width (m) when a way has no ``width`` tag (typical OSM practice).
DEFAULT_WIDTH_M = {"footway": 2.0, "path": 1.5, "steps": 2.0, "pedestrian": 6.0, "corridor": 3.0,
                   "living_street": 4.0, "track": 3.0}
DEFAULT_SIDEWALK_M = 2.5  # one side, when a road has no sidewalk:width
#: Default speed limit (km/h) by highway type when ``maxspeed`` is missing (urban China defaults).
DEFAULT_MAXSPEED_KPH = {"motorway": 100, "trunk": 80, "primary": 60, "secondary": 50, "tertiary": 40,
                        "residential": 30, "living_street": 20, "service": 20, "unclassified": 40}
DEFAULT_LANES = {"motorway": 3, "trunk": 2, "primary": 2, "secondary": 2, "tertiary": 1}
COVERED_VALUES = {"yes", "arcade", "colonnade", "roof", "building_passage"}

EXTRA_WAY_TAGS = ["name:en", "width", "zone", "section", "covered", "incline", "layer", "footway", "sidewalk",
                  "sidewalk:width", "foot", "bicycle", "motor_vehicle", "ramp", "crossing", "surface",
                  "lanes:forward", "lanes:backward"]
EXTRA_NODE_TAGS = ["name", "ref", "railway", "entrance", "covered", "width", "highway"]
#: Tags whose change along a way must keep a node when the graph is simplified.
SIMPLIFY_KEEP = ["highway", "width", "zone", "section", "covered", "tunnel", "layer", "lanes",
                 "maxspeed", "oneway", "name", "incline", "sidewalk", "foot", "bicycle", "crossing"]


def _first(value: Any) -> Any:
    """osmnx merges differing tag values into lists when it simplifies; take the first."""
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _tag(data: dict, key: str) -> str | None:
    value = _first(data.get(key))
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value).strip()


_NUMBER = re.compile(r"[-+]?\d+(?:[.,]\d+)?")


def _leading_number(value: str | None) -> float | None:
    """First number in an OSM tag value (decimal comma allowed), or None."""
    if value is None:
        return None
    match = _NUMBER.search(value)
    return None if match is None else float(match.group().replace(",", "."))


def parse_width_m(value: str | None) -> float | None:
    """Parse an OSM width (``"12"``, ``"3.5 m"``, ``"10'"`` is feet) into metres; None if unusable."""
    number = _leading_number(value)
    if number is None:
        return None
    if "'" in value or "ft" in value:
        number *= 0.3048
    return number if number > 0 else None


def parse_speed_mps(value: str | None) -> float | None:
    """Parse an OSM maxspeed (``"50"`` km/h, ``"30 mph"``) into m/s; None if unusable."""
    number = _leading_number(value)
    if number is None:
        return None
    factor = 1609.344 / 3600 if "mph" in value else 1000 / 3600
    return number * factor if number > 0 else None


def _parse_lanes(value: str | None) -> int | None:
    if value is None:
        return None
    match = re.search(r"\d+", value)
    return int(match.group()) if match else None


def load_graph(path: str | Path):
    """Load an OSM XML (``.osm``, ``.osm.bz2``, ``.xml``) or GraphML file with osmnx, offline.

    Returns the unprojected, unsimplified ``MultiDiGraph`` (oneway roads one-directional).
    """
    import osmnx as ox

    path = Path(path)
    if not path.exists():
        raise MapError(f"map file {str(path)!r} does not exist: give the path of an .osm, .osm.bz2 "
                       f"or .graphml file (shipped maps are in maps/, see `citytwin list`)")
    name = path.name.lower()
    try:
        if name.endswith(".graphml"):
            return ox.load_graphml(path)
        if name.endswith((".osm", ".osm.bz2", ".xml")):
            for tag in EXTRA_WAY_TAGS:
                if tag not in ox.settings.useful_tags_way:
                    ox.settings.useful_tags_way = [*ox.settings.useful_tags_way, tag]
            for tag in EXTRA_NODE_TAGS:
                if tag not in ox.settings.useful_tags_node:
                    ox.settings.useful_tags_node = [*ox.settings.useful_tags_node, tag]
            return ox.graph_from_xml(path, simplify=False, retain_all=True, bidirectional=False)
    except MapError:
        raise
    except Exception as exc:  # osmnx/xml raise many types; report one clear error
        raise MapError(f"map file {str(path)!r} could not be read as OpenStreetMap data: {exc}") from exc
    raise MapError(f"map file {str(path)!r} has an unknown extension: expected .osm, .osm.bz2, .xml "
                   f"or .graphml")


@dataclass(frozen=True)
class Network:
    """A street network as arrays of nodes and undirected physical links, in metres.

    Link ``i`` joins nodes ``link_u[i]`` and ``link_v[i]``; ``drive_forward[i]`` /
    ``drive_backward[i]`` say in which directions motor vehicles may use it (oneway), while
    pedestrians use every walkable link both ways.
    """

    name: str
    crs: str
    node_osmid: np.ndarray        # int64
    node_x_m: np.ndarray          # float64, projected
    node_y_m: np.ndarray
    node_lat: np.ndarray
    node_lon: np.ndarray
    node_tags: list[dict[str, str]]
    link_u: np.ndarray            # int32 node index
    link_v: np.ndarray
    length_m: np.ndarray          # float64
    width_m: np.ndarray           # walkable width (sidewalks for roads); 0 if not walkable
    area_m2: np.ndarray           # walkable area = length * width
    walk: np.ndarray              # bool
    drive_forward: np.ndarray     # bool
    drive_backward: np.ndarray    # bool
    bike: np.ndarray              # bool
    covered: np.ndarray           # bool: sheltered from rain
    tunnel: np.ndarray            # bool
    steps: np.ndarray             # bool
    incline_up: np.ndarray        # int8: +1 up from u to v, -1 down, 0 level/unknown
    signal_crossing: np.ndarray   # bool: a signalised surface crossing
    lanes_forward: np.ndarray     # int16
    lanes_backward: np.ndarray    # int16
    speed_limit_mps: np.ndarray   # float64
    highway: list[str]
    link_name: list[str]
    link_tags: list[dict[str, str]]
    link_geometry_xy: list[np.ndarray]  # (k, 2) polyline in metres from u to v

    @property
    def n_nodes(self) -> int:
        return int(self.node_osmid.shape[0])

    @property
    def n_links(self) -> int:
        return int(self.link_u.shape[0])

    def links_where(self, key: str, value: str) -> np.ndarray:
        """Indices of links whose OSM tag ``key`` equals ``value`` (``;``-separated lists match too)."""
        out = [i for i, tags in enumerate(self.link_tags)
               if value in [part.strip() for part in tags.get(key, "").split(";")]]
        return np.asarray(out, dtype=np.int64)

    def find_node(self, spec: int | str, field: str = "node") -> int:
        """Node index for ``spec``: an OSM node id (int) or a node's exact ``name`` (or ``ref``).

        Raises :class:`MapError` naming ``field`` when nothing (or more than one node) matches.
        """
        if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
            hits = np.flatnonzero(self.node_osmid == int(spec))
            if hits.size == 1:
                return int(hits[0])
            raise MapError(f"{field}: OSM node id {spec!r} is not on map {self.name!r}")
        names = [tags.get("name", "") for tags in self.node_tags]
        hits = [i for i, n in enumerate(names) if n == spec]
        if not hits:
            hits = [i for i, tags in enumerate(self.node_tags) if tags.get("ref") == spec]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise MapError(f"{field}: {spec!r} names {len(hits)} nodes on map {self.name!r}; "
                           f"use the OSM node id instead")
        close = difflib.get_close_matches(str(spec), [n for n in names if n], n=3)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise MapError(f"{field}: no node named {spec!r} on map {self.name!r}{hint}")

    def named_nodes(self) -> dict[str, int]:
        """Map of node name -> index, for every named node (entries, exits, bus stops)."""
        return {tags["name"]: i for i, tags in enumerate(self.node_tags) if tags.get("name")}


def _walk_width(highway: str, data: dict) -> float:
    """Walkable width (m) of a way, or 0 when pedestrians may not use it."""
    foot = _tag(data, "foot")
    if foot == "no":
        return 0.0
    width = parse_width_m(_tag(data, "width"))
    if highway in WALK_HIGHWAYS:
        return width or DEFAULT_WIDTH_M.get(highway, 2.0)
    if highway in ROAD_HIGHWAYS and highway not in NO_WALK_ROADS:
        sidewalk = _tag(data, "sidewalk")
        if sidewalk in ("separate", "no", "none") and foot not in ("yes", "designated"):
            return 0.0
        per_side = parse_width_m(_tag(data, "sidewalk:width")) or DEFAULT_SIDEWALK_M
        sides = 1 if sidewalk in ("left", "right") else 2
        return per_side * sides
    if foot in ("yes", "designated"):
        return width or 2.0
    return 0.0


def _drive_allowed(highway: str, data: dict) -> bool:
    if highway not in ROAD_HIGHWAYS:
        return False
    return _tag(data, "motor_vehicle") != "no" and _tag(data, "access") not in ("no", "private")


def _bike_allowed(highway: str, data: dict) -> bool:
    bicycle = _tag(data, "bicycle")
    if bicycle == "no":
        return False
    if highway == "cycleway" or bicycle in ("yes", "designated"):
        return True
    return highway in ROAD_HIGHWAYS and highway not in NO_WALK_ROADS


def network_from_graph(graph, name: str = "network") -> Network:
    """Build a :class:`Network` from an osmnx graph (projected to metres here if it is not already).

    Parallel directed edges of the same OSM way segment become one physical link.
    """
    import osmnx as ox

    if graph.number_of_edges() == 0:
        raise MapError(f"map {name!r} holds no ways with highway=*: nothing to simulate on")
    if not graph.graph.get("crs") or str(graph.graph["crs"]).lower() in ("epsg:4326", "wgs84"):
        projected = ox.project_graph(graph)
    else:
        projected = graph
    nodes = list(projected.nodes)
    index = {n: i for i, n in enumerate(nodes)}
    node_x = np.array([projected.nodes[n]["x"] for n in nodes], dtype=np.float64)
    node_y = np.array([projected.nodes[n]["y"] for n in nodes], dtype=np.float64)
    node_lat = np.array([graph.nodes[n].get("y", np.nan) if n in graph.nodes else np.nan for n in nodes])
    node_lon = np.array([graph.nodes[n].get("x", np.nan) if n in graph.nodes else np.nan for n in nodes])
    if "lat" in projected.nodes[nodes[0]]:
        node_lat = np.array([projected.nodes[n].get("lat", np.nan) for n in nodes], dtype=np.float64)
        node_lon = np.array([projected.nodes[n].get("lon", np.nan) for n in nodes], dtype=np.float64)
    node_tags = []
    for n in nodes:
        data = projected.nodes[n]
        node_tags.append({k: str(_first(data[k])) for k in EXTRA_NODE_TAGS
                          if k in data and _tag(data, k) is not None})

    seen: dict[tuple, int] = {}
    rows: list[dict] = []
    for u, v, key, data in projected.edges(keys=True, data=True):
        if u == v:
            continue
        osmid = _first(data.get("osmid"))
        canon = (min(u, v), max(u, v), osmid, round(float(data.get("length", 0.0)), 2))
        if canon in seen:
            row = rows[seen[canon]]
            if (row["u"], row["v"]) == (index[v], index[u]):
                row["backward"] = True
            continue
        seen[canon] = len(rows)
        highway = _tag(data, "highway") or "road"
        tags = {k: str(_first(val)) for k, val in data.items()
                if k not in ("geometry", "length", "osmid", "reversed") and _first(val) is not None}
        geom = data.get("geometry")
        if geom is not None:
            xy = np.asarray(geom.coords, dtype=np.float64)[:, :2]
        else:
            xy = np.array([[node_x[index[u]], node_y[index[u]]], [node_x[index[v]], node_y[index[v]]]])
        lanes_total = _parse_lanes(_tag(data, "lanes"))
        oneway = _tag(data, "oneway") in ("yes", "true", "1", "True", "-1")
        lanes_fwd = _parse_lanes(_tag(data, "lanes:forward"))
        lanes_bwd = _parse_lanes(_tag(data, "lanes:backward"))
        default_lanes = DEFAULT_LANES.get(highway.replace("_link", ""), 1)
        if lanes_fwd is None:
            lanes_fwd = (lanes_total if oneway else (lanes_total // 2 if lanes_total else None)) or default_lanes
        if lanes_bwd is None:
            lanes_bwd = 0 if oneway else ((lanes_total - lanes_fwd) if lanes_total and lanes_total > lanes_fwd
                                          else default_lanes)
        incline = _tag(data, "incline") or ""
        reversed_flag = bool(_first(data.get("reversed", False)) in (True, "True", "true"))
        up = 1 if incline.startswith("up") or incline.startswith("+") else (
            -1 if incline.startswith("down") or incline.startswith("-") else 0)
        if reversed_flag:
            up = -up
        speed = parse_speed_mps(_tag(data, "maxspeed"))
        if speed is None:
            speed = DEFAULT_MAXSPEED_KPH.get(highway.replace("_link", ""), 30) / 3.6
        rows.append(dict(
            u=index[u], v=index[v], length=max(float(data.get("length", 0.0)), 0.5),
            width=_walk_width(highway, data), drive=_drive_allowed(highway, data),
            backward=False, bike=_bike_allowed(highway, data),
            covered=(_tag(data, "covered") in COVERED_VALUES) or highway == "corridor"
            or (_tag(data, "tunnel") in ("yes", "building_passage") and highway in WALK_HIGHWAYS),
            tunnel=_tag(data, "tunnel") not in (None, "no"), steps=highway == "steps", up=up,
            signal=_tag(data, "crossing") in ("traffic_signals",),
            lanes_fwd=lanes_fwd, lanes_bwd=lanes_bwd, speed=speed, highway=highway,
            name=_tag(data, "name") or "", tags=tags, xy=xy, oneway=oneway,
        ))
    if not rows:
        raise MapError(f"map {name!r} holds no usable links")
    # A way drawn one direction whose reverse exists only as a separate edge was merged above;
    # drivable both ways unless oneway.
    for row in rows:
        row["drive_fwd"] = row["drive"]
        row["drive_bwd"] = row["drive"] and (row["backward"] or not row["oneway"])
    length = np.array([r["length"] for r in rows])
    width = np.array([r["width"] for r in rows])
    return Network(
        name=name, crs=str(projected.graph.get("crs")),
        node_osmid=np.array([int(n) for n in nodes], dtype=np.int64),
        node_x_m=node_x, node_y_m=node_y, node_lat=node_lat, node_lon=node_lon, node_tags=node_tags,
        link_u=np.array([r["u"] for r in rows], dtype=np.int32),
        link_v=np.array([r["v"] for r in rows], dtype=np.int32),
        length_m=length, width_m=width, area_m2=length * width,
        walk=width > 0,
        drive_forward=np.array([r["drive_fwd"] for r in rows], dtype=bool),
        drive_backward=np.array([r["drive_bwd"] for r in rows], dtype=bool),
        bike=np.array([r["bike"] for r in rows], dtype=bool),
        covered=np.array([r["covered"] for r in rows], dtype=bool),
        tunnel=np.array([r["tunnel"] for r in rows], dtype=bool),
        steps=np.array([r["steps"] for r in rows], dtype=bool),
        incline_up=np.array([r["up"] for r in rows], dtype=np.int8),
        signal_crossing=np.array([r["signal"] for r in rows], dtype=bool),
        lanes_forward=np.array([r["lanes_fwd"] for r in rows], dtype=np.int16),
        lanes_backward=np.array([r["lanes_bwd"] for r in rows], dtype=np.int16),
        speed_limit_mps=np.array([r["speed"] for r in rows], dtype=np.float64),
        highway=[r["highway"] for r in rows], link_name=[r["name"] for r in rows],
        link_tags=[r["tags"] for r in rows], link_geometry_xy=[r["xy"] for r in rows],
    )


_NETWORK_CACHE: dict[tuple[str, float, bool], Network] = {}


def load_network(path: str | Path, *, simplify: bool = True) -> Network:
    """Load a map file into a :class:`Network` (cached per path and modification time).

    ``simplify`` merges chains of degree-2 nodes into single links (osmnx), keeping every node where
    a tag that matters changes, and every named or tagged node (entries, exits, bus stops).
    """
    import osmnx as ox

    path = Path(path)
    key = (str(path.resolve()), path.stat().st_mtime if path.exists() else 0.0, simplify)
    if key in _NETWORK_CACHE:
        return _NETWORK_CACHE[key]
    graph = load_graph(path)
    if simplify and not graph.graph.get("simplified"):
        try:
            graph = ox.simplify_graph(graph, node_attrs_include=["name", "railway", "entrance", "ref"],
                                      edge_attrs_differ=SIMPLIFY_KEEP)
        except Exception as exc:  # pragma: no cover - osmnx refuses e.g. already-simplified graphs
            raise MapError(f"map file {str(path)!r} could not be simplified: {exc}") from exc
    net = network_from_graph(graph, name=path.name)
    _NETWORK_CACHE[key] = net
    return net


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


def build_walk_graph(net: Network, max_cell_m: float = 100.0) -> WalkGraph:
    """Split walkable links into cells of at most ``max_cell_m`` and index them as directed edges."""
    if max_cell_m <= 0:
        raise MapError(f"max_cell_m must be positive, got {max_cell_m!r}")
    links = np.flatnonzero(net.walk)
    if links.size == 0:
        raise MapError(f"map {net.name!r} has no walkable ways (footway, pedestrian, steps, or roads "
                       f"with sidewalks)")
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
        a = node_for(int(net.link_u[link]))
        b_final = node_for(int(net.link_v[link]))
        length = float(net.length_m[link])
        pieces = max(1, int(math.ceil(length / max_cell_m - 1e-9)))
        xy = net.link_geometry_xy[link]
        geom_len = float(np.hypot(*np.diff(xy, axis=0).T).sum()) or 1.0
        start_xy = xy[0]
        for p in range(pieces):
            if p == pieces - 1:
                b = b_final
                end_xy = xy[-1]
            else:
                end_xy = _point_along(xy, geom_len * (p + 1) / pieces)
                b = len(node_net)
                node_net.append(-1)
                xs.append(float(end_xy[0]))
                ys.append(float(end_xy[1]))
            cells["link"].append(link)
            cells["a"].append(a)
            cells["b"].append(b)
            cells["len"].append(length / pieces)
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


#: Single-file bicycle lanes in a road's non-motorised lane (about 2.5 m; HCM 2000: ~1 m each).
ROAD_BIKE_LANES = 2
#: Rank of a road class at unsignalised junctions: vehicles from higher-ranked roads go first.
ROAD_PRIORITY = {"motorway": 7, "trunk": 6, "primary": 5, "secondary": 4, "tertiary": 3,
                 "unclassified": 2, "residential": 2, "living_street": 1, "service": 1}


@dataclass(frozen=True)
class RoadGraph:
    """Directed road edges for vehicles, in CSR form (out- and in-edges per node).

    Edge ``e`` runs ``edge_from[e] -> edge_to[e]`` along Network link ``edge_link[e]``.  It has
    ``motor_lanes[e]`` lanes for motor vehicles (0: closed to them in this direction) and, where
    bicycles may ride, ``bike_lanes[e]`` single-file bicycle lanes of about 1 m (HCM 2000, FACTS.md):
    Shanghai's roads have a separate non-motorised lane of about 2.5 m, taken as two; cycleways
    and paths get one per metre of ``width`` (default one, at most three).  Node indices are
    :class:`Network` node indices.
    """

    network: Network
    edge_link: np.ndarray         # int32
    edge_from: np.ndarray         # int32
    edge_to: np.ndarray           # int32
    length_m: np.ndarray          # float64
    motor_lanes: np.ndarray       # int16
    bike_lanes: np.ndarray        # int16: single-file bicycle lanes (0: no bicycles)
    speed_limit_mps: np.ndarray   # float64
    tunnel: np.ndarray            # bool
    priority: np.ndarray          # int8 (ROAD_PRIORITY of the road class)
    heading_rad: np.ndarray       # float64: direction of travel where the edge ends
    out_start: np.ndarray         # int32 CSR over edge_from
    out_edges: np.ndarray
    in_start: np.ndarray          # int32 CSR over edge_to
    in_edges: np.ndarray
    node_signal: np.ndarray       # bool: node tagged highway=traffic_signals

    @property
    def n_edges(self) -> int:
        return int(self.edge_from.shape[0])

    @property
    def n_nodes(self) -> int:
        return self.network.n_nodes

    @property
    def bike_lane(self) -> np.ndarray:
        """Whether bicycles may ride the edge."""
        return self.bike_lanes > 0

    def edges_named(self, name: str) -> np.ndarray:
        """Edges whose link's ``name`` or ``name:en`` tag equals ``name`` (case-insensitive)."""
        want = name.strip().lower()
        net = self.network
        hits = [e for e, link in enumerate(self.edge_link)
                if want in (net.link_tags[link].get("name", "").lower(),
                            net.link_tags[link].get("name:en", "").lower())]
        return np.asarray(hits, dtype=np.int32)


def _end_heading(xy: np.ndarray, forward: bool) -> float:
    """Heading (rad, counter-clockwise from east) of travel at the end of a polyline."""
    a, b = (xy[-2], xy[-1]) if forward else (xy[1], xy[0])
    return float(math.atan2(b[1] - a[1], b[0] - a[0]))


def _csr(keys: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(keys, kind="stable").astype(np.int32)
    start = np.zeros(n + 1, dtype=np.int32)
    start[1:] = np.cumsum(np.bincount(keys, minlength=n))
    return start, order


def build_road_graph(net: Network) -> RoadGraph:
    """Directed edges for every direction of a link that motor vehicles or bicycles may use.

    Bicycles keep to one-way restrictions; bicycle-only ways (cycleways, paths with bicycle=yes)
    are two-way.
    """
    rows: list[tuple] = []
    for link in range(net.n_links):
        highway = net.highway[link].replace("_link", "")
        fwd_drive, bwd_drive = bool(net.drive_forward[link]), bool(net.drive_backward[link])
        bike = bool(net.bike[link])
        motor_only_roads = fwd_drive or bwd_drive
        for forward in (True, False):
            drive = fwd_drive if forward else bwd_drive
            bike_dir = bike and (drive or not motor_only_roads)
            if not (drive or bike_dir):
                continue
            lanes = int(net.lanes_forward[link] if forward else net.lanes_backward[link]) if drive else 0
            if drive:
                lanes = max(lanes, 1)
            u, v = (net.link_u[link], net.link_v[link]) if forward else (net.link_v[link], net.link_u[link])
            if not bike_dir:
                bike_lanes = 0
            elif drive or highway in ROAD_HIGHWAYS:
                bike_lanes = ROAD_BIKE_LANES
            else:
                width = parse_width_m(net.link_tags[link].get("width"))
                bike_lanes = min(3, max(1, int(width))) if width else 1
            rows.append((link, int(u), int(v), lanes, bike_lanes, ROAD_PRIORITY.get(highway, 1),
                         _end_heading(net.link_geometry_xy[link], forward)))
    if not rows:
        raise MapError(f"map {net.name!r} has no roads or cycleways: nothing for vehicles to drive on")
    link = np.array([r[0] for r in rows], dtype=np.int32)
    edge_from = np.array([r[1] for r in rows], dtype=np.int32)
    edge_to = np.array([r[2] for r in rows], dtype=np.int32)
    out_start, out_edges = _csr(edge_from, net.n_nodes)
    in_start, in_edges = _csr(edge_to, net.n_nodes)
    node_signal = np.array([tags.get("highway") == "traffic_signals" for tags in net.node_tags], dtype=bool)
    return RoadGraph(
        network=net, edge_link=link, edge_from=edge_from, edge_to=edge_to,
        length_m=net.length_m[link].astype(np.float64),
        motor_lanes=np.array([r[3] for r in rows], dtype=np.int16),
        bike_lanes=np.array([r[4] for r in rows], dtype=np.int16),
        speed_limit_mps=net.speed_limit_mps[link].astype(np.float64),
        tunnel=net.tunnel[link].copy(),
        priority=np.array([r[5] for r in rows], dtype=np.int8),
        heading_rad=np.array([r[6] for r in rows], dtype=np.float64),
        out_start=out_start, out_edges=out_edges, in_start=in_start, in_edges=in_edges,
        node_signal=node_signal,
    )
