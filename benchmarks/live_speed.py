"""Live twin speed on the Bund night: one assimilation cycle, one forecast and the what-ifs, at the
night's peak, with the issue's 20 members.

    python benchmarks/live_speed.py [--members 20] [--forecast-members K] [--at-min 70] [--cycles 5]
        [--workers 1 2] [--csv PATH] [--scenario PATH]

A model of the live scenario (``scenarios/bund_lightshow_live.toml``) is run to ``--at-min`` (set-up,
not timed); the ensemble's members are copies of it with parameters drawn from the prior, and a
second run (another seed) is the truth whose sensors feed them.  Timed: ``--cycles`` assimilation
cycles (members run one simulated minute, weighed, resampled when due, corrected), one forecast
(every member 30 minutes ahead, or ``--forecast-members`` of them drawn by weight, as the twin does
with ``[live] forecast_members``) on each number of ``--workers``, and the scenario's what-ifs (its
measures, ``whatif_members`` members each).  The last rows say how much wall time five simulated
minutes take with the scenario's cadence (5 cycles, one forecast, a third of the what-ifs: they run
every 15 minutes): under 300 s is faster than the night.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import time
from pathlib import Path

import numpy as np

from sim.crowd.model import CrowdModel
from sim.kinds import load_scenario
from sim.live.ensemble import Ensemble
from sim.live.feed import Record
from sim.live.forecast import run_forecast
from sim.live.measures import select_measures
from sim.live.sensors import Tracker, compile_sensors
from sim.live.twin import draw_members

from report import print_table, write_csv  # noqa: E402  (benchmarks/report.py)

ROOT = Path(__file__).resolve().parents[1]


def _run_to(model: CrowdModel, minutes: float, tracker: Tracker | None = None) -> None:
    steps = int(round(minutes * 60 / model.engine.arrays.dt_s))
    while model.engine.step_index < steps:
        model.step()
        if tracker is not None:
            tracker.record(model.engine)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default=str(ROOT / "scenarios" / "bund_lightshow_live.toml"))
    parser.add_argument("--members", type=int, default=20)
    parser.add_argument("--forecast-members", type=int, default=None,
                        help="members that run the forecast, drawn by weight (default: the scenario's "
                             "live.forecast_members, else every member)")
    parser.add_argument("--at-min", type=float, default=70.0)
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--csv", default=str(ROOT / "benchmarks" / "results" / "live_speed.csv"))
    args = parser.parse_args(argv)
    overrides = [f"live.members={args.members}"]
    if args.forecast_members is not None:
        overrides.append(f"live.forecast_members={args.forecast_members}")
    scenario = load_scenario(args.scenario, overrides)
    t0 = time.perf_counter()
    start = CrowdModel(scenario, seed=1)
    truth = CrowdModel(scenario, seed=2)
    arrays = start.engine.arrays
    sensors = compile_sensors(scenario, arrays)
    truth_tracker = Tracker(truth.engine, 600)
    _run_to(start, args.at_min)
    _run_to(truth, args.at_min, truth_tracker)
    ens = Ensemble(scenario, arrays, sensors, 600, start=start)
    setup_s = time.perf_counter() - t0
    print(f"set-up (two runs to minute {args.at_min:g}, {args.members} members): {setup_s:.1f} s; "
          f"people in the night: {start.engine.n_agents:,}, on the map now: {start.engine.inside:,}")
    rows = []
    cycle_walls = []
    for k in range(args.cycles):
        t_end = (args.at_min + k + 1) * 60.0
        _run_to(truth, t_end / 60.0, truth_tracker)
        records = [Record(t_end, name, float(truth_tracker.value(s, t_end) if s.kind != "rain" else 10.0))
                   for name, s in sensors.items()]
        c0 = time.perf_counter()
        ens.advance(t_end)
        report = ens.assimilate(records)
        cycle_walls.append(time.perf_counter() - c0)
        rows.append({"what": f"assimilation cycle {k + 1}", "members": len(ens.members), "workers": 1,
                     "wall_s": round(cycle_walls[-1], 2),
                     "note": f"ESS {report.ess_before:.1f}, resampled {report.resampled}"})
    pick, weights = draw_members(ens.weights, scenario.live.forecast_members or len(ens.members),
                                 np.random.default_rng(16))
    models = [ens.members[i].model for i in pick]
    seeds = list(range(len(models)))
    forecast = {}
    for workers in args.workers:
        f0 = time.perf_counter()
        fc = run_forecast(models, weights, seeds, scenario.live.horizon_s, arrays.dt_s, None, workers)
        forecast[workers] = time.perf_counter() - f0
        horizon = scenario.live.horizon_s
        rows.append({"what": f"forecast {horizon / 60:g} min ahead", "members": len(models),
                     "workers": workers, "wall_s": round(forecast[workers], 1),
                     "note": f"P({arrays.zone_names[0]} at cap within {horizon / 60:g} min) "
                             f"{fc.probability('full', horizon)[0]:.2f}"})
    measures = select_measures(scenario) if scenario.live.whatif_members > 0 else []
    k = min(scenario.live.whatif_members, len(models))
    best = max(args.workers)
    w0 = time.perf_counter()
    for measure in measures:
        run_forecast(models[:k], np.full(k, 1 / k), seeds[:k], scenario.live.horizon_s, arrays.dt_s, measure, best)
    whatif_s = time.perf_counter() - w0
    rows.append({"what": f"what-ifs ({len(measures)} measures)", "members": k, "workers": best,
                 "wall_s": round(whatif_s, 1), "note": ", ".join(m.name for m in measures)})
    live = scenario.live
    cycles_per_window = int(round(live.forecast_every_s / live.assimilate_every_s))
    per_window = (float(np.mean(cycle_walls)) * cycles_per_window + forecast[best]
                  + whatif_s * live.forecast_every_s / live.whatif_every_s)
    rows.append({"what": f"{live.forecast_every_s / 60:g} simulated minutes (cadence of the scenario)",
                 "members": len(models), "workers": best, "wall_s": round(per_window, 1),
                 "note": f"real-time factor {live.forecast_every_s / per_window:.2f} (>1: faster than the night)"})
    print_table(rows, ["what", "members", "workers", "wall_s", "note"])
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory {rss:.0f} MB; {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    write_csv(rows, args.csv)
    print(f"wrote {args.csv}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
