"""A stairway hotspot drawn from the map: the ``area:highway`` outlines near the ways it replaces.

OpenStreetMap draws the surface of a highway as a closed way tagged ``area:highway=*`` beside the
routable line (``highway=steps``); ``maps/bund.osm`` draws the Chen Yi Square stairs so (two flights
``area:highway=steps`` and a landing ``area:highway=pedestrian``, built by ``maps/build_bund_map.py``).
The loader keeps these outlines out of the walk network (:attr:`sim.core.osm.Network.areas`).  A
``[hotspots.NAME]`` with ``area_buffer_m`` takes every outline within that distance of its ways: flights
are the ``steps`` outlines, the others landings, in the order met going up.  They are turned into the
stairway's own frame (``x`` along the way from its foot to its top, ``y`` across) and handed to
:meth:`~.layout.StairArea.from_outlines`, which adds the level aprons, walls, entries and exits.
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import LineString, Polygon

from .errors import GeometryError

__all__ = ["stair_outlines"]


def stair_outlines(network, links: np.ndarray, foot_xy: tuple[float, float], top_xy: tuple[float, float],
                   buffer_m: float, field: str) -> list[tuple[str, Polygon]]:
    """``("flight" | "landing", polygon)`` for every ``area:highway`` outline of ``network`` within
    ``buffer_m`` of the ``links`` (their polylines), in the frame of the way from ``foot_xy`` to
    ``top_xy`` (metres, the map's projection).  ``field`` names the scenario key in errors."""
    foot, top = np.asarray(foot_xy, dtype=float), np.asarray(top_xy, dtype=float)
    along = top - foot
    length = float(np.hypot(*along))
    if not length > 0:
        raise GeometryError([f"{field}: the stairway's foot and top are at the same place"])
    u = along / length
    v = np.array([-u[1], u[0]])                      # to the left going up: "keep right" is y < 0
    ways = shapely.union_all([LineString(network.link_geometry_xy[int(k)]) for k in links])
    near = ways.buffer(buffer_m)
    pieces, bad = [], []
    for area in getattr(network, "areas", []):
        poly = Polygon(area["xy_m"])
        if not poly.is_valid or poly.area <= 0:
            bad.append(area["osm"])
            continue
        if not poly.intersects(near):
            continue
        xy = np.asarray(poly.exterior.coords) - foot
        local = Polygon(np.column_stack([xy @ u, xy @ v]))
        pieces.append(("flight" if area["tags"].get("area:highway") == "steps" else "landing", local))
    if not pieces:
        hint = f" (outlines skipped as invalid: {bad[:3]!r})" if bad else ""
        raise GeometryError([f"{field}: no area:highway outline within {buffer_m:g} m of the stairway's ways{hint}; "
                             f"draw its flights as closed ways tagged area:highway=steps (landings: "
                             f"area:highway=pedestrian), or give flights_m and landings_m instead"])
    return pieces
