"""Shared bikes at metro exits: rain-aware exit choice, bike pools and redistribution plans.

Data flow: map -> :class:`~sim.core.walk.WalkGraph` (routes from each exit to each destination,
their walking time and the length walked in the open, by the crowd engine's routing kernels with
its rain shelter preference) and :class:`~sim.core.roads.RoadGraph` (van travel times) ->
:func:`compile_bikes` (exit-choice probabilities, forecasts, the evening's passengers and returns,
seeded) -> :class:`BikeEngine` (pool stocks, one step at a time) driven by
:class:`sim.bikes.model.BikeModel` with its van agents.

Exit choice is a logit over walking time and rain exposure (docs/sources.md: no published study of exit
choice to avoid rain was found; the weights are this project's documented assumption):

    U(exit) = -time_weight_per_min * minutes - rain_mm_per_h * rain_weight_per_100m * open_m / 100

Walkers' minutes are platform-to-exit plus exit-to-destination; their ``open_m`` is the route's
uncovered length.  Riders (passengers who want a bike) only consider exits with a pool: minutes
are platform-to-exit, the walk to the pool and the ride to the destination; ``open_m`` is the walk
to an uncovered pool plus the ride.  The share of passengers who want a bike falls by
``rain_drop_per_mm_h`` per mm/h (Tin Tin et al. 2012: -10.6% per mm/h), levelling off at
``rain_cap_mm_h`` (Liu et al. 2025: about 20 mm).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..core.errors import MapError, ScenarioError
from ..core.memory import check_memory
from ..core.osm import load_network
from ..core.roads import RoadGraph, build_road_graph
from ..core.routing import EXIT_HERE, dijkstra_to_goals, road_dijkstra
from ..core.walk import WalkGraph, build_walk_graph
from .schema import BikeScenario

__all__ = ["BikeArrays", "compile_bikes", "check_evening_memory", "bike_share", "exit_shares", "shelter_shift", "VanTrip", "WALK_SPEED_MPS"]

WALK_SPEED_MPS = 1.34          # Weidmann free walking speed
RAIN_WALK_FACTOR = 0.97        # as the crowd engine: free speed in rain


def bike_share(scenario: BikeScenario, rain_mm_per_h: float) -> float:
    """Share of alighting passengers who want a bike at this rain intensity."""
    d = scenario.demand
    return d.bike_share_dry * (1.0 - d.rain_drop_per_mm_h) ** min(rain_mm_per_h, d.rain_cap_mm_h)


@dataclass
class VanTrip:
    """One planned van move: ``bikes`` from pool ``source`` to pool ``target``."""
    van: int
    source: int
    target: int
    bikes: int
    start_s: float
    end_s: float
    km: float


@dataclass
class BikeArrays:
    """A bike scenario compiled against its map (shared by all plans)."""
    scenario: BikeScenario
    walk: WalkGraph
    road: RoadGraph
    exit_names: list[str]
    exit_nodes: np.ndarray           # Network node of each exit
    pool_names: list[str]
    pool_exit: np.ndarray            # exit index of each pool
    pool_capacity: np.ndarray
    pool_stock0: np.ndarray
    dest_names: list[str]
    dest_weight: np.ndarray          # normalised
    underground_s: np.ndarray        # per exit
    walk_s: dict[float, np.ndarray]           # rain -> (dest, exit) walking time
    open_m: dict[float, np.ndarray]           # rain -> (dest, exit) uncovered metres
    route_m: dict[float, np.ndarray]          # rain -> (dest, exit) route length
    p_walker: dict[float, np.ndarray]         # rain -> (dest, exit) choice probabilities
    p_rider: dict[float, np.ndarray]          # rain -> (dest, pool) choice probabilities
    pool_detour_m: np.ndarray        # (pool, pool) walking distance between their exits
    van_s: np.ndarray                # (place, place) road travel time; places: pools then the depot
    van_km: np.ndarray
    # the evening, drawn once (same for every plan)
    pickup_t_s: np.ndarray
    pickup_pool: np.ndarray
    return_t_s: np.ndarray
    return_pool: np.ndarray
    walker_exit_counts: np.ndarray   # per exit, walkers of the evening
    rider_exit_counts: np.ndarray    # per exit, riders of the evening
    forecast_pickups: np.ndarray     # expected per pool over the run
    forecast_returns: np.ndarray
    rain_mm_per_h: float
    train_t_s: np.ndarray            # train arrival times
    rider_pool_per_train: np.ndarray # (train, pool) expected riders
    return_cum: np.ndarray           # expected returns (all pools) up to each second
    return_weight: np.ndarray        # share of returns per pool
    extra: dict = field(default_factory=dict)

    @property
    def depot_place(self) -> int:
        return len(self.pool_names)


def _walk_routes(walk: WalkGraph, scenario: BikeScenario, rain: float, dest_walk: list[int],
                 exit_walk: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(time s, uncovered m, length m) of the route from every exit to every destination, routes
    chosen as the crowd engine chooses them (shelter preference growing with rain)."""
    weather = scenario.weather
    shelter = 1.0 + weather.shelter_weight * min(rain / weather.heavy_rain_mm_per_h, 1.0) if rain > 0 else 1.0
    speed = WALK_SPEED_MPS * (RAIN_WALK_FACTOR if rain > 0 else 1.0)
    cell_cost = walk.cell_length_m / speed * np.where(walk.cell_covered, 1.0, shelter)
    edge_cost = np.repeat(cell_cost, 2)
    n_dest, n_exit = len(dest_walk), len(exit_walk)
    time_s = np.zeros((n_dest, n_exit))
    open_m = np.zeros((n_dest, n_exit))
    length_m = np.zeros((n_dest, n_exit))
    dist = np.empty(walk.n_nodes)
    nxt = np.empty(walk.n_nodes, dtype=np.int32)
    for d, goal in enumerate(dest_walk):
        dijkstra_to_goals(np.array([goal], dtype=np.int32), np.zeros(1), np.array([EXIT_HERE], dtype=np.int32),
                          edge_cost, walk.edge_to, walk.out_start, walk.out_edges, dist, nxt)
        for k, start in enumerate(exit_walk):
            node, total, uncovered, guard = start, 0.0, 0.0, 0
            while nxt[node] != EXIT_HERE:
                e = int(nxt[node])
                if e < 0 or guard > walk.n_edges:
                    raise ScenarioError(scenario.source_path or scenario.name,
                                        [f"demand.destinations: no walking route from an exit to "
                                         f"{list(scenario.demand.destinations)[d]!r}"])
                c = e // 2
                total += walk.cell_length_m[c]
                if not walk.cell_covered[c]:
                    uncovered += walk.cell_length_m[c]
                node = int(walk.edge_to[e])
                guard += 1
            length_m[d, k] = total
            open_m[d, k] = uncovered
            time_s[d, k] = total / speed
    return time_s, open_m, length_m


def _choice(utility: np.ndarray) -> np.ndarray:
    u = utility - utility.max(axis=1, keepdims=True)
    w = np.exp(u)
    return w / w.sum(axis=1, keepdims=True)


def _probabilities(a_time_walk, a_open, a_len, scenario: BikeScenario, rain: float, underground_s: np.ndarray,
                   pool_exit: np.ndarray, pool_walk_m: np.ndarray, pool_covered: np.ndarray):
    ec = scenario.exit_choice
    walker_min = (underground_s[None, :] + a_time_walk) / 60.0
    u_walk = -ec.time_weight_per_min * walker_min - rain * ec.rain_weight_per_100m * a_open / 100.0
    ride_m = a_len[:, pool_exit]
    rider_min = (underground_s[pool_exit][None, :] + pool_walk_m[None, :] / WALK_SPEED_MPS
                 + ride_m / ec.ride_speed_mps) / 60.0
    rider_open = np.where(pool_covered, 0.0, pool_walk_m)[None, :] + ride_m
    u_ride = -ec.time_weight_per_min * rider_min - rain * ec.rain_weight_per_100m * rider_open / 100.0
    return _choice(u_walk), _choice(u_ride)


def _nearest_road_node(road: RoadGraph, x: float, y: float, source: str) -> int:
    """The node nearest (x, y) on a way vans may drive (one with motor lanes)."""
    net = road.network
    ok = np.zeros(net.n_nodes, dtype=bool)
    drive = road.motor_lanes > 0
    ok[road.edge_from[drive]] = True
    ok[road.edge_to[drive]] = True
    cand = np.flatnonzero(ok)
    if cand.size == 0:
        raise ScenarioError(source, ["vans: the map has no way vans may drive (no road with motor lanes); "
                                     "use a map whose roads join the depot and the pools' exits"])
    d2 = (net.node_x_m[cand] - x) ** 2 + (net.node_y_m[cand] - y) ** 2
    return int(cand[np.argmin(d2)])


def _van_matrices(road: RoadGraph, places_xy: list[tuple[float, float]], source: str):
    """Road travel time (s) and distance (km) between places, by the road graph at the speed limits."""
    nodes = [_nearest_road_node(road, x, y, source) for x, y in places_xy]
    cost = np.where(road.motor_lanes > 0, road.length_m / road.speed_limit_mps, np.inf)
    n = len(nodes)
    time_s = np.zeros((n, n))
    km = np.zeros((n, n))
    dist = np.empty(road.n_nodes)
    nxt = np.empty(road.n_nodes, dtype=np.int32)
    for j, goal in enumerate(nodes):
        road_dijkstra(goal, cost, road.edge_from, road.in_start, road.in_edges, dist, nxt)
        for i, start in enumerate(nodes):
            if not np.isfinite(dist[start]):
                raise ScenarioError(source, ["vans: a pool cannot be reached by road from another pool or the depot"])
            time_s[i, j] = dist[start]
            node, metres = start, 0.0
            while node != goal:
                e = int(nxt[node])
                metres += road.length_m[e]
                node = int(road.edge_to[e])
            km[i, j] = metres / 1000.0
    return time_s, km


def _profile(points, minutes: np.ndarray) -> np.ndarray:
    xs = np.array([p[0] for p in points], dtype=float)
    ys = np.array([p[1] for p in points], dtype=float)
    return np.interp(minutes, xs, ys, left=ys[0], right=ys[-1])


def _profile_mean_max(points, end_min: float) -> tuple[float, float]:
    """Mean and largest value of a (minute, value) profile over [0, end_min] (ends held flat)."""
    xs = np.array([p[0] for p in points], dtype=float)
    ys = np.array([p[1] for p in points], dtype=float)
    knots = np.unique(np.clip(np.concatenate([[0.0, end_min], xs]), 0.0, end_min))
    vals = np.interp(knots, xs, ys, left=ys[0], right=ys[-1])
    if knots.size < 2:
        return float(vals[0]), float(vals[0])
    area = float(np.sum(0.5 * (vals[1:] + vals[:-1]) * np.diff(knots)))
    return area / end_min, float(vals.max())


#: Memory per item of an evening (bytes, measured order of magnitude, rounded up): the drawn riders
#: (time, pool, order, extra walk as a Python float), returns, trains, and one second of the
#: return-rate grid; a passenger while its train is drawn costs 48 + 9 bytes per exit.
BYTES_PER_RIDER = 120
BYTES_PER_RETURN = 48
BYTES_PER_SECOND = 48
BYTES_PER_MINUTE_PER_POOL = 1_000      # data collection and time-series rows, per plan


def check_evening_memory(scenario: BikeScenario, n_exits: int, n_pools: int, share: float) -> None:
    """Refuse an evening too large for the memory available, before anything is drawn
    (:func:`sim.core.memory.check_memory`, the estimate in the message)."""
    st, sim = scenario.station, scenario.simulation
    duration_min = sim.duration_s / 60.0
    n_trains = math.ceil(sim.duration_s / st.headway_s)
    per_train_mean, per_train_max = _profile_mean_max(st.alighting, duration_min)
    returns_mean, _ = _profile_mean_max(scenario.demand.returns_per_h, duration_min)
    per_second = BYTES_PER_SECOND + BYTES_PER_MINUTE_PER_POOL * n_pools * len(scenario.plans) / 60.0
    check_memory(sim.duration_s, per_second, what="simulated seconds", field="simulation.duration_s",
                 value=sim.duration_s)
    check_memory(n_trains, 8 * (3 + n_pools), what="trains", field="station.headway_s", value=st.headway_s)
    check_memory(per_train_max, 48 + 9 * n_exits, what="passengers on one train", field="station.alighting",
                 value=list(st.alighting))
    check_memory(n_trains * per_train_mean * share, BYTES_PER_RIDER, what="bike requests",
                 field="station.alighting", value=list(st.alighting))
    check_memory(returns_mean * sim.duration_s / 3600.0, BYTES_PER_RETURN, what="bike returns",
                 field="demand.returns_per_h", value=list(scenario.demand.returns_per_h))


def compile_bikes(scenario: BikeScenario, seed: int | None = None) -> BikeArrays:
    """Check a bike scenario against its map, compute routes and choice probabilities, and draw the
    evening's passengers and returns (seeded).  All errors are raised here, before any run."""
    source = scenario.source_path or scenario.name
    try:
        net = load_network(scenario.map_path)
    except MapError as exc:
        raise ScenarioError(source, [f"map: {exc}"]) from None
    walk = build_walk_graph(net, 100.0)
    road = build_road_graph(net)
    problems: list[str] = []
    st = scenario.station
    if st.exits:
        exit_nodes = []
        for k, spec in enumerate(st.exits):
            try:
                exit_nodes.append(net.find_node(spec, f"station.exits.{k}"))
            except MapError as exc:
                problems.append(str(exc))
    else:
        exit_nodes = [i for i, tags in enumerate(net.node_tags)
                      if tags.get("railway") == "subway_entrance" and tags.get("name", "").startswith(st.name)]
        if not exit_nodes:
            problems.append(f"station.name: no railway=subway_entrance node named {st.name!r}... on map "
                            f"{net.name!r}; list the exits in station.exits")
    if problems:
        raise ScenarioError(source, problems)
    exit_nodes = sorted(exit_nodes, key=lambda i: (net.node_tags[i].get("ref", ""), net.node_tags[i].get("name", "")))
    exit_names = [net.node_tags[i].get("name", str(net.node_osmid[i])) for i in exit_nodes]
    pool_names = list(scenario.pools)
    pool_exit = []
    for name, pool in scenario.pools.items():
        try:
            node = net.find_node(pool.exit, f"pools.{name}.exit")
        except MapError as exc:
            problems.append(str(exc))
            continue
        if node not in exit_nodes:
            problems.append(f"pools.{name}.exit: {pool.exit!r} is not an exit of station {st.name!r} "
                            f"(exits: {exit_names!r})")
            continue
        pool_exit.append(exit_nodes.index(node))
    dest_nodes = []
    for name in scenario.demand.destinations:
        try:
            dest_nodes.append(net.find_node(name, "demand.destinations"))
        except MapError as exc:
            problems.append(str(exc))
    try:
        depot = net.find_node(scenario.vans.depot, "vans.depot")
    except MapError as exc:
        problems.append(str(exc))
    if problems:
        raise ScenarioError(source, problems)
    try:
        exit_walk = [walk.walk_node(n, "station.exits") for n in exit_nodes]
        dest_walk = [walk.walk_node(n, "demand.destinations") for n in dest_nodes]
    except MapError as exc:
        raise ScenarioError(source, [str(exc)]) from None
    pool_exit = np.asarray(pool_exit, dtype=np.int32)
    pools = list(scenario.pools.values())
    pool_walk_m = np.array([p.walk_m for p in pools])
    pool_covered = np.array([p.covered for p in pools])

    ex = net.node_x_m[exit_nodes]
    ey = net.node_y_m[exit_nodes]
    centre = (ex.mean(), ey.mean())      # the platform: the centroid of the exits (documented)
    underground_s = np.hypot(ex - centre[0], ey - centre[1]) * st.underground_detour / st.underground_speed_mps

    rain = scenario.weather.rain_mm_per_h
    walk_s, open_m, route_m, p_walk, p_ride = {}, {}, {}, {}, {}
    for r in sorted({0.0, rain}):
        t, o, length = _walk_routes(walk, scenario, r, dest_walk, exit_walk)
        walk_s[r], open_m[r], route_m[r] = t, o, length
        p_walk[r], p_ride[r] = _probabilities(t, o, length, scenario, r, underground_s, pool_exit, pool_walk_m,
                                              pool_covered)

    # walking distance between the pools' exits (detours); plain lengths
    n_pools = len(pools)
    detour = np.zeros((n_pools, n_pools))
    plain = np.repeat(walk.cell_length_m, 2)
    dist = np.empty(walk.n_nodes)
    nxt = np.empty(walk.n_nodes, dtype=np.int32)
    for j in range(n_pools):
        goal = exit_walk[pool_exit[j]]
        dijkstra_to_goals(np.array([goal], dtype=np.int32), np.zeros(1), np.array([EXIT_HERE], dtype=np.int32),
                          plain, walk.edge_to, walk.out_start, walk.out_edges, dist, nxt)
        for i in range(n_pools):
            detour[i, j] = dist[exit_walk[pool_exit[i]]]

    places = [(net.node_x_m[exit_nodes[pool_exit[k]]], net.node_y_m[exit_nodes[pool_exit[k]]])
              for k in range(n_pools)] + [(net.node_x_m[depot], net.node_y_m[depot])]
    van_s, van_km = _van_matrices(road, places, source)

    # the evening: trains, passengers, riders, returns
    rng = np.random.default_rng(scenario.simulation.seed if seed is None else seed)
    duration = scenario.simulation.duration_s
    weights = np.array(list(scenario.demand.destinations.values()), dtype=float)
    weights /= weights.sum()
    share = bike_share(scenario, rain)
    check_evening_memory(scenario, len(exit_nodes), n_pools, share)
    train_t = np.arange(0.0, duration, st.headway_s)
    alight_mean = _profile(st.alighting, train_t / 60.0)
    pickups_t, pickups_pool = [], []
    walker_counts = np.zeros(len(exit_nodes), dtype=np.int64)
    rider_counts = np.zeros(len(exit_nodes), dtype=np.int64)
    cum_walk = np.cumsum(p_walk[rain], axis=1)
    cum_ride = np.cumsum(p_ride[rain], axis=1)
    for t0, mean in zip(train_t, alight_mean):
        n = rng.poisson(mean)
        if n == 0:
            continue
        dest = rng.choice(len(weights), size=n, p=weights)
        rider = rng.random(n) < share
        u = rng.random(n)
        ride_idx = np.flatnonzero(rider)
        walk_idx = np.flatnonzero(~rider)
        wexit = np.minimum((u[walk_idx, None] > cum_walk[dest[walk_idx]]).sum(axis=1), len(exit_nodes) - 1)
        np.add.at(walker_counts, wexit, 1)
        rpool = np.minimum((u[ride_idx, None] > cum_ride[dest[ride_idx]]).sum(axis=1), n_pools - 1)
        np.add.at(rider_counts, pool_exit[rpool], 1)
        arrive = t0 + underground_s[pool_exit[rpool]] + pool_walk_m[rpool] / WALK_SPEED_MPS
        pickups_t.append(arrive)
        pickups_pool.append(rpool)
    pickup_t = np.concatenate(pickups_t) if pickups_t else np.zeros(0)
    pickup_pool = np.concatenate(pickups_pool).astype(np.int32) if pickups_pool else np.zeros(0, np.int32)
    keep = pickup_t < duration
    order = np.argsort(pickup_t[keep], kind="stable")
    pickup_t, pickup_pool = pickup_t[keep][order], pickup_pool[keep][order]

    rain_factor = share / scenario.demand.bike_share_dry if scenario.demand.bike_share_dry > 0 else 0.0
    grid = np.arange(0.0, duration + 1.0, 1.0)
    rate = _profile(scenario.demand.returns_per_h, grid / 60.0) / 3600.0 * rain_factor
    cum = np.concatenate([[0.0], np.cumsum(0.5 * (rate[1:] + rate[:-1]))])
    n_ret = rng.poisson(cum[-1]) if cum[-1] > 0 else 0
    ret_t = np.sort(np.interp(rng.uniform(0.0, cum[-1], n_ret), cum, grid)) if n_ret else np.zeros(0)
    rw = np.array([p.return_weight for p in pools], dtype=float)
    rw = rw / rw.sum() if rw.sum() > 0 else np.full(n_pools, 1.0 / n_pools)
    ret_pool = rng.choice(n_pools, size=n_ret, p=rw).astype(np.int32) if n_ret else np.zeros(0, np.int32)

    # forecasts (expected values in the weather of the day)
    forecast_pickups = alight_mean.sum() * share * (weights @ p_ride[rain])
    forecast_returns = cum[-1] * rw

    return BikeArrays(
        scenario=scenario, walk=walk, road=road, exit_names=exit_names, exit_nodes=np.asarray(exit_nodes),
        pool_names=pool_names, pool_exit=pool_exit,
        pool_capacity=np.array([p.capacity for p in pools], dtype=np.int64),
        pool_stock0=np.array([p.stock for p in pools], dtype=np.int64),
        dest_names=list(scenario.demand.destinations), dest_weight=weights, underground_s=underground_s,
        walk_s=walk_s, open_m=open_m, route_m=route_m, p_walker=p_walk, p_rider=p_ride, pool_detour_m=detour,
        van_s=van_s, van_km=van_km, pickup_t_s=pickup_t, pickup_pool=pickup_pool, return_t_s=ret_t,
        return_pool=ret_pool, walker_exit_counts=walker_counts, rider_exit_counts=rider_counts,
        forecast_pickups=forecast_pickups, forecast_returns=forecast_returns, rain_mm_per_h=rain,
        train_t_s=train_t, rider_pool_per_train=np.outer(alight_mean * share, weights @ p_ride[rain]),
        return_cum=cum, return_weight=rw,
    )


def exit_shares(a: BikeArrays, rain: float) -> dict[str, float]:
    """Expected share of alighting passengers leaving by each exit (walkers and riders together)."""
    share = bike_share(a.scenario, rain)
    walkers = a.dest_weight @ a.p_walker[rain]
    riders_pool = a.dest_weight @ a.p_rider[rain]
    riders = np.zeros(len(a.exit_names))
    np.add.at(riders, a.pool_exit, riders_pool)
    mix = (1.0 - share) * walkers + share * riders
    return {name: round(float(v), 4) for name, v in zip(a.exit_names, mix)}


def shelter_shift(a: BikeArrays, rain: float) -> dict[str, float]:
    """How much passengers walk in the open (mean metres, on the routes of the day's weather) and
    the share leaving by the driest exit for their destination, when choosing as at ``rain``."""
    wet = a.rain_mm_per_h
    p = a.p_walker[rain]
    open_m = a.open_m[wet]
    driest = np.argmin(open_m, axis=1)
    return {"open_m_walked_mean": round(float(a.dest_weight @ (p * open_m).sum(axis=1)), 1),
            "driest_exit_share": round(float(a.dest_weight @ p[np.arange(p.shape[0]), driest]), 4)}
