"""The hotspot model (sim/hotspot, Numba) against JuPedSim's CollisionFreeSpeedModel, side by side.

    pip install --no-deps jupedsim shapely deprecated      # JuPedSim without its GUI dependencies
    python benchmarks/bench_hotspot_vs_jupedsim.py [--quick] [--agents N] [--density RHO] [--steps K]
        [--bottleneck-width W ...] [--bottleneck-agents N] [--params ours|jupedsim] [--threads T ...]
        [--validation] [--csv FILE]

Both engines run the same model (collision-free speed model, Tordeux et al. 2016) with the same
agent parameters (``--params ours``: radius 0.18 m, time gap 0.8 s, our defaults; ``--params
jupedsim``: JuPedSim's 0.2 m and 1 s), the same repulsion constants (JuPedSim's defaults), the same
geometry, the same start positions and free speeds (Weidmann: 1.34 +- 0.26 m/s).

1. Throughput: ``--agents`` people (default 5,000) placed at random at ``--density`` (2.5 p/m2) in a
   corridor 20 m wide, walking east to an exit at its end, for ``--steps`` steps (300).  JuPedSim at
   its default dt 0.01 s; ours at 0.01 s and at our default 0.05 s, with each ``--threads`` (default
   1 and 2).  Agent-steps are the people inside summed over steps; set-up (placing people) and
   stepping are timed apart; our kernels are compiled by a tiny run before any timing.
   ``agent_steps_per_cpu_s`` divides by process CPU time (JuPedSim steps on one thread).
2. Bottleneck flow: ``--bottleneck-agents`` (150) people start at random in an 8 m x 8 m room before a
   2 m long bottleneck of each ``--bottleneck-width`` (1.2 and 2.0 m); flow over its exit line from
   the 10th to the 90th percent of passages, JuPedSim (dt 0.01 s) against ours (0.01 and 0.05 s).
3. ``--validation`` (instead of 1-2): our validation figures (sim/hotspot/validation.py, the
   numbers the tests check) as a table; no JuPedSim needed.
4. ``--fd-scan`` (instead of 1-2): mean speeds in the periodic corridor for several radius / time-gap
   pairs against Weidmann, the scan behind our defaults (docs/hotspot.md).

Writes a CSV to benchmarks/results/ (git-ignored) and prints a table.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numba
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import print_table, write_csv  # noqa: E402  (benchmarks/report.py)
from shapely.geometry import box  # noqa: E402

from sim.hotspot import CsmParameters, HotspotGeometry, HotspotSim, draw_free_speeds  # noqa: E402
from sim.hotspot import validation as V  # noqa: E402
from sim.hotspot.scenarios import bottleneck_room, lattice_positions, random_positions  # noqa: E402

JPS_DT_S = 0.01                 # JuPedSim's default step
CORRIDOR_WIDTH_M = 20.0
EXIT_DEPTH_M = 0.5              # JuPedSim's exit stage: the last 0.5 m of the corridor / the free area
NECK_X_M = 10.0                 # bottleneck_room: the bottleneck's exit line


def jupedsim_missing() -> str | None:
    """Why JuPedSim cannot run here (None when it imports)."""
    try:
        import jupedsim  # noqa: F401
    except ImportError as exc:
        return f"jupedsim not importable ({exc}): pip install --no-deps jupedsim shapely deprecated"
    return None


def params_for(which: str, dt_s: float) -> CsmParameters:
    return CsmParameters(dt_s=dt_s) if which == "ours" else CsmParameters.jupedsim_defaults(dt_s=dt_s)


# --------------------------------------------------------------------------- placement
def corridor_start(n: int, density: float, seed: int, radius_m: float):
    length = n / (density * CORRIDOR_WIDTH_M)
    area = box(0.0, 0.0, length, CORRIDOR_WIDTH_M)
    rng = np.random.default_rng(seed)
    try:
        pos = random_positions(area, n, rng, radius_m=radius_m, max_tries=50)
    except ValueError:
        pos = lattice_positions(area, n, rng, radius_m=radius_m)
    return length, pos, draw_free_speeds(rng, n)


# --------------------------------------------------------------------------- ours
def run_ours_corridor(length_m: float, pos, v0, params: CsmParameters, steps: int, threads: int) -> dict:
    t0 = time.perf_counter()
    g = HotspotGeometry(box(0, 0, length_m, CORRIDOR_WIDTH_M),
                        exits={"east": ((length_m, 0.0), (length_m, CORRIDOR_WIDTH_M))}, field_cell_m=0.2)
    sim = HotspotSim(g, params, seed=1, num_threads=threads, capacity=len(pos))
    sim.add_agents(pos[:, 0], pos[:, 1], goal="east", free_speed_mps=v0)
    setup_s = time.perf_counter() - t0
    agent_steps = 0
    w0, c0 = time.perf_counter(), time.process_time()
    for _ in range(steps):
        agent_steps += sim.n
        sim.step()
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    sim.check_invariants()
    return _row("throughput", f"citytwin hotspot ({threads} thr)", params, len(pos), steps, sim.t_s, setup_s, wall,
                cpu, agent_steps, threads)


def run_ours_bottleneck(width_m: float, pos, v0, params: CsmParameters) -> dict:
    """Our engine on one bottleneck; threads chosen by the engine (one below 500 people)."""
    t0 = time.perf_counter()
    g, _ = bottleneck_room(width_m)
    sim = HotspotSim(g, params, seed=1, lines={"neck": ((NECK_X_M, 0.0), (NECK_X_M, 8.0))})
    threads = numba.get_num_threads() if len(pos) >= HotspotSim.PARALLEL_MIN_AGENTS else 1
    sim.add_agents(pos[:, 0], pos[:, 1], goal="out", free_speed_mps=v0)
    setup_s = time.perf_counter() - t0
    n = len(pos)
    times: list[float] = []
    agent_steps = 0
    w0, c0 = time.perf_counter(), time.process_time()
    while len(times) < n and sim.t_s < 600:
        agent_steps += sim.n
        sim.step()
        times += [sim.t_s] * (sum(sim.line_count("neck")) - len(times))
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    row = _row(f"bottleneck {width_m:g} m", f"citytwin hotspot ({threads} thr)", params, n, sim.step_count, sim.t_s,
               setup_s, wall, cpu, agent_steps, threads)
    return _with_flow(row, times, n, width_m)


# --------------------------------------------------------------------------- JuPedSim
def _jps_sim(polygon, exit_polygon, params: CsmParameters):
    import jupedsim as jps
    model = jps.CollisionFreeSpeedModel(
        strength_neighbor_repulsion=params.strength_neighbor_repulsion,
        range_neighbor_repulsion=params.range_neighbor_repulsion_m,
        strength_geometry_repulsion=params.strength_geometry_repulsion,
        range_geometry_repulsion=params.range_geometry_repulsion_m)
    sim = jps.Simulation(model=model, geometry=polygon, dt=JPS_DT_S)
    stage = sim.add_exit_stage(exit_polygon)
    journey = sim.add_journey(jps.JourneyDescription([stage]))
    return sim, stage, journey


def _jps_add(sim, stage, journey, pos, v0, params: CsmParameters) -> None:
    import jupedsim as jps
    for (x, y), v in zip(pos, v0):
        sim.add_agent(jps.CollisionFreeSpeedModelAgentParameters(
            journey_id=journey, stage_id=stage, position=(float(x), float(y)), desired_speed=float(v),
            radius=params.radius_m, time_gap=params.time_gap_s))


def run_jps_corridor(length_m: float, pos, v0, params: CsmParameters, steps: int) -> dict:
    t0 = time.perf_counter()
    sim, stage, journey = _jps_sim(box(0, 0, length_m, CORRIDOR_WIDTH_M),
                                   box(length_m - EXIT_DEPTH_M, 0, length_m, CORRIDOR_WIDTH_M), params)
    _jps_add(sim, stage, journey, pos, v0, params)
    setup_s = time.perf_counter() - t0
    agent_steps = 0
    w0, c0 = time.perf_counter(), time.process_time()
    chunk = 10
    for _ in range(0, steps, chunk):
        before = sim.agent_count()
        sim.iterate(chunk)
        agent_steps += chunk * (before + sim.agent_count()) // 2
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    return _row("throughput", f"JuPedSim {_jps_version()}", params, len(pos), steps, sim.elapsed_time(), setup_s,
                wall, cpu, agent_steps, 1)


def run_jps_bottleneck(width_m: float, pos, v0, params: CsmParameters) -> dict:
    g, _ = bottleneck_room(width_m)
    minx, miny, maxx, maxy = g.area.bounds
    t0 = time.perf_counter()
    sim, stage, journey = _jps_sim(g.area, box(maxx - EXIT_DEPTH_M, miny, maxx, maxy), params)
    _jps_add(sim, stage, journey, pos, v0, params)
    setup_s = time.perf_counter() - t0
    n = len(pos)
    beyond_area = box(NECK_X_M, miny, maxx, maxy)
    times: list[float] = []
    agent_steps = 0
    chunk = 10                     # count passages every 0.1 s
    w0, c0 = time.perf_counter(), time.process_time()
    while len(times) < n and sim.elapsed_time() < 600:
        before = sim.agent_count()
        sim.iterate(chunk)
        agent_steps += chunk * (before + sim.agent_count()) // 2
        passed = sum(1 for _ in sim.agents_in_polygon(beyond_area)) + (n - sim.agent_count())
        times += [sim.elapsed_time()] * (passed - len(times))
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    steps = int(round(sim.elapsed_time() / JPS_DT_S))
    row = _row(f"bottleneck {width_m:g} m", f"JuPedSim {_jps_version()}", params, n, steps, sim.elapsed_time(),
               setup_s, wall, cpu, agent_steps, 1)
    return _with_flow(row, times, n, width_m)


def _jps_version() -> str:
    import jupedsim
    return jupedsim.__version__


# --------------------------------------------------------------------------- rows
def _row(case, engine, params, agents, steps, sim_s, setup_s, wall_s, cpu_s, agent_steps, threads) -> dict:
    return {"case": case, "engine": engine, "dt_s": params.dt_s, "threads": threads, "radius_m": params.radius_m,
            "time_gap_s": params.time_gap_s, "agents": agents, "steps": steps, "sim_s": round(sim_s, 2),
            "setup_s": round(setup_s, 3), "wall_s": round(wall_s, 3), "cpu_s": round(cpu_s, 3),
            "agent_steps": agent_steps,
            "agent_steps_per_s": round(agent_steps / wall_s) if wall_s > 0 else 0,
            "agent_steps_per_cpu_s": round(agent_steps / cpu_s) if cpu_s > 0 else 0,
            "rtf": round(sim_s / wall_s, 2) if wall_s > 0 else float("inf"),
            "ratio_agent_steps_per_s": "", "ratio_rtf": "", "flow_pps": "", "specific_flow_ppms": "", "flow_ratio": ""}


def _with_flow(row: dict, times: list[float], n: int, width_m: float) -> dict:
    k10, k90 = int(0.1 * n), int(0.9 * n) - 1
    flow = (k90 - k10) / (times[k90] - times[k10]) if len(times) > k90 and times[k90] > times[k10] else float("nan")
    row["flow_pps"] = round(flow, 3)
    row["specific_flow_ppms"] = round(flow / width_m, 3)
    return row


def _ratios(rows: list[dict], reference: dict | None) -> None:
    if reference is None:
        return
    for r in rows:
        if r is reference:
            continue
        if reference["agent_steps_per_s"]:
            r["ratio_agent_steps_per_s"] = round(r["agent_steps_per_s"] / reference["agent_steps_per_s"], 1)
        if reference["rtf"]:
            r["ratio_rtf"] = round(r["rtf"] / reference["rtf"], 1)
        if reference["flow_pps"] not in ("", None) and r["flow_pps"] not in ("", None):
            r["flow_ratio"] = round(r["flow_pps"] / reference["flow_pps"], 3)


# --------------------------------------------------------------------------- validation table
def validation_rows(quick: bool) -> list[dict]:
    """Our validation figures (the numbers the tests check), with their references."""
    rows = []
    seeds = (1,) if quick else (1, 2)
    densities = (1.0, 3.0) if quick else (0.5, 1.0, 2.0, 3.0, 4.0)
    for rho in densities:
        v = float(np.mean([V.corridor_mean_speed(rho, s) for s in seeds]))
        rows.append({"check": f"fundamental diagram {rho:g} p/m2", "value": round(v, 3), "unit": "m/s",
                     "reference": f"Weidmann {V.weidmann_speed_mps(rho):.3f}", "tolerance": "+-0.15 (1-4 p/m2)"})
    widths = (1.2,) if quick else (0.8, 1.2, 1.6, 2.0, 2.5)
    flows = []
    for w in widths:
        f = V.bottleneck_flow(w, n=60 if quick else 150)
        flows.append(f)
        rows.append({"check": f"bottleneck {w:g} m specific flow", "value": round(f / w, 3), "unit": "p/(m s)",
                     "reference": "Seyfried 2009 / Liao 2014: about 1.2-2.0", "tolerance": "1.1-2.0"})
    if len(widths) > 2:
        w, f = np.array(widths), np.array(flows)
        slope, icpt = np.polyfit(w, f, 1)
        r2 = 1 - np.sum((f - (slope * w + icpt)) ** 2) / np.sum((f - f.mean()) ** 2)
        rows.append({"check": "bottleneck flow ~ width: slope / R^2", "value": f"{slope:.3f} / {r2:.4f}",
                     "unit": "p/(m s) / -", "reference": "linear (Seyfried 2009, Liao 2014)",
                     "tolerance": "R^2 >= 0.97"})
    for seed in seeds:
        cf = V.counterflow(30 if quick else 60, seed)
        rows.append({"check": f"counterflow 2x{30 if quick else 60} clears (seed {seed})", "value": round(cf["t_s"], 1),
                     "unit": "s", "reference": f"no deadlock; lane index {cf['lane_index']:.2f}",
                     "tolerance": "< 200 s"})
    rows.append({"check": "RiMEA 1: 40 m at 1.33 m/s", "value": round(V.rimea1(), 2), "unit": "s",
                 "reference": "26-34 s", "tolerance": "26-34"})
    r6 = V.rimea6(1)
    rows.append({"check": "RiMEA 6: 20 round the corner", "value": f"{r6['arrived']} in {r6['t_s']:.1f} s",
                 "unit": "-", "reference": f"min wall distance {r6['min_wall_distance_m']:.3f} m, outside "
                                           f"{r6['max_outside_m']:.3f} m", "tolerance": "all arrive, none outside"})
    if not quick:
        t4 = V.rimea9(("sw", "se", "nw", "ne"), 1)
        t2 = V.rimea9(("nw", "ne"), 1)
        rows.append({"check": "RiMEA 9: 1000 people, 4 then 2 exits", "value": f"{t4:.1f} / {t2:.1f} s",
                     "unit": "ratio", "reference": f"ratio {t2 / t4:.2f}", "tolerance": "1.6-2.4"})
    r12 = V.rimea12(1)
    m = r12["monitor"]
    b1, b2 = m["before_b1"]["max_local_density_ppm2"], m["before_b2"]["max_local_density_ppm2"]
    f1, f2 = r12["flow_pps"]["b1"], r12["flow_pps"]["b2"]
    rows.append({"check": "RiMEA 12: max local density before b1 / b2", "value": f"{b1:.2f} / {b2:.2f}",
                 "unit": "p/m2", "reference": f"flows b1/b2 {f1:.2f}/{f2:.2f} p/s",
                 "tolerance": "b1 > 4, b2 < 3, flows within 10%"})
    for goal, field in (("east", "up_speed_mps"), ("west", "down_speed_mps")):
        mean, v0, stair = V.stair_speeds(goal)
        rows.append({"check": f"stair {'up' if goal == 'east' else 'down'} (no neighbours)", "value": round(mean, 3),
                     "unit": "m/s", "reference": f"{getattr(stair, field)} x {v0:.3f}/1.34 = "
                                                 f"{getattr(stair, field) * v0 / 1.34:.3f}", "tolerance": "2%"})
    return rows


FD_SCAN = [(0.2, 1.0, None), (0.18, 1.0, None), (0.2, 0.8, None), (0.15, 1.0, None), (0.18, 0.8, None),
           (0.18, 0.8, 1.34)]


def fd_scan_rows(quick: bool) -> list[dict]:
    """Mean speed (2 seeds) per density for each (radius, time gap[, one free speed for all])."""
    rhos = (1.0, 3.0) if quick else (0.5, 1.0, 2.0, 3.0, 4.0)
    rows = [{"radius_m": "Weidmann", "time_gap_s": "", "free_speed": "",
             **{f"{r:g}_ppm2": round(V.weidmann_speed_mps(r), 3) for r in rhos}}]
    for radius, gap, v0 in FD_SCAN[-2:] if quick else FD_SCAN:
        p = CsmParameters(radius_m=radius, time_gap_s=gap)
        speeds = {f"{r:g}_ppm2": round(float(np.mean([V.corridor_mean_speed(r, s, params=p, free_speed_mps=v0)
                                                       for s in (1, 2)])), 3) for r in rhos}
        rows.append({"radius_m": radius, "time_gap_s": gap, "free_speed": "Weidmann" if v0 is None else v0, **speeds})
    return rows


# --------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    """Run the cases, print the tables and write the CSV; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny smoke size (seconds)")
    parser.add_argument("--agents", type=int, default=5000, help="people in the throughput case")
    parser.add_argument("--density", type=float, default=2.5, help="start density of the throughput case, p/m2")
    parser.add_argument("--steps", type=int, default=300, help="steps timed in the throughput case")
    parser.add_argument("--bottleneck-width", type=float, nargs="*", default=[1.2, 2.0])
    parser.add_argument("--bottleneck-agents", type=int, default=150)
    parser.add_argument("--params", choices=["ours", "jupedsim"], default="ours",
                        help="agent parameters for both engines: ours (0.18 m, 0.8 s) or JuPedSim's (0.2 m, 1 s)")
    parser.add_argument("--threads", type=int, nargs="*", default=None,
                        help="Numba thread counts for our engine (default: 1 and the machine's)")
    parser.add_argument("--validation", action="store_true",
                        help="print our validation figures instead of the comparison")
    parser.add_argument("--fd-scan", action="store_true",
                        help="print the radius / time-gap scan of the fundamental diagram instead")
    parser.add_argument("--no-jupedsim", action="store_true", help="run our engine only")
    parser.add_argument("--csv", default=str(ROOT / "benchmarks" / "results" / "hotspot_vs_jupedsim.csv"))
    args = parser.parse_args(argv)
    if args.quick:
        args.agents, args.steps, args.bottleneck_width, args.bottleneck_agents = 400, 30, [1.2], 40
    problems = []
    if args.agents < 1:
        problems.append(f"--agents must be at least 1, got {args.agents!r}")
    if not 0.1 <= args.density <= 4.0:
        problems.append(f"--density must be 0.1-4 p/m2, got {args.density!r}")
    if args.steps < 10:
        problems.append(f"--steps must be at least 10, got {args.steps!r}")
    bad = [w for w in args.bottleneck_width if not 0.5 <= w <= 7.0]
    if bad:
        problems.append(f"--bottleneck-width must be 0.5-7 m, got {bad!r}")
    max_threads = numba.config.NUMBA_NUM_THREADS
    threads = args.threads or sorted({1, max_threads})
    if any(not 1 <= t <= max_threads for t in threads):
        problems.append(f"--threads must be 1-{max_threads}, got {threads!r}")
    if problems:
        parser.error("; ".join(problems))
    if args.fd_scan:
        rows = fd_scan_rows(args.quick)
        print("mean speed (m/s) in a periodic 30 m x 3 m corridor, 2 seeds, 30 s settling + 20 s measured:")
        print_table(rows)
        print(f"wrote {write_csv(rows, Path(args.csv).with_name(Path(args.csv).stem + '_fd_scan.csv'))}")
        return 0
    if args.validation:
        t0 = time.perf_counter()
        vrows = validation_rows(args.quick)
        print(f"validation (sim/hotspot/validation.py; the tests assert the tolerances), "
              f"{time.perf_counter() - t0:.1f} s:")
        print_table(vrows)
        print(f"wrote {write_csv(vrows, Path(args.csv).with_name(Path(args.csv).stem + '_validation.csv'))}")
        return 0
    reason = None if not args.no_jupedsim else "--no-jupedsim"
    reason = reason or jupedsim_missing()
    if reason:
        print(f"JuPedSim skipped: {reason}", file=sys.stderr)

    # Compile (or load) our kernels and start every thread pool with tiny runs before any timing.
    warm_len, warm_pos, warm_v0 = corridor_start(200, 1.0, 0, 0.18)
    for t in threads:
        run_ours_corridor(warm_len, warm_pos, warm_v0, CsmParameters(), 10, t)
    run_ours_bottleneck(1.2, random_positions(box(0, 0, 8, 8), 10, np.random.default_rng(0)), np.full(10, 1.3),
                        CsmParameters())

    rows: list[dict] = []
    base = params_for(args.params, JPS_DT_S)
    ours_dts = sorted({JPS_DT_S, CsmParameters().dt_s})
    length, pos, v0 = corridor_start(args.agents, args.density, 1, base.radius_m)
    case_rows = []
    jps_row = None
    if not reason:
        jps_row = run_jps_corridor(length, pos, v0, base, args.steps)
        case_rows.append(jps_row)
        print(f"  throughput: JuPedSim done ({jps_row['wall_s']} s)", file=sys.stderr, flush=True)
    for dt in ours_dts:
        for t in threads:
            case_rows.append(run_ours_corridor(length, pos, v0, params_for(args.params, dt), args.steps, t))
    _ratios(case_rows, jps_row)
    rows += case_rows
    for width in args.bottleneck_width:
        g, room = bottleneck_room(width)
        rng = np.random.default_rng(2)
        bpos = random_positions(room, args.bottleneck_agents, rng, radius_m=base.radius_m)
        bv0 = draw_free_speeds(rng, args.bottleneck_agents)
        case_rows, jps_row = [], None
        if not reason:
            jps_row = run_jps_bottleneck(width, bpos, bv0, base)
            case_rows.append(jps_row)
            print(f"  bottleneck {width:g} m: JuPedSim done ({jps_row['wall_s']} s)", file=sys.stderr, flush=True)
        for dt in ours_dts:
            case_rows.append(run_ours_bottleneck(width, bpos, bv0, params_for(args.params, dt)))
        _ratios(case_rows, jps_row)
        rows += case_rows

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {load:.1f}; "
          f"Python {platform.python_version()}, numpy {np.__version__}, numba {numba.__version__}"
          + ("" if reason else f", JuPedSim {_jps_version()}"))
    print(f"model: collision-free speed model, agent parameters '{args.params}' (radius {base.radius_m} m, time gap "
          f"{base.time_gap_s} s), repulsion 8/0.1 m and 5/0.02 m; throughput: {args.agents} people at "
          f"{args.density:g} p/m2 in a {length:.1f} m x {CORRIDOR_WIDTH_M:g} m corridor, {args.steps} steps")
    print_table(rows, ["case", "engine", "dt_s", "threads", "agents", "steps", "sim_s", "setup_s", "wall_s",
                       "agent_steps_per_s", "agent_steps_per_cpu_s", "rtf", "ratio_agent_steps_per_s", "ratio_rtf",
                       "flow_pps", "specific_flow_ppms", "flow_ratio"])
    print("ratios are ours / JuPedSim in the same case; flow_ratio target: within 10% (0.9-1.1)")
    path = write_csv(rows, args.csv)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
