"""The crowd scenario kind, as the registry (:mod:`sim.kinds`) sees it."""

from __future__ import annotations

from ..core.errors import SimError
from ..core.registry import ScenarioKind
from .compile import compile_crowd
from .kpis import flatten_kpis, format_table, kpi_columns, risk_flags, risk_table
from .schema import CrowdScenario

__all__ = ["KIND"]


def _build_run(scenario: CrowdScenario, seed: int | None = None, plans=None):
    from .model import CrowdModel

    if plans:
        raise SimError("--plan applies to scenarios with plans (traffic, bikes), not to crowd scenarios")
    return CrowdModel(scenario, seed=seed)


def _describe(scenario: CrowdScenario, run) -> str:
    return (f"{scenario.name}: {run.engine.n_agents:,} people, {run.n_steps:,} steps of "
            f"{scenario.simulation.dt_s:g} s")


KIND = ScenarioKind(
    name="crowd", schema=CrowdScenario, build_run=_build_run, compile_check=compile_crowd,
    describe_run=_describe, format_table=format_table, kpi_columns=kpi_columns, flatten_kpis=flatten_kpis,
    risk_flags=risk_flags, risk_table=risk_table)
