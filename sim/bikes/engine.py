"""The bike engine: pool stocks, pickups, detours, lost demand and returns, one step at a time."""

from __future__ import annotations

import math

import numpy as np

from .compile import BikeArrays

__all__ = ["BikeEngine"]

class BikeEngine:
    """Pool stocks through the evening: pickups and returns in time order, step by step.

    A rider who finds the pool empty walks to the nearest pool within ``max_detour_m`` that has a
    bike (extra walk recorded) or is lost demand; a returning rider who finds the pool full rides to
    the nearest pool with room within the same distance, or keeps the bike (a lost return)."""

    def __init__(self, arrays: BikeArrays, stock: np.ndarray):
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
        self.conserved = True
        self.conservation_error = ""
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
                    else:
                        self.lost_returns += 1
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
                    else:
                        self.unmet[p] += 1
        self._next_pickup, self._next_return = k, r
        self.empty_s += np.where(self.stock == 0, dt_s, 0.0)
        self.t_s = t_end
        self.step_index += 1
        self._check()

    def take(self, pool: int, n: int) -> int:
        """A van loads up to ``n`` bikes at ``pool``; returns how many it got."""
        got = int(min(n, self.stock[pool]))
        self.stock[pool] -= got
        self.in_vans += got
        return got

    def put(self, pool: int, n: int) -> int:
        """A van unloads up to ``n`` bikes at ``pool`` (as many as fit); returns how many."""
        put = int(min(n, self.arrays.pool_capacity[pool] - self.stock[pool]))
        self.stock[pool] += put
        self.in_vans -= put
        return put

    def _check(self) -> None:
        expected = self.initial_total + int(self.returns.sum()) - int(self.pickups.sum())
        now = int(self.stock.sum()) + self.in_vans
        if now != expected or (self.stock < 0).any() or (self.stock > self.arrays.pool_capacity).any():
            if self.conserved:
                self.conservation_error = (f"t={self.t_s:.0f}s: pools {int(self.stock.sum())} + vans {self.in_vans} "
                                           f"!= start {self.initial_total} + returns - pickups = {expected}")
            self.conserved = False
