"""OpenStreetMap extracts in, physical links out: the one place OSM tags are read.

Data flow: ``.osm`` / ``.osm.bz2`` file -> :func:`sim.core.osmraw.read_osm_xml` (keeps the ways
that carry people or vehicles, counts the rest, collects named places) -> osmnx ``MultiDiGraph`` of
the kept ways (simplified, projected to metres) -> :class:`Network` (physical links with their
attributes and a :class:`LoadReport`).  The walk graph (:mod:`sim.core.walk`) and the road graph
(:mod:`sim.core.roads`) are built from a :class:`Network`.

OSM tag values are strings; they are parsed here, once, into SI numbers (metres, m/s).  Where a tag
is missing, the value comes from the map's defaults profile (:mod:`sim.core.profiles`), and the
link is flagged in ``Network.defaulted`` so the load report can say how much rests on defaults.
Loaded networks are cached in memory and on disk (:mod:`sim.core.cache`).
"""

from __future__ import annotations

import math
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .cache import cache_get, cache_key, cache_put
from .errors import MapError
from .osmraw import RawMap, read_osm_xml
from .profiles import PROFILES, SHARED_SPACE_ROADS, SIDEWALK_ROADS, MapDefaults, resolve_defaults

__all__ = ["Network", "LoadReport", "load_network", "load_graph", "network_from_graph", "parse_width_m",
           "parse_speed_mps", "DEFAULT_LANES", "DEFAULT_MAXSPEED_KPH", "LOADER_VERSION"]

#: Bumped whenever the loader's output changes: part of the disk-cache key.
LOADER_VERSION = "13.3"

#: Highway values walked on by default (foot=no still forbids them).
WALK_HIGHWAYS = {"footway", "pedestrian", "path", "steps", "living_street", "corridor", "track", "platform",
                 "bridleway"}
#: Roads: drivable; walkable along their sidewalks unless ``sidewalk=separate|no|none`` or ``foot=no``.
ROAD_HIGHWAYS = {
    "motorway", "motorway_link", "trunk", "trunk_link", "primary", "primary_link", "secondary",
    "secondary_link", "tertiary", "tertiary_link", "unclassified", "residential", "service",
    "living_street", "road", "busway",
}
NO_WALK_ROADS = {"motorway", "motorway_link", "trunk", "trunk_link", "busway"}
#: The China profile's values, kept under their old names for scripts that import them.
DEFAULT_MAXSPEED_KPH = dict(PROFILES["CN"].maxspeed_kph)
DEFAULT_LANES = dict(PROFILES["CN"].lanes_per_direction)
COVERED_VALUES = {"yes", "arcade", "colonnade", "roof", "building_passage"}
EXTRA_WAY_TAGS = ["name:en", "width", "zone", "section", "covered", "incline", "layer", "footway", "sidewalk",
                  "sidewalk:width", "sidewalk:both", "sidewalk:left", "sidewalk:right", "sidewalk:both:width",
                  "sidewalk:left:width", "sidewalk:right:width", "foot", "bicycle", "motor_vehicle", "motorcar",
                  "vehicle", "ramp", "crossing", "surface", "lanes:forward", "lanes:backward", "room", "cycleway",
                  "cycleway:both", "cycleway:left", "cycleway:right", "public_transport", "railway", "level",
                  "indoor"]
EXTRA_NODE_TAGS = ["name", "name:en", "ref", "railway", "entrance", "covered", "width", "highway",
                   "public_transport"]
#: Tags whose change along a way must keep a node when the graph is simplified.
SIMPLIFY_KEEP = ["highway", "width", "zone", "section", "covered", "tunnel", "layer", "lanes",
                 "maxspeed", "oneway", "name", "incline", "sidewalk", "foot", "bicycle", "crossing"]
#: Kinds of default a link can rest on (``Network.defaulted``).
DEFAULT_KINDS = ("maxspeed", "lanes", "sidewalk", "width")


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


def parse_speed_mps(value: str | None, defaults: MapDefaults | None = None) -> float | None:
    """Parse an OSM maxspeed (``"50"`` km/h, ``"30 mph"``, ``"walk"``, ``"DE:urban"``) into m/s;
    None if unusable.  Zone values (``XX:urban``, ``XX:rural``, ``XX:living_street``) and ``none``
    need ``defaults`` (the map's profile)."""
    if value is None:
        return None
    text = value.strip().lower()
    if text == "walk":
        return 7.0 / 3.6
    if defaults is not None:
        if text == "none":
            return defaults.zone_kph.get("motorway", 130.0) / 3.6
        if ":" in text and _leading_number(text) is None:
            zone = text.split(":", 1)[1]
            kph = defaults.zone_kph.get(zone)
            return None if kph is None else kph / 3.6
    number = _leading_number(value)
    if number is None:
        return None
    factor = 1609.344 / 3600 if "mph" in value else (1852 / 3600 if "knots" in value else 1000 / 3600)
    return number * factor if number > 0 else None


def _parse_lanes(value: str | None) -> int | None:
    if value is None:
        return None
    match = re.search(r"\d+", value)
    return int(match.group()) if match else None


def load_graph(path: str | Path, raw: RawMap | None = None):
    """Load an OSM XML file (``.osm``, ``.osm.bz2``, ``.xml``) or GraphML file with osmnx, offline.

    For OSM XML only the movement ways of ``raw`` (:func:`sim.core.osmraw.read_osm_xml`; read here
    when not given) become edges.  Returns the unprojected, unsimplified ``MultiDiGraph`` (oneway
    roads one-directional).
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
            raw = raw if raw is not None else read_osm_xml(path)
            for tag in EXTRA_WAY_TAGS:
                if tag not in ox.settings.useful_tags_way:
                    ox.settings.useful_tags_way = [*ox.settings.useful_tags_way, tag]
            for tag in EXTRA_NODE_TAGS:
                if tag not in ox.settings.useful_tags_node:
                    ox.settings.useful_tags_node = [*ox.settings.useful_tags_node, tag]
            if raw.ways_kept == 0:
                raise MapError(f"map {path.name!r} holds no ways that carry people or vehicles (highway=*, "
                               f"platforms); ignored: {_ignored_text(raw.ways_ignored)}")
            with tempfile.TemporaryDirectory(prefix="citytwin_osm_") as tmp:
                filtered = Path(tmp) / "movement.osm"
                filtered.write_bytes(raw.filtered_xml)
                return ox.graph_from_xml(filtered, simplify=False, retain_all=True, bidirectional=False)
    except MapError:
        raise
    except Exception as exc:  # osmnx/xml raise many types; report one clear error
        raise MapError(f"map file {str(path)!r} could not be read as OpenStreetMap data: {exc}") from exc
    raise MapError(f"map file {str(path)!r} has an unknown extension: expected .osm, .osm.bz2, .xml "
                   f"or .graphml")


def _ignored_text(ignored: dict[str, int]) -> str:
    if not ignored:
        return "nothing"
    return ", ".join(f"{n} {k}" for k, n in sorted(ignored.items(), key=lambda kv: (-kv[1], kv[0])))


@dataclass(frozen=True)
class LoadReport:
    """What the loader did with a map file: ways kept and ignored (by reason), ways cut at the
    extract's edge, the defaults profile and how much of the network rests on defaults."""

    source: str
    sha256: str
    loader_version: str
    ways_total: int
    ways_kept: int
    ways_ignored: dict[str, int]
    kept_classes: dict[str, int]
    ways_clipped: int
    ways_dropped_clipped: int
    pois: int
    nodes: int
    links: int
    drive_km: float
    walk_km: float
    walk_area_m2: float
    profile: str
    profile_picked_by: str
    profile_description: str
    overridden: tuple[str, ...]
    on_defaults: dict[str, dict[str, float]]   # kind -> {"links", "km", "share"}
    load_seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        from dataclasses import asdict
        out = asdict(self)
        out["overridden"] = list(self.overridden)
        return out

    def lines(self) -> list[str]:
        """The report as text (``citytwin maps inspect``)."""
        ignored = sum(self.ways_ignored.values())
        out = [f"ways: {self.ways_total} in the file, {self.ways_kept} kept as links (people or vehicles), "
               f"{ignored} ignored: {_ignored_text(self.ways_ignored)}"]
        if self.ways_clipped:
            out.append(f"ways cut at the extract's edge: {self.ways_clipped} (kept their longest stretch inside; "
                       f"{self.ways_dropped_clipped} left with under two nodes were dropped)")
        out.append(f"network: {self.nodes} nodes, {self.links} links; {self.drive_km:.2f} km drivable, "
                   f"{self.walk_km:.2f} km walkable ({self.walk_area_m2:,.0f} m2)")
        over = f"; overridden by the scenario: {', '.join(self.overridden)}" if self.overridden else ""
        out.append(f"defaults profile: {self.profile} (picked by {self.profile_picked_by}): "
                   f"{self.profile_description}{over}")
        labels = {"maxspeed": "speed limit (drivable km without maxspeed)",
                  "lanes": "lanes (drivable km without lanes)",
                  "sidewalk": "sidewalks assumed (walkable km of streets without a sidewalk tag)",
                  "width": "walkable width (walkable km without width / sidewalk:width)"}
        for kind, label in labels.items():
            d = self.on_defaults.get(kind, {})
            out.append(f"  rests on defaults, {label}: {d.get('km', 0.0):.2f} km "
                       f"({100 * d.get('share', 0.0):.0f}%, {int(d.get('links', 0))} links)")
        return out


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
    link_osmid: np.ndarray | None = None          # int64: the OSM way of each link
    defaulted: dict[str, np.ndarray] = field(default_factory=dict)   # DEFAULT_KINDS -> bool per link
    defaults: MapDefaults | None = None
    report: LoadReport | None = None
    pois: list[dict] = field(default_factory=list)   # named places off the links (see sim.core.places)
    areas: list[dict] = field(default_factory=list)  # area:highway polygons: {"osm", "tags", "xy_m": (k, 2) ring, metres}
    way_node_osmid: np.ndarray | None = None      # every OSM node on a kept way (sorted) ...
    way_node_xy_m: np.ndarray | None = None       # ... and where it is (for ids removed by simplification)
    bike_lanes_on_roads: int = 2

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

    def node_mask(self, mode: str | None = None) -> np.ndarray:
        """Nodes on at least one link that ``mode`` may use: ``walk``, ``drive``, ``bike`` or None (any)."""
        if mode is None:
            links = np.ones(self.n_links, dtype=bool)
        elif mode == "walk":
            links = self.walk
        elif mode == "drive":
            links = self.drive_forward | self.drive_backward
        elif mode == "bike":
            links = self.bike
        else:
            raise ValueError(f"mode must be walk, drive, bike or None, got {mode!r}")
        out = np.zeros(self.n_nodes, dtype=bool)
        out[self.link_u[links]] = True
        out[self.link_v[links]] = True
        return out

    def find_node(self, spec: int | str, field: str = "node", usable: np.ndarray | None = None,
                  max_snap_m: float = 150.0) -> int:
        """Node index for ``spec``: an OSM node id (int), a node's exact ``name`` (or ``ref``), or any
        place :func:`sim.core.places.resolve_place` understands (names of streets, POIs and
        junctions ``"A & B"``, ``"way/123"``, ``"node/123"``, ``"lat,lon"``), snapped to the nearest
        node in ``usable`` (a node mask; default: any node on a link) within ``max_snap_m``.

        Raises :class:`MapError` naming ``field`` when nothing matches, or a name is ambiguous
        (the message lists the candidates)."""
        from .places import resolve_place

        return resolve_place(self, spec, field, usable=usable, max_snap_m=max_snap_m).node

    def named_nodes(self) -> dict[str, int]:
        """Map of node name -> index, for every named node (entries, exits, bus stops)."""
        return {tags["name"]: i for i, tags in enumerate(self.node_tags) if tags.get("name")}


# --------------------------------------------------------------------------------------------------
# Tags -> link attributes
# --------------------------------------------------------------------------------------------------

def _sidewalk_sides(data: dict) -> int | None:
    """Sides with a sidewalk mapped on the road itself (0, 1, 2), or None when nothing is tagged.
    ``separate`` (drawn as its own way) and ``no`` count as none."""
    both = _tag(data, "sidewalk:both")
    left, right = _tag(data, "sidewalk:left"), _tag(data, "sidewalk:right")
    value = _tag(data, "sidewalk")
    on = ("yes", "both", "left", "right")
    if both is not None:
        return 2 if both == "yes" else 0
    if left is not None or right is not None:
        return int(left == "yes") + int(right == "yes")
    if value is None:
        return None
    if value == "both" or value == "yes":
        return 2
    if value in ("left", "right"):
        return 1
    return 0 if value not in on else 2


def _walk_width(highway: str, data: dict, defaults: MapDefaults) -> tuple[float, bool, bool]:
    """(walkable width m, width from defaults, sidewalk presence assumed); width 0 when pedestrians
    may not use the way."""
    foot = _tag(data, "foot")
    if foot == "no":
        return 0.0, False, False
    width = parse_width_m(_tag(data, "width"))
    if highway in WALK_HIGHWAYS:
        if width:
            return width, False, False
        return defaults.path_width_m(highway), True, False
    if highway in ROAD_HIGHWAYS and highway not in NO_WALK_ROADS:
        sides = _sidewalk_sides(data)
        assumed = sides is None
        base = highway.removesuffix("_link")
        if sides is None:
            if base in SHARED_SPACE_ROADS:      # pedestrians share the carriageway
                return defaults.path_width_m(base), True, True
            sides = 2 if (defaults.sidewalk == "both" and base in SIDEWALK_ROADS) else 0
        if sides == 0:
            if foot in ("yes", "designated"):
                return defaults.sidewalk_width_m, True, assumed
            return 0.0, False, assumed
        per_side = (parse_width_m(_tag(data, "sidewalk:width")) or parse_width_m(_tag(data, "sidewalk:both:width"))
                    or parse_width_m(_tag(data, "sidewalk:left:width"))
                    or parse_width_m(_tag(data, "sidewalk:right:width")))
        if per_side:
            return per_side * sides, False, assumed
        return defaults.sidewalk_width_m * sides, True, assumed
    if foot in ("yes", "designated"):
        return (width, False, False) if width else (defaults.path_width_m(highway), True, False)
    return 0.0, False, False


def _drive_allowed(highway: str, data: dict) -> bool:
    if highway not in ROAD_HIGHWAYS:
        return False
    if any(_tag(data, key) == "no" for key in ("motor_vehicle", "motorcar", "vehicle")):
        return False
    return _tag(data, "access") not in ("no", "private")


def _bike_allowed(highway: str, data: dict) -> bool:
    bicycle = _tag(data, "bicycle")
    if bicycle in ("no", "use_sidepath", "dismount") or _tag(data, "vehicle") == "no":
        return False
    if highway == "cycleway" or bicycle in ("yes", "designated", "permissive"):
        return True
    return highway in ROAD_HIGHWAYS and highway not in NO_WALK_ROADS


def network_from_graph(graph, name: str = "network", defaults: MapDefaults | None = None,
                       raw: RawMap | None = None, source: str = "") -> Network:
    """Build a :class:`Network` from an osmnx graph (projected to metres here if it is not already).

    Parallel directed edges of the same OSM way segment become one physical link.  ``defaults``
    fills missing tags (default: the profile for the graph's location); ``raw`` (what the file
    held) completes the load report and the places.
    """
    import osmnx as ox

    t0 = time.perf_counter()
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
    if defaults is None:
        defaults = resolve_defaults(None, float(np.nanmean(node_lat)), float(np.nanmean(node_lon)))
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
        lanes_defaulted = lanes_total is None and lanes_fwd is None and lanes_bwd is None
        default_lanes = defaults.lanes(highway)
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
        speed = parse_speed_mps(_tag(data, "maxspeed"), defaults)
        speed_defaulted = speed is None
        if speed is None:
            speed = defaults.speed_kph(highway) / 3.6
            if _tag(data, "service") == "alley" and defaults.profile == "US-CA":
                speed = 15 * 1.609344 / 3.6        # OSM wiki, California alleys
        width, width_defaulted, sidewalk_assumed = _walk_width(highway, data, defaults)
        rows.append(dict(
            u=index[u], v=index[v], length=max(float(data.get("length", 0.0)), 0.5),
            width=width, drive=_drive_allowed(highway, data),
            backward=False, bike=_bike_allowed(highway, data),
            covered=(_tag(data, "covered") in COVERED_VALUES) or highway == "corridor"
            or (_tag(data, "tunnel") in ("yes", "building_passage") and highway in WALK_HIGHWAYS),
            tunnel=_tag(data, "tunnel") not in (None, "no"), steps=highway == "steps", up=up,
            signal=_tag(data, "crossing") in ("traffic_signals",),
            lanes_fwd=lanes_fwd, lanes_bwd=lanes_bwd, speed=speed, highway=highway,
            name=_tag(data, "name") or "", tags=tags, xy=xy, oneway=oneway,
            osmid=int(osmid) if osmid is not None else -1,
            d_speed=speed_defaulted, d_lanes=lanes_defaulted, d_width=width_defaulted and width > 0,
            d_sidewalk=sidewalk_assumed and width > 0,
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
    drive_fwd = np.array([r["drive_fwd"] for r in rows], dtype=bool)
    drive_bwd = np.array([r["drive_bwd"] for r in rows], dtype=bool)
    defaulted = {"maxspeed": np.array([r["d_speed"] for r in rows], dtype=bool) & (drive_fwd | drive_bwd),
                 "lanes": np.array([r["d_lanes"] for r in rows], dtype=bool) & (drive_fwd | drive_bwd),
                 "sidewalk": np.array([r["d_sidewalk"] for r in rows], dtype=bool),
                 "width": np.array([r["d_width"] for r in rows], dtype=bool)}
    crs = str(projected.graph.get("crs"))
    way_ids, way_xy = None, None
    pois: list[dict] = []
    if raw is not None and raw.way_node_ids:
        way_ids = np.asarray(raw.way_node_ids, dtype=np.int64)
        lat = np.array([p[0] for p in raw.way_node_latlon])
        lon = np.array([p[1] for p in raw.way_node_latlon])
        way_xy = np.column_stack(_project(crs, lat, lon))
        if raw.pois:
            px, py = _project(crs, np.array([p["lat"] for p in raw.pois]), np.array([p["lon"] for p in raw.pois]))
            pois = [{**p, "x_m": float(x), "y_m": float(y)} for p, x, y in zip(raw.pois, px, py)]
    areas: list[dict] = []
    if raw is not None:
        for area in raw.areas:
            ax, ay = _project(crs, np.asarray(area["lat"]), np.asarray(area["lon"]))
            areas.append({"osm": area["osm"], "tags": area["tags"], "xy_m": np.column_stack([ax, ay])})
    net = Network(
        name=name, crs=crs,
        node_osmid=np.array([int(n) for n in nodes], dtype=np.int64),
        node_x_m=node_x, node_y_m=node_y, node_lat=node_lat, node_lon=node_lon, node_tags=node_tags,
        link_u=np.array([r["u"] for r in rows], dtype=np.int32),
        link_v=np.array([r["v"] for r in rows], dtype=np.int32),
        length_m=length, width_m=width, area_m2=length * width,
        walk=width > 0,
        drive_forward=drive_fwd,
        drive_backward=drive_bwd,
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
        link_osmid=np.array([r["osmid"] for r in rows], dtype=np.int64),
        defaulted=defaulted, defaults=defaults, pois=pois, areas=areas,
        way_node_osmid=way_ids, way_node_xy_m=way_xy, bike_lanes_on_roads=defaults.bike_lanes_on_roads,
    )
    report = _report(net, raw, source or name, time.perf_counter() - t0)
    object.__setattr__(net, "report", report)
    return net


def _project(crs: str, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from pyproj import Transformer

    transformer = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    x, y = transformer.transform(lon, lat)
    return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)


def _report(net: Network, raw: RawMap | None, source: str, seconds: float) -> LoadReport:
    drive = net.drive_forward | net.drive_backward
    drive_km = float(net.length_m[drive].sum()) / 1000.0
    walk_km = float(net.length_m[net.walk].sum()) / 1000.0
    on_defaults = {}
    for kind in DEFAULT_KINDS:
        mask = net.defaulted[kind]
        base_km = drive_km if kind in ("maxspeed", "lanes") else walk_km
        km = float(net.length_m[mask].sum()) / 1000.0
        on_defaults[kind] = {"links": int(mask.sum()), "km": round(km, 3),
                             "share": round(km / base_km, 4) if base_km > 0 else 0.0}
    d = net.defaults
    return LoadReport(
        source=source, sha256=raw.sha256 if raw else "", loader_version=LOADER_VERSION,
        ways_total=raw.ways_total if raw else -1, ways_kept=raw.ways_kept if raw else -1,
        ways_ignored=dict(raw.ways_ignored) if raw else {}, kept_classes=dict(raw.kept_classes) if raw else {},
        ways_clipped=raw.ways_clipped if raw else 0, ways_dropped_clipped=raw.ways_dropped_clipped if raw else 0,
        pois=len(net.pois), nodes=net.n_nodes, links=net.n_links, drive_km=round(drive_km, 3),
        walk_km=round(walk_km, 3), walk_area_m2=round(float(net.area_m2.sum()), 1),
        profile=d.profile, profile_picked_by=d.picked_by, profile_description=PROFILES[d.profile].description,
        overridden=d.overridden, on_defaults=on_defaults, load_seconds=round(seconds, 3))


_NETWORK_CACHE: dict[str, Network] = {}
#: The profiles table is part of every cache key: editing a default invalidates the cached maps.
_PROFILES_KEY = cache_key({name: vars(p) for name, p in PROFILES.items()})


def _options_dict(options: Any) -> dict[str, Any]:
    if options is None:
        return {}
    data = options.model_dump() if hasattr(options, "model_dump") else dict(options)
    data.pop("max_snap_m", None)
    return {k: v for k, v in data.items() if v is not None and v != {} and not (k == "profile" and v == "auto")
            and not (k == "sidewalk" and v == "both")}


def load_network(path: str | Path, *, simplify: bool = True, defaults: Any = None) -> Network:
    """Load a map file into a :class:`Network`, with the scenario's ``[map_defaults]`` (a
    :class:`~sim.core.schema.MapDefaultsSpec`, a mapping, or None for the profile of the map's
    location).

    Cached in memory and on disk (:mod:`sim.core.cache`), keyed by the file's content, the loader
    version and these settings.  ``simplify`` merges chains of degree-2 nodes into single links
    (osmnx), keeping every node where a tag that matters changes, and every named or tagged node
    (entries, exits, bus stops).
    """
    path = Path(path)                       # osmnx is imported only on a cache miss (seconds)
    if not path.exists():
        raise MapError(f"map file {str(path)!r} does not exist: give the path of an .osm, .osm.bz2 "
                       f"or .graphml file (shipped maps are in maps/, see `citytwin list`)")
    if not path.is_file():
        raise MapError(f"map {str(path)!r} is a folder, not a map file: give the path of an .osm, .osm.bz2 "
                       f"or .graphml file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise MapError(f"map file {str(path)!r} could not be read: {exc}") from None
    options = _options_dict(defaults)
    key = cache_key("network", LOADER_VERSION, path.name, RawMapKey(data), simplify, options, _PROFILES_KEY)
    if key in _NETWORK_CACHE:
        return _NETWORK_CACHE[key]
    cached = cache_get("maps", key)
    if isinstance(cached, Network):
        _NETWORK_CACHE[key] = cached
        return cached
    t0 = time.perf_counter()
    raw = None
    name = path.name.lower()
    if name.endswith((".osm", ".osm.bz2", ".xml")):
        raw = read_osm_xml(path, _maybe_bz2(path, data))
    graph = load_graph(path, raw)
    if simplify and not graph.graph.get("simplified"):
        import osmnx as ox
        try:
            graph = ox.simplify_graph(graph, node_attrs_include=["name", "railway", "entrance", "ref"],
                                      edge_attrs_differ=SIMPLIFY_KEEP)
        except Exception as exc:  # pragma: no cover - osmnx refuses e.g. already-simplified graphs
            raise MapError(f"map file {str(path)!r} could not be simplified: {exc}") from exc
    if raw is not None:
        lat, lon = raw.centre_latlon
    else:
        ys = [d.get("y") for _, d in graph.nodes(data=True)]
        xs = [d.get("x") for _, d in graph.nodes(data=True)]
        lat, lon = (float(np.mean(ys)), float(np.mean(xs))) if ys else (None, None)
    try:
        resolved = resolve_defaults(options, lat, lon)
    except ValueError as exc:
        raise MapError(str(exc)) from None
    net = network_from_graph(graph, name=path.name, defaults=resolved, raw=raw, source=str(path))
    object.__setattr__(net, "report", _with_seconds(net.report, time.perf_counter() - t0))
    _NETWORK_CACHE[key] = net
    cache_put("maps", key, net)
    return net


def _with_seconds(report: LoadReport, seconds: float) -> LoadReport:
    from dataclasses import replace
    return replace(report, load_seconds=round(seconds, 3))


def _maybe_bz2(path: Path, data: bytes) -> bytes:
    if path.name.lower().endswith(".bz2"):
        import bz2
        try:
            return bz2.decompress(data)
        except OSError as exc:
            raise MapError(f"map file {str(path)!r} could not be read as OpenStreetMap data: {exc}") from exc
    return data


class RawMapKey(str):
    """The SHA-256 of a file's bytes, as a cache-key part."""

    def __new__(cls, data: bytes):
        import hashlib
        return super().__new__(cls, hashlib.sha256(data).hexdigest())
