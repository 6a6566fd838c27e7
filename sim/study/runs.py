"""Runs kept as plain, picklable results (so the app can cache them): a crowd run with the series
the comparison plots draw, a traffic or bike plan comparison.  Each goes through the same models
``citytwin run`` builds, so a result here is the result the CLI gives for the same scenario and seed
(its summary carries the same ``provenance`` block, :func:`sim.core.results.provenance`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..bikes.schema import BikeScenario
from ..core.results import provenance, scenario_json, summary_json, timeseries_csv
from ..crowd.schema import CrowdScenario
from ..traffic.schema import TrafficScenario

__all__ = ["CrowdResult", "run_crowd", "TrafficResult", "run_plans", "BikeResult", "run_bike_plans", "Callback"]

Callback = Callable[[float], None] | None


@dataclass(frozen=True)
class CrowdResult:
    """One crowd run: its summary and time series (as ``citytwin run`` writes them) plus the
    series the comparison plots draw."""

    label: str
    summary: dict
    timeseries: list[dict]
    scenario: dict                      # the scenario as run (scenario.json)
    zone_names: tuple[str, ...]
    dt_s: float
    occupancy: np.ndarray               # (steps, zones) people
    max_density: np.ndarray             # (steps, zones) densest cell of each zone, p/m2
    gate_queue: np.ndarray              # (steps, zones) people waiting at the zone's gates
    los_thresholds_ppm2: np.ndarray     # density at which LOS B..F begin (rain-adjusted)
    show_start_s: float
    show_end_s: float
    cell_peak_density: np.ndarray       # (cells,) p/m2
    cell_density_t_s: np.ndarray        # (snapshots,) time of each density snapshot
    cell_density: np.ndarray            # (snapshots, cells) float32 p/m2
    timeseries_columns: list[str] = field(default_factory=list)
    start_clock: str | None = None      # clock time at t = 0 ("HH:MM") where the scenario gives it
    gate_events: tuple = ()             # (t_s, zone, open after) at each gate closing and reopening
    places_geojson: str = ""            # places.geojson as citytwin run writes it

    def density_at(self, minute: float) -> np.ndarray:
        """Every cell's density at the snapshot nearest ``minute`` (zeros before the first)."""
        if self.cell_density_t_s.size == 0:
            return np.zeros_like(self.cell_peak_density)
        k = int(np.argmin(np.abs(self.cell_density_t_s - minute * 60.0)))
        return self.cell_density[k]

    def files(self) -> dict[str, str]:
        """``summary.json``, ``timeseries.csv``, ``scenario.json`` and ``places.geojson`` as ``citytwin run``
        writes them."""
        files = _files(self.summary, self.timeseries, self.timeseries_columns, self.scenario)
        if self.places_geojson:
            files["places.geojson"] = self.places_geojson
        return files


def _files(summary: dict, rows: list[dict], columns: list[str], scenario: dict) -> dict[str, str]:
    return {"summary.json": summary_json(summary), "timeseries.csv": timeseries_csv(rows, columns),
            "scenario.json": scenario_json(scenario)}


def run_crowd(scenario: CrowdScenario, seed: int | None = None, label: str = "", callback: Callback = None,
              arrays=None, snapshot_every_s: float = 60.0) -> CrowdResult:
    """Run a crowd scenario (``callback(fraction_done)`` once a simulated minute) and keep its
    results, with a snapshot of every cell's density every ``snapshot_every_s`` simulated seconds.
    ``arrays``: the scenario's compiled :class:`~sim.crowd.CrowdArrays`, when already at hand."""
    from ..crowd.geojson import places_geojson_text
    from ..crowd.model import CrowdModel
    from ..crowd.plots import start_clock_of

    model = CrowdModel(scenario, seed=seed, arrays=arrays)
    rec = model.recorder
    rec.keep_cell_density(max(1, int(round(snapshot_every_s / model.engine.arrays.dt_s))))
    summary = {**model.run(callback=callback), "provenance": provenance(scenario, model.seed_value)}
    a = model.engine.arrays
    return CrowdResult(
        label=label or scenario.name, summary=summary, timeseries=model.timeseries_rows(),
        scenario=scenario.to_dict(), zone_names=tuple(a.zone_names), dt_s=float(a.dt_s),
        occupancy=rec.occupancy[: rec.n].copy(), max_density=rec.max_density[: rec.n].copy(),
        gate_queue=rec.gate_queue[: rec.n].copy(), los_thresholds_ppm2=np.asarray(a.los_thresholds_ppm2).copy(),
        show_start_s=float(scenario.show.start_s), show_end_s=float(scenario.show.end_s),
        cell_peak_density=rec.cell_peak_density.copy(),
        cell_density_t_s=rec.cell_density_t_s[: rec.n_cell_snapshots].copy(),
        cell_density=rec.cell_density[: rec.n_cell_snapshots].copy(),
        timeseries_columns=list(model.TIMESERIES_COLUMNS), start_clock=start_clock_of(scenario),
        gate_events=tuple(getattr(model, "gate_events", ())),
        places_geojson=places_geojson_text(a.walk, a.places, summary))


@dataclass(frozen=True)
class TrafficResult:
    """A plan comparison of a traffic scenario: its summary and time series (as ``citytwin run``
    writes them) and, per plan, the portal queue series with its phases
    (:func:`sim.plots.portal_series`)."""

    summary: dict
    timeseries: list[dict]
    scenario: dict
    start_clock: str
    duration_s: float
    series: dict[str, dict]
    timeseries_columns: list[str] = field(default_factory=list)

    def files(self) -> dict[str, str]:
        return _files(self.summary, self.timeseries, self.timeseries_columns, self.scenario)


def run_plans(scenario: TrafficScenario, seed: int | None = None, plans: Sequence[str] | None = None,
              arrays=None, callback: Callback = None) -> TrafficResult:
    """Run the phase plans of a traffic scenario on the same trips (all plans by default);
    ``arrays``: compiled :class:`~sim.traffic.TrafficArrays` for this scenario and seed."""
    from ..traffic.model import PlanComparison
    from ..traffic.plots import portal_series

    study = PlanComparison(scenario, seed=seed, plans=list(plans) if plans else None, arrays=arrays)
    summary = {**study.run(callback=callback),
               "provenance": provenance(scenario, study.seed_value, plans=[p for p in study.plan_names if p])}
    return TrafficResult(
        summary=summary, timeseries=study.timeseries_rows(), scenario=scenario.to_dict(),
        start_clock=scenario.simulation.start_clock, duration_s=float(scenario.simulation.duration_s),
        series={name: portal_series(model) for name, model in study.models.items()},
        timeseries_columns=list(study.TIMESERIES_COLUMNS))


@dataclass(frozen=True)
class BikeResult:
    """A plan comparison of a bikes scenario: its summary and time series (as ``citytwin run``
    writes them), the stock of every pool over time per plan (:func:`sim.plots.pool_stock_series`)
    and where the pools are (metres, the map's projection), for the map."""

    summary: dict
    timeseries: list[dict]
    scenario: dict
    start_clock: str
    duration_s: float
    pool_names: tuple[str, ...]
    pool_xy_m: np.ndarray               # (pools, 2) position of each pool's exit
    pool_covered: tuple[bool, ...]      # pool under cover
    stock: dict[str, dict]              # plan -> {"minute", "stock" (samples, pools), "in_vans"}
    timeseries_columns: list[str] = field(default_factory=list)

    def files(self) -> dict[str, str]:
        return _files(self.summary, self.timeseries, self.timeseries_columns, self.scenario)


def run_bike_plans(scenario: BikeScenario, seed: int | None = None, plans: Sequence[str] | None = None,
                   arrays=None, callback: Callback = None) -> BikeResult:
    """Run the redistribution plans of a bikes scenario on the same evening (all plans by default);
    ``arrays``: the scenario compiled by :func:`sim.bikes.compile_bikes` with the same seed."""
    from ..bikes.model import BikePlanComparison
    from ..bikes.plots import pool_stock_series

    study = BikePlanComparison(scenario, seed=seed, plans=list(plans) if plans else None, arrays=arrays)
    summary = {**study.run(callback=callback),
               "provenance": provenance(scenario, study.seed_value, plans=study.plan_names)}
    a = study.arrays
    net = a.walk.network
    pool_nodes = a.exit_nodes[a.pool_exit]
    return BikeResult(
        summary=summary, timeseries=study.timeseries_rows(), scenario=scenario.to_dict(),
        start_clock=scenario.simulation.start_clock, duration_s=float(scenario.simulation.duration_s),
        pool_names=tuple(a.pool_names),
        pool_xy_m=np.column_stack([net.node_x_m[pool_nodes], net.node_y_m[pool_nodes]]).astype(float),
        pool_covered=tuple(bool(scenario.pools[name].covered) for name in a.pool_names),
        stock={name: pool_stock_series(model) for name, model in study.models.items()},
        timeseries_columns=list(study.TIMESERIES_COLUMNS))
