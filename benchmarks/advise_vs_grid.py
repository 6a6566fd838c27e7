"""How many runs ``citytwin advise`` needs against a plain grid sweep that gives the same answer.

    python benchmarks/advise_vs_grid.py [--cases plaza bund] [--workers K] [--csv PATH]

The plain grid is what one would run without advise: every cap advise could answer (the coarse grid
and, where advise refines, every multiple of its resolution in between), each with the runs advise
allows per cap (the fewest that can show the risk), on the same seeds; its answer is the highest cap
whose one-sided 95% upper Clopper-Pearson bound is below the risk.  Both run for real into fresh
folders (no run shared), so the wall times compare too.

Cases (each a real model run, no synthetic outcomes):

* ``plaza``: a generated 15 m x 100 m viewing plaza behind a 200 m footway (the tiny scenario of
  ``tests/test_advise.py``), risk 0.2 (14 runs per cap), caps 1,000 / 2,000 / 3,000 / uncapped,
  refined to 250 people; the grid is 1,000 to 3,000 in steps of 250, and uncapped.
* ``bund``: ``scenarios/bund_lightshow_rain.toml`` SHORTENED to keep the grid within minutes on two
  cores: 20 simulated minutes, the show at minute 10 for 5 minutes, arrivals at 1.4x their peak rate
  until then (``--set`` overrides, as the tests' short nights); risk 0.2; advise's default grid around
  the scenario's cap (15,000 to 120,000 in steps of 15,000, and uncapped) with no refinement
  (resolution = the grid step), so the plain grid is the same 9 caps x 14 runs.  The full night takes
  15-30 s a run here; the same comparison on it is the command ``citytwin advise`` with ``--resolution``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import tomllib
from pathlib import Path

from report import print_table, write_csv  # noqa: E402  (benchmarks/report.py)

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sim.core.osmxml import write_osm  # noqa: E402
from sim.core.schema import scenario_toml  # noqa: E402
from sim.study.advise import advise, default_caps  # noqa: E402
from sim.study.stats import cp_upper, runs_needed  # noqa: E402
from sim.study.sweep import read_table, run_sweep  # noqa: E402

RAIN = ROOT / "scenarios" / "bund_lightshow_rain.toml"



def plaza_case(folder: Path) -> dict:
    points = {"Entry West": (0, 0), "c1": (100, 0), "Plaza Gate": (200, 0), "p1": (250, 0), "Plaza End": (300, 0),
              "Exit East": (320, 0)}
    ways = [(["Entry West", "c1", "Plaza Gate"], {"highway": "footway", "width": "12"}),
            (["Plaza Gate", "p1", "Plaza End"], {"highway": "pedestrian", "width": "15", "zone": "plaza"}),
            (["Plaza End", "Exit East"], {"highway": "footway", "width": "12"})]
    osm = write_osm(folder / "plaza.osm", points, ways,
                    node_tags={"Entry West": {"entrance": "yes"}, "Exit East": {"entrance": "yes"}})
    data = {"name": "small plaza", "map": str(osm), "simulation": {"duration_s": 900, "max_cell_m": 50, "seed": 3},
            "crowd": {"view_space_m2": 0.25, "patience_s": 300},
            "show": {"start_s": 700, "end_s": 800, "release": "all"},
            "zones": {"plaza": {"match": "zone=plaza", "view": True, "cap": 2000}},
            "exits": {"street": {"nodes": ["Exit East", "Entry West"]}},
            "sources": [{"name": "west", "nodes": ["Entry West"], "profile": [[0, 400], [10, 400], [11, 0]],
                         "exit": "street"}]}
    path = folder / "plaza.toml"
    path.write_text(scenario_toml(data))
    return {"case": "plaza", "scenario": path, "overrides": [], "risk": 0.2, "caps": [1000, 2000, 3000, None],
            "resolution": 250, "grid": [*range(1000, 3001, 250), None], "zone": "plaza"}


def bund_case(folder: Path) -> dict:
    data = tomllib.loads(RAIN.read_text(encoding="utf-8"))
    show_min, factor = 10, 1.4
    overrides = ["simulation.duration_s=1200", f"show.start_s={show_min * 60}", f"show.end_s={(show_min + 5) * 60}"]
    for k, source in enumerate(data["sources"]):
        rate = round(max(r for _, r in source["profile"]) * factor)
        overrides.append(f"sources.{k}.profile=[[0, {rate}], [{show_min}, {rate}], [{show_min + 1}, 0]]")
    caps, _ = default_caps(data["zones"]["promenade"]["cap"])
    step = caps[1] - caps[0]
    return {"case": "bund (rain night, shortened to 20 min)", "scenario": RAIN, "overrides": overrides, "risk": 0.2,
            "caps": caps, "resolution": step, "grid": caps, "zone": "promenade"}


def grid_answer(rows: list[dict], key: str, risk: float) -> tuple[object, int]:
    """The highest cap of a plain grid whose upper bound is below ``risk`` ('none' if none)."""
    by_cap: dict = {}
    for r in rows:
        if r["status"] == "ok":
            cap = r[key]
            by_cap.setdefault(cap, []).append(r["safe"] is False)
    passing = [c for c, fails in by_cap.items() if cp_upper(sum(fails), len(fails)) < risk]
    if not passing:
        return "none", len(rows)
    best = max(passing, key=lambda c: float("inf") if c in (None, "") else c)
    return ("uncapped" if best in (None, "") else best), len(rows)


def run_case(case: dict, folder: Path, workers: int | None) -> dict:
    key = f"zones.{case['zone']}.cap"
    seeds = runs_needed(case["risk"])
    t0 = time.perf_counter()
    advice = advise(case["scenario"], case["risk"], caps=case["caps"], resolution=case["resolution"],
                    overrides=case["overrides"], out_dir=folder / "advise", workers=workers, report=False,
                    log=lambda msg: None)
    advise_s = time.perf_counter() - t0
    found = advice.best is not None and advice.best.search.found
    answer = ("uncapped" if advice.best.search.cap is None else advice.best.search.cap) if found else "none"
    grid = [f"{key}=" + ",".join("none" if c is None else str(c) for c in case["grid"])]
    t0 = time.perf_counter()
    result = run_sweep(case["scenario"], grid, seeds, folder / "grid", overrides=case["overrides"], workers=workers,
                       log=lambda msg: None)
    grid_s = time.perf_counter() - t0
    g_answer, g_runs = grid_answer(read_table(result.table_path), key, case["risk"])
    return {"case": case["case"], "risk": case["risk"], "runs_per_cap": seeds, "grid_caps": len(case["grid"]),
            "advise_answer": answer, "grid_answer": g_answer, "same_answer": answer == g_answer,
            "advise_runs": advice.runs_total, "grid_runs": g_runs,
            "runs_ratio": round(g_runs / max(1, advice.runs_total), 1),
            "advise_wall_s": round(advise_s, 1), "grid_wall_s": round(grid_s, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", choices=["plaza", "bund"], default=["plaza", "bund"])
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--csv", default=str(ROOT / "benchmarks" / "results" / "advise_vs_grid.csv"))
    parser.add_argument("--keep", default=None, help="keep the run folders here (default: a temporary folder)")
    args = parser.parse_args(argv)
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="advise_vs_grid_"))
    rows = []
    try:
        for name in args.cases:
            folder = root / name
            folder.mkdir(parents=True, exist_ok=True)
            case = plaza_case(folder) if name == "plaza" else bund_case(folder)
            rows.append(run_case(case, folder, args.workers))
            print_table(rows)
            print()
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    write_csv(rows, args.csv)
    print(f"written: {args.csv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
