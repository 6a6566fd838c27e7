"""Compile a traffic scenario against its map: vehicle classes, the tunnel's tubes and portals,
signals, routes and the trip list (:class:`TrafficArrays`, immutable inputs of the engine)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..core.errors import MapError, ScenarioError
from ..core.memory import check_memory
from ..core.osm import load_network
from ..core.places import nodes_in_area, resolve_place
from ..core.roads import RoadGraph, build_road_graph
from ..core.routing import road_next_hops
from .schema import AreaSpec, TrafficScenario
from .tubes import Tube, branch_offsets, find_tubes

__all__ = ["VehicleClass", "DEFAULT_CLASSES", "MOTOR", "BIKE", "TrafficArrays", "Tube", "compile_traffic",
           "idm_capacity_veh_per_h", "generate_trips", "convoy_traverse_s", "ROAD_CLASSES", "free_flow_times"]

MOTOR, BIKE = 0, 1
#: Memory a trip takes in the compiled arrays and the engine's state (about 30 arrays of 8 bytes, with room).
BYTES_PER_TRIP = 400
QUEUE_BREAK_M = 25.0   # a gap longer than this between stopped vehicles ends a queue


@dataclass(frozen=True)
class VehicleClass:
    """IDM parameters of a vehicle class (SI units)."""
    name: str
    length_m: float
    desired_speed_mps: float
    accel_mps2: float
    decel_mps2: float
    min_gap_m: float
    headway_s: float
    delta: float = 4.0
    speed_spread: float = 0.1
    is_bike: bool = False
    is_escort: bool = False
#: Defaults.  Cars: IDM with T = 1.0 s, s0 = 2 m, length 5 m (docs/sources.md: ~1,900-2,040 veh/h per lane,
#: close to observed urban lane capacities of 1,800-2,000 veh/h).  Buses: longer, gentler.  Bicycles:
#: 13.5 km/h pedal and 17.1 km/h e-bike (Hangzhou: e-bikes 27% faster than pedal bikes; GB 17761-2018
#: caps e-bikes at 25 km/h).  Police escorts drive as cars; in a convoy they set the escort speed.
DEFAULT_CLASSES: dict[str, VehicleClass] = {
    "car": VehicleClass("car", 5.0, 60 / 3.6, 1.0, 1.5, 2.0, 1.0),
    "bus": VehicleClass("bus", 12.0, 50 / 3.6, 0.8, 1.2, 2.5, 1.5),
    "bicycle": VehicleClass("bicycle", 1.9, 13.5 / 3.6, 0.8, 1.5, 1.0, 1.0, is_bike=True),
    "ebike": VehicleClass("ebike", 1.9, 17.1 / 3.6, 1.2, 1.5, 1.0, 1.0, is_bike=True),
    "police": VehicleClass("police", 5.0, 60 / 3.6, 1.5, 2.0, 2.0, 1.0, speed_spread=0.0, is_escort=True),
}
CLASS_NAMES = list(DEFAULT_CLASSES)


def idm_capacity_veh_per_h(cls: VehicleClass, v0_mps: float | None = None) -> tuple[float, float]:
    """Analytic single-lane capacity of IDM: max over v of v / (s_e(v) + length).  Returns
    (veh/h, speed at capacity in m/s).  Treiber, Hennecke & Helbing (2000); docs/sources.md."""
    v0 = cls.desired_speed_mps if v0_mps is None else v0_mps
    speeds = np.linspace(0.01, v0 * 0.999, 20000)
    gaps = (cls.min_gap_m + speeds * cls.headway_s) / np.sqrt(1 - (speeds / v0) ** cls.delta)
    flow = speeds / (gaps + cls.length_m)
    k = int(np.argmax(flow))
    return float(flow[k] * 3600.0), float(speeds[k])


#: Road classes of the time series' mean speeds (``*_link`` counts as its road; the rest is "other").
ROAD_CLASSES = ("motorway", "trunk", "primary", "secondary", "tertiary", "residential", "other")


@dataclass
class TrafficArrays:
    """Everything the engine needs, compiled once per scenario (and shared by its plans)."""
    scenario: TrafficScenario
    road: RoadGraph
    classes: list[VehicleClass]
    dt_s: float
    # lanes
    lane_start: np.ndarray
    lane_edge: np.ndarray
    # edges
    edge_len: np.ndarray
    edge_to: np.ndarray
    edge_speed_limit: np.ndarray
    edge_motor_lanes: np.ndarray
    edge_bike_lane: np.ndarray     # int32: number of bicycle lanes (after the motor lanes)
    edge_priority: np.ndarray
    edge_signal_group: np.ndarray
    edge_signal_offset_s: np.ndarray
    signal_edges: np.ndarray
    edge_gate: np.ndarray          # portal index for a tube's first edge, else -1
    edge_tube: np.ndarray          # tube index for every edge of a tube, else -1
    edge_tube_exit: np.ndarray     # tube index for a tube's last edge, else -1
    edge_tube_offset_m: np.ndarray # distance from the tube's portal to the start of the edge
    edge_approach: np.ndarray      # portal index for edges within APPROACH_M upstream of it, else -1
    edge_class_vcap: np.ndarray    # (n_edges, n_classes) speed at IDM capacity
    tubes: list[Tube]
    # routing
    dest_nodes: np.ndarray
    motor_edge_ok: np.ndarray
    bike_edge_ok: np.ndarray
    # class parameters
    cls_length: np.ndarray
    cls_s0: np.ndarray
    cls_t: np.ndarray
    cls_a: np.ndarray
    cls_b: np.ndarray
    cls_delta: np.ndarray
    cls_is_bike: np.ndarray
    cls_is_escort: np.ndarray
    # trips (sorted by departure)
    trip_depart_s: np.ndarray
    trip_cls: np.ndarray
    trip_origin: np.ndarray
    trip_dest_row: np.ndarray
    trip_demand: np.ndarray
    demand_names: list[str] = field(default_factory=list)
    edge_class: np.ndarray | None = None           # int8 index into ROAD_CLASSES
    trip_free_s: np.ndarray | None = None          # free-flow travel time of each trip (s)
    places: list[dict] = field(default_factory=list)   # how each named place was resolved
    trips_redrawn: int = 0                         # destinations drawn again (same node as the origin)
    notes: list[str] = field(default_factory=list)  # what the run should say (demands with no trips)

    @property
    def n_edges(self) -> int:
        return int(self.edge_len.shape[0])


def _class_table(scenario: TrafficScenario) -> list[VehicleClass]:
    out = []
    for name, base in DEFAULT_CLASSES.items():
        spec = scenario.vehicles.get(name)
        if spec is None:
            out.append(base)
            continue
        out.append(VehicleClass(
            name, spec.length_m or base.length_m,
            spec.desired_speed_kph / 3.6 if spec.desired_speed_kph else base.desired_speed_mps,
            spec.accel_mps2 or base.accel_mps2, spec.decel_mps2 or base.decel_mps2,
            spec.min_gap_m or base.min_gap_m, spec.headway_s or base.headway_s, base.delta,
            base.speed_spread if spec.speed_spread is None else spec.speed_spread, base.is_bike, base.is_escort))
    return out


APPROACH_M = 1000.0


def _approach_edges(road: RoadGraph, tubes: list[Tube], edge_tube: np.ndarray) -> np.ndarray:
    """Portal index for every motor edge within ``APPROACH_M`` upstream of a tube's entrances (its
    portal and the first edges of its entry ramps)."""
    out = np.full(road.n_edges, -1, dtype=np.int32)
    for t in tubes:
        starts = [int(t.entry_node)] + [int(road.edge_from[e]) for e in t.entrances]
        frontier = [(node, 0.0) for node in starts]
        seen = set()
        while frontier:
            node, dist = frontier.pop()
            for e in road.in_edges[road.in_start[node]:road.in_start[node + 1]]:
                e = int(e)
                if e in seen or edge_tube[e] >= 0 or road.motor_lanes[e] == 0:
                    continue
                seen.add(e)
                out[e] = t.index
                if dist + road.length_m[e] < APPROACH_M:
                    frontier.append((int(road.edge_from[e]), dist + float(road.length_m[e])))
    return out


def _signal_groups(road: RoadGraph) -> tuple[np.ndarray, np.ndarray]:
    """Two-phase fixed-time groups for edges ending at signalised nodes: approaches within 45
    degrees of the node's main axis (its first approach) share phase 0, the others phase 1."""
    group = np.full(road.n_edges, -1, dtype=np.int8)
    offset = np.zeros(road.n_edges, dtype=np.float64)
    for node in np.flatnonzero(road.node_signal):
        incoming = road.in_edges[road.in_start[node]:road.in_start[node + 1]]
        if incoming.size < 2:
            continue
        axis = road.heading_rad[incoming[0]]
        node_offset = float((int(road.network.node_osmid[node]) * 37) % 90)
        for e in incoming:
            diff = abs(math.remainder(road.heading_rad[e] - axis, math.pi))
            group[e] = 0 if diff <= math.pi / 4 else 1
            offset[e] = node_offset
    return group, offset


def generate_trips(scenario: TrafficScenario, rng: np.random.Generator, origin_nodes: list[np.ndarray],
                   dest_rows: list[np.ndarray], class_index: dict[str, int], dest_nodes: np.ndarray | None = None,
                   idle: set[int] | None = None):
    """Poisson departures following each demand's (minute, veh/h) profile; origins, destinations
    and classes drawn uniformly / by share.  A destination drawn at the origin's node is drawn again
    from the other destinations (``dest_nodes[row]`` gives a row's node; the count is returned)."""
    depart, cls, origin, dest, demand_id = [], [], [], [], []
    redrawn = 0
    duration = scenario.simulation.duration_s
    for d, spec in enumerate(scenario.demand):
        if idle and d in idle:                 # its only origin is its only destination (reported)
            continue
        minutes = np.array([p[0] for p in spec.profile], dtype=float)
        rates = np.array([p[1] for p in spec.profile], dtype=float) / 3600.0
        grid = np.arange(0.0, duration + 1.0, 1.0)
        rate_s = np.interp(grid / 60.0, minutes, rates, left=rates[0], right=rates[-1])
        cum = np.concatenate([[0.0], np.cumsum(0.5 * (rate_s[1:] + rate_s[:-1]))])
        check_memory(cum[-1] + 5.0 * math.sqrt(cum[-1]), BYTES_PER_TRIP, what="trips", field=f"demand.{d}.profile",
                     value=spec.profile)
        n = rng.poisson(cum[-1])
        if n == 0:
            continue
        times = np.sort(np.interp(rng.uniform(0.0, cum[-1], n), cum, grid))
        names = [k for k, v in spec.classes.items() if v > 0]
        shares = np.array([spec.classes[k] for k in names], dtype=float)
        picks = rng.choice(len(names), size=n, p=shares / shares.sum())
        o_nodes = origin_nodes[d]
        d_rows = dest_rows[d]
        o = rng.integers(0, o_nodes.size, n)
        t = rng.integers(0, d_rows.size, n)
        trip_o, trip_d = o_nodes[o], d_rows[t]
        if dest_nodes is not None:
            same = np.flatnonzero(dest_nodes[trip_d] == trip_o)
            for k in same:                         # draw again among the other destinations
                others = d_rows[dest_nodes[d_rows] != trip_o[k]]
                if others.size:
                    trip_d[k] = others[rng.integers(0, others.size)]
                else:                              # the only destination: draw another origin
                    starts = o_nodes[o_nodes != trip_o[k]]
                    trip_o[k] = starts[rng.integers(0, starts.size)]
            redrawn += int(same.size)
        depart.append(times)
        cls.append(np.array([class_index[names[k]] for k in picks], dtype=np.int8))
        origin.append(trip_o)
        dest.append(trip_d)
        demand_id.append(np.full(n, d, dtype=np.int16))
    if not depart:
        out = (np.zeros(0), np.zeros(0, np.int8), np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0, np.int16))
    else:
        depart_s = np.concatenate(depart)
        order = np.argsort(depart_s, kind="stable")
        out = (depart_s[order], np.concatenate(cls)[order], np.concatenate(origin)[order].astype(np.int32),
               np.concatenate(dest)[order].astype(np.int32), np.concatenate(demand_id)[order])
    if dest_nodes is not None:
        return (*out, redrawn)
    return out


def _node_label(net, node: int) -> str:
    name = net.node_tags[node].get("name")
    return f"{name!r} (node {int(net.node_osmid[node])})" if name else f"node {int(net.node_osmid[node])}"


def _largest_part(road: RoadGraph, ok: np.ndarray) -> np.ndarray:
    """Node mask of the largest strongly connected part of the edges in ``ok`` (every node in it
    reaches every other)."""
    import networkx as nx

    graph = nx.DiGraph()
    graph.add_edges_from(zip(road.edge_from[ok].tolist(), road.edge_to[ok].tolist()))
    out = np.zeros(road.n_nodes, dtype=bool)
    if graph.number_of_nodes():
        out[list(max(nx.strongly_connected_components(graph), key=len))] = True
    return out


def _demand_nodes(net, road: RoadGraph, spec, field: str, usable: np.ndarray, max_snap_m: float,
                  problems: list[str], places: list[dict], core: np.ndarray) -> np.ndarray:
    """The nodes of a demand's origins or destinations: places resolved by name, id or
    coordinates (snapped to ``usable`` nodes), or every usable node of an area that lies in the
    largest connected part of the mode's network (``core``; the others are counted, not used)."""
    if isinstance(spec, AreaSpec):
        try:
            inside = nodes_in_area(net, spec.as_dict(), field, usable)
        except MapError as exc:
            problems.append(str(exc))
            return np.zeros(0, dtype=np.int32)
        nodes = inside[core[inside]]
        if nodes.size == 0:
            problems.append(f"{field}: none of the {inside.size} usable nodes in {spec.as_dict()!r} lies in the "
                            f"largest connected part of the network for this mode (`citytwin maps inspect` shows "
                            f"the parts)")
        places.append({"field": field, "area": spec.as_dict(), "nodes": int(nodes.size),
                       "left_out_not_connected": int(inside.size - nodes.size)})
        return nodes.astype(np.int32)
    out = []
    for k, item in enumerate(spec):
        try:
            place = resolve_place(net, item, f"{field}.{k}", usable, max_snap_m)
        except MapError as exc:
            problems.append(str(exc))
            continue
        out.append(place.node)
        places.append({"field": f"{field}.{k}", **place.as_dict(net)})
    return np.asarray(out, dtype=np.int32)


def _mode_of(spec, classes, class_index) -> int:
    return BIKE if any(classes[class_index[k]].is_bike for k, v in spec.classes.items() if v > 0) else MOTOR


def compile_traffic(scenario: TrafficScenario, rng: np.random.Generator | None = None) -> TrafficArrays:
    """Check a traffic scenario against its map and build the engine's arrays (all errors here,
    before any run or output).  ``rng`` draws the trips (default: the scenario's seed)."""
    source = scenario.source_path or scenario.name
    try:
        net = load_network(scenario.map_path, defaults=scenario.map_defaults)
    except MapError as exc:
        raise ScenarioError(source, [f"map: {exc}"]) from None
    road = build_road_graph(net)
    classes = _class_table(scenario)
    class_index = {c.name: k for k, c in enumerate(classes)}
    problems: list[str] = []
    tubes = find_tubes(road, scenario.tunnel.name, source) if scenario.tunnel is not None else []
    convoy_lanes = scenario.tunnel.convoy_lanes if scenario.tunnel is not None else 1
    escort_kph = scenario.tunnel.escort_speed_kph if scenario.tunnel is not None else 20.0

    # lanes: motor lanes first, then the bicycle lane
    n_lanes_edge = road.motor_lanes.astype(np.int32) + road.bike_lanes.astype(np.int32)
    tube_edges = np.concatenate([t.edges for t in tubes]) if tubes else np.zeros(0, dtype=np.int32)
    branch_edges = (np.concatenate([t.branch_edges for t in tubes]).astype(np.int32) if tubes
                    else np.zeros(0, dtype=np.int32))
    n_lanes_edge[tube_edges] = np.maximum(n_lanes_edge[tube_edges], convoy_lanes)
    lane_start = np.zeros(road.n_edges + 1, dtype=np.int32)
    lane_start[1:] = np.cumsum(n_lanes_edge)
    lane_edge = np.repeat(np.arange(road.n_edges, dtype=np.int32), n_lanes_edge)

    edge_gate = np.full(road.n_edges, -1, dtype=np.int32)
    edge_tube = np.full(road.n_edges, -1, dtype=np.int32)
    edge_tube_exit = np.full(road.n_edges, -1, dtype=np.int32)
    edge_tube_offset = np.zeros(road.n_edges)
    for t in tubes:
        edge_gate[t.edges[0]] = t.index
        edge_gate[t.entrances] = t.index            # entry ramps close with the portal
        edge_tube[t.all_edges] = t.index
        edge_tube_exit[t.edges[-1]] = t.index
        edge_tube_exit[t.exits] = t.index
        edge_tube_offset[t.edges] = np.concatenate([[0.0], np.cumsum(road.length_m[t.edges])[:-1]])
        for e, off in branch_offsets(road, t, edge_tube_offset[t.edges]).items():
            edge_tube_offset[e] = off

    # places named in the demand, snapped to nodes the demand's mode may use
    max_snap_m = scenario.map_defaults.max_snap_m
    places: list[dict] = []
    notes: list[str] = []          # reported in the summary and under the KPI table
    idle: set[int] = set()         # demands that cannot make a trip
    origin_nodes, dest_node_lists = [], []
    for d, spec in enumerate(scenario.demand):
        mode = _mode_of(spec, classes, class_index)
        leave = np.zeros(net.n_nodes, dtype=bool)
        reach = np.zeros(net.n_nodes, dtype=bool)
        ok = road.bike_lane if mode == BIKE else road.motor_lanes > 0
        leave[road.edge_from[ok]] = True
        reach[road.edge_to[ok]] = True
        core = _largest_part(road, ok) if isinstance(spec.origins, AreaSpec) or isinstance(
            spec.destinations, AreaSpec) else None
        origin_nodes.append(_demand_nodes(net, road, spec.origins, f"demand.{d}.origins", leave, max_snap_m,
                                          problems, places, core))
        dest_node_lists.append(_demand_nodes(net, road, spec.destinations, f"demand.{d}.destinations", reach,
                                             max_snap_m, problems, places, core))
        if (origin_nodes[-1].size and dest_node_lists[-1].size
                and set(origin_nodes[-1].tolist()) == set(dest_node_lists[-1].tolist()) == {int(origin_nodes[-1][0])}):
            notes.append(f"demand.{d} ({spec.name!r}) makes no trips: its only origin is its only destination "
                         f"({_node_label(net, int(origin_nodes[-1][0]))})")
            idle.add(d)
    if problems:
        raise ScenarioError(source, problems)
    dest_all = sorted({int(n) for arr in dest_node_lists for n in arr} | {t.exit_node for t in tubes})
    dest_row_of = {n: k for k, n in enumerate(dest_all)}
    dest_rows = [np.array([dest_row_of[int(n)] for n in arr], dtype=np.int32) for arr in dest_node_lists]

    # who may use which edge
    motor_ok = road.motor_lanes > 0
    bike_ok = road.bike_lane.copy()
    bike_ok[branch_edges] = False                   # ramps of the controlled tunnel: no bicycles
    bike_ok[tube_edges] = True                      # the convoy takes bicycles through the tunnel

    group, offset = _signal_groups(road)
    edge_speed_limit = road.speed_limit_mps.copy()
    vcap = np.zeros((road.n_edges, len(classes)), dtype=np.float64)
    unique_limits = np.unique(edge_speed_limit)
    for c, vc in enumerate(classes):
        for limit in unique_limits:
            vcap[edge_speed_limit == limit, c] = idm_capacity_veh_per_h(vc, min(vc.desired_speed_mps, limit))[1]
    for c, vc in enumerate(classes):   # in a convoy bicycles ride at 0.97 x the escort speed
        if vc.is_bike:
            vcap[tube_edges, c] = idm_capacity_veh_per_h(vc, 0.97 * escort_kph / 3.6)[1]

    rng = rng if rng is not None else np.random.default_rng(scenario.simulation.seed)
    depart_s, trip_cls, trip_origin, trip_dest, trip_demand, redrawn = generate_trips(
        scenario, rng, origin_nodes, dest_rows, class_index, np.asarray(dest_all, dtype=np.int32), idle)
    road_class = {name: k for k, name in enumerate(ROAD_CLASSES)}
    edge_class = np.array([road_class.get(road.network.highway[link].removesuffix("_link"), len(ROAD_CLASSES) - 1)
                           for link in road.edge_link], dtype=np.int8)
    arrays = TrafficArrays(
        scenario=scenario, road=road, classes=classes, dt_s=scenario.simulation.dt_s,
        lane_start=lane_start, lane_edge=lane_edge,
        edge_len=road.length_m.copy(), edge_to=road.edge_to.copy(), edge_speed_limit=edge_speed_limit,
        edge_motor_lanes=road.motor_lanes.astype(np.int32), edge_bike_lane=road.bike_lanes.astype(np.int32),
        edge_priority=road.priority.astype(np.int32), edge_signal_group=group, edge_signal_offset_s=offset,
        signal_edges=np.flatnonzero(group >= 0).astype(np.int32),
        edge_gate=edge_gate, edge_tube=edge_tube, edge_tube_exit=edge_tube_exit, edge_tube_offset_m=edge_tube_offset,
        edge_approach=_approach_edges(road, tubes, edge_tube),
        edge_class_vcap=vcap,
        tubes=tubes, dest_nodes=np.asarray(dest_all, dtype=np.int32), motor_edge_ok=motor_ok, bike_edge_ok=bike_ok,
        cls_length=np.array([c.length_m for c in classes]), cls_s0=np.array([c.min_gap_m for c in classes]),
        cls_t=np.array([c.headway_s for c in classes]), cls_a=np.array([c.accel_mps2 for c in classes]),
        cls_b=np.array([c.decel_mps2 for c in classes]), cls_delta=np.array([c.delta for c in classes]),
        cls_is_bike=np.array([c.is_bike for c in classes]), cls_is_escort=np.array([c.is_escort for c in classes]),
        trip_depart_s=depart_s, trip_cls=trip_cls, trip_origin=trip_origin,
        trip_dest_row=trip_dest, trip_demand=trip_demand,
        demand_names=[d.name for d in scenario.demand], edge_class=edge_class, places=places,
        trips_redrawn=redrawn, notes=notes,
    )
    _check_reachable(arrays, source)
    _check_plans(arrays, source)
    arrays.trip_free_s = free_flow_times(arrays)
    return arrays


def free_flow_times(a: TrafficArrays) -> np.ndarray:
    """Each trip's travel time on an empty network along its fastest route, at its class's desired
    speed capped by the speed limits (bicycles in the convoy at 0.97 x the escort speed): the base
    of the delay KPI."""
    out = np.full(a.trip_depart_s.size, np.nan)
    if out.size == 0:
        return out
    road = a.road
    dist = np.empty((a.dest_nodes.size, road.n_nodes))
    hop = np.empty((a.dest_nodes.size, road.n_nodes), dtype=np.int32)
    for c in np.unique(a.trip_cls):
        vc = a.classes[int(c)]
        speed = np.minimum(a.edge_speed_limit, vc.desired_speed_mps)
        ok = a.bike_edge_ok if vc.is_bike else a.motor_edge_ok
        cost = np.where(ok, a.edge_len / speed, np.inf)
        if vc.is_bike and a.scenario.tunnel is not None:
            convoy = a.edge_tube >= 0
            cost[convoy & ok] = a.edge_len[convoy & ok] / (0.97 * a.scenario.tunnel.escort_speed_kph / 3.6)
        road_next_hops(a.dest_nodes, cost, road.edge_from, road.in_start, road.in_edges, dist, hop)
        mask = a.trip_cls == c
        out[mask] = dist[a.trip_dest_row[mask], a.trip_origin[mask]]
    return out


def convoy_traverse_s(arrays: "TrafficArrays") -> float:
    """Time the last bicycle of a convoy needs to ride the longest tube (at 0.97 x the escort
    speed) plus a minute for the closing car: the least a convoy phase can last."""
    tunnel = arrays.scenario.tunnel
    if tunnel is None or not arrays.tubes:
        return 0.0
    return max(t.length_m for t in arrays.tubes) / (0.97 * tunnel.escort_speed_kph / 3.6) + 60.0


def _check_plans(a: "TrafficArrays", source: str) -> None:
    """A convoy phase must leave time to release bicycles before the escort's ride through."""
    need = convoy_traverse_s(a)
    problems = []
    for name, plan in a.scenario.plans.items():
        key, value = ("convoy_s", plan.convoy_s) if plan.control == "fixed" else ("max_convoy_s", plan.max_convoy_s)
        if value is not None and value < need + 30.0:
            problems.append(f"plans.{name}.{key}: {value:g} s is too short: the convoy needs {need:.0f} s to ride "
                            f"through the {max(t.length_m for t in a.tubes):.0f} m tube at the escort speed, "
                            f"plus time to let bicycles in; use at least {need + 30.0:.0f} s")
    if problems:
        raise ScenarioError(source, problems)


def _route_tables(a: TrafficArrays, motor_cost_s: np.ndarray, bike_cost_s: np.ndarray) -> np.ndarray:
    n_dest, n_nodes = a.dest_nodes.size, a.road.n_nodes
    next_hop = np.empty((2, n_dest, n_nodes), dtype=np.int32)
    dist = np.empty((n_dest, n_nodes), dtype=np.float64)
    road = a.road
    road_next_hops(a.dest_nodes, motor_cost_s, road.edge_from, road.in_start, road.in_edges, dist, next_hop[MOTOR])
    if a.cls_is_bike[a.trip_cls].any() or a.tubes:
        road_next_hops(a.dest_nodes, bike_cost_s, road.edge_from, road.in_start, road.in_edges, dist, next_hop[BIKE])
    else:
        next_hop[BIKE] = -1                      # no bicycles in this scenario
    return next_hop


def _free_costs(a: TrafficArrays) -> tuple[np.ndarray, np.ndarray]:
    """Free-flow route costs per mode: motor vehicles at the speed limits, bicycles at the slowest
    bicycle class's desired speed (capped by the limits), in a convoy at the escort speed."""
    motor = np.where(a.motor_edge_ok, a.edge_len / a.edge_speed_limit, np.inf)
    bike_speed = min(c.desired_speed_mps for c in a.classes if c.is_bike)
    bike = np.where(a.bike_edge_ok, a.edge_len / np.minimum(bike_speed, a.edge_speed_limit), np.inf)
    convoy = a.edge_tube >= 0
    if convoy.any():
        bike[convoy & a.bike_edge_ok] = a.edge_len[convoy & a.bike_edge_ok] / (a.scenario.tunnel.escort_speed_kph / 3.6)
    return motor, bike


#: Unreachable pairs listed by name in one error (the rest are counted).
MAX_PAIRS_LISTED = 50


def _check_reachable(a: TrafficArrays, source: str) -> None:
    """Every demand's origins must reach its destinations for its mode; every pair that cannot is
    named (up to ``MAX_PAIRS_LISTED`` per demand, then counted)."""
    next_hop = _route_tables(a, *_free_costs(a))
    problems = []
    net = a.road.network
    for d, spec in enumerate(a.scenario.demand):
        mask = a.trip_demand == d
        if not mask.any():
            continue
        mode = BIKE if a.cls_is_bike[a.trip_cls[mask][0]] else MOTOR
        pairs = sorted(set(zip(a.trip_origin[mask].tolist(), a.trip_dest_row[mask].tolist())))
        bad = [(o, r) for o, r in pairs if next_hop[mode, r, o] < 0]
        if bad:
            listed = "; ".join(f"{_node_label(net, o)} -> {_node_label(net, int(a.dest_nodes[r]))}"
                               for o, r in bad[:MAX_PAIRS_LISTED])
            more = f"; and {len(bad) - MAX_PAIRS_LISTED} more" if len(bad) > MAX_PAIRS_LISTED else ""
            problems.append(f"demand.{d} ({spec.name!r}): no {'bicycle' if mode else 'motor'} route for "
                            f"{len(bad)} of {len(pairs)} origin-destination pairs drawn: {listed}{more}")
    if problems:
        raise ScenarioError(source, problems)
