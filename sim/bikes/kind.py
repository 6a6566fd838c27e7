"""The bikes scenario kind, as the registry (:mod:`sim.kinds`) sees it."""

from __future__ import annotations

from ..core.registry import ScenarioKind
from .compile import compile_bikes
from .kpis import flatten_kpis, format_table, kpi_columns
from .schema import BikeScenario

__all__ = ["KIND"]


def _build_run(scenario: BikeScenario, seed: int | None = None, plans=None):
    from .model import BikePlanComparison

    return BikePlanComparison(scenario, seed=seed, plans=list(plans) if plans else None)


def _describe(scenario: BikeScenario, run) -> str:
    return (f"{scenario.name}: {run.arrays.pickup_t_s.size:,} bike requests, plans "
            f"{', '.join(run.plan_names)}, steps of {scenario.simulation.dt_s:g} s")


KIND = ScenarioKind(
    name="bikes", schema=BikeScenario, build_run=_build_run, compile_check=compile_bikes,
    describe_run=_describe, format_table=format_table, kpi_columns=kpi_columns, flatten_kpis=flatten_kpis)
