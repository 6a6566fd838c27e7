"""The traffic scenario (``kind = "traffic"``): vehicles on the road graph and a time-sliced tunnel."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from ..core.schema import MAX_DURATION_S, Profile, ScenarioBase, Strict

__all__ = ["TrafficScenario", "VEHICLE_CLASSES", "TrafficSimulationSpec", "VehicleSpec", "SignalSpec",
           "TunnelSpec", "PlanSpec", "DemandSpec", "AreaSpec", "PlaceSpec"]

#: A place (:mod:`sim.core.places`): an OSM node id, or a name, junction ("A & B"), "node/ID",
#: "way/ID" or "lat,lon".
PlaceSpec = int | str


#: Vehicle classes the engine knows; ``[vehicles.NAME]`` tables override their parameters.
VEHICLE_CLASSES = ("car", "bus", "bicycle", "ebike", "police")


class TrafficSimulationSpec(Strict):
    duration_s: float = Field(gt=0, le=MAX_DURATION_S, description="simulated time (s), at most a week")
    dt_s: float = Field(0.5, ge=0.01, le=2, description="time step (s); IDM is integrated ballistically")
    seed: int = Field(0, ge=0)
    route_interval_s: float = Field(120.0, gt=0, description="how often routes follow measured speeds (s)")
    start_clock: str = Field("00:00", pattern=r"^\d{1,2}:\d{2}$", description="wall clock at t=0, for plots")
    queue_sample_s: float = Field(10.0, gt=0, description="how often portal queues are measured (s)")


class VehicleSpec(Strict):
    """IDM parameters of one vehicle class (defaults in :data:`sim.traffic.DEFAULT_CLASSES`)."""
    length_m: float | None = Field(None, gt=0)
    desired_speed_kph: float | None = Field(None, gt=0)
    accel_mps2: float | None = Field(None, gt=0, description="IDM a")
    decel_mps2: float | None = Field(None, gt=0, description="IDM b (comfortable)")
    min_gap_m: float | None = Field(None, gt=0, description="IDM s0")
    headway_s: float | None = Field(None, gt=0, description="IDM T")
    speed_spread: float | None = Field(None, ge=0, lt=0.5, description="desired speeds vary +- this share")


class SignalSpec(Strict):
    cycle_s: float = Field(90.0, gt=0, description="fixed-time cycle at nodes tagged highway=traffic_signals")
    intergreen_s: float = Field(4.0, ge=0, description="amber + all-red at the end of each phase")

    @model_validator(mode="after")
    def _fits(self) -> "SignalSpec":
        if self.intergreen_s >= self.cycle_s / 2:
            raise ValueError(f"intergreen_s ({self.intergreen_s!r}) must be under half of cycle_s ({self.cycle_s!r})")
        return self


class TunnelSpec(Strict):
    name: str = Field(description="the tunnel's OSM name or name:en, e.g. 'Renmin Road Tunnel'")
    escort_speed_kph: float = Field(20.0, gt=0, description="convoy speed behind the police car (2022: 20 km/h)")
    convoy_lanes: int = Field(1, ge=1, le=4, description="tube lanes the convoy rides in")
    queue_sample_m: float = Field(1500.0, gt=0, description="how far upstream queues are counted (m)")
    bike_row_m: float = Field(2.0, gt=0, description="length of one row of waiting bicycles (m)")
    bikes_abreast: int = Field(3, ge=1, description="bicycles side by side in the waiting area")
    closure_announced: bool = Field(
        False, description="drivers are told how long a closed portal stays closed and re-route at once "
                           "(false: they only see the queue, through the measured speeds)")


class PlanSpec(Strict):
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


class AreaSpec(Strict):
    """An area of the map (every usable node inside it): a bounding box, a polygon, or a circle
    around a place.  Exactly one of ``bbox``, ``polygon``, ``near``."""
    bbox: tuple[float, float, float, float] | None = Field(None, description="[south, west, north, east] in degrees")
    polygon: list[tuple[float, float]] | None = Field(None, min_length=3, description="[[lat, lon], ...]")
    near: PlaceSpec | None = Field(None, description="a place (name, OSM id, 'lat,lon')")
    radius_m: float = Field(300.0, gt=0, description="with near: radius of the circle (m)")

    @model_validator(mode="after")
    def _one(self) -> "AreaSpec":
        given = [k for k in ("bbox", "polygon", "near") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"an area needs exactly one of bbox, polygon or near, got {given or 'none'}")
        if self.bbox is not None:
            south, west, north, east = self.bbox
            if not (south < north and west < east):
                raise ValueError(f"bbox {list(self.bbox)!r}: expected [south, west, north, east] with south < north "
                                 f"and west < east")
        return self

    def as_dict(self) -> dict:
        return self.model_dump(exclude_none=True)


class DemandSpec(Strict):
    """Trips of some vehicle classes between origins and destinations: each a list of places
    (names, OSM ids, coordinates, see :mod:`sim.core.places`) or an area; every trip draws its
    origin and destination uniformly (different from each other)."""
    name: str
    classes: dict[str, float] = Field(min_length=1, description="share of each vehicle class, e.g. {car=0.95, bus=0.05}")
    origins: list[PlaceSpec] | AreaSpec = Field(description="places where these trips start, or an area")
    destinations: list[PlaceSpec] | AreaSpec = Field(description="places where they end, or an area")
    profile: Profile = Field(description="(minute, vehicles per hour) points, linear in between")

    @field_validator("origins", "destinations")
    @classmethod
    def _places(cls, value):
        if isinstance(value, list) and not value:
            raise ValueError("give at least one place, or an area ({bbox = [...]}, {polygon = [...]}, {near = ...})")
        return value

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


class TrafficScenario(ScenarioBase):
    """A validated traffic scenario: demand on the road graph and phase plans for one tunnel."""

    kind: Literal["traffic"]
    simulation: TrafficSimulationSpec
    signals: SignalSpec = SignalSpec()
    vehicles: dict[str, VehicleSpec] = Field(default_factory=dict)
    tunnel: TunnelSpec | None = Field(None, description="the time-sliced tunnel; omit for plain traffic")
    demand: list[DemandSpec] = Field(min_length=1)
    plans: dict[str, PlanSpec] = Field(default_factory=dict, description="phase plans to compare")

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
