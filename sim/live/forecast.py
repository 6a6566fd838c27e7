"""Forecasts: every member runs ahead from now (a copy, so the ensemble itself is untouched), with
or without a measure taken; the runs become fans, probabilities and expected times per zone.

Per zone and member the forecast keeps, once a simulated minute, the occupancy, the densest cell
(everyone on it, p/m2) and the walkers' densest ground; and, at every step, when the zone first
reaches its cap (``[live] full_fraction`` of it: admissions stop at the room left, so a full zone's
count hovers just under its cap) and when its walkers first reach Fruin's walkway LOS E and F
(thresholds of the member's weather).  Member runs are independent: with ``workers > 1`` they run
in forked worker processes (the members' state is inherited, not sent; only the small results come
back), with the same seeds, so the forecast does not depend on the number of workers.
"""

from __future__ import annotations

import math
import multiprocessing
from dataclasses import dataclass

import numpy as np

from ..crowd.compile import NO_CAP
from ..crowd.state import copy_model
from .ensemble import weighted_quantile
from .measures import Measure

__all__ = ["MemberRun", "Forecast", "run_forecast", "FULL_FRACTION", "forecast_rows", "FORECAST_COLUMNS",
           "zone_risk"]

#: A zone counts as having reached its cap at this share of it (the gate admits only the room left,
#: so a full zone's count stays a few people under its cap).
FULL_FRACTION = 0.995


@dataclass
class MemberRun:
    """One member's run ahead (``n`` minutes recorded, first row = now)."""

    occupancy: np.ndarray          # (minutes + 1, zones) people
    max_density: np.ndarray        # (minutes + 1, zones) densest cell, everyone, p/m2
    max_walk: np.ndarray           # (minutes + 1, zones) walkers' densest ground, p/m2
    t_full_s: np.ndarray           # (zones,) seconds from now to reaching the cap (inf: not within the run)
    t_los_e_s: np.ndarray          # (zones,) ... to walkway LOS E somewhere in the zone
    t_los_f_s: np.ndarray          # (zones,) ... to walkway LOS F
    cell_peak_walk: np.ndarray     # (cells,) float32 peak walkers' density over the run
    cell_walk_now: np.ndarray      # (cells,) float32 walkers' density now
    applied: bool                  # the measure applied at this time


class _NoRecord:
    """Stands in for a forecast copy's per-step recorder."""

    def record(self, engine) -> None:
        pass


def _run_member(model, seed: int, steps: int, measure: Measure | None) -> MemberRun:
    m = copy_model(model, np.random.default_rng(seed))
    m.recorder = _NoRecord()            # a forecast keeps its own series; the run's KPIs are not needed
    engine = m.engine
    applied = True if measure is None else bool(measure.apply(m))
    arrays = engine.arrays
    dt = arrays.dt_s
    steps = max(0, min(steps, m.n_steps - engine.step_index))
    per_min = max(1, int(round(60.0 / dt)))
    n_rows = steps // per_min + 1
    z = len(arrays.zone_names)
    occ = np.zeros((n_rows, z), dtype=np.int64)
    dens = np.zeros((n_rows, z))
    walk = np.zeros((n_rows, z))
    full_at = np.where(arrays.zone_cap < NO_CAP, np.ceil(FULL_FRACTION * arrays.zone_cap), np.inf)
    t_full = np.full(z, np.inf)
    t_e = np.full(z, np.inf)
    t_f = np.full(z, np.inf)
    cell_now = engine.cells.walk_density.astype(np.float32)
    cell_peak = cell_now.copy()

    def look(k: int) -> None:
        t = k * dt
        hit = engine.zone_occupancy >= full_at
        if hit.any():
            t_full[hit & np.isinf(t_full)] = t
        wd = engine.zones.max_walk_density
        p = engine.arrays.params
        hit = wd > p.walk_e_ppm2
        if hit.any():
            t_e[hit & np.isinf(t_e)] = t
            hit = wd > p.walk_f_ppm2
            if hit.any():
                t_f[hit & np.isinf(t_f)] = t

    look(0)
    occ[0], dens[0], walk[0] = engine.zone_occupancy, engine.zone_max_density, engine.zones.max_walk_density
    for k in range(1, steps + 1):
        m.step()
        look(k)
        np.maximum(cell_peak, engine.cells.walk_density, out=cell_peak, casting="unsafe")
        if k % per_min == 0:
            r = k // per_min
            occ[r], dens[r], walk[r] = engine.zone_occupancy, engine.zone_max_density, engine.zones.max_walk_density
    return MemberRun(occ, dens, walk, t_full, t_e, t_f, cell_peak, cell_now, applied)


_WORKER_MODELS: list = []


def _init_worker(models: list) -> None:
    _WORKER_MODELS[:] = models          # inherited through fork, not pickled


def _job(args) -> MemberRun:
    index, seed, steps, measure = args
    return _run_member(_WORKER_MODELS[index], seed, steps, measure)


@dataclass
class Forecast:
    """An ensemble forecast issued at ``t_s`` over ``horizon_s``, with ``measure`` taken (None: as is)."""

    t_s: float
    horizon_s: float
    measure: Measure | None
    weights: np.ndarray
    runs: list[MemberRun]
    zone_names: tuple[str, ...]
    zone_cap: np.ndarray

    @property
    def name(self) -> str:
        return "none" if self.measure is None else self.measure.name

    @property
    def label(self) -> str:
        return "as is" if self.measure is None else self.measure.label

    @property
    def applied(self) -> bool:
        return all(r.applied for r in self.runs)

    def stack(self, what: str) -> np.ndarray:
        """(members, minutes + 1, zones) of ``occupancy``, ``max_density`` or ``max_walk`` (members
        whose run stopped at the end of the night are padded with their last row)."""
        n = max(getattr(r, what).shape[0] for r in self.runs)
        out = []
        for r in self.runs:
            a = getattr(r, what)
            if a.shape[0] < n:
                a = np.concatenate([a, np.repeat(a[-1:], n - a.shape[0], axis=0)])
            out.append(a)
        return np.stack(out)

    def probability(self, event: str, within_s: float) -> np.ndarray:
        """P(event within ``within_s``) per zone; ``event`` is ``full``, ``los_e`` or ``los_f`` (NaN
        beyond the horizon; NaN for ``full`` of a zone without a cap)."""
        t = np.stack([getattr(r, f"t_{event}_s") for r in self.runs])
        p = self.weights @ (t <= within_s + 1e-9)
        if within_s > self.horizon_s + 1e-9:
            p = np.full(p.shape, np.nan)
        if event == "full":
            p = np.where(self.zone_cap < NO_CAP, p, np.nan)
        return p

    def expected_time_s(self, event: str, within_s: float | None = None) -> np.ndarray:
        """Expected time from now to the event per zone, over the members that reach it within
        ``within_s`` (default: the horizon); NaN where none does."""
        within = self.horizon_s if within_s is None else within_s
        t = np.stack([getattr(r, f"t_{event}_s") for r in self.runs])
        hit = t <= within + 1e-9
        w = self.weights[:, None] * hit
        mass = w.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(mass > 0, (w * np.where(hit, t, 0.0)).sum(axis=0) / np.where(mass > 0, mass, 1), np.nan)


def run_forecast(models: list, weights: np.ndarray, seeds: list[int], horizon_s: float, dt_s: float,
                 measure: Measure | None = None, workers: int = 1) -> Forecast:
    """Run every model in ``models`` ahead ``horizon_s`` (each a copy, seeded by ``seeds``) with
    ``measure`` taken now; on ``workers`` forked processes when more than one."""
    steps = int(round(horizon_s / dt_s))
    jobs = [(k, seeds[k], steps, measure) for k in range(len(models))]
    if workers > 1 and len(jobs) > 1 and "fork" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(min(workers, len(jobs)), initializer=_init_worker, initargs=(models,)) as pool:
            runs = pool.map(_job, jobs, chunksize=1)
    else:
        runs = [_run_member(models[k], seed, n, m) for k, seed, n, m in jobs]
    a = models[0].engine.arrays
    w = np.asarray(weights, dtype=np.float64)
    return Forecast(t_s=models[0].engine.t_s, horizon_s=horizon_s, measure=measure, weights=w / w.sum(), runs=runs,
                    zone_names=a.zone_names, zone_cap=a.zone_cap.copy())


FORECAST_COLUMNS = ["issued_s", "measure", "measure_label", "applied", "zone", "lead_min", "t_s",
                    "occupancy_p5", "occupancy_p50", "occupancy_p95", "max_density_p5_ppm2", "max_density_p50_ppm2",
                    "max_density_p95_ppm2", "cap", "p_cap_10min", "p_cap_20min", "p_cap_30min",
                    "expected_time_to_cap_s", "p_los_e", "p_los_f", "horizon_s", "members"]


def _r(x: float, nd: int = 4):
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x), nd)


def zone_risk(fc: Forecast, within_s: float) -> dict[str, dict[str, float]]:
    """Per zone: P(cap), P(LOS E), P(LOS F) within ``within_s`` and the expected times to them."""
    out = {}
    p_full = fc.probability("full", within_s)
    p_e, p_f = fc.probability("los_e", within_s), fc.probability("los_f", within_s)
    t_full = fc.expected_time_s("full", within_s)
    t_e, t_f = fc.expected_time_s("los_e", within_s), fc.expected_time_s("los_f", within_s)
    for z, name in enumerate(fc.zone_names):
        out[name] = {"cap": float(p_full[z]), "los_e": float(p_e[z]), "los_f": float(p_f[z]),
                     "time_cap_s": float(t_full[z]), "time_los_e_s": float(t_e[z]), "time_los_f_s": float(t_f[z])}
    return out


def forecast_rows(fc: Forecast) -> list[dict]:
    """``forecast.csv`` rows of a forecast: per zone and minute ahead the occupancy and densest-cell
    fans (p5, median, p95), with the zone's probabilities and expected time to its cap."""
    occ, dens = fc.stack("occupancy"), fc.stack("max_density")
    qs = [0.05, 0.5, 0.95]
    q_occ = weighted_quantile(occ, fc.weights, qs)          # (3, minutes, zones)
    q_den = weighted_quantile(dens, fc.weights, qs)
    p10, p20, p30 = (fc.probability("full", s) for s in (600.0, 1200.0, 1800.0))
    t_cap = fc.expected_time_s("full")
    p_e, p_f = fc.probability("los_e", fc.horizon_s), fc.probability("los_f", fc.horizon_s)
    rows = []
    for z, zone in enumerate(fc.zone_names):
        cap = int(fc.zone_cap[z]) if fc.zone_cap[z] < NO_CAP else ""
        for k in range(occ.shape[1]):
            rows.append({
                "issued_s": round(fc.t_s, 1), "measure": fc.name, "measure_label": fc.label,
                "applied": int(fc.applied), "zone": zone, "lead_min": k, "t_s": round(fc.t_s + 60.0 * k, 1),
                "occupancy_p5": _r(q_occ[0, k, z], 1), "occupancy_p50": _r(q_occ[1, k, z], 1),
                "occupancy_p95": _r(q_occ[2, k, z], 1), "max_density_p5_ppm2": _r(q_den[0, k, z]),
                "max_density_p50_ppm2": _r(q_den[1, k, z]), "max_density_p95_ppm2": _r(q_den[2, k, z]),
                "cap": cap, "p_cap_10min": _r(p10[z]), "p_cap_20min": _r(p20[z]), "p_cap_30min": _r(p30[z]),
                "expected_time_to_cap_s": _r(t_cap[z], 1), "p_los_e": _r(p_e[z]), "p_los_f": _r(p_f[z]),
                "horizon_s": round(fc.horizon_s, 1), "members": len(fc.runs)})
    return rows
