"""Two versions of the crowd engine side by side: the same nights, run alternately, each in its own process.

    python benchmarks/bench_crowd_versions.py OLD_CHECKOUT [NEW_CHECKOUT] [--rounds N] [--csv PATH]

``OLD_CHECKOUT`` is another clone or worktree of this repository (e.g. ``git worktree add ../base
HEAD~3``); ``NEW_CHECKOUT`` defaults to this one.  Each round runs every night once per version,
alternating (old, new, old, new ...), so both see the same load on a shared machine; the table shows
each version's fastest and slowest round and the ratio of their medians.  Each run compiles its
kernels on a 2-minute warm-up first, then times ``CrowdModel.run`` (wall and CPU) and prints the run's
walker moves, promenade peak and exits, so that a speed-up that changed a result shows at once.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from report import print_table, write_csv  # noqa: E402  (benchmarks/report.py)

ROOT = Path(__file__).resolve().parents[1]
NIGHTS = ("bund_lightshow_dry.toml", "bund_lightshow_rain.toml")

_ONE_RUN = """
import json, sys, time
from sim.crowd.model import CrowdModel
from sim.kinds import load_scenario
path, overrides = sys.argv[1], json.loads(sys.argv[2])
CrowdModel(load_scenario(path, ["simulation.duration_s=120", "show.start_s=60", "show.end_s=90"])).run()
model = CrowdModel(load_scenario(path, overrides))
wall, cpu = time.perf_counter(), time.process_time()
summary = model.run()
print(json.dumps({"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu,
                  "walker_moves": summary["counters"]["walker_moves"], "exited": summary["counters"]["exited"],
                  "peak_promenade": summary["peak_occupancy"].get("promenade")}))
"""


def run_once(checkout: Path, night: str, overrides: list[str]) -> dict:
    """One timed night with ``checkout``'s engine (its ``sim`` first on the path)."""
    env = dict(os.environ, PYTHONPATH=str(checkout))
    out = subprocess.run([sys.executable, "-c", _ONE_RUN, str(checkout / "scenarios" / night), json.dumps(overrides)],
                         env=env,
                         capture_output=True, text=True, check=True, cwd=checkout)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path, help="the other checkout (a clone or worktree of this repository)")
    parser.add_argument("new", type=Path, nargs="?", default=ROOT, help="default: this checkout")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--night", nargs="*", default=list(NIGHTS))
    parser.add_argument("--minutes", type=float, default=None, help="shorten every run (smoke test)")
    parser.add_argument("--csv", default=str(ROOT / "benchmarks" / "results" / "crowd_versions.csv"))
    args = parser.parse_args(argv)
    for checkout in (args.old, args.new):
        if not (checkout / "sim" / "crowd" / "model.py").is_file():
            parser.error(f"{checkout}: not a citytwin checkout (no sim/crowd/model.py); give a clone or worktree")
    overrides = [] if args.minutes is None else [f"simulation.duration_s={args.minutes * 60}",
                                                 f"show.start_s={args.minutes * 30}", f"show.end_s={args.minutes * 45}"]
    runs: dict[tuple[str, str], list[dict]] = {}
    for r in range(max(1, args.rounds)):
        for night in args.night:
            for label, checkout in (("old", args.old), ("new", args.new)):
                res = run_once(checkout.resolve(), night, overrides)
                runs.setdefault((night, label), []).append(res)
                print(f"round {r + 1} {night} {label}: wall {res['wall_s']:.2f} s, cpu {res['cpu_s']:.2f} s, "
                      f"moves {res['walker_moves']}, peak {res['peak_promenade']}, exited {res['exited']}", flush=True)
    rows = []
    for night in args.night:
        old, new = runs[(night, "old")], runs[(night, "new")]
        same = all((o["walker_moves"], o["exited"], o["peak_promenade"]) == (n["walker_moves"], n["exited"], n["peak_promenade"])
                   for o in old for n in new)
        med_old = statistics.median(o["wall_s"] for o in old)
        med_new = statistics.median(n["wall_s"] for n in new)
        rows.append({"night": night, "rounds": len(old),
                     "old_wall_s": f"{min(o['wall_s'] for o in old):.2f}-{max(o['wall_s'] for o in old):.2f}",
                     "new_wall_s": f"{min(n['wall_s'] for n in new):.2f}-{max(n['wall_s'] for n in new):.2f}",
                     "old_cpu_s": f"{statistics.median(o['cpu_s'] for o in old):.2f}",
                     "new_cpu_s": f"{statistics.median(n['cpu_s'] for n in new):.2f}",
                     "old_over_new_wall": round(med_old / med_new, 2), "same_results": same})
    print_table(rows)
    write_csv(rows, args.csv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
