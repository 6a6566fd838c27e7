"""Two versions of the crowd engine side by side: the same nights, interleaved in short chunks.

    python benchmarks/bench_crowd_versions.py OLD_CHECKOUT [NEW_CHECKOUT] [--rounds N] [--chunk-steps N] [--csv PATH]

``OLD_CHECKOUT`` is another clone or worktree of this repository (e.g. ``git worktree add ../base
HEAD~3``); ``NEW_CHECKOUT`` defaults to this one.  Each version runs a night in its own long-lived
process (kernels compiled on a 2-minute warm-up first); the two take turns, ``--chunk-steps`` steps
at a time (300: five simulated minutes, a fraction of a second), the one that goes first swapping
every chunk, and each sums the wall and CPU time of its own chunks.  On a shared machine whose speed
drifts by a factor of two within the hour (docs/sources.md section 11), both versions so
see the same load, and the ratio of their times holds where whole runs one after the other would
not.  The table shows each version's fastest and slowest round and the ratio of their medians; each
night's walker moves, promenade peak and exits are compared, so that a speed-up that changed a
result shows at once.
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

#: A worker: one night, stepped on request ("N" on stdin: N more steps), timed per chunk.
_WORKER = """
import json, sys, time
from sim.crowd.model import CrowdModel
from sim.kinds import load_scenario
path, overrides = sys.argv[1], json.loads(sys.argv[2])
CrowdModel(load_scenario(path, ["simulation.duration_s=120", "show.start_s=60", "show.end_s=90"])).run()
model = CrowdModel(load_scenario(path, overrides))
engine = model.engine
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    end = min(model.n_steps, engine.step_index + int(line))
    wall, cpu = time.perf_counter(), time.process_time()
    while engine.step_index < end:
        model.step()
    out = {"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu,
           "done": engine.step_index >= model.n_steps}
    if out["done"]:
        summary = model.summary()
        out.update(walker_moves=summary["counters"]["walker_moves"], exited=summary["counters"]["exited"],
                   peak_promenade=summary["peak_occupancy"].get("promenade"))
    print(json.dumps(out), flush=True)
    if out["done"]:
        break
"""


class _Worker:
    """One version's night in its own process (its ``sim`` first on the path)."""

    def __init__(self, checkout: Path, night: str, overrides: list[str]):
        env = dict(os.environ, PYTHONPATH=str(checkout))
        self.proc = subprocess.Popen([sys.executable, "-c", _WORKER, str(checkout / "scenarios" / night),
                                      json.dumps(overrides)], env=env, cwd=checkout, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.wall_s = self.cpu_s = 0.0
        self.result: dict | None = None
        self._read()

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"worker exited (code {self.proc.wait()}); run the night alone to see its error")
        return json.loads(line)

    def chunk(self, steps: int) -> None:
        self.proc.stdin.write(f"{steps}\n")
        self.proc.stdin.flush()
        out = self._read()
        self.wall_s += out["wall_s"]
        self.cpu_s += out["cpu_s"]
        if out["done"]:
            self.result = {"wall_s": self.wall_s, "cpu_s": self.cpu_s, **{k: out[k] for k in
                           ("walker_moves", "exited", "peak_promenade")}}
            self.proc.stdin.close()
            self.proc.wait()


def run_pair(old: Path, new: Path, night: str, overrides: list[str], chunk_steps: int) -> tuple[dict, dict]:
    """One night with both versions, interleaved chunk by chunk; returns (old, new) results."""
    workers = [_Worker(old, night, overrides), _Worker(new, night, overrides)]
    k = 0
    while any(w.result is None for w in workers):
        for w in (workers if k % 2 == 0 else workers[::-1]):
            if w.result is None:
                w.chunk(chunk_steps)
        k += 1
    return workers[0].result, workers[1].result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path, help="the other checkout (a clone or worktree of this repository)")
    parser.add_argument("new", type=Path, nargs="?", default=ROOT, help="default: this checkout")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--night", nargs="*", default=list(NIGHTS))
    parser.add_argument("--chunk-steps", type=int, default=300, help="steps a version runs before the other's turn")
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
            pair = run_pair(args.old.resolve(), args.new.resolve(), night, overrides, max(1, args.chunk_steps))
            for label, res in zip(("old", "new"), pair):
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
