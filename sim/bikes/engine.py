"""The bike engine: pool stocks, pickups, detours, lost demand and returns, one step at a time.

Bikes are conserved: those in the pools plus those in vans equal the bikes at the start plus the
returns less the pickups, and every pickup request and return is accounted for exactly once (a
pickup, possibly after a detour, or unmet; a return, possibly at another pool, or kept by its
rider).  :meth:`BikeEngine.recount` checks this against independent counts (the event streams
processed, each van's own load) every ``check_every_steps`` steps and at the end, and raises
:class:`~sim.core.errors.ConservationError` on a mismatch.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ..core.errors import ConservationError
from .compile import BikeArrays

__all__ = ["BikeEngine", "COUNTER_NAMES"]

#: Model-limit counters of a bike run (in every summary): demand the pools could not meet as asked.
COUNTER_NAMES = ("detour_pickups", "detour_returns", "unmet_pickups", "lost_returns", "van_short_loads",
                 "van_short_unloads", "van_loads_dropped")
(C_DETOUR_PICKUPS, C_DETOUR_RETURNS, C_UNMET, C_LOST_RETURNS, C_VAN_SHORT_LOADS, C_VAN_SHORT_UNLOADS,
 C_VAN_LOADS_DROPPED) = range(len(COUNTER_NAMES))

class BikeEngine:
    """Pool stocks through the evening: pickups and returns in time order, step by step.

    A rider who finds the pool empty walks to the nearest pool within ``max_detour_m`` that has a
    bike (extra walk recorded) or is lost demand; a returning rider who finds the pool full rides to
    the nearest pool with room within the same distance, or keeps the bike (a lost return)."""

    #: Recount cadence of ordinary runs (simulated seconds); tests recount every step.
    DEFAULT_CHECK_EVERY_S = 60.0

    def __init__(self, arrays: BikeArrays, stock: np.ndarray, check_every_steps: int | None = None,
                 van_loads: Callable[[], int] | None = None):
        self.arrays = a = arrays
        self.stock = stock.astype(np.int64).copy()
        self.initial_stock = self.stock.copy()
        self.initial_total = int(self.stock.sum())
        self.t_s = 0.0
        self.step_index = 0
        self.pickups = np.zeros(len(a.pool_names), dtype=np.int64)
        self.unmet = np.zeros(len(a.pool_names), dtype=np.int64)
        self.returns = np.zeros(len(a.pool_names), dtype=np.int64)
        self.lost_returns = 0
        self.extra_walk_m: list[float] = []
        self.empty_s = np.zeros(len(a.pool_names))
        self.in_vans = 0
        self._next_pickup = 0
        self._next_return = 0
        self.counters = np.zeros(len(COUNTER_NAMES), dtype=np.int64)
        self.check_every_steps = check_every_steps or max(
            1, int(round(self.DEFAULT_CHECK_EVERY_S / a.scenario.simulation.dt_s)))
        self.van_loads = van_loads          # each van's own load, summed (set by the model)
        self.recounts = 0
        self._capacity = [int(c) for c in a.pool_capacity]
        self._order = np.argsort(a.pool_detour_m, axis=1)

    def _nearest(self, pool: int, want_bike: bool) -> tuple[int, float]:
        a = self.arrays
        for j in self._order[pool]:
            if j == pool:
                continue
            d = a.pool_detour_m[pool, j]
            if d > a.scenario.demand.max_detour_m:
                break
            if (want_bike and self.stock[j] > 0) or (not want_bike and self.stock[j] < a.pool_capacity[j]):
                return int(j), float(d)
        return -1, 0.0

    def step(self, dt_s: float) -> None:
        a = self.arrays
        t_end = self.t_s + dt_s
        k, r = self._next_pickup, self._next_return
        while True:
            tp = a.pickup_t_s[k] if k < a.pickup_t_s.size else math.inf
            tr = a.return_t_s[r] if r < a.return_t_s.size else math.inf
            if min(tp, tr) >= t_end:
                break
            if tr <= tp:
                p = int(a.return_pool[r])
                r += 1
                if self.stock[p] < a.pool_capacity[p]:
                    self.stock[p] += 1
                    self.returns[p] += 1
                else:
                    j, _ = self._nearest(p, want_bike=False)
                    if j >= 0:
                        self.stock[j] += 1
                        self.returns[j] += 1
                        self.counters[C_DETOUR_RETURNS] += 1
                    else:
                        self.lost_returns += 1
                        self.counters[C_LOST_RETURNS] += 1
            else:
                p = int(a.pickup_pool[k])
                k += 1
                if self.stock[p] > 0:
                    self.stock[p] -= 1
                    self.pickups[p] += 1
                    self.extra_walk_m.append(0.0)
                else:
                    j, d = self._nearest(p, want_bike=True)
                    if j >= 0:
                        self.stock[j] -= 1
                        self.pickups[j] += 1
                        self.extra_walk_m.append(d)
                        self.counters[C_DETOUR_PICKUPS] += 1
                    else:
                        self.unmet[p] += 1
                        self.counters[C_UNMET] += 1
        self._next_pickup, self._next_return = k, r
        self.empty_s += np.where(self.stock == 0, dt_s, 0.0)
        self.t_s = t_end
        self.step_index += 1
        if self.step_index % self.check_every_steps == 0:
            self.recount()

    def take(self, pool: int, n: int) -> int:
        """A van loads up to ``n`` bikes at ``pool``; returns how many it got."""
        got = int(max(0, min(n, self.stock[pool])))
        self.stock[pool] -= got
        self.in_vans += got
        if got < n:
            self.counters[C_VAN_SHORT_LOADS] += 1
        return got

    def put(self, pool: int, n: int) -> int:
        """A van unloads up to ``n`` bikes at ``pool`` (as many as fit); returns how many."""
        put = int(max(0, min(n, self.arrays.pool_capacity[pool] - self.stock[pool])))
        self.stock[pool] += put
        self.in_vans -= put
        if put < n:
            self.counters[C_VAN_SHORT_UNLOADS] += 1
        return put

    def recount(self) -> None:
        """Recount the bikes and the demand from independent counts and compare with the running ones;
        raise :class:`~sim.core.errors.ConservationError` (naming the step and the counts) on a mismatch."""
        self.recounts += 1
        stock = self.stock.tolist()                 # a few pools: plain Python is faster than NumPy here
        pickups, returns, unmet = sum(self.pickups.tolist()), sum(self.returns.tolist()), sum(self.unmet.tolist())
        in_pools = sum(stock)
        expected = self.initial_total + returns - pickups
        loads = self.in_vans if self.van_loads is None else int(self.van_loads())
        if (in_pools + self.in_vans == expected and pickups + unmet == self._next_pickup
                and returns + self.lost_returns == self._next_return and loads == self.in_vans >= 0
                and min(stock, default=0) >= 0 and all(n <= c for n, c in zip(stock, self._capacity))):
            return
        problems: dict[str, object] = {}
        if in_pools + self.in_vans != expected:
            problems["pools + vans / start + returns - pickups"] = (in_pools + self.in_vans, expected)
        if pickups + unmet != self._next_pickup:
            problems["pickups + unmet / requests so far"] = (pickups + unmet, self._next_pickup)
        if returns + self.lost_returns != self._next_return:
            problems["returns + kept by riders / returns so far"] = (returns + self.lost_returns, self._next_return)
        if loads != self.in_vans:
            problems["bikes in vans (vans' loads / engine)"] = (loads, self.in_vans)
        if self.in_vans < 0:
            problems["bikes in vans"] = self.in_vans
        names = self.arrays.pool_names
        for k, (n, c) in enumerate(zip(stock, self._capacity)):
            if n < 0 or n > c:
                problems[f"pool {names[k]!r} stock / capacity"] = (n, c)
                break
        raise ConservationError("bikes", self.step_index, self.t_s,
                                {"start": self.initial_total, "in pools": in_pools, "in vans": self.in_vans,
                                 "pickups": pickups, "returns": returns, **problems})
