"""Defaults for what an OpenStreetMap way does not say: speed limits, lanes, sidewalks, widths.

OSM tags only what a mapper entered.  Where a road has no ``maxspeed``, ``lanes``, ``sidewalk`` or
``sidewalk:width`` (most roads in most extracts), the loader takes the value from a **profile** of
the country or region the map lies in.  A scenario picks the profile (or lets the loader pick it
from the map's location) and can override any value, in its ``[map_defaults]`` table::

    [map_defaults]
    profile = "US-CA"                  # auto (default), CN, DE, US-CA or generic
    sidewalk_width_m = 1.8             # per side, roads without sidewalk:width
    maxspeed_kph = { residential = 30 }
    lanes_per_direction = { primary = 2 }

Sources (see ``/work/notes/sources_research.md`` section 9 and ``SOURCES`` below):

* Speed limits: the OSM wiki's "Default speed limits" table, in the machine-readable copy of
  ``westnordost/osm-legal-default-speeds`` (wiki revision 2413111, 2022-10-03; verified): China
  urban roads with a centre line 50 km/h, without 30, motorway 120; Germany urban 50, living street
  at walking pace, motorway no limit (advisory 130); California urban/residential/business 25 mph,
  alleys 15 mph, rural 55 mph, rural with two or more lanes each way 65 mph.  OSM has no global
  default: the ``generic`` profile uses the common urban value 50 km/h (this project's assumption).
  Which OSM highway classes count as "with a centre line" is this project's assumption (trunk,
  primary, secondary, tertiary: yes; the rest: no).
* Lanes per direction and sidewalk widths: no published OSM default exists; the values are this
  project's assumptions, informed by design codes quoted from memory in the research notes (China
  CJJ 37-2012 ordinary-road sidewalk 3.0 m general value; Germany RASt 06 / EFA 2.5 m; US PROWAG
  1.2 m minimum, 1.5 m recommended).  They are marked as assumptions in ``SOURCES``.

The load report (:class:`sim.core.osm.LoadReport`) says how much of a map rests on these defaults.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MapDefaults", "Profile", "PROFILES", "SOURCES", "profile_for_location", "resolve_defaults",
           "CENTRE_LINE_HIGHWAYS", "SIDEWALK_ROADS", "SHARED_SPACE_ROADS"]

#: Road classes taken as "with a centre line" (the OSM wiki's urban defaults distinguish them).
CENTRE_LINE_HIGHWAYS = ("trunk", "primary", "secondary", "tertiary")
#: Road classes that get sidewalks on both sides when a way has no ``sidewalk`` tag.
SIDEWALK_ROADS = ("primary", "secondary", "tertiary", "residential", "unclassified", "road")
#: Road classes where pedestrians share the carriageway (no sidewalk assumed; walkable width below).
SHARED_SPACE_ROADS = ("living_street", "service", "track")


@dataclass(frozen=True)
class Profile:
    """Defaults of one country or region (urban areas).  Speeds in km/h as published; lanes per
    direction; widths in metres."""

    name: str
    description: str
    maxspeed_kph: dict[str, float]
    lanes_per_direction: dict[str, int]
    sidewalk_width_m: float                 # per side
    bike_lanes_on_roads: int                # single-file bicycle lanes beside the motor lanes
    width_m: dict[str, float] = field(default_factory=dict)   # walkable width of ways without width=*
    zone_kph: dict[str, float] = field(default_factory=dict)  # maxspeed=XX:urban etc.


_PATH_WIDTHS_M = {"footway": 2.0, "path": 1.5, "steps": 2.0, "pedestrian": 6.0, "corridor": 3.0,
                  "living_street": 4.0, "track": 3.0, "service": 3.0, "cycleway": 2.0, "bridleway": 2.0,
                  "platform": 3.0}

PROFILES: dict[str, Profile] = {
    "CN": Profile(
        "CN", "China, urban (OSM wiki defaults: 50 km/h with a centre line, 30 without, motorway 120)",
        maxspeed_kph={"motorway": 120, "trunk": 50, "primary": 50, "secondary": 50, "tertiary": 50,
                      "unclassified": 30, "residential": 30, "living_street": 30, "service": 30, "road": 30,
                      "track": 30, "busway": 50},
        lanes_per_direction={"motorway": 2, "trunk": 2, "primary": 2, "secondary": 2},
        sidewalk_width_m=3.0, bike_lanes_on_roads=2, width_m=dict(_PATH_WIDTHS_M),
        zone_kph={"urban": 50, "rural": 70, "motorway": 120, "living_street": 30}),
    "DE": Profile(
        "DE", "Germany, urban (OSM wiki defaults: innerorts 50 km/h, living street walking pace, motorway "
              "no limit with advisory 130)",
        maxspeed_kph={"motorway": 130, "trunk": 50, "primary": 50, "secondary": 50, "tertiary": 50,
                      "unclassified": 50, "residential": 50, "living_street": 7, "service": 50, "road": 50,
                      "track": 50, "busway": 50},
        lanes_per_direction={"motorway": 2, "trunk": 2},
        sidewalk_width_m=2.5, bike_lanes_on_roads=1, width_m=dict(_PATH_WIDTHS_M),
        zone_kph={"urban": 50, "rural": 100, "motorway": 130, "living_street": 7, "bicycle_road": 30,
                  "zone30": 30, "zone:30": 30}),
    "US-CA": Profile(
        "US-CA", "California, urban (OSM wiki defaults: 25 mph urban, residential and business districts, "
                 "alleys 15 mph; freeways 65 mph)",
        maxspeed_kph={"motorway": 104.6, "trunk": 88.5, "primary": 40.2, "secondary": 40.2, "tertiary": 40.2,
                      "unclassified": 40.2, "residential": 40.2, "living_street": 24.14, "service": 24.14,
                      "road": 40.2, "track": 24.14, "busway": 40.2},
        lanes_per_direction={"motorway": 2, "trunk": 2},
        sidewalk_width_m=1.5, bike_lanes_on_roads=1, width_m=dict(_PATH_WIDTHS_M),
        zone_kph={"urban": 40.2, "rural": 88.5, "motorway": 104.6, "living_street": 24.1}),
    "generic": Profile(
        "generic", "no country default in OSM: the common urban value 50 km/h (this project's assumption)",
        maxspeed_kph={"motorway": 110, "trunk": 80, "primary": 50, "secondary": 50, "tertiary": 50,
                      "unclassified": 50, "residential": 50, "living_street": 10, "service": 20, "road": 50,
                      "track": 30, "busway": 50},
        lanes_per_direction={"motorway": 2, "trunk": 2},
        sidewalk_width_m=2.0, bike_lanes_on_roads=1, width_m=dict(_PATH_WIDTHS_M),
        zone_kph={"urban": 50, "rural": 80, "motorway": 110, "living_street": 10}),
}

#: Where each kind of default comes from: ``(source, verified)``; unverified ones are this
#: project's assumptions and are printed as such by ``citytwin maps inspect``.
SOURCES: dict[str, tuple[str, bool]] = {
    "maxspeed_kph": ("OSM wiki 'Default speed limits' (machine-readable copy westnordost/osm-legal-default-"
                     "speeds, wiki revision 2413111, 2022-10-03); the mapping of OSM road classes onto its "
                     "urban/rural categories and the generic profile are this project's assumption", True),
    "lanes_per_direction": ("this project's assumption (common router practice: 1 per direction, 2 on "
                            "motorways and trunks, 2 on Chinese primary and secondary roads)", False),
    "sidewalk_width_m": ("this project's assumption, informed by CJJ 37-2012 (CN 3.0 m), RASt 06 (DE 2.5 m), "
                         "PROWAG (US 1.2 m minimum, 1.5 m recommended), quoted from memory", False),
    "width_m": ("this project's assumption (typical widths of footways, paths, steps and pedestrian areas)",
                False),
    "bike_lanes_on_roads": ("this project's assumption (Shanghai roads: a separate non-motorised lane of "
                            "about 2.5 m, two single-file lanes of about 1 m, HCM 2000; elsewhere one)", False),
}

# Rough boxes (south, west, north, east) for picking a profile from a map's location.
_BOXES = [("US-CA", (32.5, -124.5, 42.0, -114.1)), ("DE", (47.2, 5.8, 55.1, 15.1)),
          ("CN", (18.0, 73.5, 53.6, 135.1))]


def profile_for_location(lat: float, lon: float) -> str:
    """Profile name for a point: the first region box that holds it, else ``generic``."""
    for name, (south, west, north, east) in _BOXES:
        if south <= lat <= north and west <= lon <= east:
            return name
    return "generic"


@dataclass(frozen=True)
class MapDefaults:
    """The resolved defaults a map is loaded with: a profile plus the scenario's overrides.

    Build with :func:`resolve_defaults`.  ``key()`` is part of the disk-cache key."""

    profile: str
    picked_by: str                          # "scenario" or "location (lat, lon)" or "default"
    maxspeed_kph: dict[str, float]
    lanes_per_direction: dict[str, int]
    sidewalk_width_m: float
    sidewalk: str                           # assumed on SIDEWALK_ROADS without a sidewalk tag: both|none
    bike_lanes_on_roads: int
    width_m: dict[str, float]
    zone_kph: dict[str, float]
    overridden: tuple[str, ...] = ()

    def speed_kph(self, highway: str) -> float:
        base = highway.removesuffix("_link")
        return float(self.maxspeed_kph.get(base, self.maxspeed_kph.get("road", 50.0)))

    def lanes(self, highway: str) -> int:
        return int(self.lanes_per_direction.get(highway.removesuffix("_link"), 1))

    def path_width_m(self, highway: str) -> float:
        return float(self.width_m.get(highway, 2.0))

    def settings(self) -> dict[str, Any]:
        """Everything that changes a loaded network (for the cache key and the load report)."""
        out = dataclasses.asdict(self)
        out.pop("picked_by")
        out.pop("overridden")
        return out

    def key(self) -> str:
        return hashlib.sha256(json.dumps(self.settings(), sort_keys=True).encode()).hexdigest()[:16]


def resolve_defaults(options: Any = None, lat: float | None = None, lon: float | None = None) -> MapDefaults:
    """Defaults for a map at (``lat``, ``lon``) from scenario ``options`` (a ``[map_defaults]``
    table as a mapping or pydantic model; None: all defaults).  ``profile = "auto"`` (the default)
    picks by location."""
    if options is None:
        opts: dict[str, Any] = {}
    elif hasattr(options, "model_dump"):
        opts = {k: v for k, v in options.model_dump().items() if v is not None}
    else:
        opts = {k: v for k, v in dict(options).items() if v is not None}
    name = opts.pop("profile", "auto")
    opts.pop("max_snap_m", None)
    if name == "auto":
        if lat is None or lon is None:
            name, picked = "generic", "default (no location)"
        else:
            name = profile_for_location(lat, lon)
            picked = f"location ({lat:.4f}, {lon:.4f})"
    else:
        picked = "scenario"
    if name not in PROFILES:
        raise ValueError(f"map_defaults.profile: {name!r} is not a profile; use auto or one of "
                         f"{', '.join(PROFILES)}")
    p = PROFILES[name]
    overridden = tuple(sorted(opts))
    return MapDefaults(
        profile=name, picked_by=picked,
        maxspeed_kph={**p.maxspeed_kph, **{k: float(v) for k, v in opts.get("maxspeed_kph", {}).items()}},
        lanes_per_direction={**p.lanes_per_direction,
                             **{k: int(v) for k, v in opts.get("lanes_per_direction", {}).items()}},
        sidewalk_width_m=float(opts.get("sidewalk_width_m", p.sidewalk_width_m)),
        sidewalk=str(opts.get("sidewalk", "both")),
        bike_lanes_on_roads=int(opts.get("bike_lanes_on_roads", p.bike_lanes_on_roads)),
        width_m={**p.width_m, **{k: float(v) for k, v in opts.get("width_m", {}).items()}},
        zone_kph=dict(p.zone_kph), overridden=overridden)
