"""The hotspot scenario (``kind = "hotspot"``): a crowd scenario with ``[hotspots.NAME]`` areas run in two
dimensions, coupled to the network (:mod:`sim.hotspot.coupling`).

Everything of a crowd scenario applies; each hotspot names the ways it replaces (``match``, which must
be one stairway: steps with an incline) and the stairway's layout along them.  The ways become a zone
``hotspot_NAME`` whose gates the coupling keeps shut (people queue on the network there and are taken
in at the rate the area admits them); see ``scenarios/bund_newyear_stairs.toml``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from ..core.schema import Strict
from ..crowd.schema import CrowdScenario, Selector, ZoneSpec

__all__ = ["HotspotSpec", "HotspotScenario", "hotspot_zone_name"]

Length = Annotated[float, Field(gt=0, le=100)]


def hotspot_zone_name(name: str) -> str:
    """The zone holding the ways a hotspot replaces."""
    return f"hotspot_{name}"


class HotspotSpec(Strict):
    """A stairway run in two dimensions (collision-free speed model, docs/hotspot.md)."""

    match: Selector = Field(description="the ways the area replaces (one stairway), e.g. 'name=Chen Yi Square stairs'")
    area_buffer_m: float | None = Field(
        None, gt=0, le=20, description="draw the stairway from the map's area:highway outlines within this distance "
                                       "of its ways (flights: area:highway=steps; sim.hotspot.osm_areas); omit: lay "
                                       "it out along the ways from flights_m and landings_m")
    flights_m: list[Length] = Field(default_factory=list, description="plan length of each flight, from the foot (m)")
    landings_m: list[Length] = Field(default_factory=list, description="plan length of each landing between flights (m)")
    width_m: float | None = Field(None, gt=0, le=50, description="stair width (omit: the ways' width on the map)")
    apron_length_m: float = Field(5.0, gt=0, le=30, description="level ground in the area before the foot and after the top")
    apron_width_m: float = Field(12.0, gt=0, le=60, description="width of that level ground (at least the stair width)")
    separation: Literal["none", "one_way"] = Field(
        "none", description="'one_way': a barrier down the middle of flights and landings, up on the right, down "
                            "on the other half")
    barrier_width_m: float = Field(0.2, gt=0, le=2)
    dt_s: float = Field(0.05, ge=0.001, le=0.25, description="the area's time step; the network step must be a multiple")
    time_gap_s: float = Field(0.8, gt=0, description="CSM time gap (docs/hotspot.md: calibrated)")
    radius_m: float = Field(0.18, gt=0, le=0.5, description="body radius")
    sample_every_s: float = Field(0.5, gt=0, description="how often densities are measured")
    frame_every_s: float = Field(
        10.0, ge=0.001, le=600, description="how often the local-density field is kept as a frame of the heat map "
                                            "over time (s; at least dt_s), written to hotspot_NAME_frames.npz")
    trajectory_fps: float = Field(
        2.0, ge=0, le=20, description="frames per second written to trajectories_NAME.txt (PedPy format; 0: none)")
    num_threads: int | None = Field(1, ge=1, description="Numba threads of the area's step (omit: Numba's default)")

    @model_validator(mode="after")
    def _layout(self) -> "HotspotSpec":
        if self.area_buffer_m is not None:
            if self.flights_m or self.landings_m:
                raise ValueError("flights_m, landings_m: the stairway is drawn from the map's outlines "
                                 "(area_buffer_m); give either area_buffer_m or flights_m and landings_m")
            return self
        if not self.flights_m:
            raise ValueError("flights_m: expected the plan length of each flight from the foot (m), or "
                             "area_buffer_m to draw the stairway from the map's area:highway outlines")
        if len(self.landings_m) != len(self.flights_m) - 1:
            raise ValueError(f"landings_m: expected {len(self.flights_m) - 1} landing(s) between "
                             f"{len(self.flights_m)} flights, got {len(self.landings_m)}")
        if self.width_m is not None and self.apron_width_m < self.width_m:
            raise ValueError(f"apron_width_m ({self.apron_width_m!r}) must be at least width_m ({self.width_m!r})")
        return self


class HotspotScenario(CrowdScenario):
    """A crowd scenario with hotspots run in two dimensions."""

    kind: Literal["hotspot"] = "hotspot"
    hotspots: dict[str, HotspotSpec] = Field(min_length=1, description="areas run in two dimensions")

    @model_validator(mode="after")
    def _hotspot_zones(self) -> "HotspotScenario":
        problems = []
        for name in self.hotspots:
            if not name.isidentifier():
                problems.append(f"hotspots.{name}: names are letters, digits and _ (got {name!r})")
            if hotspot_zone_name(name) in self.zones:
                problems.append(f"zones.{hotspot_zone_name(name)}: this zone name is the hotspot's own")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def network_scenario(self) -> "HotspotScenario":
        """The scenario the network engine runs: each hotspot's ways as a zone of their own."""
        zones = dict(self.zones)
        for name, spec in self.hotspots.items():
            zones[hotspot_zone_name(name)] = ZoneSpec(match=spec.match)
        return self.model_copy(update={"zones": zones})
