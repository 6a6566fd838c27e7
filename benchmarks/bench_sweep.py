"""Sweep overhead: many short runs on the local process pool vs a Dask LocalCluster.

    python benchmarks/bench_sweep.py [--runs 200] [--minutes 5] [--workers K] [--engines pool dask]
                                     [--sizing chunked single] [--scenario FILE] [--csv PATH]

The runs are the shipped rain scenario cut to ``--minutes`` simulated minutes (show moved inside),
a grid of four promenade caps times ``runs / 4`` seeds: the same ``citytwin sweep`` a user runs.

* ``serial``: the same runs one after another in this process (after a warm-up run): ``single_ms``
  is the mean time of one run (build and run), the floor for every engine.
* each engine, twice: ``chunked`` (the sweep's default, runs grouped into tasks of about 1 s) and
  ``1 run/task`` (no grouping).  ``start_s`` is starting the pool or LocalCluster; ``wall_s`` is from
  the first task sent to the last result (worker start-up costs, imports and map loading included).

Overhead per run = ``wall_s x workers / runs - single_ms``: worker time each run costs beyond what
it costs alone in one process.  ``in_worker_ms`` is the mean run time measured inside the workers,
so ``overhead = (in_worker_ms - single_ms)`` (runs slowed by sharing the machine: caches, memory
bandwidth) ``+ sched_ms`` (everything else: scheduling, pickling, start-up of each worker).
"""

from __future__ import annotations

import argparse
import csv
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from report import print_table, write_csv  # noqa: E402  (benchmarks/report.py)

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sim.study.sweep import default_workers, plan_sweep, run_summary, run_sweep  # noqa: E402

CAPS = "zones.promenade.cap=40000,60000,80000,none"


def _overrides(minutes: float) -> list[str]:
    return [f"simulation.duration_s={minutes * 60:g}", f"show.start_s={minutes * 20:g}",
            f"show.end_s={minutes * 40:g}"]


def bench_serial(scenario: Path, runs: int, minutes: float) -> dict:
    plan = plan_sweep(scenario, [CAPS], max(1, runs // 4), _overrides(minutes))
    work = [(cell.scenario, seed) for cell in plan.cells for seed in plan.seeds]
    run_summary(*work[0])                                   # warm-up: map, kernels
    t0 = time.perf_counter()
    for sc, seed in work:
        run_summary(sc, seed)
    wall = time.perf_counter() - t0
    single_ms = 1000 * wall / len(work)
    return {"engine": "serial", "tasks_sized": "-", "workers": 1, "runs": len(work), "tasks": len(work),
            "runs_per_task": 1.0, "start_s": 0.0, "wall_s": round(wall, 2), "single_ms": round(single_ms, 1),
            "in_worker_ms": round(single_ms, 1), "overhead_ms_per_run": 0.0, "sched_ms_per_run": 0.0,
            "efficiency": 1.0}


def bench_engine(scenario: Path, runs: int, minutes: float, engine: str, workers: int, chunked: bool,
                 single_ms: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        result = run_sweep(scenario, [CAPS], max(1, runs // 4), Path(tmp) / "sweep", overrides=_overrides(minutes),
                           workers=workers, engine=engine, task_target_s=1.0 if chunked else 1e-9,
                           log=lambda msg: None)
        with open(result.table_path, newline="") as fh:
            in_worker = [float(r["wall_seconds"]) for r in csv.DictReader(fh)]
    n = len(result.ran)
    per_run_ms = 1000 * result.wall_seconds * result.workers / n
    in_worker_ms = 1000 * statistics.mean(in_worker)
    return {"engine": engine, "tasks_sized": "chunked" if chunked else "1 run/task", "workers": result.workers,
            "runs": n, "tasks": result.tasks, "runs_per_task": result.mean_runs_per_task,
            "start_s": round(result.engine_start_seconds, 2), "wall_s": round(result.wall_seconds, 2),
            "single_ms": round(single_ms, 1), "in_worker_ms": round(in_worker_ms, 1),
            "overhead_ms_per_run": round(per_run_ms - single_ms, 1),
            "sched_ms_per_run": round(per_run_ms - in_worker_ms, 1),
            "efficiency": round(single_ms / per_run_ms, 2), "failed": result.failed}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default=str(ROOT / "scenarios" / "bund_lightshow_rain.toml"))
    parser.add_argument("--runs", type=int, default=200, help="runs per engine (a multiple of 4)")
    parser.add_argument("--minutes", type=float, default=5.0, help="simulated minutes of each run")
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--engines", nargs="+", choices=["pool", "dask"], default=["pool", "dask"])
    parser.add_argument("--sizing", nargs="+", choices=["chunked", "single"], default=["chunked", "single"],
                        help="task sizing: the sweep's grouping of runs, and/or one run per task")
    parser.add_argument("--csv", default=str(ROOT / "benchmarks" / "results" / "sweep.csv"))
    args = parser.parse_args(argv)
    scenario = Path(args.scenario)
    rows = [bench_serial(scenario, args.runs, args.minutes)]
    single_ms = rows[0]["single_ms"]
    for engine in args.engines:
        for chunked in [s == "chunked" for s in args.sizing]:
            rows.append(bench_engine(scenario, args.runs, args.minutes, engine, args.workers, chunked, single_ms))
    if any(r.get("failed") for r in rows):
        print("warning: some runs failed; see the sweep tables", file=sys.stderr)
    for r in rows:
        r.pop("failed", None)
    print(f"machine: {platform.processor() or platform.machine()}, {default_workers()} cores, "
          f"Python {platform.python_version()}; {rows[0]['runs']} runs of {args.minutes:g} simulated minutes "
          f"of {scenario.name}")
    print_table(rows)
    write_csv(rows, args.csv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
