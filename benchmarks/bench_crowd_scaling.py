"""Crowd engine scaling on the Bund map: agent-updates per second from 1,000 to 1,000,000 pedestrians.

    python benchmarks/bench_crowd_scaling.py [--sizes N ...] [--minutes M] [--csv PATH]

Each run is the dry light-show scenario compressed to ``--minutes`` (default 30): the people of all
five sources arrive at a flat rate over the first 80% of the run (sized so that N arrive), the show
ends at 85% and everyone is released.  Agent-updates are people in the simulation (arrived, not yet
gone) summed over steps, as in ``bench_crowd.py``.  Above a few hundred thousand people the map is
saturated and most wait at the entrances (their state is still updated every step).
"""

from __future__ import annotations

import argparse
import platform
import time
import tomllib
from pathlib import Path

import numpy as np

from sim.crowd.model import CrowdModel
from sim.kinds import scenario_from_dict

from report import print_table, write_csv  # noqa: E402  (benchmarks/report.py)

ROOT = Path(__file__).resolve().parents[1]
DRY = ROOT / "scenarios" / "bund_lightshow_dry.toml"


def scaled_scenario(n_people: int, minutes: float):
    data = tomllib.loads(DRY.read_text(encoding="utf-8"))
    duration = minutes * 60.0
    arrive_min = 0.8 * minutes
    data["simulation"]["duration_s"] = duration
    data["show"].update({"start_s": 0.8 * duration, "end_s": 0.85 * duration})
    rate = n_people / (arrive_min * len(data["sources"]))          # people per minute per source
    for source in data["sources"]:
        source["profile"] = [[0.0, rate], [arrive_min, rate], [arrive_min + 1e-6, 0.0]]
    return scenario_from_dict(data, str(DRY))


def bench(n_people: int, minutes: float) -> dict:
    scenario = scaled_scenario(n_people, minutes)
    t0 = time.perf_counter()
    model = CrowdModel(scenario)
    setup_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    summary = model.run()
    run_s = time.perf_counter() - t1
    updates = int(model.recorder.inside[: model.recorder.n].sum())
    return {"people": summary["agents_total"], "sim_s": summary["sim_seconds"], "setup_s": round(setup_s, 2),
            "run_wall_s": round(run_s, 2), "sim_s_per_wall_s": round(summary["sim_seconds"] / run_s, 1),
            "agent_updates": updates, "agent_updates_per_s": round(updates / run_s),
            "ns_per_agent_update": round(run_s / max(updates, 1) * 1e9, 2),
            "peak_promenade": summary["peak_occupancy"].get("promenade"), "conserved": summary["agents_conserved"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[1_000, 10_000, 100_000, 1_000_000])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--csv", default=str(ROOT / "benchmarks" / "results" / "crowd_scaling.csv"))
    args = parser.parse_args(argv)
    bench(500, 2.0)                                            # warm-up: compile the kernels
    rows = [bench(n, args.minutes) for n in args.sizes]
    print(f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}, "
          f"numpy {np.__version__}; map maps/bund.osm; dt 1 s")
    print_table(rows)
    write_csv(rows, args.csv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
