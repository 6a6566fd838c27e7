"""Pedestrian fundamental diagram (Weidmann 1993), rain adjustment and Fruin levels of service.

All functions are Numba-compiled scalars usable from kernels and from Python.

Weidmann: ``v(rho) = v0 * (1 - exp(-gamma * (1/rho - 1/rho_max)))`` with v0 = 1.34 m/s,
gamma = 1.913 m^-2, rho_max = 5.4 m^-2 (docs/sources.md, Weidmann 1993).

Rain (umbrellas): each walker needs ``extra_space_m2`` more ground, so the jam space
``1/rho_max`` grows by it; the same extra space is added to Fruin's space-per-person thresholds,
which lowers the density at which each level of service is reached.  The default extra space
(0.1 m2) is calibrated so that Weidmann's capacity falls by about 0.17 p/(m s), inside the
0.1-0.25 p/(m s) drop Guo et al. (2019, Transportmetrica B 7(1)) measured for one-way flow with
umbrellas; it is a documented project assumption (no published space-per-umbrella figure exists).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = [
    "WEIDMANN_V0_MPS", "WEIDMANN_GAMMA", "WEIDMANN_RHO_MAX", "FRUIN_SPACE_M2", "LOS_NAMES",
    "weidmann_speed", "weidmann_flow", "capacity_point", "level_of_service", "los_density_thresholds",
    "queue_los_density_thresholds", "FRUIN_QUEUE_SPACE_M2",
]

WEIDMANN_V0_MPS = 1.34
WEIDMANN_GAMMA = 1.913
WEIDMANN_RHO_MAX = 5.4

#: Fruin (1971) walkway levels of service: lower bound of space per person (m2) for A..E.
#: Space below the E bound (0.46 m2, about 2.17 p/m2) is LOS F.
FRUIN_SPACE_M2 = np.array([3.25, 2.32, 1.39, 0.93, 0.46])
#: Fruin (1971) queuing (waiting, standing) levels of service: lower bound of space per person (m2)
#: for A..E.  Space below the E bound (0.19 m2, about 5.3 p/m2) is LOS F.
FRUIN_QUEUE_SPACE_M2 = np.array([1.2, 0.9, 0.65, 0.28, 0.19])
LOS_NAMES = ("A", "B", "C", "D", "E", "F")


@njit(cache=True)
def weidmann_speed(density_ppm2: float, v0_mps: float, gamma: float, rho_max: float) -> float:
    """Walking speed (m/s) at a density (p/m2); v0 at zero density, 0 at or beyond ``rho_max``."""
    if density_ppm2 <= 1e-9:
        return v0_mps
    if density_ppm2 >= rho_max:
        return 0.0
    return v0_mps * (1.0 - math.exp(-gamma * (1.0 / density_ppm2 - 1.0 / rho_max)))


@njit(cache=True)
def weidmann_flow(density_ppm2: float, v0_mps: float, gamma: float, rho_max: float) -> float:
    """Specific flow (p/(m s)) = density * speed."""
    return density_ppm2 * weidmann_speed(density_ppm2, v0_mps, gamma, rho_max)


@njit(cache=True)
def capacity_point(v0_mps: float, gamma: float, rho_max: float) -> tuple[float, float]:
    """(critical density p/m2, maximum specific flow p/(m s)) by golden-section search."""
    lo, hi = 0.05, rho_max - 1e-6
    ratio = 0.5 * (math.sqrt(5.0) - 1.0)
    for _ in range(100):
        a = hi - ratio * (hi - lo)
        b = lo + ratio * (hi - lo)
        if weidmann_flow(a, v0_mps, gamma, rho_max) < weidmann_flow(b, v0_mps, gamma, rho_max):
            lo = a
        else:
            hi = b
    rho_c = 0.5 * (lo + hi)
    return rho_c, weidmann_flow(rho_c, v0_mps, gamma, rho_max)


def los_density_thresholds(extra_space_m2: float = 0.0) -> np.ndarray:
    """Densities (p/m2) at which LOS B, C, D, E and F begin, with ``extra_space_m2`` per person.

    Dry: [0.31, 0.43, 0.72, 1.08, 2.17] (Fruin 1971).  Rain adds the umbrella space to each
    space threshold, so every level is reached at a lower density.
    """
    return 1.0 / (FRUIN_SPACE_M2 + extra_space_m2)


def queue_los_density_thresholds(extra_space_m2: float = 0.0) -> np.ndarray:
    """Densities (p/m2) at which queuing LOS B, C, D, E and F begin, with ``extra_space_m2`` per person.

    Dry: [0.83, 1.11, 1.54, 3.57, 5.26] (Fruin 1971, queuing areas).  People standing or waiting are
    judged on this table, walkers on :func:`los_density_thresholds`."""
    return 1.0 / (FRUIN_QUEUE_SPACE_M2 + extra_space_m2)


@njit(cache=True)
def level_of_service(density_ppm2: float, thresholds_ppm2: np.ndarray) -> int:
    """Fruin level as an index 0..5 (A..F) given ``los_density_thresholds``."""
    level = 0
    for k in range(thresholds_ppm2.shape[0]):
        if density_ppm2 > thresholds_ppm2[k]:
            level = k + 1
    return level
