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
import shapely.affinity
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
        """The area laid out along the way: rectangular flights and landings of the layout's lengths."""
        problems = layout.problems()
        if problems:
            raise GeometryError(problems)
        a, w = layout.apron_length_m, layout.width_m / 2
        pieces, x = [], a
        for k, flight in enumerate(layout.flights_m):
            pieces.append(("flight", box(x, -w, x + flight, w)))
            x += flight
            if k < len(layout.landings_m):
                pieces.append(("landing", box(x, -w, x + layout.landings_m[k], w)))
                x += layout.landings_m[k]
        x_top = a + layout.stair_length_m
        return cls._assemble(layout, pieces, box(a, -w, x_top, w), x_top)

    @classmethod
    def from_outlines(cls, pieces: Sequence[tuple[str, Polygon]], *, apron_length_m: float = 5.0,
                      apron_width_m: float = 12.0, separation: str = "none", barrier_width_m: float = 0.2,
                      up_speed_mps: float = 0.58, down_speed_mps: float = 0.81, field_cell_m: float = 0.1,
                      field: str = "areas") -> "StairArea":
        """The area from drawn outlines (e.g. the map's ``area:highway`` polygons): ``pieces`` are
        ``("flight" | "landing", polygon)`` in the way's frame (``x`` along the way upwards, ``y``
        across, any origin); they must join into one stairway.  Level aprons are added at both ends as
        in :meth:`build`; the layout recorded has the pieces' lengths along the way and their width."""
        if not pieces or not any(kind == "flight" for kind, _ in pieces):
            raise GeometryError([f"{field}: expected at least one stair flight (area:highway=steps), "
                                 f"found {[kind for kind, _ in pieces]!r}"])
        x_min = min(p.bounds[0] for _, p in pieces)
        shifted = [(kind, shapely.affinity.translate(p, apron_length_m - x_min, 0.0))
                   for kind, p in sorted(pieces, key=lambda kp: kp[1].bounds[0])]
        outline = shapely.union_all([p for _, p in shifted])
        if outline.geom_type != "Polygon":
            raise GeometryError([f"{field}: the flights and landings do not join into one stairway "
                                 f"({outline.geom_type} of {len(shifted)} pieces); draw them edge to edge"])
        width = 2 * max(abs(outline.bounds[1]), abs(outline.bounds[3]))
        flights = tuple(p.bounds[2] - p.bounds[0] for kind, p in shifted if kind == "flight")
        landings = tuple(p.bounds[2] - p.bounds[0] for kind, p in shifted if kind != "flight")
        layout = StairLayout(width_m=width, flights_m=flights, landings_m=landings[:max(len(flights) - 1, 0)],
                             apron_length_m=apron_length_m, apron_width_m=max(apron_width_m, width),
                             separation=separation, barrier_width_m=barrier_width_m, up_speed_mps=up_speed_mps,
                             down_speed_mps=down_speed_mps, field_cell_m=field_cell_m)
        problems = [f"{field}: {p}" for p in layout.problems() if not p.startswith("landings_m")]
        if problems:
            raise GeometryError(problems)
        return cls._assemble(layout, shifted, outline, outline.bounds[2])

    @classmethod
    def _assemble(cls, layout: StairLayout, pieces: Sequence[tuple[str, Polygon]], outline: Polygon,
                  x_top: float) -> "StairArea":
        """Aprons, barrier, stairs, measurement areas, entries and exits around the stairway ``outline``
        made of ``pieces`` (flights and landings), from ``x = apron_length_m`` to ``x_top``."""
        a = layout.apron_length_m
        wa = max(layout.apron_width_m, layout.width_m) / 2
        x_end = x_top + a
        # Drawn outlines need not end square to the way: the aprons reach to the outline's farthest
        # point at each end, so no sliver of ground is left between them (laid-out boxes: no change).
        xs = [x for x, _ in outline.exterior.coords]
        foot_reach = max([x for x in xs if x <= a + 1.0], default=a)
        top_reach = min([x for x in xs if x >= x_top - 1.0], default=x_top)
        parts = [box(0.0, -wa, max(a, foot_reach), wa), outline, box(min(x_top, top_reach), -wa, x_end, wa)]
        area = shapely.union_all(parts)
        if area.geom_type != "Polygon":
            raise GeometryError([f"stairway: the aprons and the stairs do not join into one area ({area.geom_type})"])
        if layout.separation == "one_way":
            t = layout.barrier_width_m / 2
            area = area.difference(box(-1.0, -t, x_end + 1.0, t))
        stairs, areas = [], {}
        k_flight = k_landing = 0
        for kind, poly in pieces:
            if kind == "flight":
                k_flight += 1
                stairs.append(Stair(name=f"flight_{k_flight}", polygon=poly, up=(1.0, 0.0),
                                    up_speed_mps=layout.up_speed_mps, down_speed_mps=layout.down_speed_mps))
                areas[f"flight_{k_flight}"] = poly
            else:
                k_landing += 1
                areas[f"landing_{k_landing}"] = poly
        areas["stairs"] = outline                            # flights and landings together
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
