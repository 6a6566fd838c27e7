"""Crowd engine speed: the full Bund scenarios (set-up and stepping timed apart).

    python benchmarks/bench_crowd.py [--scenario FILE ...] [--minutes N] [--csv PATH]

Prints a table and writes CSV. Kernels are compiled (and cached) by a short warm-up run first.
Agent-updates are counted as people in the simulation (arrived, not yet exited) summed over steps.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np

from sim.crowd.model import CrowdModel
from sim.kinds import load_scenario

from report import print_table, write_csv  # noqa: E402  (benchmarks/report.py)

ROOT = Path(__file__).resolve().parents[1]


def bench(path: Path, minutes: float | None) -> dict:
    overrides = [] if minutes is None else [f"simulation.duration_s={minutes * 60}",
                                            f"show.start_s={minutes * 30}", f"show.end_s={minutes * 45}"]
    scenario = load_scenario(path, overrides)
    t0 = time.perf_counter()
    model = CrowdModel(scenario)
    setup_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    summary = model.run()
    step_s = time.perf_counter() - t1
    updates = int(model.recorder.inside[: model.recorder.n].sum())
    return {"scenario": path.name, "agents": summary["agents_total"], "sim_s": summary["sim_seconds"],
            "setup_s": round(setup_s, 2), "run_wall_s": round(step_s, 2),
            "sim_s_per_wall_s": round(summary["sim_seconds"] / step_s, 1),
            "agent_updates_per_s": round(updates / step_s), "ns_per_agent_update": round(step_s / updates * 1e9, 2),
            "peak_promenade": summary["peak_occupancy"].get("promenade"),
            "conserved": summary["agents_conserved"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", nargs="*", default=[str(ROOT / "scenarios" / "bund_lightshow_dry.toml"),
                                                          str(ROOT / "scenarios" / "bund_lightshow_rain.toml")])
    parser.add_argument("--minutes", type=float, default=None, help="shorten every run (smoke test)")
    parser.add_argument("--csv", default=str(ROOT / "benchmarks" / "results" / "crowd.csv"))
    args = parser.parse_args(argv)
    bench(Path(args.scenario[0]), 2.0)                       # warm-up: compile the kernels
    rows = [bench(Path(p), args.minutes) for p in args.scenario]
    print(f"machine: {platform.processor() or platform.machine()}, {platform.python_version()}, "
          f"numpy {np.__version__}")
    print_table(rows)
    write_csv(rows, args.csv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
