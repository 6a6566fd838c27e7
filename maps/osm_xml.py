"""The OpenStreetMap XML (0.6) writer shared by the map builders in this folder (standard library only).

Nodes get ids 1.. in declaration order, ways 1.. in order, tags sorted by key, coordinates with 7
decimals: the output is byte-identical for the same input.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

__all__ = ["to_xml"]


def _attr(value: str) -> str:
    return escape(value, {'"': "&quot;"})


def to_xml(points: dict[str, tuple[float, float]], node_tags: dict[str, dict[str, str]],
           ways: list[tuple[list[str], dict[str, str]]], generator: str, margin_deg: float = 0.0003) -> str:
    """OSM XML for ``points`` (key -> (lat, lon)), their tags, and ``ways`` ((point keys, tags))."""
    ids = {k: i for i, k in enumerate(points, start=1)}
    lats = [p[0] for p in points.values()]
    lons = [p[1] for p in points.values()]
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             "<!-- (c) citytwin contributors, drawn from public figures (see maps/README.md); "
             "not derived from OpenStreetMap data -->",
             f'<osm version="0.6" generator="{generator}">',
             f'  <bounds minlat="{min(lats) - margin_deg:.7f}" minlon="{min(lons) - margin_deg:.7f}" '
             f'maxlat="{max(lats) + margin_deg:.7f}" maxlon="{max(lons) + margin_deg:.7f}"/>']
    for key, (lat, lon) in points.items():
        head = f'  <node id="{ids[key]}" version="1" visible="true" lat="{lat:.7f}" lon="{lon:.7f}"'
        tags = node_tags.get(key)
        if not tags:
            lines.append(head + "/>")
            continue
        lines.append(head + ">")
        lines += [f'    <tag k="{_attr(k)}" v="{_attr(v)}"/>' for k, v in sorted(tags.items())]
        lines.append("  </node>")
    for way_id, (keys, tags) in enumerate(ways, start=1):
        lines.append(f'  <way id="{way_id}" version="1" visible="true">')
        lines += [f'    <nd ref="{ids[k]}"/>' for k in keys]
        lines += [f'    <tag k="{_attr(k)}" v="{_attr(v)}"/>' for k, v in sorted(tags.items())]
        lines.append("  </way>")
    lines.append("</osm>")
    return "\n".join(lines) + "\n"
