"""Write small OpenStreetMap XML files from points given in metres (test corridors, sketches).

Used by the tests to build corridors and bottlenecks whose geometry is known exactly, through the
same loader that reads real maps.
"""

from __future__ import annotations

import math
from pathlib import Path
from xml.sax.saxutils import quoteattr

__all__ = ["write_osm"]

_M_PER_DEG_LAT = 111_132.0


def write_osm(path: str | Path, points_m: dict[str, tuple[float, float]],
              ways: list[tuple[list[str], dict[str, str]]],
              node_tags: dict[str, dict[str, str]] | None = None,
              origin_latlon: tuple[float, float] = (31.24, 121.48)) -> Path:
    """Write an OSM file: ``points_m`` maps a point name to (east, north) metres from the origin;
    each way is (point names, tags).  Every point gets its ``name`` as a tag, plus ``node_tags``."""
    lat0, lon0 = origin_latlon
    m_per_deg_lon = _M_PER_DEG_LAT * math.cos(math.radians(lat0))
    ids = {name: k + 1 for k, name in enumerate(points_m)}
    node_tags = node_tags or {}
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="citytwin sim.osmxml">']
    for name, (east, north) in points_m.items():
        lat = lat0 + north / _M_PER_DEG_LAT
        lon = lon0 + east / m_per_deg_lon
        tags = node_tags.get(name, {})
        head = f'  <node id="{ids[name]}" version="1" visible="true" lat="{lat:.8f}" lon="{lon:.8f}"'
        lines.append(head + ">")
        for key, value in {"name": name, **tags}.items():
            lines.append(f"    <tag k={quoteattr(key)} v={quoteattr(str(value))}/>")
        lines.append("  </node>")
    for w, (names, tags) in enumerate(ways, start=1):
        lines.append(f'  <way id="{w}" version="1" visible="true">')
        lines.extend(f'    <nd ref="{ids[n]}"/>' for n in names)
        lines.extend(f"    <tag k={quoteattr(k)} v={quoteattr(str(v))}/>" for k, v in tags.items())
        lines.append("  </way>")
    lines.append("</osm>")
    path = Path(path)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
