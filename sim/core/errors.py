"""One error hierarchy for citytwin.

Every error the library raises on bad input derives from :class:`SimError`, and also from the
built-in class a Python user would expect (``ValueError``, ``FileNotFoundError``), so callers can
catch either.  Messages name the field, show the bad value with ``!r`` and say what was expected.
Only the CLI's ``main`` turns these into exit codes.
"""

from __future__ import annotations

__all__ = ["SimError", "MapError", "ScenarioError", "CliError", "ConservationError", "OutputError",
           "ResourceError"]


class SimError(Exception):
    """Base class of every citytwin error raised on bad input or an impossible request."""


class MapError(SimError, ValueError):
    """A map file cannot be read, or holds no usable network."""


class ScenarioError(SimError, ValueError):
    """A scenario file (or a ``--set`` override) is invalid.

    ``problems`` lists every problem found, each as ``"field: message"``.
    """

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"invalid scenario {source}: {len(self.problems)} problem(s)\n{lines}")


class CliError(SimError, ValueError):
    """A command-line flag is invalid."""


class ConservationError(SimError, RuntimeError):
    """An independent recount of a population disagrees with the engine's running counts: someone
    was lost or counted twice.  The run stops; its message names the step and the counts."""

    def __init__(self, what: str, step: int, t_s: float, details: dict):
        self.what, self.step, self.t_s, self.details = what, step, t_s, dict(details)
        parts = ", ".join(f"{k}={v!r}" for k, v in details.items())
        super().__init__(f"{what} not conserved at step {step} (t={t_s:.1f} s): {parts}")


class OutputError(SimError, OSError):
    """A results folder cannot be written (not writable, not a folder, holds other files).  Raised
    before the run, so no time is spent on a run whose results could not be kept."""


class ResourceError(SimError, MemoryError):
    """A request needs more memory than is available; refused before the run with the estimate."""


class InvariantError(SimError, RuntimeError):
    """A safety invariant of a run broke (a bicycle in a tunnel tube without its escort, a motor
    vehicle in a tube during a convoy, two vehicles overlapping).  The run stops at the first
    violation; its message names the time, the step and what broke."""

    def __init__(self, what: str, step: int, t_s: float):
        self.what, self.step, self.t_s = what, step, t_s
        super().__init__(f"safety invariant broken at step {step} (t={t_s:.1f} s): {what}")
