"""The traffic scenario kind, as the registry (:mod:`sim.kinds`) sees it."""

from __future__ import annotations

from ..core.registry import ScenarioKind
from .compile import compile_traffic
from .kpis import flatten_kpis, format_table, kpi_columns, risk_table
from .schema import TrafficScenario

__all__ = ["KIND"]


def _build_run(scenario: TrafficScenario, seed: int | None = None, plans=None):
    from .model import PlanComparison

    return PlanComparison(scenario, seed=seed, plans=list(plans) if plans else None)


def _describe(scenario: TrafficScenario, run) -> str:
    return (f"{scenario.name}: {run.arrays.trip_depart_s.size:,} trips, plans "
            f"{', '.join(str(p) for p in run.plan_names)}, steps of {scenario.simulation.dt_s:g} s")


KIND = ScenarioKind(
    name="traffic", schema=TrafficScenario, build_run=_build_run, compile_check=compile_traffic,
    describe_run=_describe, format_table=format_table, kpi_columns=kpi_columns, flatten_kpis=flatten_kpis,
    risk_table=risk_table)
