"""The crowd scenario (``kind = "crowd"``): a night at a viewing area, its zones, exits and sources.

See ``scenarios/bund_lightshow_*.toml`` for annotated examples.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from ..core.schema import MAX_DURATION_S, Profile, ScenarioBase, Strict
from ..core.weather import WeatherSpec
from .sensors import LiveSpec, SensorSpec, check_sensor_refs

__all__ = ["CrowdScenario", "SimulationSpec", "CrowdSpec", "SpeedGroupSpec", "ShowSpec", "ZoneSpec", "ViewingSpec",
           "ExitSpec", "SourceSpec", "PopulationSpec", "PremovementSpec", "SafetySpec", "OneWaySpec"]


def check_selector(value: str) -> str:
    """A way selector ``KEY=VALUE`` (an OSM tag of the ways meant)."""
    if "=" not in value or not value.split("=", 1)[0].strip() or not value.split("=", 1)[1].strip():
        raise ValueError(f"expected KEY=VALUE such as 'zone=promenade', got {value!r}")
    return value


#: Ways selected by one of their OSM tags, ``KEY=VALUE``.
Selector = Annotated[str, AfterValidator(check_selector)]


class SimulationSpec(Strict):
    duration_s: float = Field(gt=0, le=MAX_DURATION_S, description="simulated time (s), at most a week")
    dt_s: float = Field(1.0, ge=0.05, le=5, description="time step (s)")
    seed: int = Field(0, ge=0)
    route_interval_s: float = Field(60.0, gt=0, description="how often routes follow congestion (s)")
    max_cell_m: float = Field(
        25.0, ge=1, le=1000, description="longest cell a link is split into (m, 1-1000); see README, 'Cell length', "
                                         "for the measurement behind the default")
    short_cell_m: float = Field(
        2.5, ge=0.5, le=50, description="cell length on stairs, ramps, crossings and gates and on their approaches "
                                        "(m, 0.5-50: a cell holds at least a person)")
    approach_m: float = Field(10.0, ge=0, le=200, description="length of the approach cut into short cells (m)")


class SpeedGroupSpec(Strict):
    """Free walking speeds on the level of one group of people (e.g. an age group, RiMEA test 7):
    normal with this mean and sd, redrawn outside [min, max]."""
    share: float = Field(gt=0, description="share of the people in this group (relative)")
    speed_mean_mps: float = Field(gt=0)
    speed_sd_mps: float = Field(0.0, ge=0)
    speed_min_mps: float = Field(gt=0)
    speed_max_mps: float = Field(gt=0)

    @model_validator(mode="after")
    def _range(self) -> "SpeedGroupSpec":
        if not self.speed_min_mps <= self.speed_mean_mps <= self.speed_max_mps:
            raise ValueError(f"need speed_min_mps <= speed_mean_mps <= speed_max_mps, got "
                             f"{self.speed_min_mps!r}, {self.speed_mean_mps!r}, {self.speed_max_mps!r}")
        return self


class CrowdSpec(Strict):
    v0_mps: float = Field(1.34, gt=0, le=3.0, description="mean free speed on the level (Weidmann 1993), at most 3 m/s")
    v0_sd_mps: float = Field(0.26, ge=0, description="spread of free speeds (Weidmann 1993)")
    v0_truncate_sd: float = Field(
        2.5, gt=0, description="free speeds are drawn within mean +- this many sd (project assumption)")
    groups: dict[str, SpeedGroupSpec] = Field(
        default_factory=dict, description="speed groups (omit: everyone from v0_mps and v0_sd_mps)")
    gamma: float = Field(1.913, ge=0.1, le=10, description="Weidmann gamma (m^-2)")
    rho_max_ppm2: float = Field(5.4, ge=1, le=10, description="Weidmann jam density (p/m2; measured 5.4-10)")
    view_space_m2: float = Field(0.3, gt=0, le=1000, description="ground a dry standing viewer claims")
    queue_space_m2: float = Field(
        0.28, gt=0, description="ground a person in a queue takes: people close up to the onset of Fruin's "
                                "(1971) queuing LOS E (0.28 m2, body contact), not beyond; umbrellas add "
                                "weather.umbrella_walk_space_m2")
    stairs_up_speed_mps: float = Field(
        0.58, gt=0, description="mean free speed up stairs (Fruin 1971 via PD 7974-6: 0.49-0.67 m/s)")
    stairs_down_speed_mps: float = Field(
        0.81, gt=0, description="mean free speed down stairs (Fruin 1971 via PD 7974-6: 0.60-1.01 m/s)")
    stairs_up_flow_ppms: float = Field(0.88, gt=0, description="IMO MSC.1/Circ.1238 stairs up")
    stairs_down_flow_ppms: float = Field(1.1, gt=0, description="IMO MSC.1/Circ.1238 stairs down")
    signal_green_share: float = Field(0.45, gt=0, le=1, description="share of time a signalised crossing is green")
    patience_s: float = Field(1800.0, gt=0, description="wait at a closed gate before going home")
    view_distance_scale_s: float = Field(
        600.0, gt=0, description="walking time that divides a viewing spot's appeal by e")
    aisle_width_m: float = Field(
        0.0, ge=0, description="walking aisle stewards keep clear of standing viewers on every viewing way "
                               "wider than twice this (one-way loops); 0: people stand everywhere")
    route_tolerance_s: float = Field(
        2.0, ge=0, description="a walker held at a node takes another edge whose remaining cost is within "
                                "this many seconds of its route's (project assumption)")
    route_tolerance_frac: float = Field(
        0.05, ge=0, description="... or within this share of it, whichever is larger (project assumption)")
    capped_zone_exit_cost_factor: float = Field(
        1.0, ge=1, description="people leaving weigh the time they walk through a capped zone by this factor "
                               "(its gates may be closed to them); 1: no avoidance (project assumption; "
                               "README: sensitivity)")

    @model_validator(mode="after")
    def _groups(self) -> "CrowdSpec":
        if self.v0_mps - self.v0_truncate_sd * self.v0_sd_mps <= 0 and not self.groups:
            raise ValueError(f"v0_mps - v0_truncate_sd * v0_sd_mps must be positive (free speeds), got "
                             f"{self.v0_mps!r} - {self.v0_truncate_sd!r} * {self.v0_sd_mps!r}")
        return self

    def speed_groups(self) -> dict[str, SpeedGroupSpec]:
        """The speed groups, or one group ``everyone`` from ``v0_mps`` and ``v0_sd_mps``."""
        if self.groups:
            return dict(self.groups)
        spread = self.v0_truncate_sd * self.v0_sd_mps
        return {"everyone": SpeedGroupSpec(share=1.0, speed_mean_mps=self.v0_mps, speed_sd_mps=self.v0_sd_mps,
                                           speed_min_mps=self.v0_mps - spread, speed_max_mps=self.v0_mps + spread)}


class ShowSpec(Strict):
    start_s: float = Field(ge=0)
    end_s: float = Field(gt=0)
    release: Literal["all", "staged"] = "staged"
    release_order: list[str] = Field(default_factory=list, description="section tags, first released first")
    release_interval_s: float = Field(300.0, ge=0, description="earliest gap between release groups")
    release_rate_pps: float | None = Field(
        None, gt=0, le=1e5, description="metered release: people per second let go (omit: each group at once); "
                                "per group when release_hold_density_ppm2 is set")
    release_hold_density_ppm2: float | None = Field(
        None, gt=0, description="marshalled release: every group whose time has come leaves at up to "
                                "release_rate_pps, but is held while people walking in its section reach "
                                "this density somewhere (omit: no hold)")
    release_max_hold_s: float = Field(600.0, gt=0, description="longest a marshalled group is held at a time")
    release_hold_scope: Literal["section", "map"] = Field(
        "section", description="where the hold density is watched: in the group's own section, or anywhere on "
                               "the map (the streets the crowd leaves by included)")

    @model_validator(mode="after")
    def _order(self) -> "ShowSpec":
        if self.end_s <= self.start_s:
            raise ValueError(f"end_s ({self.end_s!r}) must be after start_s ({self.start_s!r})")
        if self.release_hold_density_ppm2 is not None and self.release_rate_pps is None:
            raise ValueError("release_hold_density_ppm2 needs release_rate_pps (people per second per group)")
        return self


def _check_windows(value: list[tuple[float, float]]) -> list[tuple[float, float]]:
    for start, end in value:
        if not 0 <= start < end:
            raise ValueError(f"each window is [start_s, end_s] with 0 <= start_s < end_s, got {[start, end]!r}")
    return value


#: Time windows ``[[start_s, end_s], ...]``.
Windows = Annotated[list[tuple[float, float]], AfterValidator(_check_windows)]


class ZoneSpec(Strict):
    """A zone: ways (``match``) or the ways at some nodes (``nodes``: a cordon line across streets),
    with gates where people enter it.  Gates close at the cap (hysteresis); the crowd-management
    measures below open, close and meter them; each is a controller (:mod:`sim.crowd.controllers`)."""
    match: Selector | None = Field(None, description="edge tag selector KEY=VALUE, e.g. 'zone=promenade'")
    nodes: list[int | str] = Field(
        default_factory=list, description="or: map nodes (OSM id or name); the zone is the short cells of the "
                                          "ways at them (a cordon line across the streets there)")
    cap: int | None = Field(None, ge=1, description="people admitted at most; omit for no cap")
    reopen_fraction: float = Field(0.95, gt=0, le=1, description="gates reopen below this share of cap")
    view: bool = Field(False, description="people come here to watch the show")
    view_weight: float = Field(1.0, gt=0, description="appeal of this zone's viewing spots")
    gate: Literal["all", "inbound"] = Field(
        "all", description="who the gates hold: everyone entering ('all'), or only people on their way in "
                           "to watch ('inbound': a cordon; people going home pass)")
    meter_pps: float | None = Field(
        None, gt=0, le=1e5, description="the gates let in at most this many people per second in all (metering)")
    open_windows: Windows = Field(
        default_factory=list, description="gates open only in these [start_s, end_s] windows (alternately "
                                          "opened entrances: give two zones complementary windows)")
    close_while_full: list[str] = Field(
        default_factory=list, description="gates closed while any of these capped zones has its gates closed "
                                          "(a cordon that holds people further out)")
    inside_cap: int | None = Field(
        None, ge=1, description="gates closed while this many people or more are on the map (a district "
                                "cordon's cap; reopens at reopen_fraction of it)")
    divert_after_s: float | None = Field(
        None, gt=0, description="people held at a closed gate this long choose a viewing spot elsewhere "
                                "(diversion to another entrance); omit: they wait, up to their patience")

    @model_validator(mode="after")
    def _where(self) -> "ZoneSpec":
        if (self.match is None) == (not self.nodes):
            raise ValueError("give the zone's ways as match = 'KEY=VALUE' or as nodes = [...], exactly one")
        return self

    @property
    def controlled(self) -> bool:
        """Whether a gate controller acts on this zone (a cap or a measure)."""
        return (self.cap is not None or self.inside_cap is not None or bool(self.open_windows)
                or bool(self.close_while_full))


class ViewingSpec(Strict):
    section_weights: dict[str, float] = Field(default_factory=dict, description="appeal per section tag")

    @field_validator("section_weights")
    @classmethod
    def _positive(cls, value: dict[str, float]) -> dict[str, float]:
        bad = {k: v for k, v in value.items() if v <= 0}
        if bad:
            raise ValueError(f"weights must be positive, got {bad!r}")
        return value


class ExitSpec(Strict):
    nodes: list[int | str] = Field(min_length=1, description="map nodes (OSM id or name) where people leave")
    flow_pps: float | None = Field(None, gt=0, description="people per second each node lets out; omit for no limit")
    covered: bool = Field(False, description="sheltered from rain (metro entrances)")
    closed: bool = Field(False, description="closed tonight: its users leave by the other exits")


class SourceSpec(Strict):
    name: str
    nodes: list[int | str] = Field(min_length=1, description="map nodes where these people appear")
    profile: Profile = Field(description="(minute, people per minute) points, linear in between")
    exit: str = Field(description="name of the [exits] group they leave by")
    closed_from_s: float | None = Field(
        None, ge=0, description="the source closes at this time (a metro station: trains pass without "
                                "stopping); later arrivals go to divert_to")
    close_after_people: int | None = Field(
        None, ge=0, description="... or once this many people have arrived here (a station closed above a count)")
    divert_to: str | None = Field(
        None, description="the source whose nodes the diverted people arrive at instead (e.g. the next "
                          "station); omit: they do not come")
    divert_delay_s: float = Field(0.0, ge=0, description="extra time the diverted people need to get there")



class PremovementSpec(Strict):
    """How long people placed on the map wait before they move (pre-movement time)."""
    kind: Literal["none", "fixed", "uniform", "lognormal", "list"] = "none"
    time_s: float = Field(0.0, ge=0, description="fixed: everyone starts at this time")
    low_s: float = Field(0.0, ge=0, description="uniform: earliest start")
    high_s: float = Field(0.0, ge=0, description="uniform: latest start")
    median_s: float = Field(30.0, gt=0, description="lognormal: median start")
    p95_s: float = Field(120.0, gt=0, description="lognormal: 95th percentile of the start")
    times_s: list[float] = Field(default_factory=list, description="list: start times, assigned in turn")

    @model_validator(mode="after")
    def _complete(self) -> "PremovementSpec":
        if self.kind == "uniform" and self.high_s < self.low_s:
            raise ValueError(f"high_s ({self.high_s!r}) must be >= low_s ({self.low_s!r})")
        if self.kind == "lognormal" and self.p95_s <= self.median_s:
            raise ValueError(f"p95_s ({self.p95_s!r}) must be above median_s ({self.median_s!r})")
        if self.kind == "list" and (not self.times_s or min(self.times_s) < 0):
            raise ValueError("kind = 'list' needs times_s, a non-empty list of start times >= 0")
        return self


class PopulationSpec(Strict):
    """People already in place at t = 0 (an evacuation, a crowd already there), standing on ways."""
    name: str
    match: Selector = Field(description="ways they stand on: edge tag selector KEY=VALUE, e.g. 'name=Room'")
    people: int = Field(ge=1)
    exit: str = Field(description="name of the [exits] group they leave by")
    group: str | None = Field(None, description="speed group of all of them (omit: drawn by the groups' shares)")
    premovement: PremovementSpec = PremovementSpec()


class OneWaySpec(Strict):
    """Ways walked one way only (one-way loops), from ``from_s`` until ``until_s``: routes never take
    them against the direction while a way round exists."""
    match: Selector = Field(description="the ways: edge tag selector KEY=VALUE")
    toward: int | str = Field(description="the map node (OSM id or name) they are walked toward, along these ways")
    from_s: float = Field(0.0, ge=0)
    until_s: float | None = Field(None, gt=0, description="omit: to the end of the run")

    @model_validator(mode="after")
    def _times(self) -> "OneWaySpec":
        if self.until_s is not None and self.until_s <= self.from_s:
            raise ValueError(f"until_s ({self.until_s!r}) must be after from_s ({self.from_s!r})")
        return self


class DemandSpec(Strict):
    """How uncertain the night's turnout and timing are: each run draws one turnout multiplier for
    every source (log-normal with mean 1) and one shift of every arrival time, from a random stream of
    its own, so that an answer over seeds covers them (0, the default: the profiles as given)."""
    turnout_sd: float = Field(0.0, ge=0, le=1, description="sd of the log of a run's turnout multiplier "
                                                            "(0.1: about +-10%)")
    timing_sd_s: float = Field(0.0, ge=0, le=7200, description="sd of a run's shift of every arrival time (s)")


class SafetySpec(Strict):
    """When a run counts as unsafe (the criterion a safe cap must meet, and what `advise` judges)."""
    max_walk_los_f_s: float = Field(
        60.0, ge=0, description="a place fails when its walkers stay at walkway LOS F (Fruin; rain-shifted in "
                                "rain) longer than this at a stretch (s)")
    max_hold_los_e_s: float = Field(
        0.0, ge=0, description="... or when people standing or queueing there spend longer than this at Fruin's "
                               "queuing LOS E or worse (s; 0: at any time)")
    crush_density_ppm2: float = Field(
        4.0, gt=0, description="density reported as P(any place at or above it) (Still: critical for a moving crowd)")


class MeasurePlanSpec(Strict):
    """A named set of crowd-management measures (``[plans.NAME]``): scenario overrides that
    ``citytwin advise --plans NAME`` and ``citytwin run --set`` apply on top of the file."""
    description: str = Field("", description="what the plan does, in words")
    set: list[str] = Field(min_length=1, description='overrides "dotted.key=VALUE", as --set takes them')

    @field_validator("set")
    @classmethod
    def _overrides(cls, value: list[str]) -> list[str]:
        bad = [s for s in value if "=" not in s or not s.split("=", 1)[0].strip()]
        if bad:
            raise ValueError(f"each item is \"dotted.key=VALUE\" (e.g. \"zones.promenade.cap=40000\"); bad: {bad!r}")
        return value


class CrowdScenario(ScenarioBase):
    """A validated crowd scenario (see ``scenarios/*.toml`` for annotated examples)."""

    kind: Literal["crowd"] = "crowd"
    primary_zone: str | None = Field(
        None, description="zone whose clearance time is reported (default: 'promenade', else the first zone)")
    simulation: SimulationSpec
    weather: WeatherSpec = WeatherSpec()
    crowd: CrowdSpec = CrowdSpec()
    show: ShowSpec | None = Field(None, description="the show people come to watch (omit: an evacuation)")
    zones: dict[str, ZoneSpec] = Field(default_factory=dict)
    viewing: ViewingSpec = ViewingSpec()
    exits: dict[str, ExitSpec] = Field(min_length=1)
    sources: list[SourceSpec] = Field(default_factory=list)
    populations: list[PopulationSpec] = Field(default_factory=list)
    one_way: list[OneWaySpec] = Field(default_factory=list, description="one-way ways (loops)")
    safety: SafetySpec = SafetySpec()
    demand: DemandSpec = Field(default_factory=DemandSpec,
                               description="uncertainty of turnout and arrival timing, drawn per run")
    plans: dict[str, MeasurePlanSpec] = Field(
        default_factory=dict, description="named sets of measures to compare (citytwin advise --plans NAME)")
    sensors: dict[str, SensorSpec] = Field(
        default_factory=dict, description="counters and gauges a live twin reads (sim.crowd.sensors)")
    live: LiveSpec = Field(default_factory=LiveSpec, description="the live twin's ensemble, cycles and warnings")

    @model_validator(mode="after")
    def _cross_checks(self) -> "CrowdScenario":
        problems = []
        if self.show is not None and self.show.end_s > self.simulation.duration_s:
            problems.append(f"show.end_s ({self.show.end_s!r}) is after simulation.duration_s "
                            f"({self.simulation.duration_s!r})")
        if self.sources and self.show is None:
            problems.append("show: [[sources]] bring people to watch a show; add a [show] table (start_s, end_s)")
        names = [source.name for source in self.sources]
        for k, source in enumerate(self.sources):
            if source.exit not in self.exits:
                problems.append(f"sources.{k}.exit: {source.exit!r} is not an [exits] group "
                                f"(have {sorted(self.exits)!r})")
            if source.divert_to is not None and (source.divert_to not in names or source.divert_to == source.name):
                problems.append(f"sources.{k}.divert_to: {source.divert_to!r} is not another source "
                                f"(have {names!r})")
            if source.divert_to is not None and source.closed_from_s is None and source.close_after_people is None:
                problems.append(f"sources.{k}.divert_to: set closed_from_s or close_after_people (when the "
                                f"source closes)")
        for name, zone in self.zones.items():
            for other in zone.close_while_full:
                if other not in self.zones or other == name or self.zones[other].cap is None:
                    problems.append(f"zones.{name}.close_while_full: {other!r} is not another capped zone "
                                    f"(capped: {sorted(z for z, spec in self.zones.items() if spec.cap)!r})")
        groups = self.crowd.speed_groups()
        for k, pop in enumerate(self.populations):
            if pop.exit not in self.exits:
                problems.append(f"populations.{k}.exit: {pop.exit!r} is not an [exits] group "
                                f"(have {sorted(self.exits)!r})")
            if pop.group is not None and pop.group not in groups:
                problems.append(f"populations.{k}.group: {pop.group!r} is not a speed group "
                                f"(have {sorted(groups)!r})")
        if not self.sources and not self.populations:
            problems.append("sources: a scenario needs [[sources]] (arrivals) or [[populations]] (people in place)")
        if self.sources and not any(z.view for z in self.zones.values()):
            problems.append("zones: no zone has view = true, so nobody has anywhere to watch from")
        if self.primary_zone is not None and self.primary_zone not in self.zones:
            problems.append(f"primary_zone: {self.primary_zone!r} is not a zone (have {sorted(self.zones)!r})")
        if all(e.closed for e in self.exits.values()):
            problems.append("exits: every exit group is closed; nobody could leave")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _sensor_refs(self) -> "CrowdScenario":
        problems = check_sensor_refs(self.sensors, self.zones, self.sources)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def main_zone(self) -> str | None:
        """The zone whose clearance is reported: ``primary_zone``, else 'promenade', else the first
        zone (None without zones)."""
        if self.primary_zone is not None:
            return self.primary_zone
        return "promenade" if "promenade" in self.zones else next(iter(self.zones), None)

    @property
    def raining(self) -> bool:
        return self.weather.rain_mm_per_h > 0
