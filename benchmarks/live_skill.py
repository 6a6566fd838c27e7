"""Live twin skill: replay hidden truths of the Bund night into the twin and score its cap warning
and its 20-minute forecast (issue 15).

    python benchmarks/live_skill.py [--truths 20] [--members 8] [--forecast-every-min 10]
        [--horizon-min 30] [--until-min 95] [--workers 2] [--seed 0] [--demand-range 0.4 1.4]
        [--csv PATH] [--scenario PATH]

Each truth (``sim.live.replay.Truth``) is the live scenario (``scenarios/bund_lightshow_live.toml``)
with its own seed, its demand scaled by a factor drawn uniformly in ``--demand-range`` (default
[0.4, 1.4]: the issue asked for [0.7, 1.4] "so that some truths never reach the cap", but on this
engine a truth at x0.76 fills the promenade, at minute 82, so the range reaches lower to keep truths
that never fill it and the false-alarm rate measurable), rain from a random onset (uniform in minutes
10-80; dry before), 10% count noise on every sensor, and one sensor (drawn at random) silent from a
random minute (20-60) to the end.
The twin starts from the scenario's prior and follows the feed to ``--until-min`` (arrivals end at
minute 95).  Scores, over the truths:

* lead time of the cap warning: the truth's first minute at its cap (99.5% of it: admissions stop
  at the room left) minus the first cap warning raised before it (median, and the share of truths
  reaching the cap that were warned at least 10 minutes ahead);
* false alarms: truths that never reach the cap yet got a cap warning, over the truths that never
  reach it;
* CRPS (Gneiting & Raftery 2007) of the promenade's occupancy 20 minutes ahead, for every forecast,
  against a naive forecast, persistence of the last trend of the counts (the count now plus its
  change over the last 5 minutes carried on for 20, at most the cap: the gates close there), on the
  forecasts where both exist (the naive one needs the promenade count now and 5 minutes ago); and,
  for reference, against plain persistence (the count now).

Truths run in parallel on ``--workers`` processes (one truth each); the twin's own forecasts run in
its process.  The settings (members, cycle, forecast cadence and horizon) are printed with the table:
they are chosen so that 20 truths fit in 2 hours on 2 cores.  ``--scenario`` replays another crowd
scenario with sensors (the zone judged is its first capped zone, counted by its zone_occupancy
sensor; the tests run this script on a small night).
"""

from __future__ import annotations

import argparse
import multiprocessing
import platform
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from report import print_table, write_csv  # noqa: E402  (benchmarks/report.py)

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "bund_lightshow_live.toml"
LEAD_S = 1200.0
TREND_WINDOW_S = 300.0


def truth_specs(n: int, seed: int, sensors: list[str], demand_range: tuple[float, float] = (0.4, 1.4)) -> list[dict]:
    """The truths: demand, rain onset, the sensor that drops out and when (seeded)."""
    from sim.live.replay import Dropout, TruthSpec

    out = []
    for k in range(n):
        rng = np.random.default_rng([seed, k])
        demand = float(rng.uniform(*demand_range))
        onset_min = float(rng.uniform(10.0, 80.0))
        dropped = sensors[int(rng.integers(len(sensors)))]
        drop_min = float(rng.uniform(20.0, 60.0))
        spec = TruthSpec(seed=1000 + k, demand_scale=round(demand, 3), rain_onset_s=round(onset_min * 60.0),
                         noise_frac=0.1, dropouts=(Dropout(dropped, round(drop_min * 60.0)),))
        out.append({"k": k, "spec": spec, "demand": round(demand, 3), "rain_onset_min": round(onset_min, 1),
                    "dropped": dropped, "drop_from_min": round(drop_min, 1)})
    return out


def judged_zone(scenario) -> tuple[str, str]:
    """The zone the warnings and forecasts are judged on (the first with a cap) and the sensor that
    counts its occupancy."""
    zone = next((name for name, spec in scenario.zones.items() if spec.cap is not None), None)
    sensor = next((name for name, spec in scenario.sensors.items()
                   if spec.kind == "zone_occupancy" and spec.zone == zone), None)
    if zone is None or sensor is None:
        raise SystemExit(f"{scenario.source_path}: needs a zone with a cap and a zone_occupancy sensor on it")
    return zone, sensor


def one_truth(job: dict) -> dict:
    """Replay one truth into a twin and score it."""
    from sim.kinds import load_scenario
    from sim.live.skill import crps_ensemble, score_warning, track, trend_forecast

    scenario = load_scenario(job["scenario"], job["overrides"])
    zone, count_sensor = judged_zone(scenario)
    start = time.perf_counter()
    tracked = track(scenario, job["spec"], until_s=job["until_s"])
    wall = time.perf_counter() - start
    full_s = tracked.full_time(zone)
    score = score_warning(tracked.twin.alerts, zone, full_s)
    z = tracked.zone_names.index(zone)
    counts = [(r.t_s, r.value) for r in tracked.records if r.sensor == count_sensor]
    times = np.array([t for t, _ in counts])
    values = np.array([v for _, v in counts])
    cap = float(scenario.zones[zone].cap)
    twin_crps, naive_crps, persist_crps = [], [], []
    for fc in tracked.forecasts:
        if fc.measure is not None:
            continue
        lead = int(round(LEAD_S / 60.0))
        occ = fc.stack("occupancy")
        y = tracked.truth_at(zone, fc.t_s + LEAD_S)
        if occ.shape[1] <= lead or y is None:
            continue
        naive = trend_forecast(times, values, fc.t_s, LEAD_S, TREND_WINDOW_S, upper=cap)
        if naive is None:
            continue
        twin_crps.append(crps_ensemble(occ[:, lead, z], fc.weights, y))
        naive_crps.append(abs(naive - y))
        persist_crps.append(abs(trend_forecast(times, values, fc.t_s, 0.0, TREND_WINDOW_S) - y))
    cycles = tracked.twin.cycles_done
    return {"truth": job["k"], "demand": job["demand"], "rain_onset_min": job["rain_onset_min"],
            "dropped": job["dropped"], "drop_from_min": job["drop_from_min"],
            "peak_people": int(tracked.occupancy[:, z].max()),
            "cap_reached_min": None if full_s is None else round(full_s / 60.0, 1),
            "first_warning_min": None if score.first_warning_s is None else round(score.first_warning_s / 60.0, 1),
            "lead_min": None if score.lead_time_s is None else round(score.lead_time_s / 60.0, 1),
            "warned_10min": int(score.warned_10min), "false_alarm": int(score.false_alarm),
            "crps_twin": round(float(np.mean(twin_crps)), 1) if twin_crps else None,
            "crps_naive": round(float(np.mean(naive_crps)), 1) if naive_crps else None,
            "crps_persistence": round(float(np.mean(persist_crps)), 1) if persist_crps else None,
            "forecasts_scored": len(twin_crps), "twin_crps_list": twin_crps, "naive_crps_list": naive_crps,
            "persist_crps_list": persist_crps,
            "cycles": cycles, "wall_s": round(wall, 1)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--truths", type=int, default=20)
    parser.add_argument("--members", type=int, default=8)
    parser.add_argument("--forecast-every-min", type=float, default=10.0)
    parser.add_argument("--horizon-min", type=float, default=30.0)
    parser.add_argument("--until-min", type=float, default=95.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--demand-range", type=float, nargs=2, default=[0.4, 1.4], metavar=("LO", "HI"),
                        help="truths' demand factors are drawn uniformly in [LO, HI]")
    parser.add_argument("--csv", default=str(ROOT / "benchmarks" / "results" / "live_skill.csv"))
    parser.add_argument("--scenario", default=str(SCENARIO))
    args = parser.parse_args(argv)
    from sim.kinds import load_scenario

    overrides = [f"live.members={args.members}", f"live.forecast_every_s={args.forecast_every_min * 60:g}",
                 f"live.horizon_s={args.horizon_min * 60:g}", f"live.warn_within_s={args.horizon_min * 60:g}",
                 "live.whatif_members=0", f"live.whatif_every_s={args.forecast_every_min * 60:g}"]
    scenario = load_scenario(args.scenario, overrides)
    live = scenario.live
    zone, _ = judged_zone(scenario)
    jobs = truth_specs(args.truths, args.seed, sorted(scenario.sensors), tuple(args.demand_range))
    for job in jobs:
        job["scenario"] = args.scenario
        job["overrides"] = overrides
        job["until_s"] = args.until_min * 60.0
    print(f"twin: {live.members} members, assimilate every {live.assimilate_every_s:g} s, forecast every "
          f"{live.forecast_every_s:g} s over {live.horizon_s:g} s, cap warning at P >= {live.cap_warn_probability:g} "
          f"within {live.warn_within_s:g} s; {args.truths} truths of {scenario.name} to minute {args.until_min:g} "
          f"on {args.workers} worker(s); judged on zone {zone}", flush=True)
    start = time.perf_counter()
    rows = []
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    with ProcessPoolExecutor(max_workers=args.workers, mp_context=ctx) as pool:
        for row in pool.map(one_truth, jobs):
            rows.append(row)
            print(f"  truth {row['truth']:2d}: demand x{row['demand']:.2f}, cap at {row['cap_reached_min']} min, "
                  f"warned at {row['first_warning_min']} min, lead {row['lead_min']} min, CRPS twin "
                  f"{row['crps_twin']} / naive {row['crps_naive']}, {row['wall_s']:.0f} s", flush=True)
    wall = time.perf_counter() - start
    reached = [r for r in rows if r["cap_reached_min"] is not None]
    never = [r for r in rows if r["cap_reached_min"] is None]
    leads = [r["lead_min"] for r in reached if r["lead_min"] is not None]
    twin_all = [c for r in rows for c in r["twin_crps_list"]]
    naive_all = [c for r in rows for c in r["naive_crps_list"]]
    persist_all = [c for r in rows for c in r["persist_crps_list"]]
    crps_twin = float(np.mean(twin_all)) if twin_all else float("nan")
    crps_naive = float(np.mean(naive_all)) if naive_all else float("nan")
    if twin_all:
        crps_persist = float(np.mean(persist_all))
        crps_text = (f"twin {crps_twin:,.0f} vs trend {crps_naive:,.0f} vs persistence {crps_persist:,.0f} "
                     f"({len(twin_all)} forecasts)")
        reduction = f"{1 - crps_twin / crps_naive:.0%}" if crps_naive > 0 else "n/a (naive CRPS 0)"
        reduction_persist = f"{1 - crps_twin / crps_persist:.0%}" if crps_persist > 0 else "n/a (CRPS 0)"
    else:
        crps_text = reduction = reduction_persist = (f"n/a (no forecast reached {LEAD_S / 60:g} min ahead within "
                                                     f"--until-min)")
    warned = sum(r["warned_10min"] for r in reached)
    alarms = sum(r["false_alarm"] for r in never)
    summary = [
        {"measure": "truths (reach the cap / never)", "value": f"{len(rows)} ({len(reached)} / {len(never)})",
         "target": ">= 20"},
        {"measure": "median lead time of the cap warning (min)",
         "value": f"{np.median(leads):.1f}" if leads else "n/a", "target": ""},
        {"measure": "warned >= 10 min before the cap", "value":
            f"{warned}/{len(reached)} = {warned / len(reached):.0%}" if reached else "n/a (no truth reached the cap)",
         "target": ">= 80%"},
        {"measure": "false alarms (truths never at the cap)", "value":
            f"{alarms}/{len(never)} = {alarms / len(never):.0%}" if never else "n/a (every truth reached the cap)",
         "target": "< 10%"},
        {"measure": f"CRPS of the {LEAD_S / 60:g}-min occupancy forecast (people)", "value": crps_text, "target": ""},
        {"measure": "CRPS reduction against the naive forecast (trend, at most the cap)", "value": reduction,
         "target": ">= 30%"},
        {"measure": "CRPS reduction against persistence of the count", "value": reduction_persist, "target": ""},
        {"measure": "wall time (s)", "value": f"{wall:,.0f} on {args.workers} worker(s)", "target": "<= 7,200"},
    ]
    print()
    print_table([{k: v for k, v in r.items() if not k.endswith("_list")} for r in rows],
                ["truth", "demand", "rain_onset_min", "dropped", "drop_from_min", "peak_people", "cap_reached_min",
                 "first_warning_min", "lead_min", "warned_10min", "false_alarm", "crps_twin", "crps_naive",
                 "crps_persistence", "forecasts_scored", "wall_s"])
    print()
    print_table(summary, ["measure", "value", "target"])
    scenario_arg = "" if Path(args.scenario).resolve() == SCENARIO.resolve() else f" --scenario {args.scenario}"
    print(f"{platform.processor() or platform.machine()}; command: python benchmarks/live_skill.py{scenario_arg} "
          f"--truths {args.truths} --members {args.members} --forecast-every-min {args.forecast_every_min:g} "
          f"--horizon-min {args.horizon_min:g} --until-min {args.until_min:g} --workers {args.workers} --seed {args.seed} "
          f"--demand-range {args.demand_range[0]:g} {args.demand_range[1]:g}")
    write_csv([{k: v for k, v in r.items() if not k.endswith("_list")} for r in rows], args.csv)
    write_csv(summary, Path(args.csv).with_name(Path(args.csv).stem + "_summary.csv"))
    print(f"wrote {args.csv}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
