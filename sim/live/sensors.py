"""Sensors on the model: what each sensor would read in a crowd run, and which records to trust.

:func:`compile_sensors` ties each ``[sensors.NAME]`` to zone and source indices and its bounds;
:class:`Tracker` keeps, for one run, the cumulative counts behind every sensor at each step of the
last minutes (so a record of any time in the cycle just simulated can be compared with the run);
:class:`RecordCheck` decides which records to skip (unknown sensor, not a count, negative or
absurd, late, out of order) and which sensors have gone silent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..crowd.compile import CrowdArrays
from ..crowd.schema import CrowdScenario
from ..crowd.state import Moved, arrivals_by_source
from .feed import Record

__all__ = ["Sensor", "compile_sensors", "Tracker", "RecordCheck", "COUNT_KINDS", "RAIN_MAX_MM_PER_H"]

#: Sensors compared with the model (rain is a forcing: it sets the members' weather).
COUNT_KINDS = ("zone_occupancy", "cordon", "source")
#: Rain above this is absurd (the world record hourly rainfall is about 300 mm).
RAIN_MAX_MM_PER_H = 300.0


@dataclass(frozen=True)
class Sensor:
    """A compiled sensor: indices into the run's zones and sources, and its bounds."""

    name: str
    kind: str
    zone: int                   # -1: none
    source: int                 # -1: none
    direction: str
    period_s: float
    noise_frac: float
    noise_floor: float
    max_value: float
    silent_after_s: float

    @property
    def unit(self) -> str:
        return {"zone_occupancy": "people", "cordon": "people/period", "source": "people/period",
                "rain": "mm/h"}[self.kind]

    def error_sd(self, value: float, model_error_frac: float) -> float:
        """Standard deviation of the difference between a record of ``value`` and the model: the
        sensor's own error and the model's, added in quadrature, never below the sensor's floor."""
        rel = math.hypot(self.noise_frac, model_error_frac) * abs(value)
        return math.hypot(rel, self.noise_floor)


def _profile_peak_pps(profile) -> float:
    return max(rate for _, rate in profile) / 60.0


def compile_sensors(scenario: CrowdScenario, arrays: CrowdArrays) -> dict[str, Sensor]:
    """The scenario's sensors with their zone and source indices and their upper bounds."""
    zones = list(arrays.zone_names)
    sources = [s.name for s in scenario.sources]
    out = {}
    for name, spec in scenario.sensors.items():
        z = zones.index(spec.zone) if spec.zone is not None else -1
        s = sources.index(spec.source) if spec.source is not None else -1
        if spec.max_value is not None:
            top = float(spec.max_value)
        elif spec.kind in ("zone_occupancy", "cordon"):
            top = float(math.floor(arrays.zone_area_m2[z] * scenario.crowd.rho_max_ppm2))
        elif spec.kind == "source":
            top = 20.0 * _profile_peak_pps(scenario.sources[s].profile) * spec.period_s
        else:
            top = RAIN_MAX_MM_PER_H
        out[name] = Sensor(name=name, kind=spec.kind, zone=z, source=s, direction=spec.direction,
                           period_s=float(spec.period_s), noise_frac=float(spec.noise_frac),
                           noise_floor=float(spec.noise_floor), max_value=top,
                           silent_after_s=float(spec.silent_after_s))
    return out


class Tracker:
    """The cumulative counts of one crowd run at each step of the last ``history_s`` seconds: zone
    occupancy, people admitted through each zone's gates, corrections booked into each zone, and
    arrivals per source.  :meth:`record` after every step; :meth:`value` reads a sensor at a time."""

    def __init__(self, engine, history_s: float):
        a = engine.arrays
        self.dt_s = a.dt_s
        self.n_zones = len(a.zone_names)
        self.n_sources = len(a.source_names)
        self.length = int(math.ceil(history_s / a.dt_s)) + 2
        z, s = self.n_zones, self.n_sources
        self.hist = np.zeros((self.length, 3 * z + s), dtype=np.int64)
        self.step_of_row = np.full(self.length, -1, dtype=np.int64)
        self.cum_in = np.zeros(z, dtype=np.int64)
        self.cum_corr = np.zeros(z, dtype=np.int64)
        self.cum_arrivals = arrivals_by_source(engine)
        self.last_active = engine.n_active
        self.occ0 = engine.zone_occupancy.astype(np.int64).copy()
        self._write(engine)

    def copy(self) -> "Tracker":
        new = object.__new__(Tracker)
        new.__dict__.update({k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in self.__dict__.items()})
        return new

    def _write(self, engine) -> None:
        z = self.n_zones
        row = engine.step_index % self.length
        h = self.hist[row]
        h[:z] = engine.zone_occupancy
        h[z:2 * z] = self.cum_in
        h[2 * z:3 * z] = self.cum_corr
        h[3 * z:] = self.cum_arrivals
        self.step_of_row[row] = engine.step_index

    def _arrivals(self, engine) -> None:
        na = engine.n_active
        if na > self.last_active:
            lo, hi = self.last_active - engine.n_placed, na - engine.n_placed
            self.cum_arrivals += np.bincount(engine.arrivals.source[lo:hi], minlength=self.n_sources)
        self.last_active = na

    def record(self, engine) -> None:
        """Book the step just taken (call after every :meth:`CrowdEngine.step`)."""
        self.cum_in += engine.admitted_last_step
        self._arrivals(engine)
        self._write(engine)

    def corrected(self, engine, moved: Moved) -> None:
        """Book a correction (:func:`sim.crowd.state.move_people`) made after the last step."""
        self.cum_corr += moved.zone_change
        self._arrivals(engine)
        self._write(engine)

    def _row(self, step: int) -> np.ndarray | None:
        row = step % self.length
        return self.hist[row] if self.step_of_row[row] == step else None

    def value(self, sensor: Sensor, t_s: float) -> float | None:
        """What ``sensor`` would have read at ``t_s`` in this run (None: outside the history kept;
        rain: None, it is not counted)."""
        step = int(round(t_s / self.dt_s))
        now = self._row(step)
        if now is None or sensor.kind == "rain":
            return None
        z, zz = sensor.zone, self.n_zones
        if sensor.kind == "zone_occupancy":
            return float(now[z])
        before = self._row(max(0, step - int(round(sensor.period_s / self.dt_s))))
        if before is None:
            return None
        if sensor.kind == "source":
            col = 3 * zz + sensor.source
            return float(now[col] - before[col])
        entered = now[zz + z] - before[zz + z]
        if sensor.direction == "in":
            return float(entered)
        # Left = entered - (change of occupancy not due to corrections).
        change = (now[z] - before[z]) - (now[2 * zz + z] - before[2 * zz + z])
        return float(entered - change)


class RecordCheck:
    """Which records to use: skips (with the reason) records of unknown sensors, negative or absurd
    values, times outside the night, late records (their cycle is already assimilated), and records
    out of order or repeated for a sensor; notes gaps; says which sensors are silent."""

    def __init__(self, sensors: dict[str, Sensor], duration_s: float):
        self.sensors = sensors
        self.duration_s = duration_s
        self.last_t: dict[str, float] = {}
        self.gaps: list[tuple[str, float, float]] = []

    def check(self, record: Record, assimilated_until_s: float) -> str | None:
        """The reason to skip ``record`` (None: use it).  Accepting a record notes its time."""
        sensor = self.sensors.get(record.sensor)
        if sensor is None:
            known = ", ".join(sorted(self.sensors)) or "none"
            return f"unknown sensor {record.sensor!r} (the scenario's [sensors]: {known})"
        if record.value < 0:
            return f"negative value {record.value!r} ({sensor.unit})"
        if record.value > sensor.max_value:
            return f"absurd value {record.value!r} (above {sensor.max_value:g} {sensor.unit})"
        if not 0 <= record.t_s <= self.duration_s:
            return f"time {record.t_s!r} s is outside the night (0 to {self.duration_s:g} s)"
        if record.t_s <= assimilated_until_s:
            return f"late: t_s {record.t_s!r} is in a cycle already assimilated (up to {assimilated_until_s:g} s)"
        last = self.last_t.get(record.sensor)
        if last is not None and record.t_s <= last:
            what = "repeated" if record.t_s == last else "out of order"
            return f"{what}: t_s {record.t_s!r} after {last!r} for this sensor"
        if last is not None and record.t_s - last > 1.5 * sensor.period_s:
            self.gaps.append((record.sensor, last, record.t_s))
        self.last_t[record.sensor] = record.t_s
        return None

    def gap_before(self, record: Record) -> tuple[float, float] | None:
        """The gap this (accepted) record closed, if it closed one: (from, to) in seconds."""
        if self.gaps and self.gaps[-1][0] == record.sensor and self.gaps[-1][2] == record.t_s:
            return self.gaps[-1][1], self.gaps[-1][2]
        return None

    def silent(self, now_s: float) -> dict[str, float]:
        """Sensors with no record for longer than their ``silent_after_s``: name -> the time of their
        last record (0 when they never reported)."""
        out = {}
        for name, sensor in self.sensors.items():
            last = self.last_t.get(name)
            since = 0.0 if last is None else last
            if now_s - since > sensor.silent_after_s:
                out[name] = since
        return out
