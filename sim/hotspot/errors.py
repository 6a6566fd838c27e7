"""Errors of the hotspot model.

Every error derives from :class:`HotspotError` and also from ``ValueError``, so callers can catch
either.  Messages name the field, show the bad value with ``!r`` and say what was expected.  (These
classes live here until the shared error module of ``sim`` takes them in.)
"""

from __future__ import annotations

__all__ = ["HotspotError", "GeometryError", "ParameterError", "ConservationError"]


class HotspotError(ValueError):
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


class ConservationError(HotspotError):
    """People were created or lost: inserted != inside + removed, or an agent id is duplicated."""
