"""The traffic models (Mesa): one phase plan (:class:`TrafficModel`) and every plan of a scenario on
the same trips (:class:`PlanComparison`).  The inner loop is the engine's Numba kernels."""

from __future__ import annotations

import mesa
import numpy as np

from ..core.errors import SimError
from ..core.stepping import run_plans, run_steps
from .compile import BIKE, MOTOR, TrafficArrays, compile_traffic
from .controllers import TunnelController
from .engine import TrafficEngine
from .kpis import TrafficRecorder, traffic_plan_summary
from .schema import TrafficScenario

__all__ = ["TrafficModel", "PlanComparison", "TIMESERIES_COLUMNS"]

TIMESERIES_COLUMNS = ["plan", "minute", "portal", "phase", "motor_queue_vehicles", "motor_queue_m", "bike_queue",
                   "bike_queue_m", "motor_through", "bike_through"]


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

    TIMESERIES_COLUMNS = TIMESERIES_COLUMNS

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
        self.wall_seconds = run_steps(self, f"{self.scenario.name} [{self.plan_name}]", progress, callback,
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

    TIMESERIES_COLUMNS = TIMESERIES_COLUMNS

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
        self.wall_seconds = run_plans(self, lambda name: TrafficModel(
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
        from .plots import plot_plan_comparison, plot_portal_queues
        return [plot_portal_queues(self, folder / "portal_queues.png"),
                plot_plan_comparison(self, folder / "plan_comparison.png")]
