"""Fuzzed inputs at scale: N generated scenario files and small maps through ``citytwin run``.

    python benchmarks/fuzz_inputs.py [--cases 10000] [--kind crowd|traffic|bikes|hotspot] [--subprocess-every 50]
                                     [--time-limit 30] [--subprocess-time-limit 120] [--seed N]
                                     [--csv benchmarks/results/fuzz_inputs.csv] [--findings PATH]

Cases come from the strategies in ``tests/fuzzing.py`` (maps with unicode names, zero-length ways,
disconnected graphs, odd tags; scenarios mutated along the kinds' pydantic schemas; huge demands).
Each runs in this process through the CLI entry point ``sim.cli.main(["run", ...])`` with a time
limit; every ``--subprocess-every``-th case also runs as a ``citytwin run`` subprocess (a hard
time limit and a 6 GiB address-space cap).  Outcomes (see ``tests.fuzzing.Outcome``):

* ``ok``: exit 0, complete results (summary, time series, scenario, provenance), everyone conserved;
* ``error: CLASS``: a clean ``SimError`` (exit 2, a message, no output);
* ``conservation``: exit 3 (a recount failed) or a summary not conserved;
* ``traceback: TYPE``, ``timeout``, ``partial`` (a results or staging folder left where none should be).

Kernels are compiled before the clock starts; a case that still times out while Numba compiles (a
kernel met new argument types) is run once more, compiled, and that outcome counts (the count of such
re-runs is printed).

Prints the counts by outcome, writes them as CSV, and writes every case that is not ``ok`` or a clean
error to ``--findings`` (JSON lines: outcome, traceback, the case to reproduce it).  The 10,000-case
default may take hours; ``--cases 300`` takes a few minutes.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from report import print_table, write_csv  # noqa: E402  (benchmarks/report.py)

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hypothesis import HealthCheck, given, settings  # noqa: E402

from tests.fuzzing import cases, run_in_process, run_subprocess  # noqa: E402

SUBPROCESS_MEMORY_BYTES = 6 * 1024 ** 3
CLEAN = ("ok", "error")


def get_options(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10_000, help="cases to generate (default 10000)")
    parser.add_argument("--kind", choices=["crowd", "traffic", "bikes", "hotspot"], default=None,
                        help="only this scenario kind (default: all, drawn at random)")
    parser.add_argument("--subprocess-every", type=int, default=50, metavar="K",
                        help="also run every K-th case as a `citytwin run` subprocess (0: never)")
    parser.add_argument("--time-limit", type=float, default=30.0, help="seconds per in-process case")
    parser.add_argument("--subprocess-time-limit", type=float, default=120.0, help="seconds per subprocess case")
    parser.add_argument("--plots-share", type=int, default=5, help="percent of cases that also draw the plots")
    parser.add_argument("--seed", type=int, default=None, help="hypothesis seed (default: random)")
    parser.add_argument("--csv", default=str(ROOT / "benchmarks" / "results" / "fuzz_inputs.csv"))
    parser.add_argument("--findings", default=str(ROOT / "benchmarks" / "results" / "fuzz_findings.jsonl"),
                        help="JSON lines: every case that is not ok or a clean error")
    return parser.parse_args(argv)


def warm_up(kind: str | None, work: Path) -> None:
    """Compile every kind's kernels before the clock starts (one generated case each, no time limit,
    not counted): a cold Numba cache would otherwise make the first cases look like hangs."""
    import warnings
    from tests.fuzzing import BASES
    from hypothesis.errors import NonInteractiveExampleWarning
    for k in ([kind] if kind else sorted(BASES)):
        for n in range(5):               # a drawn case may stop at a clean error before any kernel runs
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NonInteractiveExampleWarning)
                case = cases(k, plots_share=100).example()
            run_in_process(case, work / f"warm_{k}{n}", 3600.0)
            shutil.rmtree(work / f"warm_{k}{n}", ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    options = get_options(argv)
    counts: dict[str, Counter] = {"in_process": Counter(), "subprocess": Counter()}
    seconds: dict[str, float] = {"in_process": 0.0, "subprocess": 0.0}
    findings_path = Path(options.findings)
    findings_path.parent.mkdir(parents=True, exist_ok=True)
    findings = open(findings_path, "w", encoding="utf-8")
    work = Path(tempfile.mkdtemp(prefix="citytwin-fuzz-"))
    done = [0]
    recompiled = [0]            # cases run again after a time-out spent compiling
    start = time.perf_counter()

    def record(how: str, case, outcome) -> None:
        counts[how][outcome.label] += 1
        seconds[how] += outcome.seconds
        if outcome.status not in CLEAN:
            findings.write(json.dumps({"how": how, "outcome": outcome.label, "message": outcome.message[-6000:],
                                       "seconds": round(outcome.seconds, 2), "case": json.loads(case.describe())},
                                      ensure_ascii=False, default=str) + "\n")
            findings.flush()

    warm_up(options.kind, work)
    start = time.perf_counter()
    settings_ = settings(max_examples=options.cases, deadline=None, database=None, derandomize=False,
                         suppress_health_check=list(HealthCheck), print_blob=False)

    @settings_
    @given(cases(options.kind, plots_share=options.plots_share))
    def one(case) -> None:
        k = done[0]
        done[0] += 1
        folder = work / f"case{k}"
        outcome = run_in_process(case, folder, options.time_limit)
        if outcome.status == "timeout" and "/numba/core/" in outcome.message:
            # the clock ran out while Numba compiled a kernel for new argument types: run it again, compiled
            shutil.rmtree(folder, ignore_errors=True)
            recompiled[0] += 1
            outcome = run_in_process(case, folder, options.time_limit)
        record("in_process", case, outcome)
        shutil.rmtree(folder, ignore_errors=True)
        if options.subprocess_every and k % options.subprocess_every == 0:
            record("subprocess", case, run_subprocess(case, folder, options.subprocess_time_limit,
                                                      SUBPROCESS_MEMORY_BYTES))
            shutil.rmtree(folder, ignore_errors=True)
        if done[0] % 100 == 0:
            bad = sum(n for c in counts.values() for lab, n in c.items() if not lab.startswith(CLEAN))
            print(f"{done[0]} cases, {time.perf_counter() - start:.0f} s, {bad} finding(s)", file=sys.stderr)

    if options.seed is not None:
        from hypothesis import seed as hypothesis_seed
        one = hypothesis_seed(options.seed)(one)
    try:
        one()
    except KeyboardInterrupt:
        print(f"interrupted after {done[0]} cases", file=sys.stderr)
    finally:
        findings.close()
        shutil.rmtree(work, ignore_errors=True)
    labels = sorted(set(counts["in_process"]) | set(counts["subprocess"]),
                    key=lambda lab: (not lab.startswith("ok"), not lab.startswith("error"), lab))
    rows = [{"outcome": lab, "in_process": counts["in_process"][lab], "subprocess": counts["subprocess"][lab]}
            for lab in labels]
    total = {"outcome": "total", "in_process": sum(counts["in_process"].values()),
             "subprocess": sum(counts["subprocess"].values())}
    print_table([*rows, total])
    n_in, n_sub = max(1, total["in_process"]), max(1, total["subprocess"])
    print(f"\n{done[0]} cases in {time.perf_counter() - start:.0f} s (mean {seconds['in_process'] / n_in:.2f} s in "
          f"process, {seconds['subprocess'] / n_sub:.2f} s as a subprocess); kind: {options.kind or 'all'}; "
          f"{recompiled[0]} case(s) run again after timing out while Numba compiled")
    write_csv([*rows, total], options.csv, ["outcome", "in_process", "subprocess"])
    bad = sum(r["in_process"] + r["subprocess"] for r in rows if not r["outcome"].startswith(CLEAN))
    print(f"table in {options.csv}; {bad} finding(s) in {findings_path}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
