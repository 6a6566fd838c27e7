"""Build ``maps/rimea.osm``: the geometries of the RiMEA test cases (and a few more validation
geometries, prefix ``V``) as a walk network.

RiMEA (Richtlinie fuer Mikroskopische Entfluchtungsanalysen, version 3.0, 2016) describes its tests
as rooms, corridors, doors and stairs.  A network model represents each as links with a length and
a width: a room is one or more wide links from its middle to its doors, a door a 1 m link of
length 1 m, a corridor a link of its width.  Every test's geometry sits in its own part of the map
(node names start with the test number, e.g. ``T9 door 1``); ``scenarios/rimea/*.toml`` run them
and ``tests/validation/`` checks them (what a network cannot represent is said in each test).

    python maps/build_rimea_map.py

(standard library only; the output is byte-identical on every run).  (c) citytwin contributors;
not derived from OpenStreetMap data.
"""

from __future__ import annotations

import math
from pathlib import Path

import osm_xml  # maps/osm_xml.py, the shared writer

ORIGIN = (31.20, 121.40)           # an empty spot; only distances matter
M_PER_DEG_LAT = 111_132.0
POINTS: dict[str, tuple[float, float]] = {}
NODE_TAGS: dict[str, dict[str, str]] = {}
WAYS: list[tuple[list[str], dict[str, str]]] = []


def point(key: str, east_m: float, north_m: float, **tags: str) -> str:
    """A node at (east, north) metres from the origin, named ``key``."""
    lat = ORIGIN[0] + north_m / M_PER_DEG_LAT
    lon = ORIGIN[1] + east_m / (M_PER_DEG_LAT * math.cos(math.radians(ORIGIN[0])))
    POINTS[key] = (lat, lon)
    NODE_TAGS[key] = {"name": key, **tags}
    return key


def way(name: str, keys: list[str], width_m: float, highway: str = "footway", **tags: str) -> None:
    WAYS.append((keys, {"highway": highway, "name": name, "width": f"{width_m:g}", **tags}))


def stairs(name: str, keys: list[str], width_m: float, up: bool) -> None:
    way(name, keys, width_m, highway="steps", incline="up" if up else "down")


def build() -> None:
    # T1: one person, 40 m x 2 m corridor (a 0.5 m pad where the person starts).
    x = 0.0
    way("T1 start", [point("T1 start", x, 0), point("T1 a", x + 0.5, 0)], 2)
    way("T1 corridor", ["T1 a", point("T1 exit", x + 40.5, 0)], 2)
    # T2 / T3: one person up / down a 10 m flight of stairs, 2 m wide.
    for test, up in (("T2", True), ("T3", False)):
        x += 100
        way(f"{test} start", [point(f"{test} start", x, 0), point(f"{test} foot", x + 0.5, 0)], 2)
        stairs(f"{test} stairs", [f"{test} foot", point(f"{test} exit", x + 10.5, 0)], 2, up)
    # T4: fundamental diagram, corridor 1,000 m x 10 m (RiMEA), drawn north-south out of the way.
    way("T4 corridor", [point("T4 start", x + 100, -100), point("T4 exit", x + 100, -1100)], 10)
    # T5: pre-movement, room 8 m x 5 m, a 1 m door in the middle of a short wall.
    x += 400
    way("T5 room", [point("T5 back", x, 0), point("T5 door", x + 8, 0)], 5)
    way("T5 doorway", ["T5 door", point("T5 exit", x + 9, 0)], 1)
    # T6: 20 people round a left corner, two legs 12 m x 2 m; they start on the first 6 m.
    x += 100
    way("T6 start", [point("T6 start", x, 0), point("T6 a", x + 6, 0)], 2)
    way("T6 leg 1", ["T6 a", point("T6 corner", x + 12, 0)], 2)
    way("T6 leg 2", ["T6 corner", point("T6 exit", x + 12, 12)], 2)
    # T7: speeds of age groups, a wide 50 m walkway (no interaction).
    x += 100
    way("T7 walkway", [point("T7 start", x, 0), point("T7 a", x + 1, 0)], 100)
    way("T7 track", ["T7 a", point("T7 exit", x + 51, 0)], 100)
    # T9: 1,000 people, room 30 m x 20 m, four 1 m doors near the corners of the long walls.
    # (a) doors on separate nodes: the room as four quarters (150 m2 each) from its middle to a door;
    x += 200
    mid = point("T9 middle", x + 15, 10)
    for k, (dx, dy) in enumerate(((-1, -1), (1, -1), (-1, 1), (1, 1)), start=1):
        door = point(f"T9 door {k}", x + 15 + 10 * dx, 10 + 10 * dy)
        way(f"T9 quarter {k}", [mid, door], round(150 / math.hypot(10, 10), 3), room="T9")
        way(f"T9 doorway {k}", [door, point(f"T9 exit {k}", x + 15 + 11 * dx, 10 + 11 * dy)], 1)
    # (b) two doors on one node: the room as two halves (10 m x 30 m), each with two doors.
    x += 100
    mid = point("T9b middle", x + 15, 10)
    for half, dy in ((1, -1), (2, 1)):
        side = point(f"T9b side {half}", x + 15, 10 + 10 * dy)
        way(f"T9b half {half}", [mid, side], 30, room="T9b")
        for k, dx in ((2 * half - 1, -1), (2 * half, 1)):
            way(f"T9b doorway {k}", [side, point(f"T9b exit {k}", x + 15 + dx, 10 + 11 * dy)], 1)
    # T10: assigned exits; T11: exit choice.  A room 30 m x 20 m with two 1 m doors on its long wall, at
    # 21 m and 27 m from the left: 80% of the floor is nearer the first door.  The network gives each
    # door the part of the room nearer to it (480 m2 and 120 m2, people spread by area) and joins
    # the doors along the wall (6 m, 5 m wide), so people can change door.
    x += 100
    mid = point("T11 middle", x + 15, 10)
    near = point("T11 near door", x + 21, 20)
    far = point("T11 far door", x + 27, 20)
    way("T11 room near part", [mid, near], round(480 / math.hypot(6, 10), 3), room="T11")
    way("T11 room far part", [point("T11 far corner", x + 27, 10), far], 12, room="T11")
    way("T11 along the wall", [near, far], 5)
    way("T11 near doorway", [near, point("T11 near exit", x + 21, 21)], 1)
    way("T11 far doorway", [far, point("T11 far exit", x + 27, 21)], 1)
    # T12: room 1 (10 m x 10 m), 1 m door, corridor 5 m x 1 m, room 2 (10 m x 10 m), 1 m exit.
    x += 100
    way("T12 room 1", [point("T12 back", x, 0), point("T12 door 1", x + 10, 0)], 10, room="T12 room 1")
    way("T12 doorway 1", ["T12 door 1", point("T12 corridor start", x + 11, 0)], 1)
    way("T12 corridor", ["T12 corridor start", point("T12 corridor end", x + 16, 0)], 1)
    way("T12 room 2", ["T12 corridor end", point("T12 door 2", x + 26, 0)], 10, room="T12 room 2")
    way("T12 doorway 2", ["T12 door 2", point("T12 exit", x + 27, 0)], 1)
    # T13: room (8 m x 5 m), 2 m door, corridor 12 m x 2 m, a 2 m flight of stairs up (5 m).
    x += 100
    way("T13 room", [point("T13 back", x, 0), point("T13 door", x + 8, 0)], 5, room="T13")
    way("T13 doorway", ["T13 door", point("T13 corridor start", x + 9, 0)], 2)
    way("T13 corridor", ["T13 corridor start", point("T13 stairs foot", x + 21, 0)], 2)
    stairs("T13 stairs", ["T13 stairs foot", point("T13 exit", x + 26, 0)], 2, True)
    # T14: route choice: a short route over two flights (up 10 m, down 10 m) or a longer level one.
    x += 100
    way("T14 start", [point("T14 start", x, 0), point("T14 fork", x + 5, 0)], 3)
    stairs("T14 stairs up", ["T14 fork", point("T14 landing a", x + 15, 0)], 2, True)
    way("T14 landing", ["T14 landing a", point("T14 landing b", x + 20, 0)], 2)
    stairs("T14 stairs down", ["T14 landing b", point("T14 join", x + 30, 0)], 2, False)
    way("T14 level route", ["T14 fork", point("T14 around a", x + 5, 15), point("T14 around b", x + 30, 15),
                            "T14 join"], 2)
    way("T14 exit way", ["T14 join", point("T14 exit", x + 35, 0)], 3)
    # T15: 500 people wait in a 25 m x 10 m hall, then walk a corridor 2 m wide: straight 30 m,
    # straight 50 m, or 30 m + a left corner + 20 m.
    x += 100
    for k, (name, length) in enumerate((("short", 30), ("long", 50))):
        way(f"T15 {name} start", [point(f"T15 {name} start", x, 20 * k), point(f"T15 {name} a", x + 25, 20 * k)],
            10)
        way(f"T15 {name} corridor", [f"T15 {name} a", point(f"T15 {name} exit", x + 25 + length, 20 * k)], 2)
    way("T15 corner start", [point("T15 corner start", x, 40), point("T15 corner a", x + 25, 40)], 10)
    way("T15 corner leg 1", ["T15 corner a", point("T15 corner", x + 55, 40)], 2)
    way("T15 corner leg 2", ["T15 corner", point("T15 corner exit", x + 55, 60)], 2)

    # Further validation geometries (tests/validation/test_walking.py), prefix V.
    # V1: two-way flow, a corridor 100 m x 4 m between two halls of 20 m x 20 m.
    x += 200
    way("V1 west hall", [point("V1 west door", x, 0), point("V1 west end", x + 20, 0)], 20)
    way("V1 corridor", ["V1 west end", point("V1 east end", x + 120, 0)], 4)
    way("V1 east hall", ["V1 east end", point("V1 east door", x + 140, 0)], 20)
    way("V1 west doorway", [point("V1 west exit", x - 5, 0), "V1 west door"], 10)
    way("V1 east doorway", ["V1 east door", point("V1 east exit", x + 145, 0)], 10)
    # V2: a 3 m bottleneck (5 m long) in a 4 m corridor, fed from a hall of 30 m x 30 m.
    x += 200
    way("V2 hall", [point("V2 back", x, 0), point("V2 corridor start", x + 30, 0)], 30)
    way("V2 corridor", ["V2 corridor start", point("V2 bottleneck start", x + 60, 0)], 4)
    way("V2 bottleneck", ["V2 bottleneck start", point("V2 bottleneck end", x + 65, 0)], 3)
    way("V2 corridor after", ["V2 bottleneck end", point("V2 exit", x + 95, 0)], 4)
    # V3: an exit at the end of a 10 m wide way.
    x += 150
    way("V3 plaza", [point("V3 back", x, 0), point("V3 exit", x + 30, 0)], 10)


def main() -> None:
    build()
    out = Path(__file__).resolve().parent / "rimea.osm"
    out.write_text(osm_xml.to_xml(POINTS, NODE_TAGS, WAYS, generator="citytwin maps/build_rimea_map.py"),
                   encoding="utf-8")
    print(f"wrote {out} ({len(POINTS)} nodes, {len(WAYS)} ways)")


if __name__ == "__main__":
    main()
