"""Vehicle engine speed on a large drivable network: random trips over an hour.

    python benchmarks/bench_traffic.py [--trips N ...] [--minutes M] [--map FILE] [--export-trips CSV]

Default: the real extract ``../shared/osm/shanghai_center.osm`` (falls back to the shipped
``maps/huangpu_crossing.osm`` when ``../shared`` is absent), 10,000 and 30,000 car/bus trips between
random junctions of the largest strongly connected drivable component, departing evenly over the
hour.  Vehicle-updates are vehicles on the road summed over steps (dt 0.5 s, as in the scenarios;
SUMO's default step is 1 s, see ``--dt``).  Prints a table and writes CSV.  ``--export-trips``
writes the trips (depart time, origin and destination lon/lat) for the SUMO side of the benchmark.
"""

from __future__ import annotations

import argparse
import csv
import platform
import time
from pathlib import Path

import networkx as nx
import numpy as np

from sim.traffic.model import TrafficModel
from sim.core.osm import load_network
from sim.core.roads import build_road_graph
from sim.kinds import scenario_from_dict

from report import print_table, write_csv  # noqa: E402  (benchmarks/report.py)

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "osm" / "shanghai_center.osm"
SHIPPED = ROOT / "maps" / "huangpu_crossing.osm"


def trip_nodes(map_path: Path, n_nodes: int, seed: int) -> tuple[list[int], list[int]]:
    """OSM ids of ``n_nodes`` origins and destinations in the largest strongly connected drivable
    component (so every trip has a route)."""
    road = build_road_graph(load_network(map_path))
    graph = nx.DiGraph()
    drive = np.flatnonzero(road.motor_lanes > 0)
    graph.add_edges_from(zip(road.edge_from[drive].tolist(), road.edge_to[drive].tolist()))
    component = max(nx.strongly_connected_components(graph), key=len)
    nodes = np.array(sorted(component))
    rng = np.random.default_rng(seed)
    osm = road.network.node_osmid
    k = min(n_nodes, nodes.size)
    return ([int(osm[n]) for n in rng.choice(nodes, k, replace=False)],
            [int(osm[n]) for n in rng.choice(nodes, k, replace=False)])


def scenario_for(map_path: Path, trips: int, minutes: float, dt_s: float, origins, destinations) -> dict:
    rate_veh_h = trips / (minutes / 60.0)
    return {"name": f"{trips} random trips", "kind": "traffic", "map": str(map_path),
            "simulation": {"duration_s": minutes * 60.0, "dt_s": dt_s, "seed": 11, "route_interval_s": 300},
            "demand": [{"name": "trips", "classes": {"car": 0.95, "bus": 0.05}, "origins": origins,
                        "destinations": destinations, "profile": [[0, rate_veh_h], [minutes, rate_veh_h]]}]}


def bench(map_path: Path, trips: int, minutes: float, dt_s: float, n_nodes: int,
          export: Path | None = None, keep_arrays: bool = False) -> dict:
    origins, destinations = trip_nodes(map_path, n_nodes, seed=5)
    scenario = scenario_from_dict(scenario_for(map_path, trips, minutes, dt_s, origins, destinations))
    t0 = time.perf_counter()
    model = TrafficModel(scenario)
    setup_s = time.perf_counter() - t0
    if export is not None:
        _export(model, export)
    t1, c1 = time.perf_counter(), time.process_time()
    summary = model.run()
    run_s, run_cpu_s = time.perf_counter() - t1, time.process_time() - c1
    updates = model.engine.vehicle_updates
    extra = {"_arrays": model.arrays} if keep_arrays else {}
    return {**extra, "map": map_path.name, "trips": int(model.arrays.trip_depart_s.size), "sim_s": summary["sim_seconds"],
            "dt_s": dt_s, "setup_s": round(setup_s, 2), "run_wall_s": round(run_s, 2),
            "run_cpu_s": round(run_cpu_s, 2),   # all threads (route refreshes run in parallel)
            "real_time_factor": round(summary["sim_seconds"] / run_s, 1),
            "vehicle_updates": updates, "vehicle_updates_per_s": round(updates / run_s),
            "ns_per_vehicle_update": round(run_s / max(updates, 1) * 1e9, 1),
            "vehicle_seconds_per_wall_s": round(updates * dt_s / run_s),
            "arrived": summary["modes"]["motor"]["arrived"], "conserved": summary["vehicles_conserved"],
            "invariant_checks_s": summary["invariants"]["seconds"],
            "decel_clamps": summary["kinematics"]["decel_clamps"], "hard_stops": summary["kinematics"]["hard_stops"],
            "instant_stops": summary["kinematics"]["instant_stops"]}


def _export(model: TrafficModel, path: Path) -> None:
    """Trips as CSV: depart_s, class, origin and destination lon/lat (for a SUMO run of the same demand)."""
    a = model.arrays
    net = a.road.network
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["depart_s", "vclass", "from_lon", "from_lat", "to_lon", "to_lat", "from_osm", "to_osm"])
        for k in range(a.trip_depart_s.size):
            o = int(a.trip_origin[k])
            d = int(a.dest_nodes[a.trip_dest_row[k]])
            writer.writerow([round(float(a.trip_depart_s[k]), 2), a.classes[a.trip_cls[k]].name,
                             net.node_lon[o], net.node_lat[o], net.node_lon[d], net.node_lat[d],
                             int(net.node_osmid[o]), int(net.node_osmid[d])])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trips", type=int, nargs="*", default=[10_000, 30_000])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--dt", type=float, default=0.5, help="time step (s)")
    parser.add_argument("--nodes", type=int, default=200, help="distinct origins and destinations")
    parser.add_argument("--map", default=None, help="map file (default: the real extract, else the shipped map)")
    parser.add_argument("--export-trips", default=None, help="write the first size's trips to this CSV")
    parser.add_argument("--csv", default=str(ROOT / "benchmarks" / "results" / "traffic.csv"))
    args = parser.parse_args(argv)
    map_path = Path(args.map) if args.map else (REAL if REAL.exists() else SHIPPED)
    bench(map_path, 200, 2.0, args.dt, 20)                     # warm-up: compile the kernels
    rows = []
    for k, trips in enumerate(args.trips):
        export = Path(args.export_trips) if (args.export_trips and k == 0) else None
        rows.append(bench(map_path, trips, args.minutes, args.dt, args.nodes, export))
    print(f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}, "
          f"numpy {np.__version__}")
    print_table(rows)
    write_csv(rows, args.csv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
