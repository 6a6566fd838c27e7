"""The live twin against hidden truths of the small night (same model, another seed, other demand,
rain onset): tracking, early warning, bad records, determinism, what-ifs."""

from __future__ import annotations

import csv
import logging

import numpy as np
import pytest

from live_night import small_night
from sim.live.feed import BadLine, Record
from sim.live.replay import Dropout, TruthSpec
from sim.live.skill import crps_ensemble, score_warning, track


def _lead_errors(tracked, zone: str, lead_min: int):
    """Per forecast (as is): CRPS of the zone's occupancy ``lead_min`` ahead, and its median's absolute
    error, against the truth."""
    z = tracked.zone_names.index(zone)
    crps, err = [], []
    for fc in tracked.forecasts:
        if fc.measure is not None:
            continue
        occ = fc.stack("occupancy")
        if occ.shape[1] <= lead_min:
            continue
        y = tracked.truth_at(zone, fc.t_s + 60 * lead_min)
        if y is None:
            continue
        x = occ[:, lead_min, z]
        crps.append(crps_ensemble(x, fc.weights, y))
        order = np.argsort(x)
        cum = np.cumsum(fc.weights[order])
        err.append(abs(x[order][np.searchsorted(cum, 0.5)] - y))
    return np.array(crps), np.array(err)


def _rain_only(records):
    return [r for r in records if r.sensor == "rain_gauge"]


def _demand_over_the_fill(tracked, out_dir, zone: str = "plaza", from_s: float = 600.0) -> dict[str, float]:
    """Each source's demand multiplier as the twin estimated it (``cycles.csv``), averaged over the cycles
    from ``from_s`` (the prior forgotten) until the truth's ``zone`` is full (from then on its gates hold
    everyone and the counts say no more about demand)."""
    full_s = tracked.full_time(zone) or np.inf
    with open(out_dir / "cycles.csv") as fh:
        rows = [r for r in csv.DictReader(fh) if from_s <= float(r["t_s"]) < full_s]
    assert len(rows) >= 10, len(rows)
    names = tracked.truth.arrays.source_names
    return {name: float(np.mean([float(r[f"demand:{name}"]) for r in rows])) for name in names}


def test_a_noise_free_truth_is_tracked_where_it_is_not_counted_and_ahead(tmp_path):
    """Judged on the square (no sensor) now and on the plaza 10 minutes ahead, against the same
    ensemble fed no counts (rain only): assimilation must cut both errors clearly.

    The hidden demand (x1.3; prior 1.0) is judged on the twin's estimates averaged over the fill (from
    minute 10 until the plaza is full), on what the counts identify: the counted source (west, its own
    entry counter) and the demand overall (the plaza's gate and occupancy counts), within 0.25.  The
    uncounted source (north) is seen only as the plaza's gate count less the west's entries, and only
    until the plaza fills: forward runs at west x1.3 show that signal resolves north's multiplier to a
    standard deviation of about 0.15 (the model's own randomness) to 0.2 (with the count errors the twin
    assumes), so it is not identifiable to 0.25; it is held to 0.4.  Measured over 12 ensemble seeds x 3
    truths (21, 22, 23) with these 6 members, the fill-averaged errors are: west rms 0.08 (max 0.20),
    overall rms 0.08 (max 0.19), north rms 0.16 (max 0.32); with 24 members north's scatter stays (rms
    0.14, 8 seeds x 3 truths): it is the counts, not the ensemble, that leave it open.  (The twin's seed is
    the same for every truth, so one seed's north/west ratio, about 1.2 for seed 1, repeats across truths;
    it is no bias: over the 12 seeds x 3 truths the ratio averages 1.02, sd 0.14.)"""
    night = small_night(tmp_path, live={"horizon_s": 600, "warn_within_s": 600, "whatif_members": 0})
    truth = TruthSpec(seed=21, demand_scale=1.3, rain_onset_s=480.0)
    tracked = track(night, truth, until_s=1500, out_dir=tmp_path / "tracked")
    blind = track(night, truth, until_s=1500, feed_filter=_rain_only)
    assert tracked.twin.records_used > 60 and blind.twin.cycles_done == tracked.twin.cycles_done == 25
    sq_crps, sq_err = _lead_errors(tracked, "square", 0)
    sq_crps_blind, _ = _lead_errors(blind, "square", 0)
    ahead, ahead_err = _lead_errors(tracked, "plaza", 10)
    ahead_blind, _ = _lead_errors(blind, "plaza", 10)
    assert len(sq_crps) == 5 and len(ahead) >= 3
    assert sq_crps.mean() < 0.7 * sq_crps_blind.mean()
    assert ahead.mean() < 0.5 * ahead_blind.mean()
    plaza_level = tracked.occupancy[:, tracked.zone_names.index("plaza")].max()
    assert np.median(ahead_err) < 0.1 * plaza_level          # the 10-minute median within 10% of the peak
    demand = _demand_over_the_fill(tracked, tmp_path / "tracked")
    share = {s.name: np.trapezoid([r for _, r in s.profile], [m for m, _ in s.profile]) for s in night.sources}
    overall = sum(share[n] * demand[n] for n in demand) / sum(share.values())
    assert abs(demand["west"] - 1.3) < 0.25 and abs(overall - 1.3) < 0.25, (demand, overall)
    assert abs(demand["north"] - 1.3) < 0.4, demand          # identifiable only to about +-0.2 (docstring)


def test_doubled_demand_raises_the_cap_warning_before_the_truth_reaches_its_cap(tmp_path):
    night = small_night(tmp_path, live={"horizon_s": 900, "warn_within_s": 900, "whatif_members": 0})
    truth = TruthSpec(seed=8, demand_scale=2.0)
    tracked = track(night, truth, until_s=1320)
    full_s = tracked.full_time("plaza")
    assert full_s is not None and full_s > 900               # the truth fills the plaza after 15 minutes
    score = score_warning(tracked.twin.alerts, "plaza", full_s)
    assert score.first_warning_s is not None and score.lead_time_s >= 300, score
    raised = [a for a in tracked.twin.alerts if a["event"] == "cap" and a["status"] == "raised"][0]
    assert raised["probability"] >= night.live.cap_warn_probability and raised["lead_time_s"] > 0
    blind = track(night, truth, until_s=1320, feed_filter=_rain_only)   # the prior alone warns later, or not
    blind_score = score_warning(blind.twin.alerts, "plaza", full_s)
    assert blind_score.first_warning_s is None or blind_score.first_warning_s > score.first_warning_s


def test_bad_records_are_skipped_with_a_log_line_and_the_twin_runs_on(tmp_path, caplog):
    night = small_night(tmp_path, live={"horizon_s": 300, "warn_within_s": 300, "whatif_members": 0})
    injected = []

    def spoil(records):
        if records and records[0].t_s == 360:
            injected.extend([Record(360, "thermometer", 21.0, "test"), Record(360, "plaza_count", -5.0, "test"),
                             Record(360, "plaza_count", 1e9, "test"), Record(120, "west_entry", 5.0, "test"),
                             BadLine("360,plaza_count", "expected JSON or CSV t_s,sensor,value", "test")])
            return injected[:2] + records + injected[2:]
        return records

    with caplog.at_level(logging.WARNING, logger="citytwin.live"):
        tracked = track(night, TruthSpec(seed=4, dropouts=(Dropout("plaza_in", 420.0),)), until_s=900,
                        feed_filter=spoil, out_dir=tmp_path / "out")
    twin = tracked.twin
    assert len(twin.skipped) == 5 and twin.cycles_done == 15 and twin.forecasts_issued == 3
    text = caplog.text
    for why in ("unknown sensor 'thermometer'", "negative value", "absurd value", "late: t_s 120",
                "not a record", "running without sensor plaza_in"):
        assert why in text
    assert [s["sensor"] for s in twin.status()["running_without"]] == ["plaza_in"]
    with open(tmp_path / "out" / "skipped.csv") as fh:
        assert len(list(csv.DictReader(fh))) == 5
    with open(tmp_path / "out" / "cycles.csv") as fh:
        last = list(csv.DictReader(fh))[-1]
    assert last["running_without"] == "plaza_in" and float(last["t_s"]) == 900


def test_same_seed_same_forecasts_on_one_or_two_workers_and_what_ifs_change_them(tmp_path):
    night = small_night(tmp_path, live={"horizon_s": 600, "warn_within_s": 600, "whatif_members": 3,
                                        "whatif_every_s": 600, "forecast_every_s": 600})
    truth = TruthSpec(seed=5, demand_scale=1.2)
    track(night, truth, until_s=600, out_dir=tmp_path / "one")
    track(night, truth, until_s=600, out_dir=tmp_path / "two", workers=2)
    one = (tmp_path / "one" / "forecast.csv").read_text()
    assert one == (tmp_path / "two" / "forecast.csv").read_text()
    assert (tmp_path / "one" / "cycles.csv").read_text().count("\n") == 11
    rows = list(csv.DictReader(one.splitlines()))
    by = {(r["measure"], r["zone"], int(r["lead_min"])): r for r in rows}
    measures = {r["measure"] for r in rows}
    assert measures == {"none", "close_zone:plaza", "close_zone:square", "start_release", "close_source:west",
                        "close_source:north"}
    last = 10
    as_is = float(by[("none", "plaza", last)]["occupancy_p50"])
    closed = float(by[("close_zone:plaza", "plaza", last)]["occupancy_p50"])
    no_west = float(by[("close_source:west", "plaza", last)]["occupancy_p50"])
    now = float(by[("close_zone:plaza", "plaza", 0)]["occupancy_p50"])        # the same members now
    assert closed <= now + 1 and closed < as_is and no_west < as_is
    assert float(by[("close_zone:square", "square", last)]["occupancy_p50"]) <= float(
        by[("none", "square", last)]["occupancy_p50"])
