"""The scores the twin is judged by: CRPS of a weighted ensemble, the naive trend forecast, warnings."""

from __future__ import annotations

import numpy as np
import pytest

from sim.live.skill import crps_ensemble, score_warning, trend_forecast


def test_crps_of_one_value_is_its_error_and_of_an_ensemble_the_energy_form():
    assert crps_ensemble([7.0], [1.0], 10.0) == pytest.approx(3.0)
    # Two members at 0 and 2 (equal weights) against 1: E|X - y| = 1, E|X - X'| / 2 = 0.5.
    assert crps_ensemble([0.0, 2.0], [1.0, 1.0], 1.0) == pytest.approx(0.5)
    # Weights count like repeated members.
    assert crps_ensemble([0.0, 2.0], [3.0, 1.0], 1.0) == pytest.approx(crps_ensemble([0, 0, 0, 2], [1, 1, 1, 1], 1.0))
    # A sharp right forecast scores 0.
    assert crps_ensemble([5.0, 5.0], [1, 1], 5.0) == 0.0


def test_trend_forecast_carries_the_last_change_on_within_zero_and_the_cap():
    t = np.array([0.0, 300.0, 600.0])
    v = np.array([100.0, 400.0, 700.0])
    assert trend_forecast(t, v, 600.0, 1200.0) == pytest.approx(700 + 300 * 4)
    assert trend_forecast(t, v, 600.0, 1200.0, upper=1000.0) == 1000.0        # the gates close at the cap
    assert trend_forecast(t, v[::-1], 600.0, 1200.0) == 0.0                   # never below empty
    assert trend_forecast(t, v, 600.0, 0.0) == 700.0                          # lead 0: persistence
    assert trend_forecast(t, v, 450.0, 600.0) is None                          # no count at that time


def test_score_warning_lead_time_and_false_alarms():
    alerts = [{"zone": "plaza", "event": "cap", "status": "raised", "issued_s": 600.0},
              {"zone": "plaza", "event": "cap", "status": "raised", "issued_s": 900.0, "measure": "close_zone:plaza"}]
    hit = score_warning(alerts, "plaza", 1500.0)
    assert hit.lead_time_s == 900.0 and hit.warned_10min and not hit.false_alarm
    assert score_warning(alerts, "plaza", None).false_alarm                  # never at the cap, warned anyway
    late = score_warning(alerts, "plaza", 500.0)
    assert late.first_warning_s is None and not late.warned_10min
