"""Numba crowd engine vs its plain-Python Mesa reference, side by side on the same corridor.

    python benchmarks/bench_reference.py [--minutes N] [--rate-per-min R] [--width-m W]
                                         [--scale K ...] [--repeat N] [--csv PATH]

The scenario is the corridor of ``tests/test_reference.py`` (``tests/conftest.py::corridor_scenario``):
a corridor fed beyond its capacity into a viewing plaza, everyone released at the show's end.
``--scale K`` multiplies its width and arrival rate (K times the people, same densities).  Both
models run the same seed in one process; set-up and stepping are timed apart, best of
``--repeat``; kernels are compiled (and cached) by a short warm-up run first.  Agent-updates are
people in the simulation (arrived, not yet exited) summed over steps, as in ``bench_crowd.py``.
``agree`` says whether both gave the same per-step inside counts and the same final counts.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

import mesa
import numpy as np

from report import print_table, write_csv  # noqa: E402  (benchmarks/report.py)

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sim.crowd.model import CrowdModel  # noqa: E402
from sim.crowd.reference import ReferenceCrowdModel, engine_step_counts  # noqa: E402
from sim.crowd.schema import CrowdScenario
from sim.kinds import scenario_from_dict  # noqa: E402
from tests.conftest import corridor_scenario  # noqa: E402

#: The target the reference exists to show: the engine at least this many times faster.
TARGET_SPEEDUP = 100.0


def _scenario(folder: Path, minutes: float, rate_per_min: float, width_m: float) -> CrowdScenario:
    data = corridor_scenario(folder, width_m=width_m, rate_per_min=rate_per_min, duration_s=minutes * 60.0)
    return scenario_from_dict(data, str(folder / "corridor.toml"))


def _time_engine(scenario: CrowdScenario, repeat: int) -> tuple[float, float, CrowdModel]:
    best_setup, best_run, model = np.inf, np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        model = CrowdModel(scenario)
        t1 = time.perf_counter()
        model.run()
        t2 = time.perf_counter()
        best_setup, best_run = min(best_setup, t1 - t0), min(best_run, t2 - t1)
    return best_setup, best_run, model


def _time_reference(scenario: CrowdScenario, repeat: int) -> tuple[float, float, ReferenceCrowdModel]:
    best_setup, best_run, model = np.inf, np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        model = ReferenceCrowdModel(scenario)
        t1 = time.perf_counter()
        model.run()
        t2 = time.perf_counter()
        best_setup, best_run = min(best_setup, t1 - t0), min(best_run, t2 - t1)
    return best_setup, best_run, model


def bench(minutes: float, rate_per_min: float, width_m: float, repeat: int) -> list[dict]:
    """Run both models on one corridor; one row each (the engine's row carries the speed-up)."""
    with tempfile.TemporaryDirectory(prefix="bench_reference_") as tmp:
        scenario = _scenario(Path(tmp), minutes, rate_per_min, width_m)
        e_setup, e_run, engine = _time_engine(scenario, repeat)
        r_setup, r_run, reference = _time_reference(scenario, repeat)
    rec = engine.recorder
    e_inside = rec.inside[: rec.n].tolist()
    agree = e_inside == reference.inside_per_step and engine_step_counts(engine.engine) == reference.step_counts()
    label = f"corridor {width_m:g} m, {rate_per_min:g} p/min"
    rows = []
    for name, agents, sim_s, setup_s, run_s, updates, conserved in (
            ("numba engine", engine.engine.n_agents, engine.engine.t_s, e_setup, e_run, sum(e_inside),
             engine.summary()["agents_conserved"]),
            ("mesa reference", reference.n_agents, reference.t_s, r_setup, r_run, sum(reference.inside_per_step),
             reference.recount_ok())):
        rows.append({"scenario": label, "model": name, "agents": agents, "sim_s": round(sim_s, 1),
                     "setup_s": round(setup_s, 3), "run_wall_s": round(run_s, 3), "agent_updates": updates,
                     "agent_updates_per_s": round(updates / run_s),
                     "ns_per_agent_update": round(run_s / updates * 1e9, 1),
                     "speedup": 1.0, "agree": agree, "conserved": conserved})
    rows[0]["speedup"] = round(rows[0]["agent_updates_per_s"] / rows[1]["agent_updates_per_s"], 1)
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run the comparison, print the table and write the CSV; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0,
                        help="simulated minutes (at least 4: the show ends 100 s before the end)")
    parser.add_argument("--rate-per-min", type=float, default=600.0, help="arrivals per minute at scale 1")
    parser.add_argument("--width-m", type=float, default=6.0, help="corridor width at scale 1 (m)")
    parser.add_argument("--scale", type=float, nargs="+", default=[1.0],
                        help="multiply width and arrival rate (one run per value)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per model; the best counts")
    parser.add_argument("--csv", default=str(ROOT / "benchmarks" / "results" / "reference.csv"))
    args = parser.parse_args(argv)
    if args.minutes < 4.0:
        parser.error(f"--minutes must be at least 4 (the show starts 200 s before the end), got {args.minutes!r}")
    if args.repeat < 1:
        parser.error(f"--repeat must be at least 1, got {args.repeat!r}")
    bench(4.0, 30.0, 4.0, 1)                                 # warm-up: compile the kernels, load mesa
    rows = []
    for k in args.scale:
        rows += bench(args.minutes, args.rate_per_min * k, args.width_m * k, args.repeat)
    print(f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}, "
          f"numpy {np.__version__}, mesa {mesa.__version__}")
    print_table(rows)
    for row in rows[0::2]:
        verdict = "met" if row["speedup"] >= TARGET_SPEEDUP else "NOT met"
        print(f"{row['scenario']}: numba engine / mesa reference = {row['speedup']}x "
              f"(target >= {TARGET_SPEEDUP:g}x: {verdict}); agree: {row['agree']}")
    write_csv(rows, args.csv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
