"""The bike models (Mesa): one redistribution plan (:class:`BikeModel`, with its vans) and every plan
on the same evening (:class:`BikePlanComparison`)."""

from __future__ import annotations

import mesa
import numpy as np

from ..core.errors import SimError
from ..core.stepping import run_plans, run_steps
from .compile import BikeArrays, compile_bikes, exit_shares, shelter_shift
from .controllers import Van, layout_for_plan, plan_van_trips
from .engine import C_VAN_LOADS_DROPPED, BikeEngine
from .kpis import bike_plan_summary
from .schema import BikeScenario

__all__ = ["BikeModel", "BikePlanComparison", "TIMESERIES_COLUMNS"]

TIMESERIES_COLUMNS = ["plan", "minute", "pool", "stock", "empty", "pickups", "unmet_pickups", "returns", "bikes_in_vans"]


class BikeModel(mesa.Model):
    """One redistribution plan of a bike scenario as a Mesa model: the pool engine plus one
    :class:`~sim.control.Van` agent per van (optimised plan), stepped every ``dt_s``; a
    ``mesa.DataCollector`` records the stock of every pool once a simulated minute."""

    TIMESERIES_COLUMNS = TIMESERIES_COLUMNS

    def __init__(self, scenario: BikeScenario, plan_name: str, seed: int | None = None,
                 arrays: BikeArrays | None = None, check_every_steps: int | None = None):
        seed_value = scenario.simulation.seed if seed is None else int(seed)
        super().__init__(rng=seed_value)
        self.seed_value = seed_value
        self.scenario = scenario
        self.arrays = arrays if arrays is not None else compile_bikes(scenario, seed_value)
        if plan_name not in scenario.plans:
            raise SimError(f"plan {plan_name!r} is not in the scenario (plans: {sorted(scenario.plans)!r})")
        self.plan_name = plan_name
        self.plan = scenario.plans[plan_name]
        stock, self.layout_moved, self.layout_km = layout_for_plan(self.arrays, plan_name)
        self.engine = BikeEngine(self.arrays, stock, check_every_steps,
                                 van_loads=lambda: sum(van.load for van in self.vans))
        self.trips = []
        self.round_starts_s: list[float] = []
        self.vans = [Van(self, v, [], self.arrays.depot_place)
                     for v in range(scenario.vans.count)] if self.plan.kind == "optimised" else []
        self._next_plan_s = 0.0
        self.dt_s = scenario.simulation.dt_s
        self.n_steps = int(np.ceil(scenario.simulation.duration_s / self.dt_s))
        self.steps_per_minute = max(1, int(round(60.0 / self.dt_s)))
        reporters = {"minute": lambda m: m.engine.t_s / 60.0, "in_vans": lambda m: m.engine.in_vans}
        for k, name in enumerate(self.arrays.pool_names):
            reporters[f"{k}.stock"] = lambda m, k=k: int(m.engine.stock[k])
            reporters[f"{k}.pickups"] = lambda m, k=k: int(m.engine.pickups[k])
            reporters[f"{k}.unmet"] = lambda m, k=k: int(m.engine.unmet[k])
            reporters[f"{k}.returns"] = lambda m, k=k: int(m.engine.returns[k])
        self.datacollector = mesa.DataCollector(model_reporters=reporters)
        self.datacollector.collect(self)
        self.wall_seconds = 0.0

    def replan(self) -> None:
        """Optimised plan: a new round of van moves from the stock now and the forecast ahead."""
        stats: dict[str, int] = {}
        trips = plan_van_trips(self.arrays, self.engine.stock, self.engine.t_s,
                               [van.free_at_s for van in self.vans], [van.next_place for van in self.vans],
                               stats=stats)
        self.engine.counters[C_VAN_LOADS_DROPPED] += stats.get("loads_dropped", 0)
        for van in self.vans:
            van.trips = [t for t in trips if t.van == van.index]
        self.trips.extend(trips)
        self.round_starts_s.append(self.engine.t_s)

    def step(self) -> None:
        if self.vans and self.engine.t_s >= self._next_plan_s:
            self.replan()
            self._next_plan_s += self.scenario.vans.replan_interval_s
        for van in self.vans:
            van.step()
        self.engine.step(self.dt_s)
        if self.engine.step_index % self.steps_per_minute == 0:
            self.datacollector.collect(self)

    def run(self, progress: bool = False, callback=None) -> dict:
        """Run the evening; returns the plan's summary (see :meth:`run` of CityModel)."""
        self.wall_seconds = run_steps(self, f"{self.scenario.name} [{self.plan_name}]", progress, callback)
        self.engine.recount()                       # the last steps, whatever the cadence
        return self.summary()

    def summary(self) -> dict:
        return bike_plan_summary(self)

    def timeseries_rows(self) -> list[dict]:
        df = self.datacollector.get_model_vars_dataframe()
        rows = []
        for _, rec in df.iterrows():
            for k, name in enumerate(self.arrays.pool_names):
                rows.append({"plan": self.plan_name, "minute": round(float(rec["minute"]), 3), "pool": name,
                             "stock": int(rec[f"{k}.stock"]), "empty": int(rec[f"{k}.stock"] == 0),
                             "pickups": int(rec[f"{k}.pickups"]), "unmet_pickups": int(rec[f"{k}.unmet"]),
                             "returns": int(rec[f"{k}.returns"]), "bikes_in_vans": int(rec["in_vans"])})
        return rows


class BikePlanComparison:
    """Every redistribution plan of a bike scenario (or the ``plans`` named) on the same evening."""

    TIMESERIES_COLUMNS = TIMESERIES_COLUMNS

    def __init__(self, scenario: BikeScenario, seed: int | None = None, plans: list[str] | None = None,
                 arrays: BikeArrays | None = None, check_every_steps: int | None = None):
        self.scenario = scenario
        self.check_every_steps = check_every_steps
        self.seed_value = scenario.simulation.seed if seed is None else int(seed)
        names = list(plans) if plans else list(scenario.plans)
        unknown = [p for p in names if p not in scenario.plans]
        if unknown:
            raise SimError(f"--plan {unknown[0]!r} is not a plan of {scenario.name!r}; "
                           f"plans: {', '.join(scenario.plans)}")
        self.arrays = arrays if arrays is not None else compile_bikes(scenario, self.seed_value)
        self.plan_names = names
        self.models: dict[str, BikeModel] = {}
        self.wall_seconds = 0.0

    def run(self, progress: bool = False, callback=None) -> dict:
        self.progress = progress
        self.wall_seconds = run_plans(self, lambda name: BikeModel(
            self.scenario, name, seed=self.seed_value, arrays=self.arrays,
            check_every_steps=self.check_every_steps), callback)
        return self.summary()

    def summary(self) -> dict:
        a = self.arrays
        rain = a.rain_mm_per_h
        plans = {name: model.summary() for name, model in self.models.items()}
        return {
            "scenario": self.scenario.name, "kind": "bikes", "seed": self.seed_value, "map": a.walk.network.name,
            "rain_mm_per_h": rain, "sim_seconds": float(self.scenario.simulation.duration_s),
            "wall_seconds": round(self.wall_seconds, 3),
            "exit_shares": {"dry": exit_shares(a, 0.0), "rain": exit_shares(a, rain) if rain > 0 else None},
            "shelter": {"dry": shelter_shift(a, 0.0), "rain": shelter_shift(a, rain) if rain > 0 else None},
            "riders_by_exit": {n: int(c) for n, c in zip(a.exit_names, a.rider_exit_counts)},
            "walkers_by_exit": {n: int(c) for n, c in zip(a.exit_names, a.walker_exit_counts)},
            "forecast_pickups": {n: round(float(v), 1) for n, v in zip(a.pool_names, a.forecast_pickups)},
            "forecast_returns": {n: round(float(v), 1) for n, v in zip(a.pool_names, a.forecast_returns)},
            "pickup_requests": int(a.pickup_t_s.size), "returns_offered": int(a.return_t_s.size),
            "bikes_conserved": all(p["bikes_conserved"] for p in plans.values()),
            "plans": plans,
        }

    def timeseries_rows(self) -> list[dict]:
        return [row for model in self.models.values() for row in model.timeseries_rows()]

    def write_plots(self, folder) -> list:
        from .plots import plot_exit_shares, plot_pool_stock
        return [plot_exit_shares(self, folder / "exit_shares.png"),
                plot_pool_stock(self, folder / "pool_stock.png")]
