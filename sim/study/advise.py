"""The answer a safety team takes to the meeting: the highest cap (and the best plan) whose probability
of breaking the scenario's safety criterion stays below a risk, with that probability's bound and
the price paid in queueing.

    citytwin advise SCENARIO [--risk 0.05] [--seeds N] [--plans PLAN ...] [--caps LIST] [--resolution R]
                    [--set KEY=VALUE ...] [--seed S] [--out DIR] [--workers K] [--max-runs M] [--quiet]

**The criterion** is per run: the run summary's ``safety.safe`` (flat KPI ``safe``), computed by
the crowd KPIs from the scenario's ``[safety]`` table (walkers at walkway LOS F in some place for
longer than ``max_walk_los_f_s``; people standing or queueing at Fruin's queuing LOS E or worse;
see :func:`sim.crowd.kpis.crowd_summary`).  A run that breaks it is a *failure*.

**Safe** means: the one-sided 95% upper Clopper-Pearson bound on the failure probability is below
the risk (:mod:`sim.study.stats`).  With no failure that takes ``ln(0.05) / ln(1 - risk)`` runs:
59 at 5%, 29 at 10%; one failure needs more (93 at 5%, 46 at 10%).  ``--seeds`` is the most runs
spent on one cap; it defaults to the fewest that can show the risk (59 at 5%), and a smaller value
that cannot is refused.  A cap whose one-sided 95% *lower* bound is above the risk is *unsafe*; a
cap that reaches ``--seeds`` runs without either is *undecided* (not shown safe).

**The search** (:func:`search_caps`, independent of the model: its run function is injected):

1. *Screen* every cap of a coarse grid (``--caps``; default: a quarter of the scenario's cap on the
   main zone up to twice it, and uncapped) with a few seeds each.  All caps share the same seeds
   (common random numbers: caps differ by the cap, not by the draw).
2. *Certify from the top*: take the highest cap not yet shown unsafe and add seeds in growing
   batches (at most doubling, never more than an all-clean sequel would need) until its interval is
   clearly above or below the risk (sequential testing: a cap that fails two runs of two at a 10%
   risk is dropped after those two).  The first cap shown safe is the answer on the grid: every
   higher cap was shown unsafe or undecided.  No monotone response is assumed: a cap below a
   failing cap may pass and a cap above a passing one may fail; the curve shows what was found.
3. *Refine* between the answer and the lowest tested cap above it by bisection down to
   ``--resolution``, each midpoint screened and certified the same way.
4. With ``--plans``, steps 1-3 run for each plan (common random numbers across plans too); caps
   below the best answer so far are screened, not certified.  The best plan has the highest safe
   cap; ties go to the lower price (fewer people who did not see the show: gave up, sent home at
   its end, kept away by a closed station; then shorter gate waits).

Runs go through the sweep runner (:func:`sim.study.sweep.run_sweep`) into one sweep folder per plan
under ``--out`` (``plan-<name>/sweep.csv``, resumable: an interrupted or repeated advise reuses
every run on disk), each run with its own results folder (``runs/<cap>/seed-<seed>/``), from which
the report draws the worst places.  Written when the search ends: ``advice.json`` (answer, risk,
interval, price, every tested cap), ``advice.html`` (one page for the meeting) and the reasoning
table (also printed).

A caveat stated with every answer: the bound holds for one cap tested alone.  Choosing the highest
of several caps that passed, and looking at the runs while they come in, makes the overall error
rate somewhat higher than 5%; an independent sweep at the advised cap with fresh seeds
(``--set simulation.seed=...``) is the check.

**Plans** (``--plans``): ``base`` is the scenario as given; ``NAME`` is the scenario's
``[plans.NAME]`` table (``description = "..."``, ``set = ["KEY=VALUE", ...]``); ``NAME:KEY=V,KEY=V``
defines a plan on the command line (values as ``--set`` values; commas inside ``[...]`` or quotes do
not split).  Without ``--plans`` the one plan is ``base``.
"""

from __future__ import annotations

import json
import math
import sys
import time
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import CliError, ScenarioError, SimError
from ..core.schema import parse_override
from ..kinds import kind_of, load_scenario
from .report import ADVICE_HTML, ADVICE_JSON, cap_text, format_reasoning, write_report
from .stats import CONFIDENCE, attainable_upper, cp_lower, cp_upper, runs_needed
from .sweep import _split_values, cell_folder_name, open_engine, read_table, run_sweep

__all__ = ["Plan", "parse_plans", "CapRecord", "CapSearch", "search_caps", "default_caps", "parse_caps_arg",
           "SweepRunner", "Advice", "advise", "format_reasoning", "ADVICE_JSON", "ADVICE_HTML", "UNCAPPED",
           "PRICE_KPIS"]

ALPHA = 1.0 - CONFIDENCE
#: The uncapped setting in a cap list (``zones.ZONE.cap=none``); it ranks above every number.
UNCAPPED = None
#: Runs each cap gets before anything is decided (two failures of two rule out any risk below 22%).
SCREEN_SEEDS = 2

#: The price of an answer: (flat KPI, words).  Read with ``.get``: absent KPIs are left out.
PRICE_KPIS = (("max_gate_queue", "people held at the gates at once (peak)"),
              ("gate_waiters", "people who queued at a gate"),
              ("held_person_s", "time held at gates, all people (person-seconds)"),
              ("gate_wait_s_p95", "gate wait p95 (s)"),
              ("gate_wait_s_mean", "gate wait mean (s)"),
              ("gate_waits_censored", "people still waiting at a gate when the run ended"),
              ("balked_at_gates", "people who gave up at the gates and went home"),
              ("diverted_at_gates", "people diverted to another entrance"),
              ("sent_home_at_show_end", "people sent home from the gates at the show's end"),
              ("kept_away_by_closed_stations", "people kept away by a closed station"),
              ("clearance_s", "clearance of the main zone after the show (s)"))
#: Price KPIs that count people who did not see the show (the tie-break between plans).
WENT_HOME_KPIS = ("balked_at_gates", "sent_home_at_show_end", "kept_away_by_closed_stations")


# ---------------------------------------------------------------------------------------------
# Plans.
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Plan:
    """A named set of ``--set`` overrides applied on top of the scenario (``base``: none)."""

    name: str
    overrides: tuple[str, ...] = ()
    description: str = ""


def _plan_tables(scenario_data: dict) -> dict[str, Any]:
    tables = scenario_data.get("plans", {})
    return tables if isinstance(tables, dict) else {}


def parse_plans(items: Sequence[str], scenario_data: dict, source: str = "--plans") -> list[Plan]:
    """``--plans`` items -> plans (see the module docstring); raises one :class:`CliError` naming every
    bad item and the fix."""
    items = list(items) or ["base"]
    tables = _plan_tables(scenario_data)
    plans, problems, seen = [], [], set()
    for item in items:
        name, _, inline = item.partition(":")
        name = name.strip()
        if not name or not all(ch.isalnum() or ch in "_-" for ch in name):
            problems.append(f"{item!r}: a plan name is letters, digits, '_' or '-' (e.g. managed or "
                            f"wide:crowd.aisle_width_m=5)")
            continue
        if name in seen:
            problems.append(f"{item!r}: plan {name!r} is given twice")
            continue
        seen.add(name)
        if inline:
            sets = [s for s in _split_values(inline) if s]
            bad = [s for s in sets if "=" not in s or not s.split("=", 1)[0].strip()]
            if bad or not sets:
                problems.append(f"{item!r}: expected NAME:KEY=VALUE,KEY=VALUE (bad part(s): {bad or [inline]!r})")
                continue
            plans.append(Plan(name, tuple(sets), "command line"))
        elif name == "base":
            plans.append(Plan("base", (), "the scenario as given"))
        elif name in tables:
            table = tables[name] if isinstance(tables[name], dict) else {}
            sets = table.get("set", [])
            if not isinstance(sets, list) or not all(isinstance(s, str) and "=" in s for s in sets):
                problems.append(f"plans.{name}.set in {source}: expected a list of \"KEY=VALUE\" strings, "
                                f"got {sets!r}")
                continue
            plans.append(Plan(name, tuple(sets), str(table.get("description", ""))))
        else:
            known = ", ".join(["base", *tables]) or "base"
            problems.append(f"{item!r}: no plan {name!r} in {source} (its plans: {known}); or define one "
                            f"as {name}:KEY=VALUE,KEY=VALUE")
    for plan in plans:
        for text in plan.overrides:
            try:
                parse_override(text)
            except ScenarioError as exc:
                problems.extend(f"plan {plan.name!r}: {p}" for p in exc.problems)
    if problems:
        raise CliError("--plans: " + "; ".join(problems))
    return plans


# ---------------------------------------------------------------------------------------------
# The search (model-free: runs come from an injected function).
# ---------------------------------------------------------------------------------------------

#: ``run_batch(requests) -> results``: each request ``(cap, seed index)``; each result True (the run
#: broke the criterion), False (it did not) or None (the run failed: no outcome).
RunBatch = Callable[[list[tuple[int | None, int]]], dict[tuple[int | None, int], bool | None]]
Progress = Callable[[int, int, str], None] | None


def _rank(cap: int | None) -> float:
    return math.inf if cap is None else float(cap)


@dataclass
class CapRecord:
    """What the runs at one cap showed."""

    cap: int | None
    outcomes: dict[int, bool] = field(default_factory=dict)     # seed index -> broke the criterion
    failed_runs: int = 0
    next_index: int = 0
    stage: str = "grid"                                         # grid or refine

    @property
    def n(self) -> int:
        return len(self.outcomes)

    @property
    def k(self) -> int:
        return sum(self.outcomes.values())

    @property
    def p(self) -> float | None:
        return self.k / self.n if self.n else None

    @property
    def upper(self) -> float:
        return cp_upper(self.k, self.n, ALPHA)

    @property
    def lower(self) -> float:
        return cp_lower(self.k, self.n, ALPHA)

    def status(self, risk: float, max_seeds: int) -> str:
        """``safe``, ``unsafe``, ``undecided`` (seeds spent, or cannot pass any more) or ``open``."""
        if self.n and self.upper < risk:
            return "safe"
        if self.n and self.lower > risk:
            return "unsafe"
        if self.n >= max_seeds or _clean_runs_to_pass(self.k, self.n, risk, max_seeds) is None:
            return "undecided"
        return "open"

    def to_dict(self, risk: float, max_seeds: int) -> dict[str, Any]:
        return {"cap": self.cap, "runs": self.n, "failures": self.k, "p": None if self.p is None else round(self.p, 4),
                "lower": round(self.lower, 4), "upper": round(self.upper, 4), "status": self.status(risk, max_seeds),
                "failed_runs": self.failed_runs, "stage": self.stage}


def _clean_runs_to_pass(k: int, n: int, risk: float, max_seeds: int) -> int | None:
    """Further runs, all passing, that bring the upper bound below ``risk`` (None: not within ``max_seeds``)."""
    for m in range(0, max_seeds - n + 1):
        if n + m > 0 and cp_upper(k, n + m, ALPHA) < risk:
            return m
    return None


@dataclass
class CapSearch:
    """The outcome of :func:`search_caps`: the highest cap shown safe (``found``), every cap tested and
    the rounds that led there."""

    risk: float
    max_seeds: int
    records: dict[Any, CapRecord]
    found: bool
    cap: int | None                          # the answer when found (None: uncapped)
    above: int | None | str                  # the lowest tested cap above the answer ("" if none)
    steps: list[dict[str, Any]]
    runs: int
    budget_spent: bool = False

    def tested(self) -> list[CapRecord]:
        return sorted(self.records.values(), key=lambda r: _rank(r.cap))


def search_caps(run_batch: RunBatch, caps: Sequence[int | None], risk: float, max_seeds: int, *,
                screen_seeds: int = SCREEN_SEEDS, resolution: int | None = None, workers: int = 1,
                floor: int | None | str = "", max_runs: int | None = None, progress: Progress = None) -> CapSearch:
    """Find the highest cap of ``caps`` (refined to ``resolution``) whose failure probability is shown
    below ``risk`` with 95% confidence, using at most ``max_seeds`` runs per cap (see the module
    docstring).  ``floor``: caps below it are screened but not certified (another plan already does
    better); ``max_runs``: stop when this many runs are spent (the answer so far is kept)."""
    if not 0.0 < risk < 1.0:
        raise ValueError(f"risk must be strictly between 0 and 1, got {risk!r}")
    caps = sorted(dict.fromkeys(caps), key=_rank)
    if not caps:
        raise ValueError("no caps to search")
    records: dict[Any, CapRecord] = {}
    steps: list[dict[str, Any]] = []
    state = {"runs": 0, "spent": False}
    planned = [len(caps) * screen_seeds + max_seeds]

    def record(cap: int | None, stage: str = "grid") -> CapRecord:
        if cap not in records:
            records[cap] = CapRecord(cap, stage=stage)
        return records[cap]

    def run(wants: dict[int | None, int], why: str) -> None:
        """Run ``wants[cap]`` more seeds at each cap (next unused seed indices)."""
        if max_runs is not None:
            left = max_runs - state["runs"]
            if left <= 0:
                state["spent"] = True
                return
            for cap in sorted(wants, key=_rank, reverse=True):
                wants[cap] = min(wants[cap], left)
                left -= wants[cap]
            wants = {c: m for c, m in wants.items() if m > 0}
        requests = []
        for cap, m in wants.items():
            rec = record(cap)
            requests += [(cap, rec.next_index + j) for j in range(m)]
            rec.next_index += m
        if not requests:
            return
        if progress is not None:
            planned[0] = max(planned[0], state["runs"] + len(requests))
            progress(state["runs"], planned[0], f"{why}: {len(requests)} run(s)")
        results = run_batch(requests)
        for cap, index in requests:
            outcome = results.get((cap, index))
            rec = records[cap]
            if outcome is None:
                rec.failed_runs += 1
            else:
                rec.outcomes[index] = bool(outcome)
        state["runs"] += len(requests)
        for cap in wants:
            rec = records[cap]
            steps.append({"step": len(steps) + 1, "why": why, "cap": cap, "runs_added": wants[cap],
                          **{k: rec.to_dict(risk, max_seeds)[k] for k in ("runs", "failures", "lower", "upper",
                                                                        "status")}})
        if progress is not None:
            progress(state["runs"], max(planned[0], state["runs"]), why)

    def certify(cap: int | None, why: str) -> str:
        rec = record(cap)
        while rec.status(risk, max_seeds) == "open" and not state["spent"]:
            clean = _clean_runs_to_pass(rec.k, rec.n, risk, max_seeds) or 1
            m = min(clean, max(workers, rec.n), max_seeds - rec.n)
            planned[0] = max(planned[0], state["runs"] + clean)
            run({cap: max(1, m)}, why)
        return rec.status(risk, max_seeds)

    def below_floor(cap: int | None) -> bool:
        return floor != "" and _rank(cap) < _rank(floor)

    # 1. screen the grid
    run({cap: screen_seeds for cap in caps}, "screen the grid")
    # 2. certify from the top
    answer: Any = ""
    for cap in sorted(caps, key=_rank, reverse=True):
        if state["spent"] or below_floor(cap):
            break
        status = record(cap).status(risk, max_seeds)
        if status == "open":
            status = certify(cap, f"certify {cap_text(cap)}")
        if status == "safe":
            answer = cap
            break
    # 3. refine between the answer and the lowest tested cap above it
    above: Any = ""
    if answer != "" and answer is not None:
        higher = [c for c in records if _rank(c) > _rank(answer)]
        above = min(higher, key=_rank) if higher else ""
        step = resolution or 0
        while (above not in ("", None) and step and above - answer > step and not state["spent"]):
            quantum = max(1, 10 ** max(0, int(math.log10(max(1, step))) - 1))
            mid = int(round((answer + above) / 2 / quantum) * quantum)
            if not answer < mid < above:
                break
            record(mid, "refine")
            run({mid: screen_seeds}, f"refine between {cap_text(answer)} and {cap_text(above)}")
            status = record(mid).status(risk, max_seeds)
            if status == "open":
                status = certify(mid, f"certify {cap_text(mid)}")
            if status == "safe":
                answer = mid
            else:
                above = mid
    return CapSearch(risk, max_seeds, records, answer != "", None if answer == "" else answer, above, steps,
                     state["runs"], state["spent"])


# ---------------------------------------------------------------------------------------------
# Caps.
# ---------------------------------------------------------------------------------------------

def _nice(value: float) -> int:
    """``value`` rounded to two significant digits (at least 1)."""
    if value < 1:
        return 1
    digits = 10 ** max(0, int(math.floor(math.log10(value))) - 1)
    return int(round(value / digits) * digits)


def default_caps(cap: int) -> tuple[list[int | None], int]:
    """The coarse grid around a scenario's cap ``cap``: multiples of ``cap / 4`` up to ``2 cap``, and
    uncapped; with the default resolution (a quarter of the grid step)."""
    step = _nice(cap / 4)
    caps: list[int | None] = [step * k for k in range(1, 9)]
    return [*caps, UNCAPPED], max(1, _nice(step / 4))


def parse_caps_arg(text: str) -> list[int | None]:
    """``--caps``: ``"20000,40000,none"`` or ``"20000:80000:10000"`` (from:to:step, both ends in)."""
    text = text.replace("_", "").strip()
    try:
        if ":" in text:
            lo, hi, step = (int(float(p)) for p in text.split(":"))
            if not (0 < lo <= hi and step > 0):
                raise ValueError
            return list(range(lo, hi + 1, step))
        caps: list[int | None] = []
        for part in (p.strip() for p in text.split(",")):
            if part.lower() in ("none", "uncapped"):
                caps.append(UNCAPPED)
                continue
            value = float(part)
            if value < 1 or value != int(value):
                raise ValueError
            caps.append(int(value))
        if not caps or len(set(caps)) != len(caps):
            raise ValueError
        return caps
    except ValueError:
        raise CliError(f"--caps: expected whole numbers of people separated by commas (and 'none' for uncapped), "
                       f"e.g. 20000,40000,none, or FROM:TO:STEP such as 20000:80000:10000; got {text!r}") from None


# ---------------------------------------------------------------------------------------------
# Runs of the model through the sweep runner.
# ---------------------------------------------------------------------------------------------

class SweepRunner:
    """A :data:`RunBatch` over the model: each batch is one :func:`run_sweep` call into one sweep
    folder (the cap key as its grid key, seeds ``simulation.seed + index``), with per-run folders."""

    def __init__(self, scenario_path: str | Path, cap_key: str, out_dir: str | Path, overrides: Sequence[str],
                 backend, log=None, engine: str = "pool"):
        self.scenario_path = Path(scenario_path)
        self.cap_key = cap_key
        self.out_dir = Path(out_dir)
        self.overrides = list(overrides)
        self.backend = backend
        self.engine = engine
        self.log = log or (lambda msg: None)
        self.seed0 = load_scenario(self.scenario_path, self.overrides).simulation.seed
        self.wall_seconds = 0.0
        self.runs_done = 0

    @property
    def runs_dir(self) -> Path:
        return self.out_dir / "runs"

    def run_folder(self, cap: int | None, seed: int) -> Path:
        label = "" if cap is None else str(cap)
        return self.runs_dir / cell_folder_name([self.cap_key], (label,)) / f"seed-{seed}"

    def __call__(self, requests: list[tuple[int | None, int]]) -> dict[tuple[int | None, int], bool | None]:
        caps = sorted({c for c, _ in requests}, key=_rank)
        wanted = {(c, self.seed0 + i) for c, i in requests}
        grid = [f"{self.cap_key}=" + ",".join("none" if c is None else str(c) for c in caps)]
        n_seeds = max(i for _, i in requests) + 1
        t0 = time.perf_counter()
        result = run_sweep(self.scenario_path, grid, n_seeds, self.out_dir, overrides=self.overrides,
                           backend=self.backend, engine=self.engine, log=self.log, run_folder=self.runs_dir,
                           select=lambda values, seed: (values[self.cap_key], seed) in wanted)
        self.wall_seconds += time.perf_counter() - t0
        self.runs_done += len(result.ran)
        out: dict[tuple[int | None, int], bool | None] = {}
        for row in self.rows():
            key = (row["cap"], int(row["seed"]))
            if key in wanted:
                out[(key[0], key[1] - self.seed0)] = None if row["status"] != "ok" else row.get("safe") is False
        return out

    def rows(self) -> list[dict[str, Any]]:
        """Every run of this folder, typed, with its cap as ``cap`` (None: uncapped)."""
        table = self.out_dir / "sweep.csv"
        rows = read_table(table) if table.exists() else []
        for row in rows:
            value = row.get(self.cap_key)
            row["cap"] = None if value in (None, "") else int(value)
        return rows


# ---------------------------------------------------------------------------------------------
# advise(): plans x caps, the answer, its price, the files.
# ---------------------------------------------------------------------------------------------

@dataclass
class PlanResult:
    plan: Plan
    search: CapSearch
    rows: list[dict[str, Any]]               # every run of the plan (typed, with ``cap``)
    out_dir: Path
    runs_dir: Path

    def rows_at(self, cap: int | None) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["cap"] == cap and r.get("status") == "ok"]


@dataclass
class Advice:
    """What :func:`advise` found (``advice.json`` is :meth:`to_dict`)."""

    scenario: str
    scenario_path: str
    main_zone: str
    cap_key: str
    risk: float
    max_seeds: int
    attainable_upper: float
    criterion: dict[str, Any]
    plans: list[PlanResult]
    best: PlanResult | None
    text: str
    seed0: int
    wall_seconds: float
    out_dir: Path
    runs_total: int
    runs_new: int

    def price(self, result: PlanResult | None = None) -> dict[str, dict[str, Any]]:
        """Median and p5-p95 over the answer's runs of each :data:`PRICE_KPIS` present."""
        result = result or self.best
        if result is None or not result.search.found:
            return {}
        return price_of(result.rows_at(result.search.cap), self.main_zone)

    def to_dict(self) -> dict[str, Any]:
        best = self.best
        answer = None
        if best is not None and best.search.found:
            rec = best.search.records[best.search.cap]
            answer = {"plan": best.plan.name, "cap": best.search.cap, "uncapped": best.search.cap is None,
                      "runs": rec.n, "failures": rec.k, "upper_95": round(rec.upper, 4),
                      "lower_95": round(rec.lower, 4),
                      "next_cap_above": None if best.search.above == "" else best.search.above,
                      "price": self.price()}
        return {"format": 1, "scenario": self.scenario, "scenario_file": self.scenario_path,
                "main_zone": self.main_zone, "cap_key": self.cap_key, "risk": self.risk,
                "confidence": CONFIDENCE,
                "safe_means": f"one-sided {CONFIDENCE:.0%} upper Clopper-Pearson bound on P(run breaks the "
                              f"criterion) below the risk",
                "criterion": self.criterion, "max_seeds_per_cap": self.max_seeds,
                "attainable_upper_bound": round(self.attainable_upper, 4),
                "runs_needed_without_failure": runs_needed(self.risk), "seeds_from": self.seed0,
                "answer": answer, "text": self.text,
                "plans": [{"name": r.plan.name, "description": r.plan.description, "overrides": list(r.plan.overrides),
                           "found": r.search.found, "cap": r.search.cap, "runs": r.search.runs,
                           "budget_spent": r.search.budget_spent,
                           "caps": [rec.to_dict(self.risk, self.max_seeds) for rec in r.search.tested()],
                           "steps": r.search.steps, "price": self.price(r)} for r in self.plans],
                "runs_total": self.runs_total, "runs_run_now": self.runs_new,
                "wall_seconds": round(self.wall_seconds, 1),
                "caveat": "each bound holds for one cap tested alone; picking the highest passing cap and "
                          "stopping as runs came in make the overall error rate somewhat higher: check the "
                          "advised cap with an independent sweep on fresh seeds"}


def price_of(rows: list[dict[str, Any]], main_zone: str | None = None) -> dict[str, dict[str, Any]]:
    """Median, p5 and p95 of each price KPI over ``rows`` (ok runs), where the runs have it."""
    out = {}
    kpis = list(PRICE_KPIS)
    if main_zone:
        kpis.append((f"{main_zone}.peak_occupancy", f"peak people on {main_zone}"))
    for key, words in kpis:
        vals = [r.get(key) for r in rows if isinstance(r.get(key), (int, float)) and not isinstance(r.get(key), bool)]
        if not vals:
            continue
        arr = np.asarray(vals, dtype=float)
        out[key] = {"label": words, "runs": int(arr.size), "median": round(float(np.median(arr)), 1),
                    "p5": round(float(np.percentile(arr, 5)), 1), "p95": round(float(np.percentile(arr, 95)), 1)}
    return out


def _pct(p: float) -> str:
    return f"{100 * p:.3g}%"


def _answer_text(advice_risk: float, results: list[PlanResult], best: PlanResult | None, max_seeds: int,
                 zone: str) -> str:
    if best is None or not best.search.found:
        lines = [f"No cap tried keeps the probability of breaking the safety criterion shown below "
                 f"{_pct(advice_risk)} (95% confidence)."]
        for r in results:
            tested = r.search.tested()
            lowest = min(tested, key=lambda rec: (rec.p if rec.p is not None else 1.0, _rank(rec.cap)))
            lines.append(f"Plan {r.plan.name}: the least risky cap tried, {cap_text(lowest.cap)}, broke it in "
                         f"{lowest.k} of {lowest.n} runs (upper bound {_pct(lowest.upper)})"
                         + (f"; the run budget ran out" if r.search.budget_spent else "") + ".")
        lines.append("The runs do not point to a cap: see the curve and the worst places; measures (plans) may "
                     "do what a cap alone does not.")
        return " ".join(lines)
    rec = best.search.records[best.search.cap]
    where = "no cap" if best.search.cap is None else f"a cap of {best.search.cap:,} on {zone}"
    text = (f"Plan {best.plan.name} with {where}: {rec.k} of {rec.n} runs broke the safety criterion; "
            f"the probability is below {_pct(rec.upper)} with 95% confidence (risk asked: {_pct(advice_risk)}).")
    above = best.search.above
    if above != "":
        up = best.search.records[above]
        text += (f" The next cap tried above it, {cap_text(above)}, broke it in {up.k} of {up.n} runs "
                 f"({up.status(advice_risk, max_seeds)}).")
    return text


def advise(scenario_path: str | Path, risk: float = 0.05, *, seeds: int | None = None, plans: Sequence[str] = (),
           caps: Sequence[int | None] | None = None, resolution: int | None = None, overrides: Sequence[str] = (),
           seed: int | None = None, out_dir: str | Path | None = None, workers: int | None = None,
           engine: str = "pool", max_runs: int | None = None, report: bool = True, progress: Progress = None,
           log=None, zone: str | None = None) -> Advice:
    """Find the highest safe cap (and the best plan) for a crowd scenario; write ``advice.json`` and
    the report into ``out_dir`` (see the module docstring).  ``zone``: the zone to cap (default: the
    scenario's main zone).  Bad input raises a :class:`~sim.core.errors.SimError` before any run."""
    t_start = time.perf_counter()
    log = log or (lambda msg: print(msg, file=sys.stderr))
    if isinstance(risk, bool) or not isinstance(risk, (int, float)) or not 0.0 < risk < 1.0:
        raise CliError(f"--risk must be a probability strictly between 0 and 1, e.g. 0.05, got {risk!r}")
    overrides = [*overrides, *([f"simulation.seed={int(seed)}"] if seed is not None else [])]
    path = Path(scenario_path)
    scenario = load_scenario(path, overrides)
    if scenario.kind != "crowd":
        raise CliError(f"advise finds a crowd cap; {str(path)!r} is a {scenario.kind!r} scenario "
                       f"(compare its plans over seeds with `citytwin run {path} --seeds N`)")
    if zone is not None and zone not in scenario.zones:
        raise CliError(f"--zone {zone!r} is not a zone of {str(path)!r} (zones: {', '.join(scenario.zones)})")
    zone = zone or scenario.main_zone
    if zone is None:
        raise CliError(f"{str(path)!r} has no [zones]: nothing to cap")
    cap_key = f"zones.{zone}.cap"
    needed = runs_needed(risk)
    if seeds is None:
        seeds = needed
    elif seeds < needed:
        raise CliError(f"--seeds {seeds}: with {seeds} runs per cap the lowest upper bound attainable is "
                       f"{_pct(attainable_upper(seeds))} (all runs passing), not below --risk {_pct(risk)}; "
                       f"use --seeds {needed} or more (or a higher --risk)")
    if max_runs is not None and max_runs < 1:
        raise CliError(f"--max-runs must be a positive integer, got {max_runs!r}")
    if caps is None:
        current = scenario.zones[zone].cap
        if current is None:
            raise CliError(f"{cap_key} is not set in {str(path)!r}: give the caps to try with --caps, e.g. "
                           f"--caps 20000,40000,60000,80000,none or --caps 20000:120000:20000")
        caps, auto_resolution = default_caps(current)
        resolution = resolution or auto_resolution
    caps = list(caps)
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    plan_list = parse_plans(plans, data, str(path))
    # every plan x cap checked before any run (one error listing every problem)
    problems: list[str] = []
    for plan in plan_list:
        for cap in caps:
            try:
                cell = load_scenario(path, [*overrides, *plan.overrides,
                                            f"{cap_key}={'none' if cap is None else cap}"])
                kind_of(cell).compile_check(cell)
            except ScenarioError as exc:
                problems += [f"plan {plan.name!r}: {p}" for p in exc.problems if f"plan {plan.name!r}: {p}" not in problems]
            except SimError as exc:
                problems.append(f"plan {plan.name!r}: {exc}")
            if problems:
                break
    if problems:
        raise ScenarioError(str(path), problems)
    out = Path(out_dir) if out_dir else default_advise_dir(path, overrides)
    if out.exists() and not out.is_dir():
        raise CliError(f"--out {str(out)!r} exists and is not a folder: give a folder path")
    backend = open_engine(engine, workers)
    results: list[PlanResult] = []
    runs_new = 0
    try:
        best_cap: Any = ""
        for k, plan in enumerate(plan_list):
            runner = SweepRunner(path, cap_key, out / f"plan-{plan.name}", [*overrides, *plan.overrides], backend,
                                 engine=engine)
            sub = None if progress is None else (
                lambda done, total, why, k=k, plan=plan: progress(done, total, f"plan {plan.name} ({k + 1} of "
                                                                             f"{len(plan_list)}): {why}"))
            search = search_caps(runner, caps, risk, seeds, resolution=resolution, workers=backend.workers,
                                 floor=best_cap, max_runs=max_runs, progress=sub)
            runs_new += runner.runs_done
            results.append(PlanResult(plan, search, runner.rows(), runner.out_dir, runner.runs_dir))
            if search.found and (best_cap == "" or _rank(search.cap) > _rank(best_cap)):
                best_cap = search.cap
            log(f"plan {plan.name}: " + (f"highest safe cap {cap_text(search.cap)}" if search.found
                                         else "no cap shown safe") + f" after {search.runs} run(s)")
    finally:
        backend.close()
    best = _best_plan(results, zone)
    advice = Advice(scenario.name, str(path), zone, cap_key, risk, seeds, attainable_upper(seeds),
                    scenario.safety.model_dump(), results, best, _answer_text(risk, results, best, seeds, zone),
                    load_scenario(path, overrides).simulation.seed, time.perf_counter() - t_start, out,
                    sum(r.search.runs for r in results), runs_new)
    out.mkdir(parents=True, exist_ok=True)
    (out / ADVICE_JSON).write_text(json.dumps(advice.to_dict(), indent=2) + "\n", encoding="utf-8")
    if report:
        write_report(advice, out / ADVICE_HTML)
    return advice


def default_advise_dir(path: Path, overrides: Sequence[str]) -> Path:
    """``out/<stem>-advise-<8 hex of the --set overrides>``: the same question resumes in the same
    folder (its runs are reused), another ``--set`` gets its own."""
    import hashlib
    digest = hashlib.sha256(json.dumps(list(overrides)).encode()).hexdigest()[:8]
    return Path("out") / f"{path.stem}-advise-{digest}"


def _best_plan(results: list[PlanResult], zone: str) -> PlanResult | None:
    found = [r for r in results if r.search.found]
    if not found:
        return None

    def went_home(r: PlanResult) -> float:
        price = price_of(r.rows_at(r.search.cap), zone)
        return sum(price[k]["median"] for k in WENT_HOME_KPIS if k in price)

    def wait(r: PlanResult) -> float:
        return price_of(r.rows_at(r.search.cap), zone).get("gate_wait_s_p95", {}).get("median", 0.0)

    top = max(_rank(r.search.cap) for r in found)
    tied = [r for r in found if _rank(r.search.cap) == top]
    return min(tied, key=lambda r: (went_home(r), wait(r), results.index(r)))
