"""Weidmann (1993) fundamental diagram and Fruin (1971) levels of service, against docs/sources.md."""

import numpy as np
import pytest

from sim.crowd.fundamental import capacity_point, level_of_service, los_density_thresholds, weidmann_speed

V0, GAMMA, RHO_MAX = 1.34, 1.913, 5.4


@pytest.mark.parametrize("density, speed", [(1, 1.06), (2, 0.61), (3, 0.33), (4, 0.16)])
def test_weidmann_speeds_match_published_table(density, speed):
    # Source: Weidmann 1993 via docs/sources.md; tolerance 0.01 m/s (the table's rounding).
    assert weidmann_speed(density, V0, GAMMA, RHO_MAX) == pytest.approx(speed, abs=0.01)


def test_weidmann_capacity_point():
    # docs/sources.md: maximum specific flow about 1.22 p/(m s) at about 1.75 p/m2; tolerance 1%.
    rho_c, q_max = capacity_point(V0, GAMMA, RHO_MAX)
    assert q_max == pytest.approx(1.22, rel=0.01)
    assert rho_c == pytest.approx(1.75, rel=0.01)


def test_umbrella_space_lowers_capacity_within_guo_range():
    # Guo et al. 2019: one-way flow falls by 0.1-0.25 p/(m s) with umbrellas. Our default
    # (0.1 m2 extra per walker, free speed x0.97) must fall inside that range.
    _, dry = capacity_point(V0, GAMMA, RHO_MAX)
    _, rain = capacity_point(V0 * 0.97, GAMMA, 1.0 / (1.0 / RHO_MAX + 0.1))
    assert 0.1 <= dry - rain <= 0.25


def test_fruin_thresholds_and_rain_lowers_them():
    dry = los_density_thresholds(0.0)
    # Fruin 1971 (docs/sources.md): B..F begin at 0.31, 0.43, 0.72, 1.08, 2.17 p/m2 (rounded); tolerance 0.01.
    np.testing.assert_allclose(dry, [0.31, 0.43, 0.72, 1.08, 2.17], atol=0.01)
    rain = los_density_thresholds(0.1)
    assert (rain < dry).all()
    assert level_of_service(2.0, dry) == 4 and level_of_service(2.0, rain) == 5
