"""Side-by-side comparisons: runs of one scenario that differ in one setting (a zone's cap, a tunnel
phase plan, a bike redistribution plan), kept as plain picklable results, and the verdicts drawn
from them in words ("the highest cap that keeps every zone out of LOS F", "the plan with the lowest
mean bicycle wait", "the plan with the fewest unmet bike pickups").

Everything here goes through the same public API as the CLI (TOML -> ``--set`` overrides ->
:func:`~sim.scenario.scenario_from_dict`, then :class:`~sim.model.CityModel` /
:class:`~sim.model.PlanComparison` / :class:`~sim.model.BikePlanComparison`, ``run``, ``summary``,
``timeseries_rows``), so a result here is
the result ``citytwin run`` gives for the same scenario, overrides and seed.  Nothing here knows
Streamlit; ``app.py`` only lays these results out.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .cli import PROJECT_ROOT
from .errors import ScenarioError
from .fundamental import LOS_NAMES
from .io import scenario_json, summary_json, timeseries_csv
from .scenario import AnyScenario, BikeScenario, Scenario, TrafficScenario, apply_overrides, scenario_from_dict

__all__ = ["SCENARIO_DIR", "MAP_DIR", "MAX_SCENARIO_BYTES", "shipped_scenarios", "scenario_data_from_toml",
           "validate_scenario", "cap_override", "rain_override", "duration_override", "parse_caps",
           "cap_label", "CrowdResult", "run_crowd", "TrafficResult", "run_plans", "BikeResult", "run_bike_plans",
           "CapCheck", "CapVerdict", "safe_cap", "PlanVerdict", "best_plans", "BikeVerdict", "fewest_unmet",
           "crowd_kpi_rows", "crowd_zone_rows", "plan_mode_rows", "bike_kpi_rows", "bike_pool_rows",
           "exit_share_rows", "sweep_grid_keys", "sweep_cap_key", "sweep_zones", "sweep_kpis", "sweep_risk_rows",
           "SweepCapVerdict", "sweep_safe_cap"]

SCENARIO_DIR = PROJECT_ROOT / "scenarios"
MAP_DIR = PROJECT_ROOT / "maps"
#: Largest scenario file accepted from an upload (the shipped ones are 3-6 kB).
MAX_SCENARIO_BYTES = 200_000

Callback = Callable[[float], None] | None


# ---------------------------------------------------------------------------------------------
# Scenarios: shipped files, uploaded text, overrides.
# ---------------------------------------------------------------------------------------------

def shipped_scenarios(kind: str, folder: Path = SCENARIO_DIR) -> dict[str, Path]:
    """Shipped scenario files of one ``kind`` (``crowd``, ``traffic``, ...), labelled
    ``"name (file)"``, in file order.  Files that are not valid TOML are left out (``citytwin list``
    shows them)."""
    found = {}
    for path in sorted(Path(folder).glob("*.toml")):
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError):
            continue
        if data.get("kind", "crowd") == kind:
            found[f"{data.get('name', path.stem)} ({path.name})"] = path
    return found


def scenario_data_from_toml(content: bytes | str, source: str, max_bytes: int = MAX_SCENARIO_BYTES) -> dict:
    """Parse a scenario file's content (e.g. an upload) into plain data: at most ``max_bytes``,
    UTF-8, TOML; never executed.  Errors are :class:`ScenarioError` worded as the CLI's."""
    raw = content.encode("utf-8") if isinstance(content, str) else bytes(content)
    if len(raw) > max_bytes:
        raise ScenarioError(source, [f"file is {len(raw):,} bytes; scenario files may be at most "
                                     f"{max_bytes:,} bytes"])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(source, [f"not a UTF-8 text file: {exc}"]) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(source, [f"not valid TOML: {exc}"]) from None


def validate_scenario(data: dict, source: str, overrides: Iterable[str] = (),
                      map_dir: Path | None = None) -> AnyScenario:
    """Apply ``--set``-style overrides and validate (as ``citytwin run --set ...`` does).

    ``source`` is the file the scenario stands for: its ``map`` is read relative to it.
    ``map_dir``, when given, confines the map to files in that folder (uploads may only use the
    shipped maps, never an arbitrary path on the server)."""
    scenario = scenario_from_dict(apply_overrides(data, list(overrides)), source)
    if map_dir is not None and scenario.map_path.parent != Path(map_dir).resolve():
        shipped = sorted(p.name for p in Path(map_dir).glob("*.osm"))
        raise ScenarioError(source, [f"map: {scenario.map!r} is not one of the shipped maps; use "
                                     f"{', '.join(repr(f'../maps/{m}') for m in shipped)}"])
    return scenario


def cap_override(zone: str, cap: int | None) -> str:
    """The ``--set`` text that caps ``zone`` at ``cap`` people (``None``: lifts the cap)."""
    return f"zones.{zone}.cap={'none' if cap is None else int(cap)}"


def rain_override(rain_mm_per_h: float) -> str:
    """The ``--set`` text for the rain intensity (0: dry, no umbrellas)."""
    return f"weather.rain_mm_per_h={float(rain_mm_per_h)!r}"


def duration_override(minutes: float) -> str:
    """The ``--set`` text for the simulated time."""
    return f"simulation.duration_s={float(minutes) * 60.0!r}"


def parse_caps(text: str) -> list[int | None]:
    """``"40,000, 60k, 80 000, none"`` -> ``[40000, 60000, 80000, None]``: caps separated by commas or
    semicolons (a comma between a digit and exactly three digits is a thousands separator), sorted
    and unique; ``none`` or ``uncapped`` lifts the cap; ``k`` means thousands.
    :class:`ScenarioError` lists every bad entry."""
    caps: list[int | None] = []
    problems = []
    text = re.sub(r"(?<=\d),(?=\d{3}(?!\d))", "", text)
    for part in text.replace(";", ",").split(","):
        item = part.strip().lower().replace(" ", "").replace("_", "")
        if not item:
            continue
        if item in ("none", "uncapped", "nocap"):
            caps.append(None)
            continue
        scale = 1000 if item.endswith("k") else 1
        number = item[:-1] if scale > 1 else item
        try:
            value = float(number) * scale
        except ValueError:
            problems.append(f"{part.strip()!r}: expected a number of people (e.g. 60000 or 60k) or 'none'")
            continue
        if value < 1 or value != int(value):
            problems.append(f"{part.strip()!r}: a cap is a whole number of people >= 1")
            continue
        caps.append(int(value))
    if not caps and not problems:
        problems.append("no caps given: enter e.g. '40000, 60000, 80000, none'")
    if problems:
        raise ScenarioError("caps", problems)
    unique = sorted({c for c in caps if c is not None})
    return unique + ([None] if None in caps else [])


def cap_label(cap: int | None) -> str:
    return "uncapped" if cap is None else f"cap {cap:,}"


# ---------------------------------------------------------------------------------------------
# Results: plain data of a finished run (picklable, so the app can cache them).
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CrowdResult:
    """One crowd run: its summary and time series (as ``citytwin run`` writes them) plus the
    series the comparison plots draw."""

    label: str
    summary: dict
    timeseries: list[dict]
    scenario: dict                      # the scenario as run (scenario.json)
    zone_names: tuple[str, ...]
    dt_s: float
    occupancy: np.ndarray               # (steps, zones) people
    max_density: np.ndarray             # (steps, zones) densest cell of each zone, p/m2
    gate_queue: np.ndarray              # (steps, zones) people waiting at the zone's gates
    los_thresholds_ppm2: np.ndarray     # density at which LOS B..F begin (rain-adjusted)
    show_start_s: float
    show_end_s: float
    cell_peak_density: np.ndarray       # (cells,) p/m2
    cell_density_t_s: np.ndarray        # (snapshots,) time of each density snapshot
    cell_density: np.ndarray            # (snapshots, cells) float32 p/m2
    timeseries_columns: list[str] = field(default_factory=list)

    def density_at(self, minute: float) -> np.ndarray:
        """Every cell's density at the snapshot nearest ``minute`` (zeros before the first)."""
        if self.cell_density_t_s.size == 0:
            return np.zeros_like(self.cell_peak_density)
        k = int(np.argmin(np.abs(self.cell_density_t_s - minute * 60.0)))
        return self.cell_density[k]

    def files(self) -> dict[str, str]:
        """``summary.json``, ``timeseries.csv`` and ``scenario.json`` as ``citytwin run`` writes them."""
        return _files(self.summary, self.timeseries, self.timeseries_columns, self.scenario)


def _files(summary: dict, rows: list[dict], columns: list[str], scenario: dict) -> dict[str, str]:
    return {"summary.json": summary_json(summary), "timeseries.csv": timeseries_csv(rows, columns),
            "scenario.json": scenario_json(scenario)}


def run_crowd(scenario: Scenario, seed: int | None = None, label: str = "", callback: Callback = None,
              arrays=None, snapshot_every_s: float = 60.0) -> CrowdResult:
    """Run a crowd scenario (``callback(fraction_done)`` once a simulated minute) and keep its
    results, with a snapshot of every cell's density every ``snapshot_every_s`` simulated seconds.
    ``arrays``: the scenario's compiled :class:`~sim.crowd.CrowdArrays`, when already at hand."""
    from .model import CityModel

    model = CityModel(scenario, seed=seed, arrays=arrays)
    rec = model.recorder
    rec.keep_cell_density(max(1, int(round(snapshot_every_s / model.engine.arrays.dt_s))))
    summary = model.run(callback=callback)
    a = model.engine.arrays
    return CrowdResult(
        label=label or scenario.name, summary=summary, timeseries=model.timeseries_rows(),
        scenario=scenario.to_dict(), zone_names=tuple(a.zone_names), dt_s=float(a.dt_s),
        occupancy=rec.occupancy[: rec.n].copy(), max_density=rec.max_density[: rec.n].copy(),
        gate_queue=rec.gate_queue[: rec.n].copy(), los_thresholds_ppm2=np.asarray(a.los_thresholds_ppm2).copy(),
        show_start_s=float(scenario.show.start_s), show_end_s=float(scenario.show.end_s),
        cell_peak_density=rec.cell_peak_density.copy(),
        cell_density_t_s=rec.cell_density_t_s[: rec.n_cell_snapshots].copy(),
        cell_density=rec.cell_density[: rec.n_cell_snapshots].copy(),
        timeseries_columns=list(model.TIMESERIES_COLUMNS))


@dataclass(frozen=True)
class TrafficResult:
    """A plan comparison of a traffic scenario: its summary and time series (as ``citytwin run``
    writes them) and, per plan, the portal queue series with its phases
    (:func:`sim.plots.portal_series`)."""

    summary: dict
    timeseries: list[dict]
    scenario: dict
    start_clock: str
    duration_s: float
    series: dict[str, dict]
    timeseries_columns: list[str] = field(default_factory=list)

    def files(self) -> dict[str, str]:
        return _files(self.summary, self.timeseries, self.timeseries_columns, self.scenario)


def run_plans(scenario: TrafficScenario, seed: int | None = None, plans: Sequence[str] | None = None,
              arrays=None, callback: Callback = None) -> TrafficResult:
    """Run the phase plans of a traffic scenario on the same trips (all plans by default);
    ``arrays``: compiled :class:`~sim.traffic.TrafficArrays` for this scenario and seed."""
    from .model import PlanComparison
    from .plots import portal_series

    study = PlanComparison(scenario, seed=seed, plans=list(plans) if plans else None, arrays=arrays)
    summary = study.run(callback=callback)
    return TrafficResult(
        summary=summary, timeseries=study.timeseries_rows(), scenario=scenario.to_dict(),
        start_clock=scenario.simulation.start_clock, duration_s=float(scenario.simulation.duration_s),
        series={name: portal_series(model) for name, model in study.models.items()},
        timeseries_columns=list(study.TIMESERIES_COLUMNS))


@dataclass(frozen=True)
class BikeResult:
    """A plan comparison of a bikes scenario: its summary and time series (as ``citytwin run``
    writes them), the stock of every pool over time per plan (:func:`sim.plots.pool_stock_series`)
    and where the pools are (metres, the map's projection), for the map."""

    summary: dict
    timeseries: list[dict]
    scenario: dict
    start_clock: str
    duration_s: float
    pool_names: tuple[str, ...]
    pool_xy_m: np.ndarray               # (pools, 2) position of each pool's exit
    pool_covered: tuple[bool, ...]      # pool under cover
    stock: dict[str, dict]              # plan -> {"minute", "stock" (samples, pools), "in_vans"}
    timeseries_columns: list[str] = field(default_factory=list)

    def files(self) -> dict[str, str]:
        return _files(self.summary, self.timeseries, self.timeseries_columns, self.scenario)


def run_bike_plans(scenario: BikeScenario, seed: int | None = None, plans: Sequence[str] | None = None,
                   arrays=None, callback: Callback = None) -> BikeResult:
    """Run the redistribution plans of a bikes scenario on the same evening (all plans by default);
    ``arrays``: the scenario compiled by :func:`sim.bikes.compile_bikes` with the same seed."""
    from .model import BikePlanComparison
    from .plots import pool_stock_series

    study = BikePlanComparison(scenario, seed=seed, plans=list(plans) if plans else None, arrays=arrays)
    summary = study.run(callback=callback)
    a = study.arrays
    net = a.walk.network
    pool_nodes = a.exit_nodes[a.pool_exit]
    return BikeResult(
        summary=summary, timeseries=study.timeseries_rows(), scenario=scenario.to_dict(),
        start_clock=scenario.simulation.start_clock, duration_s=float(scenario.simulation.duration_s),
        pool_names=tuple(a.pool_names),
        pool_xy_m=np.column_stack([net.node_x_m[pool_nodes], net.node_y_m[pool_nodes]]).astype(float),
        pool_covered=tuple(bool(scenario.pools[name].covered) for name in a.pool_names),
        stock={name: pool_stock_series(model) for name, model in study.models.items()},
        timeseries_columns=list(study.TIMESERIES_COLUMNS))


# ---------------------------------------------------------------------------------------------
# Verdicts in words.
# ---------------------------------------------------------------------------------------------

#: Level of service to stay out of -> the summary's seconds at that level or worse.
_AVOID_KEY = {"F": "seconds_at_los_f", "E": "seconds_at_los_e_or_worse"}


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 60 else f"{seconds / 60:.0f} min"


@dataclass(frozen=True)
class CapCheck:
    """One run of a cap comparison: the cap and the zones that reached the avoided level."""
    cap: int | None
    zones_over_s: dict[str, float]      # zone -> seconds at the avoided level or worse (> 0 only)

    @property
    def safe(self) -> bool:
        return not self.zones_over_s

    def describe(self) -> str:
        return ", ".join(f"{z} ({_duration(s)})" for z, s in self.zones_over_s.items())


@dataclass(frozen=True)
class CapVerdict:
    """The highest cap (of those run) that keeps every zone out of a level of service."""
    zone: str
    avoid: str                          # "F" or "E"
    checks: tuple[CapCheck, ...]        # ascending caps, uncapped last
    found: bool                         # some run kept every zone out
    safe_cap: int | None                # the highest such cap (None: uncapped, when found)
    text: str


def safe_cap(summaries: Sequence[dict], zone: str, avoid: str = "F") -> CapVerdict:
    """From crowd summaries of one scenario that differ in ``zone``'s cap: the highest cap whose run
    keeps every zone below LOS ``avoid`` (``"F"``, or ``"E"`` for E and F) all the time, in words.

    A zone's level is that of its densest cell, so "out of LOS F" means nowhere in the zone.  Only
    the caps that were run are judged; the text says which higher cap failed and where, and warns
    when a lower cap failed although a higher one passed (then the answer is not monotonic)."""
    if avoid not in _AVOID_KEY:
        raise ValueError(f"avoid must be 'F' or 'E', got {avoid!r}")
    if not summaries:
        raise ValueError("no runs to judge")
    key = _AVOID_KEY[avoid]
    checks = []
    for summary in summaries:
        if zone not in summary["zones"]:
            raise ValueError(f"zone {zone!r} is not in the summary (zones: {sorted(summary['zones'])!r})")
        over = {z: float(v[key]) for z, v in summary["zones"].items() if v[key] > 0}
        checks.append(CapCheck(summary["zones"][zone]["cap"], over))
    checks.sort(key=lambda c: (c.cap is None, c.cap or 0))
    level = "LOS F" if avoid == "F" else "LOS E or worse"
    safe = [c for c in checks if c.safe]
    if not safe:
        lowest = checks[0]
        setting = "uncapped" if lowest.cap is None else f"capped at {lowest.cap:,}"
        text = (f"No cap tried keeps every zone out of {level}: even with {zone} {setting}, "
                f"{lowest.describe()} {_reach(lowest)} {level}. Try lower caps.")
        return CapVerdict(zone, avoid, tuple(checks), False, None, text)
    best = safe[-1]
    if best.cap is None:
        text = f"Every zone stays out of {level} even with {zone} uncapped."
    else:
        text = f"The highest cap that keeps every zone out of {level} is {best.cap:,} on {zone}."
        higher = next(c for c in checks if c.cap is None or c.cap > best.cap) if best is not checks[-1] else None
        if higher is not None:
            setting = "Uncapped" if higher.cap is None else f"At {higher.cap:,}"
            text += f" {setting}, {higher.describe()} {_reach(higher)} {level}."
    lower_failed = [c for c in checks[: checks.index(best)] if not c.safe]
    if lower_failed:
        worst = lower_failed[0]
        text += (f" Caution: the lower {cap_label(worst.cap)} did not ({worst.describe()}), so the outcome "
                 f"is not monotonic in the cap; look at the gate queues.")
    return CapVerdict(zone, avoid, tuple(checks), True, best.cap, text)


def _reach(check: CapCheck) -> str:
    return "reaches" if len(check.zones_over_s) == 1 else "reach"


@dataclass(frozen=True)
class PlanVerdict:
    """The plans with the lowest mean wait per mode (ties: every tied plan, in plan order)."""
    best_bike: tuple[str, ...]
    best_motor: tuple[str, ...]
    text: str


def best_plans(summary: dict) -> PlanVerdict:
    """From a traffic comparison summary: the plan(s) with the lowest mean bicycle wait and the
    plan(s) with the lowest mean motor-vehicle wait, in words."""
    plans = summary["plans"]
    if not plans:
        raise ValueError("the summary holds no plans")
    best: dict[str, tuple[str, ...]] = {}
    parts = []
    for mode, words in (("bike", "bicycle"), ("motor", "motor-vehicle")):
        waits = {name: p["modes"][mode]["wait_s_mean"] for name, p in plans.items()
                 if p["modes"][mode]["departed"] > 0}
        if not waits:
            best[mode] = ()
            parts.append(f"No {words} trips started, so no {words} wait to compare.")
            continue
        low = min(waits.values())
        best[mode] = tuple(n for n, w in waits.items() if w == low)
        names = " and ".join(best[mode])
        parts.append(f"Lowest mean {words} wait: {names} ({low / 60:.1f} min).")
    if best["bike"] and best["bike"] == best["motor"] and len(plans) > 1:
        parts.append(f"{' and '.join(best['bike'])} is best for both modes.")
    return PlanVerdict(best["bike"], best["motor"], " ".join(parts))


@dataclass(frozen=True)
class BikeVerdict:
    """The redistribution plan with the fewest unmet pickups (ties broken by fewer empty-pool
    minutes, then fewer van-km, then plan order)."""
    best: str
    tied: tuple[str, ...]               # every plan with as few unmet pickups as ``best`` (itself included)
    unmet_pickups: int
    requests: int                       # pickups + unmet pickups (the same in every plan)
    unmet_share: float
    text: str


def _empty_total_min(plan: dict) -> float:
    return float(sum(plan["empty_pool_minutes"].values()))


def _and(names: Sequence[str]) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def fewest_unmet(summary: dict) -> BikeVerdict:
    """From a bikes comparison summary: the plan with the fewest unmet pickups and its unmet share,
    in words.  When several plans tie on unmet pickups, the one whose pools stand empty for the
    fewest minutes in all is named (then the fewest van-km, then the first in plan order), and the
    text says so; otherwise it names the plan with the most unmet pickups for contrast and the
    effort of the best plan (bikes moved, van-km)."""
    plans = summary["plans"]
    if not plans:
        raise ValueError("the summary holds no plans")
    order = list(plans)
    low = min(p["unmet_pickups"] for p in plans.values())
    tied = [n for n in order if plans[n]["unmet_pickups"] == low]
    best = min(tied, key=lambda n: (_empty_total_min(plans[n]), plans[n]["van_km"], order.index(n)))
    b = plans[best]
    requests = int(b["pickups"] + b["unmet_pickups"])
    text = (f"Fewest unmet pickups: {best} ({b['unmet_pickups']:,} of {requests:,} bike requests, "
            f"unmet share {100 * b['unmet_share']:.1f}%).")
    others = [n for n in tied if n != best]
    if others:
        verb = "ties" if len(others) == 1 else "tie"
        who = f"{'Plan' if len(others) == 1 else 'Plans'} {_and(others)}"
        empties = [_empty_total_min(plans[n]) for n in others]
        if min(empties) > _empty_total_min(b):
            spread = (f"{min(empties):.0f}" if max(empties) - min(empties) < 0.5
                      else f"{min(empties):.0f}-{max(empties):.0f}")
            text += (f" {who} {verb} with it on unmet pickups; {best} is named because its pools "
                     f"stand empty for the fewest minutes ({_empty_total_min(b):.0f} min in all, against {spread}).")
        elif min(plans[n]["van_km"] for n in others) > b["van_km"]:
            text += (f" {who} {verb} with it on unmet pickups and empty-pool minutes; {best} is named "
                     f"because it needs the fewest van-km ({b['van_km']:.1f}).")
        else:
            text += f" {who} {verb} with it on unmet pickups, empty-pool minutes and van-km."
    elif len(order) > 1:
        worst = max(order, key=lambda n: (plans[n]["unmet_pickups"], -order.index(n)))
        w = plans[worst]
        text += (f" The most unmet: {worst} ({w['unmet_pickups']:,}, {100 * w['unmet_share']:.1f}%). "
                 f"It moves {b['bikes_moved']:,} bikes over {b['van_km']:.1f} van-km.")
    return BikeVerdict(best, tuple(tied), int(low), requests, float(b["unmet_share"]), text)


# ---------------------------------------------------------------------------------------------
# Tables (rows of plain values, for a data frame).
# ---------------------------------------------------------------------------------------------

def _minutes(seconds: float | None, missing: str = "not within the run") -> str:
    return missing if seconds is None else f"{seconds / 60:.1f}"


def crowd_kpi_rows(summaries: Sequence[dict], labels: Sequence[str], zone: str) -> list[dict[str, Any]]:
    """The KPI table of a cap comparison: one row per KPI, one column per run (values as text,
    formatted for reading)."""
    rows: list[tuple[str, list[str]]] = []

    def add(name: str, values: Iterable[str]) -> None:
        rows.append((name, list(values)))

    zs = [s["zones"][zone] for s in summaries]
    add(f"cap on {zone}", ["none" if z["cap"] is None else f"{z['cap']:,}" for z in zs])
    add(f"peak on {zone} (people)", [f"{z['peak_occupancy']:,}" for z in zs])
    add(f"peak density on {zone}, densest cell (p/m2)", [f"{z['peak_density_ppm2']:.2f}" for z in zs])
    add(f"worst LOS on {zone}", [z["worst_los"] for z in zs])
    add(f"minutes at LOS E or worse on {zone}", [f"{z['seconds_at_los_e_or_worse'] / 60:.1f}" for z in zs])
    add(f"minutes at LOS F on {zone}", [f"{z['seconds_at_los_f'] / 60:.1f}" for z in zs])
    add("worst LOS in any zone", [LOS_NAMES[max(LOS_NAMES.index(v["worst_los"]) for v in s["zones"].values())]
                                  for s in summaries])
    for key, name in (("seconds_at_los_e_or_worse", "zones at LOS E or worse"), ("seconds_at_los_f", "zones at LOS F")):
        add(name, [", ".join(z for z, v in s["zones"].items() if v[key] > 0) or "none" for s in summaries])
    add("max gate queue (people)", [f"{s['max_gate_queue']:,}" for s in summaries])
    add("gate wait mean (min)", [f"{s['gate_wait_s_mean'] / 60:.1f}" for s in summaries])
    add("gate wait p95 (min)", [f"{s['gate_wait_s_p95'] / 60:.1f}" for s in summaries])
    add("went home from the gates (people)", [f"{s['balked_at_gates']:,}" for s in summaries])
    add("clearance after the show (min)", [_minutes(s["clearance_s"]) for s in summaries])
    add("people arrived", [f"{s['agents_entered']:,}" for s in summaries])
    return [{"KPI": name, **dict(zip(labels, values))} for name, values in rows]


def crowd_zone_rows(summaries: Sequence[dict], labels: Sequence[str]) -> list[dict[str, Any]]:
    """Every zone of every run (numbers): peak people and density, LOS, minutes at E and F, gates."""
    rows = []
    for label, s in zip(labels, summaries):
        for name, z in s["zones"].items():
            rows.append({"run": label, "zone": name, "peak people": z["peak_occupancy"],
                         "peak density (p/m2)": z["peak_density_ppm2"], "worst LOS": z["worst_los"],
                         "min at LOS E+": round(z["seconds_at_los_e_or_worse"] / 60, 1),
                         "min at LOS F": round(z["seconds_at_los_f"] / 60, 1),
                         "max gate queue": z["max_gate_queue"],
                         "gates closed (min)": round(z["gate_closed_s"] / 60, 1),
                         "clearance (min)": None if z["clearance_s"] is None else round(z["clearance_s"] / 60, 1)})
    return rows


def plan_mode_rows(summary: dict, mode: str) -> list[dict[str, Any]]:
    """One row per plan for one mode (``motor`` or ``bike``): throughput, waits, queues, tunnel share."""
    rows = []
    for name, plan in summary["plans"].items():
        m = plan["modes"][mode]
        row = {"plan": name, "trips": m["departed"],
               "through tunnel (per h)": m["throughput_per_h"],
               "wait mean (min)": round(m["wait_s_mean"] / 60, 2),
               "wait p95 (min)": round(m["wait_s_p95"] / 60, 2),
               "max queue (vehicles)": m["max_queue_vehicles"],
               "max queue (m)": m["max_queue_m"],
               "tunnel time share (%)": None if m["tunnel_utilisation"] is None
               else round(100 * m["tunnel_utilisation"], 1)}
        if mode == "bike":
            row["convoys"] = plan["convoys"]
            row["bikes per convoy"] = plan["bikes_per_convoy_mean"]
        rows.append(row)
    return rows


def bike_kpi_rows(summary: dict) -> list[dict[str, Any]]:
    """The KPI table of a bike plan comparison: one row per KPI, one column per plan (values as
    text, formatted for reading): pickups, unmet pickups and share, empty-pool minutes in all and
    per pool, bikes moved, van-km, mean extra walk, conservation."""
    plans = summary["plans"]
    names = list(plans)
    ps = [plans[n] for n in names]
    rows: list[tuple[str, list[str]]] = [
        ("pickups", [f"{p['pickups']:,}" for p in ps]),
        ("unmet pickups", [f"{p['unmet_pickups']:,}" for p in ps]),
        ("unmet share (%)", [f"{100 * p['unmet_share']:.1f}" for p in ps]),
        ("empty-pool minutes, all pools", [f"{_empty_total_min(p):.1f}" for p in ps]),
    ]
    for pool in ps[0]["empty_pool_minutes"]:
        rows.append((f"empty-pool minutes, {pool}", [f"{p['empty_pool_minutes'][pool]:.1f}" for p in ps]))
    rows += [
        ("bikes moved", [f"{p['bikes_moved']:,}" for p in ps]),
        ("van-km", [f"{p['van_km']:.1f}" for p in ps]),
        ("extra walk to another pool, mean (m)", [f"{p['extra_walk_m_mean']:.1f}" for p in ps]),
        ("returns (lost: pool full)", [f"{p['returns']:,} ({p['lost_returns']:,})" for p in ps]),
        ("bikes conserved", ["yes" if p["bikes_conserved"] else "NO" for p in ps]),
    ]
    return [{"KPI": name, **dict(zip(names, values))} for name, values in rows]


def bike_pool_rows(summary: dict) -> list[dict[str, Any]]:
    """Every pool of every plan (numbers): stock at start and end, pickups, unmet pickups, empty
    minutes, and the forecast the plans were made from."""
    rows = []
    for name, p in summary["plans"].items():
        for pool in p["empty_pool_minutes"]:
            rows.append({"plan": name, "pool": pool, "start stock": p["start_stock"][pool],
                         "end stock": p["end_stock"][pool], "pickups": p["pickups_by_pool"][pool],
                         "unmet pickups": p["unmet_pickups_by_pool"][pool],
                         "empty (min)": p["empty_pool_minutes"][pool],
                         "forecast pickups": summary["forecast_pickups"][pool],
                         "forecast returns": summary["forecast_returns"][pool]})
    return rows


def exit_share_rows(summary: dict) -> list[dict[str, Any]]:
    """Expected share of alighting passengers per exit (percent), dry and, when the scenario has
    rain, in its rain with the change in percentage points."""
    shares = summary["exit_shares"]
    wet = shares.get("rain")
    rain_col = f"rain {summary['rain_mm_per_h']:g} mm/h (%)"
    rows = []
    for exit_name, dry in shares["dry"].items():
        row: dict[str, Any] = {"exit": exit_name, "dry (%)": round(100 * dry, 1)}
        if wet:
            row[rain_col] = round(100 * wet[exit_name], 1)
            row["change (points)"] = round(100 * (wet[exit_name] - dry), 1)
        rows.append(row)
    return rows


# ---------------------------------------------------------------------------------------------
# Sweeps: a finished ``citytwin sweep`` folder's risk table (``risk.csv``, one row per grid cell),
# read with :func:`sim.sweep.load_sweep` and passed here as records (``DataFrame.to_dict("records")``).
# ---------------------------------------------------------------------------------------------

_CAP_KEY = re.compile(r"^zones\.([^.]+)\.cap$")


def _value(v: Any) -> float | None:
    """A number from a risk-table cell; ``None`` for an empty cell (NaN, ``None`` or ``""``)."""
    if v is None or v == "":
        return None
    v = float(v)
    return None if np.isnan(v) else v


def _cap_value(v: Any) -> int | None:
    """A cap as written in the table (``40000``, ``40000.0`` after pandas; empty: uncapped)."""
    v = _value(v)
    return None if v is None else int(round(v))


def sweep_grid_keys(columns: Sequence[str]) -> list[str]:
    """The grid keys of a risk table: its columns before ``runs_ok``."""
    columns = list(columns)
    if "runs_ok" not in columns:
        raise ValueError("not a sweep risk table (no runs_ok column)")
    return columns[: columns.index("runs_ok")]


def sweep_cap_key(grid_keys: Sequence[str]) -> str | None:
    """The first grid key that caps a zone (``zones.ZONE.cap``), or None."""
    return next((k for k in grid_keys if _CAP_KEY.match(k)), None)


def sweep_zones(columns: Sequence[str]) -> list[str]:
    """Zones with a peak density in a crowd risk table, in column order."""
    suffix = ".peak_density_ppm2.mean"
    return [c[: -len(suffix)] for c in columns if c.endswith(suffix)]


def sweep_kpis(zone: str) -> list[tuple[str, str, float]]:
    """The key KPIs shown for a sweep: ``(risk-table KPI, label, scale)``; the label's unit is the
    KPI times the scale (seconds shown in minutes)."""
    return [(f"{zone}.peak_density_ppm2", f"{zone} peak density (p/m2)", 1.0),
            ("gate_wait_s_p95", "gate wait p95 (min)", 1 / 60),
            ("clearance_s", "clearance (min)", 1 / 60)]


def _cell_label(row: dict, grid_keys: Sequence[str]) -> str:
    parts = []
    for k in grid_keys:
        if _CAP_KEY.match(k):
            parts.append(cap_label(_cap_value(row.get(k))))
        else:
            v = row.get(k)
            v = "none" if v is None or v == "" or (isinstance(v, float) and np.isnan(v)) else v
            parts.append(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}")
    return ", ".join(parts) or "(no grid)"


def sweep_risk_rows(risk: Sequence[dict], grid_keys: Sequence[str], zone: str) -> list[dict[str, Any]]:
    """One row per grid cell: ``cell`` (e.g. ``cap 40,000``), runs ok and failed, the probabilities
    that any zone reaches LOS F or a density above 4 p/m2 (share of the cell's ok runs), and mean,
    p5 and p95 across seeds of :func:`sweep_kpis` (``None`` where no run had a value, e.g. a
    clearance not reached within the runs).  Numbers, rounded for reading."""
    rows = []
    for r in risk:
        row: dict[str, Any] = {"cell": _cell_label(r, grid_keys), "runs ok": int(_value(r.get("runs_ok")) or 0),
                               "runs failed": int(_value(r.get("runs_failed")) or 0)}
        for name, column in (("P(any zone LOS F)", "p_any_zone_los_f"),
                             ("P(any zone > 4 p/m2)", "p_any_zone_density_gt_4")):
            p = _value(r.get(column))
            row[name] = None if p is None else round(p, 3)
        for kpi, label, scale in sweep_kpis(zone):
            for stat in ("mean", "p5", "p95"):
                v = _value(r.get(f"{kpi}.{stat}"))
                row[f"{label} {stat}"] = None if v is None else round(v * scale, 2)
        rows.append(row)
    return rows


@dataclass(frozen=True)
class SweepCapVerdict:
    """The highest cap of a sweep whose probability that any zone reaches LOS F is at most ``max_risk``."""
    zone: str
    max_risk: float
    p_by_cap: tuple[tuple[int | None, float, int], ...]   # (cap, probability, ok runs), ascending, uncapped last
    found: bool
    safe_cap: int | None                                   # None: uncapped (when found)
    text: str


def _pct(p: float) -> str:
    return f"{100 * p:.3g}%"


def _runs(p: float, runs: int) -> str:
    return f"{round(p * runs)} of {runs} runs"


def sweep_safe_cap(risk: Sequence[dict], grid_keys: Sequence[str], max_risk: float = 0.05) -> SweepCapVerdict:
    """From a sweep's risk table (records, one per grid cell) with a ``zones.ZONE.cap`` grid key: the
    highest cap whose probability that any zone reaches LOS F (``p_any_zone_los_f``, share of the
    cell's seeds) is at most ``max_risk``, in words.

    Uncapped counts as the highest cap.  With other grid keys too, a cap is judged by its worst cell
    (the highest probability over the other grid values).  Cells without an ok run are not judged."""
    if not 0.0 <= max_risk <= 1.0:
        raise ValueError(f"max_risk must be a probability between 0 and 1, got {max_risk!r}")
    key = sweep_cap_key(grid_keys)
    if key is None:
        raise ValueError(f"the sweep's grid ({', '.join(grid_keys) or 'none'}) has no zones.ZONE.cap key")
    zone = _CAP_KEY.match(key).group(1)
    worst: dict[int | None, tuple[float, int]] = {}
    for r in risk:
        p, runs = _value(r.get("p_any_zone_los_f")), int(_value(r.get("runs_ok")) or 0)
        if p is None or runs == 0:
            continue
        cap = _cap_value(r.get(key))
        if cap not in worst or p > worst[cap][0]:
            worst[cap] = (p, runs)
    if not worst:
        raise ValueError("no grid cell of the sweep has an ok run with a LOS F probability")
    caps = sorted(worst, key=lambda c: (c is None, c or 0))
    checks = tuple((c, *worst[c]) for c in caps)
    what, limit = "the probability that any zone reaches LOS F", _pct(max_risk)
    safe = [c for c in caps if worst[c][0] <= max_risk + 1e-9]
    note = " (each cap judged by its worst cell over the other grid values)" if len(grid_keys) > 1 else ""
    if not safe:
        cap, (p, runs) = caps[0], worst[caps[0]]
        setting = "uncapped" if cap is None else f"at {cap:,}"
        text = (f"None of the caps keeps {what} at or below {limit}{note}: even with {zone} {setting} it is "
                f"{_pct(p)} ({_runs(p, runs)}). Try lower caps.")
        return SweepCapVerdict(zone, max_risk, checks, False, None, text)
    best = safe[-1]
    k = caps.index(best)
    p, runs = worst[best]
    if best is None:
        text = f"Even with {zone} uncapped, {what} stays at or below {limit}{note}: {_pct(p)} ({_runs(p, runs)})."
    else:
        text = (f"The highest cap that keeps {what} at or below {limit} is {best:,} on {zone}{note}: "
                f"{_pct(p)} ({_runs(p, runs)}).")
        if k + 1 < len(caps):
            higher = caps[k + 1]
            hp, hruns = worst[higher]
            setting = "Uncapped" if higher is None else f"At {higher:,}"
            text += f" {setting} it is {_pct(hp)} ({_runs(hp, hruns)})."
    lower_failed = [c for c in caps[:k] if worst[c][0] > max_risk + 1e-9]
    if lower_failed:
        c = lower_failed[0]
        text += (f" Caution: the lower {cap_label(c)} exceeds it ({_pct(worst[c][0])}), so the risk is not "
                 f"monotonic in the cap; look at the gate queues.")
    return SweepCapVerdict(zone, max_risk, checks, True, best, text)
