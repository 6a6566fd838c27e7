"""How long may a cell be?  The light-show nights at several ``simulation.max_cell_m`` values.

    python benchmarks/study_cell_length.py [--lengths 100 50 25 12.5] [--seeds 3] [--nights dry rain] [--csv PATH]

A cell's density is the count over its area, so a long cell dilutes a crowd that stands on part of
it.  Stairs, ramps, crossings, gates, narrowings and the 10 m before each are cut into 2.5 m cells
whatever ``max_cell_m`` is (``simulation.short_cell_m``, ``approach_m``); this study varies the
length of all other cells and reports, per night and length (median over the seeds): the densest
cell of walkers and of people who stand or queue anywhere on the map, the seconds the promenade's
walkers spend at walkway LOS F, the time everyone is out, the number of cells and the run time.
The default (README, "Cell length") is the longest length whose figures stay within 10% of the
finest one's.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from sim.crowd.model import CrowdModel
from sim.kinds import load_scenario

from report import print_table, write_csv  # noqa: E402  (benchmarks/report.py)

ROOT = Path(__file__).resolve().parents[1]
NIGHTS = {"dry": ROOT / "scenarios" / "bund_lightshow_dry.toml", "rain": ROOT / "scenarios" / "bund_lightshow_rain.toml"}


def one(path: Path, length_m: float, seed: int) -> dict:
    scenario = load_scenario(path, [f"simulation.max_cell_m={length_m}"])
    model = CrowdModel(scenario, seed=seed)
    t0 = time.perf_counter()
    summary = model.run()
    wall = time.perf_counter() - t0
    rec = model.recorder
    prom = summary["zones"].get("promenade", {})
    return {"cells": model.engine.arrays.walk.n_cells, "wall_s": wall,
            "peak_walk_ppm2": float(rec.cell_peak_walk.max()), "peak_hold_ppm2": float(rec.cell_peak_hold.max()),
            "peak_total_ppm2": float(rec.cell_peak_density.max()),
            "promenade_walk_los_f_s": prom.get("seconds_at_los_f", 0.0),
            "everyone_out_min": (summary["everyone_out_s"] or float("nan")) / 60.0}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=float, nargs="+", default=[100.0, 50.0, 25.0, 12.5])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--nights", nargs="+", choices=sorted(NIGHTS), default=sorted(NIGHTS))
    parser.add_argument("--csv", default=str(ROOT / "benchmarks" / "results" / "cell_length.csv"))
    args = parser.parse_args(argv)
    rows = []
    for night in args.nights:
        path = NIGHTS[night]
        for length in args.lengths:
            runs = [one(path, length, seed) for seed in range(1, args.seeds + 1)]
            row = {"night": night, "max_cell_m": length}
            for key in runs[0]:
                row[key] = round(statistics.median(r[key] for r in runs), 2)
            rows.append(row)
            print_table([row])
    print_table(rows)
    write_csv(rows, args.csv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
