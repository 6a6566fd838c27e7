"""Verdicts in words, drawn from finished runs: what one run per cap showed (the highest cap whose run
kept every zone out of a level of service: an observation on one seed, not a verdict), the best
tunnel plan per mode, the bike plan with the fewest unmet pickups, and the highest cap a sweep shows
within a risk (by an exact binomial bound, :mod:`sim.study.stats`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .tables import _CAP_KEY, _cap_value, _empty_total_min, _value, sweep_cap_key
from .upload import cap_label

__all__ = ["CapCheck", "CapVerdict", "safe_cap", "PlanVerdict", "best_plans", "BikeVerdict", "fewest_unmet",
           "SweepCapVerdict", "sweep_safe_cap"]


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
                f"{lowest.describe()} {_reach(lowest)} {level} (one run per cap: what can happen, not a verdict; "
                f"the advice over seeds says which cap is safe with what risk).")
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


@dataclass(frozen=True)
class SweepCapVerdict:
    """The highest cap of a sweep whose probability of an unsafe night is *shown* below ``max_risk``:
    its one-sided 95% upper Clopper-Pearson bound (:mod:`sim.study.stats`) is under it."""
    zone: str
    max_risk: float
    p_by_cap: tuple[tuple[int | None, float, int], ...]   # (cap, probability, ok runs), ascending, uncapped last
    found: bool
    safe_cap: int | None                                   # None: uncapped (when found)
    text: str
    upper_by_cap: tuple[tuple[int | None, float], ...] = ()  # (cap, one-sided 95% upper bound)


def _pct(p: float) -> str:
    return f"{100 * p:.3g}%"


def _runs(p: float, runs: int) -> str:
    return f"{round(p * runs)} of {runs} runs"


def sweep_safe_cap(risk: Sequence[dict], grid_keys: Sequence[str], max_risk: float = 0.05) -> SweepCapVerdict:
    """From a sweep's risk table (records, one per grid cell) with a ``zones.ZONE.cap`` grid key: the
    highest cap whose probability of an unsafe night (``p_unsafe``: share of the cell's seeds that
    fail the scenario's ``[safety]`` criterion) is shown below ``max_risk`` with 95% confidence (the
    one-sided upper Clopper-Pearson bound on it is below ``max_risk``; ``max_risk = 1`` allows every
    cap), in words, with the runs behind it.

    Uncapped counts as the highest cap.  With other grid keys too, a cap is judged by its worst cell
    (the most unsafe runs over the other grid values).  Cells without an ok run are not judged.  The
    text never advises a direction the runs do not support: it says how many runs a cap without an
    unsafe run would need, and where a lower cap did worse than a higher one."""
    from .stats import cp_upper, runs_needed

    if not 0.0 <= max_risk <= 1.0:
        raise ValueError(f"max_risk must be a probability between 0 and 1, got {max_risk!r}")
    key = sweep_cap_key(grid_keys)
    if key is None:
        raise ValueError(f"the sweep's grid ({', '.join(grid_keys) or 'none'}) has no zones.ZONE.cap key")
    zone = _CAP_KEY.match(key).group(1)
    worst: dict[int | None, tuple[float, int]] = {}
    for r in risk:
        p, runs = _value(r.get("p_unsafe")), int(_value(r.get("runs_ok")) or 0)
        if p is None or runs == 0:
            continue
        cap = _cap_value(r.get(key))
        if cap not in worst or cp_upper(round(p * runs), runs) > cp_upper(round(worst[cap][0] * worst[cap][1]),
                                                                          worst[cap][1]):
            worst[cap] = (p, runs)
    if not worst:
        raise ValueError("no grid cell of the sweep has an ok run with a probability of an unsafe night (p_unsafe)")
    caps = sorted(worst, key=lambda c: (c is None, c or 0))
    checks = tuple((c, *worst[c]) for c in caps)
    upper = {c: cp_upper(round(worst[c][0] * worst[c][1]), worst[c][1]) for c in caps}
    bounds = tuple((c, round(upper[c], 6)) for c in caps)
    limit = _pct(max_risk)
    what = "the probability of an unsafe night"

    def passes(c) -> bool:
        return max_risk >= 1.0 or upper[c] < max_risk

    def said(c) -> str:
        p, runs = worst[c]
        return f"{_runs(p, runs)} unsafe, upper bound {_pct(upper[c])}"

    note = " (each cap judged by its worst cell over the other grid values)" if len(grid_keys) > 1 else ""
    safe = [c for c in caps if passes(c)]
    if not safe:
        best = min(caps, key=lambda c: (upper[c], c is None, c or 0))
        setting = "uncapped" if best is None else f"at {best:,}"
        text = (f"No cap of this sweep is shown to keep {what} below {limit} (one-sided 95% Clopper-Pearson "
                f"bound){note}; the least risky is {zone} {setting}: {said(best)}.")
        clean = [c for c in caps if round(worst[c][0] * worst[c][1]) == 0]
        if clean and 0 < max_risk < 1:
            c = max(clean, key=lambda c: (c is None, c or 0))
            text += (f" {cap_label(c).capitalize()} had no unsafe run, but {worst[c][1]} run(s) cannot show less "
                     f"than {_pct(upper[c])}: {runs_needed(max_risk)} runs without an unsafe one are needed "
                     f"(more seeds, or citytwin advise).")
        return SweepCapVerdict(zone, max_risk, checks, False, None, text, bounds)
    best = safe[-1]
    k = caps.index(best)
    if best is None:
        text = f"Even with {zone} uncapped, {what} is shown below {limit}{note}: {said(best)}."
    else:
        text = f"The highest cap shown to keep {what} below {limit} is {best:,} on {zone}{note}: {said(best)}."
        if k + 1 < len(caps):
            higher = caps[k + 1]
            setting = "Uncapped" if higher is None else f"At {higher:,}"
            text += f" {setting}: {said(higher)}."
    lower_failed = [c for c in caps[:k] if not passes(c) and worst[c][0] > worst[best][0]]
    if lower_failed:
        c = lower_failed[0]
        text += (f" Caution: the lower {cap_label(c)} did worse ({said(c)}), so the risk is not monotonic in "
                 f"the cap: lowering it is not safer by itself.")
    return SweepCapVerdict(zone, max_risk, checks, True, best, text, bounds)
