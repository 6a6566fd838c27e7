"""The local-density field of a hotspot over time (the heat map as frames), in memory and on disk.

:class:`~.coupling.NetworkHotspot` keeps a frame of its local-density field (Gaussian estimate, Helbing,
Johansson & Al-Abideen 2007) every ``frame_every_s`` of simulated time.  A run writes them per hotspot
to ``hotspot_NAME_frames.npz`` (NumPy, compressed) with the arrays

* ``t_s`` (frames,): simulated time of each frame, s from the start;
* ``frames`` (frames, ny, nx) float32: local density, p/m2; cell ``[j, i]`` is centred at
  ``x0_m + (i + 0.5) cell_m``, ``y0_m + (j + 0.5) cell_m`` in the area's own frame (x along the
  stairs from the foot apron, y across);
* ``x0_m``, ``y0_m``, ``cell_m``: the grid's lower-left corner and cell size, m.

:func:`load_frames` reads such a file back as :class:`HotspotFrames` (``np.load`` works too).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["HotspotFrames", "frames_of", "save_frames", "frames_npz_bytes", "load_frames", "frames_file_name"]


def frames_file_name(name: str) -> str:
    """The result file of hotspot ``name``'s frames."""
    return f"hotspot_{name}_frames.npz"


@dataclass(frozen=True)
class HotspotFrames:
    """The local density over a hotspot's area at a series of times (see the module docstring)."""

    t_s: np.ndarray         # (frames,) s from the start
    frames: np.ndarray      # (frames, ny, nx) float32 p/m2
    x0_m: float
    y0_m: float
    cell_m: float

    @property
    def extent_m(self) -> tuple[float, float, float, float]:
        """``(x_min, x_max, y_min, y_max)`` of the grid (for ``imshow(..., extent=...)``)."""
        ny, nx = self.frames.shape[1:]
        return (self.x0_m, self.x0_m + nx * self.cell_m, self.y0_m, self.y0_m + ny * self.cell_m)

    def index_at(self, t_s: float) -> int:
        """The frame nearest ``t_s`` (the first one if there is a tie); :class:`ValueError` without frames."""
        if self.t_s.size == 0:
            raise ValueError("no frames: the run was shorter than hotspots.NAME.frame_every_s")
        return int(np.argmin(np.abs(self.t_s - float(t_s))))


def frames_of(h) -> HotspotFrames:
    """The frames a :class:`~.coupling.NetworkHotspot` has kept so far."""
    return HotspotFrames(t_s=h.frames_t_s, frames=h.frames, x0_m=float(h.heat_x0), y0_m=float(h.heat_y0),
                         cell_m=float(h.heat_cell_m))


def _arrays(frames: HotspotFrames) -> dict[str, np.ndarray]:
    return {"t_s": np.asarray(frames.t_s, dtype=np.float64), "frames": np.asarray(frames.frames, dtype=np.float32),
            "x0_m": np.float64(frames.x0_m), "y0_m": np.float64(frames.y0_m), "cell_m": np.float64(frames.cell_m)}


def save_frames(frames: HotspotFrames, path: str | Path) -> Path:
    """Write ``frames`` to ``path`` (``np.savez_compressed``; the keys of the module docstring)."""
    path = Path(path)
    with path.open("wb") as f:
        np.savez_compressed(f, **_arrays(frames))
    return path


def frames_npz_bytes(frames: HotspotFrames) -> bytes:
    """The content :func:`save_frames` writes (for a download)."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **_arrays(frames))
    return buffer.getvalue()


def load_frames(path: str | Path) -> HotspotFrames:
    """Read a ``hotspot_NAME_frames.npz``; :class:`ValueError` names what is missing or malformed."""
    with np.load(Path(path), allow_pickle=False) as data:
        missing = [k for k in ("t_s", "frames", "x0_m", "y0_m", "cell_m") if k not in data.files]
        if missing:
            raise ValueError(f"{path}: not a hotspot frames file: no {', '.join(missing)} "
                             f"(expected t_s, frames, x0_m, y0_m, cell_m as a run writes them)")
        t_s, frames = np.asarray(data["t_s"], dtype=np.float64), np.asarray(data["frames"], dtype=np.float32)
        out = HotspotFrames(t_s=t_s, frames=frames, x0_m=float(data["x0_m"]), y0_m=float(data["y0_m"]),
                            cell_m=float(data["cell_m"]))
    if frames.ndim != 3 or frames.shape[0] != t_s.size:
        raise ValueError(f"{path}: frames has shape {frames.shape!r}, expected ({t_s.size}, ny, nx) "
                         f"(one per time in t_s)")
    return out
