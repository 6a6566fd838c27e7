"""A scenario over N seeds: one results folder per run and a summary of bands.

    citytwin run SCENARIO --seeds N [--seed S] [--out DIR] [--set KEY=VALUE ...] [--plan NAME ...]
                 [--workers K] [--queue-levels 1000,5000] [--no-plots] [--quiet]

Runs go through the sweep runner (:func:`sim.study.sweep.run_sweep`, no grid): seeds ``S .. S+N-1``
(``S`` is ``--seed``, else the scenario's ``simulation.seed``), common to every study that uses the
same scenario, resumable (a re-run with more seeds runs only the new ones).  Files in ``--out``:

* ``runs/seed-<seed>/``: each run's results exactly as ``citytwin run --seed <seed>`` writes them;
* ``sweep.csv`` (one row per run), ``risk.csv`` (the bands as one row), ``sweep.json``;
* ``bands.csv``: one row per numeric KPI: ``runs``, ``median``, ``p5``, ``p95``, ``mean``, ``min``,
  ``max`` across the ok runs (``numpy.percentile``, linear interpolation);
* ``bands.json``: the same, plus the probabilities an officer asks for, each with its count and its
  90% Clopper-Pearson interval (:mod:`sim.study.stats`): for crowds P(unsafe) by the scenario's
  ``[safety]`` criterion, P(any place with walkers at LOS F), P(any place at or above the crush
  density), P(any zone at LOS F), and P(gate queue above each ``--queue-levels`` level).

A band is what the runs showed, not a guarantee: with N runs, the 5th and 95th percentiles are
interpolated between the few lowest and highest values, and a probability of 0 of N is stated with
the upper bound it allows (1 - 0.05^(1/N): 26% for 10 runs).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import CliError
from ..kinds import KINDS
from .stats import cp_interval
from .sweep import TABLE_NAME, SweepResult, exceed_column, read_table, risk_summary, run_sweep

__all__ = ["SeedBands", "run_seeds", "seed_bands", "format_bands", "parse_levels", "BANDS_JSON", "BANDS_CSV",
           "RUNS_DIR", "PROBABILITY_LABELS", "DEFAULT_QUEUE_LEVELS"]

BANDS_JSON, BANDS_CSV, RUNS_DIR = "bands.json", "bands.csv", "runs"

#: Gate-queue levels (people waiting at all gates at once) whose exceedance a crowd run reports.
DEFAULT_QUEUE_LEVELS = (1000.0, 5000.0, 10000.0)

#: Probabilities of each kind's ``risk_flags`` columns, in words.
PROBABILITY_LABELS = {"p_unsafe": "P(unsafe: breaks the [safety] criterion)",
                      "p_any_place_los_f": "P(walkers at LOS F in any place)",
                      "p_any_place_crush_density": "P(any place at or above the crush density)",
                      "p_any_zone_los_f": "P(any zone at LOS F)"}


def parse_levels(text: str | None, flag: str = "--queue-levels") -> tuple[float, ...]:
    """``"1000,5000"`` -> (1000.0, 5000.0); raises :class:`CliError` naming ``flag``."""
    if text is None:
        return DEFAULT_QUEUE_LEVELS
    levels = []
    for part in (p.strip() for p in text.split(",")):
        try:
            value = float(part.replace("_", ""))
        except ValueError:
            value = float("nan")
        if not np.isfinite(value) or value < 0:
            raise CliError(f"{flag}: expected non-negative numbers separated by commas, e.g. 1000,5000, "
                           f"got {text!r}")
        levels.append(value)
    return tuple(sorted(set(levels)))


@dataclass
class SeedBands:
    """Bands of one scenario over seeds (what ``bands.json`` holds)."""

    scenario: str
    kind: str
    seeds: list[int]
    runs_ok: int
    runs_failed: int
    runs_invalid: int
    kpis: dict[str, dict[str, float | int | None]] = field(default_factory=dict)    # KPI -> band
    probabilities: dict[str, dict[str, Any]] = field(default_factory=dict)          # column -> p with interval
    shares: dict[str, float | None] = field(default_factory=dict)                   # yes/no KPI -> share true
    out_dir: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"scenario": self.scenario, "kind": self.kind, "seeds": self.seeds, "runs_ok": self.runs_ok,
                "runs_failed": self.runs_failed, "runs_invalid": self.runs_invalid,
                "probabilities": self.probabilities, "kpis": self.kpis, "shares": self.shares,
                "note": "bands across the ok runs: median and p5-p95 (numpy.percentile, linear); probabilities "
                        "with their 90% Clopper-Pearson interval (each end a one-sided 95% bound)"}


def _probability(name: str, p: float | None, n: int, label: str) -> dict[str, Any]:
    if p is None or n == 0:
        return {"label": label, "p": None, "events": None, "runs": n, "low": None, "high": None}
    k = int(round(p * n))
    lo, hi = cp_interval(k, n)
    return {"label": label, "p": round(k / n, 6), "events": k, "runs": n, "low": round(lo, 4), "high": round(hi, 4)}


def seed_bands(rows: list[dict[str, Any]], risk: dict[str, Any], kpis: Sequence[str], kind: str,
               scenario_name: str, seeds: Sequence[int], exceed: dict[str, Sequence[float]] | None = None) -> SeedBands:
    """The bands of one sweep cell: ``rows`` its runs (typed, :func:`~sim.study.sweep.read_table`),
    ``risk`` its :func:`~sim.study.sweep.risk_summary` row."""
    ok = [r for r in rows if r.get("status") == "ok"]
    n = len(ok)
    bands = SeedBands(scenario_name, kind, list(seeds), n, int(risk.get("runs_failed") or 0),
                      int(risk.get("runs_invalid") or 0))
    for name in KINDS[kind].risk_flags([], list(kpis)):
        bands.probabilities[name] = _probability(name, risk.get(name), n, PROBABILITY_LABELS.get(name, name))
    for k, levels in (exceed or {}).items():
        for level in levels:
            col = exceed_column(k, level)
            bands.probabilities[col] = _probability(col, risk.get(col), n, f"P({k} > {level:,.0f})")
    for k in kpis:
        vals = [r.get(k) for r in ok if r.get(k) is not None]
        if vals and all(isinstance(v, bool) for v in vals):
            bands.shares[k] = round(sum(vals) / len(vals), 6)
        elif vals and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
            arr = np.asarray(vals, dtype=float)
            bands.kpis[k] = {"runs": int(arr.size), "median": round(float(np.median(arr)), 4),
                             "p5": round(float(np.percentile(arr, 5)), 4),
                             "p95": round(float(np.percentile(arr, 95)), 4), "mean": round(float(arr.mean()), 4),
                             "min": round(float(arr.min()), 4), "max": round(float(arr.max()), 4)}
    return bands


def _key_kpis(bands: SeedBands, main_zone: str | None) -> list[str]:
    """The KPIs the printed table shows: for crowds the run KPIs and the main zone's, otherwise all."""
    if bands.kind != "crowd":
        return list(bands.kpis)
    keys = [k for k in bands.kpis if "." not in k and k not in ("agents_total", "agents_inside")]
    if main_zone:
        keys += [k for k in bands.kpis if k.startswith(f"{main_zone}.")]
    return keys


def _fmt(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"


def format_bands(bands: SeedBands, main_zone: str | None = None) -> str:
    """The table printed after ``citytwin run --seeds``: probabilities with intervals, then KPI bands."""
    lines = [f"{bands.scenario}: {bands.runs_ok} run(s) ok over seeds {bands.seeds[0]}-{bands.seeds[-1]}"
             + (f", {bands.runs_failed} failed" if bands.runs_failed else "")
             + (f", {bands.runs_invalid} INVALID (conservation check)" if bands.runs_invalid else "")]
    if bands.probabilities:
        lines.append("")
        width = max(len(p["label"]) for p in bands.probabilities.values())
        lines.append(f"{'probability':<{width}}  {'runs':>9}  {'p':>5}  90% interval (Clopper-Pearson)")
        for p in bands.probabilities.values():
            if p["p"] is None:
                lines.append(f"{p['label']:<{width}}  {'-':>9}")
                continue
            lines.append(f"{p['label']:<{width}}  {p['events']:>4} of {p['runs']:<2}  {p['p']:>5.2f}  "
                         f"{p['low']:.2f} - {p['high']:.2f}")
    keys = _key_kpis(bands, main_zone)
    if keys:
        lines.append("")
        width = max(len(k) for k in keys)
        lines.append(f"{'KPI':<{width}}  {'median':>10}  {'p5':>10}  {'p95':>10}  {'runs':>4}")
        for k in keys:
            b = bands.kpis[k]
            lines.append(f"{k:<{width}}  {_fmt(b['median']):>10}  {_fmt(b['p5']):>10}  {_fmt(b['p95']):>10}  "
                         f"{b['runs']:>4}")
    if bands.runs_ok == 1:
        lines.append("")
        lines.append("one run only: these are that run's numbers, not a band; use --seeds 10 or more")
    return "\n".join(lines)


def _write_bands(bands: SeedBands, out: Path) -> None:
    (out / BANDS_JSON).write_text(json.dumps(bands.to_dict(), indent=2) + "\n", encoding="utf-8")
    with open(out / BANDS_CSV, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["kpi", "runs", "median", "p5", "p95", "mean", "min", "max"])
        for k, b in bands.kpis.items():
            writer.writerow([k, b["runs"], b["median"], b["p5"], b["p95"], b["mean"], b["min"], b["max"]])


def run_seeds(scenario_path: str | Path, seeds: int, out_dir: str | Path, *, overrides: Sequence[str] = (),
              seed: int | None = None, plans: Sequence[str] = (), workers: int | None = None,
              engine: str = "pool", plots: bool = True, progress: bool = False,
              queue_levels: Sequence[float] = DEFAULT_QUEUE_LEVELS, log=None) -> tuple[SeedBands, SweepResult]:
    """Run a scenario over ``seeds`` seeds into ``out_dir`` (see the module docstring); returns the
    bands and the sweep.  Bad input raises before anything is written."""
    out = Path(out_dir)
    if (out / "summary.json").exists() and not (out / TABLE_NAME).exists():
        raise CliError(f"--out {str(out)!r} holds a single run's results; give another folder for --seeds")
    overrides = [*overrides, *([f"simulation.seed={int(seed)}"] if seed is not None else [])]
    from ..kinds import load_scenario
    kind = load_scenario(scenario_path, list(overrides)).kind
    exceed = {"max_gate_queue": list(queue_levels)} if kind == "crowd" and queue_levels else None
    result = run_sweep(scenario_path, [], seeds, out, overrides=overrides, workers=workers, engine=engine,
                       progress=progress, log=log, run_folder=out / RUNS_DIR, run_plots=plots, exceed=exceed,
                       plans=plans)
    rows = [r for r in read_table(result.table_path) if int(r["seed"]) in result.plan.seeds]
    (risk,) = risk_summary(rows, [], result.plan.kpis, kind, exceed)      # these seeds only
    scenario = result.plan.cells[0].scenario
    bands = seed_bands(rows, risk, result.plan.kpis, kind, scenario.name, list(result.plan.seeds), exceed)
    bands.out_dir = str(out)
    _write_bands(bands, out)
    return bands, result
