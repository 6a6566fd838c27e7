"""The traffic models (Mesa): one phase plan (:class:`TrafficModel`) and every plan of a scenario on
the same trips (:class:`PlanComparison`).  The inner loop is the engine's Numba kernels."""

from __future__ import annotations

import time

import mesa
import numpy as np

from ..core.errors import InvariantError, SimError
from ..core.stepping import run_plans, run_steps
from .compile import BIKE, MOTOR, ROAD_CLASSES, TrafficArrays, compile_traffic
from .controllers import TunnelController
from .engine import TrafficEngine
from .kernels import C_OVERLAP, DRIVING, QUEUED
from .kpis import TrafficRecorder, traffic_plan_summary
from .schema import TrafficScenario

__all__ = ["TrafficModel", "PlanComparison", "TIMESERIES_COLUMNS", "NETWORK_COLUMNS"]

PORTAL_COLUMNS = ["motor_queue_vehicles", "motor_queue_m", "bike_queue", "bike_queue_m", "motor_through",
                  "bike_through"]
#: Network-wide columns of every traffic time series (with or without a tunnel).
NETWORK_COLUMNS = (["vehicles_on_network", "waiting_to_enter", "waiting_at_portals", "arrived", "arrivals_per_min",
                    "mean_speed_kph_motor", "mean_speed_kph_bike"]
                   + [f"mean_speed_kph_{c}" for c in ROAD_CLASSES])
TIMESERIES_COLUMNS = ["plan", "minute", "portal", "phase", *PORTAL_COLUMNS, *NETWORK_COLUMNS]


class TrafficModel(mesa.Model):
    """One phase plan of a traffic scenario as a Mesa model: the vehicle engine plus a
    :class:`~sim.control.TunnelController` agent (none when the scenario has no tunnel).

    ``check_invariants`` (on by default) checks every step that no two vehicles overlap and, with
    a tunnel, the convoy invariants (no bicycle in a tube without its lead car ahead and its
    closing car behind, no motor vehicle in a tube during a convoy phase); the first violation
    stops the run with :class:`~sim.core.errors.InvariantError`.  The time the checks take is
    reported in the summary (``invariants``).
    """

    def __init__(self, scenario: TrafficScenario, plan_name: str | None = None, seed: int | None = None,
                 arrays: TrafficArrays | None = None, check_invariants: bool = True):
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
        self.invariant_seconds = 0.0
        self.invariant_checks = 0
        self._net_sample: dict[str, float] = {}
        self._arrived_last = 0
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
        for col in NETWORK_COLUMNS:
            reporters[col] = lambda m, col=col: m._net_sample.get(col)
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
            self._net_sample = self._network_sample()
            self.datacollector.collect(self)
        if self.check_invariants:
            self._check_invariants()

    def _check_invariants(self) -> None:
        t0 = time.perf_counter()
        e = self.engine
        problem = None
        if e.counters[C_OVERLAP] > 0:
            problem = f"{int(e.counters[C_OVERLAP])} overlapping vehicle pair(s) in a lane"
        elif self.controller is not None:
            problem = self.controller.first_violation()
        self.invariant_checks += 1
        self.invariant_seconds += time.perf_counter() - t0
        if problem is not None:
            self.violations.append(f"t={e.t_s:.1f}s: {problem}")
            raise InvariantError(f"plan {self.plan_name!r}: {problem}", e.step_index, e.t_s)

    def _network_sample(self) -> dict[str, float]:
        """The network-wide time-series columns now (see :data:`NETWORK_COLUMNS`)."""
        e, a = self.engine, self.arrays
        n = e.n_trips
        state = e.veh_state[:n]
        driving = np.flatnonzero(state == DRIVING)
        queued = state == QUEUED
        inserted = e.veh_insert_s[:n] >= 0
        out: dict[str, float] = {
            "vehicles_on_network": int(driving.size), "waiting_to_enter": int((queued & ~inserted).sum()),
            "waiting_at_portals": int((queued & inserted).sum()), "arrived": e.arrived,
            "arrivals_per_min": e.arrived - self._arrived_last}
        self._arrived_last = e.arrived
        speed = e.veh_speed[driving] * 3.6
        mode = e.veh_mode[driving]
        for m, label in ((MOTOR, "motor"), (BIKE, "bike")):
            sel = mode == m
            out[f"mean_speed_kph_{label}"] = round(float(speed[sel].mean()), 2) if sel.any() else None
        motor = driving[mode == MOTOR]
        cls = a.edge_class[e.veh_edge[motor]]
        sums = np.bincount(cls, weights=e.veh_speed[motor] * 3.6, minlength=len(ROAD_CLASSES))
        counts = np.bincount(cls, minlength=len(ROAD_CLASSES))
        for k, name in enumerate(ROAD_CLASSES):
            out[f"mean_speed_kph_{name}"] = round(float(sums[k] / counts[k]), 2) if counts[k] else None
        return out

    def run(self, progress: bool = False, callback=None) -> dict:
        """Run to the scenario's end; returns the plan's summary (see :meth:`run` of CityModel)."""
        self.wall_seconds = run_steps(self, f"{self.scenario.name} [{self.plan_name}]", progress, callback,
                                       lambda: self.engine.inside)
        if self.check_invariants:
            overlaps = self.engine.overlaps()           # the state after the last step
            if overlaps:
                raise InvariantError(f"plan {self.plan_name!r}: {overlaps} overlapping vehicle pair(s) in a lane",
                                     self.engine.step_index, self.engine.t_s)
        if self.controller is not None:
            self.controller.finish(self.engine.t_s)
        return self.summary()

    def summary(self) -> dict:
        return traffic_plan_summary(self)

    def timeseries_rows(self) -> list[dict]:
        """One row per minute (and per portal, when there is a tunnel): phase, queues per mode and
        vehicles through the tube so far, then the network-wide columns (vehicles on the network and
        waiting, arrivals, mean speeds per mode and road class)."""
        df = self.datacollector.get_model_vars_dataframe()
        rows = []
        for _, rec in df.iterrows():
            network = {col: rec[col] for col in NETWORK_COLUMNS}
            network = {k: (None if v is None or (isinstance(v, float) and np.isnan(v)) else v)
                       for k, v in network.items()}
            base = {"plan": self.plan_name, "minute": round(float(rec["minute"]), 3), "phase": rec["phase"]}
            if not self.arrays.tubes:
                rows.append({**base, "portal": "", **{c: "" for c in PORTAL_COLUMNS}, **network})
            for g, tube in enumerate(self.arrays.tubes):
                rows.append({
                    **base, "portal": tube.portal_label,
                    "motor_queue_vehicles": int(rec[f"{g}.motor_queue_vehicles"]),
                    "motor_queue_m": round(float(rec[f"{g}.motor_queue_m"]), 1),
                    "bike_queue": int(rec[f"{g}.bike_queue"]),
                    "bike_queue_m": round(float(rec[f"{g}.bike_queue_m"]), 1),
                    "motor_through": int(rec[f"{g}.motor_through"]), "bike_through": int(rec[f"{g}.bike_through"]),
                    **network,
                })
        return rows

    def network_series(self) -> dict:
        """The network-wide columns as arrays (for plots)."""
        df = self.datacollector.get_model_vars_dataframe()
        return {"minute": df["minute"].to_numpy(dtype=float),
                **{c: df[c].to_numpy(dtype=float, na_value=np.nan) if c in df else np.zeros(0) for c in NETWORK_COLUMNS}}


class PlanComparison:
    """Every phase plan of a traffic scenario (or the ``plans`` named), run on the same trips and
    the same seed, one :class:`TrafficModel` each."""

    TIMESERIES_COLUMNS = TIMESERIES_COLUMNS

    def __init__(self, scenario: TrafficScenario, seed: int | None = None, plans: list[str] | None = None,
                 arrays: TrafficArrays | None = None, check_invariants: bool = True):
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
            "trips_redrawn_same_place": int(a.trips_redrawn),
            "notes": list(a.notes),
            "vehicles_conserved": all(p["vehicles_conserved"] for p in plans.values()),
            "places": a.places,
            "map_defaults": _map_defaults_summary(a.road.network),
            "plans": plans,
        }

    def timeseries_rows(self) -> list[dict]:
        return [row for model in self.models.values() for row in model.timeseries_rows()]

    def write_plots(self, folder) -> list:
        """``network.png`` for every scenario; with a tunnel also ``portal_queues.png`` and
        ``plan_comparison.png``."""
        from .plots import plot_network_series, plot_plan_comparison, plot_portal_queues
        out = [plot_network_series(self, folder / "network.png")]
        if self.arrays.tubes:
            out += [plot_portal_queues(self, folder / "portal_queues.png"),
                    plot_plan_comparison(self, folder / "plan_comparison.png")]
        return out


def _map_defaults_summary(net) -> dict | None:
    report = net.report
    if report is None:
        return None
    return {"profile": report.profile, "picked_by": report.profile_picked_by,
            "overridden": list(report.overridden),
            "share_on_defaults": {k: v["share"] for k, v in report.on_defaults.items()}}
