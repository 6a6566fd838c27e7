"""Write maps/huangpu_crossing.osm: citytwin's own hand-drawn OpenStreetMap (0.6) map of two road
tunnels under the Huangpu next to the Bund (Renmin Road and Yan'an East Road) with their approach
streets on both banks, for the typhoon bike-convoy scenario.

Run ``python maps/build_crossing_map.py [OUTPUT]`` (default: ``maps/huangpu_crossing.osm``).  Standard
library only; the output is byte-identical on every run.  Coordinates are approximate WGS84 values
from ``docs/sources.md`` and from the street plan described in ``maps/README.md``; nothing is
taken from OpenStreetMap data.  Every drawing assumption is listed in ``maps/README.md``.

How to edit: points are rows of :data:`PUXI_POINTS` / :data:`PUDONG_POINTS` (key, lat, lon, node
tags), tunnel tubes rows of :data:`TUBES` (their interior points are listed inline), streets rows of
:data:`STREETS` (name, point keys in drawing order, tag set).  :func:`check` verifies names, ids,
tube lengths against the published figures, that only tubes cross the river, and that the two tubes
of a tunnel never cross each other, before anything is written.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
import osm_xml  # maps/osm_xml.py, the shared writer

OUT_PATH = Path(__file__).with_name("huangpu_crossing.osm")
EARTH_RADIUS_M = 6_371_009.0  # the radius osmnx uses for edge lengths (haversine)
RIVER_LON = 121.4930  # the Huangpu (not drawn) runs north-south across lon 121.4930 at these latitudes
TUBE_LENGTH_TOLERANCE = 0.01  # a tube's drawn length must match its published length within 1%

# Node tag sets.
SIGNALS = {"highway": "traffic_signals"}


def portal(tunnel: str, bank: str, direction: str) -> dict[str, str]:
    """Tags of a tube's portal node: ``entrance=tunnel_portal`` (kept by the loader) and a unique name,
    e.g. ``Renmin Road Tunnel west portal (eastbound in)``."""
    end = "in" if (bank == "west") == (direction == "eastbound") else "out"
    return {"entrance": "tunnel_portal", "name": f"{tunnel} {bank} portal ({direction} {end})"}


def place(name: str) -> dict[str, str]:
    """Tags of a named origin/destination node for demand."""
    return {"name": name}


# ------------------------------------------------------------------------- points: Puxi (west bank)
# Zhongshan East 1st Road intersections: docs/sources.md ("Public reports on the Bund"), as in bund.osm.
# Middle Henan / Middle Sichuan Road north of Yan'an East Road: the lines used by build_bund_map.py.
# Everything south of Yan'an East Road is the project's approximation (README, drawing assumptions).
PUXI_POINTS = [  # (key, lat, lon, node tags)
    ("bund_hankou", 31.2389, 121.4858, place("Puxi Bund offices")),
    ("bund_fuzhou", 31.2376, 121.4860, {}),
    ("bund_guangdong", 31.2364, 121.4867, {}),
    ("bund_yanan", 31.2353, 121.4874, SIGNALS),
    ("bund_2335", 31.2335, 121.4884, {}),
    ("bund_jinling", 31.2326, 121.4888, SIGNALS),
    ("bund_2311", 31.2311, 121.4894, {}),
    ("bund_renmin", 31.2296, 121.4900, SIGNALS),
    ("henan_x_fuzhou", 31.2376, 121.48116, {}),
    ("henan_x_guangdong", 31.2364, 121.48164, {}),
    ("henan_x_yanan", 31.2353, 121.48208, SIGNALS),
    ("henan_x_jinling", 31.2338, 121.4822, {}),
    ("henan_x_renmin", 31.2323, 121.4823, SIGNALS),
    ("sichuan_x_fuzhou", 31.2376, 121.48348, {}),
    ("sichuan_x_guangdong", 31.2364, 121.48372, {}),
    ("sichuan_x_yanan", 31.2353, 121.48394, SIGNALS),
    ("sichuan_x_jinling", 31.2337, 121.4842, {}),
    ("sichuan_x_renmin", 31.2318, 121.4845, SIGNALS),
    ("yanan_west_end", 31.2353, 121.4795, place("Puxi Yan'an Road homes")),
    ("yanan_portal_wb_out", 31.2353, 121.4858, portal("Yan'an East Road Tunnel", "west", "westbound")),
    ("yanan_portal_eb_in", 31.2353, 121.4864, portal("Yan'an East Road Tunnel", "west", "eastbound")),
    ("jinling_west_end", 31.2340, 121.4795, place("Puxi Jinling Road homes")),
    ("renmin_west_end", 31.2328, 121.4795, place("Puxi Renmin Road homes")),
    # docs/sources.md: "Renmin Rd tunnel west portal about 31.2314, 121.4856" (the eastbound entry here).
    ("renmin_portal_eb_in", 31.2314, 121.4856, portal("Renmin Road Tunnel", "west", "eastbound")),
    ("renmin_portal_wb_out", 31.231175, 121.4862, portal("Renmin Road Tunnel", "west", "westbound")),
    ("renmin_2305", 31.2305, 121.4880, {}),
]

# ---------------------------------------------------------------------- points: Pudong (Lujiazui)
# Lujiazui Ring Road drawn as an octagon around the central green; Century Avenue leaves it to the
# east-south-east, Pudong Avenue to the north-east, Yincheng Middle Road to the south.
PUDONG_POINTS = [
    ("ring_n", 31.2405, 121.5035, SIGNALS),
    ("ring_ne", 31.2398, 121.5062, {}),
    ("ring_e", 31.2378, 121.5074, place("Lujiazui offices")),
    ("ring_se", 31.2357, 121.5065, SIGNALS),
    ("ring_s", 31.2348, 121.5038, {}),
    ("ring_sw", 31.2355, 121.5010, SIGNALS),
    ("ring_w", 31.2376, 121.5001, {}),
    ("ring_nw", 31.2397, 121.5010, {}),
    # Century Avenue is the line lat = 31.2357 - 0.4 (lon - 121.5065) from ring_se.
    ("yanan_portal_wb_in", 31.23522, 121.5077, portal("Yan'an East Road Tunnel", "east", "westbound")),
    ("yanan_portal_eb_out", 31.23498, 121.5083, portal("Yan'an East Road Tunnel", "east", "eastbound")),
    ("pudong_s_x_century", 31.2333, 121.5125, SIGNALS),
    ("century_east_end", 31.2321, 121.5155, place("Century Avenue homes")),
    # Dongchang Road is the line lat = 31.2322 - 0.1875 (lon - 121.5016) from Yincheng Middle Road.
    ("yincheng_x_dongchang", 31.2322, 121.5016, SIGNALS),
    ("renmin_portal_eb_out", 31.230906, 121.5085, portal("Renmin Road Tunnel", "east", "eastbound")),
    ("renmin_portal_wb_in", 31.230794, 121.5091, portal("Renmin Road Tunnel", "east", "westbound")),
    ("pudong_s_x_dongchang", 31.2301, 121.5128, SIGNALS),
    ("dongchang_east_end", 31.2295, 121.5160, place("Dongchang Road homes")),
    ("pudong_ave_2416", 31.2416, 121.5065, {}),
    ("pudong_s_x_pudong_ave", 31.2425, 121.5118, SIGNALS),
    ("pudong_ave_east_end", 31.2431, 121.5155, place("Pudong Avenue homes")),
]

# ------------------------------------------------------------------------------------ tunnel tubes
# One one-way way per tube, portal to portal in the driving direction.  Interior points bend the
# alignment under the river so that its length matches the published figure (docs/sources.md, "Typhoon bike
# crossings"); the alignments themselves are invented.  North tubes carry westbound traffic, south
# tubes eastbound (right-hand traffic).
TUBES = [  # (tunnel, direction, published length m, first portal, [(lat, lon) interior], last portal)
    ("Renmin Road Tunnel", "eastbound", 2470, "renmin_portal_eb_in",
     [(31.2295, 121.4895), (31.23418, 121.4968), (31.2325, 121.5010)], "renmin_portal_eb_out"),
    ("Renmin Road Tunnel", "westbound", 2470, "renmin_portal_wb_in",
     [(31.2329, 121.5012), (31.23493, 121.4971), (31.2302, 121.4900)], "renmin_portal_wb_out"),
    ("Yan'an East Road Tunnel", "eastbound", 2207, "yanan_portal_eb_in",
     [(31.2350, 121.4890), (31.23796, 121.4960)], "yanan_portal_eb_out"),
    ("Yan'an East Road Tunnel", "westbound", 2261, "yanan_portal_wb_in",
     [(31.23896, 121.4963), (31.23555, 121.4893)], "yanan_portal_wb_out"),
]
TUNNEL_ZH = {"Renmin Road Tunnel": "人民路隧道", "Yan'an East Road Tunnel": "延安东路隧道"}
TUBE_TAGS = {"highway": "primary", "tunnel": "yes", "layer": "-1", "lanes": "2", "maxspeed": "40",
             "oneway": "yes", "bicycle": "no", "foot": "no"}


# ------------------------------------------------------------------------------ surface street tags
def road(highway: str, lanes: int, maxspeed: int, *, oneway: bool = False, cycleway: bool = True,
         sidewalk_m: int = 3) -> dict[str, str]:
    """Tags of a surface street: bikes allowed, sidewalks both sides, lanes split evenly if two-way."""
    tags = {"highway": highway, "lanes": str(lanes), "maxspeed": str(maxspeed),
            "oneway": "yes" if oneway else "no", "bicycle": "yes", "sidewalk": "both",
            "sidewalk:width": str(sidewalk_m)}
    if not oneway:
        tags["lanes:forward"] = tags["lanes:backward"] = str(lanes // 2)
    if cycleway:
        tags["cycleway"] = "lane"
    return tags


BUND_ROAD = road("primary", 6, 50, sidewalk_m=8)
CENTURY = road("primary", 8, 50)
AVENUE = road("secondary", 6, 40)
MAIN = road("secondary", 4, 40)
LOCAL = road("tertiary", 2, 40, cycleway=False)
LOCAL_ONEWAY = road("tertiary", 2, 40, oneway=True, cycleway=False)

STREETS = [  # (name, point keys in drawing order: one-way streets in their driving direction, tags)
    # Puxi
    ("Zhongshan East 1st Road", ["bund_hankou", "bund_fuzhou", "bund_guangdong", "bund_yanan"], BUND_ROAD),
    ("Zhongshan East 2nd Road", ["bund_yanan", "bund_2335", "bund_jinling", "bund_2311", "bund_renmin"],
     BUND_ROAD),
    ("Fuzhou Road", ["bund_fuzhou", "sichuan_x_fuzhou", "henan_x_fuzhou"], LOCAL_ONEWAY),
    ("Guangdong Road", ["henan_x_guangdong", "sichuan_x_guangdong", "bund_guangdong"], LOCAL_ONEWAY),
    ("Yan'an East Road", ["yanan_west_end", "henan_x_yanan", "sichuan_x_yanan", "yanan_portal_wb_out",
                          "yanan_portal_eb_in", "bund_yanan"], AVENUE),
    ("Jinling East Road", ["jinling_west_end", "henan_x_jinling", "sichuan_x_jinling", "bund_jinling"], MAIN),
    ("Renmin Road", ["renmin_west_end", "henan_x_renmin", "sichuan_x_renmin", "renmin_portal_eb_in",
                     "renmin_portal_wb_out", "renmin_2305", "bund_renmin"], MAIN),
    ("Middle Henan Road", ["henan_x_fuzhou", "henan_x_guangdong", "henan_x_yanan"], MAIN),
    ("Henan South Road", ["henan_x_yanan", "henan_x_jinling", "henan_x_renmin"], MAIN),
    ("Middle Sichuan Road", ["sichuan_x_yanan", "sichuan_x_guangdong", "sichuan_x_fuzhou"], LOCAL_ONEWAY),
    ("Sichuan South Road", ["sichuan_x_renmin", "sichuan_x_jinling", "sichuan_x_yanan"], LOCAL),
    # Pudong
    ("Lujiazui Ring Road", ["ring_n", "ring_ne", "ring_e", "ring_se", "ring_s"], MAIN),
    ("Lujiazui Ring Road", ["ring_s", "ring_sw", "ring_w", "ring_nw", "ring_n"], MAIN),
    ("Century Avenue", ["ring_se", "yanan_portal_wb_in", "yanan_portal_eb_out", "pudong_s_x_century",
                        "century_east_end"], CENTURY),
    ("Pudong Avenue", ["ring_n", "pudong_ave_2416", "pudong_s_x_pudong_ave", "pudong_ave_east_end"], AVENUE),
    ("Yincheng Middle Road", ["ring_sw", "yincheng_x_dongchang"], MAIN),
    ("Dongchang Road", ["yincheng_x_dongchang", "renmin_portal_eb_out", "renmin_portal_wb_in",
                        "pudong_s_x_dongchang", "dongchang_east_end"], MAIN),
    ("Pudong South Road", ["pudong_s_x_pudong_ave", "pudong_s_x_century", "pudong_s_x_dongchang"], MAIN),
]


# ------------------------------------------------------------------------------- assembly, checks
def haversine_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance (m) between two (lat, lon) points, as osmnx computes edge lengths."""
    (la1, lo1), (la2, lo2) = a, b
    y1, y2 = math.radians(la1), math.radians(la2)
    dx = math.radians(lo2 - lo1)
    h = math.sin((y2 - y1) / 2) ** 2 + math.cos(y1) * math.cos(y2) * math.sin(dx / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, h)))


def assemble() -> tuple[dict[str, tuple[float, float]], dict[str, dict[str, str]],
                        list[tuple[list[str], dict[str, str]]]]:
    """Points (key -> (lat, lon), in id order), node tags, and ways ([keys], tags) in id order."""
    points: dict[str, tuple[float, float]] = {}
    node_tags: dict[str, dict[str, str]] = {}
    duplicates = []
    for key, lat, lon, tags in PUXI_POINTS + PUDONG_POINTS:
        if key in points:
            duplicates.append(key)
        points[key] = (lat, lon)
        if tags:
            node_tags[key] = dict(tags)
    if duplicates:
        raise ValueError(f"points declared twice: {duplicates!r}")
    ways = [(keys, {**tags, "name": name}) for name, keys, tags in STREETS]
    for tunnel, direction, _, first, interior, last in TUBES:
        keys = [first]
        for i, (lat, lon) in enumerate(interior, start=1):
            key = f"{tunnel} {direction} {i}"
            points[key] = (lat, lon)
            keys.append(key)
        keys.append(last)
        ways.append((keys, {**TUBE_TAGS, "name": tunnel, "name:en": tunnel, "name:zh": TUNNEL_ZH[tunnel]}))
    return points, node_tags, ways


def _segments_cross(p1, p2, q1, q2) -> bool:
    def orient(a, b, c):
        return (b[1] - a[1]) * (c[0] - a[0]) - (b[0] - a[0]) * (c[1] - a[1])
    return (orient(p1, p2, q1) * orient(p1, p2, q2) < 0) and (orient(q1, q2, p1) * orient(q1, q2, p2) < 0)


def check(points, node_tags, ways) -> list[str]:
    """Every problem with the drawing (empty when it is consistent)."""
    problems = []
    used = {k for keys, _ in ways for k in keys}
    problems += [f"point {k!r} is on no way" for k in points if k not in used]
    problems += [f"way {t['name']!r} uses undeclared point {k!r}" for keys, t in ways for k in keys
                 if k not in points]
    names = [t["name"] for t in node_tags.values() if "name" in t]
    problems += [f"node name {n!r} is not unique" for n in sorted(set(names)) if names.count(n) > 1]
    tube_keys = set()
    for (keys, tags), (tunnel, direction, published_m, _, _, _) in zip(ways[len(STREETS):], TUBES):
        length_m = sum(haversine_m(points[a], points[b]) for a, b in zip(keys, keys[1:]))
        if abs(length_m - published_m) > TUBE_LENGTH_TOLERANCE * published_m:
            problems.append(f"{tunnel} {direction} tube is {length_m:.0f} m, published {published_m} m")
        first_west, last_west = (points[keys[0]][1] < RIVER_LON), (points[keys[-1]][1] < RIVER_LON)
        if first_west != (direction == "eastbound") or last_west == first_west:
            problems.append(f"{tunnel} {direction} tube does not run from one bank to the other as named")
        for end in (keys[0], keys[-1]):
            if node_tags.get(end, {}).get("entrance") != "tunnel_portal":
                problems.append(f"{tunnel} {direction} tube ends at {end!r}, which is not tagged as a portal")
        tube_keys.update(keys[1:-1])
    for keys, tags in ways[:len(STREETS)]:
        banks = {points[k][1] < RIVER_LON for k in keys}
        if len(banks) > 1:
            problems.append(f"street {tags['name']!r} crosses the river")
        problems += [f"street {tags['name']!r} touches tube point {k!r}" for k in keys if k in tube_keys]
    tubes = ways[len(STREETS):]
    for i, (a_keys, a_tags) in enumerate(tubes):
        for b_keys, b_tags in tubes[i + 1:]:
            for p in zip(a_keys, a_keys[1:]):
                for q in zip(b_keys, b_keys[1:]):
                    if _segments_cross(points[p[0]], points[p[1]], points[q[0]], points[q[1]]):
                        problems.append(f"tubes of {a_tags['name']!r} and {b_tags['name']!r} cross in plan")
    return problems


def to_xml(points, node_tags, ways) -> str:
    return osm_xml.to_xml(points, node_tags, ways, "citytwin maps/build_crossing_map.py")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", type=Path, default=OUT_PATH, help="where to write the .osm file")
    args = parser.parse_args(argv)
    points, node_tags, ways = assemble()
    problems = check(points, node_tags, ways)
    if problems:
        raise SystemExit("crossing map is inconsistent:\n  " + "\n  ".join(problems))
    args.output.write_bytes(to_xml(points, node_tags, ways).encode("utf-8"))
    for (keys, _), (tunnel, direction, published_m, _, _, _) in zip(ways[len(STREETS):], TUBES):
        length_m = sum(haversine_m(points[a], points[b]) for a, b in zip(keys, keys[1:]))
        print(f"{tunnel:24s} {direction:9s} {length_m:7.1f} m (published {published_m} m)")
    print(f"wrote {args.output} ({len(points)} nodes, {len(ways)} ways)")


if __name__ == "__main__":
    main()
