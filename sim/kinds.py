"""The registry of scenario kinds: which case package runs a scenario file.

Adding a kind: write its package (schema, compile, kernels, engine, controllers, model, KPIs, plots
and a ``kind.py`` defining ``KIND``), then add one line to :data:`KINDS`.  Everything above this
module (studies, CLI, app) reaches a case only through its :class:`~sim.core.registry.ScenarioKind`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .bikes.kind import KIND as BIKES
from .bikes.schema import BikeScenario
from .core.errors import ScenarioError
from .core.registry import ScenarioKind
from .core.schema import read_scenario_data, validate_as
from .crowd.kind import KIND as CROWD
from .crowd.schema import CrowdScenario
from .hotspot.kind import KIND as HOTSPOT
from .hotspot.schema import HotspotScenario
from .traffic.kind import KIND as TRAFFIC
from .traffic.schema import TrafficScenario

__all__ = ["KINDS", "AnyScenario", "kind_of", "scenario_from_dict", "load_scenario", "build_run", "run_scenario"]

#: Every scenario kind, by the value of a scenario file's ``kind`` key (``crowd`` when absent).
KINDS: dict[str, ScenarioKind] = {k.name: k for k in (CROWD, TRAFFIC, BIKES, HOTSPOT)}
DEFAULT_KIND = "crowd"

AnyScenario = CrowdScenario | TrafficScenario | BikeScenario | HotspotScenario


def kind_of(scenario: Any) -> ScenarioKind:
    """The registry entry of a validated scenario."""
    return KINDS[scenario.kind]


def scenario_from_dict(data: dict[str, Any], source: str = "<dict>") -> AnyScenario:
    """Validate plain data as a scenario of its ``kind``; raises :class:`ScenarioError` listing every
    problem."""
    kind = data.get("kind", DEFAULT_KIND)
    entry = KINDS.get(kind) if isinstance(kind, str) else None
    if entry is None:
        known = ", ".join(repr(k) for k in KINDS)
        raise ScenarioError(source, [f"kind: {kind!r} is not a scenario kind; use one of {known}"])
    return validate_as(entry.schema, data, source)


def load_scenario(path: str | Path, overrides: list[str] | None = None) -> AnyScenario:
    """Read, override and validate a scenario file (schema only; the map checks happen when the
    run is built, see :func:`build_run`)."""
    return scenario_from_dict(read_scenario_data(path, overrides), str(path))


def build_run(scenario: AnyScenario, seed: int | None = None, plans: list[str] | None = None):
    """The runnable object for a scenario of any kind (compiles it: every map check happens here)."""
    return kind_of(scenario).build_run(scenario, seed, plans)


def run_scenario(scenario: AnyScenario, seed: int | None = None, progress: bool = False, callback=None):
    """Build and run a scenario of any kind; returns the run object (``.summary()`` etc.)."""
    run = build_run(scenario, seed=seed)
    run.run(progress=progress, callback=callback)
    return run
