"""What a scenario kind provides, so the layers above (kinds registry, studies, CLI, app) never
switch on a kind's name.

A kind is one case package (``sim/crowd``, ``sim/traffic``, ``sim/bikes``) plus one line in
:data:`sim.kinds.KINDS`.  Each package defines its :class:`ScenarioKind` in its ``kind.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .schema import ScenarioBase

__all__ = ["ScenarioKind", "RiskColumn"]

#: A column of the short table printed after a sweep: (heading, risk.csv column, format).
RiskColumn = tuple[str, str, str]


@dataclass(frozen=True)
class ScenarioKind:
    """One scenario kind: its schema, how to compile and run it, and how to report it.

    ``build_run(scenario, seed, plans)`` compiles the scenario against its map (every map check
    happens here, before any output) and returns an object with ``run(progress, callback)``,
    ``summary()``, ``timeseries_rows()``, ``TIMESERIES_COLUMNS`` and ``write_plots(folder)``.
    """

    name: str
    schema: type[ScenarioBase]
    build_run: Callable[[Any, int | None, Sequence[str] | None], Any]
    compile_check: Callable[[Any], None]
    describe_run: Callable[[Any, Any], str]               # (scenario, run) -> one line before a run
    format_table: Callable[[dict], str]                   # summary -> the KPI table after a run
    kpi_columns: Callable[[Any], list[str]]               # scenario -> flat KPI columns of a sweep
    flatten_kpis: Callable[[dict], dict[str, Any]]        # summary -> flat KPI values
    risk_flags: Callable[[list[dict], list[str]], dict[str, list[bool]]] = field(
        default=lambda rows, kpis: {})                    # (ok rows, kpi columns) -> per-run yes/no risks
    risk_table: Callable[[Any], list[RiskColumn]] = field(default=lambda scenario: [])
