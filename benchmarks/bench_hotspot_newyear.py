"""The New Year's Eve stairs over seeds: local density on the Chen Yi Square landing with and without
one-way separation (issue 14's acceptance), from the coupled network + 2D run.

    python benchmarks/bench_hotspot_newyear.py [--seeds 10] [--duration-s 600] [--jobs 1]
        [--csv benchmarks/results/hotspot_newyear.csv] [--heatmaps docs]

Runs ``scenarios/bund_newyear_stairs.toml`` for seeds 1..N with ``separation = none`` and
``one_way``; per run: the highest local density on the landing (Gaussian estimate, R = 1/sqrt(pi) m,
on a 0.25 m grid, sampled every 0.5 s), the time it spent above 4 and 5 p/m2, the most people in the
area, people handed in and out, the longest queue held on the network at its entries, and wall time.
Prints a table and the count of seeds with landing > 5 p/m2 (no separation) and < 4 p/m2 (one-way);
writes a CSV and the heat maps of seed 1 (``docs/hotspot_newyear_{none,one_way}.png``).
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SCENARIO = ROOT / "scenarios" / "bund_newyear_stairs.toml"
COLUMNS = ["separation", "seed", "landing_max_local_ppm2", "landing_max_classic_ppm2", "landing_s_above_4",
           "landing_s_above_5", "area_max_local_ppm2", "max_inside", "handed_in", "handed_out", "max_entry_queue",
           "exited", "conserved", "wall_s", "hotspot_wall_s"]


def run_one(separation: str, seed: int, duration_s: float, heatmap: str | None = None) -> dict:
    from sim.hotspot.plots import plot_hotspot
    from sim.kinds import build_run, load_scenario

    sc = load_scenario(SCENARIO, [f"hotspots.chen_yi_stairs.separation={separation}",
                                  f"simulation.duration_s={duration_s}", f"show.end_s={duration_s}"])
    t0 = time.perf_counter()
    run = build_run(sc, seed=seed)
    while run.engine.step_index < run.n_steps:
        run.step()
    wall = time.perf_counter() - t0
    s = run.summary()
    h = s["hotspots"]["chen_yi_stairs"]
    land = h["areas"]["landing_1"]
    if heatmap:
        plot_hotspot(run.hotspots["chen_yi_stairs"], heatmap,
                     title=f"Chen Yi Square stairs, New Year's Eve scenario, seed {seed}, {duration_s / 60:.0f} min")
    return {"separation": separation, "seed": seed,
            "landing_max_local_ppm2": land["max_local_density_ppm2"],
            "landing_max_classic_ppm2": land["max_classic_density_ppm2"],
            "landing_s_above_4": land["time_above_4_ppm2_s"], "landing_s_above_5": land["time_above_5_ppm2_s"],
            "area_max_local_ppm2": h["max_local_density_ppm2"], "max_inside": h["max_inside"],
            "handed_in": h["handed_in"], "handed_out": h["handed_out"], "max_entry_queue": h["max_entry_queue"],
            "exited": s["agents_exited"], "conserved": s["agents_conserved"], "wall_s": round(wall, 1),
            "hotspot_wall_s": h["wall_s"]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--duration-s", type=float, default=600.0)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--csv", default=str(ROOT / "benchmarks" / "results" / "hotspot_newyear.csv"))
    ap.add_argument("--heatmaps", default=str(ROOT / "docs"), help="folder for seed 1's heat maps")
    args = ap.parse_args(argv)
    tasks = []
    for sep in ("none", "one_way"):
        for seed in range(1, args.seeds + 1):
            heat = str(Path(args.heatmaps) / f"hotspot_newyear_{sep}.png") if seed == 1 else None
            tasks.append((sep, seed, args.duration_s, heat))
    t0 = time.perf_counter()
    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs) as pool:
            rows = list(pool.map(run_one, *zip(*tasks)))
    else:
        rows = []
        for task in tasks:
            rows.append(run_one(*task))
            r = rows[-1]
            print(f"  {r['separation']:<8} seed {r['seed']:>2}: landing {r['landing_max_local_ppm2']:.2f} p/m2, "
                  f"wall {r['wall_s']:.0f} s", file=sys.stderr, flush=True)
    Path(args.csv).parent.mkdir(parents=True, exist_ok=True)
    with open(args.csv, "w", newline="") as fh:
        w = csv.DictWriter(fh, COLUMNS)
        w.writeheader()
        w.writerows(rows)
    head = (f"{'separation':<10}{'seed':>5}{'landing max local':>18}{'max N/A':>9}{'s>4':>6}{'s>5':>6}"
            f"{'area max':>9}{'max in':>8}{'in':>7}{'out':>7}{'queue':>7}{'wall s':>8}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['separation']:<10}{r['seed']:>5}{r['landing_max_local_ppm2']:>18.2f}{r['landing_max_classic_ppm2']:>9.2f}"
              f"{r['landing_s_above_4']:>6.0f}{r['landing_s_above_5']:>6.0f}{r['area_max_local_ppm2']:>9.2f}"
              f"{r['max_inside']:>8}{r['handed_in']:>7}{r['handed_out']:>7}{r['max_entry_queue']:>7}{r['wall_s']:>8.1f}")
    none = [r for r in rows if r["separation"] == "none"]
    one = [r for r in rows if r["separation"] == "one_way"]
    above5 = sum(r["landing_max_local_ppm2"] > 5 for r in none)
    below4 = sum(r["landing_max_local_ppm2"] < 4 for r in one)
    print(f"\nno separation: landing above 5 p/m2 in {above5} of {len(none)} seeds; "
          f"one-way: below 4 p/m2 in {below4} of {len(one)} seeds; all conserved: "
          f"{all(r['conserved'] for r in rows)}; {time.perf_counter() - t0:.0f} s in all")
    print(f"CSV: {args.csv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
