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


def test_hotspot_errors_are_the_shared_errors():
    """One house for errors: the CLI turns every SimError into one clean message (exit 2) and a
    ConservationError into a stopped run (exit 3); hotspot errors are both kinds too."""
    from sim.core import errors as shared
    from sim.hotspot.errors import ConservationError, GeometryError, ParameterError
    assert issubclass(GeometryError, shared.SimError) and issubclass(ParameterError, shared.SimError)
    assert issubclass(ConservationError, shared.ConservationError)
    err = ConservationError("inserted 3 != inside 2 + removed 0")
    assert str(err) == "inserted 3 != inside 2 + removed 0" and isinstance(err, ValueError)


# ------------------------------------------------------------------ a stairway drawn on the map

def _bund_network():
    from sim.core.osm import load_network
    from tests.conftest import ROOT
    return load_network(ROOT / "maps" / "bund.osm")


def test_the_bund_map_draws_the_chen_yi_square_stairs_as_outlines_kept_off_the_network():
    """maps/bund.osm outlines the two flights and the landing (area:highway=steps / pedestrian); the
    loader keeps them as Network.areas, not as ways to walk along."""
    net = _bund_network()
    kinds = sorted(a["tags"]["area:highway"] for a in net.areas)
    assert kinds == ["pedestrian", "steps", "steps"]
    assert not any("flight" in name or "landing" in name for name in net.link_name)


def test_stair_outlines_from_the_map_have_the_drawn_plan_lengths():
    """The outlines, turned into the stairway's frame, measure what build_bund_map.py drew (2.7 m,
    3.0 m, 2.4 m, 6 m wide) within 1% (the map's projection against the builder's flat degrees)."""
    from sim.hotspot.layout import StairArea
    from sim.hotspot.osm_areas import stair_outlines
    net = _bund_network()
    links = net.links_where("name", "Chen Yi Square stairs")
    u, v = net.link_u[links[0]], net.link_v[links[0]]
    pieces = stair_outlines(net, links, (net.node_x_m[u], net.node_y_m[u]), (net.node_x_m[v], net.node_y_m[v]),
                            1.0, "hotspots.s.area_buffer_m")
    area = StairArea.from_outlines(pieces)
    assert area.layout.flights_m == pytest.approx((2.7, 2.4), rel=0.01)
    assert area.layout.landings_m == pytest.approx((3.0,), rel=0.01)
    assert area.layout.width_m == pytest.approx(6.0, rel=0.01)
    assert area.areas["landing_1"].area == pytest.approx(18.0, rel=0.02)
    assert area.walkable.geom_type == "Polygon"
    with pytest.raises(GeometryError, match=r"hotspots\.s\.area_buffer_m: no area:highway outline within 0\.5 m"):
        stair_outlines(net, net.links_where("name", "Dianchi Road stairs"), (0.0, 0.0), (1.0, 0.0), 0.5,
                       "hotspots.s.area_buffer_m")


def test_outlines_that_do_not_join_or_hold_no_flight_are_geometry_errors():
    from sim.hotspot.layout import StairArea
    with pytest.raises(GeometryError, match=r"areas: the flights and landings do not join"):
        StairArea.from_outlines([("flight", box(0, -3, 2.7, 3)), ("flight", box(3.0, -3, 5.4, 3))])
    with pytest.raises(GeometryError, match=r"areas: expected at least one stair flight"):
        StairArea.from_outlines([("landing", box(0, -3, 3, 3))])


@pytest.mark.parametrize("keys, message", [
    ({"area_buffer_m": 1.0, "flights_m": [2.7]}, "give either area_buffer_m or flights_m"),
    ({}, "flights_m: expected the plan length of each flight"),
])
def test_a_stairway_is_drawn_either_from_the_map_or_from_lengths(keys, message):
    from sim.hotspot.schema import HotspotSpec
    with pytest.raises(ValueError, match=message):
        HotspotSpec(match="name=Chen Yi Square stairs", **keys)
