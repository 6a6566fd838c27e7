"""sim.crowd.state: copies, demand changed mid-run, rain mid-run, corrections booked as flows."""

from __future__ import annotations

import numpy as np
import pytest

from sim.core.errors import ConservationError, SimError
from sim.crowd import kernels as K
from sim.crowd.model import CrowdModel
from sim.crowd.state import (copy_model, move_people, rain_of, rescale_future_arrivals, rescale_future_demand,
                             scale_walking_speed, set_rain)


def _run(model, steps):
    for _ in range(steps):
        model.step()


def _pending_of(engine, source):
    k = engine.n_active - engine.n_placed
    return int(np.count_nonzero(engine.arrivals.source[k:] == source))


def test_a_copy_follows_the_original_exactly_and_is_independent(night):
    model = CrowdModel(night, seed=1)
    _run(model, 200)
    copy = copy_model(model, np.random.default_rng(9))
    model.rng = model.engine.rng = np.random.default_rng(9)      # same stream: same future
    before = model.engine.agents.pos_m.copy()
    _run(copy, 150)
    assert np.array_equal(model.engine.agents.pos_m, before)    # stepping the copy leaves the original alone
    _run(model, 150)
    for name in ("state", "edge", "pos_m"):
        assert np.array_equal(getattr(model.engine.agents, name), getattr(copy.engine.agents, name))
    assert np.array_equal(model.engine.zone_occupancy, copy.engine.zone_occupancy)
    assert copy.engine.arrays is model.engine.arrays               # immutable parts shared
    assert len(copy.agents) == len(model.agents)                   # controllers copied into the copy's Mesa model
    copy.gates["plaza"].cap = 1
    assert model.gates["plaza"].cap == 2500


def test_demand_rescaled_mid_run_keeps_order_and_scales_only_that_source(night):
    model = CrowdModel(night, seed=2)
    _run(model, 150)
    e = model.engine
    west, north = _pending_of(e, 0), _pending_of(e, 1)
    rng = np.random.default_rng(0)
    change = rescale_future_arrivals(e, 0, 2.0, rng)
    assert _pending_of(e, 1) == north
    assert abs(_pending_of(e, 0) - 2 * west) < 4 * np.sqrt(west)           # Poisson companions: 2x in expectation
    assert change == _pending_of(e, 0) - west
    pend = e.arrivals.time_s[e.n_active - e.n_placed:]
    assert np.all(np.diff(pend) >= 0) and pend.min() > e.t_s - e.arrays.dt_s and e.n_agents == e.arrival_time_s.size
    rescale_future_demand(e, [0.25, 0.0], rng)
    assert _pending_of(e, 1) == 0 and abs(_pending_of(e, 0) - 0.5 * west) < 4 * np.sqrt(west)
    model.engine.check_every_steps = 1
    _run(model, 300)                                    # recounted every step: nobody lost
    assert e.n_active + _pending_of(e, 0) == e.n_agents
    with pytest.raises(SimError, match="factors must be 2 finite numbers"):
        rescale_future_demand(e, [1.0, -1.0], rng)


def test_rain_mid_run_swaps_the_weather_and_rescales_speeds(night):
    model = CrowdModel(night, seed=3)
    e = model.engine
    assert rain_of(e) == 10.0
    wet_jam, v = e.arrays.rho_jam_ppm2, e.agents.v0_mps.copy()
    set_rain(e, 0.0)
    assert e.arrays.rho_jam_ppm2 == pytest.approx(night.crowd.rho_max_ppm2) and wet_jam < e.arrays.rho_jam_ppm2
    assert np.allclose(e.agents.v0_mps, v / night.weather.rain_free_speed_factor)
    assert e.arrays.params.walk_f_ppm2 > 1.9                      # dry LOS F threshold (2.17 p/m2)
    set_rain(e, 3.0)
    assert rain_of(e) == 3.0 and np.allclose(e.agents.v0_mps, v)  # umbrellas again
    scale_walking_speed(e, 1.1)
    assert np.allclose(e.agents.v0_mps, 1.1 * v)
    _run(model, 100)


def test_corrections_are_booked_as_flows_and_recounted(night):
    model = CrowdModel(night, seed=4)
    _run(model, 300)
    e = model.engine
    rng = np.random.default_rng(1)
    plaza, square = 0, 1
    before = e.zone_occupancy.copy()
    inside = e.inside
    moved = move_people(e, plaza, 150, rng)
    assert moved.moved == 150 and e.zone_occupancy[plaza] == before[plaza] + 150
    assert moved.zone_change[plaza] == 150
    assert e.inside == inside + moved.from_future           # walkers and people at sources were inside already
    out = move_people(e, plaza, -100, rng)
    assert out.moved == -100 and out.to_sources + out.to_exits == 100
    assert e.zone_occupancy[plaza] == before[plaza] + 50
    sq = move_people(e, square, 40, rng)
    assert sq.zone_change[square] == sq.moved
    counts = e.state_counts()
    assert counts["exited"] == e.exited
    _run(model, 200)                                       # the run goes on from the corrected state


def test_a_broken_count_is_caught_by_the_recount(night):
    model = CrowdModel(night, seed=4)
    _run(model, 300)
    e = model.engine
    c = int(np.flatnonzero(e.cells.count > 0)[0])
    e.cells.count[c] += 1                                  # someone counted twice
    with pytest.raises(ConservationError):
        move_people(e, 0, 10, np.random.default_rng(0))


def test_taking_people_out_before_the_end_sends_them_back_to_their_source(night):
    model = CrowdModel(night, seed=6)
    _run(model, 400)
    e = model.engine
    out = move_people(e, 0, -30, np.random.default_rng(2))
    assert out.to_sources == 30 and out.to_exits == 0
    assert int(np.count_nonzero(e.agents.state[:e.n_active] == K.AT_SOURCE)) >= 30
