"""Declarative scenarios: TOML files validated on load, with dotted ``--set`` overrides.

A scenario is checked in two passes, both before any run: the schema (unknown keys, types, signs,
ranges; pydantic) and the map (every node and zone it names exists on the map).  All problems are
reported at once in a single :class:`~sim.errors.ScenarioError` naming the file and the fields.
"""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import ScenarioError

__all__ = ["Scenario", "TrafficScenario", "BikeScenario", "AnyScenario", "load_scenario", "scenario_from_dict", "apply_overrides",
           "parse_override", "VEHICLE_CLASSES"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SimulationSpec(_Strict):
    duration_s: float = Field(gt=0, description="simulated time (s)")
    dt_s: float = Field(1.0, gt=0, le=5, description="time step (s)")
    seed: int = Field(0, ge=0)
    route_interval_s: float = Field(60.0, gt=0, description="how often routes follow congestion (s)")
    max_cell_m: float = Field(100.0, gt=0, description="longest cell a link is split into (m)")


class WeatherSpec(_Strict):
    rain_mm_per_h: float = Field(0.0, ge=0, description="rain intensity; umbrellas open when > 0")
    umbrella_walk_space_m2: float = Field(
        0.1, ge=0, description="extra ground per walker under an umbrella (calibrated to Guo et al. 2019)")
    umbrella_view_space_m2: float = Field(
        0.7, gt=0, description="ground per standing viewer under an open umbrella (FACTS: 0.7-1.0 m2)")
    rain_free_speed_factor: float = Field(0.97, gt=0, le=1, description="free speed in rain / dry")
    shelter_weight: float = Field(
        0.5, ge=0, description="extra perceived cost of uncovered walking in heavy rain (fraction)")
    heavy_rain_mm_per_h: float = Field(10.0, gt=0, description="intensity at which shelter_weight is full")
    uncovered_exit_penalty_s: float = Field(
        120.0, ge=0, description="perceived extra time of leaving by an uncovered exit in heavy rain (s)")


class CrowdSpec(_Strict):
    v0_mps: float = Field(1.34, gt=0, description="Weidmann free speed")
    gamma: float = Field(1.913, gt=0, description="Weidmann gamma (m^-2)")
    rho_max_ppm2: float = Field(5.4, gt=0, description="Weidmann jam density")
    view_space_m2: float = Field(0.3, gt=0, description="ground a dry standing viewer claims")
    stairs_up_flow_ppms: float = Field(0.88, gt=0, description="IMO MSC.1/Circ.1238 stairs up")
    stairs_down_flow_ppms: float = Field(1.1, gt=0, description="IMO MSC.1/Circ.1238 stairs down")
    signal_green_share: float = Field(0.45, gt=0, le=1, description="share of time a signalised crossing is green")
    patience_s: float = Field(1800.0, gt=0, description="wait at a closed gate before going home")
    view_distance_scale_s: float = Field(
        600.0, gt=0, description="walking time that divides a viewing spot's appeal by e")
    aisle_width_m: float = Field(
        0.0, ge=0, description="walking aisle stewards keep clear of standing viewers on every viewing way "
                               "wider than twice this (one-way loops); 0: people stand everywhere")


class ShowSpec(_Strict):
    start_s: float = Field(ge=0)
    end_s: float = Field(gt=0)
    release: Literal["all", "staged"] = "staged"
    release_order: list[str] = Field(default_factory=list, description="section tags, first released first")
    release_interval_s: float = Field(300.0, ge=0, description="earliest gap between release groups")
    release_rate_pps: float | None = Field(
        None, gt=0, description="metered release: people per second let go (omit: each group at once); "
                                "per group when release_hold_density_ppm2 is set")
    release_hold_density_ppm2: float | None = Field(
        None, gt=0, description="marshalled release: every group whose time has come leaves at up to "
                                "release_rate_pps, but is held while people walking in its section reach "
                                "this density somewhere (omit: no hold)")
    release_max_hold_s: float = Field(600.0, gt=0, description="longest a marshalled group is held at a time")

    @model_validator(mode="after")
    def _order(self) -> "ShowSpec":
        if self.end_s <= self.start_s:
            raise ValueError(f"end_s ({self.end_s!r}) must be after start_s ({self.start_s!r})")
        if self.release_hold_density_ppm2 is not None and self.release_rate_pps is None:
            raise ValueError("release_hold_density_ppm2 needs release_rate_pps (people per second per group)")
        return self


class ZoneSpec(_Strict):
    match: str = Field(description="edge tag selector KEY=VALUE, e.g. 'zone=promenade'")
    cap: int | None = Field(None, ge=1, description="people admitted at most; omit for no cap")
    reopen_fraction: float = Field(0.95, gt=0, le=1, description="gates reopen below this share of cap")
    view: bool = Field(False, description="people come here to watch the show")
    view_weight: float = Field(1.0, gt=0, description="appeal of this zone's viewing spots")

    @field_validator("match")
    @classmethod
    def _selector(cls, value: str) -> str:
        if "=" not in value or not value.split("=", 1)[0].strip() or not value.split("=", 1)[1].strip():
            raise ValueError(f"expected KEY=VALUE such as 'zone=promenade', got {value!r}")
        return value


class ViewingSpec(_Strict):
    section_weights: dict[str, float] = Field(default_factory=dict, description="appeal per section tag")

    @field_validator("section_weights")
    @classmethod
    def _positive(cls, value: dict[str, float]) -> dict[str, float]:
        bad = {k: v for k, v in value.items() if v <= 0}
        if bad:
            raise ValueError(f"weights must be positive, got {bad!r}")
        return value


class ExitSpec(_Strict):
    nodes: list[int | str] = Field(min_length=1, description="map nodes (OSM id or name) where people leave")
    flow_pps: float | None = Field(None, gt=0, description="people per second each node lets out; omit for no limit")
    covered: bool = Field(False, description="sheltered from rain (metro entrances)")
    closed: bool = Field(False, description="closed tonight: its users leave by the other exits")


class SourceSpec(_Strict):
    name: str
    nodes: list[int | str] = Field(min_length=1, description="map nodes where these people appear")
    profile: list[tuple[float, float]] = Field(
        min_length=2, description="(minute, people per minute) points, linear in between")
    exit: str = Field(description="name of the [exits] group they leave by")

    @field_validator("profile")
    @classmethod
    def _profile(cls, value: list[tuple[float, float]]) -> list[tuple[float, float]]:
        for k, (minute, rate) in enumerate(value):
            if minute < 0 or rate < 0:
                raise ValueError(f"point {k} {(minute, rate)!r}: minutes and rates must be >= 0")
        minutes = [m for m, _ in value]
        if minutes != sorted(minutes):
            raise ValueError(f"minutes must increase, got {minutes!r}")
        return value


class Scenario(_Strict):
    """A validated crowd scenario (see ``scenarios/*.toml`` for annotated examples)."""

    name: str
    description: str = ""
    kind: Literal["crowd"] = "crowd"
    map: str = Field(description="map file, relative to the scenario file")
    primary_zone: str | None = Field(
        None, description="zone whose clearance time is reported (default: 'promenade', else the first zone)")
    simulation: SimulationSpec
    weather: WeatherSpec = WeatherSpec()
    crowd: CrowdSpec = CrowdSpec()
    show: ShowSpec
    zones: dict[str, ZoneSpec] = Field(min_length=1)
    viewing: ViewingSpec = ViewingSpec()
    exits: dict[str, ExitSpec] = Field(min_length=1)
    sources: list[SourceSpec] = Field(min_length=1)
    source_path: str = Field("", description="file the scenario was read from (set by the loader)")

    @model_validator(mode="after")
    def _cross_checks(self) -> "Scenario":
        problems = []
        if self.show.end_s > self.simulation.duration_s:
            problems.append(f"show.end_s ({self.show.end_s!r}) is after simulation.duration_s "
                            f"({self.simulation.duration_s!r})")
        for k, source in enumerate(self.sources):
            if source.exit not in self.exits:
                problems.append(f"sources.{k}.exit: {source.exit!r} is not an [exits] group "
                                f"(have {sorted(self.exits)!r})")
        if not any(z.view for z in self.zones.values()):
            problems.append("zones: no zone has view = true, so nobody has anywhere to watch from")
        if self.primary_zone is not None and self.primary_zone not in self.zones:
            problems.append(f"primary_zone: {self.primary_zone!r} is not a zone (have {sorted(self.zones)!r})")
        if all(e.closed for e in self.exits.values()):
            problems.append("exits: every exit group is closed; nobody could leave")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def map_path(self) -> Path:
        base = Path(self.source_path).parent if self.source_path else Path.cwd()
        return (base / self.map).resolve()

    @property
    def main_zone(self) -> str:
        if self.primary_zone is not None:
            return self.primary_zone
        return "promenade" if "promenade" in self.zones else next(iter(self.zones))

    @property
    def raining(self) -> bool:
        return self.weather.rain_mm_per_h > 0

    def to_dict(self) -> dict[str, Any]:
        """Plain data as in the file (without ``source_path``), for saving with the results."""
        return self.model_dump(mode="json", exclude={"source_path"})


# ---------------------------------------------------------------------------------------------
# Traffic scenarios (kind = "traffic"): vehicles on the road graph, a time-sliced tunnel.
# ---------------------------------------------------------------------------------------------

#: Vehicle classes the engine knows; ``[vehicles.NAME]`` tables override their parameters.
VEHICLE_CLASSES = ("car", "bus", "bicycle", "ebike", "police")


class TrafficSimulationSpec(_Strict):
    duration_s: float = Field(gt=0, description="simulated time (s)")
    dt_s: float = Field(0.5, gt=0, le=2, description="time step (s); IDM is integrated ballistically")
    seed: int = Field(0, ge=0)
    route_interval_s: float = Field(120.0, gt=0, description="how often routes follow measured speeds (s)")
    start_clock: str = Field("00:00", pattern=r"^\d{1,2}:\d{2}$", description="wall clock at t=0, for plots")
    queue_sample_s: float = Field(10.0, gt=0, description="how often portal queues are measured (s)")


class VehicleSpec(_Strict):
    """IDM parameters of one vehicle class (defaults in :data:`sim.traffic.DEFAULT_CLASSES`)."""
    length_m: float | None = Field(None, gt=0)
    desired_speed_kph: float | None = Field(None, gt=0)
    accel_mps2: float | None = Field(None, gt=0, description="IDM a")
    decel_mps2: float | None = Field(None, gt=0, description="IDM b (comfortable)")
    min_gap_m: float | None = Field(None, gt=0, description="IDM s0")
    headway_s: float | None = Field(None, gt=0, description="IDM T")
    speed_spread: float | None = Field(None, ge=0, lt=0.5, description="desired speeds vary +- this share")


class SignalSpec(_Strict):
    cycle_s: float = Field(90.0, gt=0, description="fixed-time cycle at nodes tagged highway=traffic_signals")
    intergreen_s: float = Field(4.0, ge=0, description="amber + all-red at the end of each phase")

    @model_validator(mode="after")
    def _fits(self) -> "SignalSpec":
        if self.intergreen_s >= self.cycle_s / 2:
            raise ValueError(f"intergreen_s ({self.intergreen_s!r}) must be under half of cycle_s ({self.cycle_s!r})")
        return self


class TunnelSpec(_Strict):
    name: str = Field(description="the tunnel's OSM name or name:en, e.g. 'Renmin Road Tunnel'")
    escort_speed_kph: float = Field(20.0, gt=0, description="convoy speed behind the police car (2022: 20 km/h)")
    convoy_lanes: int = Field(1, ge=1, le=4, description="tube lanes the convoy rides in")
    queue_sample_m: float = Field(1500.0, gt=0, description="how far upstream queues are counted (m)")
    bike_row_m: float = Field(2.0, gt=0, description="length of one row of waiting bicycles (m)")
    bikes_abreast: int = Field(3, ge=1, description="bicycles side by side in the waiting area")
    closure_announced: bool = Field(
        False, description="drivers are told how long a closed portal stays closed and re-route at once "
                           "(false: they only see the queue, through the measured speeds)")


class PlanSpec(_Strict):
    """A phase plan: ``fixed`` alternates motor_s and convoy_s; ``on_demand`` runs a convoy when
    trigger_bikes wait at a portal (after at least min_motor_s of motor traffic)."""
    control: Literal["fixed", "on_demand"] = "fixed"
    motor_s: float | None = Field(None, gt=0, description="fixed: motor-vehicle phase (s)")
    convoy_s: float | None = Field(None, gt=0, description="fixed: convoy phase, portal open to the escort (s)")
    trigger_bikes: int | None = Field(None, ge=1, description="on_demand: waiting bicycles that call a convoy")
    min_motor_s: float = Field(300.0, gt=0, description="on_demand: shortest motor phase (s)")
    max_convoy_s: float = Field(1800.0, gt=0, description="on_demand: longest convoy phase (s)")
    clearance_s: float = Field(60.0, gt=0, description="gap between modes once the tunnel is empty (s)")
    bikes_per_convoy: int = Field(150, ge=1, description="most bicycles in one convoy (2022: ~150)")
    first_phase: Literal["motor", "convoy"] = "motor"

    @model_validator(mode="after")
    def _complete(self) -> "PlanSpec":
        if self.control == "fixed":
            missing = [k for k in ("motor_s", "convoy_s") if getattr(self, k) is None]
            if missing:
                raise ValueError(f"control = 'fixed' needs {' and '.join(missing)} (seconds > 0)")
        elif self.trigger_bikes is None:
            raise ValueError("control = 'on_demand' needs trigger_bikes (bicycles waiting that call a convoy)")
        return self


class DemandSpec(_Strict):
    name: str
    classes: dict[str, float] = Field(min_length=1, description="share of each vehicle class, e.g. {car=0.95, bus=0.05}")
    origins: list[int | str] = Field(min_length=1, description="map nodes where these trips start")
    destinations: list[int | str] = Field(min_length=1, description="map nodes where they end")
    profile: list[tuple[float, float]] = Field(
        min_length=2, description="(minute, vehicles per hour) points, linear in between")

    @field_validator("classes")
    @classmethod
    def _classes(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = [k for k in value if k not in VEHICLE_CLASSES]
        if unknown:
            raise ValueError(f"unknown vehicle class {unknown!r}; known: {list(VEHICLE_CLASSES)!r}")
        if any(v < 0 for v in value.values()) or sum(value.values()) <= 0:
            raise ValueError(f"shares must be >= 0 with a positive sum, got {value!r}")
        if "police" in value:
            raise ValueError("police cars are escorts set by the tunnel plan, not demand")
        bikes = {k in ("bicycle", "ebike") for k, v in value.items() if v > 0}
        if len(bikes) > 1:
            raise ValueError("one demand mixes bicycles and motor vehicles: give each mode its own [[demand]]")
        return value

    _profile = field_validator("profile")(SourceSpec._profile.__func__)


class TrafficScenario(_Strict):
    """A validated traffic scenario: demand on the road graph and phase plans for one tunnel."""

    name: str
    description: str = ""
    kind: Literal["traffic"]
    map: str = Field(description="map file, relative to the scenario file")
    simulation: TrafficSimulationSpec
    signals: SignalSpec = SignalSpec()
    vehicles: dict[str, VehicleSpec] = Field(default_factory=dict)
    tunnel: TunnelSpec | None = Field(None, description="the time-sliced tunnel; omit for plain traffic")
    demand: list[DemandSpec] = Field(min_length=1)
    plans: dict[str, PlanSpec] = Field(default_factory=dict, description="phase plans to compare")
    source_path: str = Field("", description="file the scenario was read from (set by the loader)")

    @model_validator(mode="after")
    def _plans_need_tunnel(self) -> "TrafficScenario":
        if self.plans and self.tunnel is None:
            raise ValueError("plans: phase plans need a [tunnel] table naming the tunnel they control")
        if self.tunnel is not None and not self.plans:
            raise ValueError("plans: a [tunnel] needs at least one [plans.NAME] table")
        return self

    @field_validator("vehicles")
    @classmethod
    def _known_vehicles(cls, value: dict[str, VehicleSpec]) -> dict[str, VehicleSpec]:
        unknown = [k for k in value if k not in VEHICLE_CLASSES]
        if unknown:
            raise ValueError(f"unknown vehicle class {unknown!r}; known: {list(VEHICLE_CLASSES)!r}")
        return value

    map_path = Scenario.map_path
    to_dict = Scenario.to_dict


# ---------------------------------------------------------------------------------------------
# Bike scenarios (kind = "bikes"): metro exits, bike pools and redistribution plans.
# ---------------------------------------------------------------------------------------------

class BikeSimulationSpec(_Strict):
    duration_s: float = Field(gt=0, description="simulated time (s)")
    dt_s: float = Field(10.0, gt=0, le=60, description="time step (s)")
    seed: int = Field(0, ge=0)
    start_clock: str = Field("00:00", pattern=r"^\d{1,2}:\d{2}$", description="wall clock at t=0, for plots")


class StationSpec(_Strict):
    name: str = Field(description="station name; its exits are the subway_entrance nodes named '<name> ...'")
    exits: list[int | str] = Field(default_factory=list, description="exit nodes (default: found by name)")
    headway_s: float = Field(180.0, gt=0, description="a train every this many seconds (both lines together)")
    alighting: list[tuple[float, float]] = Field(
        min_length=2, description="(minute, passengers alighting per train) points, linear in between")
    underground_speed_mps: float = Field(1.2, gt=0, description="walking speed from platform to exit")
    underground_detour: float = Field(1.4, ge=1, description="underground walk / straight line, platform to exit")

    _alighting = field_validator("alighting")(SourceSpec._profile.__func__)


class ExitChoiceSpec(_Strict):
    """Logit exit choice (the project's documented assumption: no published study of exit choice to
    avoid rain was found, FACTS.md)."""
    time_weight_per_min: float = Field(1.0, gt=0, description="disutility of one minute of walking")
    rain_weight_per_100m: float = Field(
        0.05, ge=0, description="disutility of 100 m walked in the open, per mm/h of rain")
    ride_speed_mps: float = Field(3.75, gt=0, description="riding speed to the destination (13.5 km/h)")


class BikeDemandSpec(_Strict):
    destinations: dict[str, float] = Field(min_length=1, description="destination node name -> weight")
    bike_share_dry: float = Field(0.06, ge=0, le=1, description="share of alighting passengers who want a bike")
    rain_drop_per_mm_h: float = Field(
        0.106, ge=0, lt=1, description="share falls by this fraction per mm/h (Tin Tin et al. 2012: 10.6%)")
    rain_cap_mm_h: float = Field(20.0, gt=0, description="the rain effect levels off here (Liu et al. 2025)")
    returns_per_h: list[tuple[float, float]] = Field(
        min_length=2, description="(minute, bikes returned per hour at all pools together) in dry weather")
    max_detour_m: float = Field(300.0, ge=0, description="a rider finding no bike walks this far to another pool")

    _returns = field_validator("returns_per_h")(SourceSpec._profile.__func__)

    @field_validator("destinations")
    @classmethod
    def _weights(cls, value: dict[str, float]) -> dict[str, float]:
        bad = {k: v for k, v in value.items() if v <= 0}
        if bad:
            raise ValueError(f"weights must be positive, got {bad!r}")
        return value


class PoolSpec(_Strict):
    exit: int | str = Field(description="the metro exit node this pool serves")
    stock: int = Field(ge=0, description="bikes at the start")
    capacity: int = Field(ge=1, description="docks or marked area (bikes)")
    covered: bool = Field(False, description="the pool is under cover")
    walk_m: float = Field(20.0, ge=0, description="walk from the exit to the pool")
    return_weight: float = Field(1.0, ge=0, description="share of returns made here (relative)")

    @model_validator(mode="after")
    def _fits(self) -> "PoolSpec":
        if self.stock > self.capacity:
            raise ValueError(f"stock ({self.stock}) is more than capacity ({self.capacity})")
        return self


class VanSpec(_Strict):
    count: int = Field(2, ge=1)
    capacity: int = Field(20, ge=1, description="bikes per van")
    depot: int | str = Field(description="map node where vans start")
    load_s_per_bike: float = Field(15.0, ge=0, description="loading or unloading time per bike")
    replan_interval_s: float = Field(
        1800.0, gt=0, description="optimised: re-plan this often; every move planned must be done by the next")
    horizon_s: float = Field(3600.0, gt=0, description="optimised: each plan covers the forecast need this far ahead")
    safety_share: float = Field(0.1, ge=0, description="optimised: target stock above the forecast need")


class BikePlanSpec(_Strict):
    kind: Literal["none", "static", "forecast", "optimised"]
    layout: dict[str, int] = Field(default_factory=dict, description="static: bikes per pool at the start")

    @model_validator(mode="after")
    def _layout_only_static(self) -> "BikePlanSpec":
        if self.kind == "static" and not self.layout:
            raise ValueError("kind = 'static' needs a layout: {POOL = bikes, ...}")
        if self.kind != "static" and self.layout:
            raise ValueError(f"layout applies to kind = 'static' only (this plan is {self.kind!r})")
        bad = {k: v for k, v in self.layout.items() if v < 0}
        if bad:
            raise ValueError(f"layout: bike counts must be >= 0, got {bad!r}")
        return self


class BikeScenario(_Strict):
    """A validated bike scenario: a station's exits, bike pools and redistribution plans."""

    name: str
    description: str = ""
    kind: Literal["bikes"]
    map: str = Field(description="map file, relative to the scenario file")
    simulation: BikeSimulationSpec
    weather: WeatherSpec = WeatherSpec()
    station: StationSpec
    exit_choice: ExitChoiceSpec = ExitChoiceSpec()
    demand: BikeDemandSpec
    pools: dict[str, PoolSpec] = Field(min_length=1)
    vans: VanSpec
    plans: dict[str, BikePlanSpec] = Field(min_length=1)
    source_path: str = Field("", description="file the scenario was read from (set by the loader)")

    @model_validator(mode="after")
    def _layouts_name_pools(self) -> "BikeScenario":
        problems = []
        total = sum(p.stock for p in self.pools.values())
        for name, plan in self.plans.items():
            unknown = [k for k in plan.layout if k not in self.pools]
            if unknown:
                problems.append(f"plans.{name}.layout: {unknown[0]!r} is not a pool (pools: {sorted(self.pools)!r})")
                continue
            if plan.layout:
                moved = {k: plan.layout.get(k, p.stock) for k, p in self.pools.items()}
                if sum(moved.values()) != total:
                    problems.append(f"plans.{name}.layout: puts {sum(moved.values())} bikes in the pools but "
                                    f"there are {total}; a layout moves bikes, it cannot add or remove them")
                over = [k for k, v in moved.items() if v > self.pools[k].capacity]
                if over:
                    problems.append(f"plans.{name}.layout: {over[0]!r} gets {moved[over[0]]} bikes, more than its "
                                    f"capacity {self.pools[over[0]].capacity}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    map_path = Scenario.map_path
    to_dict = Scenario.to_dict

    @property
    def raining(self) -> bool:
        return self.weather.rain_mm_per_h > 0


AnyScenario = Scenario | TrafficScenario | BikeScenario


def _format_pydantic(exc: ValidationError) -> list[str]:
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        msg = err["msg"]
        if err["type"] == "value_error":
            msg = msg.removeprefix("Value error, ")
            if not where:       # cross-field checks already name their fields
                problems.extend(msg.split("; "))
                continue
            problems.append(f"{where}: {msg}")
            continue
        where = where or "(top level)"
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; see scenarios/*.toml for the known keys)"
        elif "input" in err and err["type"] not in ("missing",):
            msg = f"{msg} (got {err['input']!r})"
        problems.append(f"{where}: {msg}")
    return problems


def scenario_from_dict(data: dict[str, Any], source: str = "<dict>") -> AnyScenario:
    """Validate plain data as a scenario of its ``kind`` (``crowd``, the default, or ``traffic``);
    raises :class:`ScenarioError` listing every problem."""
    kind = data.get("kind", "crowd")
    model = {"crowd": Scenario, "traffic": TrafficScenario, "bikes": BikeScenario}.get(kind) \
        if isinstance(kind, str) else None
    if model is None:
        raise ScenarioError(source, [f"kind: {kind!r} is not a scenario kind; use 'crowd', 'traffic' or 'bikes'"])
    try:
        return model.model_validate({**data, "source_path": source})
    except ValidationError as exc:
        raise ScenarioError(source, _format_pydantic(exc)) from None


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"zones.promenade.cap=80000"`` -> (["zones", "promenade", "cap"], 80000).

    The value is read as a TOML value (numbers, booleans, strings, lists); bare words are strings and
    ``none``/``null`` removes the key (e.g. ``zones.promenade.cap=none`` lifts the cap).
    """
    if "=" not in text:
        raise ScenarioError("--set", [f"{text!r}: expected KEY=VALUE with a dotted key, "
                                      f"e.g. zones.promenade.cap=80000"])
    key, raw = text.split("=", 1)
    path = [p for p in key.strip().split(".")]
    if not all(path):
        raise ScenarioError("--set", [f"{text!r}: empty part in dotted key {key!r}"])
    raw = raw.strip()
    if raw.lower() in ("none", "null"):
        return path, None
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return path, value


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a copy of scenario data with dotted-key overrides applied (lists take numeric parts)."""
    out = copy.deepcopy(data)
    for text in overrides:
        path, value = parse_override(text)
        node: Any = out
        for depth, part in enumerate(path[:-1]):
            if isinstance(node, list):
                if not part.isdigit() or int(part) >= len(node):
                    raise ScenarioError("--set", [f"{text!r}: {'.'.join(path[:depth + 1])!r} is not an "
                                                  f"index of a list of {len(node)}"])
                node = node[int(part)]
            elif isinstance(node, dict):
                if part not in node:
                    node[part] = {}
                node = node[part]
            else:
                raise ScenarioError("--set", [f"{text!r}: {'.'.join(path[:depth])!r} is a value, "
                                              f"not a table"])
        last = path[-1]
        if isinstance(node, list):
            if not last.isdigit() or int(last) >= len(node):
                raise ScenarioError("--set", [f"{text!r}: {last!r} is not an index of a list of {len(node)}"])
            node[int(last)] = value
        elif value is None:
            node.pop(last, None)
        else:
            node[last] = value
    return out


def load_scenario(path: str | Path, overrides: list[str] | None = None) -> AnyScenario:
    """Read, override and validate a scenario file (schema only; see :func:`sim.crowd.compile_crowd`
    for the checks against the map)."""
    path = Path(path)
    if not path.exists():
        raise ScenarioError(str(path), [f"file not found; shipped scenarios are in scenarios/ "
                                        f"(see `citytwin list`)"])
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(str(path), [f"not valid TOML: {exc}"]) from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(str(path), [f"not a UTF-8 text file: {exc}"]) from None
    data = apply_overrides(data, overrides or [])
    return scenario_from_dict(data, str(path))
