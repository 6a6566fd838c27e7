"""Our vehicle engine against SUMO: the same OSM network, the same trips, measured in one run.

    pip install -e ".[bench]"        # eclipse-sumo, libsumo, sumolib (optional extra); pip install uxsim
    python benchmarks/bench_vs_sumo.py [--trips N ...] [--minutes M] [--step S ...] [--csv FILE] [--workdir DIR]
                                       [--uxsim auto] [--uxsim-platoons 1 5]

For each size and step: ``bench_traffic.bench`` draws N random car/bus trips on the map (seeded),
runs our Numba IDM engine on them and exports them; the same trips (departure times, classes,
origin and destination junctions) are written as a SUMO trip file and run by SUMO (libsumo, in this
process) on a network that ``netconvert`` builds from the same OSM file.  SUMO routes each trip
itself when it loads it (``--sumo-routing duarouter`` pre-routes instead, timed separately).

With ``--uxsim auto`` UXsim runs too, on our road graph and the same trips (its C++ engine and its
Python one, at platoon size 1 and 5; see ``bench_vs_uxsim.py``): all engines measured in one run.

Vehicle-updates are vehicles on the road summed over steps: our engine's ``vehicle_updates``, and
the sum of SUMO's ``running`` over the steps of its ``--summary-output`` (vehicles waiting to be
inserted are counted by neither).  Wall times are the stepping only; set-up (map loading and
routing tables for us, ``netconvert`` and network loading for SUMO) is reported beside it.  Prints
one table with the ratios, writes CSV.  The two models differ (see ``DIFFERENCES``): read the ratio
as "cost per vehicle-update of two different microscopic models on the same demand".
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_traffic  # noqa: E402  (the trip generator and our engine's run)
import bench_vs_uxsim  # noqa: E402  (UXsim on the same network and trips)
from report import write_csv  # noqa: E402  (benchmarks/report.py)

from sim.core.osm import load_network  # noqa: E402
from sim.traffic.compile import DEFAULT_CLASSES  # noqa: E402

ROOT = bench_traffic.ROOT
SUMO_CLASS = {"car": "passenger", "bus": "bus"}

DIFFERENCES = """\
How the two runs differ (same map file, same trips; different models):
 - Network: ours is osmnx's simplified graph of the OSM ways; SUMO's is netconvert's (default OSM import,
   passenger/bus roads only, internal junction lanes, its own connections per lane).  Default speed limits and lane
   counts for ways without maxspeed/lanes tags are set to ours in both (a netconvert type map written here).
 - Vehicles: SUMO runs its IDM with our car/bus parameters (length, desired speed, a, b, s0, T, delta 4)
   unless --sumo-model krauss (SUMO's default Krauss model and vClass defaults).  SUMO's IDM integrates
   in sub-steps of 0.25 s (its 'stepping' default); ours integrates once per step.  Desired-speed spread:
   ours uniform +-10%, SUMO speedFactor normal(1, 0.058) (the same standard deviation).
 - Lanes: SUMO changes lanes (LC2013: strategic, cooperative, speed gain); ours picks the freest allowed
   lane on entering an edge and never changes lane within it.
 - Junctions: SUMO has internal lanes, right-of-way and foe checks, and netconvert's signal programs at
   OSM traffic_signals nodes; ours hands vehicles on at the edge end (higher road class first, room on the
   next lane) with two-phase fixed-time signals, no conflicts inside the junction.
 - Gridlock: SUMO teleports a vehicle stuck for --sumo-time-to-teleport s (300, its default) to a free place
   on its route ('teleports' below); ours never teleports (a jam stays a jam).
 - Routing: SUMO routes each trip once, when it is loaded, on free-flow times (unless --sumo-reroute-s);
   ours refreshes its next-hop tables every 300 s from measured speeds (parallel Dijkstra, in the wall time).
 - Insertion: both keep trips that cannot enter yet in a queue at their origin (not counted as updates);
   SUMO inserts with departLane=best, departSpeed=max; ours at the lane with most room at a safe speed.
 - Both run one simulation thread (our route refresh uses every core)."""


# --------------------------------------------------------------------------- SUMO availability
def sumo_missing() -> str | None:
    """Why SUMO cannot run here (None when eclipse-sumo, libsumo and sumolib are all importable)."""
    missing = []
    for module, package in (("sumo", "eclipse-sumo"), ("sumolib", "sumolib"), ("libsumo", "libsumo")):
        try:
            __import__(module)
        except ImportError:
            missing.append(package)
    if missing:
        return (f"{', '.join(missing)} not installed: pip install -e \".[bench]\" "
                f"(the optional SUMO extra) to run the SUMO side of the benchmark")
    return None


def _sumo_home() -> Path:
    import sumo
    return Path(sumo.SUMO_HOME)


def _binary(name: str) -> str:
    import sumolib
    return sumolib.checkBinary(name, str(_sumo_home() / "bin"))


def sumo_version() -> str:
    import libsumo
    return str(libsumo.getVersion()[1]).replace("SUMO ", "")


# --------------------------------------------------------------------------- network
def write_type_map(path: Path, defaults) -> Path:
    """netconvert's own OSM type map with the map's defaults profile (speed limits, lanes per
    direction; :mod:`sim.core.profiles`, as our loader used them) for ways that carry no tag."""
    tree = ET.parse(_sumo_home() / "data" / "typemap" / "osmNetconvert.typ.xml")
    for node in tree.getroot().iter("type"):
        tid = node.get("id", "")
        if not tid.startswith("highway.") or "|" in tid:
            continue
        highway = tid.split(".", 1)[1]
        if highway.removesuffix("_link") in defaults.maxspeed_kph:
            node.set("speed", f"{defaults.speed_kph(highway) / 3.6:.2f}")
            node.set("numLanes", str(defaults.lanes(highway)))
    tree.write(path)
    return path


def build_sumo_net(osm: Path, workdir: Path) -> tuple[Path, float]:
    """``netconvert`` the OSM file (passenger and bus roads only).  Returns the network and seconds."""
    net = workdir / f"{osm.stem}.net.xml"
    types = write_type_map(workdir / "osm_types_citytwin.typ.xml", load_network(osm).defaults)
    cmd = [_binary("netconvert"), "--osm-files", str(osm), "--type-files", str(types),
           "--keep-edges.by-vclass", "passenger,bus", "--remove-edges.isolated",
           "--output-file", str(net), "--no-warnings", "--log", str(workdir / "netconvert.log")]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return net, time.perf_counter() - t0


# --------------------------------------------------------------------------- demand
def read_trips(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        r["depart_s"] = float(r["depart_s"])
        for k in ("from_lon", "from_lat", "to_lon", "to_lat"):
            r[k] = float(r[k])
    return rows


def _trip_end(net, osm_id: str, lon: float, lat: float, vclass: str, origin: bool) -> tuple[dict, float, bool]:
    """Where one of our trip ends lies on SUMO's network, as trip attributes.

    Our trips run node to node.  netconvert keeps OSM node ids as junction ids, so a node that is a
    SUMO junction with a road for ``vclass`` leaving it (origin) or entering it (destination) becomes
    ``fromJunction`` / ``toJunction`` (SUMO picks the road, as our next-hop table does).  A node that
    SUMO keeps only as a bend of an edge (osmnx keeps some nodes netconvert does not) becomes the
    nearest edge allowing ``vclass`` (sumolib) and the position along it (``departPos`` /
    ``arrivalPos``).  Returns (attributes, distance from the point in m, found by OSM id)."""
    import sumolib
    if net.hasNode(osm_id):
        node = net.getNode(osm_id)
        edges = node.getOutgoing() if origin else node.getIncoming()
        if any(e.allows(vclass) for e in edges):
            return ({"fromJunction" if origin else "toJunction": osm_id}, 0.0, True)
    x, y = net.convertLonLat2XY(lon, lat)
    for radius in (25.0, 100.0, 400.0):
        near = sorted((t for t in net.getNeighboringEdges(x, y, radius) if t[0].allows(vclass)), key=lambda t: t[1])
        if near:
            edge, dist = near[0]
            shape = edge.getShape()
            offset = sumolib.geomhelper.polygonOffsetWithMinimumDistanceToPoint((x, y), shape)
            shape_len = sum(sumolib.geomhelper.distance(p, q) for p, q in zip(shape[:-1], shape[1:]))
            pos = min(max(offset * edge.getLength() / max(shape_len, 1e-9), 0.5), edge.getLength() - 0.5)
            attrs = ({"from": edge.getID(), "departPos": f"{pos:.2f}"} if origin
                     else {"to": edge.getID(), "arrivalPos": f"{pos:.2f}"})
            return attrs, float(dist), False
    raise RuntimeError(f"no SUMO road for {vclass} within 400 m of OSM node {osm_id} ({lon}, {lat})")


def map_trips(net_path: Path, trips: list[dict]) -> tuple[list[dict], dict]:
    """SUMO trip attributes for both ends of every trip, and how they were found."""
    import sumolib
    t0 = time.perf_counter()
    cache: dict[tuple, tuple[dict, float, bool]] = {}
    out = []
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*rtree.*")     # brute force is fine for a few hundred points
        net = sumolib.net.readNet(str(net_path))
        for r in trips:
            vclass = SUMO_CLASS[r["vclass"]]
            attrs = {}
            for origin, key in ((True, "from"), (False, "to")):
                ck = (r[f"{key}_osm"], vclass, origin)
                if ck not in cache:
                    cache[ck] = _trip_end(net, r[f"{key}_osm"], r[f"{key}_lon"], r[f"{key}_lat"], vclass, origin)
                attrs.update(cache[ck][0])
            out.append(attrs)
    snaps = [d for _, d, by_id in cache.values() if not by_id]
    info = {"points": len(cache), "by_osm_id": sum(by_id for _, _, by_id in cache.values()),
            "on_edge": len(snaps), "max_snap_m": round(max(snaps, default=0.0), 1),
            "mean_snap_m": round(float(np.mean(snaps)) if snaps else 0.0, 1), "map_s": round(time.perf_counter() - t0, 1)}
    return out, info


def _vtypes(model: str) -> str:
    lines = []
    for name, vclass in SUMO_CLASS.items():
        c = DEFAULT_CLASSES[name]
        if model == "krauss":
            lines.append(f'    <vType id="{name}" vClass="{vclass}"/>')
        else:
            dev = c.speed_spread / np.sqrt(3.0)      # sd of a uniform +-spread
            lines.append(f'    <vType id="{name}" vClass="{vclass}" carFollowModel="IDM" length="{c.length_m}" '
                         f'minGap="{c.min_gap_m}" maxSpeed="{c.desired_speed_mps:.3f}" accel="{c.accel_mps2}" '
                         f'decel="{c.decel_mps2}" emergencyDecel="9" tau="{c.headway_s}" delta="{c.delta}" '
                         f'speedFactor="normc(1,{dev:.3f},0.5,1.5)"/>')
    return "\n".join(lines)


def write_sumo_trips(path: Path, trips: list[dict], ends: list[dict], model: str) -> int:
    """A SUMO trip file: our departure times and classes, our origins and destinations as mapped by
    :func:`map_trips` (junctions need ``--junction-taz``).  Trips whose two ends map to the same
    place are left out (returned count)."""
    dropped = 0
    with open(path, "w") as fh:
        fh.write("<routes>\n" + _vtypes(model) + "\n")
        for k, (r, ends_k) in enumerate(zip(trips, ends)):
            if ends_k.get("fromJunction", 0) == ends_k.get("toJunction", 1) or (
                    "from" in ends_k and ends_k.get("from") == ends_k.get("to")):
                dropped += 1
                continue
            where = " ".join(f'{k2}="{v}"' for k2, v in ends_k.items())
            fh.write(f'    <trip id="{k}" type="{r["vclass"]}" depart="{r["depart_s"]:.2f}" {where} '
                     f'departLane="best" departSpeed="max"/>\n')
        fh.write("</routes>\n")
    return dropped


def duaroute(net: Path, trips: Path, out: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run([_binary("duarouter"), "-n", str(net), "--route-files", str(trips), "-o", str(out),
                    "--junction-taz", "--ignore-errors", "--no-step-log", "--no-warnings"],
                   check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


# --------------------------------------------------------------------------- runs
def run_sumo(net: Path, routes: Path, step_s: float, sim_s: float, workdir: Path, tag: str,
             time_to_teleport_s: float = 300.0, reroute_s: float = 0.0, max_wall_s: float = 0.0) -> dict:
    """SUMO via libsumo: load (timed), step to ``sim_s`` (timed), then read its summary and statistics.
    With ``max_wall_s`` > 0 it stops at the first simulated minute past that wall time (``sim_s`` in
    the result says how far it got)."""
    import libsumo
    summary, stats = workdir / f"summary_{tag}.xml", workdir / f"statistics_{tag}.xml"
    cmd = [_binary("sumo"), "-n", str(net), "-r", str(routes), "--junction-taz", "--step-length", str(step_s),
           "--begin", "0", "--end", str(sim_s), "--no-step-log", "--duration-log.disable", "--no-warnings",
           "--ignore-route-errors", "--time-to-teleport", str(time_to_teleport_s),
           "--summary-output", str(summary), "--statistic-output", str(stats),
           "--log", str(workdir / f"sumo_{tag}.log"), "--seed", "11"]
    if reroute_s > 0:
        cmd += ["--device.rerouting.probability", "1", "--device.rerouting.period", str(reroute_s)]
    t0 = time.perf_counter()
    libsumo.start(cmd)
    t1, c1 = time.perf_counter(), time.process_time()
    if max_wall_s > 0:
        t_sim = 0.0
        while t_sim < sim_s and time.perf_counter() - t1 < max_wall_s:
            t_sim = min(t_sim + 60.0, sim_s)
            libsumo.simulationStep(t_sim)
    else:
        libsumo.simulationStep(sim_s)
    t2, c2 = time.perf_counter(), time.process_time()
    reached_s = libsumo.simulation.getTime()
    libsumo.close()
    updates, last = 0, {}
    for _, node in ET.iterparse(summary):
        if node.tag == "step":
            updates += int(node.get("running"))
            last = dict(node.attrib)
            node.clear()
    log = (workdir / f"sumo_{tag}.log").read_text(errors="replace")
    router = re.search(r"(\w+Router) answered (\d+) queries.*?spent ([\d.]+)s answering", log, re.S)
    root = ET.parse(stats).getroot()
    vehicles, teleports = root.find("vehicles"), root.find("teleports")
    return {"load_s": t1 - t0, "run_s": t2 - t1, "cpu_s": c2 - c1, "sim_s": reached_s, "updates": updates, "arrived": int(last.get("arrived", 0)),
            "loaded": int(vehicles.get("loaded")), "inserted": int(vehicles.get("inserted")),
            "running_end": int(last.get("running", 0)), "waiting_end": int(last.get("waiting", 0)),
            "teleports": int(teleports.get("total")), "teleports_jam": int(teleports.get("jam")),
            "teleports_yield": int(teleports.get("yield")), "teleports_wrong_lane": int(teleports.get("wrongLane")),
            "collisions": int(last.get("collisions", 0)),
            "router_s": float(router.group(3)) if router else 0.0, "router_queries": int(router.group(2)) if router else 0}


COLUMNS = ["engine", "trips", "step_s", "sim_s", "setup_s", "wall_s", "cpu_s", "real_time_factor",
           "vehicle_seconds_per_wall_s", "vehicle_updates", "vehicle_updates_per_s", "vehicle_updates_per_cpu_s", "ns_per_vehicle_update", "arrived", "on_road_end", "not_inserted_end",
           "teleports", "sumo_routing_in_wall_s", "ratio_updates_per_s", "ratio_updates_per_cpu_s", "ratio_wall",
           "ratio_updates_per_s_sumo_routing_excluded", "notes"]


def compare(map_path: Path, trips: int, minutes: float, step_s: float, n_nodes: int, workdir: Path, net: Path,
            netconvert_s: float, sumo_models: list[str], routing: str, time_to_teleport_s: float,
            reroute_s: float, max_wall_s: float = 0.0, uxsim: list[tuple[bool, int]] | None = None) -> list[dict]:
    """One size and step: our engine once, then SUMO once per model, then UXsim per (C++?, platoon
    size), on the trips our run exported."""
    tag = f"{trips}_{step_s:g}"
    trips_csv = workdir / f"trips_{tag}.csv"
    ours = bench_traffic.bench(map_path, trips, minutes, step_s, n_nodes, export=trips_csv, keep_arrays=True)
    arrays = ours.pop("_arrays")
    rows = read_trips(trips_csv)
    ends, info = map_trips(net, rows)
    sim_s = minutes * 60.0
    out = [{"engine": "citytwin (Numba IDM)", "trips": ours["trips"], "step_s": step_s, "sim_s": sim_s,
            "setup_s": ours["setup_s"], "wall_s": ours["run_wall_s"], "cpu_s": ours["run_cpu_s"],
            "real_time_factor": round(sim_s / ours["run_wall_s"], 1),
            "vehicle_seconds_per_wall_s": ours["vehicle_seconds_per_wall_s"], "vehicle_updates": ours["vehicle_updates"],
            "vehicle_updates_per_s": ours["vehicle_updates_per_s"],
            "vehicle_updates_per_cpu_s": round(ours["vehicle_updates"] / max(ours["run_cpu_s"], 1e-9)),
            "ns_per_vehicle_update": ours["ns_per_vehicle_update"], "arrived": ours["arrived"],
            "on_road_end": "", "not_inserted_end": "", "teleports": "",
            "sumo_routing_in_wall_s": "", "ratio_updates_per_s": "", "ratio_updates_per_cpu_s": "", "ratio_wall": "",
            "ratio_updates_per_s_sumo_routing_excluded": "",
            "notes": f"conserved={ours['conserved']}; safety invariants checked every step "
                     f"({ours['invariant_checks_s']} s, in the wall); braking clamped {ours['decel_clamps']}x, "
                     f"drops > 9 m/s2 {ours['hard_stops']}, instant stops {ours['instant_stops']}; setup = compile "
                     f"(the OSM parse is cached from the warm-up) + route tables; route refreshes every 300 s are "
                     f"in the wall"}]
    for model in sumo_models:
        sumo_trips = workdir / f"trips_{tag}_{model}.rou.xml"
        same = write_sumo_trips(sumo_trips, rows, ends, model)
        routes, route_s = sumo_trips, 0.0
        if routing == "duarouter":
            routes = workdir / f"routes_{tag}_{model}.rou.xml"
            route_s = duaroute(net, sumo_trips, routes)
        s = run_sumo(net, routes, step_s, sim_s, workdir, f"{tag}_{model}", time_to_teleport_s, reroute_s,
                     max_wall_s)
        notes = (f"SUMO {sumo_version()} {model}; routing "
                 + (f"by duarouter ({route_s:.1f} s, in setup, not in wall)" if routing == "duarouter"
                    else f"at loading, in wall: {s['router_queries']} queries, {s['router_s']:.1f} s "
                         f"(SUMO's own log)")
                 + (f"; rerouting every {reroute_s:g} s" if reroute_s > 0 else "")
                 + f"; setup = netconvert {netconvert_s:.1f} s + load {s['load_s']:.1f} s"
                 + f"; loaded {s['loaded']}, inserted {s['inserted']}"
                 + f"; teleports: jam {s['teleports_jam']}, yield {s['teleports_yield']}, "
                   f"wrong lane {s['teleports_wrong_lane']}; collisions {s['collisions']}"
                 + f"; trip ends: {info['by_osm_id']} of {info['points']} on the junction with the OSM id, "
                   f"{info['on_edge']} on the nearest edge (mean {info['mean_snap_m']} m, max {info['max_snap_m']} m "
                   f"away); {same} trips with both ends in one place left out")
        row = {"engine": f"SUMO ({model})", "trips": len(rows) - same, "step_s": step_s, "sim_s": s["sim_s"],
               "setup_s": round(netconvert_s + s["load_s"] + route_s, 2), "wall_s": round(s["run_s"], 2),
               "cpu_s": round(s["cpu_s"], 2),
               "real_time_factor": round(s["sim_s"] / s["run_s"], 1),
               "vehicle_seconds_per_wall_s": round(s["updates"] * step_s / s["run_s"]), "vehicle_updates": s["updates"],
               "vehicle_updates_per_s": round(s["updates"] / s["run_s"]),
               "vehicle_updates_per_cpu_s": round(s["updates"] / max(s["cpu_s"], 1e-9)),
               "ns_per_vehicle_update": round(s["run_s"] / max(s["updates"], 1) * 1e9, 1),
               "arrived": s["arrived"], "on_road_end": s["running_end"], "not_inserted_end": s["waiting_end"],
               "teleports": s["teleports"], "sumo_routing_in_wall_s": round(s["router_s"], 1), "notes": notes}
        row["ratio_updates_per_s"] = round(out[0]["vehicle_updates_per_s"] / max(row["vehicle_updates_per_s"], 1), 2)
        row["ratio_updates_per_cpu_s"] = round(
            out[0]["vehicle_updates_per_cpu_s"] / max(row["vehicle_updates_per_cpu_s"], 1), 2)
        sumo_moving_s = max(s["run_s"] - s["router_s"], 1e-9)        # SUMO's wall less its own routing
        row["ratio_updates_per_s_sumo_routing_excluded"] = round(
            out[0]["vehicle_updates_per_s"] / max(s["updates"] / sumo_moving_s, 1), 2)
        # wall time per simulated second (the plain wall-time ratio when both ran the whole period)
        row["ratio_wall"] = round(out[0]["wall_s"] / sim_s / max(row["wall_s"] / max(row["sim_s"], 1e-9), 1e-12), 3)
        if row["sim_s"] < sim_s:
            row["notes"] = (f"STOPPED at {row['sim_s']:g} of {sim_s:g} simulated s (--sumo-max-wall-s "
                            f"{max_wall_s:g}): its columns cover that part only; " + row["notes"])
        out.append(row)
    for cpp, deltan in uxsim or []:
        u = bench_vs_uxsim.run_uxsim(arrays, minutes, deltan, cpp)
        out.append({"engine": u["engine"], "trips": u["trips"], "step_s": u["step_s"], "sim_s": u["sim_s"],
                    "setup_s": u["setup_s"], "wall_s": u["wall_s"], "cpu_s": u["cpu_s"],
                    "real_time_factor": u["real_time_factor"],
                    "vehicle_seconds_per_wall_s": u["vehicle_seconds_per_wall_s"], "vehicle_updates": "",
                    "vehicle_updates_per_s": "", "vehicle_updates_per_cpu_s": "", "ns_per_vehicle_update": "",
                    "arrived": u["arrived"], "on_road_end": "", "not_inserted_end": "", "teleports": "",
                    "sumo_routing_in_wall_s": "", "ratio_updates_per_s": "", "ratio_updates_per_cpu_s": "",
                    "ratio_wall": round(out[0]["wall_s"] / max(u["wall_s"], 1e-9), 3),
                    "ratio_updates_per_s_sumo_routing_excluded": "",
                    "notes": f"UXsim {bench_vs_uxsim.uxsim_version()}, mesoscopic (Newell, platoons of {deltan}, step "
                             f"{u['step_s']:g} s, DUO routing); same nodes and motor edges ({u['links']} links), no "
                             f"signals; vehicle-seconds per wall s ratio ours/UXsim "
                             f"x{out[0]['vehicle_seconds_per_wall_s'] / max(u['vehicle_seconds_per_wall_s'], 1):.2f}"})
    return out


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import numba
    return (f"{cpu}, {os.cpu_count()} cores, {platform.system()}; Python {platform.python_version()}, "
            f"numpy {np.__version__}, numba {numba.__version__}; SUMO {sumo_version()} (libsumo)")


def print_table(rows: list[dict]) -> None:
    shown = [("engine", "engine"), ("trips", "trips"), ("step_s", "step s"), ("sim_s", "sim s"),
             ("setup_s", "setup s"), ("wall_s", "wall s"), ("cpu_s", "cpu s"), ("real_time_factor", "real-time x"),
             ("vehicle_seconds_per_wall_s", "veh-s/wall s"),
             ("vehicle_updates", "vehicle-updates"), ("vehicle_updates_per_s", "updates/s"),
             ("vehicle_updates_per_cpu_s", "updates/cpu s"),
             ("arrived", "arrived"), ("on_road_end", "on road at end"), ("not_inserted_end", "not inserted"),
             ("teleports", "SUMO teleports"), ("sumo_routing_in_wall_s", "SUMO routing s")]
    cells = [[h for _, h in shown]]
    for r in rows:
        cells.append([f"{r[k]:,}" if isinstance(r[k], int) else str(r[k]) for k, _ in shown])
    widths = [max(len(row[c]) for row in cells) for c in range(len(shown))]
    for k, row in enumerate(cells):
        print(" | ".join(v.ljust(w) if c == 0 else v.rjust(w) for c, (v, w) in enumerate(zip(row, widths))))
        if k == 0:
            print("-+-".join("-" * w for w in widths))
    print()
    ours = None
    for r in rows:
        if r["engine"].startswith("citytwin"):
            ours = r
            continue
        if r["engine"].startswith("UXsim"):
            print(f"ratio ours / {r['engine']}: wall time x{r['ratio_wall']:.3f}, vehicle-seconds per wall second "
                  f"x{ours['vehicle_seconds_per_wall_s'] / max(r['vehicle_seconds_per_wall_s'], 1):.2f}")
            continue
        print(f"ratio ours / {r['engine']}, {ours['trips']:,} trips, step {r['step_s']:g} s: "
              f"vehicle-updates/s x{r['ratio_updates_per_s']:.2f}, per CPU second x{r['ratio_updates_per_cpu_s']:.2f}, "
              f"{'wall time' if r['sim_s'] == ours['sim_s'] else 'wall time per simulated s'} x{r['ratio_wall']:.3f} "
              f"(vehicle-updates ours / SUMO: x{ours['vehicle_updates'] / max(r['vehicle_updates'], 1):.2f}); "
              f"leaving SUMO's routing ({r['sumo_routing_in_wall_s']} s of its wall) out: "
              f"vehicle-updates/s x{r['ratio_updates_per_s_sumo_routing_excluded']:.2f}")
    print()
    for r in rows:
        if r["engine"].startswith(("SUMO", "UXsim")):
            print(f"{r['engine']}, {r['trips']:,} trips, step {r['step_s']:g} s: {r['notes']}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trips", type=int, nargs="+", default=[10_000])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--step", type=float, nargs="+", default=[0.5], help="time steps (s), e.g. 0.5 1.0")
    parser.add_argument("--nodes", type=int, default=200, help="distinct origins and destinations")
    parser.add_argument("--map", default=None, help="OSM file (default: the real extract, else the shipped map)")
    parser.add_argument("--csv", default=str(ROOT / "benchmarks" / "results" / "traffic_vs_sumo.csv"))
    parser.add_argument("--workdir", default=None, help="folder for SUMO's files (default: a temporary folder)")
    parser.add_argument("--sumo-model", choices=["idm", "krauss"], nargs="+", default=["idm"],
                        help="SUMO car-following: IDM with our parameters, or SUMO's default Krauss")
    parser.add_argument("--sumo-routing", choices=["insertion", "duarouter"], default="insertion")
    parser.add_argument("--sumo-time-to-teleport", type=float, default=300.0, help="SUMO's default; -1: never")
    parser.add_argument("--sumo-reroute-s", type=float, default=0.0, help="SUMO rerouting period (0: off)")
    parser.add_argument("--sumo-max-wall-s", type=float, default=0.0,
                        help="stop SUMO after this much wall time, reporting the part it simulated (0: no limit)")
    parser.add_argument("--uxsim", choices=["auto", "off"], default="off",
                        help="auto: also run UXsim (pip install uxsim; its C++ engine where available, and its "
                             "Python one) at the platoon sizes of --uxsim-platoons, on the same network and trips")
    parser.add_argument("--uxsim-platoons", type=int, nargs="+", default=[1, 5])
    args = parser.parse_args(argv)
    reason = sumo_missing()
    if reason:
        print(reason, file=sys.stderr)
        return 2
    map_path = Path(args.map) if args.map else (bench_traffic.REAL if bench_traffic.REAL.exists()
                                                  else bench_traffic.SHIPPED)
    uxsim_runs: list[tuple[bool, int]] = []
    if args.uxsim == "auto":
        why = bench_vs_uxsim.uxsim_missing()
        if why:
            print(why + "; UXsim rows left out", file=sys.stderr)
        else:
            engines = ([True] if bench_vs_uxsim.cpp_available() else []) + [False]
            uxsim_runs = [(cpp, d) for cpp in engines for d in args.uxsim_platoons]
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="citytwin_sumo_") as tmp:
        workdir = Path(args.workdir) if args.workdir else Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        net, netconvert_s = build_sumo_net(map_path, workdir)
        bench_traffic.bench(map_path, 200, 2.0, args.step[0], 20)      # warm-up: compile our kernels
        rows = []
        for trips in args.trips:
            for step_s in args.step:
                rows += compare(map_path, trips, args.minutes, step_s, args.nodes, workdir, net, netconvert_s,
                                args.sumo_model, args.sumo_routing, args.sumo_time_to_teleport, args.sumo_reroute_s,
                                args.sumo_max_wall_s, uxsim_runs)
    print(f"map: {map_path.name}; machine: {machine()}")
    print(f"load average (1 min) at start {load_before:.1f}, at end {os.getloadavg()[0]:.1f}, on {os.cpu_count()} cores: "
          f"wall times include any other work on the machine; CPU times (this process, all its threads) do not")
    print()
    print_table(rows)
    print()
    print(DIFFERENCES)
    write_csv(rows, args.csv, COLUMNS)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
