"""Fixtures of the live twin's tests (the small night is in live_night.py)."""

from __future__ import annotations

import pytest

from live_night import small_night
from sim.crowd.schema import CrowdScenario


@pytest.fixture
def night(tmp_path) -> CrowdScenario:
    return small_night(tmp_path)
