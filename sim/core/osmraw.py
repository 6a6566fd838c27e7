"""Read an OpenStreetMap XML extract as it is: which ways carry people or vehicles, which do not
(and why), which ways are cut at the extract's edge, and the named places a scenario may refer to.

Only movement ways become links: ``highway=*`` of a class people or vehicles travel on (roads,
paths, steps, pedestrian areas, platforms), and ``railway=platform`` / ``public_transport=platform``.
Everything else (buildings, land use, railways, water, parks, untagged members of multipolygons) is
ignored and counted by reason.  Named nodes that lie on no movement way, and named ignored ways
(buildings, schools, parks, stations), are kept as points of interest (POIs) for places by name.
"""

from __future__ import annotations

import bz2
import hashlib
import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import quoteattr

from .errors import MapError

__all__ = ["RawMap", "read_osm_xml", "way_keep_reason", "MOVEMENT_HIGHWAYS", "IGNORED_KEYS", "file_sha256"]

#: ``highway=*`` values that people or vehicles travel along.
MOVEMENT_HIGHWAYS = frozenset({
    "motorway", "motorway_link", "trunk", "trunk_link", "primary", "primary_link", "secondary",
    "secondary_link", "tertiary", "tertiary_link", "unclassified", "residential", "service",
    "living_street", "road", "busway", "bus_guideway", "footway", "pedestrian", "path", "steps",
    "corridor", "track", "cycleway", "bridleway", "platform",
})
#: Keys that name what an ignored way is, in the order the report uses the first one found.
IGNORED_KEYS = ("building", "building:part", "landuse", "railway", "waterway", "natural", "leisure", "amenity",
                "barrier", "power", "boundary", "man_made", "place", "area:highway", "parking", "shop",
                "tourism", "historic", "aeroway", "route", "public_transport", "indoor")


def way_keep_reason(tags: dict[str, str]) -> tuple[bool, str]:
    """(kept, reason): kept ways carry people or vehicles; the reason names the class of a kept way
    (``highway=residential``) or why a way is ignored (``building``, ``highway=proposed``, ...)."""
    highway = tags.get("highway")
    if highway is not None:
        if highway in MOVEMENT_HIGHWAYS:
            return True, f"highway={highway}"
        return False, f"highway={highway}"
    if tags.get("railway") == "platform" or tags.get("public_transport") == "platform":
        return True, "platform"
    if not tags:
        return False, "untagged"
    for key in IGNORED_KEYS:
        if key in tags:
            return False, key
    if tags.get("area") == "yes":
        return False, "area"
    return False, "other"


def file_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class RawMap:
    """What :func:`read_osm_xml` found in a file (no graph yet)."""

    sha256: str
    bounds: tuple[float, float, float, float] | None      # (south, west, north, east) or None
    centre_latlon: tuple[float, float]
    ways_total: int = 0
    ways_kept: int = 0
    ways_ignored: dict[str, int] = field(default_factory=dict)
    kept_classes: dict[str, int] = field(default_factory=dict)
    ways_clipped: int = 0            # kept ways with node references missing from the extract
    ways_dropped_clipped: int = 0    # kept ways left with fewer than two nodes after clipping
    nodes_total: int = 0
    free_nodes: int = 0              # nodes on no way (kept as nodes without links)
    pois: list[dict] = field(default_factory=list)
    areas: list[dict] = field(default_factory=list)   # closed ``area:highway=*`` ways: {"osm", "tags", "lat", "lon"}
    way_node_ids: list[int] = field(default_factory=list)         # every node on a kept way
    way_node_latlon: list[tuple[float, float]] = field(default_factory=list)
    filtered_xml: bytes = b""         # the kept ways and their nodes, for osmnx


def _read_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    if path.name.lower().endswith(".bz2"):
        try:
            data = bz2.decompress(data)
        except OSError as exc:
            raise MapError(f"map file {str(path)!r} could not be read as OpenStreetMap data: {exc}") from exc
    return data


def read_osm_xml(path: str | Path, data: bytes | None = None) -> RawMap:
    """Parse an OSM XML file (``.osm``, ``.xml`` or ``.osm.bz2``): classify its ways, collect POIs
    and write the movement ways (with their nodes and every tag) as OSM XML for the graph builder."""
    path = Path(path)
    raw = _read_bytes(path) if data is None else data
    try:
        root = ET.fromstring(raw)
    except ET.ParseError as exc:
        raise MapError(f"map file {str(path)!r} could not be read as OpenStreetMap data: {exc}") from exc
    if root.tag != "osm":
        raise MapError(f"map file {str(path)!r} could not be read as OpenStreetMap data: the root element is "
                       f"<{root.tag}>, expected <osm>")
    nodes: dict[int, tuple[float, float, dict[str, str]]] = {}
    for el in root.iter("node"):
        try:
            nid = int(el.get("id"))
            lat, lon = float(el.get("lat")), float(el.get("lon"))
        except (TypeError, ValueError):
            continue
        tags = {t.get("k"): t.get("v") for t in el.findall("tag")}
        nodes[nid] = (lat, lon, tags)
    bounds_el = root.find("bounds")
    bounds = None
    if bounds_el is not None:
        try:
            bounds = tuple(float(bounds_el.get(k)) for k in ("minlat", "minlon", "maxlat", "maxlon"))
        except (TypeError, ValueError):
            bounds = None
    out = RawMap(sha256=file_sha256(raw), bounds=bounds, centre_latlon=(0.0, 0.0), nodes_total=len(nodes))
    kept_ways: list[tuple[int, list[int], dict[str, str]]] = []
    on_way: set[int] = set()
    referenced: set[int] = set()
    for el in root.iter("way"):
        out.ways_total += 1
        tags = {t.get("k"): t.get("v") for t in el.findall("tag")}
        refs = [int(nd.get("ref")) for nd in el.findall("nd")]
        referenced.update(refs)
        keep, reason = way_keep_reason(tags)
        if "area:highway" in tags and len(refs) >= 4 and refs[0] == refs[-1] and all(r in nodes for r in refs):
            # the surface of a highway drawn as a polygon (a stair flight, a landing): not a way to
            # walk along, but the outline a 2D hotspot is drawn from (sim.hotspot.osm_areas)
            out.areas.append({"osm": f"way/{el.get('id')}", "tags": tags,
                              "lat": [nodes[r][0] for r in refs], "lon": [nodes[r][1] for r in refs]})
        if not keep:
            out.ways_ignored[reason] = out.ways_ignored.get(reason, 0) + 1
            present = [r for r in refs if r in nodes]
            if present and (tags.get("name") or tags.get("name:en")):
                lat = sum(nodes[r][0] for r in set(present)) / len(set(present))
                lon = sum(nodes[r][1] for r in set(present)) / len(set(present))
                out.pois.append(_poi(f"way/{el.get('id')}", lat, lon, tags, reason))
            continue
        present = [r for r in refs if r in nodes]
        if len(present) < len(refs) or len(refs) < 2:
            out.ways_clipped += 1
            refs = _longest_run(refs, nodes)
        if len(refs) < 2:
            out.ways_dropped_clipped += 1
            continue
        out.ways_kept += 1
        out.kept_classes[reason] = out.kept_classes.get(reason, 0) + 1
        if reason == "platform":
            tags = {**tags, "highway": "platform"}
        kept_ways.append((int(el.get("id")), refs, tags))
        on_way.update(refs)
    for nid, (lat, lon, tags) in nodes.items():
        if nid not in on_way and (tags.get("name") or tags.get("name:en")):
            kind = next((k for k in ("amenity", "shop", "tourism", "public_transport", "railway", "highway",
                                     "leisure", "building") if k in tags), "named node")
            out.pois.append(_poi(f"node/{nid}", lat, lon, tags, kind))
    ids = sorted(on_way)
    out.way_node_ids = ids
    out.way_node_latlon = [(nodes[n][0], nodes[n][1]) for n in ids]
    if ids:
        lats = [nodes[n][0] for n in ids]
        lons = [nodes[n][1] for n in ids]
        out.centre_latlon = (0.5 * (min(lats) + max(lats)), 0.5 * (min(lons) + max(lons)))
    elif bounds is not None:
        out.centre_latlon = (0.5 * (bounds[0] + bounds[2]), 0.5 * (bounds[1] + bounds[3]))
    # nodes on no way at all (metro entrances, stops, points drawn alone) stay as nodes of the
    # network, without links, as OSM has them; places snap them to the nearest usable node
    free = {n for n in nodes if n not in referenced}
    out.free_nodes = len(free)
    out.filtered_xml = _write_xml(kept_ways, nodes, on_way | free)
    return out


def _longest_run(refs: list[int], nodes: dict) -> list[int]:
    """The longest stretch of a way whose nodes are all in the extract."""
    best: list[int] = []
    run: list[int] = []
    for r in refs + [None]:
        if r is not None and r in nodes:
            run.append(r)
            continue
        if len(run) > len(best):
            best = run
        run = []
    return best


def _poi(osm: str, lat: float, lon: float, tags: dict[str, str], kind: str) -> dict:
    return {"osm": osm, "name": tags.get("name", ""), "name_en": tags.get("name:en", ""), "kind": kind,
            "lat": lat, "lon": lon}


def _write_xml(ways, nodes, on_way) -> bytes:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="citytwin osmraw">']
    for nid in sorted(on_way):
        lat, lon, tags = nodes[nid]
        if tags:
            lines.append(f'<node id="{nid}" lat="{lat!r}" lon="{lon!r}">')
            lines.extend(f"<tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items() if k and v is not None)
            lines.append("</node>")
        else:
            lines.append(f'<node id="{nid}" lat="{lat!r}" lon="{lon!r}"/>')
    for wid, refs, tags in ways:
        lines.append(f'<way id="{wid}">')
        lines.extend(f'<nd ref="{r}"/>' for r in refs)
        lines.extend(f"<tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items() if k and v is not None)
        lines.append("</way>")
    lines.append("</osm>")
    return "\n".join(lines).encode("utf-8")


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    r = 6_371_009.0
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))
