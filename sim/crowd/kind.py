"""The crowd scenario kind, as the registry (:mod:`sim.kinds`) sees it."""

from __future__ import annotations

from ..core.errors import SimError
from ..core.registry import ScenarioKind
from ..core.schema import apply_overrides, validate_as
from .compile import compile_crowd
from .kpis import flatten_kpis, format_table, kpi_columns, risk_flags, risk_table
from .schema import CrowdScenario

__all__ = ["KIND"]


def with_plans(scenario: CrowdScenario, plans: list[str]) -> CrowdScenario:
    """The scenario with the measures of its ``[plans.NAME]`` tables applied, in the order given;
    raises :class:`SimError` naming an unknown plan and the known ones."""
    unknown = [p for p in plans if p not in scenario.plans]
    if unknown:
        known = ", ".join(scenario.plans) or "none"
        raise SimError(f"--plan: no plan {', '.join(map(repr, unknown))} in {scenario.source_path or 'the scenario'} "
                       f"(its [plans.NAME] tables: {known})")
    data = scenario.to_dict()
    data = apply_overrides(data, [s for p in plans for s in scenario.plans[p].set])
    return validate_as(CrowdScenario, data, scenario.source_path or "<scenario>")


def _build_run(scenario: CrowdScenario, seed: int | None = None, plans=None):
    from .model import CrowdModel

    plans = [p for p in plans or [] if p]
    if plans:
        scenario = with_plans(scenario, plans)
    run = CrowdModel(scenario, seed=seed)
    run.plan_names = plans
    return run


def _describe(scenario: CrowdScenario, run) -> str:
    return (f"{scenario.name}: {run.engine.n_agents:,} people, {run.n_steps:,} steps of "
            f"{scenario.simulation.dt_s:g} s")


KIND = ScenarioKind(
    name="crowd", schema=CrowdScenario, build_run=_build_run, compile_check=compile_crowd,
    describe_run=_describe, format_table=format_table, kpi_columns=kpi_columns, flatten_kpis=flatten_kpis,
    risk_flags=risk_flags, risk_table=risk_table)
