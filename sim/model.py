"""The Mesa models: the skeleton that owns an engine, its controllers and the data collection.

The inner loops are not here: :class:`~sim.crowd.CrowdEngine` moves every pedestrian and
:class:`~sim.traffic.TrafficEngine` every vehicle in Numba kernels.  ``step`` runs the controllers
(Mesa agents), one engine step, the recorder, and once a simulated minute the ``mesa.DataCollector``.

* :class:`CityModel`: a crowd scenario (``kind = "crowd"``).
* :class:`TrafficModel`: one phase plan of a traffic scenario (``kind = "traffic"``);
  :class:`PlanComparison` runs every plan of the scenario on the same trips.
* :func:`build_run` picks the right one for a scenario; everything it returns has ``run``,
  ``summary``, ``timeseries_rows``, ``TIMESERIES_COLUMNS`` and ``write_plots``.
"""

from __future__ import annotations

import time

import mesa
import numpy as np

from .bikes import (BikeArrays, BikeEngine, compile_bikes, exit_shares, layout_for_plan, plan_van_trips,
                    shelter_shift)
from .control import ShowController, TunnelController, Van, ZoneGate
from .crowd import NO_CAP, CrowdArrays, CrowdEngine
from .errors import SimError
from .metrics import CrowdRecorder, TrafficRecorder, bike_plan_summary, crowd_summary, traffic_plan_summary
from .scenario import AnyScenario, BikeScenario, Scenario, TrafficScenario
from .traffic import BIKE, MOTOR, TrafficArrays, TrafficEngine, compile_traffic

__all__ = ["CityModel", "TrafficModel", "PlanComparison", "BikeModel", "BikePlanComparison", "build_run",
           "run_scenario"]

CROWD_COLUMNS = ["minute", "zone", "occupancy", "mean_density_ppm2", "max_density_ppm2", "gate_queue",
                 "inside_total", "exited_total"]
BIKE_COLUMNS = ["plan", "minute", "pool", "stock", "empty", "pickups", "unmet_pickups", "returns", "bikes_in_vans"]
TRAFFIC_COLUMNS = ["plan", "minute", "portal", "phase", "motor_queue_vehicles", "motor_queue_m", "bike_queue",
                   "bike_queue_m", "motor_through", "bike_through"]


def _progress_bar(total: int, desc: str, progress: bool):
    if not progress:
        return None
    from tqdm import tqdm
    return tqdm(total=total, unit="step", desc=desc, leave=False)


def _run_steps(model, desc: str, progress: bool, callback, count=None) -> float:
    """Step ``model`` to its ``n_steps``; once a simulated minute update the tqdm bar (with
    ``count()`` as a postfix) and call ``callback(fraction_done)``.  Returns the wall seconds."""
    start = time.perf_counter()
    bar = _progress_bar(model.n_steps, desc, progress)
    engine = model.engine
    while engine.step_index < model.n_steps:
        model.step()
        if engine.step_index % model.steps_per_minute == 0:
            if bar is not None:
                bar.update(model.steps_per_minute)
                if count is not None:
                    bar.set_postfix(inside=count(), refresh=False)
            if callback is not None:
                callback(engine.step_index / model.n_steps)
    if bar is not None:
        bar.close()
    return time.perf_counter() - start


def _run_plans(study, make_model, callback) -> float:
    """Run one model per plan of ``study`` (``make_model(name)``), spreading ``callback`` over them."""
    start = time.perf_counter()
    n = len(study.plan_names)
    for k, name in enumerate(study.plan_names):
        model = make_model(name)
        sub = None if callback is None else (lambda f, k=k: callback((k + f) / n))
        model.run(progress=study.progress, callback=sub)
        study.models[model.plan_name] = model
    return time.perf_counter() - start


class CityModel(mesa.Model):
    """A crowd scenario as a Mesa model.

    ``TIMESERIES_COLUMNS`` are the columns of :meth:`timeseries_rows`.

    ``seed`` defaults to the scenario's ``simulation.seed``; the model's NumPy ``Generator``
    (``self.rng``) is the only source of randomness, so the same seed gives the same run.
    """

    def __init__(self, scenario: Scenario, seed: int | None = None, arrays: CrowdArrays | None = None):
        seed_value = scenario.simulation.seed if seed is None else int(seed)
        super().__init__(rng=seed_value)
        self.seed_value = seed_value
        self.scenario = scenario
        self.engine = CrowdEngine(scenario, self.rng, arrays)
        a = self.engine.arrays
        self.steps_per_minute = max(1, int(round(60.0 / a.dt_s)))
        self.n_steps = int(np.ceil(scenario.simulation.duration_s / a.dt_s))
        self.gates: dict[str, ZoneGate] = {}
        for z, name in enumerate(a.zone_names):
            if a.zone_cap[z] < NO_CAP:
                self.gates[name] = ZoneGate(self, z, name, int(a.zone_cap[z]), int(a.zone_reopen[z]))
        self.show = ShowController(self, scenario.show.end_s, a.release_times_s, scenario.show.release_rate_pps,
                                   scenario.show.release_hold_density_ppm2, scenario.show.release_max_hold_s)
        self.recorder = CrowdRecorder(self.engine, self.n_steps)
        reporters = {"minute": lambda m: m.engine.t_s / 60.0,
                     "inside": lambda m: m.engine.inside,
                     "exited": lambda m: m.engine.exited,
                     "entered": lambda m: m.engine.n_active}
        for z, name in enumerate(a.zone_names):
            reporters[f"{name}.occupancy"] = lambda m, z=z: int(m.engine.zone_occupancy[z])
            reporters[f"{name}.mean_density_ppm2"] = (
                lambda m, z=z: float(m.engine.zone_occupancy[z] / m.engine.arrays.zone_area_m2[z]))
            reporters[f"{name}.max_density_ppm2"] = lambda m, z=z: float(m.engine.zone_max_density[z])
            reporters[f"{name}.gate_queue"] = lambda m, z=z: int(m.engine.zone_gate_queue[z])
        self.datacollector = mesa.DataCollector(model_reporters=reporters)
        self.wall_seconds = 0.0
        self.datacollector.collect(self)

    def step(self) -> None:
        """Controllers act on the last state, then the engine advances one time step."""
        for gate in self.gates.values():
            gate.step()
        self.show.step()
        self.engine.step()
        self.recorder.record(self.engine)
        if self.engine.step_index % self.steps_per_minute == 0:
            self.datacollector.collect(self)

    def run(self, progress: bool = False, callback=None) -> dict:
        """Run to the scenario's end; returns the summary.  ``progress`` shows a tqdm bar;
        ``callback(fraction_done)`` is called once a simulated minute (for the app's progress bar)."""
        self.wall_seconds = _run_steps(self, self.scenario.name, progress, callback, lambda: self.engine.inside)
        return self.summary()

    TIMESERIES_COLUMNS = CROWD_COLUMNS

    def summary(self) -> dict:
        return crowd_summary(self)

    def write_plots(self, folder) -> list:
        """The crowd plots: zone series against cap and LOS bands, and the peak-density map."""
        from .plots import plot_density_map, plot_zone_series
        return [plot_zone_series(self, folder / "occupancy_density.png"),
                plot_density_map(self, folder / "peak_density_map.png")]

    def timeseries_rows(self) -> list[dict]:
        """One row per minute and zone: occupancy, mean and max density, gate queue (long format)."""
        df = self.datacollector.get_model_vars_dataframe()
        rows = []
        for _, rec in df.iterrows():
            for name in self.engine.arrays.zone_names:
                rows.append({
                    "minute": round(float(rec["minute"]), 3), "zone": name,
                    "occupancy": int(rec[f"{name}.occupancy"]),
                    "mean_density_ppm2": round(float(rec[f"{name}.mean_density_ppm2"]), 4),
                    "max_density_ppm2": round(float(rec[f"{name}.max_density_ppm2"]), 4),
                    "gate_queue": int(rec[f"{name}.gate_queue"]),
                    "inside_total": int(rec["inside"]), "exited_total": int(rec["exited"]),
                })
        return rows


class TrafficModel(mesa.Model):
    """One phase plan of a traffic scenario as a Mesa model: the vehicle engine plus a
    :class:`~sim.control.TunnelController` agent (none when the scenario has no tunnel).

    ``check_invariants`` checks the tunnel's safety invariants and that no two vehicles overlap,
    every step (tests; it costs time); violations are collected in ``self.violations``.
    """

    def __init__(self, scenario: TrafficScenario, plan_name: str | None = None, seed: int | None = None,
                 arrays: TrafficArrays | None = None, check_invariants: bool = False):
        seed_value = scenario.simulation.seed if seed is None else int(seed)
        super().__init__(rng=seed_value)
        self.seed_value = seed_value
        self.scenario = scenario
        self.arrays = arrays if arrays is not None else compile_traffic(scenario, np.random.default_rng(seed_value))
        if plan_name is None and scenario.plans:
            plan_name = next(iter(scenario.plans))
        if plan_name is not None and plan_name not in scenario.plans:
            raise SimError(f"plan {plan_name!r} is not in the scenario (plans: {sorted(scenario.plans)!r})")
        self.plan_name = plan_name or "traffic"
        self.plan = scenario.plans.get(plan_name) if plan_name else None
        n_escorts = 0
        if self.plan is not None:
            shortest_cycle = (self.plan.motor_s + self.plan.convoy_s if self.plan.control == "fixed"
                              else self.plan.min_motor_s) + 2 * self.plan.clearance_s
            n_escorts = 2 * len(self.arrays.tubes) * (int(scenario.simulation.duration_s / shortest_cycle) + 3)
        self.engine = TrafficEngine(self.arrays, self.rng, n_escorts)
        self.controller = TunnelController(self, self.plan_name, self.plan) if self.plan is not None else None
        a = self.arrays
        self.n_steps = int(np.ceil(scenario.simulation.duration_s / a.dt_s))
        self.steps_per_minute = max(1, int(round(60.0 / a.dt_s)))
        self.steps_per_sample = max(1, int(round(scenario.simulation.queue_sample_s / a.dt_s)))
        self.recorder = TrafficRecorder(self.engine, self.n_steps // self.steps_per_sample + 2)
        self.check_invariants = check_invariants
        self.violations: list[str] = []
        reporters = {"minute": lambda m: m.engine.t_s / 60.0,
                     "inside": lambda m: m.engine.inside,
                     "arrived": lambda m: m.engine.arrived,
                     "phase": lambda m: m.controller.phase if m.controller else "none"}
        for g, tube in enumerate(a.tubes):
            reporters[f"{g}.motor_queue_vehicles"] = lambda m, g=g: int(m.engine.queue_n[g, MOTOR])
            reporters[f"{g}.motor_queue_m"] = lambda m, g=g: float(m.engine.queue_m[g, MOTOR])
            reporters[f"{g}.bike_queue"] = lambda m, g=g: int(m.engine.queue_n[g, BIKE])
            reporters[f"{g}.bike_queue_m"] = lambda m, g=g: float(m.engine.queue_m[g, BIKE])
            reporters[f"{g}.motor_through"] = lambda m, g=g: int(m.engine.tube_exits[g, MOTOR])
            reporters[f"{g}.bike_through"] = lambda m, g=g: int(m.engine.tube_exits[g, BIKE])
        self.datacollector = mesa.DataCollector(model_reporters=reporters)
        self.wall_seconds = 0.0

    TIMESERIES_COLUMNS = TRAFFIC_COLUMNS

    def step(self) -> None:
        """The tunnel controller acts on the last state, then the engine advances one step."""
        if self.controller is not None:
            self.controller.step()
        self.engine.step()
        if self.engine.step_index % self.steps_per_sample == 0:
            self.engine.measure_queues()
            self.recorder.record(self.engine, self.controller)
        if self.engine.step_index % self.steps_per_minute == 0:
            self.datacollector.collect(self)
        if self.check_invariants:
            if self.controller is not None:
                self.violations.extend(self.controller.violations())
            overlaps = self.engine.overlaps()
            if overlaps:
                self.violations.append(f"t={self.engine.t_s:.1f}s: {overlaps} overlapping vehicle pairs")

    def run(self, progress: bool = False, callback=None) -> dict:
        """Run to the scenario's end; returns the plan's summary (see :meth:`run` of CityModel)."""
        self.wall_seconds = _run_steps(self, f"{self.scenario.name} [{self.plan_name}]", progress, callback,
                                       lambda: self.engine.inside)
        if self.controller is not None:
            self.controller.finish(self.engine.t_s)
        return self.summary()

    def summary(self) -> dict:
        return traffic_plan_summary(self)

    def timeseries_rows(self) -> list[dict]:
        """One row per minute and portal: phase, queues per mode, vehicles through so far."""
        df = self.datacollector.get_model_vars_dataframe()
        rows = []
        for _, rec in df.iterrows():
            for g, tube in enumerate(self.arrays.tubes):
                rows.append({
                    "plan": self.plan_name, "minute": round(float(rec["minute"]), 3), "portal": tube.portal_label,
                    "phase": rec["phase"],
                    "motor_queue_vehicles": int(rec[f"{g}.motor_queue_vehicles"]),
                    "motor_queue_m": round(float(rec[f"{g}.motor_queue_m"]), 1),
                    "bike_queue": int(rec[f"{g}.bike_queue"]),
                    "bike_queue_m": round(float(rec[f"{g}.bike_queue_m"]), 1),
                    "motor_through": int(rec[f"{g}.motor_through"]), "bike_through": int(rec[f"{g}.bike_through"]),
                })
        return rows


class PlanComparison:
    """Every phase plan of a traffic scenario (or the ``plans`` named), run on the same trips and
    the same seed, one :class:`TrafficModel` each."""

    TIMESERIES_COLUMNS = TRAFFIC_COLUMNS

    def __init__(self, scenario: TrafficScenario, seed: int | None = None, plans: list[str] | None = None,
                 arrays: TrafficArrays | None = None, check_invariants: bool = False):
        self.scenario = scenario
        self.seed_value = scenario.simulation.seed if seed is None else int(seed)
        names = list(plans) if plans else (list(scenario.plans) or [None])
        unknown = [p for p in names if p is not None and p not in scenario.plans]
        if unknown:
            raise SimError(f"--plan {unknown[0]!r} is not a plan of {scenario.name!r}; "
                           f"plans: {', '.join(scenario.plans)}")
        self.arrays = arrays if arrays is not None else compile_traffic(
            scenario, np.random.default_rng(self.seed_value))
        self.plan_names = names
        self.check_invariants = check_invariants
        self.models: dict[str, TrafficModel] = {}
        self.wall_seconds = 0.0

    def run(self, progress: bool = False, callback=None) -> dict:
        self.progress = progress
        self.wall_seconds = _run_plans(self, lambda name: TrafficModel(
            self.scenario, name, seed=self.seed_value, arrays=self.arrays, check_invariants=self.check_invariants),
            callback)
        return self.summary()

    def summary(self) -> dict:
        plans = {name: model.summary() for name, model in self.models.items()}
        a = self.arrays
        return {
            "scenario": self.scenario.name, "kind": "traffic", "seed": self.seed_value,
            "map": a.road.network.name,
            "tunnel": None if self.scenario.tunnel is None else {
                "name": self.scenario.tunnel.name,
                "tubes": [{"portal": t.portal_label, "length_m": round(t.length_m, 1)} for t in a.tubes]},
            "sim_seconds": float(self.scenario.simulation.duration_s),
            "wall_seconds": round(self.wall_seconds, 3),
            "trips_total": int(a.trip_depart_s.size),
            "vehicles_conserved": all(p["vehicles_conserved"] for p in plans.values()),
            "plans": plans,
        }

    def timeseries_rows(self) -> list[dict]:
        return [row for model in self.models.values() for row in model.timeseries_rows()]

    def write_plots(self, folder) -> list:
        from .plots import plot_portal_queues, plot_plan_comparison
        return [plot_portal_queues(self, folder / "portal_queues.png"),
                plot_plan_comparison(self, folder / "plan_comparison.png")]


class BikeModel(mesa.Model):
    """One redistribution plan of a bike scenario as a Mesa model: the pool engine plus one
    :class:`~sim.control.Van` agent per van (optimised plan), stepped every ``dt_s``; a
    ``mesa.DataCollector`` records the stock of every pool once a simulated minute."""

    TIMESERIES_COLUMNS = BIKE_COLUMNS

    def __init__(self, scenario: BikeScenario, plan_name: str, seed: int | None = None,
                 arrays: BikeArrays | None = None):
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
        self.engine = BikeEngine(self.arrays, stock)
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
        trips = plan_van_trips(self.arrays, self.engine.stock, self.engine.t_s,
                               [van.free_at_s for van in self.vans], [van.next_place for van in self.vans])
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
        self.wall_seconds = _run_steps(self, f"{self.scenario.name} [{self.plan_name}]", progress, callback)
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

    TIMESERIES_COLUMNS = BIKE_COLUMNS

    def __init__(self, scenario: BikeScenario, seed: int | None = None, plans: list[str] | None = None,
                 arrays: BikeArrays | None = None):
        self.scenario = scenario
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
        self.wall_seconds = _run_plans(self, lambda name: BikeModel(
            self.scenario, name, seed=self.seed_value, arrays=self.arrays), callback)
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


def build_run(scenario: AnyScenario, seed: int | None = None, plans: list[str] | None = None):
    """The runnable object for a scenario of any kind (compiles it: every map check happens here)."""
    if isinstance(scenario, TrafficScenario):
        return PlanComparison(scenario, seed=seed, plans=plans)
    if isinstance(scenario, BikeScenario):
        return BikePlanComparison(scenario, seed=seed, plans=plans)
    if plans:
        raise SimError("--plan applies to traffic scenarios only")
    return CityModel(scenario, seed=seed)


def run_scenario(scenario: AnyScenario, seed: int | None = None, progress: bool = False, callback=None):
    """Build and run a scenario of any kind; returns the run object (``.summary()`` etc.)."""
    run = build_run(scenario, seed=seed)
    run.run(progress=progress, callback=callback)
    return run
