"""Errors of the hotspot model.

Every error derives from :class:`HotspotError`, which is a :class:`sim.core.errors.SimError` (a clean
error at the command line, exit 2) and a ``ValueError``; :class:`ConservationError` is also the shared
:class:`sim.core.errors.ConservationError` (the run stops, exit 3).  Messages name the field, show the
bad value with ``!r`` and say what was expected.
"""

from __future__ import annotations

import math

from ..core.errors import ConservationError as _SharedConservationError
from ..core.errors import SimError

__all__ = ["HotspotError", "GeometryError", "ParameterError", "ConservationError"]


class HotspotError(SimError, ValueError):
    """Base class of every error the hotspot model raises."""


class GeometryError(HotspotError):
    """A walkable area, a goal segment, a stair or a position is unusable.

    ``problems`` lists every problem found, each as ``"field: message"``.
    """

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"invalid hotspot geometry: {len(self.problems)} problem(s)\n{lines}")


class ParameterError(HotspotError):
    """A model parameter or an agent attribute is out of its range."""


class ConservationError(HotspotError, _SharedConservationError):
    """People were created or lost: inserted != inside + removed, or an agent id is duplicated."""

    def __init__(self, message: str):
        self.what, self.step, self.t_s, self.details = "hotspot agents", -1, math.nan, {}
        Exception.__init__(self, message)
