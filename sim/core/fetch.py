"""Download a district from OpenStreetMap (Overpass API) as an ``.osm`` file the loader reads.

The query keeps every tag of every way people or vehicles use (``highway=*``, platforms), with all
their nodes (complete ways, also where they run past the box) and the nodes' tags (names, signals,
crossings, entrances), plus named nodes and named ways in the box (shops, stations, schools,
buildings) for places by name.  The answer is OSM XML, written as it came, atomically, to the
target file (``.osm``); :func:`fetch_osm` then reads it back with the loader's own parser and
reports what it holds.  ``post`` can be replaced (the tests use a recorded answer, offline).
"""

from __future__ import annotations

import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import MapError
from .osmraw import RawMap, read_osm_xml

__all__ = ["OVERPASS_URL", "overpass_query", "fetch_osm", "FetchResult", "post_overpass"]

OVERPASS_URL = "https://overpass-api.de/api/interpreter"


def overpass_query(south: float, west: float, north: float, east: float, timeout_s: int = 180) -> str:
    """The Overpass QL query for a box: movement ways and named places, every tag, complete ways."""
    if not (-90 <= south < north <= 90 and -180 <= west < east <= 180):
        raise MapError(f"bbox: expected south < north and west < east in degrees, got "
                       f"{(south, west, north, east)!r}")
    box = f"{south:.7f},{west:.7f},{north:.7f},{east:.7f}"
    return (f"[out:xml][timeout:{int(timeout_s)}][bbox:{box}];\n"
            "(\n"
            '  way["highway"];\n'
            '  way["railway"="platform"];\n'
            '  way["public_transport"="platform"];\n'
            '  node["name"];\n'
            '  way["name"];\n'
            ");\n"
            "(._;>;);\n"
            "out body;\n")


def post_overpass(url: str, query: str, timeout_s: float = 200.0) -> bytes:
    """POST a query to an Overpass server; the answer's bytes."""
    body = urllib.parse.urlencode({"data": query}).encode()
    request = urllib.request.Request(url, data=body, headers={"User-Agent": "citytwin maps fetch"})
    with urllib.request.urlopen(request, timeout=timeout_s) as response:   # noqa: S310 (the user's URL)
        return response.read()


@dataclass(frozen=True)
class FetchResult:
    path: Path
    bytes: int
    raw: RawMap

    def summary(self) -> str:
        r = self.raw
        ignored = sum(r.ways_ignored.values())
        return (f"wrote {self.path} ({self.bytes:,} bytes): {r.nodes_total:,} nodes, {r.ways_total:,} ways "
                f"({r.ways_kept:,} roads and paths, {ignored:,} other), {len(r.pois):,} named places off the roads")


def fetch_osm(bbox: tuple[float, float, float, float], target: str | Path, *, url: str = OVERPASS_URL,
              post: Callable[[str, str], bytes] | None = None) -> FetchResult:
    """Download the box ``(south, west, north, east)`` into ``target`` (an ``.osm`` file)."""
    target = Path(target)
    if not target.name.lower().endswith(".osm"):
        raise MapError(f"target {str(target)!r}: maps fetch writes OSM XML, give a file ending in .osm")
    query = overpass_query(*bbox)
    try:
        data = (post or post_overpass)(url, query)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise MapError(f"download from {url} failed ({exc}); maps fetch needs internet access") from exc
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        head = data[:200].decode("utf-8", "replace")
        raise MapError(f"the answer from {url} is not OSM XML ({exc}); it starts: {head!r}") from exc
    remark = root.find("remark")
    if remark is not None and "error" in (remark.text or "").lower():
        raise MapError(f"the Overpass server refused the query: {(remark.text or '').strip()}")
    if root.find("way") is None:
        raise MapError(f"the box {bbox!r} holds no ways on OpenStreetMap (or the server sent none)")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return FetchResult(target, len(data), read_osm_xml(target, data))
