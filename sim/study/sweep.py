"""Policy sweeps: every combination of grid values, times N seeds, on a process pool or on Dask.

    citytwin sweep scenarios/bund_lightshow_rain.toml --grid zones.promenade.cap=40000,60000,80000 \\
        --seeds 5 --out out/sweep [--workers K] [--engine pool|dask] [--scheduler ADDRESS]

**Grid.** ``--grid KEY=V1,V2,...`` takes a dotted scenario key and values read like ``--set`` values
(TOML numbers, booleans, strings, ``[lists]``; ``none`` removes the key, e.g. lifts a cap).  Several
``--grid`` flags give their cross product; each combination is a *grid cell*.  Every cell's scenario
is validated and compiled against its map before any run, and all problems are reported at once.

**Seeds.** Run ``k`` (``k = 0 .. N-1``) of every cell uses seed ``simulation.seed + k``, the
scenario's own seed plus ``k`` (after ``--set``; shift them with ``--set simulation.seed=...``).  So
``k = 0`` is exactly ``citytwin run SCENARIO``, and every cell sees the same seeds (common random
numbers: cells differ by the policy, not by the draw).  ``simulation.seed`` cannot be a grid key.

**Where runs go.** By default a local :class:`~concurrent.futures.ProcessPoolExecutor` (spawn start
method, ``--workers`` processes); with ``engine="dask"`` or a ``scheduler`` address, a
``dask.distributed.Client`` (a ``LocalCluster`` of ``--workers`` single-thread processes when no
address is given; a remote cluster's workers need citytwin installed and the scenario's map at the
same absolute path).  Runs are grouped into tasks of about ``task_target_s`` seconds: the first task
of each worker holds one run, later tasks are sized from the measured run time (and kept small
enough that every worker gets several tasks), so scheduling overhead stays small for short runs.

**Files in ``--out``** (CSV, readable with the ``csv`` module or ``pandas.read_csv``):

* ``sweep.csv``, one row per run, appended and flushed as runs finish: the grid keys (one column
  each, the value as given; empty for ``none``), ``seed``, ``status`` (``ok``/``failed``/``invalid``),
  ``attempts``, ``wall_seconds`` (load, compile and run in the worker), the KPIs (see
  :func:`kpi_columns`) and ``error``.  When the sweep completes, the file is rewritten in grid order.
* ``risk.csv``, one row per grid cell: ``runs_ok``, ``runs_failed``, ``runs_invalid``; for crowd scenarios
  ``p_unsafe``, ``p_any_place_los_f``, ``p_any_place_crush_density`` and ``p_any_zone_los_f`` (share
  of the cell's ok runs that fail the scenario's ``[safety]`` criterion, in which walkers reach
  walkway LOS F in some place, some place reaches the crush density, or some zone's worst level of
  service is F); then for each numeric KPI ``KPI.mean``, ``KPI.p5``, ``KPI.p95`` across seeds
  (``numpy.percentile``, linear interpolation, over the runs where the KPI has a value, e.g. a
  clearance that happened within the run) and for each yes/no KPI ``KPI.share`` (share of runs true).
* ``sweep.json``, what the sweep is (scenario, ``--set`` overrides, grid keys, columns), checked
  when the same ``--out`` is used again.

**Resume and failures.** A run whose row in ``sweep.csv`` says ``ok`` is never run again: re-running
an interrupted sweep runs only the missing ones (and the failed ones), and adding grid values or seeds
extends the table.  A run that raises is retried once at once; if it fails again its row records
``status = failed`` and the error, and the sweep goes on.  A task lost with its worker is retried run
by run, once.  A run stopped by a :class:`~sim.core.errors.ConservationError` (someone lost or counted
twice: a model error, which a retry with the same seed would repeat) is not retried: its row says
``status = invalid`` with the error, and it counts in no risk or KPI band (only in ``runs_invalid``).
Failed and invalid runs are run again when the sweep is resumed.

``engine="inline"`` (API only) runs everything in this process, one run after another: for tests
and debugging (``run_fn`` need not be importable, monkeypatches apply).

**API extras** (for studies that decide run by run, such as :mod:`sim.study.advise`):
``select(grid_values, seed) -> bool`` runs only the chosen runs of the grid (the others are neither
run nor written; rows already on disk stay); ``backend`` reuses an engine from :func:`open_engine`
across calls (its warm workers keep their compiled kernels; the caller closes it);
``run_folder`` writes each run's own results folder (``summary.json``, ``timeseries.csv``,
``scenario.json``, ``provenance.json``, the kind's extra files and, with ``run_plots``, its plots,
as ``citytwin run`` writes them) under ``run_folder/<grid cell>/seed-<seed>/``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import os
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from ..core.errors import CliError, ScenarioError, SimError
from ..core.schema import apply_overrides, parse_override
from ..kinds import (
    KINDS,
    AnyScenario,
    build_run,
    kind_of,
    load_scenario,
    scenario_from_dict,
)
from .engines import ENGINES, default_workers, dispatch, make_engine

__all__ = ["GridAxis", "SweepPlan", "SweepResult", "SweepInterrupted", "parse_grid", "plan_sweep", "run_sweep",
           "run_summary", "flatten_kpis", "kpi_columns", "risk_summary", "read_table", "load_sweep",
           "format_risk_table", "open_engine", "RunIntoFolder", "cell_folder_name", "exceed_column",
           "TABLE_NAME", "RISK_NAME", "MANIFEST_NAME"]

TABLE_NAME, RISK_NAME, MANIFEST_NAME = "sweep.csv", "risk.csv", "sweep.json"
RUN_COLUMNS = ["seed", "status", "attempts", "wall_seconds"]


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) during the runs: every finished run is on disk; the same call resumes."""

    def __init__(self, out_dir: Path, done: int, total: int):
        self.out_dir, self.done, self.total = out_dir, done, total
        super().__init__(f"interrupted: {done} of {total} runs on disk in {out_dir}; "
                         f"run the same command again to finish the {total - done} missing")


# ---------------------------------------------------------------------------------------------
# Grid and plan: everything checked before any run or output.
# ---------------------------------------------------------------------------------------------

def _text(value: Any) -> str:
    """How a value is written in the tables: empty for none, true/false, JSON for lists."""
    if hasattr(value, "item") and not isinstance(value, (list, dict, str)):
        value = value.item()                                   # numpy scalars
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return repr(value) if isinstance(value, float) else str(value)


def _split_values(raw: str) -> list[str]:
    """Split ``v1,v2,...`` at top-level commas (not inside quotes or brackets)."""
    parts, depth, quote, start = [], 0, "", 0
    for k, ch in enumerate(raw):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(raw[start:k])
            start = k + 1
    parts.append(raw[start:])
    return [p.strip() for p in parts]


@dataclass(frozen=True)
class GridAxis:
    """One ``--grid`` flag: a dotted key and its values (``None`` removes the key)."""

    key: str
    values: tuple
    tokens: tuple[str, ...]        # the values as typed (given to ``apply_overrides``)
    labels: tuple[str, ...]        # the values as written in the tables


def parse_grid(items: Iterable[str]) -> list[GridAxis]:
    """``["zones.promenade.cap=40000,60000,none"]`` -> grid axes; raises one :class:`ScenarioError`
    (source ``--grid``) listing every malformed item."""
    axes, problems, seen = [], [], set()
    for item in items:
        if "=" not in item:
            problems.append(f"{item!r}: expected KEY=V1,V2,... with a dotted scenario key, "
                            f"e.g. zones.promenade.cap=40000,60000")
            continue
        key, raw = (s.strip() for s in item.split("=", 1))
        tokens = _split_values(raw)
        if key in seen:
            problems.append(f"{item!r}: key {key!r} is given twice; list all its values in one --grid")
            continue
        if key == "simulation.seed":
            problems.append(f"{item!r}: seeds are set by --seeds (seed = simulation.seed + k), "
                            f"not by a grid key; shift them with --set simulation.seed=N")
            continue
        bad = [k for k, t in enumerate(tokens) if not t]
        if not key or bad or not raw:
            problems.append(f"{item!r}: empty key or value (expected KEY=V1,V2,...)")
            continue
        values = []
        try:
            for token in tokens:
                values.append(parse_override(f"{key}={token}")[1])
        except ScenarioError as exc:
            problems.extend(p.replace("expected KEY=VALUE", "expected KEY=V1,V2,...") for p in exc.problems)
            continue
        labels = tuple(_text(v) for v in values)
        dupes = sorted({lab for lab in labels if labels.count(lab) > 1})
        if dupes:
            problems.append(f"{item!r}: value(s) {dupes!r} given twice")
            continue
        seen.add(key)
        axes.append(GridAxis(key, tuple(values), tuple(tokens), labels))
    if problems:
        raise ScenarioError("--grid", problems)
    return axes


@dataclass(frozen=True)
class Cell:
    index: int
    labels: tuple[str, ...]
    overrides: tuple[str, ...]
    scenario: AnyScenario

    def describe(self, axes: list[GridAxis]) -> str:
        return ", ".join(f"{a.key}={lab or 'none'}" for a, lab in zip(axes, self.labels)) or "(no grid)"


@dataclass(frozen=True)
class SweepPlan:
    """A validated sweep: its cells (every scenario compiled once), seeds and table columns."""

    scenario_path: Path
    overrides: tuple[str, ...]
    axes: list[GridAxis]
    cells: list[Cell]
    seeds: tuple[int, ...]
    kind: str
    kpis: list[str]
    base_digest: str
    base_data: dict = field(repr=False)

    @property
    def grid_keys(self) -> list[str]:
        return [a.key for a in self.axes]

    @property
    def columns(self) -> list[str]:
        return [*self.grid_keys, *RUN_COLUMNS, *self.kpis, "error"]

    @property
    def n_runs(self) -> int:
        return len(self.cells) * len(self.seeds)

    def manifest(self) -> dict:
        return {"format": 1, "scenario": str(self.scenario_path), "overrides": list(self.overrides),
                "kind": self.kind, "base_scenario_sha256": self.base_digest, "grid_keys": self.grid_keys,
                "grid": {a.key: list(a.labels) for a in self.axes}, "seeds": list(self.seeds),
                "columns": self.columns, "base_scenario": self.base_data}


def kpi_columns(scenario: AnyScenario) -> list[str]:
    """The flattened KPI columns of a scenario's runs (each kind's ``kpi_columns``)."""
    return kind_of(scenario).kpi_columns(scenario)


def flatten_kpis(summary: dict) -> dict[str, Any]:
    """A run's ``summary()`` as flat ``column -> value`` (each kind's ``flatten_kpis``)."""
    return KINDS[summary.get("kind", "crowd")].flatten_kpis(summary)


def _compile_check(scenario: AnyScenario) -> None:
    """Every check against the map that ``build_run`` would make, without drawing a run."""
    kind_of(scenario).compile_check(scenario)


def _digest(data: dict) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def plan_sweep(scenario_path: str | Path, grid: Iterable[str] | list[GridAxis] = (), seeds: int = 1,
               overrides: Iterable[str] = ()) -> SweepPlan:
    """Validate a sweep: the scenario with ``overrides``, then every grid cell loaded and compiled
    against its map.  Raises one :class:`ScenarioError` listing every problem of every cell (a problem
    every cell shares is listed once, without a cell label)."""
    grid = list(grid)
    axes = grid if all(isinstance(a, GridAxis) for a in grid) else parse_grid(grid)
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise CliError(f"--seeds must be a positive integer, got {seeds!r}")
    path = Path(scenario_path)
    overrides = tuple(overrides)
    base = load_scenario(path, list(overrides))               # bad file or --set: its own clean error
    raw = apply_overrides(tomllib.loads(path.read_text(encoding="utf-8")), list(overrides))
    combos = list(itertools.product(*[range(len(a.values)) for a in axes]))
    found: dict[str, list[str]] = {}
    cells: list[Cell] = []
    for index, combo in enumerate(combos):
        cell_over = tuple(f"{a.key}={a.tokens[i]}" for a, i in zip(axes, combo))
        labels = tuple(a.labels[i] for a, i in zip(axes, combo))
        label = f"[{', '.join(cell_over)}]"
        try:
            scenario = scenario_from_dict(apply_overrides(raw, list(cell_over)), str(path))
            _compile_check(scenario)
        except ScenarioError as exc:
            for problem in exc.problems:
                found.setdefault(problem, []).append(label)
            continue
        except SimError as exc:
            found.setdefault(str(exc), []).append(label)
            continue
        if scenario.kind != base.kind:
            found.setdefault(f"kind: a grid cell is a {scenario.kind!r} scenario, the sweep is "
                             f"{base.kind!r}", []).append(label)
            continue
        cells.append(Cell(index, labels, cell_over, scenario))
    if found:
        shared = len(combos) > 1 or not axes          # a problem of every cell is listed without labels
        problems = [p if shared and len(where) == len(combos) else f"grid cell {', '.join(where)}: {p}"
                    for p, where in found.items()]
        raise ScenarioError(str(path), problems)
    kpis: list[str] = []
    for cell in cells:
        kpis += [k for k in kpi_columns(cell.scenario) if k not in kpis]
    clash = sorted(set(a.key for a in axes) & set(kpis + RUN_COLUMNS + ["error"]))
    if clash:
        raise ScenarioError("--grid", [f"grid key(s) {clash!r} would clash with table columns of the same name"])
    seed0 = base.simulation.seed
    return SweepPlan(path, overrides, axes, cells, tuple(seed0 + k for k in range(seeds)), base.kind, kpis,
                     _digest(base.to_dict()), base.to_dict())


# ---------------------------------------------------------------------------------------------
# Work done in the workers (see :mod:`sim.study.engines` for where they run).
# ---------------------------------------------------------------------------------------------

def run_summary(scenario: AnyScenario, seed: int) -> dict:
    """Build and run one scenario with one seed; its KPIs, flattened (the default ``run_fn``)."""
    run = build_run(scenario, seed=seed)
    return flatten_kpis(run.run(progress=False))


def cell_folder_name(grid_keys: list[str], labels: tuple[str, ...]) -> str:
    """A grid cell as a folder name, ``zones.promenade.cap=60000`` (``none`` for a removed key;
    characters other than letters, digits and ``._=-+`` become ``_``); empty without a grid."""
    parts = [f"{key}={label or 'none'}" for key, label in zip(grid_keys, labels)]
    text = ",".join(parts)
    return "".join(ch if ch.isalnum() or ch in "._=-+," else "_" for ch in text)[:150]


def _scenario_digest(scenario: AnyScenario) -> str:
    return _digest(scenario.to_dict())


@dataclass(frozen=True)
class RunIntoFolder:
    """A ``run_fn`` that also writes the run's own results folder, as ``citytwin run`` does, under
    ``root/<cell folder>/seed-<seed>/`` (picklable, so pool and Dask workers can call it).

    ``cells`` maps each cell scenario's digest (of ``to_dict()``) to its folder name; ``plans``
    restricts a traffic or bikes run to those plans."""

    root: str
    cells: dict[str, str]
    plots: bool = False
    plans: tuple[str, ...] = ()

    def folder(self, scenario: AnyScenario, seed: int) -> Path:
        return Path(self.root) / self.cells.get(_scenario_digest(scenario), "") / f"seed-{int(seed)}"

    def __call__(self, scenario: AnyScenario, seed: int) -> dict:
        from ..core.results import prepare_results, provenance, write_results

        run = build_run(scenario, seed=seed, plans=list(self.plans) or None)
        folder = prepare_results(self.folder(scenario, seed))
        try:
            summary = run.run(progress=False)
            block = provenance(scenario, seed, plans=[p for p in getattr(run, "plan_names", None) or [] if p])
            write_results(run, folder, plots=self.plots, provenance_block=block)
        except BaseException:
            folder.discard()
            raise
        return flatten_kpis(summary)


def open_engine(engine: str = "pool", workers: int | None = None, scheduler: str | None = None):
    """A started engine to pass to several :func:`run_sweep` calls (``backend=``); close it with
    ``.close()`` when done.  Same choices as :func:`run_sweep`'s ``engine``/``workers``/``scheduler``."""
    if engine not in ENGINES:
        raise CliError(f"--engine must be one of {list(ENGINES)!r}, got {engine!r}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise CliError(f"--workers must be a positive integer, got {workers!r}")
    return make_engine("dask" if scheduler else engine, workers or default_workers(), scheduler)


# ---------------------------------------------------------------------------------------------
# Tables on disk.
# ---------------------------------------------------------------------------------------------

def _read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """Header and complete rows of a CSV; a line cut short by a hard kill is dropped."""
    if not path.exists():
        return [], []
    with open(path, newline="", encoding="utf-8") as fh:
        text = fh.read()
    if text and not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = list(reader.fieldnames or [])
    rows = [row for row in reader if None not in row and None not in row.values()]
    return header, rows


def _write_rows(path: Path, columns: list[str], rows: list[dict]) -> None:
    """Write a whole table atomically (temp file beside it, then rename)."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


def _parse(text: str) -> Any:
    if text == "":
        return None
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def read_table(path: str | Path) -> list[dict[str, Any]]:
    """A ``sweep.csv`` or ``risk.csv`` as rows of typed values (None where empty)."""
    return [{k: _parse(v) for k, v in row.items()} for row in _read_rows(Path(path))[1]]


def load_sweep(folder: str | Path):
    """``(sweep, risk)`` of a finished sweep folder as pandas DataFrames (for the app and notebooks)."""
    import pandas as pd
    folder = Path(folder)
    return pd.read_csv(folder / TABLE_NAME), pd.read_csv(folder / RISK_NAME)


def _open_out(out: Path, plan: SweepPlan) -> tuple[list[dict[str, str]], set]:
    """Rows already on disk (after checking they belong to this sweep) and the keys of ok runs."""
    if out.exists() and not out.is_dir():
        raise CliError(f"--out {str(out)!r} exists and is not a folder: give a folder path")
    manifest_path, table = out / MANIFEST_NAME, out / TABLE_NAME
    if manifest_path.exists():
        try:
            old = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            old = {}
        diffs = [what for what, a, b in (
            ("kind", old.get("kind"), plan.kind),
            ("scenario (after --set)", old.get("base_scenario_sha256"), plan.base_digest),
            ("grid keys", old.get("grid_keys"), plan.grid_keys)) if a != b]
        if diffs:
            raise CliError(f"--out {str(out)!r} holds a different sweep ({', '.join(diffs)} differ); "
                           f"give a new --out folder or remove this one")
    header, rows = _read_rows(table)
    if header and header != plan.columns:
        raise CliError(f"--out {str(out)!r}: {TABLE_NAME} has other columns than this sweep; "
                       f"give a new --out folder or remove this one")
    ids = {_key(cell.labels, seed) for cell in plan.cells for seed in plan.seeds}
    done = {_key(tuple(r[k] for k in plan.grid_keys), int(r["seed"])) for r in rows if r["status"] == "ok"}
    # failed rows of this sweep are run again; rows of other cells or seeds are kept as they are
    kept = [r for r in rows if r["status"] == "ok"
            or _key(tuple(r[k] for k in plan.grid_keys), int(r["seed"])) not in ids]
    return kept, done


def _key(labels: tuple[str, ...], seed: int) -> tuple:
    return (*labels, int(seed))


def _sorted_rows(plan: SweepPlan, rows: list[dict[str, str]]) -> list[dict[str, str]]:
    order = {_key(cell.labels, seed): (cell.index, k) for cell in plan.cells for k, seed in enumerate(plan.seeds)}
    far = (len(plan.cells), 0)
    return sorted(rows, key=lambda r: order.get(_key(tuple(r[k] for k in plan.grid_keys), int(r["seed"])), far))


# ---------------------------------------------------------------------------------------------
# Risk summaries.
# ---------------------------------------------------------------------------------------------

def exceed_column(kpi: str, level: float) -> str:
    """The ``risk.csv`` column of P(KPI above level), e.g. ``p_max_gate_queue_above_5000``."""
    return f"p_{kpi}_above_{level:g}"


def risk_summary(rows: list[dict[str, Any]], grid_keys: list[str], kpis: list[str], kind: str = "crowd",
                 exceed: dict[str, Sequence[float]] | None = None) -> list[dict]:
    """One row per grid cell (in order of first appearance): runs ok, failed and invalid (a conservation
    check failed; such runs count in no band); for crowd sweeps the
    risks of each kind (``ScenarioKind.risk_flags``: for crowds, unsafe, LOS F or crush density in any place);
    ``exceed`` (``{kpi: [levels]}``): the share of ok runs whose KPI is above each level
    (:func:`exceed_column`; runs without a value count as not above); and per KPI
    ``mean``/``median``/``p5``/``p95`` (numbers) or ``share`` (yes/no) across the cell's ok runs.

    ``rows`` hold typed values (see :func:`read_table`)."""
    import numpy as np

    ok_rows = [r for r in rows if r.get("status") == "ok"]
    numeric, boolean = [], []
    for k in kpis:
        vals = [r.get(k) for r in ok_rows if r.get(k) is not None]
        if vals and all(isinstance(v, bool) for v in vals):
            boolean.append(k)
        elif vals and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
            numeric.append(k)
        elif not vals and not k.endswith("worst_los"):
            numeric.append(k)                       # no value anywhere yet: keep the column
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault(tuple(_text(r.get(k)) for k in grid_keys), []).append(r)
    out = []
    for labels, group in groups.items():
        ok = [r for r in group if r.get("status") == "ok"]
        row: dict[str, Any] = dict(zip(grid_keys, labels))
        invalid = sum(r.get("status") == "invalid" for r in group)
        row["runs_ok"], row["runs_failed"], row["runs_invalid"] = len(ok), len(group) - len(ok) - invalid, invalid
        for name, flags in KINDS[kind].risk_flags(ok, kpis).items():
            row[name] = round(sum(flags) / len(flags), 6) if flags else None
        for k, levels in (exceed or {}).items():
            for level in levels:
                above = [isinstance(r.get(k), (int, float)) and r.get(k) > level for r in ok]
                row[exceed_column(k, level)] = round(sum(above) / len(above), 6) if above else None
        for k in kpis:
            vals = [r.get(k) for r in ok if r.get(k) is not None]
            if k in numeric:
                arr = np.asarray(vals, dtype=float)
                row[f"{k}.mean"] = round(float(arr.mean()), 6) if arr.size else None
                row[f"{k}.median"] = round(float(np.median(arr)), 6) if arr.size else None
                row[f"{k}.p5"] = round(float(np.percentile(arr, 5)), 6) if arr.size else None
                row[f"{k}.p95"] = round(float(np.percentile(arr, 95)), 6) if arr.size else None
            elif k in boolean:
                row[f"{k}.share"] = round(sum(bool(v) for v in vals) / len(vals), 6) if vals else None
        out.append(row)
    return out


def risk_columns(grid_keys: list[str], kpis: list[str], risk_rows: list[dict], kind: str,
                 exceed: dict[str, Sequence[float]] | None = None) -> list[str]:
    cols = [*grid_keys, "runs_ok", "runs_failed", "runs_invalid"]
    cols += list(KINDS[kind].risk_flags([], kpis))
    cols += [exceed_column(k, level) for k, levels in (exceed or {}).items() for level in levels]
    present = set().union(*(r.keys() for r in risk_rows)) if risk_rows else set()
    for k in kpis:
        cols += [c for c in (f"{k}.mean", f"{k}.median", f"{k}.p5", f"{k}.p95", f"{k}.share") if c in present]
    return cols


def format_risk_table(result: "SweepResult") -> str:
    """The short table printed after a sweep: per cell, runs and the headline risk numbers."""
    plan = result.plan
    keys = plan.grid_keys
    lines = []
    extra = KINDS[plan.kind].risk_table(plan.cells[0].scenario) if plan.cells else []
    show_invalid = any(r.get("runs_invalid") for r in result.risk)
    head = [*(k.split(".")[-1] if len(k) > 24 else k for k in keys), "ok", "failed",
            *(["INVALID"] if show_invalid else []), *(h for h, _, _ in extra)]
    table = []
    for r in result.risk:
        cells = [r.get(k) or "none" for k in keys] + [str(r["runs_ok"]), str(r["runs_failed"])]
        cells += [str(r.get("runs_invalid") or 0)] if show_invalid else []
        for _, col, fmt in extra:
            v = r.get(col)
            cells.append("-" if v is None else fmt.format(v))
        table.append(cells)
    widths = [max(len(str(x)) for x in col) for col in zip(head, *table)]
    lines.append("  ".join(f"{h:>{w}}" for h, w in zip(head, widths)))
    lines.append("-" * len(lines[0]))
    lines += ["  ".join(f"{c:>{w}}" for c, w in zip(row, widths)) for row in table]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# The sweep.
# ---------------------------------------------------------------------------------------------

@dataclass
class SweepResult:
    """What :func:`run_sweep` did: the plan, the files, which runs ran now and the risk rows."""

    plan: SweepPlan
    out_dir: Path
    table_path: Path
    risk_path: Path
    engine: str
    workers: int
    ran: list[tuple] = field(default_factory=list)      # (grid labels..., seed) of the runs run now
    skipped: int = 0                                     # runs already on disk
    failed: int = 0                                      # runs of this sweep that failed (now)
    invalid: int = 0                                     # runs stopped by a conservation check (now)
    engine_start_seconds: float = 0.0                    # starting the pool or connecting to Dask
    wall_seconds: float = 0.0                            # from the first task sent to the last result
    tasks: int = 0
    mean_runs_per_task: float = 0.0
    risk: list[dict] = field(default_factory=list)


def run_sweep(scenario_path: str | Path, grid: Iterable[str] | list[GridAxis] = (), seeds: int = 1,
              out_dir: str | Path = "out/sweep", *, overrides: Iterable[str] = (), workers: int | None = None,
              engine: str = "pool", scheduler: str | None = None, progress: bool = False,
              run_fn: Callable[[AnyScenario, int], dict] | None = None, task_target_s: float = 1.0,
              log=None, select: Callable[[dict[str, Any], int], bool] | None = None, backend=None,
              run_folder: str | Path | None = None, run_plots: bool = False,
              exceed: dict[str, Sequence[float]] | None = None,
              plans: Sequence[str] = ()) -> SweepResult:
    """Run (or resume) a sweep; see the module docstring for the files and rules.

    ``run_fn(scenario, seed) -> dict of KPI columns`` replaces :func:`run_summary` (a module-level
    function, so that workers can import it).  ``select``, ``backend``, ``run_folder``/``run_plots``:
    see "API extras" in the module docstring; ``exceed``: see :func:`risk_summary`; ``plans``: run only
    these plans of a traffic or bikes scenario (with ``run_folder``).  Bad input raises a
    :class:`~sim.errors.SimError` before anything is written."""
    if backend is None and engine not in ENGINES:
        raise CliError(f"--engine must be one of {list(ENGINES)!r}, got {engine!r}")
    if scheduler:
        engine = "dask"
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise CliError(f"--workers must be a positive integer, got {workers!r}")
    if scheduler and workers is not None:
        raise CliError("--workers sets the size of a local pool or LocalCluster; a --scheduler's cluster "
                       "has its own workers (leave --workers out)")
    if not task_target_s > 0:
        raise CliError(f"task_target_s must be > 0, got {task_target_s!r}")
    if run_folder is not None and run_fn is not None:
        raise CliError("run_folder writes each run with the default run; give run_fn or run_folder, not both")
    log = log or (lambda msg: print(msg, file=sys.stderr))
    plan = plan_sweep(scenario_path, grid, seeds, overrides)
    out = Path(out_dir)
    kept, done = _open_out(out, plan)
    if run_folder is not None:
        names = {_scenario_digest(c.scenario): cell_folder_name(plan.grid_keys, c.labels) for c in plan.cells}
        run_fn = RunIntoFolder(str(Path(run_folder).resolve()), names, bool(run_plots), tuple(plans))
    todo, ids = [], {}
    wanted = 0
    for cell in plan.cells:
        scenario = cell.scenario
        if scenario.source_path:                 # workers may run elsewhere: absolute paths
            scenario = scenario.model_copy(update={"source_path": str(Path(scenario.source_path).resolve())})
        values = {a.key: a.values[a.labels.index(label)] for a, label in zip(plan.axes, cell.labels)}
        for seed in plan.seeds:
            if select is not None and not select(values, seed):
                continue
            wanted += 1
            key = _key(cell.labels, seed)
            if key not in done:
                ids[len(todo)] = key
                todo.append((len(todo), scenario, seed))
    result = SweepResult(plan, out, out / TABLE_NAME, out / RISK_NAME, engine, 0, skipped=wanted - len(todo))
    own_backend = backend is None
    if todo:
        t0 = time.perf_counter()
        if own_backend:
            backend = make_engine(engine, min(workers or default_workers(), len(todo)), scheduler)
        result.engine = backend.name
        result.engine_start_seconds = time.perf_counter() - t0
        result.workers = backend.workers
    else:
        backend = None
    # everything checked and the engine is up: from here on, files are written
    out.mkdir(parents=True, exist_ok=True)
    (out / MANIFEST_NAME).write_text(json.dumps(plan.manifest(), indent=2) + "\n", encoding="utf-8")
    _write_rows(result.table_path, plan.columns, kept)
    rows = list(kept)
    start = time.perf_counter()
    if backend is not None:
        cells_by_key = {_key(c.labels, s): c for c in plan.cells for s in plan.seeds}
        chosen = "" if select is None else f" ({wanted} chosen)"
        log(f"sweep: {len(plan.cells)} cell(s) x {len(plan.seeds)} seed(s) = {plan.n_runs} runs{chosen}, "
            f"{result.skipped} already on disk, {len(todo)} to run on {backend.describe()}")
        bar = None
        if progress:
            from tqdm import tqdm
            bar = tqdm(total=wanted, initial=result.skipped, unit="run", desc="sweep", dynamic_ncols=True)
        stats: dict = {}
        with open(result.table_path, "a", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=plan.columns, extrasaction="ignore")

            def on_result(res: dict) -> None:
                key = ids[res["id"]]
                cell = cells_by_key[key]
                row = {k: _text(v) for k, v in res["kpis"].items()}
                row.update(dict(zip(plan.grid_keys, cell.labels)))
                row.update(seed=str(key[-1]), status=res["status"], attempts=str(res["attempts"]),
                           wall_seconds=f"{res['wall_seconds']:.3f}", error=res["error"])
                writer.writerow(row)
                fh.flush()                       # crash-safe: a finished run is on disk at once
                rows.append({c: row.get(c, "") for c in plan.columns})
                result.ran.append(key)
                result.failed += res["status"] == "failed"
                result.invalid += res["status"] == "invalid"
                if bar is not None:
                    bar.update(1)
                    if result.failed or result.invalid:
                        bar.set_postfix(failed=result.failed, invalid=result.invalid, refresh=False)

            try:
                dispatch(backend, todo, run_fn or run_summary, on_result, task_target_s, stats)
            except KeyboardInterrupt:
                backend.close(kill=True)
                backend = None
                raise SweepInterrupted(out, wanted - len(todo) + len(result.ran), wanted) from None
            finally:
                if bar is not None:
                    bar.close()
                if backend is not None and own_backend:
                    backend.close()
        result.tasks, result.mean_runs_per_task = stats.get("tasks", 0), stats.get("mean_runs_per_task", 0.0)
        if result.invalid:
            log(f"sweep: {result.invalid} run(s) INVALID: a conservation check failed (a model error; see the "
                f"error column of {TABLE_NAME}); they count in no risk band (risk.csv: runs_invalid)")
    result.wall_seconds = time.perf_counter() - start
    rows = _sorted_rows(plan, rows)
    _write_rows(result.table_path, plan.columns, rows)
    typed = [{k: v if k in plan.grid_keys else _parse(v) for k, v in r.items()} for r in rows]
    result.risk = risk_summary(typed, plan.grid_keys, plan.kpis, plan.kind, exceed)
    _write_rows(result.risk_path, risk_columns(plan.grid_keys, plan.kpis, result.risk, plan.kind, exceed),
                [{k: _text(v) for k, v in r.items()} for r in result.risk])
    return result
