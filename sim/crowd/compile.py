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
from ..core.memory import check_memory
from ..core.osm import load_network
from ..core.places import resolve_place
from ..core.routing import EXIT_HERE, fill_next_hops
from ..core.walk import WalkGraph, build_walk_graph
from . import kernels as K
from .fundamental import capacity_point, los_density_thresholds, queue_los_density_thresholds
from .places import Places, places_of
from .schema import CrowdScenario

__all__ = ["CrowdArrays", "Arrivals", "Placed", "compile_crowd", "compute_routes", "free_flow_costs",
           "generate_arrivals", "place_populations", "draw_free_speeds", "walk_graph_for", "one_way_penalty_s",
           "NO_CAP", "ONE_WAY_PENALTY_S"]

NO_CAP = 2**62


@dataclass(frozen=True)
class CrowdArrays:
    """Everything the kernels read and never write, for one scenario on one map."""

    walk: WalkGraph
    net: K.Net                           # the kernels' view of the walk network
    params: K.Params
    dt_s: float
    v0_mps: float                        # mean free speed on the level in the weather
    gamma: float
    rho_jam_ppm2: float
    rho_crit_ppm2: float
    q_max_ppms: float
    queue_density_ppm2: float            # people queue at this density (weather included)
    los_thresholds_ppm2: np.ndarray      # density at which walkway LOS B..F begin (rain-adjusted)
    queue_los_thresholds_ppm2: np.ndarray  # density at which queuing LOS B..F begin (rain-adjusted)
    edge_cell: np.ndarray                # int32
    edge_length_m: np.ndarray
    cell_release_group: np.ndarray       # int32
    cell_steps: np.ndarray               # bool: stairs
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
    exit_cost_factor: np.ndarray         # per directed edge: weight of its cost on the way out
    shelter_factor: float
    source_names: tuple[str, ...]
    source_nodes: tuple[np.ndarray, ...] # walk nodes of each source
    source_exit_row: np.ndarray          # int32 exit-table row of each source
    population_cells: tuple[np.ndarray, ...]  # cells each population stands on
    population_exit_row: np.ndarray      # int32
    release_times_s: np.ndarray          # time each release group is sent home
    speed_group_names: tuple[str, ...]
    places: Places                       # the named places reported on (stairs, squares, street sections...)
    one_way_edges: tuple[np.ndarray, ...] = ()  # per [[one_way]]: the directed edges against it
    source_divert: np.ndarray | None = None  # int32 per source: where its diverted people go (-1: away)

    @property
    def cell_area_m2(self) -> np.ndarray:
        return self.net.cell_area_m2

    @property
    def cell_zone(self) -> np.ndarray:
        return self.net.cell_zone


_WALK_CACHE: dict[tuple, WalkGraph] = {}


def _zone_net_nodes(net, scenario: CrowdScenario, name: str) -> list[int]:
    """Network nodes of a zone given by ``nodes`` (names that do not resolve are reported later)."""
    found = []
    usable = net.node_mask("walk")
    for k, spec in enumerate(scenario.zones[name].nodes):
        try:
            found.append(resolve_place(net, spec, f"zones.{name}.nodes.{k}", usable=usable,
                                       max_snap_m=scenario.map_defaults.max_snap_m).node)
        except MapError:
            pass
    return found


def _gate_nodes(net, scenario: CrowdScenario) -> np.ndarray:
    """Network nodes where a zone's ways meet other ways: its gates, where queues form (and the
    nodes of cordon zones, whose ways are cut short there)."""
    zone_of = np.full(net.n_links, -1)
    extra = []
    for z, (name, zone) in enumerate(scenario.zones.items()):
        if zone.match is None:
            extra.extend(_zone_net_nodes(net, scenario, name))
            continue
        key, value = (part.strip() for part in zone.match.split("=", 1))
        zone_of[net.links_where(key, value)] = z
    walk = net.walk
    nodes = []
    for n_field in (net.link_u, net.link_v):
        nodes.append(n_field[walk])
    ends = np.concatenate(nodes)
    zones = np.concatenate([zone_of[walk], zone_of[walk]])
    gates = []
    for node in np.unique(ends):
        if np.unique(zones[ends == node]).size > 1:
            gates.append(node)
    return np.unique(np.asarray(gates + extra, dtype=np.int64))


def walk_graph_for(scenario: CrowdScenario) -> WalkGraph:
    """The scenario's map as a walk graph: cells of at most ``max_cell_m``, short cells on stairs,
    ramps, crossings and zone gates and their approaches (cached per map and cell settings)."""
    sim = scenario.simulation
    try:
        net = load_network(scenario.map_path, defaults=scenario.map_defaults)
    except MapError as exc:
        raise ScenarioError(scenario.source_path, [f"map: {exc}"]) from None
    gates = _gate_nodes(net, scenario)
    key = (str(scenario.map_path), scenario.map_defaults.model_dump_json(), sim.max_cell_m, sim.short_cell_m,
           sim.approach_m, tuple(gates.tolist()))
    if key not in _WALK_CACHE:
        try:
            _WALK_CACHE[key] = build_walk_graph(net, sim.max_cell_m, min(sim.short_cell_m, sim.max_cell_m),
                                                sim.approach_m, gates)
        except MapError as exc:
            raise ScenarioError(scenario.source_path, [f"map: {exc}"]) from None
    return _WALK_CACHE[key]


def _zone_cells(walk: WalkGraph, scenario: CrowdScenario, problems: list[str]) -> np.ndarray:
    cell_zone = np.full(walk.n_cells, -1, dtype=np.int32)
    snap_m = scenario.map_defaults.max_snap_m
    for z, (name, zone) in enumerate(scenario.zones.items()):
        if zone.match is None:
            field = f"zones.{name}.nodes"
            nodes = _resolve_nodes(walk, zone.nodes, field, problems, snap_m)
            cells = np.flatnonzero(np.isin(walk.cell_a, nodes) | np.isin(walk.cell_b, nodes))
        else:
            field = f"zones.{name}.match"
            key, value = (part.strip() for part in zone.match.split("=", 1))
            links = walk.network.links_where(key, value)
            cells = walk.cells_of_links(links)
            if cells.size == 0:
                problems.append(f"{field}: no walkable way on map {walk.network.name!r} has {key}={value!r}")
                continue
        clash = cells[cell_zone[cells] >= 0]
        if clash.size:
            other = scenario_zone_names(scenario)[cell_zone[clash[0]]]
            problems.append(f"{field}: zone {name!r} overlaps zone {other!r}; a way may belong to one zone only")
        cell_zone[cells] = z
    return cell_zone


def _one_way_edges(walk: WalkGraph, scenario: CrowdScenario, problems: list[str]) -> tuple[np.ndarray, ...]:
    """Per [[one_way]] entry, the directed edges that go against it: along its ways, those that lead
    away from its ``toward`` node (by walking distance along those ways)."""
    import heapq

    net = walk.network
    snap_m = scenario.map_defaults.max_snap_m
    out = []
    for k, spec in enumerate(scenario.one_way):
        key, value = (part.strip() for part in spec.match.split("=", 1))
        cells = walk.cells_of_links(net.links_where(key, value))
        target = _resolve_nodes(walk, [spec.toward], f"one_way.{k}.toward", problems, snap_m)
        if cells.size == 0:
            problems.append(f"one_way.{k}.match: no walkable way on map {net.name!r} has {key}={value!r}")
        if cells.size == 0 or target.size == 0:
            out.append(np.zeros(0, dtype=np.int64))
            continue
        adjacency: dict[int, list[tuple[int, float]]] = {}
        for c in cells.tolist():
            a, b, length = int(walk.cell_a[c]), int(walk.cell_b[c]), float(walk.cell_length_m[c])
            adjacency.setdefault(a, []).append((b, length))
            adjacency.setdefault(b, []).append((a, length))
        dist = {int(target[0]): 0.0}
        heap = [(0.0, int(target[0]))]
        while heap:
            d, n = heapq.heappop(heap)
            if d > dist.get(n, np.inf):
                continue
            for m, length in adjacency.get(n, []):
                if d + length < dist.get(m, np.inf):
                    dist[m] = d + length
                    heapq.heappush(heap, (d + length, m))
        if int(target[0]) not in adjacency:
            problems.append(f"one_way.{k}.toward: {spec.toward!r} is not on the ways {spec.match!r}")
            out.append(np.zeros(0, dtype=np.int64))
            continue
        d_a = np.array([dist.get(int(n), np.inf) for n in walk.cell_a[cells]])
        d_b = np.array([dist.get(int(n), np.inf) for n in walk.cell_b[cells]])
        if not np.all(np.isfinite(d_a) & np.isfinite(d_b)):
            problems.append(f"one_way.{k}.match: some of the ways {spec.match!r} do not lead to {spec.toward!r}")
        # Against the direction: a->b (2c) where b lies further from the target, else b->a (2c+1).
        out.append(np.where(d_b > d_a, 2 * cells, 2 * cells + 1).astype(np.int64))
    return tuple(out)


#: Route cost added to an edge walked against a one-way (s): routes take any way round instead.
ONE_WAY_PENALTY_S = 1e6


def scenario_zone_names(scenario: CrowdScenario) -> tuple[str, ...]:
    return tuple(scenario.zones)


def _resolve_nodes(walk: WalkGraph, specs, field: str, problems: list[str], max_snap_m: float = 150.0) -> np.ndarray:
    """Walk nodes of places given by OSM id, name, ``"A & B"``, POI or ``"lat,lon"`` (snapped to the
    nearest walkable node within ``max_snap_m``: :func:`sim.core.places.resolve_place`)."""
    nodes = []
    usable = walk.network.node_mask("walk")
    for k, spec in enumerate(specs):
        try:
            place = resolve_place(walk.network, spec, f"{field}.{k}", usable=usable, max_snap_m=max_snap_m)
            nodes.append(walk.walk_node(place.node, f"{field}.{k}"))
        except MapError as exc:
            problems.append(str(exc))
    return np.asarray(nodes, dtype=np.int32)


def compile_crowd(scenario: CrowdScenario) -> CrowdArrays:
    """Check the scenario against its map and build the kernels' input arrays."""
    walk = walk_graph_for(scenario)
    problems: list[str] = []
    sim, crowd, weather = scenario.simulation, scenario.crowd, scenario.weather
    snap_m = scenario.map_defaults.max_snap_m
    dt = sim.dt_s
    rain = scenario.raining
    umbrella = weather.umbrella_walk_space_m2 if rain else 0.0
    rho_jam = 1.0 / (1.0 / crowd.rho_max_ppm2 + umbrella)
    rain_speed = weather.rain_free_speed_factor if rain else 1.0
    v0 = crowd.v0_mps * rain_speed
    rho_crit, q_max = capacity_point(v0, crowd.gamma, rho_jam)
    _, q_max_dry = capacity_point(crowd.v0_mps, crowd.gamma, crowd.rho_max_ppm2)
    view_space = max(crowd.view_space_m2, weather.umbrella_view_space_m2 if rain else 0.0, 1.0 / rho_jam)
    queue_space = crowd.queue_space_m2 + umbrella
    los = los_density_thresholds(umbrella)
    queue_los = queue_los_density_thresholds(umbrella)

    n_cells = walk.n_cells
    area = walk.cell_area_m2
    cell_capacity = np.maximum(1, np.floor(area / queue_space)).astype(np.int32)
    cell_jam_capacity = np.maximum(cell_capacity, np.floor(area * rho_jam)).astype(np.int32)
    # Stewards keep a walking aisle clear of standing viewers on ways wide enough for one.
    width = walk.cell_width_m
    aisle = crowd.aisle_width_m
    standing_area = np.where(width > 2 * aisle, area * (1.0 - aisle / np.maximum(width, 1e-9)), area)
    cell_view_capacity = np.floor(standing_area / view_space).astype(np.int32)
    edge_cell = (np.arange(2 * n_cells) // 2).astype(np.int32)
    edge_length = walk.cell_length_m[edge_cell].astype(np.float64)

    # Stairs by direction: free speed (Fruin) and capacity (IMO, lowered in rain as on the level).
    forward_up = np.repeat(walk.cell_incline_up, 2).astype(np.int64)
    forward_up[1::2] *= -1
    steps = np.repeat(walk.cell_steps, 2)
    up = steps & (forward_up >= 0)                     # unknown incline: the slower, up
    down = steps & (forward_up < 0)
    rain_capacity = q_max / q_max_dry
    stairs_ppms = np.zeros(2 * n_cells)
    stairs_ppms[up] = crowd.stairs_up_flow_ppms * rain_capacity
    stairs_ppms[down] = crowd.stairs_down_flow_ppms * rain_capacity
    free_factor = np.ones(2 * n_cells)
    free_factor[up] = crowd.stairs_up_speed_mps / crowd.v0_mps
    free_factor[down] = crowd.stairs_down_speed_mps / crowd.v0_mps
    flow = np.where(steps, stairs_ppms, q_max)
    flow[np.repeat(walk.cell_signal, 2)] *= crowd.signal_green_share
    edge_out_cap = flow * walk.cell_width_m[edge_cell] * dt
    cell_out_cap = np.maximum(edge_out_cap[0::2], edge_out_cap[1::2])
    cell_stairs_ppms = np.maximum(stairs_ppms[0::2], stairs_ppms[1::2])
    rho_c_edges = np.where(steps, stairs_ppms / np.maximum(free_factor * v0, 1e-9), 0.0)
    cell_stairs_rho_c = np.maximum(rho_c_edges[0::2], rho_c_edges[1::2])

    cell_zone = _zone_cells(walk, scenario, problems)
    zone_names = scenario_zone_names(scenario)
    zones = list(scenario.zones.values())
    zone_cap = np.array([z.cap if z.cap is not None else NO_CAP for z in zones], dtype=np.int64)
    zone_reopen = np.array([math.floor(z.cap * z.reopen_fraction) if z.cap is not None else NO_CAP
                            for z in zones], dtype=np.int64)
    zone_area = np.array([area[cell_zone == z].sum() for z in range(len(zones))])

    # Viewing targets and release groups.
    sections = [walk.network.link_tags[link].get("section", "") for link in walk.cell_link]
    show = scenario.show
    order = show.release_order if show is not None and show.release == "staged" else []
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
    release_times = (show.end_s + show.release_interval_s * np.arange(n_groups)) if show is not None else np.zeros(0)
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
        nodes = _resolve_nodes(walk, spec.nodes, f"exits.{name}.nodes", problems, snap_m)
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

    def exit_row(group: str) -> int:
        closed = scenario.exits[group].closed if group in scenario.exits else True
        return any_row if closed else exit_index.get(group, any_row)

    source_nodes, source_exit_row = [], []
    for k, source in enumerate(scenario.sources):
        source_nodes.append(_resolve_nodes(walk, source.nodes, f"sources.{k}.nodes", problems, snap_m))
        source_exit_row.append(exit_row(source.exit))
    population_cells, population_exit_row = [], []
    for k, pop in enumerate(scenario.populations):
        key, value = (part.strip() for part in pop.match.split("=", 1))
        cells = walk.cells_of_links(walk.network.links_where(key, value))
        if cells.size == 0:
            problems.append(f"populations.{k}.match: no walkable way on map {walk.network.name!r} has "
                            f"{key}={value!r}")
        elif pop.people > int(np.floor(area[cells] * rho_jam).sum()):
            problems.append(f"populations.{k}.people: {pop.people!r} people do not fit on the ways "
                            f"{pop.match!r} ({area[cells].sum():.0f} m2 hold {int(np.floor(area[cells] * rho_jam).sum())}"
                            f" at the jam density {rho_jam:.2f} p/m2)")
        population_cells.append(cells.astype(np.int32))
        population_exit_row.append(exit_row(pop.exit))
    one_way_edges = _one_way_edges(walk, scenario, problems)
    source_names = [src.name for src in scenario.sources]
    source_divert = np.array([-1 if src.divert_to is None else source_names.index(src.divert_to)
                              for src in scenario.sources], dtype=np.int32)
    if scenario.sources and view_cells.size == 0 and not problems:
        problems.append("zones: the viewing zones hold no cell wide enough to stand in")
    if problems:
        raise ScenarioError(scenario.source_path, problems)

    node_exit = np.zeros(walk.n_nodes, dtype=np.bool_)
    node_exit[np.asarray(seed_nodes, dtype=np.int64)] = True
    capped_zone = np.append(zone_cap < NO_CAP, False)
    exit_cost_factor = np.where(capped_zone[cell_zone[edge_cell]], crowd.capped_zone_exit_cost_factor, 1.0)
    net = K.Net(
        edge_to=walk.edge_to, edge_from=walk.edge_from, edge_cell=edge_cell, edge_length_m=edge_length,
        edge_out_cap=edge_out_cap, edge_free_factor=free_factor, edge_stairs_ppms=stairs_ppms,
        cell_area_m2=area.astype(np.float64), cell_width_m=width.astype(np.float64), cell_out_cap=cell_out_cap,
        cell_capacity=cell_capacity, cell_jam_capacity=cell_jam_capacity, cell_view_capacity=cell_view_capacity,
        cell_zone=cell_zone, cell_stairs_ppms=cell_stairs_ppms, cell_stairs_rho_c=cell_stairs_rho_c,
        out_start=walk.out_start, out_edges=walk.out_edges,
        edge_front=_queue_fronts(walk, width, node_exit),
        sink_rate=sink_rate, node_exit=node_exit,
        zone_inbound_only=np.array([z.gate == "inbound" for z in zones], dtype=np.bool_),
        zone_divert_after_s=np.array([np.inf if z.divert_after_s is None else z.divert_after_s for z in zones]),
        zone_meter_ppstep=np.array([np.inf if z.meter_pps is None else z.meter_pps * dt for z in zones]))
    params = K.Params(
        dt_s=float(dt), v0_mps=float(v0), gamma=float(crowd.gamma), rho_jam_ppm2=float(rho_jam),
        rho_crit_ppm2=float(rho_crit), q_max_ppms=float(q_max), patience_s=float(crowd.patience_s),
        distance_scale_s=float(crowd.view_distance_scale_s), route_tolerance_s=float(crowd.route_tolerance_s),
        route_tolerance_frac=float(crowd.route_tolerance_frac), view_space_m2=float(view_space),
        queue_density_ppm2=float(1.0 / queue_space), walk_e_ppm2=float(los[3]), walk_f_ppm2=float(los[4]),
        hold_e_ppm2=float(queue_los[3]))
    arrays = CrowdArrays(
        walk=walk, net=net, params=params, dt_s=dt, v0_mps=v0, gamma=crowd.gamma, rho_jam_ppm2=rho_jam,
        rho_crit_ppm2=rho_crit, q_max_ppms=q_max, queue_density_ppm2=1.0 / queue_space,
        los_thresholds_ppm2=los, queue_los_thresholds_ppm2=queue_los, edge_cell=edge_cell,
        edge_length_m=edge_length, cell_release_group=cell_release_group, cell_steps=walk.cell_steps.copy(),
        zone_names=zone_names, zone_cap=zone_cap, zone_reopen=zone_reopen, zone_area_m2=zone_area,
        view_cell=view_cells.astype(np.int32), view_log_attr=view_log_attr,
        exit_names=exit_names, exit_seed_start=np.asarray(seed_start, dtype=np.int64),
        exit_seed_nodes=np.asarray(seed_nodes, dtype=np.int32),
        exit_seed_penalty_s=np.asarray(seed_pen, dtype=np.float64), exit_cost_factor=exit_cost_factor,
        shelter_factor=1.0 + weather.shelter_weight * heavy,
        source_names=tuple(s.name for s in scenario.sources), source_nodes=tuple(source_nodes),
        source_exit_row=np.asarray(source_exit_row, dtype=np.int32),
        population_cells=tuple(population_cells),
        population_exit_row=np.asarray(population_exit_row, dtype=np.int32), release_times_s=release_times,
        speed_group_names=tuple(crowd.speed_groups()), places=places_of(walk),
        one_way_edges=one_way_edges, source_divert=source_divert,
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
def compute_routes(arrays: CrowdArrays, edge_cost_s: np.ndarray, view: bool = True):
    """(view_dist, view_next, exit_dist, exit_next) tables for the given edge costs (the viewing
    rows None when ``view`` is false)."""
    walk = arrays.walk
    view_dist = view_next = None
    if view:
        start, nodes, cost, nexts = _view_seeds(arrays)
        n_view = arrays.view_cell.size
        view_dist = np.empty((n_view, walk.n_nodes))
        view_next = np.empty((n_view, walk.n_nodes), dtype=np.int32)
        fill_next_hops(start, nodes, cost, nexts, edge_cost_s, walk.edge_to, walk.out_start, walk.out_edges,
                       view_dist, view_next)
    n_exit = len(arrays.exit_names)
    exit_dist = np.empty((n_exit, walk.n_nodes))
    exit_next = np.empty((n_exit, walk.n_nodes), dtype=np.int32)
    exit_cost = edge_cost_s * arrays.exit_cost_factor
    fill_next_hops(arrays.exit_seed_start, arrays.exit_seed_nodes, arrays.exit_seed_penalty_s,
                   np.full(arrays.exit_seed_nodes.size, EXIT_HERE, dtype=np.int32), exit_cost,
                   walk.edge_to, walk.out_start, walk.out_edges, exit_dist, exit_next)
    return view_dist, view_next, exit_dist, exit_next


#: Width one person takes at the head of a queue (m): the shoulder breadth of Fruin's (1971) body
#: ellipse, 0.61 m (24 in).  A queue at an edge's end has width / this many people at its head.
QUEUE_FRONT_M = 0.61

def _queue_fronts(walk: WalkGraph, width_m: np.ndarray, node_exit: np.ndarray) -> np.ndarray:
    """People abreast at the head of the queue at each directed edge's end: the edge's width, or the
    openings it leads into if narrower (the widths of the other cells at its end node; its own at an
    exit), over :data:`QUEUE_FRONT_M` each, rounded up (a 1 m door has two at its head).  A wide room's queue at a 1 m door has
    the door's few people at its head, not the room's width."""
    edge_cell = np.arange(2 * walk.n_cells) // 2
    fronts = np.empty(edge_cell.size, dtype=np.int32)
    for e in range(edge_cell.size):
        node = walk.edge_to[e]
        own = width_m[edge_cell[e]]
        others = walk.out_edges[walk.out_start[node]:walk.out_start[node + 1]]
        opening = float(width_m[edge_cell[others][edge_cell[others] != edge_cell[e]]].sum())
        if node_exit[node]:
            opening += own
        fronts[e] = max(1, int(np.ceil(min(own, opening) / QUEUE_FRONT_M)))
    return fronts


#: Slowest speed a route cost assumes (m/s): a jammed edge is costly, not impassable.
MIN_ROUTE_SPEED_MPS = 0.1


def free_flow_costs(arrays: CrowdArrays, penalty_s: np.ndarray | None = None) -> np.ndarray:
    """Route costs of an empty network (stairs at their free speeds), plus ``penalty_s`` per edge."""
    cost = np.empty(arrays.edge_cell.size)
    if penalty_s is None:
        penalty_s = np.zeros(arrays.edge_cell.size)
    K.edge_costs(arrays.net, arrays.net.edge_free_factor, arrays.v0_mps, arrays.walk.cell_covered,
                 arrays.shelter_factor, np.zeros(arrays.edge_cell.size, dtype=np.int32),
                 np.ones(arrays.walk.n_cells), arrays.params.queue_density_ppm2, arrays.dt_s,
                 MIN_ROUTE_SPEED_MPS, penalty_s, cost)
    return cost


def one_way_penalty_s(arrays: CrowdArrays, scenario: CrowdScenario, t_s: float) -> np.ndarray:
    """Route penalty per directed edge at time ``t_s``: :data:`ONE_WAY_PENALTY_S` on the edges that
    go against a [[one_way]] in force then, 0 elsewhere."""
    penalty = np.zeros(arrays.edge_cell.size)
    for spec, edges in zip(scenario.one_way, arrays.one_way_edges):
        if spec.from_s <= t_s and (spec.until_s is None or t_s < spec.until_s):
            penalty[edges] = ONE_WAY_PENALTY_S
    return penalty


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
    walk = arrays.walk
    for k, cells in enumerate(arrays.population_cells):
        row = arrays.population_exit_row[k]
        stuck = cells[~(np.isfinite(exit_dist[row, walk.cell_a[cells]]) | np.isfinite(exit_dist[row, walk.cell_b[cells]]))]
        if stuck.size:
            problems.append(f"populations.{k}.match: {stuck.size} of its {cells.size} cells cannot reach exit group "
                            f"{scenario.populations[k].exit!r} on the walk network")
    if problems:
        raise ScenarioError(scenario.source_path, problems)


#: Memory one person costs in a run, for the check before drawing them: the engine's state and the
#: arrivals measure 113 bytes per person on the rain night; the rest covers results and recounts.
BYTES_PER_PERSON = 400
_TARGET_CHUNK = 8192


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
    v0_mps: np.ndarray                   # own free speed on the level (weather included)
    diverted_from: np.ndarray | None = None  # int32 source they were diverted from (-1: none)
    not_coming: np.ndarray | None = None     # per source: people diverted away (they do not come)


def _closed_at(source, times_s: np.ndarray) -> np.ndarray:
    """Which of a source's arrivals (in time order) find it closed: from ``closed_from_s``, or
    after the first ``close_after_people``."""
    closed = np.zeros(times_s.size, dtype=bool)
    if source.closed_from_s is not None:
        closed |= times_s >= source.closed_from_s
    if source.close_after_people is not None:
        closed[source.close_after_people:] = True
    return closed


def generate_arrivals(arrays: CrowdArrays, scenario: CrowdScenario, rng: np.random.Generator,
                      view_dist: np.ndarray) -> Arrivals:
    """Draw everyone's arrival time, node, viewing target and standing spot from the profiles.

    Counts are Poisson with the profile's expected total; times follow the profile's shape (inverse
    of its cumulative curve); arrivals stop at the end of the show.  Targets are drawn with weight
    ``appeal * exp(-walk time / view_distance_scale_s)`` from the arrival node.

    A closed source (``closed_from_s``, ``close_after_people``) sends the people who find it closed
    to ``divert_to`` (a node of it drawn from a random stream of its own, ``divert_delay_s`` later;
    if they would arrive after the show's end they do not come), or away.  The run's own stream is
    drawn from exactly as without the closure, so closing a source keeps common random numbers.
    """
    if not scenario.sources:
        empty = np.zeros(0)
        return Arrivals(empty, empty.astype(np.int32), empty.astype(np.int32), empty.astype(np.int32),
                        empty, empty.astype(np.int32), empty)
    horizon = min(scenario.show.end_s, scenario.simulation.duration_s)
    grid = np.linspace(0.0, horizon, int(horizon // 10) + 2)
    parts = []
    scale = scenario.crowd.view_distance_scale_s
    cums = [_profile_cumulative(source.profile, grid) for source in scenario.sources]
    measure_rng = rng.spawn(1)[0]                  # the measures' own stream (spawning draws nothing)
    turnout, shift_s = draw_demand(scenario, rng.spawn(1)[0])   # the demand's own stream
    cums = [c * turnout for c in cums]
    expected = sum(float(c[-1]) for c in cums)
    placed = sum(pop.people for pop in scenario.populations)
    worst = max(range(len(cums)), key=lambda k: cums[k][-1])
    # The Poisson draw adds a few standard deviations at most.
    check_memory(expected + 5 * expected ** 0.5 + placed, BYTES_PER_PERSON, what="people",
                 field=f"sources.{worst}.profile", value=scenario.sources[worst].profile)
    not_coming = np.zeros(len(scenario.sources), dtype=np.int64)
    for k, source in enumerate(scenario.sources):
        cum = cums[k]
        n = int(rng.poisson(cum[-1])) if cum[-1] > 0 else 0
        if n == 0:
            continue
        u = np.sort(rng.random(n)) * cum[-1]
        times = np.interp(u, cum, grid)
        if shift_s:                                 # the run's timing shift, kept within the arrival window
            times = np.clip(times + shift_s, 0.0, np.nextafter(horizon, 0.0))
        nodes = arrays.source_nodes[k][rng.integers(0, arrays.source_nodes[k].size, n)]
        at = np.full(n, k)
        exit_rows = np.full(n, arrays.source_exit_row[k])
        came_from = np.full(n, -1)
        keep = np.ones(n, dtype=bool)
        closed = _closed_at(source, times)
        if closed.any():
            j = int(arrays.source_divert[k])
            if j < 0:
                keep &= ~closed
            else:
                nodes[closed] = arrays.source_nodes[j][measure_rng.integers(0, arrays.source_nodes[j].size,
                                                                           int(closed.sum()))]
                times[closed] += source.divert_delay_s
                keep &= ~(closed & (times >= horizon))
                at[closed], exit_rows[closed], came_from[closed] = j, arrays.source_exit_row[j], k
            not_coming[k] += int((~keep).sum())
        draws = rng.random(n)
        targets = np.empty(n, dtype=np.int64)
        for lo in range(0, n, _TARGET_CHUNK):       # in chunks: a people x targets table stays small
            hi = min(n, lo + _TARGET_CHUNK)
            logits = arrays.view_log_attr[None, :] - view_dist[:, nodes[lo:hi]].T / scale
            logits = np.where(np.isfinite(logits), logits, -np.inf)
            logits -= logits.max(axis=1, keepdims=True)
            cdf = np.cumsum(np.exp(logits), axis=1)
            cdf /= cdf[:, -1:]
            targets[lo:hi] = np.minimum((cdf < draws[lo:hi, None]).sum(axis=1), cdf.shape[1] - 1)
        parts.append((times, at, nodes, targets, rng.random(n), exit_rows, came_from, keep))
    if not parts:
        empty = np.zeros(0)
        return Arrivals(empty, empty.astype(np.int32), empty.astype(np.int32), empty.astype(np.int32),
                        empty, empty.astype(np.int32), empty)
    cols = [np.concatenate(c) for c in zip(*parts)]
    v0_all = draw_free_speeds(scenario, cols[0].size, rng)    # for everyone drawn: the stream stays common
    keep = cols.pop()
    cols = [c[keep] for c in cols]
    order = np.argsort(cols[0], kind="stable")
    v0 = v0_all[keep][order]
    return Arrivals(time_s=cols[0][order], source=cols[1][order].astype(np.int32),
                    node=cols[2][order].astype(np.int32), target=cols[3][order].astype(np.int32),
                    stand_frac=cols[4][order], exit_row=cols[5][order].astype(np.int32), v0_mps=v0,
                    diverted_from=cols[6][order].astype(np.int32), not_coming=not_coming)


def draw_demand(scenario: CrowdScenario, rng: np.random.Generator) -> tuple[float, float]:
    """One run's turnout multiplier (log-normal, mean 1) and arrival-time shift (s) from
    ``scenario.demand``; (1.0, 0.0) when both spreads are 0."""
    spec = scenario.demand
    z_turnout, z_shift = rng.standard_normal(2)
    turnout = float(np.exp(spec.turnout_sd * z_turnout - spec.turnout_sd ** 2 / 2.0))
    return turnout, float(spec.timing_sd_s * z_shift)


def draw_free_speeds(scenario: CrowdScenario, n: int, rng: np.random.Generator, group: str | None = None) -> np.ndarray:
    """Free walking speeds on the level (m/s, rain included) of ``n`` people: each person's group drawn
    by the groups' shares (or ``group`` for all), then a normal draw redrawn until it lies within the
    group's [min, max]."""
    groups = scenario.crowd.speed_groups()
    names = list(groups)
    if group is not None:
        which = np.full(n, names.index(group))
    else:
        shares = np.array([g.share for g in groups.values()])
        which = rng.choice(len(names), size=n, p=shares / shares.sum()) if len(names) > 1 else np.zeros(n, int)
    mean = np.array([g.speed_mean_mps for g in groups.values()])[which]
    sd = np.array([g.speed_sd_mps for g in groups.values()])[which]
    lo = np.array([g.speed_min_mps for g in groups.values()])[which]
    hi = np.array([g.speed_max_mps for g in groups.values()])[which]
    v = rng.normal(mean, sd) if n else np.zeros(0)
    bad = (v < lo) | (v > hi)
    while bad.any():
        v[bad] = rng.normal(mean[bad], sd[bad])
        bad = (v < lo) | (v > hi)
    rain = scenario.weather.rain_free_speed_factor if scenario.raining else 1.0
    return v * rain


@dataclass(frozen=True)
class Placed:
    """People already in place at t = 0 (the scenario's [[populations]]), in population order."""

    edge: np.ndarray                     # int32 directed edge they stand on
    pos_m: np.ndarray
    start_s: np.ndarray                  # when they start to move (pre-movement)
    exit_row: np.ndarray                 # int32
    v0_mps: np.ndarray
    population: np.ndarray               # int32 index of their [[populations]] entry


def _premovement(spec, n: int, rng: np.random.Generator) -> np.ndarray:
    if spec.kind == "fixed":
        return np.full(n, spec.time_s)
    if spec.kind == "uniform":
        return rng.uniform(spec.low_s, spec.high_s, n)
    if spec.kind == "lognormal":
        sigma = math.log(spec.p95_s / spec.median_s) / 1.6448536269514722
        return rng.lognormal(math.log(spec.median_s), sigma, n)
    if spec.kind == "list":
        return np.resize(np.asarray(spec.times_s, dtype=float), n)
    return np.zeros(n)


def place_populations(arrays: CrowdArrays, scenario: CrowdScenario, rng: np.random.Generator) -> Placed:
    """Put every [[populations]] entry on its ways: cells by area (never above the jam density),
    positions uniform along each cell, facing either way; free speeds and pre-movement times drawn."""
    parts = []
    cap = arrays.net.cell_jam_capacity
    used = np.zeros(cap.size, dtype=np.int64)
    for k, pop in enumerate(scenario.populations):
        cells = arrays.population_cells[k]
        area = arrays.net.cell_area_m2[cells]
        counts = np.floor(pop.people * area / area.sum()).astype(np.int64)
        rest = pop.people - int(counts.sum())
        order = np.argsort(-(pop.people * area / area.sum() - counts), kind="stable")
        counts[order[:rest]] += 1
        over = np.maximum(counts + used[cells] - cap[cells], 0)
        counts -= over
        spill = int(over.sum())
        for j in np.argsort(-area, kind="stable"):
            if spill == 0:
                break
            room = int(cap[cells[j]] - used[cells[j]] - counts[j])
            take = min(room, spill)
            counts[j] += take
            spill -= take
        used[cells] += counts
        cell_of = np.repeat(cells, counts)
        n = cell_of.size
        edge = 2 * cell_of + rng.integers(0, 2, n)
        pos = rng.random(n) * arrays.edge_length_m[edge]
        parts.append((edge.astype(np.int32), pos, _premovement(pop.premovement, n, rng),
                      np.full(n, arrays.population_exit_row[k], dtype=np.int32),
                      draw_free_speeds(scenario, n, rng, pop.group), np.full(n, k, dtype=np.int32)))
    if not parts:
        e = np.zeros(0)
        return Placed(e.astype(np.int32), e, e, e.astype(np.int32), e, e.astype(np.int32))
    return Placed(*(np.concatenate(c) for c in zip(*parts)))
