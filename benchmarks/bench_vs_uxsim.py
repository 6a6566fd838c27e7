"""UXsim on the same network and trips as our vehicle engine (used by ``bench_vs_sumo.py``, which
runs ours, SUMO and UXsim in one run; runnable alone too).

    pip install uxsim          # ships its C++ engine (World(cpp=True)) beside the Python one
    python benchmarks/bench_vs_uxsim.py [--trips N] [--minutes M] [--map FILE]

UXsim (Seo 2023) is a *mesoscopic* model: Newell's simplified car-following on links, vehicles moved
in platoons of ``deltan`` (default 5) at a step of ``reaction_time x deltan`` seconds, point-queue
nodes with merge priorities, dynamic user-optimal route choice.  Its network is built here from our
road graph (same nodes, same directed motor edges, their lengths, speed limits and lanes; jam density
per lane 1/(s0 + length) = 1/7 veh/m of our cars; no signals: UXsim's signals need a phase plan per
node that OSM does not give).  Each of our trips becomes one UXsim vehicle at platoon size 1; at
platoon size d every d-th trip (by departure time) becomes one platoon of d vehicles.  Vehicle
logging is off (its docs: for speed).

Compared figures: wall time of the stepping, real-time factor, and *vehicle-seconds simulated per
wall second* (the sum over vehicles of their time on the road, over the wall time: comparable
across steps of 0.5 s, 1 s and 5 s, unlike "vehicle-updates").
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

__all__ = ["uxsim_missing", "run_uxsim", "uxsim_version"]


def uxsim_missing() -> str | None:
    try:
        import uxsim  # noqa: F401
    except ImportError:
        return "uxsim not installed: pip install uxsim (the optional UXsim side of the benchmark)"
    return None


def uxsim_version() -> str:
    import uxsim
    return str(getattr(uxsim, "__version__", "?"))


def cpp_available() -> bool:
    try:
        from uxsim import uxsim_cpp  # noqa: F401
    except ImportError:
        return False
    return True


def run_uxsim(arrays, minutes: float, deltan: int = 1, cpp: bool = False, seed: int = 11) -> dict:
    """Build UXsim's world from compiled traffic ``arrays`` (our road graph and trips), run it for
    ``minutes``, and report.  Only motor-vehicle trips are used."""
    from uxsim import World

    road = arrays.road
    net = road.network
    car = next(c for c in arrays.classes if c.name == "car")
    jam_per_lane = 1.0 / (car.min_gap_m + car.length_m)
    sim_s = minutes * 60.0
    t0 = time.perf_counter()
    world = World(name="", deltan=deltan, reaction_time=1.0, tmax=sim_s, print_mode=0, save_mode=0, show_mode=0,
                  show_progress=0, random_seed=seed, vehicle_logging_timestep_interval=-1, cpp=cpp)
    motor = np.flatnonzero(road.motor_lanes > 0)
    used = np.unique(np.concatenate([road.edge_from[motor], road.edge_to[motor]]))
    for n in used:
        world.addNode(f"n{int(n)}", float(net.node_x_m[n]), float(net.node_y_m[n]))
    for e in motor:
        world.addLink(f"e{int(e)}", f"n{int(road.edge_from[e])}", f"n{int(road.edge_to[e])}",
                      length=max(float(road.length_m[e]), 1.0),
                      free_flow_speed=float(min(road.speed_limit_mps[e], car.desired_speed_mps)),
                      jam_density_per_lane=jam_per_lane, number_of_lanes=int(road.motor_lanes[e]),
                      merge_priority=float(road.priority[e]))
    is_motor = ~arrays.cls_is_bike[arrays.trip_cls]
    order = np.flatnonzero(is_motor)
    picked = order[::deltan]
    for k in picked:
        world.addVehicle(f"n{int(arrays.trip_origin[k])}", f"n{int(arrays.dest_nodes[arrays.trip_dest_row[k]])}",
                         float(arrays.trip_depart_s[k]))
    setup_s = time.perf_counter() - t0
    t1, c1 = time.perf_counter(), time.process_time()
    world.exec_simulation()
    run_s, cpu_s = time.perf_counter() - t1, time.process_time() - c1
    arrived = 0
    vehicle_s = 0.0
    for veh in world.VEHICLES.values():
        depart = float(veh.departure_time_in_second)
        if veh.state == "end" and veh.travel_time >= 0:
            arrived += deltan
            vehicle_s += deltan * float(veh.travel_time)
        elif veh.state == "run":
            vehicle_s += deltan * max(sim_s - depart, 0.0)
    return {"engine": f"UXsim {'C++' if cpp else 'Python'} (platoon {deltan})", "trips": int(picked.size * deltan),
            "step_s": float(deltan * 1.0), "sim_s": sim_s, "setup_s": round(setup_s, 2), "wall_s": round(run_s, 2),
            "cpu_s": round(cpu_s, 2), "real_time_factor": round(sim_s / run_s, 1), "arrived": int(arrived),
            "vehicle_seconds": round(vehicle_s), "vehicle_seconds_per_wall_s": round(vehicle_s / run_s),
            "links": int(motor.size), "nodes": int(used.size)}


def main(argv=None) -> int:
    import bench_traffic
    from report import print_table

    from sim.kinds import scenario_from_dict
    from sim.traffic.model import TrafficModel

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trips", type=int, default=2000)
    parser.add_argument("--minutes", type=float, default=15.0)
    parser.add_argument("--map", default=None)
    parser.add_argument("--platoons", type=int, nargs="+", default=[1, 5])
    args = parser.parse_args(argv)
    reason = uxsim_missing()
    if reason:
        print(reason, file=sys.stderr)
        return 2
    map_path = Path(args.map) if args.map else (bench_traffic.REAL if bench_traffic.REAL.exists() else bench_traffic.SHIPPED)
    origins, dests = bench_traffic.trip_nodes(map_path, 200, seed=5)
    scenario = scenario_from_dict(bench_traffic.scenario_for(map_path, args.trips, args.minutes, 0.5, origins, dests))
    arrays = TrafficModel(scenario).arrays
    rows = []
    for cpp in ([True] if cpp_available() else []) + [False]:
        for d in args.platoons:
            rows.append(run_uxsim(arrays, args.minutes, d, cpp))
    print_table(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
