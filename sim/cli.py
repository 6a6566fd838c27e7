"""The ``citytwin`` command line: a thin layer over the ``sim`` API (the same calls the tests make).

    citytwin run SCENARIO [--out DIR] [--seed N] [--set KEY=VALUE ...] [--plan NAME ...] [--no-plots] [--quiet]
    citytwin run SCENARIO --seeds N [--workers K] [--queue-levels L1,L2] ...   (one folder per run, bands)
    citytwin advise SCENARIO [--risk 0.05] [--seeds N] [--plans PLAN ...] [--caps LIST] [--resolution R]
                    [--set KEY=VALUE ...] [--seed S] [--out DIR] [--workers K] [--max-runs M] [--quiet]
    citytwin sweep SCENARIO --grid KEY=V1,V2,... [--grid ...] --seeds N --out DIR [--workers K]
                   [--engine pool|dask] [--scheduler ADDRESS] [--set KEY=VALUE ...] [--quiet]
    citytwin list
    citytwin live SCENARIO --feed FILE|-|http://HOST:PORT --out DIR [--set KEY=VALUE ...] [--workers K] [--quiet]
    citytwin replay SCENARIO --truth-seed N [--demand-scale X] [--rain-onset MIN] [--rain MM_PER_H] [--noise FRAC]
                    [--drop SENSOR@FROM_MIN[-TO_MIN] ...] [--speed S] [--until MIN] [--truth-out FILE] [--set ...]
    citytwin maps fetch NAME --bbox NORTH SOUTH EAST WEST [--dir DIR] [--url URL]
    citytwin maps inspect MAP [--profile P] [--limit N]

Only :func:`main` turns errors into exit codes, each with one clear line on stderr:

    0    success
    2    bad input: scenario, map, flags, an --out that cannot be written, a demand too large for memory
    3    a conservation check failed during the run (someone lost or counted twice: a model error);
         ``run``: no results are written; ``sweep``: the other runs' results are written, the invalid
         runs are listed (grid values, seed, error) and count in no risk band
    130  interrupted (Ctrl-C); no results are written

``run`` writes into ``--out`` (default ``out/<scenario stem>-<hash of scenario, --set, seed, plans>``);
a folder holding an earlier run's results is replaced whole, and the run says so.
"""

from __future__ import annotations

import argparse
import os
import sys
import tomllib
from pathlib import Path

from .core.errors import CliError, ConservationError, SimError
from .core.paths import PROJECT_ROOT

__all__ = ["main", "get_parser"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one clear line, exit code 2, no usage dump
        raise CliError(f"{self.prog}: {message} (see `{self.prog} --help`)")


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seed must be a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"--seed must be a non-negative integer, got {text!r}")
    return value


def get_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="citytwin", description="citytwin: crowd and traffic digital twin (Bund, Shanghai)")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser("run", help="run a scenario and write its results")
    run.add_argument("scenario", help="scenario TOML file (see `citytwin list`)")
    run.add_argument("--out", default=None,
                     help="results folder (default: out/<scenario file stem>-<hash of the scenario, --set, seed "
                          "and plans>); an earlier run's results there are replaced whole; checked writable "
                          "before the run")
    run.add_argument("--seed", type=_seed, default=None, help="random seed (default: the scenario's)")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="override a dotted scenario key, e.g. zones.promenade.cap=80000 (repeatable)")
    run.add_argument("--plan", dest="plans", action="append", default=[], metavar="NAME",
                     help="traffic scenarios: run only this phase plan (repeatable; default: every plan)")
    run.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.add_argument("--seeds", type=_positive, default=None, metavar="N",
                     help="run N seeds (--seed or simulation.seed, then +1, ...): one results folder per run under "
                          "OUT/runs/ and the bands over them (median, p5-p95, probabilities with intervals) in "
                          "OUT/bands.json and bands.csv; resumable")
    run.add_argument("--workers", type=_positive, default=None, metavar="K",
                     help="with --seeds: worker processes (default: one per core)")
    run.add_argument("--queue-levels", default=None, metavar="L1,L2",
                     help="with --seeds, crowd scenarios: report P(gate queue above each level), people "
                          "(default 1000,5000,10000)")
    advise = sub.add_parser(
        "advise", help="the highest cap (and best plan) whose probability of breaking the safety criterion "
                       "is shown below --risk; writes advice.json and advice.html",
        description="Searches caps on the main zone (zones.<main zone>.cap) over seeds: screens a coarse grid, "
                    "certifies caps from the top until a one-sided 95% Clopper-Pearson bound is clearly below "
                    "or above the risk, refines by bisection; prints its reasoning as a table.")
    advise.add_argument("scenario", help="crowd scenario TOML file")
    advise.add_argument("--risk", type=_probability, default=0.05,
                        help="acceptable probability that a night breaks the criterion (default 0.05)")
    advise.add_argument("--seeds", type=_positive, default=None, metavar="N",
                        help="most runs per cap (default: the fewest that can show the risk, e.g. 59 at 0.05, "
                             "29 at 0.1)")
    advise.add_argument("--plans", nargs="+", default=[], metavar="PLAN",
                        help="plans to compare: base (the scenario as given), NAME (the scenario's [plans.NAME]: "
                             "description, set = [\"KEY=VALUE\", ...]) or NAME:KEY=VALUE,KEY=VALUE")
    advise.add_argument("--caps", default=None, metavar="LIST",
                        help="coarse grid of caps: 20000,40000,none or FROM:TO:STEP (default: a quarter of the "
                             "scenario's cap up to twice it, and none)")
    advise.add_argument("--zone", default=None, help="the zone to cap (default: the scenario's main zone)")
    advise.add_argument("--resolution", type=_positive, default=None, metavar="PEOPLE",
                        help="refine the answer to within this many people (default: a quarter of the grid step)")
    advise.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a dotted scenario key in every run (repeatable)")
    advise.add_argument("--seed", type=_seed, default=None, help="first seed (default: the scenario's)")
    advise.add_argument("--out", default=None, help="folder for advice.json, advice.html and the runs "
                                                    "(default: out/<stem>-advise-<hash of --set>); resumes")
    advise.add_argument("--workers", type=_positive, default=None, metavar="K",
                        help="worker processes (default: one per core)")
    advise.add_argument("--max-runs", type=_positive, default=None, metavar="M",
                        help="stop after M new runs per plan (the answer so far is kept and marked)")
    advise.add_argument("--no-report", action="store_true", help="skip advice.html")
    advise.add_argument("--quiet", action="store_true", help="no progress lines")
    sweep = sub.add_parser("sweep", help="run a grid of scenario values x seeds; write sweep.csv and risk.csv")
    sweep.add_argument("scenario", help="scenario TOML file (see `citytwin list`)")
    sweep.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2,...",
                       help="dotted scenario key and its values, e.g. zones.promenade.cap=40000,60000,none "
                            "(repeatable: the cross product is run)")
    sweep.add_argument("--seeds", type=_positive, default=1, metavar="N",
                       help="runs per grid cell, seeds simulation.seed + 0 .. N-1 (default 1)")
    sweep.add_argument("--out", default=None, help="results folder (default: out/<scenario file stem>-sweep); "
                                                   "re-running into it resumes")
    sweep.add_argument("--workers", type=_positive, default=None, metavar="K",
                       help="worker processes of the local pool or LocalCluster (default: one per core)")
    sweep.add_argument("--engine", choices=["pool", "dask"], default="pool",
                       help="pool: local process pool (default); dask: dask.distributed")
    sweep.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="run on this Dask scheduler, e.g. tcp://10.0.0.5:8786 (implies --engine dask)")
    sweep.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                       help="override a dotted scenario key in every run (repeatable)")
    sweep.add_argument("--quiet", action="store_true", help="no progress bar")
    sub.add_parser("list", help="list the shipped scenarios and maps")
    _add_live_parsers(sub)
    maps = sub.add_parser("maps", help="manage map files")
    maps_sub = maps.add_subparsers(dest="maps_command", required=True, parser_class=_Parser)
    fetch = maps_sub.add_parser(
        "fetch", help="download a district from OpenStreetMap into DIR/NAME.osm (OSM XML; needs internet)",
        description="Download every road and path (with all their tags and nodes) and the named places in a "
                    "box from the Overpass API, and write them as OSM XML to DIR/NAME.osm, ready for a "
                    "scenario's map = \"NAME.osm\".")
    fetch.add_argument("name", help="file stem: writes DIR/NAME.osm")
    fetch.add_argument("--bbox", nargs=4, type=float, required=True, metavar=("NORTH", "SOUTH", "EAST", "WEST"))
    fetch.add_argument("--dir", default=str(PROJECT_ROOT / "maps"), help="folder to write into (default: maps/)")
    fetch.add_argument("--url", default=None, help="Overpass API endpoint (default: the public overpass-api.de)")
    inspect = maps_sub.add_parser(
        "inspect", help="print what a scenario can refer to on a map: places, connected parts, dead ends, "
                        "tunnels and their tubes, and what rests on defaults")
    inspect.add_argument("map", help="map file (.osm, .osm.bz2)")
    inspect.add_argument("--profile", default="auto", choices=["auto", "CN", "DE", "US-CA", "generic"],
                         help="defaults profile for missing tags (default: from the map's location)")
    inspect.add_argument("--limit", type=_positive, default=40, help="longest list printed per section")
    return parser



def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a probability strictly between 0 and 1, e.g. 0.05, got {text!r}")
    return value


def _cmd_run_seeds(args) -> int:
    from .core.results import default_out_dir
    from .kinds import load_scenario
    from .study.bands import BANDS_CSV, BANDS_JSON, RUNS_DIR, format_bands, parse_levels, run_seeds
    from .study.sweep import SweepInterrupted

    levels = parse_levels(args.queue_levels)
    scenario = load_scenario(args.scenario, args.overrides)
    out = Path(args.out) if args.out else Path(f"{default_out_dir(args.scenario, scenario, None, args.plans)}-seeds")
    try:
        bands, result = run_seeds(args.scenario, args.seeds, out, overrides=args.overrides, seed=args.seed,
                                  plans=args.plans, workers=args.workers, plots=not args.no_plots,
                                  progress=not args.quiet, queue_levels=levels,
                                  log=None if not args.quiet else (lambda msg: None))
    except SweepInterrupted as exc:
        print(str(exc), file=sys.stderr)
        return 130
    print(format_bands(bands, getattr(scenario, "main_zone", None)))
    print(f"{len(result.ran)} run(s) now, {result.skipped} already on disk; results in {out}/: {RUNS_DIR}/seed-*/ "
          f"(one folder per run), {BANDS_JSON}, {BANDS_CSV}, sweep.csv")
    return 0


def _cmd_advise(args) -> int:
    from .study.advise import advise, format_reasoning, parse_caps_arg
    from .study.sweep import SweepInterrupted

    caps = parse_caps_arg(args.caps) if args.caps is not None else None
    quiet = args.quiet

    def progress(done: int, total: int, why: str) -> None:
        if not quiet:
            print(f"[{done:>4} run(s)] {why}", file=sys.stderr)

    try:
        advice = advise(args.scenario, args.risk, seeds=args.seeds, plans=args.plans, caps=caps,
                        resolution=args.resolution, overrides=args.overrides, seed=args.seed, out_dir=args.out,
                        workers=args.workers, max_runs=args.max_runs, report=not args.no_report,
                        progress=progress, log=(lambda msg: None) if quiet else None, zone=args.zone)
    except SweepInterrupted as exc:
        print(f"{exc} (citytwin advise resumes from its runs on disk)", file=sys.stderr)
        return 130
    print(format_reasoning(advice))
    return 0


def _nonnegative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def _add_live_parsers(sub) -> None:
    """``live`` and ``replay`` (the live twin, issue 15)."""
    live = sub.add_parser("live", help="follow a night from a feed of counts: forecasts and warnings as it goes",
                          description="Read count records (JSON lines or CSV t_s,sensor,value) from a file, standard "
                                      "input (-) or HTTP (listen on http://HOST:PORT: POST /records, POST /end, GET "
                                      "/status), keep an ensemble of crowd runs consistent with them, and write "
                                      "forecast.csv, alerts.csv and the rest into --out as the night goes on.")
    live.add_argument("scenario", help="crowd scenario TOML file with [sensors] (e.g. scenarios/bund_lightshow_live.toml)")
    live.add_argument("--feed", required=True, metavar="FILE|-|http://HOST:PORT", help="where the records come from")
    live.add_argument("--out", required=True, help="folder for the twin's files (new, empty, or an earlier twin's)")
    live.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                      help="override a dotted scenario key, e.g. live.members=10 (repeatable)")
    live.add_argument("--workers", type=_positive, default=1, metavar="K",
                      help="processes for the forecasts' member runs (default 1)")
    live.add_argument("--quiet", action="store_true", help="log only skipped records, silent sensors and warnings")
    replay = sub.add_parser("replay", help="play the feed of a hidden true night to standard output",
                            description="Run a hidden 'true' night (its own seed, demand, rain onset) and write what "
                                        "its sensors read, with noise and drop-outs, as JSON lines to standard output; "
                                        "pipe it into `citytwin live ... --feed -`.")
    replay.add_argument("scenario", help="crowd scenario TOML file with [sensors]")
    replay.add_argument("--truth-seed", type=_seed, required=True, metavar="N", help="the truth's random seed")
    replay.add_argument("--demand-scale", type=_nonnegative_float, default=1.0, metavar="X",
                        help="every source's arrival profile times X (default 1)")
    replay.add_argument("--rain-onset", type=_nonnegative_float, default=None, metavar="MIN",
                        help="dry until MIN minutes after the start, then rain (default: the scenario's weather)")
    replay.add_argument("--rain", type=_nonnegative_float, default=None, metavar="MM_PER_H",
                        help="rain intensity after the onset (default: the scenario's, else 10 mm/h)")
    replay.add_argument("--noise", type=_nonnegative_float, default=0.0, metavar="FRAC",
                        help="count noise: standard deviation / value (e.g. 0.1; default 0)")
    replay.add_argument("--drop", action="append", default=[], metavar="SENSOR@FROM_MIN[-TO_MIN]",
                        help="a sensor silent from FROM to TO minutes (repeatable)")
    replay.add_argument("--speed", type=_nonnegative_float, default=0.0, metavar="S",
                        help="simulated seconds per wall second (0: as fast as possible; 60: a minute a second)")
    replay.add_argument("--until", type=_nonnegative_float, default=None, metavar="MIN",
                        help="stop after MIN minutes (default: the end of the night)")
    replay.add_argument("--truth-out", default=None, metavar="FILE", help="also write the truth's zones per minute "
                                                                          "(CSV) for scoring")
    replay.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a dotted scenario key (repeatable)")


def _crowd_scenario(path: str, overrides: list[str]):
    from .kinds import load_scenario

    scenario = load_scenario(path, overrides)
    if scenario.kind != "crowd":
        raise CliError(f"{path}: the live twin follows crowd scenarios, not {scenario.kind!r} ones")
    return scenario


def _cmd_live(args) -> int:
    import logging

    from .live.feed import HttpFeed, http_address, open_feed
    from .live.twin import LOG, LiveTwin

    scenario = _crowd_scenario(args.scenario, args.overrides)
    listen = http_address(args.feed)                        # a malformed URL stops here
    feed = None if listen is not None else open_feed(args.feed)   # a missing file stops here
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
    LOG.addHandler(handler)
    level, propagate = LOG.level, LOG.propagate
    LOG.setLevel(logging.WARNING if args.quiet else logging.INFO)
    LOG.propagate = False
    try:
        command = ["citytwin", "live", str(args.scenario), "--feed", args.feed, "--out", str(args.out),
                   *(f"--set={o}" for o in args.overrides), "--workers", str(args.workers)]
        twin = LiveTwin(scenario, args.out, workers=args.workers, command=command, overrides=args.overrides)
        if listen is not None:
            feed = open_feed(args.feed, status=twin.status)
            LOG.warning("listening on %s: POST /records (JSON lines), POST /end, GET /status", feed.address)
        try:
            status = twin.run(feed)
        finally:
            if isinstance(feed, HttpFeed):
                feed.close()
    finally:
        LOG.removeHandler(handler)
        LOG.setLevel(level)                 # an in-process caller (tests, notebooks) gets the logger back
        LOG.propagate = propagate
    without = ", ".join(s["sensor"] for s in status["running_without"]) or "none"
    print(f"followed {scenario.name} to t={status['t_s']:g} s: {status['cycles']} cycles, {status['records_used']} "
          f"records used, {status['records_skipped']} skipped; {status['alerts']} warning(s) raised or cleared; "
          f"running without: {without}")
    print(f"results in {args.out}/: forecast.csv, alerts.csv, observations.csv, cycles.csv, cells.csv, status.json")
    return 0


def _cmd_replay(args) -> int:
    from .live.replay import Truth, TruthSpec, parse_dropout, play

    scenario = _crowd_scenario(args.scenario, args.overrides)
    spec = TruthSpec(seed=args.truth_seed, demand_scale=args.demand_scale,
                     rain_onset_s=None if args.rain_onset is None else 60.0 * args.rain_onset,
                     rain_mm_per_h=args.rain, noise_frac=args.noise,
                     dropouts=tuple(parse_dropout(d) for d in args.drop))
    truth = Truth(scenario, spec)
    try:
        n = play(truth, sys.stdout, speed=args.speed, truth_csv=args.truth_out,
                 until_s=None if args.until is None else 60.0 * args.until)
    except BrokenPipeError:
        sys.stderr.write("replay: the reader closed the pipe; stopped\n")
        try:
            sys.stdout = open(os.devnull, "w")       # no second error when Python flushes at exit
        except OSError:
            pass
        return 1
    print(f"replayed {n} records of truth seed {args.truth_seed} (demand x{args.demand_scale:g})", file=sys.stderr)
    return 0


def _cmd_run(args) -> int:
    from .core.results import default_out_dir, prepare_results, provenance, write_results
    from .kinds import build_run, kind_of, load_scenario

    if args.seeds is not None:
        return _cmd_run_seeds(args)
    if args.workers is not None or args.queue_levels is not None:
        raise CliError("--workers and --queue-levels go with --seeds N (a run over several seeds)")
    scenario = load_scenario(args.scenario, args.overrides)
    run = build_run(scenario, seed=args.seed, plans=args.plans)   # every map check, before any output
    seed = getattr(run, "seed_value", args.seed)
    plans = getattr(run, "plan_names", None)
    out = Path(args.out) if args.out else default_out_dir(args.scenario, scenario, seed, args.plans)
    folder = prepare_results(out)          # writable, a folder, no foreign files: before the run
    kind = kind_of(scenario)
    command = ["citytwin", "run", str(args.scenario), "--out", str(out), "--seed", str(seed),
               *(f"--set={o}" for o in args.overrides), *(f"--plan={p}" for p in args.plans),
               *(["--no-plots"] if args.no_plots else [])]
    try:
        if not args.quiet:
            print(kind.describe_run(scenario, run), file=sys.stderr)
            if folder.replaced:
                print(f"{out}/ holds an earlier run's results: replaced whole when this run finishes",
                      file=sys.stderr)
        summary = run.run(progress=not args.quiet)
        block = provenance(scenario, seed, plans=[p for p in plans or [] if p], overrides=args.overrides)
        write_results(run, folder, plots=not args.no_plots, provenance_block=block, command=command)
    except BaseException:
        folder.discard()                   # a failed or interrupted run leaves no folder behind
        raise
    print(kind.format_table(summary))
    replaced = f" (replaced an earlier run's results: {folder.replaced_files} file(s))" if folder.replaced else ""
    print(f"results in {out}/{replaced}")
    return 0


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _cmd_sweep(args) -> int:
    from .study.sweep import SweepInterrupted, format_risk_table, run_sweep

    out = Path(args.out) if args.out else Path("out") / f"{Path(args.scenario).stem}-sweep"
    try:
        result = run_sweep(args.scenario, args.grid, args.seeds, out, overrides=args.overrides,
                           workers=args.workers, engine=args.engine, scheduler=args.scheduler,
                           progress=not args.quiet, log=None if not args.quiet else (lambda msg: None))
    except SweepInterrupted as exc:
        print(str(exc), file=sys.stderr)
        return 130
    print(format_risk_table(result))
    failed = f", {result.failed} failed (see the error column)" if result.failed else ""
    print(f"{len(result.ran)} run(s) in {result.wall_seconds:.1f} s on {result.engine} "
          f"({result.tasks} task(s)), {result.skipped} already on disk{failed}")
    print(f"results in {out}/: {result.table_path.name} (one row per run), {result.risk_path.name} (per grid cell)")
    invalid = _invalid_runs(result) if result.invalid else []
    if result.invalid:
        print(f"error: {result.invalid} run(s) INVALID: a conservation check failed (a model "
              f"error: please report it with the scenario and seed); they count in no risk band "
              f"({result.risk_path.name}: runs_invalid) and are run again when the sweep is resumed:",
              file=sys.stderr)
        for line in invalid:
            print(f"  {line}", file=sys.stderr)
        return 3
    return 0


def _invalid_runs(result) -> list[str]:
    """One line per run of this sweep (run now) whose status is ``invalid``: its grid values, seed and
    error, read from the sweep's table as written (the grid values as given on the command line)."""
    import csv

    keys = result.plan.grid_keys
    ran = set(result.ran)
    lines = []
    with open(result.table_path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row.get("status") != "invalid" or (*(row[k] for k in keys), int(row["seed"])) not in ran:
                continue
            cell = "; ".join(f"{k}={row[k] or 'none'}" for k in keys)
            lines.append(f"{cell + ', ' if cell else ''}seed {row['seed']}: {row.get('error') or 'no error text'}")
    return lines


def _cmd_list() -> int:
    for folder, pattern in (("scenarios", "*.toml"), ("maps", "*.osm")):
        print(f"{folder}/")
        for path in sorted((PROJECT_ROOT / folder).glob(pattern)):
            label = ""
            if path.suffix == ".toml":
                try:
                    label = tomllib.loads(path.read_text(encoding="utf-8")).get("name", "")
                except tomllib.TOMLDecodeError:
                    label = "(invalid TOML)"
            print(f"  {path.relative_to(PROJECT_ROOT)}  {label}")
    return 0


def _cmd_maps_fetch(args, post=None) -> int:
    from .core.fetch import OVERPASS_URL, fetch_osm

    north, south, east, west = args.bbox
    if not (-90 <= south < north <= 90 and -180 <= west < east <= 180):
        raise CliError(f"--bbox: expected NORTH SOUTH EAST WEST with south < north and west < east, "
                       f"got {args.bbox!r}")
    name = args.name.removesuffix(".osm")
    if not name or "/" in name or "\\" in name:
        raise CliError(f"maps fetch: NAME {args.name!r} must be a file stem such as mydistrict (see --dir)")
    target = Path(args.dir) / f"{name}.osm"
    result = fetch_osm((south, west, north, east), target, url=args.url or OVERPASS_URL, post=post)
    print(result.summary())
    print(f"next: citytwin maps inspect {target}   (places, tunnels, defaults), then a scenario with "
          f"map = \"{target.name}\"")
    return 0


def _cmd_maps_inspect(args) -> int:
    from .core.inspect import inspect_map

    print(inspect_map(args.map, {"profile": args.profile}, limit=args.limit))
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        args = get_parser().parse_args(argv)
        if args.command == "run":
            return _cmd_run(args)
        if args.command == "sweep":
            return _cmd_sweep(args)
        if args.command == "advise":
            return _cmd_advise(args)
        if args.command == "list":
            return _cmd_list()
        if args.command == "live":
            return _cmd_live(args)
        if args.command == "replay":
            return _cmd_replay(args)
        if args.maps_command == "inspect":
            return _cmd_maps_inspect(args)
        return _cmd_maps_fetch(args)
    except ConservationError as exc:        # a model error, not bad input: its own exit code
        print(f"error: {exc}; no results written (a model error: please report it with the scenario "
              f"and seed)", file=sys.stderr)
        return 3
    except SimError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; no results written", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
