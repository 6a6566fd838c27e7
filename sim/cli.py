"""The ``citytwin`` command line: a thin layer over the ``sim`` API (the same calls the tests make).

    citytwin run SCENARIO [--out DIR] [--seed N] [--set KEY=VALUE ...] [--plan NAME ...] [--no-plots] [--quiet]
    citytwin sweep SCENARIO --grid KEY=V1,V2,... [--grid ...] --seeds N --out DIR [--workers K]
                   [--engine pool|dask] [--scheduler ADDRESS] [--set KEY=VALUE ...] [--quiet]
    citytwin list
    citytwin maps fetch NAME --bbox NORTH SOUTH EAST WEST

Only :func:`main` turns errors into exit codes: 0 success, 2 bad input (one clear message).
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path

from .core.errors import CliError, SimError
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
    run.add_argument("--out", default=None, help="results folder (default: out/<scenario file stem>)")
    run.add_argument("--seed", type=_seed, default=None, help="random seed (default: the scenario's)")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="override a dotted scenario key, e.g. zones.promenade.cap=80000 (repeatable)")
    run.add_argument("--plan", dest="plans", action="append", default=[], metavar="NAME",
                     help="traffic scenarios: run only this phase plan (repeatable; default: every plan)")
    run.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
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
    maps = sub.add_parser("maps", help="manage map files")
    maps_sub = maps.add_subparsers(dest="maps_command", required=True, parser_class=_Parser)
    fetch = maps_sub.add_parser("fetch", help="download a district from OpenStreetMap (needs internet)")
    fetch.add_argument("name", help="file stem: writes maps/NAME.osm")
    fetch.add_argument("--bbox", nargs=4, type=float, required=True, metavar=("NORTH", "SOUTH", "EAST", "WEST"))
    fetch.add_argument("--dir", default=str(PROJECT_ROOT / "maps"), help="folder to write into")
    return parser



def _cmd_run(args) -> int:
    from .core.results import write_results
    from .kinds import build_run, kind_of, load_scenario

    scenario = load_scenario(args.scenario, args.overrides)
    run = build_run(scenario, seed=args.seed, plans=args.plans)   # every map check, before any output
    out = Path(args.out) if args.out else Path("out") / Path(args.scenario).stem
    if out.exists() and not out.is_dir():
        raise CliError(f"--out {str(out)!r} exists and is not a folder: give a folder path")
    kind = kind_of(scenario)
    if not args.quiet:
        print(kind.describe_run(scenario, run), file=sys.stderr)
    summary = run.run(progress=not args.quiet)
    write_results(run, out, plots=not args.no_plots)
    print(kind.format_table(summary))
    print(f"results in {out}/")
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
    return 0


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


def _cmd_maps_fetch(args) -> int:
    north, south, east, west = args.bbox
    if not (-90 <= south < north <= 90 and -180 <= west < east <= 180):
        raise CliError(f"--bbox: expected NORTH SOUTH EAST WEST with south < north and west < east, "
                       f"got {args.bbox!r}")
    import osmnx as ox

    target = Path(args.dir) / f"{args.name}.osm"
    try:
        graph = ox.graph_from_bbox((west, south, east, north), network_type="all", simplify=False,
                                   retain_all=True)
    except Exception as exc:  # no network, Overpass errors
        raise CliError(f"maps fetch: download failed ({exc}); this needs internet access") from exc
    target.parent.mkdir(parents=True, exist_ok=True)
    graphml = target.with_suffix(".graphml")
    ox.save_graphml(graph, graphml)
    print(f"wrote {graphml} ({graph.number_of_nodes()} nodes, {graph.number_of_edges()} edges); "
          f"load it with any scenario's map = \"{graphml.name}\"")
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        args = get_parser().parse_args(argv)
        if args.command == "run":
            return _cmd_run(args)
        if args.command == "sweep":
            return _cmd_sweep(args)
        if args.command == "list":
            return _cmd_list()
        return _cmd_maps_fetch(args)
    except SimError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; no results written", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
