"""Trajectory recording and a text writer PedPy's ``load_trajectory`` reads.

Format (PedPy ``load_trajectory_from_txt``, JuPedSim's classic txt output): comment lines start with
``#``; one of them holds ``framerate`` followed by the frames per second, another says the unit
(``x/m``); then whitespace-separated rows ``id frame x y z`` with integer id and frame.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import ParameterError

if TYPE_CHECKING:
    from .engine import HotspotSim

__all__ = ["TrajectoryRecorder", "write_pedpy_txt", "read_pedpy_txt"]


class TrajectoryRecorder:
    """Keeps (id, x, y) of everyone inside every ``every_steps`` steps of a run stepped at ``dt_s``."""

    def __init__(self, dt_s: float, every_steps: int = 1):
        if not (isinstance(every_steps, int) and every_steps >= 1):
            raise ParameterError(f"every_steps: expected an integer >= 1, got {every_steps!r}")
        if not dt_s > 0:
            raise ParameterError(f"dt_s: expected a positive step, got {dt_s!r}")
        self.every_steps = every_steps
        self.frame_rate_hz = 1.0 / (dt_s * every_steps)
        self._rows: list[np.ndarray] = []
        self.n_frames = 0

    def record(self, step_count: int, agent_id: np.ndarray, x_m: np.ndarray, y_m: np.ndarray) -> bool:
        """Store a frame if ``step_count`` is a multiple of ``every_steps``; returns whether it did."""
        if step_count % self.every_steps:
            return False
        frame = step_count // self.every_steps
        rows = np.empty((len(agent_id), 4))
        rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3] = agent_id, frame, x_m, y_m
        self._rows.append(rows)
        self.n_frames += 1
        return True

    def record_sim(self, sim: "HotspotSim") -> bool:
        """:meth:`record` from a :class:`~.engine.HotspotSim` (its step count and agents inside)."""
        n, a = sim.n, sim.a
        return self.record(sim.step_count, a.agent_id[:n], a.x_m[:n], a.y_m[:n])

    def table(self) -> np.ndarray:
        """All rows (id, frame, x, y), by frame then id."""
        if not self._rows:
            return np.zeros((0, 4))
        rows = np.concatenate(self._rows)
        return rows[np.lexsort((rows[:, 0], rows[:, 1]))]

    def write(self, path: str | Path, *, description: str = "citytwin hotspot model") -> Path:
        return write_pedpy_txt(path, self.table(), self.frame_rate_hz, description=description)


def write_pedpy_txt(path: str | Path, rows: np.ndarray, frame_rate_hz: float, *,
                    description: str = "citytwin hotspot model") -> Path:
    """Write rows (id, frame, x, y) with z = 0 as PedPy/JuPedSim text trajectories."""
    rows = np.asarray(rows, dtype=float).reshape(-1, 4)
    if not frame_rate_hz > 0:
        raise ParameterError(f"frame_rate_hz: expected a positive rate, got {frame_rate_hz!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = (f"#description: {description}\n"
              f"#framerate: {frame_rate_hz:.10g}\n"
              "#unit: x/m, y/m, z/m (positions in metres)\n"
              "#ID: the agent ID\n#FR: the current frame\n#X,Y,Z: the agent coordinates (in metres)\n"
              "#ID\tFR\tX\tY\tZ\n")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(header)
        for r in rows:
            fh.write(f"{int(r[0])}\t{int(r[1])}\t{r[2]:.4f}\t{r[3]:.4f}\t0.0000\n")
    return path


def read_pedpy_txt(path: str | Path) -> tuple[float, np.ndarray]:
    """(frame rate, rows id/frame/x/y) read back the way PedPy does (comments skipped, first number
    on the ``framerate`` line)."""
    rate = None
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.startswith("#"):
                break
            if "framerate" in line and rate is None:
                for token in line.replace(":", " ").split():
                    try:
                        rate = float(token)
                        break
                    except ValueError:
                        continue
    rows = np.loadtxt(path, comments="#", ndmin=2)
    if rate is None:
        raise ParameterError(f"path: no framerate line in {str(path)!r}")
    return rate, rows[:, :4]
