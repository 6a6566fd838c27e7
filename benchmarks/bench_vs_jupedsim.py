"""Our Numba crowd engine against JuPedSim: the same corridor and bottlenecks, side by side in one run.

    pip install --no-deps jupedsim shapely deprecated   # the JuPedSim part of the "bench" extra, see below
    python benchmarks/bench_vs_jupedsim.py [--minutes M] [--warmup-minutes W] [--size S]
                                           [--bottleneck-width B ...] [--rate-per-min R] [--repeat N]
                                           [--csv FILE]

Cases (``tests/conftest.py::corridor_scenario``, the corridor of ``tests/test_crowd.py``): a 4 m wide,
200 m long corridor fed at ``--rate-per-min`` (600 p/min, about twice its 1.22 p/(m s) capacity) for
``--minutes`` (default 10); then the same corridor with a 10 m long bottleneck of each
``--bottleneck-width`` (default 1.2 m and 2 m) in its middle.  ``--size S`` shortens corridor and
bottleneck to S times their length (a tiny smoke run; widths and feed stay).

 - citytwin: ``CrowdModel`` on the corridor map at the scenario's default step (1 s).  People queue at
   the entrance node and walk on into a wide viewing plaza (the show ends with the run, so nobody
   turns back).  Flow is ``edge_passed`` of the corridor's last cell (or of the bottleneck's cell).
 - JuPedSim: its collision-free speed model (Tordeux et al. 2016; the model whose speed docs/sources.md section 11 quotes) at
   its default dt 0.01 s, on a shapely polygon of the same corridor; desired speed 1.34 m/s (Weidmann's
   v0, as ours), radius 0.2 m and time gap 1 s (JuPedSim's defaults).  A source adds the same arrival
   rate at the entrance: arrivals wait in a queue outside the corridor and are put in, every 0.1 s, at
   free places (no agent within 0.42 m) in its first 1.5 m; one journey to an exit stage (the last 0.5 m
   of the corridor).  Flow is counted at a line: at the corridor's end, agents removed by the exit; at
   the bottleneck's end, agents beyond it plus agents removed.

Specific flow is people over the line from ``--warmup-minutes`` (default: half the run) to the end,
per second and per metre of width at the line (``specific_flow_late_ppms``: the window's second half
only, to show whether the flow is still changing).  Agent-steps are agents on the corridor (bottleneck
included) summed over steps, in both engines; ours also carries the entrance queue and the plaza
crowd (``engine_agent_steps``), JuPedSim carries nothing else.  Wall and CPU seconds are the stepping
loop only (sources and counters included), set-up apart; our kernels are compiled by a tiny run first,
and our engine runs ``--repeat`` times per case (best time; it takes well under a second), JuPedSim once.
On a shared machine wall time includes waiting for a core: ``agent_steps_per_cpu_s`` divides by the
process's CPU time instead (both engines step on one thread).

Install: ``pip install -e ".[bench]"`` also pulls JuPedSim's declared GUI dependencies (PySide6, VTK:
about 1.2 GB, unused here); ``pip install --no-deps jupedsim shapely deprecated`` (numpy is already
there) is all this script needs (``deprecated`` only on Python < 3.13).
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import tests.conftest as corridor_maps  # noqa: E402
from sim.crowd import kernels as K  # noqa: E402
from sim.crowd.model import CrowdModel  # noqa: E402
from sim.core.osmxml import write_osm  # noqa: E402
from sim.kinds import scenario_from_dict  # noqa: E402

CORRIDOR_LENGTH_M = 200.0       # tests/conftest.py::corridor_scenario
CORRIDOR_WIDTH_M = 4.0
BOTTLENECK_LENGTH_M = 10.0
WEIDMANN_MAX_PPMS = 1.22        # docs/sources.md: Weidmann (1993) maximum specific flow
IMO_DOOR_PPMS = 1.3             # docs/sources.md: IMO MSC.1/Circ.1238, corridors and doors
GREEN_GUIDE_PPMS = 1.37         # docs/sources.md: UK Green Guide, 82 p/m/min

JPS_DT_S = 0.01                 # JuPedSim's default step (kept)
JPS_DESIRED_SPEED_MPS = 1.34    # Weidmann's v0, our free speed
JPS_RADIUS_M = 0.2              # JuPedSim defaults
JPS_TIME_GAP_S = 1.0
JPS_SOURCE_EVERY_STEPS = 10     # the source tries to put agents in every 0.1 s
JPS_SOURCE_CLEARANCE_M = 0.42   # a place is free when no agent's centre is nearer (2 radii + 2 cm)
JPS_EXIT_DEPTH_M = 0.5

NOT_LIKE_FOR_LIKE = """\
Not like for like: JuPedSim moves continuous 2-D agents (collision-free speed model) every 0.01 s;
citytwin moves people along network cells (Weidmann speeds, capacity-bounded transfers) every 1 s.
Both answer the same question (how many people per metre and second get through this corridor or
bottleneck, and how long it takes to compute), so the ratios below are ratios of throughput for
that question, not of the cost of the same model.  An agent-step is one agent advanced one step of
its own engine (0.01 s there, 1 s here): real-time factor (simulated s per wall s) is the fairer
of the two ratios."""


# --------------------------------------------------------------------------- availability
def jupedsim_missing() -> str | None:
    """Why JuPedSim cannot run here (None when ``jupedsim`` and ``shapely`` import)."""
    missing = []
    for module in ("jupedsim", "shapely"):
        try:
            __import__(module)
        except ImportError as exc:
            missing.append(f"{module} ({exc})")
    if missing:
        return (f"{', '.join(missing)} not importable: pip install --no-deps jupedsim shapely deprecated "
                f"(the JuPedSim part of the optional 'bench' extra) to run bench_vs_jupedsim")
    return None


# --------------------------------------------------------------------------- cases
def case_label(bottleneck_width_m: float | None) -> str:
    return "corridor 4 m" if bottleneck_width_m is None else f"bottleneck {bottleneck_width_m:g} m"


def reference_text(bottleneck_width_m: float | None) -> str:
    if bottleneck_width_m is None:
        return f"Weidmann max {WEIDMANN_MAX_PPMS}"
    return (f"IMO {IMO_DOOR_PPMS} (Green Guide {GREEN_GUIDE_PPMS}); "
            f"Seyfried 2009/Liao 2014: flow linear in width <=5 m, i.e. specific flow independent of width")


def reference_ppms(bottleneck_width_m: float | None) -> float:
    return WEIDMANN_MAX_PPMS if bottleneck_width_m is None else IMO_DOOR_PPMS


def _specific_flow(t_s: np.ndarray, passed: np.ndarray, warmup_s: float, width_m: float) -> float:
    """People over the line per second and metre, from the first sample at or after ``warmup_s`` to the last."""
    i = int(np.searchsorted(t_s, warmup_s - 1e-9))
    if i >= t_s.size - 1:
        return float("nan")
    return float((passed[-1] - passed[i]) / (t_s[-1] - t_s[i]) / width_m)


def _flows(t_s: np.ndarray, passed: np.ndarray, warmup_s: float, width_m: float) -> tuple[float, float]:
    """Specific flow over the measuring window, and over its second half (is it still changing?)."""
    late_s = (warmup_s + float(t_s[-1])) / 2
    return _specific_flow(t_s, passed, warmup_s, width_m), _specific_flow(t_s, passed, late_s, width_m)


# --------------------------------------------------------------------------- citytwin
@contextmanager
def _corridor_length(size: float):
    """Let ``corridor_scenario`` draw its map ``size`` times as long (east coordinates scaled)."""
    if size == 1.0:
        yield
        return

    def scaled(path, points_m, ways, **kwargs):
        return write_osm(path, {k: (x * size, y) for k, (x, y) in points_m.items()}, ways, **kwargs)

    with mock.patch.object(corridor_maps, "write_osm", scaled):
        yield


def citytwin_data(folder: Path, bottleneck_width_m: float | None, minutes: float, rate_per_min: float,
                  size: float) -> dict:
    """The scenario dict of one case: ``corridor_scenario`` with the show ending at the run's end, so
    arrivals go on for the whole run and nobody is released back through the corridor."""
    duration_s = minutes * 60.0
    bottleneck = None if bottleneck_width_m is None else {"highway": "footway", "width": f"{bottleneck_width_m:g}"}
    with _corridor_length(size):
        return corridor_maps.corridor_scenario(
            folder, width_m=CORRIDOR_WIDTH_M, rate_per_min=rate_per_min, bottleneck=bottleneck,
            duration_s=duration_s,
            extra={"show": {"start_s": max(0.0, duration_s - 1.0), "end_s": duration_s, "release": "all"}})


def run_citytwin(bottleneck_width_m: float | None, minutes: float, warmup_s: float, rate_per_min: float,
                 size: float, repeat: int = 1) -> dict:
    """Our engine on one case, ``repeat`` times (same seed, same counts): the best times count."""
    best_setup_s = best_wall_s = best_cpu_s = np.inf
    with tempfile.TemporaryDirectory(prefix="bench_vs_jupedsim_") as tmp:
        data = citytwin_data(Path(tmp), bottleneck_width_m, minutes, rate_per_min, size)
        for _ in range(repeat):
            t0 = time.perf_counter()
            model = CrowdModel(scenario_from_dict(data, str(Path(tmp) / "corridor.toml")))
            best_setup_s = min(best_setup_s, time.perf_counter() - t0)
            engine = model.engine
            a = engine.arrays
            walk = a.walk
            corridor_edge = a.cell_zone[a.edge_cell] < 0                 # every cell but the plaza's
            if bottleneck_width_m is None:
                end = walk.walk_node(walk.network.find_node("Corridor End"))
                line_edges = np.flatnonzero((walk.edge_to == end) & corridor_edge)
                line_width_m = CORRIDOR_WIDTH_M
            else:
                b0 = walk.walk_node(walk.network.find_node("b0"))
                b1 = walk.walk_node(walk.network.find_node("b1"))
                line_edges = np.flatnonzero((walk.edge_from == b0) & (walk.edge_to == b1))
                line_width_m = bottleneck_width_m
            n = model.n_steps
            t_s, passed = np.zeros(n + 1), np.zeros(n + 1, dtype=np.int64)
            on_corridor = np.zeros(n, dtype=np.int64)
            in_engine = np.zeros(n, dtype=np.int64)
            wall_s = cpu_s = 0.0
            for k in range(n):
                w0, c0 = time.perf_counter(), time.process_time()
                model.step()
                wall_s += time.perf_counter() - w0
                cpu_s += time.process_time() - c0
                # Counted outside the timed part: agents on the corridor after this step.
                na = engine.n_active
                state, edge = engine.agents.state[:na], engine.agents.edge[:na]
                walking = ((state == K.WALK_IN) | (state == K.WALK_OUT)) & (edge >= 0)
                on_corridor[k] = int(corridor_edge[edge[walking]].sum())
                in_engine[k] = engine.inside
                t_s[k + 1], passed[k + 1] = engine.t_s, int(engine.edge_passed[line_edges].sum())
            best_wall_s, best_cpu_s = min(best_wall_s, wall_s), min(best_cpu_s, cpu_s)
        conserved = model.summary()["agents_conserved"]
        entered = int(engine.counters[K.C_ENTERED_NETWORK])
    steps = int(on_corridor.sum())
    return _row(bottleneck_width_m, "citytwin (Numba)", "network cells, Weidmann FD", a.dt_s, entered,
                int(on_corridor.max()), engine.t_s, best_setup_s, best_wall_s, best_cpu_s, steps,
                int(in_engine.sum()), _flows(t_s, passed, warmup_s, line_width_m), warmup_s, conserved)


# --------------------------------------------------------------------------- JuPedSim
def corridor_polygon(bottleneck_width_m: float | None, size: float):
    """The walkable area: the corridor, narrowed to the bottleneck (centred) in its middle."""
    import shapely
    length_m, width_m = CORRIDOR_LENGTH_M * size, CORRIDOR_WIDTH_M
    if bottleneck_width_m is None:
        return shapely.box(0.0, 0.0, length_m, width_m)
    x0, x1 = length_m / 2 - BOTTLENECK_LENGTH_M * size / 2, length_m / 2 + BOTTLENECK_LENGTH_M * size / 2
    y0, y1 = (width_m - bottleneck_width_m) / 2, (width_m + bottleneck_width_m) / 2
    return shapely.union_all([shapely.box(0.0, 0.0, x0, width_m), shapely.box(x0, y0, x1, y1),
                              shapely.box(x1, 0.0, length_m, width_m)]).normalize()


def _count(ids) -> int:
    return sum(1 for _ in ids)


def run_jupedsim(bottleneck_width_m: float | None, minutes: float, warmup_s: float, rate_per_min: float,
                 size: float, seed: int = 3) -> dict:
    import jupedsim as jps
    import shapely
    length_m, width_m = CORRIDOR_LENGTH_M * size, CORRIDOR_WIDTH_M
    t0 = time.perf_counter()
    sim = jps.Simulation(model=jps.CollisionFreeSpeedModel(), geometry=corridor_polygon(bottleneck_width_m, size),
                         dt=JPS_DT_S)
    exit_stage = sim.add_exit_stage(shapely.box(length_m - JPS_EXIT_DEPTH_M, 0.0, length_m, width_m))
    journey = sim.add_journey(jps.JourneyDescription([exit_stage]))
    params = jps.CollisionFreeSpeedModelAgentParameters(
        journey_id=journey, stage_id=exit_stage, desired_speed=JPS_DESIRED_SPEED_MPS, radius=JPS_RADIUS_M,
        time_gap=JPS_TIME_GAP_S)
    setup_s = time.perf_counter() - t0
    if bottleneck_width_m is None:
        downstream, line_width_m = None, width_m                      # the line is the exit
    else:
        x1 = length_m / 2 + BOTTLENECK_LENGTH_M * size / 2
        downstream, line_width_m = shapely.box(x1, 0.0, length_m, width_m), bottleneck_width_m
    rng = np.random.default_rng(seed)
    n_y = int((width_m - 0.6) // 0.45) + 1
    places = np.array([(x, y) for x in (0.4, 0.9, 1.4) for y in np.linspace(0.3, width_m - 0.3, n_y)])
    chunk_s = JPS_SOURCE_EVERY_STEPS * JPS_DT_S
    n_chunks = int(round(minutes * 60.0 / chunk_s))
    per_sample = max(1, int(round(1.0 / chunk_s)))                   # line counts once a simulated second
    arrivals_per_chunk = rate_per_min / 60.0 * chunk_s
    queue = 0.0
    inserted = 0
    steps = 0
    peak = 0
    t_list, passed_list = [0.0], [0]
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for k in range(n_chunks):
        queue += arrivals_per_chunk
        for i in rng.permutation(len(places)):
            if queue < 1.0:
                break
            pos = (float(places[i, 0] + rng.uniform(-0.05, 0.05)), float(places[i, 1] + rng.uniform(-0.05, 0.05)))
            if _count(sim.agents_in_range(pos, JPS_SOURCE_CLEARANCE_M)) == 0:
                params.position = pos
                sim.add_agent(params)
                inserted += 1
                queue -= 1.0
        before = sim.agent_count()
        sim.iterate(JPS_SOURCE_EVERY_STEPS)
        after = sim.agent_count()
        steps += JPS_SOURCE_EVERY_STEPS * (before + after) // 2
        peak = max(peak, before)
        if (k + 1) % per_sample == 0:
            removed = inserted - after
            beyond = 0 if downstream is None else _count(sim.agents_in_polygon(downstream))
            t_list.append(sim.elapsed_time())
            passed_list.append(removed + beyond)
    wall_s, cpu_s = time.perf_counter() - wall0, time.process_time() - cpu0
    flow = _flows(np.array(t_list), np.array(passed_list), warmup_s, line_width_m)
    return _row(bottleneck_width_m, f"JuPedSim {jps.__version__}", "collision-free speed model", JPS_DT_S,
                inserted, peak, sim.elapsed_time(), setup_s, wall_s, cpu_s, steps, steps, flow, warmup_s, "n/a")


# --------------------------------------------------------------------------- table
def _row(bottleneck_width_m, engine, model, dt_s, agents, peak, sim_s, setup_s, wall_s, cpu_s, steps,
         engine_steps, flow, warmup_s, conserved) -> dict:
    return {"case": case_label(bottleneck_width_m), "engine": engine, "model": model, "dt_s": dt_s,
            "agents": agents, "peak_on_corridor": peak, "sim_s": round(sim_s, 1), "setup_s": round(setup_s, 3),
            "wall_s": round(wall_s, 3), "cpu_s": round(cpu_s, 3), "agent_steps": steps,
            "agent_steps_per_s": round(steps / wall_s) if wall_s > 0 else 0,
            "agent_steps_per_cpu_s": round(steps / cpu_s) if cpu_s > 0 else 0,
            "engine_agent_steps": engine_steps,
            "rtf_sim_s_per_wall_s": round(sim_s / wall_s, 2) if wall_s > 0 else float("inf"),
            "flow_from_s": round(warmup_s, 1), "specific_flow_ppms": round(flow[0], 3),
            "specific_flow_late_ppms": round(flow[1], 3),
            "reference_ppms": reference_ppms(bottleneck_width_m), "reference": reference_text(bottleneck_width_m),
            "conserved": conserved, "ratio_agent_steps_per_s": "", "ratio_rtf": ""}


def bench(bottleneck_width_m: float | None, minutes: float, warmup_s: float, rate_per_min: float,
          size: float, repeat: int = 1) -> list[dict]:
    """Both engines on one case; the citytwin row carries the ratios ours / JuPedSim."""
    ours = run_citytwin(bottleneck_width_m, minutes, warmup_s, rate_per_min, size, repeat)
    print(f"  {ours['case']}: citytwin done ({ours['wall_s']} s)", file=sys.stderr, flush=True)
    theirs = run_jupedsim(bottleneck_width_m, minutes, warmup_s, rate_per_min, size)
    print(f"  {ours['case']}: JuPedSim done ({theirs['wall_s']} s)", file=sys.stderr, flush=True)
    if theirs["agent_steps_per_s"] > 0:
        ours["ratio_agent_steps_per_s"] = round(ours["agent_steps_per_s"] / theirs["agent_steps_per_s"], 2)
    if theirs["rtf_sim_s_per_wall_s"] > 0:
        ours["ratio_rtf"] = round(ours["rtf_sim_s_per_wall_s"] / theirs["rtf_sim_s_per_wall_s"], 1)
    return [ours, theirs]


TABLE_COLUMNS = ["case", "engine", "dt_s", "agents", "peak_on_corridor", "sim_s", "wall_s", "cpu_s",
                 "agent_steps_per_s", "agent_steps_per_cpu_s", "rtf_sim_s_per_wall_s", "specific_flow_ppms",
                 "reference_ppms"]


def print_table(rows: list[dict]) -> None:
    cells = [TABLE_COLUMNS] + [[str(r[c]) for c in TABLE_COLUMNS] for r in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(TABLE_COLUMNS))]
    for j, line in enumerate(cells):
        print(" | ".join(v.rjust(w) if j and i > 1 else v.ljust(w) for i, (v, w) in enumerate(zip(line, widths))))


def main(argv: list[str] | None = None) -> int:
    """Run both engines on every case, print the table and write the CSV; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="simulated minutes per case")
    parser.add_argument("--warmup-minutes", type=float, default=None,
                        help="flow is measured from here to the end (default: half the run)")
    parser.add_argument("--size", type=float, default=1.0,
                        help="corridor and bottleneck length as a share of 200 m and 10 m (smoke runs: 0.1)")
    parser.add_argument("--bottleneck-width", type=float, nargs="*", default=[1.2, 2.0],
                        help="one bottleneck case per width in m (none: the corridor only)")
    parser.add_argument("--rate-per-min", type=float, default=600.0,
                        help="arrivals per minute at the entrance (600: about twice the 4 m corridor's capacity)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="timed runs of our engine per case, the best counts (JuPedSim runs once: minutes each)")
    parser.add_argument("--csv", default=str(ROOT / "benchmarks" / "results" / "jupedsim.csv"))
    args = parser.parse_args(argv)
    problems = []
    if args.minutes <= 0:
        problems.append(f"--minutes must be positive, got {args.minutes!r}")
    warmup_min = args.minutes / 2 if args.warmup_minutes is None else args.warmup_minutes
    if not 0 <= warmup_min < args.minutes:
        problems.append(f"--warmup-minutes must be in [0, --minutes), got {warmup_min!r}")
    if not 0.05 <= args.size <= 1.0:
        problems.append(f"--size must be in [0.05, 1], got {args.size!r}")
    if args.repeat < 1:
        problems.append(f"--repeat must be at least 1, got {args.repeat!r}")
    if args.rate_per_min <= 0:
        problems.append(f"--rate-per-min must be positive, got {args.rate_per_min!r}")
    bad = [w for w in args.bottleneck_width if not 2 * JPS_RADIUS_M < w < CORRIDOR_WIDTH_M]
    if bad:
        problems.append(f"--bottleneck-width must lie between {2 * JPS_RADIUS_M} m (one agent) and the "
                        f"corridor's {CORRIDOR_WIDTH_M:g} m, got {bad!r}")
    if problems:
        parser.error("; ".join(problems))
    reason = jupedsim_missing()
    if reason:
        print(reason, file=sys.stderr)
        return 2
    import jupedsim
    import shapely

    run_citytwin(None, 1.0, 30.0, 60.0, 0.1)                          # warm-up: compile (or load) the kernels
    rows = []
    for width in [None, *args.bottleneck_width]:
        rows += bench(width, args.minutes, warmup_min * 60.0, args.rate_per_min, args.size, args.repeat)

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {load:.1f}; "
          f"Python {platform.python_version()}, numpy {np.__version__}, JuPedSim {jupedsim.__version__}, "
          f"shapely {shapely.__version__}")
    print(f"feed {args.rate_per_min:g} p/min into a {CORRIDOR_WIDTH_M:g} m x {CORRIDOR_LENGTH_M * args.size:g} m "
          f"corridor for {args.minutes:g} min; bottleneck {BOTTLENECK_LENGTH_M * args.size:g} m long; "
          f"specific flow from {warmup_min:g} min to the end, p/(m s)")
    print(f"time steps: citytwin at its scenario default ({rows[0]['dt_s']:g} s), "
          f"JuPedSim at its default ({JPS_DT_S:g} s)")
    print_table(rows)
    print(NOT_LIKE_FOR_LIKE)
    print("references (docs/sources.md): corridor - Weidmann (1993) maximum 1.22 p/(m s); bottleneck - IMO MSC.1/Circ.1238 "
          "1.3 p/(m s) (UK Green Guide 1.37); Seyfried et al. 2009 / Liao et al. 2014: flow grows linearly with "
          "width up to 5 m (a width-independent specific flow)")
    for ours, theirs in zip(rows[0::2], rows[1::2]):
        print(f"{ours['case']}: ours / JuPedSim = {ours['ratio_agent_steps_per_s']}x agent-steps/s, "
              f"{ours['ratio_rtf']}x real-time factor; specific flow {ours['specific_flow_ppms']} vs "
              f"{theirs['specific_flow_ppms']} p/(m s) (reference {ours['reference_ppms']})")
    Path(args.csv).parent.mkdir(parents=True, exist_ok=True)
    with open(args.csv, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
