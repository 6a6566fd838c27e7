"""Crowd engine speed: the full Bund scenarios (set-up and stepping timed apart).

    python benchmarks/bench_crowd.py [--scenario FILE ...] [--minutes N] [--repeat N] [--csv PATH]

Prints a table and writes CSV. Kernels are compiled (and cached) by a short warm-up run first; each
scenario runs ``--repeat`` times (the table shows the median run).  Agent-updates are people in the
simulation (arrived, not yet exited) summed over steps; of these, *walker moves* are the walkers the
step moved (``walker_moves``), *queue tries* the people at the head of a queue who tried to move on
(``queue_head_tries``), and the rest stood, waited in a queue behind its head or waited at a source.
``ns_per_walker_move`` divides the whole stepping time by the walker moves: the cost of a moving
person against the floor of one Numba pass over agent state (about 1.4 ns, docs/sources.md section 11), which the
script times on this machine before and after each night (``floor_ns_per_agent``, their mean) so that
``walker_move_over_floor`` is a ratio measured side by side in one run.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np
from numba import njit

from sim.crowd.model import CrowdModel
from sim.kinds import load_scenario

from report import print_table, write_csv  # noqa: E402  (benchmarks/report.py)

ROOT = Path(__file__).resolve().parents[1]


@njit(cache=True)
def _floor_pass(pos_m, v0_mps, edge, speed_factor, dt_s):
    """The floor of a walker move: each agent reads its state once, steps along its edge at its own
    free speed times the edge's speed factor, and writes its position back (no rule, no branch)."""
    for i in range(pos_m.shape[0]):
        pos_m[i] += v0_mps[i] * speed_factor[edge[i]] * dt_s


def floor_ns_per_agent(n_agents: int = 121_861, n_edges: int = 2_390, repeats: int = 2_000) -> float:
    """That pass over a night's worth of agents on the Bund's edges, timed on this machine now (the
    fastest of 5 rounds), so that the cost per walker move is read against a floor measured in the
    same run (about 1.4 ns on these machines: docs/sources.md section 11)."""
    rng = np.random.default_rng(0)
    pos_m, v0 = np.zeros(n_agents), rng.normal(1.34, 0.26, n_agents)
    edge = rng.integers(0, n_edges, n_agents).astype(np.int32)
    speed_factor = rng.random(n_edges)
    _floor_pass(pos_m, v0, edge, speed_factor, 1.0)
    best = np.inf
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(repeats // 5):
            _floor_pass(pos_m, v0, edge, speed_factor, 1.0)
        best = min(best, (time.perf_counter() - t) / (repeats // 5) / n_agents * 1e9)
    return best


def bench(path: Path, minutes: float | None, overrides: list[str] | None = None) -> dict:
    overrides = list(overrides or [])
    if minutes is not None:
        overrides += [f"simulation.duration_s={minutes * 60}", f"show.start_s={minutes * 30}",
                      f"show.end_s={minutes * 45}"]
    scenario = load_scenario(path, overrides)
    t0 = time.perf_counter()
    model = CrowdModel(scenario)
    setup_s = time.perf_counter() - t0
    t1, c1 = time.perf_counter(), time.process_time()
    summary = model.run()
    step_s = time.perf_counter() - t1
    cpu_s = time.process_time() - c1
    updates = int(model.recorder.inside[: model.recorder.n].sum())
    moves = summary["counters"]["walker_moves"]
    tries = summary["counters"]["queue_head_tries"]
    return {"scenario": path.name, "agents": summary["agents_total"], "sim_s": summary["sim_seconds"],
            "cells": model.engine.arrays.walk.n_cells, "setup_s": round(setup_s, 2), "run_wall_s": round(step_s, 2), "run_cpu_s": round(cpu_s, 2),
            "sim_s_per_wall_s": round(summary["sim_seconds"] / step_s, 1),
            "agent_updates_M": round(updates / 1e6, 1), "walker_moves_M": round(moves / 1e6, 1),
            "queue_tries_M": round(tries / 1e6, 1), "other_updates_M": round((updates - moves - tries) / 1e6, 1),
            "agent_updates_per_s": round(updates / step_s), "ns_per_agent_update": round(step_s / updates * 1e9, 2),
            "ns_per_walker_move": round(step_s / max(moves, 1) * 1e9, 1),
            "cpu_ns_per_walker_move": round(cpu_s / max(moves, 1) * 1e9, 1),
            "peak_promenade": summary["peak_occupancy"].get("promenade"),
            "conserved": summary["agents_conserved"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", nargs="*", default=[str(ROOT / "scenarios" / "bund_lightshow_dry.toml"),
                                                          str(ROOT / "scenarios" / "bund_lightshow_rain.toml")])
    parser.add_argument("--minutes", type=float, default=None, help="shorten every run (smoke test)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per scenario (the median is shown)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a scenario key in every run (e.g. simulation.max_cell_m=50)")
    parser.add_argument("--csv", default=str(ROOT / "benchmarks" / "results" / "crowd.csv"))
    args = parser.parse_args(argv)
    bench(Path(args.scenario[0]), 2.0, args.overrides)       # warm-up: compile the kernels
    rows = []
    for p in args.scenario:
        floor_before = floor_ns_per_agent()
        runs = sorted((bench(Path(p), args.minutes, args.overrides) for _ in range(max(1, args.repeat))),
                      key=lambda r: r["run_wall_s"])
        row = runs[len(runs) // 2]
        floor_ns = (floor_before + floor_ns_per_agent()) / 2
        row["floor_ns_per_agent"] = round(floor_ns, 2)
        row["walker_move_over_floor"] = round(row["ns_per_walker_move"] / floor_ns, 1)
        rows.append(row)
    print(f"machine: {platform.processor() or platform.machine()}, {platform.python_version()}, "
          f"numpy {np.__version__}")
    print_table(rows)
    write_csv(rows, args.csv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
