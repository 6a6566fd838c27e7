"""Sensors on the model: records checked and skipped with a reason; what a sensor would read."""

from __future__ import annotations

import numpy as np
import pytest

from live_night import small_night_data
from sim.core.errors import ScenarioError
from sim.core.schema import validate_as
from sim.crowd.model import CrowdModel
from sim.crowd.schema import CrowdScenario
from sim.crowd.state import move_people
from sim.live.feed import Record
from sim.live.sensors import RecordCheck, Tracker, compile_sensors


def test_sensor_references_are_checked_when_the_scenario_is_loaded(tmp_path):
    data = small_night_data(tmp_path, sensors={"a": {"kind": "cordon", "zone": "nowhere"},
                                               "b": {"kind": "source", "source": "south"},
                                               "c": {"kind": "zone_occupancy"},
                                               "d": {"kind": "thermometer"}})
    with pytest.raises(ScenarioError) as err:
        validate_as(CrowdScenario, data, "night.toml")
    text = str(err.value)
    assert "sensors.c" in text and "needs zone" in text and "sensors.d.kind" in text
    data["sensors"] = {"a": {"kind": "cordon", "zone": "nowhere"}, "b": {"kind": "source", "source": "south"}}
    with pytest.raises(ScenarioError) as err:
        validate_as(CrowdScenario, data, "night.toml")
    assert "sensors.a.zone: 'nowhere' is not a zone" in str(err.value)
    assert "sensors.b.source: 'south' is not a [[sources]] name" in str(err.value)


def test_records_are_skipped_with_the_reason(night):
    model = CrowdModel(night, seed=1)
    check = RecordCheck(compile_sensors(night, model.engine.arrays), night.simulation.duration_s)
    sensors = check.sensors
    assert sensors["plaza_count"].max_value == pytest.approx(180 * 12 * 5.4, rel=0.01)   # the plaza at jam density

    def reason(t, name, value, until=-1.0):
        return check.check(Record(t, name, value), until)

    assert reason(60, "plaza_count", 100) is None
    assert "unknown sensor 'nope'" in reason(60, "nope", 1)
    assert "negative value" in reason(120, "plaza_count", -3)
    assert "absurd value" in reason(120, "plaza_count", 1e7)
    assert "absurd value" in reason(120, "rain_gauge", 500)
    assert "outside the night" in reason(99999, "plaza_count", 1)
    assert "repeated" in reason(60, "plaza_count", 100)
    assert reason(180, "plaza_count", 100) is None
    assert "out of order" in reason(120, "plaza_count", 100)
    assert "late" in reason(200, "plaza_in", 5, until=240.0)
    assert reason(600, "plaza_count", 100) is None and check.gap_before(Record(600, "plaza_count", 100)) == (180, 600)
    silent = check.silent(600.0)
    assert "plaza_in" in silent and "west_entry" in silent and "plaza_count" not in silent


def test_cordon_counts_add_up_to_the_occupancy_with_corrections_apart(night):
    model = CrowdModel(night, seed=2)
    sensors = compile_sensors(night, model.engine.arrays)
    tracker = Tracker(model.engine, 600)
    out = sensors["plaza_in"].__class__(**{**sensors["plaza_in"].__dict__, "name": "plaza_out", "direction": "out"})
    occ0 = model.engine.zone_occupancy[0]
    for _ in range(240):
        model.step()
        tracker.record(model.engine)
    moved = move_people(model.engine, 0, 25, np.random.default_rng(0))
    tracker.corrected(model.engine, moved)
    for _ in range(60):
        model.step()
        tracker.record(model.engine)
    t = model.engine.t_s
    period = sensors["plaza_in"].period_s
    entered = sum(tracker.value(sensors["plaza_in"], t - k * period) for k in range(int(t // period)))
    left = sum(tracker.value(out, t - k * period) for k in range(int(t // period)))
    assert entered > 0 and left >= 0
    assert model.engine.zone_occupancy[0] - occ0 == entered - left + moved.moved
    arrived = sum(tracker.value(sensors["west_entry"], t - k * period) for k in range(int(t // period)))
    assert arrived == np.count_nonzero(model.engine.arrivals.source[:model.engine.n_active] == 0)
    assert tracker.value(sensors["plaza_count"], t - 900) is None        # beyond the history kept
