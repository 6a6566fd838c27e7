"""The light-show nights with the Chen Yi Square stairs run in 2D (hotspot on) and on the network alone
(hotspot off): the densities each reports at the stairs, and the cost of the coupled run.

    python benchmarks/bench_hotspot_lightshow.py [--scenarios rain dry] [--seed 2021] [--duration-s S]
        [--csv benchmarks/results/hotspot_lightshow.csv]

Hotspot on: the scenario as a ``kind = "hotspot"`` scenario with ``[hotspots.chen_yi_stairs]`` as in
``scenarios/bund_newyear_stairs.toml`` (no separation).  Measured at the stairs, every network step:

* network (hotspot off): people on the stairs' cells over their area (the 15 m x 6 m link), its
  maximum over the night, and the densest 2.5 m cell (the place KPI ``Chen Yi Square stairs``);
* 2D (hotspot on): people on the flights and landing over their area (8.1 m x 6 m), its maximum, and
  the highest local density there (Gaussian, R = 1/sqrt(pi) m).

The two areas differ (the network link runs 15 m from the square's centre line to the promenade's;
the 2D stairs are the 8.1 m of flights and landing): both are "the stairs", neither is a subset.  The
same footprint on both: the network's middle 8.1 m of the link (each cell's share in it, people spread
evenly within a cell) against the 2D flights and landing, 8.1 m x 6 m (column "flights 48.6 m2").
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HOTSPOT = {"match": "name=Chen Yi Square stairs", "flights_m": [2.7, 2.4], "landings_m": [3.0],
           "apron_length_m": 5.0, "apron_width_m": 12.0, "separation": "none", "trajectory_fps": 0.0}


def _scenario(name: str, hotspot: bool, duration_s: float | None):
    from sim.core.schema import read_scenario_data
    from sim.kinds import scenario_from_dict

    path = ROOT / "scenarios" / f"bund_lightshow_{name}.toml"
    cut = [f"simulation.duration_s={duration_s}", f"show.start_s={(duration_s or 0) / 2}", f"show.end_s={duration_s}"]
    data = read_scenario_data(path, cut if duration_s else [])      # a short smoke run: the show in its second half
    if hotspot:
        data = {**data, "kind": "hotspot", "hotspots": {"chen_yi_stairs": dict(HOTSPOT)}}
    return scenario_from_dict(data, str(path))


def _middle_window(cell_length_m: np.ndarray, width_m: float) -> tuple[np.ndarray, float]:
    """The same footprint as the 2D flights and landing (8.1 m x the link's width) on the network: the
    middle 8.1 m of the stairs link, as the share of each of its cells (in order along the link) that
    lies in it; people are spread evenly within a cell.  Returns (weights, window area m2)."""
    stairs_m = sum(HOTSPOT["flights_m"]) + sum(HOTSPOT["landings_m"])
    ends = np.concatenate([[0.0], np.cumsum(cell_length_m)])
    lo = (ends[-1] - stairs_m) / 2
    hi = lo + stairs_m
    overlap = np.clip(np.minimum(ends[1:], hi) - np.maximum(ends[:-1], lo), 0.0, None)
    return overlap / cell_length_m, stairs_m * width_m


def run(name: str, hotspot: bool, seed: int, duration_s: float | None) -> dict:
    from sim.kinds import build_run

    sc = _scenario(name, hotspot, duration_s)
    t0 = time.perf_counter()
    model = build_run(sc, seed=seed)
    a = model.engine.arrays
    links = a.walk.network.links_where("name", "Chen Yi Square stairs")
    cells = a.walk.cells_of_links(links)
    link_area = float(a.walk.cell_area_m2[cells].sum())
    weights, mid_area = _middle_window(a.walk.cell_length_m[cells], float(a.walk.cell_area_m2[cells][0])
                                       / float(a.walk.cell_length_m[cells][0]))
    peak_link = peak_mid = 0.0
    while model.engine.step_index < model.n_steps:
        model.step()
        if not hotspot:
            count = model.engine.cells.count[cells]
            peak_link = max(peak_link, float(count.sum()) / link_area)
            peak_mid = max(peak_mid, float(count @ weights) / mid_area)
    wall = time.perf_counter() - t0
    s = model.summary()
    row = {"scenario": name, "hotspot": "on" if hotspot else "off", "seed": seed, "sim_s": s["sim_seconds"],
           "wall_s": round(wall, 1), "agents": s["agents_total"]}
    if hotspot:
        h = s["hotspots"]["chen_yi_stairs"]
        st = h["areas"]["stairs"]
        row.update(stairs_area_m2=8.1 * 6, stairs_peak_mean_ppm2=st["max_classic_density_ppm2"],
                   stairs_peak_local_ppm2=st["max_local_density_ppm2"], stairs_s_above_4=st["time_above_4_ppm2_s"],
                   landing_peak_local_ppm2=h["areas"]["landing_1"]["max_local_density_ppm2"],
                   handed_in=h["handed_in"], max_entry_queue=h["max_entry_queue"], hotspot_wall_s=h["wall_s"])
    else:
        place = s["places"]["Chen Yi Square stairs"]
        row.update(stairs_area_m2=link_area, stairs_peak_mean_ppm2=round(peak_link, 3),
                   stairs_peak_cell_ppm2=place["peak_density_ppm2"], flights_window_m2=round(mid_area, 1),
                   flights_window_peak_ppm2=round(peak_mid, 3))
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenarios", nargs="+", default=["rain", "dry"])
    ap.add_argument("--seed", type=int, default=2021)
    ap.add_argument("--duration-s", type=float, default=None)
    ap.add_argument("--csv", default=str(ROOT / "benchmarks" / "results" / "hotspot_lightshow.csv"))
    args = ap.parse_args(argv)
    rows = []
    for name in args.scenarios:
        for hotspot in (False, True):
            rows.append(run(name, hotspot, args.seed, args.duration_s))
            print(rows[-1], file=sys.stderr, flush=True)
    cols = sorted({k for r in rows for k in r}, key=lambda k: (k not in ("scenario", "hotspot", "seed"), k))
    Path(args.csv).parent.mkdir(parents=True, exist_ok=True)
    with open(args.csv, "w", newline="") as fh:
        w = csv.DictWriter(fh, cols)
        w.writeheader()
        w.writerows(rows)
    head = (f"{'night':<6}{'hotspot':>8}{'area m2':>9}{'peak N/A p/m2':>15}{'flights 48.6 m2':>16}{'densest cell':>13}"
            f"{'peak local':>11}{'wall s':>8}")
    print(head)
    print("-" * len(head))
    for r in rows:
        flights = r.get('flights_window_peak_ppm2', r['stairs_peak_mean_ppm2'] if r['hotspot'] == 'on' else np.nan)
        print(f"{r['scenario']:<6}{r['hotspot']:>8}{r['stairs_area_m2']:>9.1f}{r['stairs_peak_mean_ppm2']:>15.2f}"
              f"{flights:>16.2f}{r.get('stairs_peak_cell_ppm2', np.nan):>13.2f}{r.get('stairs_peak_local_ppm2', np.nan):>11.2f}"
              f"{r['wall_s']:>8.1f}")
    print(f"CSV: {args.csv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
