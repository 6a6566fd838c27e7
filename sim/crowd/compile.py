"""Compile a crowd scenario onto its map: the kernels' immutable input arrays, routes and arrivals.

:func:`compile_crowd` turns (scenario, map) into :class:`CrowdArrays` and checks everything the
scenario names against the map; :func:`compute_routes` builds the next-hop tables;
:func:`generate_arrivals` draws the people of a run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..core.errors import MapError, ScenarioError
from ..core.osm import load_network
from ..core.routing import EXIT_HERE, fill_next_hops
from ..core.walk import WalkGraph, build_walk_graph
from . import kernels as K
from .fundamental import capacity_point, los_density_thresholds
from .schema import CrowdScenario

__all__ = ["CrowdArrays", "Arrivals", "compile_crowd", "compute_routes", "free_flow_costs", "generate_arrivals",
           "walk_graph_for", "NO_CAP"]

NO_CAP = 2**62


@dataclass(frozen=True)
class CrowdArrays:
    """Everything the kernels read and never write, for one scenario on one map."""

    walk: WalkGraph
    dt_s: float
    v0_mps: float
    gamma: float
    rho_jam_ppm2: float
    rho_crit_ppm2: float
    q_max_ppms: float
    los_thresholds_ppm2: np.ndarray      # density at which LOS B..F begin (rain-adjusted)
    edge_cell: np.ndarray                # int32
    edge_length_m: np.ndarray
    edge_out_cap: np.ndarray             # people per step that may leave each edge
    cell_capacity: np.ndarray            # int32 jam capacity (rain: umbrella spacing)
    cell_hard_capacity: np.ndarray       # int32 body limit, area x rho_max: never exceeded
    cell_view_capacity: np.ndarray       # int32 people that stand to watch
    cell_zone: np.ndarray                # int32, -1 outside every zone
    cell_release_group: np.ndarray       # int32
    zone_names: tuple[str, ...]
    zone_cap: np.ndarray                 # int64, NO_CAP when uncapped
    zone_reopen: np.ndarray              # int64 occupancy at which a closed gate reopens
    zone_area_m2: np.ndarray
    view_cell: np.ndarray                # int32 cell of each viewing target
    view_log_attr: np.ndarray
    exit_names: tuple[str, ...]          # rows of the exit table; the last is "any open exit"
    exit_seed_start: np.ndarray
    exit_seed_nodes: np.ndarray
    exit_seed_penalty_s: np.ndarray
    sink_rate: np.ndarray                # people per step per walk node (inf: no limit)
    shelter_factor: float
    source_names: tuple[str, ...]
    source_nodes: tuple[np.ndarray, ...] # walk nodes of each source
    source_exit_row: np.ndarray          # int32 exit-table row of each source
    release_times_s: np.ndarray          # time each release group is sent home
_WALK_CACHE: dict[tuple[str, float], WalkGraph] = {}


def walk_graph_for(scenario: CrowdScenario) -> WalkGraph:
    """The scenario's map as a walk graph (cached per map and cell size)."""
    key = (str(scenario.map_path), scenario.simulation.max_cell_m)
    if key not in _WALK_CACHE:
        try:
            net = load_network(scenario.map_path)
        except MapError as exc:
            raise ScenarioError(scenario.source_path, [f"map: {exc}"]) from None
        _WALK_CACHE[key] = build_walk_graph(net, scenario.simulation.max_cell_m)
    return _WALK_CACHE[key]


def _zone_cells(walk: WalkGraph, scenario: CrowdScenario, problems: list[str]) -> np.ndarray:
    cell_zone = np.full(walk.n_cells, -1, dtype=np.int32)
    for z, (name, zone) in enumerate(scenario.zones.items()):
        key, value = (part.strip() for part in zone.match.split("=", 1))
        links = walk.network.links_where(key, value)
        cells = walk.cells_of_links(links)
        if cells.size == 0:
            problems.append(f"zones.{name}.match: no walkable way on map {walk.network.name!r} has "
                            f"{key}={value!r}")
            continue
        clash = cells[cell_zone[cells] >= 0]
        if clash.size:
            other = scenario_zone_names(scenario)[cell_zone[clash[0]]]
            problems.append(f"zones.{name}.match: {zone.match!r} overlaps zone {other!r}; a way may "
                            f"belong to one zone only")
        cell_zone[cells] = z
    return cell_zone


def scenario_zone_names(scenario: CrowdScenario) -> tuple[str, ...]:
    return tuple(scenario.zones)


def _resolve_nodes(walk: WalkGraph, specs, field: str, problems: list[str]) -> np.ndarray:
    nodes = []
    for k, spec in enumerate(specs):
        try:
            nodes.append(walk.walk_node(walk.network.find_node(spec, f"{field}.{k}"), f"{field}.{k}"))
        except MapError as exc:
            problems.append(str(exc))
    return np.asarray(nodes, dtype=np.int32)


def compile_crowd(scenario: CrowdScenario) -> CrowdArrays:
    """Check the scenario against its map and build the kernels' input arrays."""
    walk = walk_graph_for(scenario)
    problems: list[str] = []
    sim, crowd, weather = scenario.simulation, scenario.crowd, scenario.weather
    dt = sim.dt_s
    rain = scenario.raining
    walk_space = 1.0 / crowd.rho_max_ppm2 + (weather.umbrella_walk_space_m2 if rain else 0.0)
    rho_jam = 1.0 / walk_space
    v0 = crowd.v0_mps * (weather.rain_free_speed_factor if rain else 1.0)
    rho_crit, q_max = capacity_point(v0, crowd.gamma, rho_jam)
    view_space = max(crowd.view_space_m2, weather.umbrella_view_space_m2 if rain else 0.0, walk_space)
    los = los_density_thresholds(weather.umbrella_walk_space_m2 if rain else 0.0)

    n_cells = walk.n_cells
    area = walk.cell_area_m2
    cell_capacity = np.maximum(1, np.floor(area * rho_jam)).astype(np.int32)
    cell_hard_capacity = np.maximum(1, np.floor(area * crowd.rho_max_ppm2)).astype(np.int32)
    # Stewards keep a walking aisle clear of standing viewers on ways wide enough for one.
    width = walk.cell_width_m
    aisle = crowd.aisle_width_m
    standing_area = np.where(width > 2 * aisle, area * (1.0 - aisle / np.maximum(width, 1e-9)), area)
    cell_view_capacity = np.floor(standing_area / view_space).astype(np.int32)
    edge_cell = (np.arange(2 * n_cells) // 2).astype(np.int32)
    edge_length = walk.cell_length_m[edge_cell].astype(np.float64)
    # Sending capacity per edge: stairs by direction (IMO), signalised crossings by green share.
    flow = np.full(2 * n_cells, q_max)
    forward_up = np.repeat(walk.cell_incline_up, 2).astype(np.int64)
    forward_up[1::2] *= -1
    steps = np.repeat(walk.cell_steps, 2)
    flow[steps & (forward_up >= 0)] = crowd.stairs_up_flow_ppms     # unknown incline: the lower, up
    flow[steps & (forward_up < 0)] = crowd.stairs_down_flow_ppms
    flow[np.repeat(walk.cell_signal, 2)] *= crowd.signal_green_share
    edge_out_cap = flow * walk.cell_width_m[edge_cell] * dt

    cell_zone = _zone_cells(walk, scenario, problems)
    zone_names = scenario_zone_names(scenario)
    zones = list(scenario.zones.values())
    zone_cap = np.array([z.cap if z.cap is not None else NO_CAP for z in zones], dtype=np.int64)
    zone_reopen = np.array([math.floor(z.cap * z.reopen_fraction) if z.cap is not None else NO_CAP
                            for z in zones], dtype=np.int64)
    zone_area = np.array([area[cell_zone == z].sum() for z in range(len(zones))])

    # Viewing targets and release groups.
    sections = [walk.network.link_tags[link].get("section", "") for link in walk.cell_link]
    order = scenario.show.release_order if scenario.show.release == "staged" else []
    known_sections = {s for s in sections if s}
    for name in order:
        if name not in known_sections:
            problems.append(f"show.release_order: section {name!r} is not on the map "
                            f"(sections: {sorted(known_sections)!r})")
    for name in scenario.viewing.section_weights:
        if name not in known_sections:
            problems.append(f"viewing.section_weights: section {name!r} is not on the map "
                            f"(sections: {sorted(known_sections)!r})")
    group_of = {name: k for k, name in enumerate(order)}
    cell_release_group = np.array([group_of.get(s, 0) for s in sections], dtype=np.int32)
    n_groups = max(1, len(order))
    release_times = scenario.show.end_s + scenario.show.release_interval_s * np.arange(n_groups)
    view_zone = np.array([z.view for z in zones] + [False])
    view_cells = np.flatnonzero(view_zone[cell_zone] & (cell_zone >= 0) & (cell_view_capacity > 0))
    weights = np.array([zones[cell_zone[c]].view_weight * scenario.viewing.section_weights.get(sections[c], 1.0)
                        for c in view_cells])
    view_log_attr = np.log(np.maximum(area[view_cells] * weights, 1e-9)) if view_cells.size else np.zeros(0)

    # Exits: one table row per group, plus a last row with every open exit.
    exit_names = tuple(scenario.exits) + ("any open exit",)
    heavy = min(weather.rain_mm_per_h / weather.heavy_rain_mm_per_h, 1.0)
    sink_rate = np.full(walk.n_nodes, np.inf)
    seed_nodes, seed_pen, seed_start = [], [], [0]
    open_nodes, open_pen = [], []
    for name, spec in scenario.exits.items():
        nodes = _resolve_nodes(walk, spec.nodes, f"exits.{name}.nodes", problems)
        penalty = 0.0 if spec.covered else weather.uncovered_exit_penalty_s * heavy
        if spec.flow_pps is not None:
            sink_rate[nodes] = np.minimum(sink_rate[nodes], spec.flow_pps * dt)
        if not spec.closed:
            seed_nodes.extend(nodes.tolist())
            seed_pen.extend([penalty] * len(nodes))
            open_nodes.extend(nodes.tolist())
            open_pen.extend([penalty] * len(nodes))
        seed_start.append(len(seed_nodes))
    seed_nodes.extend(open_nodes)
    seed_pen.extend(open_pen)
    seed_start.append(len(seed_nodes))
    any_row = len(exit_names) - 1
    exit_index = {name: k for k, name in enumerate(scenario.exits)}

    source_nodes, source_exit_row = [], []
    for k, source in enumerate(scenario.sources):
        source_nodes.append(_resolve_nodes(walk, source.nodes, f"sources.{k}.nodes", problems))
        closed = scenario.exits[source.exit].closed if source.exit in scenario.exits else True
        source_exit_row.append(any_row if closed else exit_index.get(source.exit, any_row))
    if view_cells.size == 0 and not problems:
        problems.append("zones: the viewing zones hold no cell wide enough to stand in")
    if problems:
        raise ScenarioError(scenario.source_path, problems)

    arrays = CrowdArrays(
        walk=walk, dt_s=dt, v0_mps=v0, gamma=crowd.gamma, rho_jam_ppm2=rho_jam, rho_crit_ppm2=rho_crit,
        q_max_ppms=q_max, los_thresholds_ppm2=los, edge_cell=edge_cell, edge_length_m=edge_length,
        edge_out_cap=edge_out_cap, cell_capacity=cell_capacity,
        cell_hard_capacity=cell_hard_capacity, cell_view_capacity=cell_view_capacity,
        cell_zone=cell_zone, cell_release_group=cell_release_group, zone_names=zone_names,
        zone_cap=zone_cap, zone_reopen=zone_reopen, zone_area_m2=zone_area,
        view_cell=view_cells.astype(np.int32), view_log_attr=view_log_attr,
        exit_names=exit_names, exit_seed_start=np.asarray(seed_start, dtype=np.int64),
        exit_seed_nodes=np.asarray(seed_nodes, dtype=np.int32),
        exit_seed_penalty_s=np.asarray(seed_pen, dtype=np.float64), sink_rate=sink_rate,
        shelter_factor=1.0 + weather.shelter_weight * heavy,
        source_names=tuple(s.name for s in scenario.sources), source_nodes=tuple(source_nodes),
        source_exit_row=np.asarray(source_exit_row, dtype=np.int32), release_times_s=release_times,
    )
    _check_reachability(arrays, scenario)
    return arrays


def _view_seeds(arrays: CrowdArrays) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Seeds of the viewing-target rows: both ends of the target cell, entering it."""
    walk = arrays.walk
    cells = arrays.view_cell
    nodes = np.empty(2 * cells.size, dtype=np.int32)
    nodes[0::2] = walk.cell_a[cells]
    nodes[1::2] = walk.cell_b[cells]
    nexts = np.empty(2 * cells.size, dtype=np.int32)
    nexts[0::2] = 2 * cells
    nexts[1::2] = 2 * cells + 1
    start = np.arange(0, 2 * cells.size + 1, 2, dtype=np.int64)
    return start, nodes, np.zeros(2 * cells.size), nexts
#: People leaving avoid walking through a capped zone (its gates may be closed to them too).
CAPPED_ZONE_EXIT_COST_FACTOR = 3.0


def compute_routes(arrays: CrowdArrays, edge_cost_s: np.ndarray):
    """(view_dist, view_next, exit_dist, exit_next) tables for the given edge costs."""
    walk = arrays.walk
    start, nodes, cost, nexts = _view_seeds(arrays)
    n_view = arrays.view_cell.size
    view_dist = np.empty((n_view, walk.n_nodes))
    view_next = np.empty((n_view, walk.n_nodes), dtype=np.int32)
    fill_next_hops(start, nodes, cost, nexts, edge_cost_s, walk.edge_to, walk.out_start, walk.out_edges,
                   view_dist, view_next)
    n_exit = len(arrays.exit_names)
    exit_dist = np.empty((n_exit, walk.n_nodes))
    exit_next = np.empty((n_exit, walk.n_nodes), dtype=np.int32)
    capped_zone = np.append(arrays.zone_cap < NO_CAP, False)
    exit_cost = np.where(capped_zone[arrays.cell_zone[arrays.edge_cell]],
                         edge_cost_s * CAPPED_ZONE_EXIT_COST_FACTOR, edge_cost_s)
    fill_next_hops(arrays.exit_seed_start, arrays.exit_seed_nodes, arrays.exit_seed_penalty_s,
                   np.full(arrays.exit_seed_nodes.size, EXIT_HERE, dtype=np.int32), exit_cost,
                   walk.edge_to, walk.out_start, walk.out_edges, exit_dist, exit_next)
    return view_dist, view_next, exit_dist, exit_next


def free_flow_costs(arrays: CrowdArrays) -> np.ndarray:
    cost = np.empty(arrays.edge_cell.size)
    speed = np.full(arrays.walk.n_cells, arrays.v0_mps)
    K.edge_costs(arrays.edge_cell, arrays.edge_length_m, speed, arrays.walk.cell_covered,
                 arrays.shelter_factor, np.zeros(arrays.edge_cell.size), 0.1, cost)
    return cost


def _check_reachability(arrays: CrowdArrays, scenario: CrowdScenario) -> None:
    view_dist, _, exit_dist, _ = compute_routes(arrays, free_flow_costs(arrays))
    problems = []
    for k, nodes in enumerate(arrays.source_nodes):
        for j, node in enumerate(nodes):
            if not np.isfinite(view_dist[:, node]).any():
                problems.append(f"sources.{k}.nodes.{j}: node {scenario.sources[k].nodes[j]!r} cannot reach "
                                f"any viewing zone on the walk network")
            if not np.isfinite(exit_dist[arrays.source_exit_row[k], node]):
                problems.append(f"sources.{k}.nodes.{j}: node {scenario.sources[k].nodes[j]!r} cannot reach "
                                f"exit group {scenario.sources[k].exit!r}")
    if problems:
        raise ScenarioError(scenario.source_path, problems)


def _profile_cumulative(profile: list[tuple[float, float]], t_s: np.ndarray) -> np.ndarray:
    """Expected arrivals by time ``t_s`` for a piecewise-linear (minute, people/min) profile."""
    minutes = np.array([p[0] for p in profile], dtype=np.float64)
    rates = np.array([p[1] for p in profile], dtype=np.float64) / 60.0   # people per second
    knots_s = minutes * 60.0
    seg = np.diff(knots_s)
    cum = np.concatenate([[0.0], np.cumsum(0.5 * (rates[1:] + rates[:-1]) * seg)])
    t = np.clip(t_s, knots_s[0], knots_s[-1])
    k = np.clip(np.searchsorted(knots_s, t, side="right") - 1, 0, len(seg) - 1)
    dt = t - knots_s[k]
    slope = np.where(seg[k] > 0, (rates[k + 1] - rates[k]) / np.where(seg[k] > 0, seg[k], 1.0), 0.0)
    return cum[k] + rates[k] * dt + 0.5 * slope * dt * dt


@dataclass(frozen=True)
class Arrivals:
    """The people of a run, sorted by arrival time (agent index = arrival order)."""

    time_s: np.ndarray
    source: np.ndarray
    node: np.ndarray
    target: np.ndarray
    stand_frac: np.ndarray
    exit_row: np.ndarray


def generate_arrivals(arrays: CrowdArrays, scenario: CrowdScenario, rng: np.random.Generator,
                      view_dist: np.ndarray) -> Arrivals:
    """Draw everyone's arrival time, node, viewing target and standing spot from the profiles.

    Counts are Poisson with the profile's expected total; times follow the profile's shape (inverse
    of its cumulative curve); arrivals stop at the end of the show.  Targets are drawn with weight
    ``appeal * exp(-walk time / view_distance_scale_s)`` from the arrival node.
    """
    horizon = min(scenario.show.end_s, scenario.simulation.duration_s)
    grid = np.linspace(0.0, horizon, int(horizon // 10) + 2)
    parts = []
    scale = scenario.crowd.view_distance_scale_s
    for k, source in enumerate(scenario.sources):
        cum = _profile_cumulative(source.profile, grid)
        n = int(rng.poisson(cum[-1])) if cum[-1] > 0 else 0
        if n == 0:
            continue
        u = np.sort(rng.random(n)) * cum[-1]
        times = np.interp(u, cum, grid)
        nodes = arrays.source_nodes[k][rng.integers(0, arrays.source_nodes[k].size, n)]
        logits = arrays.view_log_attr[None, :] - view_dist[:, nodes].T / scale
        logits = np.where(np.isfinite(logits), logits, -np.inf)
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        cdf = np.cumsum(probs, axis=1)
        cdf /= cdf[:, -1:]
        draws = rng.random(n)
        targets = np.minimum((cdf < draws[:, None]).sum(axis=1), cdf.shape[1] - 1)
        parts.append((times, np.full(n, k), nodes, targets, rng.random(n),
                      np.full(n, arrays.source_exit_row[k])))
    if not parts:
        empty = np.zeros(0)
        return Arrivals(empty, empty.astype(np.int32), empty.astype(np.int32), empty.astype(np.int32),
                        empty, empty.astype(np.int32))
    cols = [np.concatenate(c) for c in zip(*parts)]
    order = np.argsort(cols[0], kind="stable")
    return Arrivals(time_s=cols[0][order], source=cols[1][order].astype(np.int32),
                    node=cols[2][order].astype(np.int32), target=cols[3][order].astype(np.int32),
                    stand_frac=cols[4][order], exit_row=cols[5][order].astype(np.int32))
