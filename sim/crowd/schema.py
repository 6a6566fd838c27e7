"""The crowd scenario (``kind = "crowd"``): a night at a viewing area, its zones, exits and sources.

See ``scenarios/bund_lightshow_*.toml`` for annotated examples.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from ..core.schema import Profile, ScenarioBase, Strict
from ..core.weather import WeatherSpec

__all__ = ["CrowdScenario", "SimulationSpec", "CrowdSpec", "ShowSpec", "ZoneSpec", "ViewingSpec", "ExitSpec",
           "SourceSpec"]


class SimulationSpec(Strict):
    duration_s: float = Field(gt=0, description="simulated time (s)")
    dt_s: float = Field(1.0, gt=0, le=5, description="time step (s)")
    seed: int = Field(0, ge=0)
    route_interval_s: float = Field(60.0, gt=0, description="how often routes follow congestion (s)")
    max_cell_m: float = Field(100.0, gt=0, description="longest cell a link is split into (m)")


class CrowdSpec(Strict):
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


class ShowSpec(Strict):
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


class ZoneSpec(Strict):
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



class CrowdScenario(ScenarioBase):
    """A validated crowd scenario (see ``scenarios/*.toml`` for annotated examples)."""

    kind: Literal["crowd"] = "crowd"
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

    @model_validator(mode="after")
    def _cross_checks(self) -> "CrowdScenario":
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
    def main_zone(self) -> str:
        if self.primary_zone is not None:
            return self.primary_zone
        return "promenade" if "promenade" in self.zones else next(iter(self.zones))

    @property
    def raining(self) -> bool:
        return self.weather.rain_mm_per_h > 0
