"""Places as GeoJSON (RFC 7946), for the map tools an operations centre uses (QGIS, ArcGIS, kepler.gl).

``places.geojson`` holds one Feature per place of the walk network (every stair, underpass,
crossing, square, promenade section and street section: :func:`sim.crowd.places.places_of`).  Its
geometry is a MultiLineString of the place's cells (centre lines, WGS84 longitude/latitude, as RFC
7946 requires), its properties the place's KPIs from the run summary (peak densities, seconds at
walkway LOS E/F, the longest spell at LOS F, seconds holding at queuing LOS E+), whether it broke the
scenario's ``[safety]`` criterion in this run, its rank among the worst places, its walkable area and
a label point.  The collection carries the run's scenario, seed and criterion as foreign members.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["places_geojson", "places_geojson_text", "to_lonlat", "PLACES_GEOJSON"]

#: The file name among a crowd run's results.
PLACES_GEOJSON = "places.geojson"

#: Decimal places of longitude/latitude: 1e-7 degrees is about 1 cm (RFC 7946 11.2 advises against more).
_DIGITS = 7


def to_lonlat(xy_m: np.ndarray, crs: str) -> np.ndarray:
    """Projected map coordinates (metres, ``crs``) -> WGS84 ``(lon, lat)`` of the same shape."""
    from pyproj import Transformer

    xy = np.asarray(xy_m, dtype=float)
    flat = xy.reshape(-1, 2)
    transformer = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    lon, lat = transformer.transform(flat[:, 0], flat[:, 1])
    return np.column_stack([lon, lat]).reshape(xy.shape)


def places_geojson(walk, places, summary: dict) -> dict[str, Any]:
    """The places of a run as a GeoJSON FeatureCollection (plain data).

    ``walk``: the run's :class:`~sim.core.walk.WalkGraph`; ``places``: its
    :class:`~sim.crowd.places.Places`; ``summary``: the run's summary (``places``, ``worst_places``,
    ``safety``).  Places missing from the summary get geometry and no KPIs."""
    crs = walk.network.crs
    cells_lonlat = np.round(to_lonlat(walk.cell_xy, crs), _DIGITS)
    labels_lonlat = np.round(to_lonlat(places.xy_m, crs), _DIGITS)
    kpis = summary.get("places", {})
    worst = list(summary.get("worst_places", []))
    safety = summary.get("safety", {})
    failing = set(safety.get("failing_places", []))
    features = []
    for k, name in enumerate(places.names):
        cells = np.flatnonzero(places.cell_place == k)
        lines = [cells_lonlat[c].tolist() for c in cells]
        props = {"name": name, "kind": places.kinds[k], "area_m2": round(float(places.area_m2[k]), 1),
                 **{key: value for key, value in kpis.get(name, {}).items() if key not in ("kind", "area_m2")},
                 "breaks_criterion": name in failing,
                 "worst_rank": worst.index(name) + 1 if name in worst else None,
                 "label_lon": float(labels_lonlat[k, 0]), "label_lat": float(labels_lonlat[k, 1])}
        features.append({"type": "Feature", "id": k, "properties": props,
                         "geometry": {"type": "MultiLineString", "coordinates": lines}})
    return {"type": "FeatureCollection",
            "scenario": summary.get("scenario"), "seed": summary.get("seed"),
            "criterion": safety.get("criterion"), "safe": safety.get("safe"),
            "features": features}


def places_geojson_text(walk, places, summary: dict) -> str:
    """:func:`places_geojson` as the text of ``places.geojson``."""
    return json.dumps(places_geojson(walk, places, summary), separators=(",", ":")) + "\n"


def write_places_geojson(model, summary: dict, path: str | Path) -> Path:
    """Write a finished crowd model's ``places.geojson`` (``summary``: its summary)."""
    arrays = model.engine.arrays
    path = Path(path)
    path.write_text(places_geojson_text(arrays.walk, arrays.places, summary), encoding="utf-8")
    return path
