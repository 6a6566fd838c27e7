"""Places by name: what a scenario may write where the engines need a map node or a set of them.

A *place* resolves to one node of the :class:`~sim.core.osm.Network`:

* an OSM node id (``123`` or ``"node/123"``): the node itself; a node that simplification
  removed, or one that no mode given may use, is snapped to the nearest usable node;
* a name: a named node (exact ``name``, ``name:en`` or ``ref`` first), a POI (a named node off the
  links, or a named building, school, park or station), or a street (its middle); case-insensitive;
  candidates of one name within ``MERGE_M`` of each other count as one place; a name that still
  has several candidates is an error that lists them;
* a junction ``"7th Street & Wood Street"``: the node where the two streets meet;
* ``"way/123"``: the middle of that way (a street) or its centre (a building);
* coordinates ``"37.8075, -122.3005"`` (latitude, longitude).

Everything but an exact node is snapped to the nearest usable node within ``max_snap_m``, and the
snap distance is reported (:class:`Place`).  An *area* (for random trips, or zones) is a bounding
box ``{bbox = [south, west, north, east]}``, a polygon ``{polygon = [[lat, lon], ...]}`` or a circle
``{near = "place", radius_m = 300}``: :func:`nodes_in_area`, :func:`links_in_area`.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np

from .errors import MapError

__all__ = ["Place", "resolve_place", "resolve_places", "nodes_in_area", "links_in_area", "place_names",
           "MERGE_M"]

#: Candidates of one name closer than this count as one place (two stop positions of a station,
#: two outlines of one building).
MERGE_M = 150.0
_COORD = re.compile(r"^\s*(-?\d{1,2}(?:\.\d+)?)\s*,\s*(-?\d{1,3}(?:\.\d+)?)\s*$")
_OSM_REF = re.compile(r"^\s*(node|way)\s*[/:]\s*(\d+)\s*$", re.I)


@dataclass(frozen=True)
class Place:
    """A resolved place: the node, how far it lies from what was named, and what matched."""

    spec: Any
    node: int
    snap_m: float
    how: str          # "node", "OSM node id", "POI", "street", "junction", "way", "coordinates"
    label: str        # what matched, e.g. "Oakland Main Post Office (way/52538635)"

    def describe(self, net) -> str:
        node = int(net.node_osmid[self.node])
        name = net.node_tags[self.node].get("name")
        where = f"node {node}" + (f" ({name!r})" if name else "")
        snap = f", snapped {self.snap_m:.0f} m" if self.snap_m > 0.5 else ""
        return f"{self.spec!r} -> {where} [{self.how}: {self.label}{snap}]"

    def as_dict(self, net) -> dict:
        return {"spec": self.spec if isinstance(self.spec, (str, int)) else str(self.spec),
                "osm_node": int(net.node_osmid[self.node]), "snap_m": round(self.snap_m, 1), "how": self.how,
                "label": self.label}


@dataclass
class _Candidate:
    kind: str
    label: str
    x: float
    y: float
    node: int = -1        # a network node, when the candidate is one


def _usable_nodes(net, usable: np.ndarray | None) -> np.ndarray:
    mask = net.node_mask(None) if usable is None else np.asarray(usable, dtype=bool)
    return np.flatnonzero(mask)


def _snap(net, x: float, y: float, usable_idx: np.ndarray) -> tuple[int, float]:
    if usable_idx.size == 0:
        return -1, float("inf")
    d2 = (net.node_x_m[usable_idx] - x) ** 2 + (net.node_y_m[usable_idx] - y) ** 2
    k = int(np.argmin(d2))
    return int(usable_idx[k]), float(np.sqrt(d2[k]))


def _finish_place(net, spec, field: str, cand: _Candidate, usable_idx: np.ndarray, max_snap_m: float, how: str,
                  any_node: bool = False) -> "Place":
    """The candidate's own node when it may be used (``any_node``: no mode given, every node of the
    network counts, linked or not, as :meth:`Network.find_node` always did), else the nearest usable
    node within ``max_snap_m``."""
    if cand.node >= 0 and (any_node or bool(np.any(usable_idx == cand.node))):
        return Place(spec, cand.node, 0.0, how, cand.label)
    node, dist = _snap(net, cand.x, cand.y, usable_idx)
    if node < 0:
        raise MapError(f"{field}: {spec!r}: map {net.name!r} has no node that this mode may use")
    if dist > max_snap_m:
        raise MapError(f"{field}: {spec!r} ({cand.label}) lies {dist:.0f} m from the nearest usable node of map "
                       f"{net.name!r}, more than max_snap_m = {max_snap_m:g} m; give a nearer place or raise "
                       f"map_defaults.max_snap_m")
    return Place(spec, node, dist, how, cand.label)


def _latlon_to_xy(net, lat: float, lon: float) -> tuple[float, float]:
    from pyproj import Transformer

    x, y = Transformer.from_crs("EPSG:4326", net.crs, always_xy=True).transform(lon, lat)
    return float(x), float(y)


def _osm_node(net, osm_id: int, spec, field: str) -> _Candidate:
    hits = np.flatnonzero(net.node_osmid == osm_id)
    if hits.size:
        n = int(hits[0])
        return _Candidate("OSM node id", f"node/{osm_id}", float(net.node_x_m[n]), float(net.node_y_m[n]), n)
    if net.way_node_osmid is not None and net.way_node_osmid.size:
        k = int(np.searchsorted(net.way_node_osmid, osm_id))
        if k < net.way_node_osmid.size and int(net.way_node_osmid[k]) == osm_id:
            x, y = net.way_node_xy_m[k]
            return _Candidate("OSM node id", f"node/{osm_id} (merged into a link by simplification)",
                              float(x), float(y))
    for poi in net.pois:
        if poi["osm"] == f"node/{osm_id}":
            return _Candidate("POI", f"{poi['name'] or poi['name_en']} (node/{osm_id})", poi["x_m"], poi["y_m"])
    raise MapError(f"{field}: OSM node id {osm_id!r} is not on map {net.name!r} (not on any road or path it "
                   f"holds, nor a named place); `citytwin maps inspect {net.name}` lists the places")


def _way(net, way_id: int, spec, field: str) -> _Candidate:
    links = np.flatnonzero(net.link_osmid == way_id) if net.link_osmid is not None else np.zeros(0, int)
    if links.size:
        return _street_candidate(net, links, f"way/{way_id}", "way")
    for poi in net.pois:
        if poi["osm"] == f"way/{way_id}":
            return _Candidate("way", f"{poi['name'] or poi['name_en']} (way/{way_id}, {poi['kind']})",
                              poi["x_m"], poi["y_m"])
    raise MapError(f"{field}: OSM way {way_id!r} is not on map {net.name!r}")


def _street_candidate(net, links: np.ndarray, label: str, kind: str) -> _Candidate:
    """The node of a street (a set of links) nearest to the middle of its length."""
    nodes = np.unique(np.concatenate([net.link_u[links], net.link_v[links]]))
    mid = np.array([g[len(g) // 2] if len(g) > 2 else g.mean(axis=0) for g in
                    (net.link_geometry_xy[k] for k in links)])
    weights = net.length_m[links]
    cx, cy = (mid * weights[:, None]).sum(axis=0) / max(weights.sum(), 1e-9)
    d2 = (net.node_x_m[nodes] - cx) ** 2 + (net.node_y_m[nodes] - cy) ** 2
    n = int(nodes[int(np.argmin(d2))])
    return _Candidate(kind, label, float(net.node_x_m[n]), float(net.node_y_m[n]), n)


def _links_named(net, name: str) -> np.ndarray:
    want = name.strip().lower()
    return np.asarray([i for i, tags in enumerate(net.link_tags)
                       if want in (tags.get("name", "").lower(), tags.get("name:en", "").lower())], dtype=np.int64)


def _components(net, links: np.ndarray) -> list[np.ndarray]:
    """Groups of links that touch (share a node)."""
    parent = {}

    def find(a):
        while parent.setdefault(a, a) != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for k in links:
        ra, rb = find(int(net.link_u[k])), find(int(net.link_v[k]))
        if ra != rb:
            parent[ra] = rb
    groups: dict[int, list[int]] = {}
    for k in links:
        groups.setdefault(find(int(net.link_u[k])), []).append(int(k))
    return [np.asarray(g, dtype=np.int64) for g in groups.values()]


def _merge(cands: list[_Candidate]) -> list[_Candidate]:
    """One candidate per cluster of candidates within MERGE_M (network nodes preferred)."""
    out: list[_Candidate] = []
    for c in sorted(cands, key=lambda c: c.node < 0):
        if not any((c.x - o.x) ** 2 + (c.y - o.y) ** 2 <= MERGE_M ** 2 for o in out):
            out.append(c)
    return out


def _name_candidates(net, name: str) -> list[_Candidate]:
    want = name.strip().lower()
    cands: list[_Candidate] = []
    for i, tags in enumerate(net.node_tags):
        if want in (tags.get("name", "").lower(), tags.get("name:en", "").lower(), tags.get("ref", "").lower()):
            cands.append(_Candidate("node", f"{tags.get('name') or tags.get('ref')} (node/{int(net.node_osmid[i])})",
                                    float(net.node_x_m[i]), float(net.node_y_m[i]), i))
    for poi in net.pois:
        if want in (poi["name"].lower(), poi["name_en"].lower()):
            cands.append(_Candidate("POI", f"{poi['name'] or poi['name_en']} ({poi['osm']}, {poi['kind']})",
                                    poi["x_m"], poi["y_m"]))
    links = _links_named(net, name)
    if links.size:
        for comp in _components(net, links):
            ids = sorted({int(net.link_osmid[k]) for k in comp}) if net.link_osmid is not None else []
            ways = ", ".join(f"way/{w}" for w in ids[:3]) + (" ..." if len(ids) > 3 else "")
            cands.append(_street_candidate(net, comp, f"{name} ({ways})", "street"))
    return _merge(cands)


def place_names(net) -> list[str]:
    """Every name a place may be given by (nodes, POIs, streets), sorted."""
    names = {t.get(k, "") for t in net.node_tags for k in ("name", "name:en")}
    names |= {p["name"] for p in net.pois} | {p["name_en"] for p in net.pois}
    names |= {t.get(k, "") for t in net.link_tags for k in ("name", "name:en")}
    return sorted(n for n in names if n)


def _where(net, c: _Candidate) -> str:
    from pyproj import Transformer

    lon, lat = Transformer.from_crs(net.crs, "EPSG:4326", always_xy=True).transform(c.x, c.y)
    return f"{c.kind} {c.label} at {lat:.5f},{lon:.5f}"


def resolve_place(net, spec: Any, field: str = "place", usable: np.ndarray | None = None,
                  max_snap_m: float = 150.0) -> Place:
    """Resolve one place (see the module docstring) to a node in ``usable`` (a node mask; default
    any node on a link).  Raises :class:`MapError` naming ``field``."""
    usable_idx = _usable_nodes(net, usable)
    any_node = usable is None

    def _finish(net_, spec_, field_, cand, idx, snap, how):       # noqa: ANN001 (closure over any_node)
        return _finish_place(net_, spec_, field_, cand, idx, snap, how, any_node)

    if isinstance(spec, bool):
        raise MapError(f"{field}: {spec!r} is not a place (give an OSM id, a name or 'lat,lon')")
    if isinstance(spec, (int, np.integer)):
        return _finish(net, int(spec), field, _osm_node(net, int(spec), spec, field), usable_idx, max_snap_m,
                       "OSM node id")
    if not isinstance(spec, str) or not spec.strip():
        raise MapError(f"{field}: {spec!r} is not a place (give an OSM id, a name or 'lat,lon')")
    text = spec.strip()
    if text.isascii() and text.isdigit():
        return resolve_place(net, int(text), field, usable, max_snap_m)
    m = _OSM_REF.match(text)
    if m:
        kind, ident = m.group(1).lower(), int(m.group(2))
        cand = _osm_node(net, ident, spec, field) if kind == "node" else _way(net, ident, spec, field)
        return _finish(net, spec, field, cand, usable_idx, max_snap_m, cand.kind)
    m = _COORD.match(text)
    if m:
        lat, lon = float(m.group(1)), float(m.group(2))
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise MapError(f"{field}: {spec!r}: expected 'latitude, longitude' in degrees")
        x, y = _latlon_to_xy(net, lat, lon)
        return _finish(net, spec, field, _Candidate("coordinates", f"{lat:.6f},{lon:.6f}", x, y), usable_idx,
                       max_snap_m, "coordinates")
    # an exact node name or ref first (as the shipped scenarios name their entries and exits)
    exact = [i for i, t in enumerate(net.node_tags) if t.get("name") == text]
    if not exact:
        exact = [i for i, t in enumerate(net.node_tags) if t.get("ref") == text]
    if len(exact) == 1:
        n = exact[0]
        cand = _Candidate("node", f"{text} (node/{int(net.node_osmid[n])})", float(net.node_x_m[n]),
                          float(net.node_y_m[n]), n)
        return _finish(net, spec, field, cand, usable_idx, max_snap_m, "node")
    if len(exact) > 1:
        cands = _merge([_Candidate("node", f"{text} (node/{int(net.node_osmid[i])})", float(net.node_x_m[i]),
                                   float(net.node_y_m[i]), i) for i in exact])
        if len(cands) > 1:
            raise _ambiguous(net, spec, field, cands)
        return _finish(net, spec, field, cands[0], usable_idx, max_snap_m, "node")
    if "&" in text:
        return _junction(net, spec, text, field, usable_idx, max_snap_m)
    cands = _name_candidates(net, text)
    if len(cands) == 1:
        return _finish(net, spec, field, cands[0], usable_idx, max_snap_m, cands[0].kind)
    if len(cands) > 1:
        raise _ambiguous(net, spec, field, cands)
    close = difflib.get_close_matches(text, place_names(net), n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise MapError(f"{field}: no node named {text!r} on map {net.name!r} (nor a street, POI or building of "
                   f"that name){hint} (`citytwin maps inspect` lists the places)")


def _ambiguous(net, spec, field: str, cands: list[_Candidate]) -> MapError:
    listed = "; ".join(_where(net, c) for c in cands[:8]) + (f"; and {len(cands) - 8} more" if len(cands) > 8 else "")
    return MapError(f"{field}: {spec!r} names {len(cands)} places on map {net.name!r}: {listed}; give one of "
                    f"them as 'node/ID', 'way/ID' or 'lat,lon'")


def _junction(net, spec, text: str, field: str, usable_idx: np.ndarray, max_snap_m: float) -> Place:
    parts = [p.strip() for p in text.split("&")]
    if len(parts) != 2 or not all(parts):
        raise MapError(f"{field}: {spec!r}: a junction is written 'Street A & Street B'")
    node_sets = []
    for part in parts:
        links = _links_named(net, part)
        if links.size == 0:
            close = difflib.get_close_matches(part, place_names(net), n=3, cutoff=0.6)
            hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            raise MapError(f"{field}: {spec!r}: no street named {part!r} on map {net.name!r}{hint}")
        node_sets.append(set(net.link_u[links].tolist()) | set(net.link_v[links].tolist()))
    common = sorted(node_sets[0] & node_sets[1])
    if not common:
        raise MapError(f"{field}: {spec!r}: the streets {parts[0]!r} and {parts[1]!r} do not meet on map "
                       f"{net.name!r}")
    cands = _merge([_Candidate("junction", f"{parts[0]} & {parts[1]} (node/{int(net.node_osmid[n])})",
                               float(net.node_x_m[n]), float(net.node_y_m[n]), n) for n in common])
    if len(cands) > 1:
        raise _ambiguous(net, spec, field, cands)
    return _finish_place(net, spec, field, cands[0], usable_idx, max_snap_m, "junction")


def resolve_places(net, specs: Iterable[Any], field: str, problems: list[str], usable: np.ndarray | None = None,
                   max_snap_m: float = 150.0) -> list[Place]:
    """Resolve every spec; problems are appended as ``"field.k: ..."`` (all of them, not the first)."""
    out = []
    for k, spec in enumerate(specs):
        try:
            out.append(resolve_place(net, spec, f"{field}.{k}", usable, max_snap_m))
        except MapError as exc:
            problems.append(str(exc))
    return out


def _area_latlon_mask(net, area: dict, field: str, lat: np.ndarray, lon: np.ndarray, usable) -> np.ndarray:
    if "bbox" in area:
        south, west, north, east = (float(v) for v in area["bbox"])
        if not (south < north and west < east):
            raise MapError(f"{field}.bbox: expected [south, west, north, east] with south < north and "
                           f"west < east, got {list(area['bbox'])!r}")
        return (lat >= south) & (lat <= north) & (lon >= west) & (lon <= east)
    if "polygon" in area:
        from matplotlib.path import Path as MplPath

        pts = [(float(p[1]), float(p[0])) for p in area["polygon"]]
        if len(pts) < 3:
            raise MapError(f"{field}.polygon: needs at least 3 [lat, lon] points, got {len(pts)}")
        return MplPath(pts).contains_points(np.column_stack([lon, lat]))
    if "near" in area:
        place = resolve_place(net, area["near"], f"{field}.near", usable)
        radius = float(area.get("radius_m", 300.0))
        x0, y0 = net.node_x_m[place.node], net.node_y_m[place.node]
        x, y = _latlon_arrays_to_xy(net, lat, lon)
        return (x - x0) ** 2 + (y - y0) ** 2 <= radius ** 2
    raise MapError(f"{field}: an area is {{bbox = [south, west, north, east]}}, {{polygon = [[lat, lon], ...]}} "
                   f"or {{near = 'place', radius_m = 300}}; got {area!r}")


def _latlon_arrays_to_xy(net, lat, lon):
    from pyproj import Transformer

    x, y = Transformer.from_crs("EPSG:4326", net.crs, always_xy=True).transform(lon, lat)
    return np.asarray(x), np.asarray(y)


def nodes_in_area(net, area: dict, field: str = "area", usable: np.ndarray | None = None) -> np.ndarray:
    """Indices of ``usable`` nodes inside an area (bbox, polygon or circle, see the module
    docstring); :class:`MapError` if none is."""
    mask = _area_latlon_mask(net, dict(area), field, net.node_lat, net.node_lon, usable)
    if usable is not None:
        mask &= np.asarray(usable, dtype=bool)
    else:
        mask &= net.node_mask(None)
    nodes = np.flatnonzero(mask)
    if nodes.size == 0:
        raise MapError(f"{field}: no usable node of map {net.name!r} lies in {dict(area)!r}")
    return nodes


def links_in_area(net, area: dict, field: str = "area", walk_only: bool = True) -> np.ndarray:
    """Links whose middle lies inside an area (for zones given as a polygon or bounding box)."""
    from pyproj import Transformer

    mids = np.array([g[len(g) // 2] if len(g) > 2 else g.mean(axis=0) for g in net.link_geometry_xy])
    lon, lat = Transformer.from_crs(net.crs, "EPSG:4326", always_xy=True).transform(mids[:, 0], mids[:, 1])
    mask = _area_latlon_mask(net, dict(area), field, np.asarray(lat), np.asarray(lon), None)
    if walk_only:
        mask &= net.walk
    links = np.flatnonzero(mask)
    if links.size == 0:
        raise MapError(f"{field}: no {'walkable ' if walk_only else ''}link of map {net.name!r} lies in "
                       f"{dict(area)!r}")
    return links
