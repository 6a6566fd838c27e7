"""Bike redistribution: the plans' layouts, the optimised van rounds (min-cost flow) and the vans
as Mesa agents that carry them out."""

from __future__ import annotations

import math

import mesa
import networkx as nx
import numpy as np

from .compile import BikeArrays, VanTrip

__all__ = ["Van", "layout_for_plan", "forecast_window", "plan_van_trips"]

def _transport(a: BikeArrays, supply: np.ndarray, cost: np.ndarray) -> dict[tuple[int, int], int]:
    """Min-cost flow (networkx network simplex) moving ``supply`` (> 0 gives, < 0 needs) between
    pools at integer ``cost``; surplus that nobody needs stays where it is."""
    g = nx.DiGraph()
    give = int(supply[supply > 0].sum())
    need = int(-supply[supply < 0].sum())
    moved = min(give, need)
    if moved == 0:
        return {}
    g.add_node("spare", demand=give - moved)     # surplus left in place
    g.add_node("short", demand=-(need - moved))  # needs nobody can fill
    for k, s in enumerate(supply):
        g.add_node(k, demand=-int(s))
        if s > 0:
            g.add_edge(k, "spare", weight=0)
        if s < 0:
            g.add_edge("short", k, weight=0)
    for i in np.flatnonzero(supply > 0):
        for j in np.flatnonzero(supply < 0):
            g.add_edge(int(i), int(j), weight=int(round(cost[i, j])))
    flow = nx.min_cost_flow(g)
    return {(i, j): int(f) for i, row in flow.items() if isinstance(i, (int, np.integer))
            for j, f in row.items() if isinstance(j, (int, np.integer)) and f > 0}


def layout_for_plan(a: BikeArrays, plan_name: str) -> tuple[np.ndarray, int, float]:
    """Start-of-evening stock for a plan (none, static, forecast; optimised starts as none), with
    bikes moved and van-km of the overnight move (min-cost transport, full van loads, each load
    driven there and back)."""
    plan = a.scenario.plans[plan_name]
    stock0 = a.pool_stock0.copy()
    if plan.kind == "static":
        layout = np.array([plan.layout.get(name, int(stock0[k])) for k, name in enumerate(a.pool_names)])
    elif plan.kind == "forecast":
        need = np.maximum(a.forecast_pickups - a.forecast_returns, 0.0) + 1e-9
        total = int(stock0.sum())
        layout = np.minimum(np.floor(total * need / need.sum()).astype(np.int64), a.pool_capacity)
        spare = total - int(layout.sum())
        for k in np.argsort(-need):                       # hand out what rounding and capacity left
            if spare <= 0:
                break
            add = min(spare, int(a.pool_capacity[k] - layout[k]))
            layout[k] += add
            spare -= add
    else:
        return stock0, 0, 0.0
    supply = stock0 - layout
    flows = _transport(a, supply, a.van_s[:-1, :-1])
    cap = a.scenario.vans.capacity
    km = sum(math.ceil(f / cap) * (a.van_km[i, j] + a.van_km[j, i]) for (i, j), f in flows.items())
    return layout.astype(np.int64), int(sum(flows.values())), float(km)


def forecast_window(a: BikeArrays, t0_s: float, t1_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Expected pickups and returns per pool between ``t0_s`` and ``t1_s`` (the day's weather)."""
    trains = (a.train_t_s >= t0_s) & (a.train_t_s < t1_s)
    pickups = a.rider_pool_per_train[trains].sum(axis=0)
    grid_end = a.return_cum.size - 1
    lo, hi = int(min(max(t0_s, 0), grid_end)), int(min(max(t1_s, 0), grid_end))
    returns = (a.return_cum[hi] - a.return_cum[lo]) * a.return_weight
    return pickups, returns


def plan_van_trips(a: BikeArrays, stock: np.ndarray, t0_s: float = 0.0, van_free_s: list[float] | None = None,
                   van_place: list[int] | None = None, stats: dict[str, int] | None = None) -> list[VanTrip]:
    """One round of the optimised plan, made at ``t0_s``: target stock = the forecast need over the
    next ``vans.horizon_s`` (pickups - returns, plus ``safety_share``) within capacity; min-cost
    flow (road travel time, networkx) from pools above their target to pools below; flows cut into
    van loads of at most ``vans.capacity``, each given to the van that finishes it earliest, and
    dropped if it would end after ``t0_s + vans.replan_interval_s`` (counted in ``stats["loads_dropped"]``
    when a ``stats`` dict is given)."""
    vans = a.scenario.vans
    pickups, returns = forecast_window(a, t0_s, t0_s + vans.horizon_s)
    target = np.minimum(np.ceil(np.maximum(pickups - returns, 0.0) * (1 + vans.safety_share)),
                        a.pool_capacity).astype(np.int64)
    supply = stock - target
    flows = _transport(a, supply, a.van_s[:-1, :-1])
    loads = []
    for (i, j), f in sorted(flows.items(), key=lambda kv: -kv[1]):
        while f > 0:
            n = min(f, vans.capacity)
            loads.append((i, j, n))
            f -= n
    depot = a.depot_place
    free_at = [max(t0_s, f) for f in van_free_s] if van_free_s is not None else [t0_s] * vans.count
    where = list(van_place) if van_place is not None else [depot] * vans.count
    deadline = t0_s + vans.replan_interval_s
    trips = []
    for i, j, n in loads:
        best = None
        for v in range(vans.count):
            start = free_at[v]
            end = (start + a.van_s[where[v], i] + n * vans.load_s_per_bike + a.van_s[i, j]
                   + n * vans.load_s_per_bike)
            if best is None or end < best[1]:
                best = (v, end, start)
        v, end, start = best
        if end > deadline:
            if stats is not None:
                stats["loads_dropped"] = stats.get("loads_dropped", 0) + 1
            continue
        km = a.van_km[where[v], i] + a.van_km[i, j]
        trips.append(VanTrip(v, i, j, n, start, end, km))
        free_at[v] = end
        where[v] = j
    return trips


class Van(mesa.Agent):
    """A rebalancing van: works through its planned loads (:func:`sim.bikes.plan_van_trips`) one
    after another: drive to the source pool, load what is there (up to the planned number), drive
    to the target pool, unload what fits.  Travel times and distances come from the road graph."""

    def __init__(self, model: "mesa.Model", index: int, trips: list, depot_place: int):
        super().__init__(model)
        self.index = index
        self.trips = list(trips)
        self.place = depot_place
        self.load = 0
        self.km = 0.0
        self.moved = 0
        self.phase = "idle"
        self.busy_until_s = 0.0
        self._trip = None
        self.max_load = 0

    @property
    def free_at_s(self) -> float:
        """When the van will be free of its current load (for re-planning)."""
        if self.phase == "idle":
            return self.busy_until_s
        a = self.model.engine.arrays
        trip = self._trip
        rest = self.busy_until_s
        if self.phase in ("to_source", "loading"):
            rest += a.van_s[trip.source, trip.target] + trip.bikes * a.scenario.vans.load_s_per_bike
        elif self.phase == "to_target":
            rest += trip.bikes * a.scenario.vans.load_s_per_bike
        return rest

    @property
    def next_place(self) -> int:
        return self._trip.target if self.phase != "idle" and self._trip is not None else self.place

    def step(self) -> None:
        engine = self.model.engine
        a = engine.arrays
        t = engine.t_s
        if t < self.busy_until_s:
            return
        load_s = a.scenario.vans.load_s_per_bike
        if self.phase == "idle":
            if not self.trips:
                return
            self._trip = self.trips.pop(0)
            self.km += a.van_km[self.place, self._trip.source]
            self.busy_until_s = t + a.van_s[self.place, self._trip.source]
            self.phase = "to_source"
        elif self.phase == "to_source":
            self.place = self._trip.source
            room = a.scenario.vans.capacity - self.load
            got = engine.take(self._trip.source, min(self._trip.bikes, room))
            self.load += got
            self.max_load = max(self.max_load, self.load)
            self.busy_until_s = t + got * load_s
            self.phase = "loading"
        elif self.phase == "loading":
            self.km += a.van_km[self.place, self._trip.target]
            self.busy_until_s = t + a.van_s[self.place, self._trip.target]
            self.phase = "to_target"
        elif self.phase == "to_target":
            self.place = self._trip.target
            put = engine.put(self._trip.target, self.load)
            self.load -= put
            self.moved += put
            self.busy_until_s = t + put * load_s
            self.phase = "unloading"
        elif self.phase == "unloading":
            self.phase = "idle"
