"""Model parameters of the hotspot model and the free-speed distribution.

Repulsion defaults are JuPedSim's ``CollisionFreeSpeedModel`` ones (strength 8 / range 0.1 m for
neighbours, strength 5 / range 0.02 m for walls).  The two calibration parameters of the model, the
time gap and the body size, are set to 0.8 s and 0.18 m (JuPedSim: 1 s, 0.2 m): with them the speeds
in a periodic corridor follow Weidmann's fundamental diagram within 0.11 m/s at 1-4 p/m2, where
JuPedSim's values run 0.14-0.18 m/s below it at 2-3 p/m2 (docs/hotspot.md has the scan).  The step
defaults to 0.05 s (JuPedSim: 0.01 s); the speed rule needs dt below the time gap.  Free speeds follow
Weidmann (1993): mean 1.34 m/s, standard deviation 0.26 m/s, truncated symmetrically so that the mean
is kept.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from .errors import ParameterError

__all__ = [
    "CsmParameters", "draw_free_speeds",
    "WEIDMANN_MEAN_MPS", "WEIDMANN_SD_MPS", "FRUIN_UP_MPS", "FRUIN_DOWN_MPS", "MAX_FREE_SPEED_MPS",
]

WEIDMANN_MEAN_MPS = 1.34          # Weidmann (1993): free walking speed on the level
WEIDMANN_SD_MPS = 0.26
FRUIN_UP_MPS = (0.49, 0.67)       # Fruin (1971) via BSI PD 7974-6: stair speeds up, slowest to fastest group
FRUIN_DOWN_MPS = (0.60, 1.01)     # ... and down
MAX_FREE_SPEED_MPS = 3.0          # hard cap on any free speed (sizes the neighbour search)

# Repulsion terms below this weight (the desired direction has weight 1) are dropped: this sets the
# neighbour and wall cut-off distances (JuPedSim uses a fixed 3 m neighbour radius instead).
NEGLIGIBLE_WEIGHT = 1e-3


@dataclass(frozen=True, kw_only=True)
class CsmParameters:
    """Parameters of the collision-free speed model (Tordeux, Chraibi & Seyfried 2016).

    ``CsmParameters.jupedsim_defaults()`` gives JuPedSim's values (time gap 1 s, radius 0.2 m).

    ``speed = min(v0, max(0, spacing / time_gap_s))`` along the direction
    ``e0 + sum_j -a_n exp((r_i + r_j - d_ij) / d_n) e_ij + sum_w -a_w exp((r_i - d_iw) / d_w) e_iw``
    (normalised); ``spacing`` is the gap (centre distance minus both radii) to the closest neighbour
    ahead in a corridor of half-width ``r_i + r_j`` along that direction.
    """

    dt_s: float = 0.05
    time_gap_s: float = 0.8
    radius_m: float = 0.18
    strength_neighbor_repulsion: float = 8.0
    range_neighbor_repulsion_m: float = 0.1
    strength_geometry_repulsion: float = 5.0
    range_geometry_repulsion_m: float = 0.02
    wall_min_distance_ratio: float = 1.0     # centres never come closer to a wall than this x radius
    level_mean_speed_mps: float = WEIDMANN_MEAN_MPS  # population mean the stair factors are relative to
    waypoint_reach_m: float = 0.5            # a way point counts as reached within this distance

    def __post_init__(self) -> None:
        problems = []
        positive = ["dt_s", "time_gap_s", "radius_m", "range_neighbor_repulsion_m",
                    "range_geometry_repulsion_m", "level_mean_speed_mps", "waypoint_reach_m"]
        for name in positive:
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                problems.append(f"{name}: expected a positive finite number, got {value!r}")
        for name in ("strength_neighbor_repulsion", "strength_geometry_repulsion"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                problems.append(f"{name}: expected a finite number >= 0, got {value!r}")
        if not (isinstance(self.wall_min_distance_ratio, (int, float)) and 0 <= self.wall_min_distance_ratio <= 1):
            problems.append(f"wall_min_distance_ratio: expected a number in [0, 1], "
                            f"got {self.wall_min_distance_ratio!r}")
        if not problems and self.dt_s >= self.time_gap_s:
            problems.append(f"dt_s: must be below time_gap_s ({self.time_gap_s!r} s) for the speed rule to stay "
                            f"collision-free, got {self.dt_s!r}")
        if not problems and self.radius_m > 1.0:
            problems.append(f"radius_m: expected at most 1 m, got {self.radius_m!r}")
        if problems:
            raise ParameterError("invalid CsmParameters:\n" + "\n".join(f"  - {p}" for p in problems))

    @classmethod
    def jupedsim_defaults(cls, **overrides) -> "CsmParameters":
        """JuPedSim's CollisionFreeSpeedModel defaults (time gap 1 s, radius 0.2 m, dt 0.01 s)."""
        return cls(**{"time_gap_s": 1.0, "radius_m": 0.2, "dt_s": 0.01, **overrides})

    def neighbor_cutoff_m(self, max_radius_m: float) -> float:
        """Centre distance beyond which a neighbour's repulsion weight is below 1e-3."""
        a = self.strength_neighbor_repulsion
        extra = self.range_neighbor_repulsion_m * math.log(a / NEGLIGIBLE_WEIGHT) if a > NEGLIGIBLE_WEIGHT else 0.0
        return 2.0 * max_radius_m + max(extra, 0.0)

    def wall_cutoff_m(self, max_radius_m: float) -> float:
        """Distance to a wall beyond which its repulsion weight is below 1e-3."""
        a = self.strength_geometry_repulsion
        extra = self.range_geometry_repulsion_m * math.log(a / NEGLIGIBLE_WEIGHT) if a > NEGLIGIBLE_WEIGHT else 0.0
        return max_radius_m + max(extra, 0.0)

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def draw_free_speeds(rng: np.random.Generator, n: int, *, mean_mps: float = WEIDMANN_MEAN_MPS,
                     sd_mps: float = WEIDMANN_SD_MPS, truncate_sd: float = 2.0) -> np.ndarray:
    """``n`` free speeds from a normal law truncated at ``mean +- truncate_sd * sd`` (mean kept).

    Weidmann (1993): 1.34 m/s, sd 0.26 m/s; truncation at 2 sd gives 0.82-1.86 m/s."""
    if n < 0:
        raise ParameterError(f"n: expected a count >= 0, got {n!r}")
    if not (mean_mps > 0 and sd_mps >= 0 and truncate_sd > 0):
        raise ParameterError(f"free speed law: expected mean > 0, sd >= 0, truncate_sd > 0, got "
                             f"mean_mps={mean_mps!r}, sd_mps={sd_mps!r}, truncate_sd={truncate_sd!r}")
    lo, hi = mean_mps - truncate_sd * sd_mps, mean_mps + truncate_sd * sd_mps
    if lo <= 0 or hi > MAX_FREE_SPEED_MPS:
        raise ParameterError(f"free speed law: truncation range [{lo:.3g}, {hi:.3g}] m/s must lie in "
                             f"(0, {MAX_FREE_SPEED_MPS}] m/s")
    out = rng.normal(mean_mps, sd_mps, n)
    bad = (out < lo) | (out > hi)
    while bad.any():
        out[bad] = rng.normal(mean_mps, sd_mps, int(bad.sum()))
        bad = (out < lo) | (out > hi)
    return out
