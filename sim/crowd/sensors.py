"""A crowd scenario's sensors and live-twin settings: the ``[sensors.NAME]`` and ``[live]`` tables.

A sensor says what it counts and where; the live twin (:mod:`sim.live`) reads its records (time,
sensor, value) and compares them with the same quantity in each member of its ensemble::

    [sensors.promenade_count]          # people in a zone now (a counting system over the whole zone)
    kind = "zone_occupancy"
    zone = "promenade"
    noise_frac = 0.05

    [sensors.promenade_gates_in]       # people through the zone's gates (a cordon counter), per period
    kind = "cordon"
    zone = "promenade"
    direction = "in"
    period_s = 60

    [sensors.metro_exits]              # people coming out of a source (metro exit gates), per period
    kind = "source"
    source = "East Nanjing Road metro"

    [sensors.rain_gauge]               # rain intensity (mm/h)
    kind = "rain"

References (zones, sources) are checked against the scenario when it is loaded.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ..core.schema import Strict

__all__ = ["SensorSpec", "LiveSpec", "SENSOR_KINDS", "check_sensor_refs"]

SENSOR_KINDS = ("zone_occupancy", "cordon", "source", "rain")


class SensorSpec(Strict):
    """One sensor: what it counts and where."""

    kind: Literal["zone_occupancy", "cordon", "source", "rain"] = Field(
        description="zone_occupancy: people in a zone now; cordon: people through a zone's gates per period "
                    "(direction in or out); source: people arriving from a source per period (metro exits, street "
                    "entries); rain: rain intensity (mm/h)")
    zone: str | None = Field(None, description="zone_occupancy, cordon: the zone (a [zones] name)")
    direction: Literal["in", "out"] = Field("in", description="cordon: people entering or leaving the zone")
    source: str | None = Field(None, description="source: the [[sources]] name")
    period_s: float = Field(60.0, gt=0, le=3600, description="cordon, source: a record counts the people of the "
                                                             "period ending at its time (s)")
    noise_frac: float = Field(0.1, ge=0, le=1, description="the sensor's error: standard deviation / value")
    noise_floor: float = Field(5.0, gt=0, description="the smallest standard deviation of its error (its unit)")
    max_value: float | None = Field(
        None, gt=0, description="records above this are absurd and skipped (default: zone_occupancy and cordon "
                                "the zone at the jam density, source 20 x the profile's peak rate over a period, "
                                "rain 300 mm/h)")
    silent_after_s: float = Field(180.0, gt=0, description="no record for this long: the sensor is silent (s)")
    description: str = ""

    @model_validator(mode="after")
    def _what_and_where(self) -> "SensorSpec":
        if self.kind in ("zone_occupancy", "cordon") and self.zone is None:
            raise ValueError(f"a {self.kind} sensor needs zone = \"<a [zones] name>\"")
        if self.kind == "source" and self.source is None:
            raise ValueError("a source sensor needs source = \"<a [[sources]] name>\"")
        if self.kind != "source" and self.source is not None:
            raise ValueError(f"source applies to source sensors, not to {self.kind}")
        if self.kind in ("source", "rain") and self.zone is not None:
            raise ValueError(f"zone applies to zone_occupancy and cordon sensors, not to {self.kind}")
        return self


class LiveSpec(Strict):
    """How the live twin follows the night: its ensemble, cycles, forecasts and warning thresholds."""

    members: int = Field(20, ge=2, le=500, description="ensemble members (twins with uncertain demand, rain, speed)")
    seed: int = Field(0, ge=0, description="seed of the ensemble's own random streams")
    assimilate_every_s: float = Field(60.0, gt=0, description="assimilation cycle (simulated s)")
    forecast_every_s: float = Field(300.0, gt=0, description="a forecast every this many simulated s")
    horizon_s: float = Field(1800.0, gt=0, description="forecast horizon (s)")
    forecast_members: int | None = Field(
        None, ge=2, description="members that run each forecast, drawn by weight (omit: every member); fewer "
                                "keep a forecast cycle within the night's pace on a busy machine")
    whatif_members: int = Field(
        5, ge=0, description="members that run each what-if (drawn by weight; 0: no what-ifs)")
    whatif_every_s: float = Field(300.0, gt=0, description="what-ifs every this many simulated s")
    measures: list[str] | None = Field(
        None, description="what-if measures to forecast, by name (omit: every measure the scenario offers)")
    cap_warn_probability: float = Field(
        0.5, gt=0, le=1, description="warn when P(a zone reaches its cap within warn_within_s) reaches this")
    los_e_warn_probability: float = Field(
        0.8, gt=0, le=1, description="warn when P(walkway LOS E somewhere in a zone within warn_within_s) reaches this")
    los_f_warn_probability: float = Field(
        0.5, gt=0, le=1, description="warn when P(walkway LOS F somewhere in a zone within warn_within_s) reaches this")
    warn_within_s: float = Field(1800.0, gt=0, description="the window of the warnings' probabilities (s)")
    clear_fraction: float = Field(
        0.8, gt=0, le=1, description="a warning clears when its probability falls below this share of its threshold")
    demand_sd: float = Field(0.3, ge=0, le=2, description="prior sd of the log of the demand multiplier (all sources)")
    source_sd: float = Field(0.1, ge=0, le=2, description="prior sd of each source's log multiplier around it")
    speed_sd: float = Field(0.05, ge=0, le=1, description="prior sd of the log of the walking-speed multiplier")
    rain_sd_mm_per_h: float = Field(
        1.0, ge=0, description="drift of the members' rain per cycle while no rain gauge reports (mm/h)")
    shrink: float = Field(
        0.95, gt=0, le=1, description="Liu-West kernel shrinkage of the parameters after resampling (1: no jitter)")
    roughen: float = Field(
        0.2, ge=0, le=2, description="after resampling each parameter also gets independent noise of this share of "
                                     "its prior sd (Gordon et al. 1993's roughening), so the ensemble can follow a "
                                     "demand outside its current range")
    resample_ess_fraction: float = Field(
        0.5, gt=0, le=1, description="resample when the effective sample size falls below this share of members")
    model_error_frac: float = Field(
        0.03, ge=0, le=1, description="model error added to each sensor's own error (sd / value)")

    @model_validator(mode="after")
    def _cycles(self) -> "LiveSpec":
        problems = []
        if self.forecast_every_s < self.assimilate_every_s:
            problems.append(f"forecast_every_s ({self.forecast_every_s!r}) must be >= assimilate_every_s "
                            f"({self.assimilate_every_s!r})")
        forecast = self.members if self.forecast_members is None else self.forecast_members
        if forecast > self.members:
            problems.append(f"forecast_members ({forecast!r}) must be <= members ({self.members!r})")
        if self.whatif_members > forecast:
            problems.append(f"whatif_members ({self.whatif_members!r}) must be <= forecast_members or members "
                            f"({forecast!r}): the what-ifs run from members of the forecast")
        if problems:
            raise ValueError("; ".join(problems))
        return self


def check_sensor_refs(sensors: dict[str, SensorSpec], zones, sources) -> list[str]:
    """Problems with what the sensors refer to (zones, sources by name), each as ``field: message``."""
    problems = []
    source_names = [s.name for s in sources]
    for name, sensor in sensors.items():
        if sensor.zone is not None and sensor.zone not in zones:
            problems.append(f"sensors.{name}.zone: {sensor.zone!r} is not a zone (have {sorted(zones)!r})")
        if sensor.source is not None and sensor.source not in source_names:
            problems.append(f"sensors.{name}.source: {sensor.source!r} is not a [[sources]] name "
                            f"(have {source_names!r})")
    return problems
