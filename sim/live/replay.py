"""Replay: a hidden "true" night and the feed its sensors would send, to judge the twin against a
truth it does not know.

The truth is a run of the same crowd model with its own seed, its demand scaled (every source's
profile times ``demand_scale``), rain starting at ``rain_onset_s`` (dry before), and its sensors
read with multiplicative Gaussian noise (``noise_frac``: standard deviation / value) and drop-outs
(a sensor silent over an interval).  Its random streams (the run's and the noise's) are separate
from the twin's.  This judges the twin on what it cannot see (seed, demand, rain onset, noise), not
on model error: the truth follows the same rules as the members.
"""

from __future__ import annotations

import csv
import math
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np

from ..core.errors import CliError
from ..core.schema import validate_as
from ..crowd.compile import NO_CAP
from ..crowd.model import CrowdModel
from ..crowd.schema import CrowdScenario
from ..crowd.state import set_rain
from .feed import Record, format_record
from .forecast import FULL_FRACTION
from .sensors import Tracker, compile_sensors

__all__ = ["Dropout", "TruthSpec", "TruthFrame", "Truth", "truth_scenario", "play", "parse_dropout",
           "TRUTH_COLUMNS", "DEFAULT_RAIN_MM_PER_H"]

#: Rain after an onset when neither the scenario nor the replay gives an intensity: heavy rain.
DEFAULT_RAIN_MM_PER_H = 10.0
TRUTH_COLUMNS = ["t_s", "zone", "occupancy", "max_density_ppm2", "max_walk_density_ppm2", "full", "los_e", "los_f",
                 "rain_mm_per_h"]


@dataclass(frozen=True)
class Dropout:
    """A sensor silent from ``from_s`` to ``to_s`` (simulated seconds)."""

    sensor: str
    from_s: float
    to_s: float = math.inf


def parse_dropout(text: str) -> Dropout:
    """``SENSOR@FROM[-TO]`` with FROM and TO in minutes after the start (``metro_exits@40``,
    ``metro_exits@40-55``)."""
    if "@" not in text:
        raise CliError(f"--drop: expected SENSOR@FROM_MIN[-TO_MIN], e.g. metro_exits@40-55, got {text!r}")
    name, span = text.rsplit("@", 1)
    lo, _, hi = span.partition("-")
    try:
        start = float(lo) * 60.0
        end = float(hi) * 60.0 if hi else math.inf
    except ValueError:
        raise CliError(f"--drop: minutes must be numbers in {text!r} (SENSOR@FROM_MIN[-TO_MIN])") from None
    if not name or start < 0 or end <= start:
        raise CliError(f"--drop: need a sensor name and 0 <= FROM < TO in {text!r}")
    return Dropout(name, start, end)


@dataclass(frozen=True)
class TruthSpec:
    """What the truth does that the twin does not know."""

    seed: int
    demand_scale: float = 1.0
    rain_onset_s: float | None = None        # dry until then (None: the scenario's weather all night)
    rain_mm_per_h: float | None = None       # after the onset (None: the scenario's, else heavy rain)
    noise_frac: float = 0.0
    noise_seed: int | None = None            # default: derived from ``seed``
    dropouts: tuple[Dropout, ...] = field(default_factory=tuple)


def truth_scenario(scenario: CrowdScenario, demand_scale: float) -> CrowdScenario:
    """The scenario with every source's profile multiplied by ``demand_scale``."""
    if not math.isfinite(demand_scale) or demand_scale <= 0:
        raise CliError(f"--demand-scale must be a number > 0, got {demand_scale!r}")
    if demand_scale == 1.0:
        return scenario
    data = scenario.to_dict()
    for source in data.get("sources", []):
        source["profile"] = [[m, r * demand_scale] for m, r in source["profile"]]
    return validate_as(type(scenario), data, scenario.source_path)


@dataclass
class TruthFrame:
    """One simulated minute of the truth: the records its sensors sent and what the zones held."""

    t_s: float
    records: list[Record]
    occupancy: np.ndarray
    max_density: np.ndarray
    max_walk: np.ndarray
    full: np.ndarray                      # bool per zone: at its cap (FULL_FRACTION of it)
    los_e: np.ndarray                     # bool per zone: walkers at walkway LOS E somewhere
    los_f: np.ndarray
    rain_mm_per_h: float


class Truth:
    """A hidden true night (see the module docstring); :meth:`frames` runs it minute by minute."""

    def __init__(self, scenario: CrowdScenario, spec: TruthSpec):
        if spec.noise_frac < 0 or spec.noise_frac > 1:
            raise CliError(f"--noise must be within 0 and 1 (standard deviation / value), got {spec.noise_frac!r}")
        unknown = [d.sensor for d in spec.dropouts if d.sensor not in scenario.sensors]
        if unknown:
            raise CliError(f"--drop: {unknown[0]!r} is not a sensor of the scenario (have {sorted(scenario.sensors)!r})")
        self.spec = spec
        self.scenario = truth_scenario(scenario, spec.demand_scale)
        self.model = CrowdModel(self.scenario, seed=spec.seed)
        engine = self.model.engine
        self.arrays = engine.arrays
        self.sensors = compile_sensors(self.scenario, self.arrays)
        periods = [s.period_s for s in self.sensors.values()] or [60.0]
        self.tracker = Tracker(engine, max(periods) + 120.0)
        noise_seed = spec.noise_seed if spec.noise_seed is not None else spec.seed
        self.noise_rng = np.random.default_rng(np.random.SeedSequence([noise_seed, 17]))
        rain = spec.rain_mm_per_h
        if rain is None:
            rain = self.scenario.weather.rain_mm_per_h or DEFAULT_RAIN_MM_PER_H
        if spec.rain_mm_per_h is not None and (not math.isfinite(rain) or rain < 0):
            raise CliError(f"--rain must be a number >= 0 (mm/h), got {spec.rain_mm_per_h!r}")
        self.rain_after = float(rain)
        if spec.rain_onset_s is not None:
            set_rain(engine, 0.0)
        elif spec.rain_mm_per_h is not None:
            set_rain(engine, self.rain_after)
        self.rain_now = 0.0 if spec.rain_onset_s is not None else (
            self.rain_after if spec.rain_mm_per_h is not None else self.scenario.weather.rain_mm_per_h)
        cap = self.arrays.zone_cap
        self.full_at = np.where(cap < NO_CAP, np.ceil(FULL_FRACTION * cap), np.inf)

    def _noisy(self, value: float, kind: str) -> float:
        if self.spec.noise_frac > 0:
            value = value * (1.0 + self.spec.noise_frac * float(self.noise_rng.standard_normal()))
        value = max(0.0, value)
        return round(value, 1) if kind == "rain" else float(round(value))

    def _silent(self, name: str, t_s: float) -> bool:
        return any(d.sensor == name and d.from_s <= t_s < d.to_s for d in self.spec.dropouts)

    def frames(self, until_s: float | None = None) -> Iterator[TruthFrame]:
        """Run the truth minute by minute to ``until_s`` (default: the end of the night)."""
        model, engine = self.model, self.model.engine
        dt = self.arrays.dt_s
        end = self.scenario.simulation.duration_s if until_s is None else min(until_s, self.scenario.simulation.duration_s)
        per_min = max(1, int(round(60.0 / dt)))
        period_steps = {n: max(1, int(round(s.period_s / dt))) for n, s in self.sensors.items()}
        records: list[Record] = []
        while engine.step_index < min(model.n_steps, int(round(end / dt))):
            t_next = (engine.step_index + 1) * dt
            if self.spec.rain_onset_s is not None and self.rain_now == 0.0 and t_next >= self.spec.rain_onset_s:
                set_rain(engine, self.rain_after)
                self.rain_now = self.rain_after
            model.step()
            self.tracker.record(engine)
            k, t = engine.step_index, engine.t_s
            for name, sensor in self.sensors.items():
                if k % period_steps[name] or self._silent(name, t):
                    continue
                value = self.rain_now if sensor.kind == "rain" else self.tracker.value(sensor, t)
                if value is not None:
                    records.append(Record(t_s=t, sensor=name, value=self._noisy(value, sensor.kind), where="truth"))
            if k % per_min == 0:
                z = engine.zones
                p = engine.arrays.params
                yield TruthFrame(t_s=t, records=records, occupancy=z.occupancy.copy(), max_density=z.max_density.copy(),
                                 max_walk=z.max_walk_density.copy(), full=z.occupancy >= self.full_at,
                                 los_e=z.max_walk_density > p.walk_e_ppm2, los_f=z.max_walk_density > p.walk_f_ppm2,
                                 rain_mm_per_h=self.rain_now)
                records = []

    def truth_rows(self, frame: TruthFrame) -> list[dict]:
        """``truth.csv`` rows of a frame (one per zone)."""
        return [{"t_s": frame.t_s, "zone": name, "occupancy": int(frame.occupancy[z]),
                 "max_density_ppm2": round(float(frame.max_density[z]), 4),
                 "max_walk_density_ppm2": round(float(frame.max_walk[z]), 4), "full": int(frame.full[z]),
                 "los_e": int(frame.los_e[z]), "los_f": int(frame.los_f[z]), "rain_mm_per_h": frame.rain_mm_per_h}
                for z, name in enumerate(self.arrays.zone_names)]


def play(truth: Truth, out: IO[str] | None = None, speed: float = 0.0, truth_csv: str | Path | None = None,
         until_s: float | None = None) -> int:
    """Write the truth's feed to ``out`` (standard output by default) as JSON lines, minute by
    minute, at ``speed`` simulated seconds per wall second (0: as fast as possible), ending with
    ``{"end": true}``; the truth's zones to ``truth_csv`` if given.  Returns the records written."""
    if not math.isfinite(speed) or speed < 0:
        raise CliError(f"--speed must be a number >= 0 (simulated seconds per second; 0: as fast as possible), "
                       f"got {speed!r}")
    out = out if out is not None else sys.stdout
    handle = writer = None
    if truth_csv is not None:
        Path(truth_csv).parent.mkdir(parents=True, exist_ok=True)
        handle = Path(truth_csv).open("w", newline="", encoding="utf-8")
        writer = csv.DictWriter(handle, fieldnames=TRUTH_COLUMNS)
        writer.writeheader()
    written = 0
    start = time.perf_counter()
    try:
        for frame in truth.frames(until_s):
            if speed > 0:
                wait = frame.t_s / speed - (time.perf_counter() - start)
                if wait > 0:
                    time.sleep(wait)
            for rec in frame.records:
                out.write(format_record(rec) + "\n")
            written += len(frame.records)
            out.flush()
            if writer is not None:
                writer.writerows(truth.truth_rows(frame))
                handle.flush()
        out.write('{"end": true}\n')
        out.flush()
    finally:
        if handle is not None:
            handle.close()
    return written
