"""Write maps/bund.osm: citytwin's own hand-drawn OpenStreetMap (0.6) map of the Bund, Shanghai.

Run ``python maps/build_bund_map.py``.  Standard library only; the output is byte-identical on every
run.  Every coordinate below comes from the public figures in ``docs/sources.md`` (intersections
with Zhongshan East 1st Road) and the street spacings listed in ``maps/README.md``; nothing is taken
from OpenStreetMap data.  Tag conventions are described in ``maps/README.md``.

How to edit: points are declared with :func:`point` (lat, lon) or :func:`bund` (a latitude on the
Bund road and a sideways offset in metres, + east towards the river), ways with :func:`way`
(name, [point keys], tags).  The script checks names, ids and walk connectivity before writing.
"""

from __future__ import annotations

import math
from pathlib import Path
import osm_xml  # maps/osm_xml.py, the shared writer

OUT_PATH = Path(__file__).with_name("bund.osm")
M_PER_DEG_LAT = 110_900.0  # metres per degree of latitude
M_PER_DEG_LON = 95_100.0   # metres per degree of longitude at 31.24 N

# Centreline of the Bund road, north to south (docs/sources.md "Public reports on the Bund").  Nanjing East
# Road meets it at Chen Yi Square (~31.2405); south of Yan'an East Road the road is Zhongshan East
# 2nd Road, drawn on as a gentle extrapolation of the curve (an assumption, see README).
BUND_ROAD = [  # (key, lat, lon)
    ("waibaidu", 31.2448, 121.4856),
    ("beijing", 31.2426, 121.4859),
    ("dianchi", 31.2413, 121.4855),
    ("nanjing", 31.2405, 121.4856),
    ("jiujiang", 31.2399, 121.4857),
    ("hankou", 31.2389, 121.4858),
    ("fuzhou", 31.2376, 121.4860),
    ("guangdong", 31.2364, 121.4867),
    ("yanan", 31.2353, 121.4874),
    ("south_1", 31.2335, 121.4884),
    ("south_end", 31.2313, 121.4893),
]
CROSS_LAT = {key: lat for key, lat, _ in BUND_ROAD}

# Streets behind the Bund as straight lines lon(lat) (brief: Henan 121.4810 at 31.238 and 121.4790
# at 31.243; Sichuan ~121.4830, Jiangxi ~121.4845, Yuanmingyuan ~121.4850).
STREET_LON = {
    "henan": lambda lat: 121.4810 - 0.4 * (lat - 31.238),
    "sichuan": lambda lat: 121.4830 - 0.2 * (lat - 31.240),
    "jiangxi": lambda lat: 121.4845 - 0.1 * (lat - 31.240),
    "yuanmingyuan": lambda lat: 121.4850 - 0.1 * (lat - 31.2426),
}
WEST_SIDEWALK_M, EAST_SIDEWALK_M, SQUARE_M = -15.0, 17.0, 35.0  # offsets from the road centreline
NORTH_LAT, HENAN_SOUTH_LAT, WEST_STUB_M = 31.2446, 31.2343, 70.0

POINTS: dict[str, tuple[float, float]] = {}   # key -> (lat, lon), in declaration order
NODE_TAGS: dict[str, dict[str, str]] = {}
WAYS: list[tuple[str, list[str], dict[str, str]]] = []


def point(key: str, lat: float, lon: float, **tags: str) -> str:
    """Declare point ``key`` (an internal handle); ``tags`` become node tags (entries, exits, stops)."""
    if key in POINTS:
        raise ValueError(f"point {key!r} declared twice")
    POINTS[key] = (round(lat, 7), round(lon, 7))
    if tags:
        NODE_TAGS[key] = {k.replace("__", ":"): str(v) for k, v in tags.items()}
    return key


def _road_normals() -> list[tuple[float, float]]:
    """Unit normals (east_m, north_m) of the Bund road at its vertices, pointing east (to the river).

    Each vertex takes the mean of its two segments' normals, so offsets follow the curve smoothly.
    """
    seg = []
    for (_, la1, lo1), (_, la2, lo2) in zip(BUND_ROAD, BUND_ROAD[1:]):
        dx, dy = (lo2 - lo1) * M_PER_DEG_LON, (la2 - la1) * M_PER_DEG_LAT
        length = math.hypot(dx, dy)
        seg.append((-dy / length, dx / length))  # heading south -> points east
    return [seg[0]] + [((a[0] + b[0]) / 2, (a[1] + b[1]) / 2) for a, b in zip(seg, seg[1:])] + [seg[-1]]


ROAD_NORMALS = _road_normals()


def bund(key: str, lat: float, offset_m: float, **tags: str) -> str:
    """Declare a point ``offset_m`` metres beside the Bund road centreline (+ east) at ``lat``.

    The centreline point and the normal are interpolated between the table's vertices (the end
    segments are extrapolated beyond the table).
    """
    i = 0
    while i < len(BUND_ROAD) - 2 and lat < BUND_ROAD[i + 1][1]:
        i += 1
    (_, la1, lo1), (_, la2, lo2) = BUND_ROAD[i], BUND_ROAD[i + 1]
    f = (la1 - lat) / (la1 - la2)
    fc = min(max(f, 0.0), 1.0)
    (ax, ay), (bx, by) = ROAD_NORMALS[i], ROAD_NORMALS[i + 1]
    nx, ny = ax + fc * (bx - ax), ay + fc * (by - ay)
    norm = math.hypot(nx, ny)
    lon = lo1 + f * (lo2 - lo1)
    return point(key, lat + ny / norm * offset_m / M_PER_DEG_LAT, lon + nx / norm * offset_m / M_PER_DEG_LON,
                 **tags)


def street(key: str, line: str, lat: float, **tags: str) -> str:
    """Declare a point on street ``line`` (a key of STREET_LON) at ``lat``."""
    return point(key, lat, STREET_LON[line](lat), **tags)


def east_of(key: str, base: str, metres: float, **tags: str) -> str:
    """Declare a point ``metres`` east (negative: west) of point ``base``, same latitude."""
    lat, lon = POINTS[base]
    return point(key, lat, lon + metres / M_PER_DEG_LON, **tags)


def exit_tags(ref: int, width: int) -> dict[str, str]:
    """Node tags of metro exit ``ref`` of East Nanjing Road station."""
    return dict(railway="subway_entrance", ref=str(ref), name=f"East Nanjing Road Station Exit {ref}",
                covered="yes", width=str(width))


def way(name: str, keys: list[str], **tags: str) -> None:
    """Declare a way.  Tag keywords use ``__`` for ``:`` (``lanes__forward`` -> ``lanes:forward``)."""
    WAYS.append((name, keys, {k.replace("__", ":"): str(v) for k, v in tags.items()}))


def walk(name: str, keys: list[str], highway: str, width: float, **tags: str) -> None:
    """A way people walk on: always carries width and (unless given) covered=no."""
    tags.setdefault("covered", "no")
    way(name, keys, highway=highway, width=f"{width:g}", **tags)


# ---------------------------------------------------------------- the Bund road and its sidewalks
for key, lat, lon in BUND_ROAD:
    point(f"road_{key}", lat, lon)
ROAD_TAGS = dict(highway="primary", lanes="6", lanes__forward="3", lanes__backward="3", maxspeed="50",
                 oneway="no", sidewalk="separate", foot="no")
road_keys = [f"road_{k}" for k, _, _ in BUND_ROAD]
way("Zhongshan East 1st Road", road_keys[:9], **ROAD_TAGS)
way("Zhongshan East 2nd Road", road_keys[8:], **ROAD_TAGS)

# Sidewalks: a node at every cross street (where each sidewalk is split into ways) plus extra nodes
# in between (bus stops, links to squares, stairs).  Extra nodes: lat -> node tags.
SPLIT_AT = [k for k, _, _ in BUND_ROAD if k != "south_1"]
BUS_STOP = dict(highway="bus_stop", covered="yes")
SIDEWALK_EXTRA = {
    "ws": {31.2437: dict(BUS_STOP, name="Waibaidu Bridge bus stop"),
           31.2383: dict(BUS_STOP, name="Hankou Road bus stop"), 31.2343: {}, 31.2333: {}, 31.2323: {}},
    "es": {31.2436: dict(BUS_STOP, name="Huangpu Park bus stop"), 31.2371: {},
           31.2343: dict(BUS_STOP, name="Yan'an East Road bus stop"), 31.2333: {}, 31.2324: {}},
}
SIDEWALK_END_TAGS = {"ws_waibaidu": dict(entrance="yes", name="Entry Waibaidu Bridge"),
                     "es_south_end": dict(entrance="yes", name="Entry South Bund")}
WEST_COVERED_FROM = {"dianchi", "jiujiang", "guangdong"}  # arcade/canopy stretches south of these
for side, label, offset in (("ws", "west", WEST_SIDEWALK_M), ("es", "east", EAST_SIDEWALK_M)):
    nodes = [(CROSS_LAT[c], f"{side}_{c}") for c in SPLIT_AT]
    nodes += [(lat, f"{side}_{round(lat * 1e4) % 10000}") for lat in SIDEWALK_EXTRA[side]]
    nodes.sort(reverse=True)  # north to south
    for lat, key in nodes:
        bund(key, lat, offset, **SIDEWALK_END_TAGS.get(key, SIDEWALK_EXTRA[side].get(lat, {})))
    keys = [key for _, key in nodes]
    splits = [keys.index(f"{side}_{c}") for c in SPLIT_AT]
    for start, a, b in zip(SPLIT_AT, splits, splits[1:]):
        road = "Zhongshan East 2nd Road" if start == "yanan" else "Zhongshan East 1st Road"
        covered = "yes" if side == "ws" and start in WEST_COVERED_FROM else "no"
        width = 8 if side == "ws" else (10 if start == "waibaidu" else 12)
        walk(f"{road} {label} sidewalk", keys[a:b + 1], "footway", width, footway="sidewalk",
             covered=covered)

# Crossings of the Bund road: three underpasses, four signalised surface crossings.
for name, cross in (("Dianchi Road", "dianchi"), ("Hankou Road", "hankou"),
                    ("Guangdong Road", "guangdong"), ("Yan'an East Road", "yanan")):
    walk(f"{name} crossing", [f"ws_{cross}", f"es_{cross}"], "footway", 5, footway="crossing",
         crossing="traffic_signals")

# ------------------------------------------------------------- squares between road and flood wall
SQUARES = {  # zone: (name, width, [lats of its nodes, north to south])
    "huangpu_park": ("Huangpu Park", 50, [31.2446, 31.2441, 31.2436]),
    "chen_yi_square": ("Chen Yi Square", 45, [31.2410, 31.2405, 31.2400]),
    "fuzhou_road_financial_square": ("Fuzhou Road financial square", 35, [31.2379, 31.2376, 31.2371]),
    "yanan_road_square": ("Yan'an Road square", 30, [31.2356, 31.2352, 31.2348]),
}
for zone, (name, width, lats) in SQUARES.items():
    keys = [bund(f"{zone}_{i}", lat, SQUARE_M) for i, lat in enumerate(lats)]
    walk(name, keys, "pedestrian", width, zone=zone)
SQUARE_LINKS = [  # (name, east-sidewalk point, square point)
    ("Huangpu Park north link", "es_waibaidu", "huangpu_park_0"),
    ("Huangpu Park south link", "es_2436", "huangpu_park_2"),
    ("Chen Yi Square north link", "es_dianchi", "chen_yi_square_0"),
    ("Chen Yi Square south link", "es_jiujiang", "chen_yi_square_2"),
    ("Fuzhou Road square link", "es_fuzhou", "fuzhou_road_financial_square_1"),
    ("Fuzhou Road square south link", "es_2371", "fuzhou_road_financial_square_2"),
    ("Yan'an Road square link", "es_yanan", "yanan_road_square_1"),
]
for name, a, b in SQUARE_LINKS:
    walk(name, [a, b], "footway", 10)

walk("Beijing East Road underpass", ["ws_beijing", "es_beijing"], "footway", 6, tunnel="yes",
     layer="-1", covered="yes")
walk("Nanjing East Road underpass", ["ws_nanjing", "chen_yi_square_1"], "footway", 6, tunnel="yes",
     layer="-1", covered="yes")
walk("Fuzhou Road underpass", ["ws_fuzhou", "fuzhou_road_financial_square_1"], "footway", 6,
     tunnel="yes", layer="-1", covered="yes")

# ------------------------------------------------------ the flood-wall promenade (raised platform)
PROMENADE = [  # (key, lat, metres east of the road centreline)
    ("prom_north_end", 31.2452, 65), ("prom_huangpu_park", 31.2441, 60), ("prom_2433", 31.2433, 55),
    ("prom_beijing", 31.2426, 50), ("prom_2419", 31.2419, 50), ("prom_dianchi", 31.2413, 50),
    ("prom_chen_yi", 31.2405, 50), ("prom_jiujiang", 31.2397, 50), ("prom_hankou", 31.2388, 50),
    ("prom_2382", 31.2382, 50), ("prom_fuzhou", 31.2376, 50), ("prom_fuzhou_ramp", 31.2368, 50),
    ("prom_guangdong", 31.2362, 50), ("prom_yanan", 31.2351, 50), ("prom_2342", 31.2342, 50),
    ("prom_south_ramp", 31.2332, 50), ("prom_south_stairs", 31.2323, 50), ("prom_south_end", 31.2313, 50),
]
for key, lat, offset in PROMENADE:
    bund(key, lat, offset)
# Ways by section and width (m), wider at Huangpu Park and Chen Yi Square; all covered=no (walk()).
PROMENADE_WAYS = [  # (section, width m, first key, last key)
    ("north", 40, "prom_north_end", "prom_huangpu_park"),
    ("north", 34, "prom_huangpu_park", "prom_beijing"),
    ("centre", 28, "prom_beijing", "prom_dianchi"),
    ("centre", 38, "prom_dianchi", "prom_jiujiang"),
    ("centre", 30, "prom_jiujiang", "prom_fuzhou"),
    ("south", 32, "prom_fuzhou", "prom_yanan"),
    ("south", 26, "prom_yanan", "prom_south_end"),
]
prom_keys = [k for k, _, _ in PROMENADE]
for section, width, first, last in PROMENADE_WAYS:
    keys = prom_keys[prom_keys.index(first):prom_keys.index(last) + 1]
    walk("Bund Promenade", keys, "pedestrian", width, zone="promenade", layer="1", section=section)

STAIRS = [  # (name, street-level point, platform point, width m); drawn upwards
    ("Huangpu Park stairs", "huangpu_park_1", "prom_huangpu_park", 8),
    ("Beijing East Road stairs", "es_beijing", "prom_beijing", 8),
    ("Dianchi Road stairs", "es_dianchi", "prom_dianchi", 5),
    ("Chen Yi Square stairs", "chen_yi_square_1", "prom_chen_yi", 6),
    ("Jiujiang Road stairs", "chen_yi_square_2", "prom_jiujiang", 5),
    ("Hankou Road stairs", "es_hankou", "prom_hankou", 5),
    ("Fuzhou Road stairs", "fuzhou_road_financial_square_1", "prom_fuzhou", 8),
    ("Guangdong Road stairs", "es_guangdong", "prom_guangdong", 5),
    ("Yan'an Road square stairs", "yanan_road_square_1", "prom_yanan", 8),
    ("South Bund stairs", "es_2324", "prom_south_stairs", 6),
]
for name, low, high, width in STAIRS:
    walk(name, [low, high], "steps", width, incline="up")
RAMPS = [
    ("Huangpu Park ramp", "huangpu_park_0", "prom_north_end", 5),
    ("Fuzhou Road ramp", "fuzhou_road_financial_square_2", "prom_fuzhou_ramp", 4),
    ("South Bund ramp", "es_2333", "prom_south_ramp", 4),
]
for name, low, high, width in RAMPS:
    walk(name, [low, high], "footway", width, ramp="yes", incline="up")

# ------------------------------------------------------------------------ streets behind the Bund
EW = {"beijing": 31.2426, "dianchi": 31.2413, "nanjing": 31.2405, "jiujiang": 31.2399,
      "hankou": 31.2389, "fuzhou": 31.2376, "guangdong": 31.2364, "yanan": 31.2353}
for ns in ("henan", "sichuan", "jiangxi"):
    for ew, lat in EW.items():
        if not (ns == "henan" and ew == "dianchi"):  # Dianchi Rd ends at Middle Sichuan Rd
            street(f"{ns}_x_{ew}", ns, lat)
street("yuanmingyuan_x_beijing", "yuanmingyuan", EW["beijing"])
for ns in ("sichuan", "jiangxi", "yuanmingyuan"):
    street(f"{ns}_north_end", ns, NORTH_LAT)
street("henan_north_end", "henan", NORTH_LAT + 0.0001, entrance="yes", name="Entry Middle Henan Road north")
street("henan_south_end", "henan", HENAN_SOUTH_LAT, entrance="yes", name="Entry Middle Henan Road south")
for ew, label in (("beijing", "Beijing East Road"), ("fuzhou", "Fuzhou Road"), ("yanan", "Yan'an East Road")):
    east_of(f"{ew}_west_end", f"henan_x_{ew}", -WEST_STUB_M, entrance="yes", name=f"Entry {label}")

# East Nanjing Road station (Lines 2 and 10): exits placed by the street grid around Nanjing E x Henan.
east_of("nanjing_exit_1", "henan_x_nanjing", 40, **exit_tags(1, 6))
east_of("nanjing_exit_2", "henan_x_nanjing", 110, **exit_tags(2, 5))
street("henan_exit_3", "henan", EW["nanjing"] + 55 / M_PER_DEG_LAT, **exit_tags(3, 5))
street("henan_exit_4", "henan", EW["nanjing"] + 130 / M_PER_DEG_LAT, **exit_tags(4, 4))
street("henan_exit_5", "henan", EW["nanjing"] - 50 / M_PER_DEG_LAT, **exit_tags(5, 5))
east_of("nanjing_exit_6", "henan_x_nanjing", -45, **exit_tags(6, 6))
street("henan_exit_7", "henan", EW["nanjing"] - 140 / M_PER_DEG_LAT, **exit_tags(7, 4))
east_of("nanjing_west_end", "henan_x_nanjing", -85, entrance="yes", name="Entry East Nanjing Road")

# Arcade passages: sheltered links from East Nanjing Road south to Jiujiang Road.
for side, lon in (("east", 121.4837), ("west", 121.4822)):
    point(f"nanjing_arcade_{side}", EW["nanjing"], lon)
    point(f"jiujiang_arcade_{side}", EW["jiujiang"], lon)
    walk(f"Arcade passage {side}", [f"nanjing_arcade_{side}", f"jiujiang_arcade_{side}"], "footway", 4,
         covered="yes")

walk("East Nanjing Road", ["ws_nanjing", "jiangxi_x_nanjing", "nanjing_arcade_east", "sichuan_x_nanjing",
                           "nanjing_arcade_west", "nanjing_exit_2", "nanjing_exit_1", "henan_x_nanjing"],
     "pedestrian", 20)
walk("East Nanjing Road", ["henan_x_nanjing", "nanjing_exit_6", "nanjing_west_end"], "pedestrian", 20)

SIDEWALKS = dict(maxspeed="40", sidewalk="both", sidewalk__width="3")
# Cross streets, drawn in their driving direction when one-way (directions: project assumption).
way("Beijing East Road", ["beijing_west_end", "henan_x_beijing", "sichuan_x_beijing", "jiangxi_x_beijing",
                          "yuanmingyuan_x_beijing", "ws_beijing", "road_beijing"],
    highway="secondary", lanes="4", oneway="no", **SIDEWALKS)
way("Dianchi Road", ["sichuan_x_dianchi", "jiangxi_x_dianchi", "ws_dianchi", "road_dianchi"],
    highway="residential", lanes="1", oneway="yes", **SIDEWALKS)
way("Jiujiang Road", ["road_jiujiang", "ws_jiujiang", "jiangxi_x_jiujiang", "jiujiang_arcade_east",
                      "sichuan_x_jiujiang", "jiujiang_arcade_west", "henan_x_jiujiang"],
    highway="tertiary", lanes="2", oneway="yes", **SIDEWALKS)
way("Hankou Road", ["henan_x_hankou", "sichuan_x_hankou", "jiangxi_x_hankou", "ws_hankou", "road_hankou"],
    highway="tertiary", lanes="2", oneway="yes", **SIDEWALKS)
way("Fuzhou Road", ["road_fuzhou", "ws_fuzhou", "jiangxi_x_fuzhou", "sichuan_x_fuzhou", "henan_x_fuzhou",
                    "fuzhou_west_end"], highway="tertiary", lanes="2", oneway="yes", **SIDEWALKS)
way("Guangdong Road", ["henan_x_guangdong", "sichuan_x_guangdong", "jiangxi_x_guangdong", "ws_guangdong",
                       "road_guangdong"], highway="tertiary", lanes="2", oneway="yes", **SIDEWALKS)
way("Yan'an East Road", ["yanan_west_end", "henan_x_yanan", "sichuan_x_yanan", "jiangxi_x_yanan",
                         "ws_yanan", "road_yanan"], highway="secondary", lanes="6", oneway="no", **SIDEWALKS)
# North-south streets (Middle Sichuan Rd northbound, Middle Jiangxi Rd southbound).
ew_order = list(EW)
way("Middle Henan Road", ["henan_north_end", "henan_x_beijing", "henan_exit_4", "henan_exit_3",
                          "henan_x_nanjing", "henan_exit_5", "henan_x_jiujiang", "henan_exit_7",
                          "henan_x_hankou", "henan_x_fuzhou", "henan_x_guangdong", "henan_x_yanan",
                          "henan_south_end"], highway="secondary", lanes="4", oneway="no", **SIDEWALKS)
way("Middle Sichuan Road", [f"sichuan_x_{ew}" for ew in reversed(ew_order)] + ["sichuan_north_end"],
    highway="tertiary", lanes="2", oneway="yes", **SIDEWALKS)
way("Middle Jiangxi Road", ["jiangxi_north_end"] + [f"jiangxi_x_{ew}" for ew in ew_order],
    highway="tertiary", lanes="2", oneway="yes", **SIDEWALKS)
way("Yuanmingyuan Road", ["yuanmingyuan_north_end", "yuanmingyuan_x_beijing"],
    highway="residential", lanes="2", oneway="no", **SIDEWALKS)


# ------------------------------------------------ Chen Yi Square stairs drawn as areas (2D hotspot)
def stair_areas(name: str, low: str, high: str, width_m: float, parts: list[tuple[str, float]]) -> None:
    """The surface of stairway ``name`` (the way from ``low`` up to ``high``) as closed ways, one per
    flight (``area:highway=steps``) and landing (``area:highway=pedestrian``), ``parts`` in order from
    the foot with their plan lengths, centred on the way; neighbours share their edge's nodes.  These
    are OSM's outlines of a highway's surface: the loader keeps them out of the walk network and
    ``sim.hotspot.osm_areas`` draws a 2D hotspot from them."""
    (la, lo), (lb, lob) = POINTS[low], POINTS[high]
    east, north = (lob - lo) * M_PER_DEG_LON, (lb - la) * M_PER_DEG_LAT
    length = math.hypot(east, north)
    ux, uy = east / length, north / length           # along the way, upwards
    vx, vy = -uy, ux                                 # across, to the left going up
    cut = (length - sum(m for _, m in parts)) / 2
    cuts = [cut]
    for _, m in parts:
        cuts.append(cuts[-1] + m)
    keys = []
    for k, s_m in enumerate(cuts):
        row = []
        for side in (-1, 1):
            x, y = ux * s_m + vx * side * width_m / 2, uy * s_m + vy * side * width_m / 2
            row.append(point(f"{low}_area_{k}_{'lr'[side > 0]}", la + y / M_PER_DEG_LAT, lo + x / M_PER_DEG_LON))
        keys.append(row)
    n_flight = n_landing = 0
    for k, (kind, _) in enumerate(parts):
        if kind == "flight":
            n_flight += 1
            label, tags = f"{name}, flight {n_flight}", dict(area__highway="steps", incline="up")
        else:
            n_landing += 1
            label, tags = f"{name}, landing {n_landing}", dict(area__highway="pedestrian")
        (l0, r0), (l1, r1) = keys[k], keys[k + 1]
        way(label, [l0, r0, r1, l1, l0], **tags)


# The flights and landing of the Chen Yi Square stairs (two flights and a landing under 20 m2, as
# described for 31 December 2014; plan lengths as scenarios/bund_newyear_stairs.toml uses them).
stair_areas("Chen Yi Square stairs", "chen_yi_square_1", "prom_chen_yi", 6.0,
            [("flight", 2.7), ("landing", 3.0), ("flight", 2.4)])


# -------------------------------------------------------------------------------- checks, output
def metres(a: str, b: str) -> float:
    (la1, lo1), (la2, lo2) = POINTS[a], POINTS[b]
    return math.hypot((la2 - la1) * M_PER_DEG_LAT, (lo2 - lo1) * M_PER_DEG_LON)


FOOT_HIGHWAYS = ("footway", "pedestrian", "steps")


def is_walkable(tags: dict[str, str]) -> bool:
    """Walkable as the loader sees it: a foot way, or a road with sidewalks on both sides."""
    return tags.get("highway") in FOOT_HIGHWAYS or tags.get("sidewalk") == "both"


def check() -> None:
    """Raise ValueError listing every problem: unused points, duplicate names, bad width, split walk."""
    problems = []
    used = {k for _, keys, _ in WAYS for k in keys}
    problems += [f"point {k!r} is on no way" for k in POINTS if k not in used]
    problems += [f"way {n!r} uses undeclared point {k!r}"
                 for n, keys, _ in WAYS for k in keys if k not in POINTS]
    names = [t["name"] for t in NODE_TAGS.values() if "name" in t]
    problems += [f"node name {n!r} is not unique" for n in sorted(set(names)) if names.count(n) > 1]
    problems += [f"walkable way {n!r} has no width" for n, _, t in WAYS
                 if is_walkable(t) and "width" not in t and t.get("sidewalk") != "both"]
    road_nodes = {k for _, keys, t in WAYS if t.get("sidewalk") == "separate" for k in keys}
    foot_nodes = {k for _, keys, t in WAYS if t.get("highway") in FOOT_HIGHWAYS for k in keys}
    problems += [f"footway shares node {k!r} with a sidewalk=separate road" for k in road_nodes & foot_nodes]
    parent = {k: k for _, keys, t in WAYS if is_walkable(t) for k in keys}

    def find(k: str) -> str:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for _, keys, tags in WAYS:
        if is_walkable(tags):
            for a, b in zip(keys, keys[1:]):
                parent[find(a)] = find(b)
    parts = {find(k) for k in parent}
    if len(parts) != 1:
        problems.append(f"walk network has {len(parts)} connected components, expected 1")
    if problems:
        raise ValueError("bund map is inconsistent:\n  " + "\n  ".join(problems))


def to_xml() -> str:
    return osm_xml.to_xml(POINTS, NODE_TAGS, [(keys, {**tags, "name": name}) for name, keys, tags in WAYS],
                          "citytwin maps/build_bund_map.py")


def main() -> None:
    check()
    OUT_PATH.write_text(to_xml(), encoding="utf-8")
    total_m2 = 0.0
    for section in ("north", "centre", "south"):
        length = area = 0.0
        for _, keys, tags in WAYS:
            if tags.get("zone") == "promenade" and tags["section"] == section:
                seg = sum(metres(a, b) for a, b in zip(keys, keys[1:]))
                length, area = length + seg, area + seg * float(tags["width"])
        total_m2 += area
        print(f"promenade {section:6s}: {length:6.0f} m, {area:7.0f} m2")
    print(f"promenade total area: {total_m2:.0f} m2")
    print(f"wrote {OUT_PATH} ({len(POINTS)} nodes, {len(WAYS)} ways)")


if __name__ == "__main__":
    main()
