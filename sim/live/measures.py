"""Crowd-management measures a what-if forecast can take "now", and the registry they plug into.

A measure is a small frozen object with a ``name`` (unique, ``kind:place``), a ``label`` in words and
:meth:`Measure.apply`, which changes a *copy* of a member's model at the start of a what-if forecast
(through the model's controllers and :mod:`sim.crowd.state`) and says whether it applies at that
time.  Each kind lists the measures a scenario offers (:meth:`Measure.offered`).  A new kind of
measure plugs in with :func:`register_measure`::

    @register_measure
    @dataclass(frozen=True)
    class MeterZone(Measure):
        kind: ClassVar[str] = "meter_zone"
        zone: str
        ...

The twin forecasts every measure the scenario offers, or those ``[live] measures`` names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..core.errors import ScenarioError
from ..crowd.controllers import ZoneGate
from ..crowd.schema import CrowdScenario
from ..crowd.state import rescale_future_demand

__all__ = ["Measure", "CloseZone", "StartRelease", "CloseSource", "MEASURE_KINDS", "register_measure",
           "offered_measures", "select_measures"]


class Measure:
    """A measure taken now, in a what-if forecast (subclasses are frozen dataclasses)."""

    kind: ClassVar[str] = ""

    @property
    def name(self) -> str:
        raise NotImplementedError

    @property
    def label(self) -> str:
        raise NotImplementedError

    def apply(self, model) -> bool:
        """Take the measure in ``model`` (a copy) now; False when it does not apply at this time."""
        raise NotImplementedError

    @classmethod
    def offered(cls, scenario: CrowdScenario) -> list["Measure"]:
        """The measures of this kind the scenario offers."""
        raise NotImplementedError


#: Every kind of measure, by its ``kind``.
MEASURE_KINDS: dict[str, type[Measure]] = {}


def register_measure(cls: type[Measure]) -> type[Measure]:
    """Add a kind of measure to :data:`MEASURE_KINDS` (a class decorator)."""
    if not cls.kind or cls.kind in MEASURE_KINDS:
        raise ValueError(f"measure kind {cls.kind!r} is empty or registered twice")
    MEASURE_KINDS[cls.kind] = cls
    return cls


@register_measure
@dataclass(frozen=True)
class CloseZone(Measure):
    """Close every gate of a zone now and keep them closed (people queue at them, or go elsewhere)."""

    kind: ClassVar[str] = "close_zone"
    zone: str

    @property
    def name(self) -> str:
        return f"close_zone:{self.zone}"

    @property
    def label(self) -> str:
        return f"close the gates of {self.zone}"

    def apply(self, model) -> bool:
        gate = model.gates.get(self.zone)
        if gate is None:
            z = list(model.engine.arrays.zone_names).index(self.zone)
            gate = ZoneGate(model, z, self.zone, 0, -1)
            model.gates[self.zone] = gate
        gate.cap, gate.reopen_at = 0, -1          # closes at once, never reopens
        return True

    @classmethod
    def offered(cls, scenario: CrowdScenario) -> list[Measure]:
        return [cls(zone) for zone in scenario.zones]


@register_measure
@dataclass(frozen=True)
class StartRelease(Measure):
    """End the show now: arrivals stop (people on their way turn home) and the release groups leave
    as the scenario's release says, starting now."""

    kind: ClassVar[str] = "start_release"

    @property
    def name(self) -> str:
        return "start_release"

    @property
    def label(self) -> str:
        return "start the release now"

    def apply(self, model) -> bool:
        show = model.show
        t = model.engine.t_s
        if show is None or t >= show.end_s:
            return False
        shift = show.end_s - t
        show.end_s = t
        show.release_times_s = [float(when) - shift for when in show.release_times_s]
        return True

    @classmethod
    def offered(cls, scenario: CrowdScenario) -> list[Measure]:
        return [cls()] if scenario.show is not None else []


@register_measure
@dataclass(frozen=True)
class CloseSource(Measure):
    """Close a source now (a metro station whose trains pass through, a closed street entry): nobody
    more arrives from it."""

    kind: ClassVar[str] = "close_source"
    source: str

    @property
    def name(self) -> str:
        return f"close_source:{self.source}"

    @property
    def label(self) -> str:
        return f"close {self.source}"

    def apply(self, model) -> bool:
        engine = model.engine
        if engine.arrivals_over or engine.n_active >= engine.n_agents:
            return False
        names = list(engine.arrays.source_names)
        factors = np.ones(len(names))
        factors[names.index(self.source)] = 0.0
        rescale_future_demand(engine, factors, model.rng)
        return True

    @classmethod
    def offered(cls, scenario: CrowdScenario) -> list[Measure]:
        return [cls(source.name) for source in scenario.sources]


def offered_measures(scenario: CrowdScenario) -> list[Measure]:
    """Every measure the scenario offers, kind by kind (in :data:`MEASURE_KINDS` order)."""
    return [m for cls in MEASURE_KINDS.values() for m in cls.offered(scenario)]


def select_measures(scenario: CrowdScenario) -> list[Measure]:
    """The measures the twin forecasts: ``[live] measures`` by name, or every offered one; unknown
    names raise :class:`ScenarioError` listing what is offered."""
    offered = offered_measures(scenario)
    wanted = scenario.live.measures
    if wanted is None:
        return offered
    by_name = {m.name: m for m in offered}
    bad = [name for name in wanted if name not in by_name]
    if bad:
        raise ScenarioError(scenario.source_path, [
            f"live.measures: {name!r} is not a measure this scenario offers (offered: {sorted(by_name)!r})"
            for name in bad])
    return [by_name[name] for name in wanted]
