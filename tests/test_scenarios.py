"""The shipped Bund light-show scenarios: the numbers a safety team reads (seeded regression)."""

import numpy as np
import pytest

from sim.crowd.compile import compile_crowd
from sim.crowd.model import CrowdModel
from sim.kinds import load_scenario
from tests.conftest import ROOT

DRY = ROOT / "scenarios" / "bund_lightshow_dry.toml"
RAIN = ROOT / "scenarios" / "bund_lightshow_rain.toml"


@pytest.fixture(scope="module")
def dry_run():
    model = CrowdModel(load_scenario(DRY))
    return model, model.run()


@pytest.fixture(scope="module")
def rain_run():
    model = CrowdModel(load_scenario(RAIN))
    return model, model.run()


def test_dry_uncapped_peaks_near_117000_and_reaches_los_f(dry_run):
    model, summary = dry_run
    # Seed (FACTS.md): up to 117,000 people on the promenade at peak; tolerance 5%.
    assert summary["peak_occupancy"]["promenade"] == pytest.approx(117_000, rel=0.05)
    # Fruin LOS F (> 2.17 p/m2) is reached somewhere on the promenade.
    assert summary["peak_density_ppm2"]["promenade"] > 2.17
    assert summary["seconds_at_los_f"]["promenade"] > 0
    assert summary["agents_conserved"]
    # The body limit is never exceeded anywhere (Weidmann rho_max 5.4 p/m2).
    assert model.recorder.cell_peak_density.max() <= 5.4 + 1e-9


def test_rain_cap_60000_holds_every_step(rain_run):
    model, summary = rain_run
    rec = model.recorder
    occ = rec.occupancy[: rec.n, model.engine.arrays.zone_names.index("promenade")]
    assert occ.max() <= 60_000
    assert summary["peak_occupancy"]["promenade"] == 60_000      # the demand presses against the cap
    assert summary["max_gate_queue"] > 0 and summary["gate_wait_s_p95"] > 0
    assert summary["agents_conserved"]
    assert summary["clearance_s"] is not None


def test_rain_lowers_the_density_of_each_los_level():
    dry = compile_crowd(load_scenario(DRY))
    rain = compile_crowd(load_scenario(RAIN))
    assert (rain.los_thresholds_ppm2 < dry.los_thresholds_ppm2).all()
    assert rain.rho_jam_ppm2 < dry.rho_jam_ppm2 and rain.v0_mps < dry.v0_mps
    assert rain.q_max_ppms < dry.q_max_ppms


def test_rain_cap_keeps_the_standing_crowd_below_los_f(rain_run):
    # While the show is on (people standing, gates shut at the cap), no promenade cell reaches the
    # rain-adjusted LOS F density.
    model, _ = rain_run
    rec = model.recorder
    z = model.engine.arrays.zone_names.index("promenade")
    show = model.scenario.show
    during = slice(int(show.start_s / rec.dt_s), int(show.end_s / rec.dt_s))
    assert rec.max_density[during, z].max() < model.engine.arrays.los_thresholds_ppm2[-1]


def test_rain_cap_stays_below_los_f_over_the_whole_run(rain_run):
    """With the cap, a 3 m walking aisle and the marshalled release (sections held while their
    densest cell is at 1.5 p/m2 or more), no promenade cell reaches the rain-adjusted LOS F density
    at any step of the night, arrivals and departure included."""
    _, summary = rain_run
    assert summary["seconds_at_los_f"]["promenade"] == 0


def test_shelter_preference_in_rain_makes_uncovered_walking_costlier():
    dry = compile_crowd(load_scenario(DRY))
    rain = compile_crowd(load_scenario(RAIN))
    assert dry.shelter_factor == 1.0 and rain.shelter_factor > 1.0
    street = list(rain.exit_names).index("street")
    lo, hi = rain.exit_seed_start[street], rain.exit_seed_start[street + 1]
    assert (rain.exit_seed_penalty_s[lo:hi] > 0).all()
    assert np.all(dry.exit_seed_penalty_s == 0)


def test_marshalled_release_holds_sections_and_everyone_leaves(rain_run):
    model, summary = rain_run
    show = model.show
    assert all(n > 0 for n in show.released)           # every section was sent home
    assert sum(show.held_seconds) > 0                   # and the stewards had to hold someone
    assert summary["agents_exited"] == summary["agents_total"]


def test_marshalled_release_never_stalls_an_overfull_promenade():
    """At cap 80,000 the promenade jams (more people than viewing room in rain); the stewards' hold
    must still let every section go (no hold longer than release_max_hold_s), so the crowd clears."""
    model = CrowdModel(load_scenario(RAIN, ["zones.promenade.cap=80000"]))
    summary = model.run()
    assert all(n > 0 for n in model.show.released)
    assert summary["clearance_s"] is not None
    assert summary["agents_exited"] >= 0.99 * summary["agents_total"]
    assert summary["agents_conserved"]
