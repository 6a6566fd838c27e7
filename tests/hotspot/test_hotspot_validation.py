"""Validation of the hotspot model against published figures (docs/sources.md), and calibration checks.

Each test names its source and tolerance.  The scenarios live in :mod:`sim.hotspot.validation`
(``benchmarks/bench_hotspot_vs_jupedsim.py --validation`` prints the same numbers); they run on one
Numba thread, as results do not depend on it.  Measured numbers are in docs/hotspot.md.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.hotspot import validation as V


@pytest.mark.parametrize("rho", [1.0, 2.0, 3.0, 4.0])
def test_fundamental_diagram_follows_weidmann(rho):
    """Calibration check (time gap 0.8 s and radius 0.18 m were chosen on this set-up): mean speed in
    a periodic 30 m x 3 m corridor, free speeds drawn from Weidmann's law, two seeds, against Weidmann
    (1993; docs/sources.md: 1.06 / 0.61 / 0.33 / 0.16 m/s at 1 / 2 / 3 / 4 p/m2); tolerance +-0.15 m/s
    (about half the standard deviation of free speeds; measured within 0.11)."""
    v = np.mean([V.corridor_mean_speed(rho, seed) for seed in (1, 2)])
    assert abs(v - V.weidmann_speed_mps(rho)) <= 0.15, (rho, v, V.weidmann_speed_mps(rho))


def test_fundamental_diagram_low_density_is_platoon_limited():
    """At 0.5 p/m2 Weidmann gives 1.30 m/s; the CSM has no wish to overtake, so in a periodic corridor
    faster walkers end up behind slower ones (measured 1.05 m/s).  Checked: at least 0.75 of the mean
    free speed and faster than at 1 p/m2 (a known limitation, see docs/hotspot.md)."""
    v_half = np.mean([V.corridor_mean_speed(0.5, seed) for seed in (1, 2)])
    assert 0.75 * V.WEIDMANN_V0_MPS <= v_half <= V.WEIDMANN_V0_MPS + 0.05
    assert v_half > V.corridor_mean_speed(1.0, 1)


def test_bottleneck_flow_grows_linearly_with_width():
    """Seyfried et al. (2009, Transportation Science 43(3):395-406) and Liao et al. (2014): flow grows
    about linearly with width, specific flow about 1.2-2.0 p/(m s) in those experiments.  150 people
    start at 2.3 p/m2 in an 8 m x 8 m room before a 2 m long bottleneck.  Tolerances: every specific
    flow in 1.1-2.0 p/(m s) (measured 1.13 at 0.8 m, 1.33-1.39 above: the low end of the range; JuPedSim
    with the same parameters gives the same within 2%), their mean in 1.2-2.0, and a linear fit of flow
    on width with R^2 >= 0.97 (measured 0.994)."""
    widths = np.array([0.8, 1.2, 1.6, 2.0, 2.5])
    flows = np.array([V.bottleneck_flow(w) for w in widths])
    specific = flows / widths
    assert ((specific >= 1.1) & (specific <= 2.0)).all(), specific
    assert 1.2 <= specific.mean() <= 2.0
    slope, intercept = np.polyfit(widths, flows, 1)
    r2 = 1 - np.sum((flows - (slope * widths + intercept)) ** 2) / np.sum((flows - flows.mean()) ** 2)
    assert slope > 0 and r2 >= 0.97, (slope, intercept, r2)


@pytest.mark.parametrize("seed", [1, 2])
def test_counterflow_clears_without_deadlock(seed):
    """Two groups of 60 (3.3 p/m2 at the start) walk towards each other in a 20 m x 3 m corridor;
    everyone arrives, through the far exit (no permanent deadlock), within 200 s (free walking takes
    about 15 s; measured 92-103 s, lane index 0.62-0.68)."""
    out = V.counterflow(60, seed)
    assert out["inside"] == 0, f"{out['inside']} people still in the corridor after {out['t_s']} s"
    assert out["left_east"] == out["east_ids"] and out["left_west"] == out["west_ids"]


def test_rimea1_one_person_in_a_corridor():
    """RiMEA test 1: one person walks 40 m along a 2 m wide corridor at 1.33 m/s and should arrive
    after 26-34 s (docs/sources.md)."""
    assert 26.0 <= V.rimea1() <= 34.0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_rimea6_corner_nobody_crosses_walls(seed):
    """RiMEA test 6 (guideline 3.0; JuPedSim's notebook geometry): 20 people in the first 6 m of a 2 m
    corridor turn a left corner; no centre leaves the walkable area (tolerance 1 mm) or comes closer
    to a wall than its radius, and everyone reaches the exit within 60 s (free walking: about 17 s)."""
    out = V.rimea6(seed)
    assert out["arrived"] == 20, out
    assert out["max_outside_m"] <= 1e-3 and out["min_wall_distance_m"] >= 0.18 - 1e-9, out


def test_rimea9_closing_two_of_four_exits_doubles_evacuation_time():
    """RiMEA test 9: 1,000 people in a 30 m x 20 m room with four 1 m exits (JuPedSim's test-suite
    layout, exits 4-5 m from the corners of the long walls); closing the two south exits roughly
    doubles the evacuation time.  Accepted ratio 1.6-2.4 (measured 1.83: 91 s and 167 s)."""
    ratio = V.rimea9(("nw", "ne"), 1) / V.rimea9(("sw", "se", "nw", "ne"), 1)
    assert 1.6 <= ratio <= 2.4, ratio


def test_rimea12_no_jam_at_the_second_bottleneck():
    """RiMEA test 12 (JuPedSim's notebook geometry): 150 people leave room 1 through a 1 m corridor
    that crosses room 2 and narrows again.  A jam forms before the first bottleneck (local density
    above 4 p/m2) but not before the second (below 3 p/m2, never above 4; measured 5.35 and 2.34), and
    the second passes people at the first one's rate (flows within 10%; measured 1.28 and 1.23 p/s)."""
    out = V.rimea12(1)
    assert out["inside"] == 0
    before1, before2 = out["monitor"]["before_b1"], out["monitor"]["before_b2"]
    assert before1["max_local_density_ppm2"] > 4.0
    assert before2["max_local_density_ppm2"] < 3.0 and before2["time_above_4_ppm2_s"] == 0.0
    assert abs(out["flow_pps"]["b2"] / out["flow_pps"]["b1"] - 1) <= 0.10, out["flow_pps"]


@pytest.mark.parametrize("goal, field", [("east", "up_speed_mps"), ("west", "down_speed_mps")])
def test_stair_speeds_follow_fruin(goal, field):
    """Calibration check of the stair input: walkers without neighbours on a stair walk at their free
    speed x stair speed / 1.34 m/s, so the group's mean on the stair is Fruin's figure (docs/sources.md: up
    0.49-0.67, down 0.60-1.01 m/s; defaults the middle, 0.58 / 0.805) scaled by the group's mean free
    speed over 1.34 m/s; tolerance 2%."""
    mean_mps, v0_mean_mps, stair = V.stair_speeds(goal)
    expected = getattr(stair, field) * v0_mean_mps / V.WEIDMANN_V0_MPS
    assert abs(mean_mps / expected - 1) <= 0.02, (mean_mps, expected)
