"""The bikes scenario (``kind = "bikes"``): a metro station's exits, bike pools and redistribution plans."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from ..core.schema import MAX_DURATION_S, Profile, ScenarioBase, Strict
from ..core.weather import WeatherSpec

__all__ = ["BikeScenario", "BikeSimulationSpec", "StationSpec", "ExitChoiceSpec", "BikeDemandSpec", "PoolSpec",
           "VanSpec", "BikePlanSpec"]


#: Smallest step: with MAX_DURATION_S, steps = duration_s / dt_s <= 6 million.
MIN_DT_S = 0.1


class BikeSimulationSpec(Strict):
    duration_s: float = Field(gt=0, le=MAX_DURATION_S, description="simulated time (s); an evening, at most a week")
    dt_s: float = Field(10.0, ge=MIN_DT_S, le=60, description="time step (s)")
    seed: int = Field(0, ge=0)
    start_clock: str = Field("00:00", pattern=r"^\d{1,2}:\d{2}$", description="wall clock at t=0, for plots")


class StationSpec(Strict):
    name: str = Field(description="station name; its exits are the subway_entrance nodes named '<name> ...'")
    exits: list[int | str] = Field(default_factory=list, description="exit nodes (default: found by name)")
    headway_s: float = Field(180.0, gt=0, description="a train every this many seconds (both lines together)")
    alighting: Profile = Field(description="(minute, passengers alighting per train) points, linear in between")
    underground_speed_mps: float = Field(1.2, gt=0, description="walking speed from platform to exit")
    underground_detour: float = Field(1.4, ge=1, description="underground walk / straight line, platform to exit")


class ExitChoiceSpec(Strict):
    """Logit exit choice (the project's documented assumption: no published study of exit choice to
    avoid rain was found, docs/sources.md)."""
    time_weight_per_min: float = Field(1.0, gt=0, description="disutility of one minute of walking")
    rain_weight_per_100m: float = Field(
        0.05, ge=0, description="disutility of 100 m walked in the open, per mm/h of rain")
    ride_speed_mps: float = Field(3.75, gt=0, description="riding speed to the destination (13.5 km/h)")


class BikeDemandSpec(Strict):
    destinations: dict[str, float] = Field(min_length=1, description="destination node name -> weight")
    bike_share_dry: float = Field(0.06, ge=0, le=1, description="share of alighting passengers who want a bike")
    rain_drop_per_mm_h: float = Field(
        0.106, ge=0, lt=1, description="share falls by this fraction per mm/h (Tin Tin et al. 2012: 10.6%)")
    rain_cap_mm_h: float = Field(20.0, gt=0, description="the rain effect levels off here (Liu et al. 2025)")
    returns_per_h: Profile = Field(description="(minute, bikes returned per hour at all pools together) in dry weather")
    max_detour_m: float = Field(300.0, ge=0, description="a rider finding no bike walks this far to another pool")


    @field_validator("destinations")
    @classmethod
    def _weights(cls, value: dict[str, float]) -> dict[str, float]:
        bad = {k: v for k, v in value.items() if v <= 0}
        if bad:
            raise ValueError(f"weights must be positive, got {bad!r}")
        return value


class PoolSpec(Strict):
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


class VanSpec(Strict):
    count: int = Field(2, ge=1, le=1000, description="vans of the operator at this station (at most 1000)")
    capacity: int = Field(20, ge=1, description="bikes per van")
    depot: int | str = Field(description="map node where vans start")
    load_s_per_bike: float = Field(15.0, ge=0, description="loading or unloading time per bike")
    replan_interval_s: float = Field(
        1800.0, gt=0, description="optimised: re-plan this often; every move planned must be done by the next")
    horizon_s: float = Field(3600.0, gt=0, description="optimised: each plan covers the forecast need this far ahead")
    safety_share: float = Field(0.1, ge=0, description="optimised: target stock above the forecast need")


class BikePlanSpec(Strict):
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


class BikeScenario(ScenarioBase):
    """A validated bike scenario: a station's exits, bike pools and redistribution plans."""

    kind: Literal["bikes"]
    simulation: BikeSimulationSpec
    weather: WeatherSpec = WeatherSpec()
    station: StationSpec
    exit_choice: ExitChoiceSpec = ExitChoiceSpec()
    demand: BikeDemandSpec
    pools: dict[str, PoolSpec] = Field(min_length=1)
    vans: VanSpec
    plans: dict[str, BikePlanSpec] = Field(min_length=1)

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


    @property
    def raining(self) -> bool:
        return self.weather.rain_mm_per_h > 0
