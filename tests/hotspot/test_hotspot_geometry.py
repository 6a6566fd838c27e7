"""Geometry tests: walls, goals, entries, stairs and their validation messages."""

from __future__ import annotations

import numpy as np
import pytest
from shapely.geometry import Polygon, box

from sim.hotspot import GeometryError, HotspotGeometry, Stair


def _wall_length(g: HotspotGeometry) -> float:
    return float(np.hypot(g.walls[:, 2] - g.walls[:, 0], g.walls[:, 3] - g.walls[:, 1]).sum())


def test_exit_on_the_boundary_is_an_opening_in_the_wall():
    g = HotspotGeometry(box(0, 0, 10, 4), exits={"e": ((10, 1), (10, 3))})
    assert _wall_length(g) == pytest.approx(28.0 - 2.0)
    assert g.exit_outward[0].tolist() == [1.0, 0.0]
    assert not g.los_walls.any()                     # a convex room hides nobody


def test_inside_exit_and_hidden_walls_of_a_non_convex_area():
    area = Polygon([(0, 0), (12, 0), (12, 12), (10, 12), (10, 2), (0, 2)])
    g = HotspotGeometry(area, exits={"line": ((10, 6), (12, 6))})
    assert g.exit_outward[0].tolist() == [0.0, 0.0]
    assert _wall_length(g) == pytest.approx(area.length)
    hidden = {frozenset([(w[0], w[1]), (w[2], w[3])]) for w in np.round(g.walls[g.los_walls], 6).tolist()}
    assert hidden == {frozenset([(0.0, 2.0), (10.0, 2.0)]), frozenset([(10.0, 2.0), (10.0, 12.0)])}


def test_list_of_polygons_is_their_union():
    g = HotspotGeometry([box(0, 0, 5, 2), box(5, 0, 10, 2)], exits={"e": ((10, 0), (10, 2))})
    assert g.area.area == pytest.approx(20.0)


def test_errors_name_every_bad_field():
    with pytest.raises(GeometryError) as err:
        HotspotGeometry(box(0, 0, 10, 4), exits={"far": ((20, 0), (20, 4)), "bad": "nonsense"},
                        entries={"mid": ((5, 1), (5, 3))}, field_cell_m=2.0)
    text = str(err.value)
    assert "exits['far']: must lie on the boundary or inside the area" in text
    assert "exits['bad']: expected a segment" in text
    assert "entries['mid']: must lie on the boundary of the area" in text
    assert "field_cell_m: expected 0.02-0.5 m, got 2.0" in text


def test_goal_names_must_be_unique_and_present():
    with pytest.raises(GeometryError, match="repeated"):
        HotspotGeometry(box(0, 0, 10, 4), exits={"a": ((10, 0), (10, 4))}, entries={"a": ((0, 0), (0, 4))})
    with pytest.raises(GeometryError, match="at least one goal"):
        HotspotGeometry(box(0, 0, 10, 4))


def test_stair_raster_and_validation():
    st = Stair(name="s", polygon=box(2, 0, 4, 4), up=(0.0, 2.0))
    g = HotspotGeometry(box(0, 0, 10, 4), exits={"e": ((10, 0), (10, 4))}, stairs=[st])
    assert g.stair_up[0].tolist() == [0.0, 1.0]
    covered = (g.stair_id == 0).sum() * g.field_cell_m ** 2
    assert covered == pytest.approx(8.0, rel=0.05)
    with pytest.raises(GeometryError, match=r"stairs\['t'\].up: expected a non-zero vector"):
        HotspotGeometry(box(0, 0, 10, 4), exits={"e": ((10, 0), (10, 4))},
                        stairs=[Stair(name="t", polygon=box(2, 0, 4, 4), up=(0.0, 0.0))])


def test_periodic_corridor_has_no_end_walls():
    g = HotspotGeometry(box(0, 0, 10, 2), directions={"east": (1, 0)}, periodic_x=True)
    assert _wall_length(g) == pytest.approx(20.0)
    assert g.period_x_m == 10.0
