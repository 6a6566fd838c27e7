"""What a live twin needs from a crowd run: copy it, change its demand, its rain and its walking
speeds mid-run, and correct the occupancy of a zone with flows that keep everyone accounted for.

These are functions over a :class:`~sim.crowd.engine.CrowdEngine` (or its
:class:`~sim.crowd.model.CrowdModel`), outside the engine's step, so the engine stays as it is:

* :func:`copy_model` / :func:`copy_engine`: an independent copy whose state arrays are NumPy copies;
  what never changes during a run (the compiled map and parameters, the route tables, the scenario)
  is shared, so a copy of a 120,000-person night costs a few tens of MB and milliseconds.
* :func:`rescale_future_arrivals`: arrivals are drawn before the run (sorted by time, agents
  ``0..n_active-1`` in the simulation); this thins or clones the *pending* people of one source so
  that its demand from now on is multiplied by a factor, and rebuilds the pending tail of the agent
  arrays in time order.
* :func:`set_rain`: swaps the weather-dependent compiled arrays (jam density, capacities, levels of
  service, standing space, shelter weights, exit penalties) for those of another rain intensity and
  rescales everyone's free speed by the rain factor; routes are refreshed at once.
* :func:`scale_walking_speed`: multiplies everyone's free walking speed.
* :func:`move_people`: brings people into a zone or takes them out of it, each move booked as a flow
  (from walkers heading there, from people waiting at their source, from arrivals still to come;
  out to their source or out through the exits); it recounts every agent afterwards and checks the
  ledger against each zone's occupancy, raising :class:`~sim.core.errors.ConservationError` on any
  difference.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field

import mesa
import numpy as np

from ..core.errors import ConservationError, SimError
from . import kernels as K
from .compile import CrowdArrays, compile_crowd
from .engine import CrowdEngine
from .schema import CrowdScenario

__all__ = ["copy_engine", "copy_model", "rescale_future_arrivals", "rescale_future_demand", "set_rain", "rain_of", "scale_walking_speed",
           "move_people", "Moved", "zone_cell_distance_m", "arrivals_by_source", "RAIN_STEP_MM_PER_H"]

#: Attributes of an engine shared (never written during a run) between an engine and its copies.
_SHARED_ENGINE = frozenset({"scenario", "arrays", "routes", "rng", "placed"})
#: Mesa's own bookkeeping of a model (rebuilt by ``mesa.Model.__init__`` for a copy).
_MESA_INTERNAL = frozenset({"running", "steps", "rng", "_rng", "random", "_seed", "step", "_user_step", "_agents",
                            "_agents_by_type", "_all_agents"})


def _copy_value(value):
    """A copy of one piece of engine state: arrays copied, bundles of arrays copied field by field."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, tuple) and hasattr(value, "_fields"):          # a kernels bundle (NamedTuple)
        return type(value)(*(_copy_value(v) for v in value))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.replace(value, **{f.name: _copy_value(getattr(value, f.name))
                                             for f in dataclasses.fields(value)})
    if isinstance(value, list):
        return [_copy_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _copy_value(v) for k, v in value.items()}
    return copy.deepcopy(value)


def copy_engine(engine: CrowdEngine, rng: np.random.Generator) -> CrowdEngine:
    """An independent copy of ``engine`` drawing from ``rng``: every state array copied, the compiled
    arrays, route tables and scenario shared (they are replaced, never written, during a run)."""
    new = CrowdEngine.__new__(CrowdEngine)
    for name, value in engine.__dict__.items():
        if name in CrowdEngine.CACHE_ATTRIBUTES:
            new.__dict__[name] = None
        else:
            new.__dict__[name] = value if name in _SHARED_ENGINE else _copy_value(value)
    new.rng = rng
    return new


def _copy_agent(agent: mesa.Agent, model: mesa.Model) -> mesa.Agent:
    new = object.__new__(type(agent))
    for name, value in agent.__dict__.items():
        if name == "model":
            continue
        new.__dict__[name] = _copy_value(value)
    new.model = model
    model.register_agent(new)
    return new


def copy_model(model, rng: np.random.Generator):
    """An independent copy of a crowd model (Mesa): its engine (:func:`copy_engine`), its controller
    agents (gates, release) with their state, its recorder and data collector; the copy and its
    engine draw from ``rng``.  Same ``rng`` state, same future: a copy stepped with a copy of the
    generator follows the original exactly."""
    cls = type(model)
    new = cls.__new__(cls)
    mesa.Model.__init__(new, seed=0)    # Mesa's own generators; then ours (Mesa would draw from it)
    new.rng = rng
    new._rng = rng.bit_generator.state
    agents = {id(a): a for a in model.agents}
    copied: dict[int, mesa.Agent] = {}

    def agent_of(a):
        if id(a) not in copied:
            copied[id(a)] = _copy_agent(a, new)
        return copied[id(a)]

    for name, value in model.__dict__.items():
        if name in _MESA_INTERNAL:
            continue
        if name == "engine":
            new.engine = copy_engine(value, new.rng)
        elif name == "scenario":
            new.scenario = value
        elif isinstance(value, mesa.Agent):
            new.__dict__[name] = agent_of(value)
        elif isinstance(value, dict) and value and all(isinstance(v, mesa.Agent) for v in value.values()):
            new.__dict__[name] = {k: agent_of(v) for k, v in value.items()}
        elif isinstance(value, list) and value and all(isinstance(v, mesa.Agent) for v in value):
            new.__dict__[name] = [agent_of(v) for v in value]
        else:
            new.__dict__[name] = _copy_value(value)
    for key, a in agents.items():       # controllers not held in an attribute are copied too
        agent_of(a)
    return new


# -- demand ----------------------------------------------------------------------------------------

def _rebuild_pending(engine: CrowdEngine, rows: np.ndarray, times_s: np.ndarray, stand_frac: np.ndarray) -> None:
    """Replace the pending tail (agents ``n_active..``) by agents copied from ``rows`` (indices of
    existing agents) arriving at ``times_s`` and standing at ``stand_frac`` along their viewing cell,
    sorted by time; every per-agent array is rebuilt in arrival order."""
    order = np.argsort(times_s, kind="stable")
    rows, times_s, stand_frac = rows[order], times_s[order], stand_frac[order]
    na, n_placed = engine.n_active, engine.n_placed
    agents = engine.agents
    not_per_agent = ("may_move", "relist", "may_wait")  # the bitmaps and the movers' flag: rebuilt
    parts = {name: np.concatenate([getattr(agents, name)[:na], getattr(agents, name)[rows]])
             for name in agents._fields if name not in not_per_agent}
    parts["may_move"] = np.zeros((parts["state"].size + 63) // 64, dtype=np.uint64)
    parts["relist"] = np.ones(1, dtype=np.bool_)      # the next step lists its movers from everyone
    parts["may_wait"] = K.bitmap_of(parts["wait_start_s"] >= 0.0)
    parts["state"][na:] = K.PENDING
    parts["stand_frac"][na:] = stand_frac
    engine.agents = type(agents)(**parts)
    arr = engine.arrivals
    first = na - n_placed
    n_arrivals = arr.time_s.size
    fields = {}
    for f in dataclasses.fields(arr):           # per-arrival arrays rebuilt; anything else (per source) kept
        old = getattr(arr, f.name)
        if isinstance(old, np.ndarray) and old.ndim >= 1 and old.shape[0] == n_arrivals:
            fields[f.name] = np.concatenate([old[:first], old[rows - n_placed]])
    fields["time_s"][first:] = times_s
    fields["stand_frac"][first:] = stand_frac
    engine.arrivals = dataclasses.replace(arr, **fields)
    engine.arrival_time_s = np.concatenate([np.zeros(n_placed), engine.arrivals.time_s])
    engine.n_agents = int(engine.arrival_time_s.size)


def arrivals_by_source(engine: CrowdEngine) -> np.ndarray:
    """People of each source who have arrived so far (agents activated), per source (int64)."""
    n_src = len(engine.arrays.source_names)
    k = engine.n_active - engine.n_placed
    return np.bincount(engine.arrivals.source[:k], minlength=n_src).astype(np.int64)


def rescale_future_arrivals(engine: CrowdEngine, source: int, factor: float, rng: np.random.Generator,
                            jitter_s: float = 60.0) -> int:
    """Multiply the demand still to come from ``source`` (index into the scenario's sources) by
    ``factor`` from now on; returns the change in the number of pending people.  See
    :func:`rescale_future_demand` (all sources at once, one rebuild)."""
    n_src = len(engine.arrays.source_names)
    if not (isinstance(source, (int, np.integer)) and 0 <= source < n_src):
        raise SimError(f"rescale_future_arrivals: source {source!r} is not a source index (have {n_src})")
    factors = np.ones(n_src)
    factors[source] = factor
    return rescale_future_demand(engine, factors, rng, jitter_s)


def rescale_future_demand(engine: CrowdEngine, factors, rng: np.random.Generator, jitter_s: float = 60.0) -> int:
    """Multiply the demand still to come from each source by its factor (one per source, in the
    scenario's order) from now on; returns the change in the number of pending people.

    ``factor < 1``: each pending person of the source is kept with probability ``factor``.
    ``factor > 1``: each gets Poisson(``factor - 1``) companions, copies of them (node, viewing
    target, exit, free speed; their own spot along the viewing cell) arriving within ``jitter_s`` of
    them, so the profile's shape is kept and the total is the scaled one in expectation.  Arrivals
    stay within (now, end of arrivals].  The pending tail of the agent arrays is rebuilt once."""
    factors = np.asarray(factors, dtype=np.float64)
    n_src = len(engine.arrays.source_names)
    if factors.shape != (n_src,) or not np.all(np.isfinite(factors)) or np.any(factors < 0):
        raise SimError(f"rescale_future_demand: factors must be {n_src} finite numbers >= 0 (one per source), "
                       f"got {factors.tolist()!r}")
    na, n_placed = engine.n_active, engine.n_placed
    pending = np.arange(na, engine.n_agents)
    if pending.size == 0 or np.all(factors == 1.0):
        return 0
    f = factors[engine.arrivals.source[pending - n_placed]]
    times = engine.arrival_time_s
    stand = engine.agents.stand_frac
    keep = pending[(f >= 1.0) | (rng.random(pending.size) < f)]
    extra = np.maximum(f - 1.0, 0.0)
    clones = np.repeat(pending, rng.poisson(extra)) if np.any(extra > 0) else np.zeros(0, dtype=np.int64)
    scenario = engine.scenario
    end_s = scenario.simulation.duration_s
    if scenario.show is not None:
        end_s = min(scenario.show.end_s, end_s)
    lo = engine.t_s + engine.arrays.dt_s
    clone_times = np.clip(times[clones] + rng.uniform(-jitter_s, jitter_s, clones.size), lo, max(lo, end_s))
    rows = np.concatenate([keep, clones])
    new_times = np.concatenate([times[keep], clone_times])
    new_stand = np.concatenate([stand[keep], rng.random(clones.size)])      # clones stand at their own spot
    _rebuild_pending(engine, rows, new_times, new_stand)
    return int(rows.size - pending.size)


# -- weather and walking ---------------------------------------------------------------------------

#: Rain intensities are rounded to this step (mm/h) before the weather arrays are compiled (cached).
RAIN_STEP_MM_PER_H = 0.5
_RAIN_ARRAYS: dict[tuple[str, float], CrowdArrays] = {}


def _rain_level(scenario: CrowdScenario, mm_per_h: float) -> float:
    heavy = scenario.weather.heavy_rain_mm_per_h
    if mm_per_h <= 0:
        return 0.0
    # Above the heavy-rain intensity nothing in the model changes; below it, steps of RAIN_STEP_MM_PER_H.
    level = min(float(mm_per_h), heavy)
    return max(RAIN_STEP_MM_PER_H, round(level / RAIN_STEP_MM_PER_H) * RAIN_STEP_MM_PER_H)


def rain_arrays(scenario: CrowdScenario, mm_per_h: float) -> CrowdArrays:
    """The scenario compiled for rain of ``mm_per_h`` (rounded to :data:`RAIN_STEP_MM_PER_H`, and to
    the heavy-rain intensity above it); cached per scenario and level."""
    level = _rain_level(scenario, mm_per_h)
    key = (scenario.model_dump_json(), level)
    if key not in _RAIN_ARRAYS:
        weather = scenario.weather.model_copy(update={"rain_mm_per_h": level})
        _RAIN_ARRAYS[key] = compile_crowd(scenario.model_copy(update={"weather": weather}))
    return _RAIN_ARRAYS[key]


def rain_of(engine: CrowdEngine) -> float:
    """The rain intensity (mm/h, rounded as in :func:`rain_arrays`) the engine runs in now."""
    return float(getattr(engine, "_rain_mm_per_h", _rain_level(engine.scenario, engine.scenario.weather.rain_mm_per_h)))


def set_rain(engine: CrowdEngine, mm_per_h: float) -> None:
    """Let it rain ``mm_per_h`` from now on (0: dry): the weather-dependent arrays are swapped
    (umbrella space, capacities, levels of service, shelter preference, exit penalties), everyone's
    free speed is rescaled by the rain factor, and routes are refreshed from the new costs."""
    if not np.isfinite(mm_per_h) or mm_per_h < 0:
        raise SimError(f"set_rain: mm_per_h must be a finite number >= 0, got {mm_per_h!r}")
    level = _rain_level(engine.scenario, mm_per_h)
    if level == rain_of(engine):
        return
    old, new = engine.arrays, rain_arrays(engine.scenario, level)
    ratio = new.v0_mps / old.v0_mps
    if ratio != 1.0:
        engine.agents.v0_mps[:] *= ratio
        engine.arrivals.v0_mps[:] *= ratio
    engine.arrays = new
    engine._rain_mm_per_h = level
    engine.refresh_routes()


def scale_walking_speed(engine: CrowdEngine, factor: float) -> None:
    """Multiply every person's free walking speed (those here and those still to come) by ``factor``."""
    if not np.isfinite(factor) or factor <= 0:
        raise SimError(f"scale_walking_speed: factor must be a finite number > 0, got {factor!r}")
    engine.agents.v0_mps[:] *= factor
    engine.arrivals.v0_mps[:] *= factor


# -- corrections booked as flows -------------------------------------------------------------------

@dataclass
class Moved:
    """One correction of a zone's occupancy, booked as flows (people)."""

    zone: int
    requested: int                  # + into the zone, - out of it
    from_walkers: int = 0           # walkers on their way (outside the zone) put inside it
    from_sources: int = 0           # people waiting at their source put inside it
    from_future: int = 0            # arrivals still to come, arriving now inside it
    to_sources: int = 0             # people in the zone sent back to their source (not arrived yet)
    to_exits: int = 0               # people in the zone who left (through the exits)
    zone_change: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # per zone

    @property
    def moved(self) -> int:
        """People moved: + into the zone, - out of it."""
        return self.from_walkers + self.from_sources + self.from_future - self.to_sources - self.to_exits


_ZONE_DIST: dict[tuple[int, int], np.ndarray] = {}


def zone_cell_distance_m(arrays: CrowdArrays, zone: int) -> np.ndarray:
    """Walking distance (m) from each cell to the nearest cell of ``zone`` over the walk network
    (0 inside it, inf where unreachable); cached per compiled map."""
    key = (id(arrays.walk), zone)
    if key not in _ZONE_DIST:
        import networkx as nx

        walk = arrays.walk
        g = nx.Graph()
        length = walk.cell_length_m
        for c in range(walk.n_cells):
            g.add_edge(int(walk.cell_a[c]), int(walk.cell_b[c]), weight=float(length[c]))
        cells = np.flatnonzero(arrays.cell_zone == zone)
        sources = {int(walk.cell_a[c]) for c in cells} | {int(walk.cell_b[c]) for c in cells}
        dist = nx.multi_source_dijkstra_path_length(g, sources, weight="weight") if sources else {}
        node_d = np.full(walk.n_nodes, np.inf)
        for n, d in dist.items():
            node_d[n] = d
        out = np.minimum(node_d[walk.cell_a], node_d[walk.cell_b]) + 0.5 * length
        out[cells] = 0.0
        _ZONE_DIST[key] = out
    return _ZONE_DIST[key]


def _places_in(engine: CrowdEngine, zone: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """Cells of ``zone`` for ``n`` people, drawn in proportion to the room left (queue density); fewer
    when the zone is full."""
    a = engine.arrays
    cells = np.flatnonzero(a.cell_zone == zone)
    free = np.maximum(a.net.cell_capacity[cells].astype(np.int64) - engine.cells.count[cells], 0)
    total = int(free.sum())
    n = min(n, total)
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    take = np.zeros(cells.size, dtype=np.int64)
    left = n
    while left > 0:                 # multinomial by room, capped by room
        room = free - take
        p = room / room.sum()
        draw = np.minimum(rng.multinomial(left, p), room)
        take += draw
        left = n - int(take.sum())
    return np.repeat(cells, take)


def _put_on(engine: CrowdEngine, people: np.ndarray, cells: np.ndarray, rng: np.random.Generator) -> None:
    a = engine.agents
    edges = 2 * cells + rng.integers(0, 2, cells.size)
    a.edge[people] = edges
    a.pos_m[people] = rng.random(cells.size) * engine.arrays.edge_length_m[edges]
    np.add.at(engine.cells.count, cells, 1)


def move_people(engine: CrowdEngine, zone: int, delta: int, rng: np.random.Generator) -> Moved:
    """Correct the occupancy of ``zone`` by ``delta`` people (+ in, - out) with flows that keep
    everyone accounted for, and check it.

    In (``delta > 0``), taken in this order: walkers heading in (not queued) outside the zone, those
    whose viewing spot is in the zone first, then those outside every zone, then the nearest; people
    waiting at a source;
    arrivals still to come (they arrive now).  They are put on the zone's cells in proportion to the
    room left (never beyond the queue density), walking on to their spot.
    Out (``delta < 0``): walkers heading in, then standing viewers, then walkers heading out, drawn
    at random; before the end of arrivals those who came from a source go back to it (they had not
    arrived yet), the others leave through the exits.
    Afterwards every agent is recounted (:meth:`CrowdEngine.recount`) and each zone's occupancy
    change is checked against the flows booked; either raises :class:`ConservationError`."""
    a, arrays = engine.agents, engine.arrays
    net = arrays.net
    na = engine.n_active
    before = engine.zones.occupancy.copy()
    moved = Moved(zone=int(zone), requested=int(delta))
    cell_zone = net.cell_zone
    flows = np.zeros(before.size, dtype=np.int64)    # booked change per zone
    if delta > 0:
        need = int(delta)
        state, q_edge = a.state[:na], a.q_edge[:na]
        walkers = np.flatnonzero((state == K.WALK_IN) & (q_edge < 0))
        wcell = net.edge_cell[a.edge[walkers]]
        outside = cell_zone[wcell] != zone
        walkers, wcell = walkers[outside], wcell[outside]
        heading = cell_zone[arrays.view_cell[a.target[walkers]]] == zone if arrays.view_cell.size else \
            np.zeros(walkers.size, dtype=bool)
        dist = zone_cell_distance_m(arrays, zone)[wcell]
        order = np.lexsort((dist, cell_zone[wcell] >= 0, ~heading))   # heading there, outside every zone, nearest
        walkers, wcell = walkers[order[:need]], wcell[order[:need]]
        at_source = np.flatnonzero(state == K.AT_SOURCE)[: max(0, need - walkers.size)]
        n_future = 0
        if not engine.arrivals_over:
            n_future = min(max(0, need - walkers.size - at_source.size), engine.n_agents - na)
        places = _places_in(engine, zone, walkers.size + at_source.size + n_future, rng)
        k = places.size
        n_w = min(walkers.size, k)
        n_s = min(at_source.size, k - n_w)
        n_f = k - n_w - n_s
        if n_w:
            people = walkers[:n_w]
            np.add.at(engine.cells.count, wcell[:n_w], -1)
            np.add.at(flows, cell_zone[wcell[:n_w]][cell_zone[wcell[:n_w]] >= 0], -1)
            _put_on(engine, people, places[:n_w], rng)
        if n_s:
            people = at_source[:n_s]
            a.state[people] = K.WALK_IN
            a.wait_start_s[people] = -1.0
            _put_on(engine, people, places[n_w:n_w + n_s], rng)
            engine.counters[K.C_ENTERED_NETWORK] += n_s
        if n_f:
            people = np.arange(na, na + n_f)
            a.state[people] = K.WALK_IN
            engine.arrival_time_s[people] = engine.t_s
            engine.arrivals.time_s[people - engine.n_placed] = engine.t_s
            engine.n_active = na + n_f
            _put_on(engine, people, places[n_w + n_s:], rng)
            engine.counters[K.C_ENTERED_NETWORK] += n_f
        flows[zone] += k
        moved.from_walkers, moved.from_sources, moved.from_future = n_w, n_s, n_f
    elif delta < 0:
        need = int(-delta)
        state, q_edge = a.state[:na], a.q_edge[:na]
        on = (q_edge < 0) & (a.edge[:na] >= 0)
        in_zone = np.zeros(na, dtype=bool)
        in_zone[on] = cell_zone[net.edge_cell[a.edge[:na][on]]] == zone
        groups = [np.flatnonzero(in_zone & (state == s)) for s in (K.WALK_IN, K.STANDING, K.WALK_OUT)]
        chosen = np.concatenate([rng.permutation(g) for g in groups])[:need]
        cells = net.edge_cell[a.edge[chosen]]
        standing = a.state[chosen] == K.STANDING
        np.add.at(engine.cells.standing, cells[standing], -1)
        np.add.at(engine.cells.count, cells, -1)
        back = (a.source_node[chosen] >= 0) & (a.state[chosen] != K.WALK_OUT) & (not engine.arrivals_over)
        to_src, to_exit = chosen[back], chosen[~back]
        a.state[to_src] = K.AT_SOURCE
        if to_src.size:
            engine.first_at_source = min(engine.first_at_source, int(to_src.min()))
        a.state[to_exit] = K.EXITED
        a.edge[chosen] = -1
        a.pos_m[chosen] = 0.0
        a.wait_start_s[chosen] = -1.0
        engine.counters[K.C_EXITED] += to_exit.size
        engine.exited = int(engine.counters[K.C_EXITED] + engine.counters[K.C_LEFT_FROM_SOURCE])
        flows[zone] -= chosen.size
        moved.to_sources, moved.to_exits = int(to_src.size), int(to_exit.size)
    engine.agents_changed()
    K.zone_stats(engine.cells, net, engine.zones, arrays.params)
    engine.recount()
    change = engine.zones.occupancy - before
    moved.zone_change = change
    if not np.array_equal(change, flows):
        bad = int(np.flatnonzero(change != flows)[0])
        raise ConservationError("crowd correction", engine.step_index, engine.t_s,
                                {"zone": arrays.zone_names[bad], "occupancy change": int(change[bad]),
                                 "flows booked": int(flows[bad])})
    return moved
