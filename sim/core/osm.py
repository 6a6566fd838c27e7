"""OpenStreetMap extracts in, physical links out: the one place OSM tags are read.

Data flow: ``.osm`` / ``.osm.bz2`` / ``.graphml`` file -> osmnx ``MultiDiGraph`` (projected to
metres) -> :class:`Network` (physical links with their attributes).  The walk graph
(:mod:`sim.core.walk`) and the road graph (:mod:`sim.core.roads`) are built from a :class:`Network`.

OSM tag values are strings; they are parsed here, once, into SI numbers (metres, m/s).
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import MapError

__all__ = ["Network", "load_network", "load_graph", "network_from_graph", "parse_width_m", "parse_speed_mps",
           "DEFAULT_LANES", "DEFAULT_MAXSPEED_KPH"]

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
                  "lanes:forward", "lanes:backward", "room"]
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
