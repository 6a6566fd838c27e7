"""Validation scenarios of the hotspot model, as functions returning the measured numbers.

The tests (tests/hotspot/test_hotspot_validation.py) assert on them against published figures;
``benchmarks/bench_hotspot_vs_jupedsim.py --validation`` prints them.  Runs use one Numba thread by
default (results do not depend on it)."""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import box

from .engine import HotspotSim
from .geometry import HotspotGeometry, Stair
from .measure import CrowdMonitor
from .params import CsmParameters
from .scenarios import (bottleneck_room, counterflow_corridor, lattice_positions, periodic_corridor, random_positions,
                        rimea6_corner, rimea9_room, rimea12_double_bottleneck)

__all__ = ["weidmann_speed_mps", "corridor_mean_speed", "bottleneck_flow", "counterflow", "rimea1", "rimea6",
           "rimea9", "rimea12", "stair_speeds", "lane_index"]

WEIDMANN_V0_MPS, WEIDMANN_GAMMA, WEIDMANN_RHO_MAX = 1.34, 1.913, 5.4    # docs/sources.md, Weidmann (1993)


def weidmann_speed_mps(rho_ppm2: float) -> float:
    """Weidmann's fundamental diagram (docs/sources.md)."""
    return WEIDMANN_V0_MPS * (1 - np.exp(-WEIDMANN_GAMMA * (1 / rho_ppm2 - 1 / WEIDMANN_RHO_MAX)))


def _sim(geometry: HotspotGeometry, params: CsmParameters | None, seed: int, num_threads: int | None,
         **kw) -> HotspotSim:
    return HotspotSim(geometry, params or CsmParameters(), seed=seed, num_threads=num_threads, **kw)


def corridor_mean_speed(rho_ppm2: float, seed: int, *, length_m: float = 30.0, width_m: float = 3.0,
                        params: CsmParameters | None = None, settle_s: float = 30.0, measure_s: float = 20.0,
                        free_speed_mps: float | None = None, num_threads: int | None = 1) -> float:
    """Mean speed (m/s) in a periodic corridor at ``rho_ppm2``: random start (a jittered lattice when
    too dense), ``settle_s`` to settle, then the mean over ``measure_s``."""
    params = params or CsmParameters()
    g = periodic_corridor(length_m, width_m)
    n = int(round(rho_ppm2 * length_m * width_m))
    rng = np.random.default_rng(seed)
    area = box(0, 0, length_m, width_m)
    try:
        pos = random_positions(area, n, rng, radius_m=params.radius_m, periodic_x=True, max_tries=50)
    except ValueError:
        pos = lattice_positions(area, n, rng, radius_m=params.radius_m, periodic_x=True)
    sim = _sim(g, params, seed, num_threads)
    sim.add_agents(pos[:, 0], pos[:, 1], goal="east", free_speed_mps=free_speed_mps)
    sim.run(settle_s)
    speeds = []
    end = settle_s + measure_s
    while sim.t_s < end - 1e-9:
        sim.step()
        speeds.append(sim.a.speed_mps[: sim.n].mean())
    return float(np.mean(speeds))


def bottleneck_flow(width_m: float, *, n: int = 150, seed: int = 1, params: CsmParameters | None = None,
                    num_threads: int | None = 1) -> float:
    """Flow (p/s) out of a 2 m long bottleneck of ``width_m`` fed by ``n`` people waiting in an 8 m x
    8 m room, between the 10th and 90th percent of passages (Seyfried et al. 2009's N-t method)."""
    params = params or CsmParameters()
    g, room = bottleneck_room(width_m)
    sim = _sim(g, params, seed, num_threads, lines={"neck": ((10.0, 0.0), (10.0, 8.0))})
    pos = random_positions(room, n, np.random.default_rng(seed), radius_m=params.radius_m)
    sim.add_agents(pos[:, 0], pos[:, 1], goal="out")
    times: list[float] = []
    while len(times) < n and sim.t_s < 600:
        sim.step()
        times += [sim.t_s] * (sum(sim.line_count("neck")) - len(times))
    if len(times) < n:
        return float("nan")
    k10, k90 = int(0.1 * n), int(0.9 * n) - 1
    return (k90 - k10) / (times[k90] - times[k10])


def lane_index(x_m: np.ndarray, y_m: np.ndarray, heading: np.ndarray, *, band_m: float = 0.2,
               reach_m: float = 2.0) -> float:
    """Lane order parameter after Rex & Löwen (2007): for each person, neighbours within ``reach_m``
    ahead or behind and ``band_m`` sideways; mean of ((same - opposite) / (same + opposite))^2 over
    those with neighbours.  1: clean lanes, about 0: mixed."""
    vals = []
    for i in range(len(x_m)):
        near = (np.abs(y_m - y_m[i]) < band_m) & (np.abs(x_m - x_m[i]) < reach_m)
        near[i] = False
        if near.any():
            same = np.count_nonzero(heading[near] == heading[i])
            opp = np.count_nonzero(near) - same
            vals.append(((same - opp) / (same + opp)) ** 2)
    return float(np.mean(vals)) if vals else float("nan")


def counterflow(n_per_side: int = 60, seed: int = 1, *, length_m: float = 20.0, width_m: float = 3.0,
                max_s: float = 200.0, params: CsmParameters | None = None, num_threads: int | None = 1) -> dict:
    """Two groups start in the 6 m at each end of a corridor and walk to the far exit.  Returns the
    clearance time, who left where, and the lane index averaged while both groups share the middle."""
    params = params or CsmParameters()
    g = counterflow_corridor(length_m, width_m)
    sim = _sim(g, params, seed, num_threads)
    rng = np.random.default_rng(seed)
    east = random_positions(box(0, 0, 6, width_m), n_per_side, rng, radius_m=params.radius_m)
    west = random_positions(box(length_m - 6, 0, length_m, width_m), n_per_side, rng, radius_m=params.radius_m)
    east_ids = sim.add_agents(east[:, 0], east[:, 1], goal="east")
    west_ids = sim.add_agents(west[:, 0], west[:, 1], goal="west")
    heading_of = {int(i): 1 for i in east_ids} | {int(i): -1 for i in west_ids}
    left: dict[str, list[int]] = {"east": [], "west": []}
    lanes = []
    while sim.n and sim.t_s < max_s:
        report = sim.step()
        for name, ids in report.by_exit(g.exit_names).items():
            left[name].extend(int(i) for i in ids)
        if sim.step_count % 20 == 0:
            a, n = sim.a, sim.n
            mid = (a.x_m[:n] > length_m / 3) & (a.x_m[:n] < 2 * length_m / 3)
            heading = np.array([heading_of[int(i)] for i in a.agent_id[:n]])
            if (heading[mid] == 1).sum() >= 5 and (heading[mid] == -1).sum() >= 5:
                lanes.append(lane_index(a.x_m[:n][mid], a.y_m[:n][mid], heading[mid]))
    return {"t_s": sim.t_s, "inside": sim.n, "left_east": sorted(left["east"]), "left_west": sorted(left["west"]),
            "east_ids": sorted(int(i) for i in east_ids), "west_ids": sorted(int(i) for i in west_ids),
            "lane_index": float(np.mean(lanes)) if lanes else float("nan")}


def rimea1(free_speed_mps: float = 1.33, *, params: CsmParameters | None = None) -> float:
    """RiMEA test 1: time (s) for one person to walk a 40 m x 2 m corridor."""
    g = HotspotGeometry(box(0, 0, 40, 2), exits={"end": ((40, 0), (40, 2))})
    sim = _sim(g, params, 1, 1)
    sim.add_agents([0.3], [1.0], goal="end", free_speed_mps=free_speed_mps)
    sim.run(until_empty=True, max_s=120)
    return sim.t_s


def rimea6(seed: int = 1, *, max_s: float = 60.0, params: CsmParameters | None = None,
           num_threads: int | None = 1) -> dict:
    """RiMEA test 6: 20 people turn a left corner.  Returns the time, how many arrived, the largest
    distance of any centre outside the walkable area and the smallest distance to a wall."""
    params = params or CsmParameters()
    g, start = rimea6_corner()
    sim = _sim(g, params, seed, num_threads)
    pos = random_positions(start, 20, np.random.default_rng(seed), radius_m=params.radius_m)
    sim.add_agents(pos[:, 0], pos[:, 1], goal="out")
    outside_m, wall_m = 0.0, np.inf
    while sim.n and sim.t_s < max_s:
        sim.step()
        x, y = sim.a.x_m[: sim.n], sim.a.y_m[: sim.n]
        if x.size:
            outside_m = max(outside_m, float(shapely.distance(g.area, shapely.points(x, y)).max()))
            wall_m = min(wall_m, float(g.distance_to_walls(x, y).min()))
    return {"t_s": sim.t_s, "arrived": sim.removed_total, "max_outside_m": outside_m, "min_wall_distance_m": wall_m}


def rimea9(open_exits: tuple[str, ...], seed: int = 1, *, n: int = 1000, params: CsmParameters | None = None,
           num_threads: int | None = 1) -> float:
    """RiMEA test 9: evacuation time (s) of ``n`` people from the 30 m x 20 m room, everyone to the
    nearest open exit (by route length)."""
    params = params or CsmParameters()
    g = rimea9_room(open_exits)
    sim = _sim(g, params, seed, num_threads)
    pos = random_positions(box(0, 0, 30, 20), n, np.random.default_rng(seed), radius_m=params.radius_m)
    route = np.stack([g.travel_distance(e, pos[:, 0], pos[:, 1]) for e in g.exit_names])
    nearest = np.argmin(route, axis=0)
    for k, name in enumerate(g.exit_names):
        sim.add_agents(pos[nearest == k, 0], pos[nearest == k, 1], goal=name)
    sim.run(until_empty=True, max_s=1200)
    return sim.t_s if sim.n == 0 else float("inf")


def rimea12(seed: int = 1, *, width_m: float = 1.0, n: int = 150, params: CsmParameters | None = None,
            num_threads: int | None = 1) -> dict:
    """RiMEA test 12: flows through both bottlenecks (p/s, 10th-90th percent of passages) and the
    density monitor's summary before each."""
    params = params or CsmParameters()
    g, start = rimea12_double_bottleneck(width_m)
    half = width_m / 2
    sim = _sim(g, params, seed, num_threads,
               lines={"b1": ((10, 5 - half), (10, 5 + half)), "b2": ((25, 5 - half), (25, 5 + half))})
    pos = random_positions(start, n, np.random.default_rng(seed), radius_m=params.radius_m)
    sim.add_agents(pos[:, 0], pos[:, 1], goal="out")
    monitor = CrowdMonitor({"before_b1": box(7, 2, 10, 8), "before_b2": box(22, 2, 25, 8)})
    passed: dict[str, list[float]] = {"b1": [], "b2": []}
    while sim.n and sim.t_s < 600:
        sim.step()
        for line in passed:
            passed[line] += [sim.t_s] * (sum(sim.line_count(line)) - len(passed[line]))
        if sim.step_count % 10 == 0:
            monitor.sample(sim.t_s, sim.a.x_m[: sim.n], sim.a.y_m[: sim.n])
    k10, k90 = int(0.1 * n), int(0.9 * n) - 1
    flows = {k: (k90 - k10) / (t[k90] - t[k10]) if len(t) > k90 else float("nan") for k, t in passed.items()}
    return {"t_s": sim.t_s, "inside": sim.n, "flow_pps": flows, "monitor": monitor.summary()}


def stair_speeds(goal: str, *, seed: int = 4, params: CsmParameters | None = None) -> tuple[float, float, Stair]:
    """Walkers without neighbours (one per lane, 1 m apart) cross a stair 8 m deep (up = east).
    Returns (mean speed on the stair, mean free speed of the group, the stair)."""
    params = params or CsmParameters()
    stair = Stair(name="flight", polygon=box(10, 0, 20, 20), up=(1.0, 0.0))
    g = HotspotGeometry(box(0, 0, 30, 20), exits={"east": ((30, 0), (30, 20)), "west": ((0, 20), (0, 0))},
                        stairs=[stair])
    sim = _sim(g, params, seed, 1)
    ids = sim.add_agents(np.full(19, 1.0 if goal == "east" else 29.0), np.arange(1.0, 20.0), goal=goal)
    v0 = sim.a.free_speed_mps[: len(ids)].copy()
    t_in: dict[int, float] = {}
    t_out: dict[int, float] = {}
    while sim.n:
        sim.step()
        for i, x in zip(sim.a.agent_id[: sim.n], sim.a.x_m[: sim.n]):
            if 11.0 <= x <= 19.0:
                t_in.setdefault(int(i), sim.t_s)
                t_out[int(i)] = sim.t_s
    speeds = np.array([8.0 / (t_out[int(i)] - t_in[int(i)]) for i in ids])
    return float(speeds.mean()), float(v0.mean()), stair
