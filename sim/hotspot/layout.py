"""A stairway as a hotspot area: flights and landings along a network way, with level aprons at both
ends and, optionally, a barrier down the middle that separates the two directions (one-way lanes).

The area is drawn in its own frame: ``x`` runs along the way from the outer edge of the foot apron
(``x = 0``) up to the outer edge of the top apron; ``y`` runs across, 0 on the way's centre line.
The foot and the top of the area are the two ends where it meets the walk network: walkers come in
through an entry segment on the apron's outer edge and leave through an exit segment there.

* ``separation = "none"``: both ends' whole outer edges are entries and exits (two streams meet);
* ``separation = "one_way"``: a barrier of ``barrier_width_m`` runs down the middle of the whole area,
  aprons included (the streams are channelled apart before they reach the stairs; a barrier over
  the flights and landings alone let people coming down spread over the top apron and into the up
  lane); people keep right: walkers going up use the ``y < 0`` half, those going down the
  ``y > 0`` half.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import shapely
from shapely.geometry import Polygon, box

from .errors import GeometryError
from .geometry import HotspotGeometry, Stair

__all__ = ["StairLayout", "StairArea", "ENDS"]

#: The two ends of a stair area, in the order of the way (foot = lower end).
ENDS = ("foot", "top")


@dataclass(frozen=True, kw_only=True)
class StairLayout:
    """Dimensions of a stairway hotspot (m; plan lengths along the way)."""

    width_m: float
    flights_m: Sequence[float]
    landings_m: Sequence[float]
    apron_length_m: float = 5.0
    apron_width_m: float = 12.0
    separation: str = "none"
    barrier_width_m: float = 0.2
    up_speed_mps: float = 0.58
    down_speed_mps: float = 0.81
    field_cell_m: float = 0.1

    def problems(self) -> list[str]:
        out = []
        if not self.width_m > 0:
            out.append(f"width_m: expected a positive width, got {self.width_m!r}")
        if not self.flights_m or any(not f > 0 for f in self.flights_m):
            out.append(f"flights_m: expected one or more positive lengths, got {list(self.flights_m)!r}")
        if len(self.landings_m) != max(len(self.flights_m) - 1, 0) or any(not x > 0 for x in self.landings_m):
            out.append(f"landings_m: expected {max(len(self.flights_m) - 1, 0)} positive length(s) (one between "
                       f"each two flights), got {list(self.landings_m)!r}")
        if not self.apron_length_m > 0:
            out.append(f"apron_length_m: expected a positive length, got {self.apron_length_m!r}")
        if not self.apron_width_m >= self.width_m:
            out.append(f"apron_width_m: expected at least width_m ({self.width_m!r}), got {self.apron_width_m!r}")
        if self.separation not in ("none", "one_way"):
            out.append(f"separation: expected 'none' or 'one_way', got {self.separation!r}")
        if not 2 * self.field_cell_m <= self.barrier_width_m < self.width_m / 2:
            out.append(f"barrier_width_m: expected at least two field cells ({2 * self.field_cell_m!r} m) and "
                       f"under half the width, got {self.barrier_width_m!r}")
        return out

    @property
    def stair_length_m(self) -> float:
        return float(sum(self.flights_m) + sum(self.landings_m))

    @property
    def length_m(self) -> float:
        return self.stair_length_m + 2 * self.apron_length_m


@dataclass
class StairArea:
    """The built area: geometry, the entry and exit names at each end, and the measurement areas."""

    layout: StairLayout
    geometry: HotspotGeometry
    entry_at: dict[str, str]                 # end -> entry name
    exit_at: dict[str, str]                  # end -> exit name
    areas: dict[str, Polygon] = field(default_factory=dict)   # measurement areas (landing_1, flight_1, ...)
    walkable: Polygon | None = None

    @classmethod
    def build(cls, layout: StairLayout) -> "StairArea":
        problems = layout.problems()
        if problems:
            raise GeometryError(problems)
        a, w, wa = layout.apron_length_m, layout.width_m / 2, layout.apron_width_m / 2
        x_end = layout.length_m
        x_top = a + layout.stair_length_m
        parts = [box(0.0, -wa, a, wa), box(a, -w, x_top, w), box(x_top, -wa, x_end, wa)]
        area = shapely.union_all(parts)
        if layout.separation == "one_way":
            t = layout.barrier_width_m / 2
            area = area.difference(box(-1.0, -t, x_end + 1.0, t))
        stairs, areas = [], {}
        x = a
        k_flight = k_landing = 0
        for k, flight in enumerate(layout.flights_m):
            k_flight += 1
            poly = box(x, -w, x + flight, w)
            stairs.append(Stair(name=f"flight_{k_flight}", polygon=poly, up=(1.0, 0.0),
                                up_speed_mps=layout.up_speed_mps, down_speed_mps=layout.down_speed_mps))
            areas[f"flight_{k_flight}"] = poly
            x += flight
            if k < len(layout.landings_m):
                k_landing += 1
                areas[f"landing_{k_landing}"] = box(x, -w, x + layout.landings_m[k], w)
                x += layout.landings_m[k]
        areas["stairs"] = box(a, -w, x_top, w)              # flights and landings together
        areas["foot_apron"] = box(0.0, -wa, a, wa)
        areas["top_apron"] = box(x_top, -wa, x_end, wa)
        if layout.separation == "one_way":
            # keep right: up on y < 0, down on y > 0
            t = layout.barrier_width_m / 2
            entries = {"foot_in": ((0.0, -t), (0.0, -wa)), "top_in": ((x_end, t), (x_end, wa))}
            exits = {"foot_out": ((0.0, wa), (0.0, t)), "top_out": ((x_end, -wa), (x_end, -t))}
        else:
            entries = {"foot_in": ((0.0, wa), (0.0, -wa)), "top_in": ((x_end, -wa), (x_end, wa))}
            exits = {"foot_out": ((0.0, wa), (0.0, -wa)), "top_out": ((x_end, -wa), (x_end, wa))}
        geometry = HotspotGeometry(area, exits=exits, entries=entries, stairs=stairs,
                                   field_cell_m=layout.field_cell_m)
        return cls(layout=layout, geometry=geometry, entry_at={"foot": "foot_in", "top": "top_in"},
                   exit_at={"foot": "foot_out", "top": "top_out"}, areas=areas, walkable=area)
