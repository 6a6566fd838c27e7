"""The live twin: reads a feed of counts, keeps an ensemble of crowd runs consistent with them,
and writes forecasts and warnings as it goes.

The twin's clock follows the feed: a cycle (``[live] assimilate_every_s``) is assimilated when a
record of a later time arrives (or the feed ends), so records of one time may arrive in any order.
Each cycle the members run to its end and are weighed, resampled, jittered and corrected
(:mod:`sim.live.ensemble`); every ``forecast_every_s`` they run ahead ``horizon_s``
(:mod:`sim.live.forecast`), warnings are raised or cleared, and every ``whatif_every_s`` each measure
is forecast from the same state (:mod:`sim.live.measures`).

Files in the output folder (each row written whole, appended as the night goes on):

* ``forecast.csv``: per forecast, measure (``none``: as is), zone and minute ahead: occupancy and
  densest cell (p5, median, p95), P(cap within 10/20/30 min), expected time to the cap, P(walkway
  LOS E / F somewhere in the zone within the horizon).
* ``alerts.csv``: warnings raised and cleared, with the probability, the threshold and the lead
  time (the expected time from the warning to the event).
* ``observations.csv``: every record used, with the twin's band (p5, median, p95 before the update).
* ``cycles.csv``: per cycle: records used, effective sample size, resampling, parameters (demand
  overall, its 5-95% range and each source's weighted mean multiplier in ``demand:SOURCE``, speed,
  rain), occupancy corrections booked as flows, sensors the twin runs without, wall time.
* ``skipped.csv``: records skipped and why (also logged).
* ``cells.csv`` (replaced at each forecast): each cell's walkers' density now and its forecast peak,
  with their levels of service, for the map.
* ``status.json`` (replaced each cycle), ``scenario.json`` (the scenario as followed) and
  ``provenance.json``.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from ..core.errors import OutputError, ScenarioError
from ..core.results import provenance, provenance_json
from ..crowd.compile import compile_crowd
from ..crowd.fundamental import LOS_NAMES
from ..crowd.schema import CrowdScenario
from .ensemble import CycleReport, Ensemble, systematic_resample, weighted_quantile
from .feed import END, BadLine, Record
from .forecast import FORECAST_COLUMNS, Forecast, forecast_rows, run_forecast, zone_risk
from .measures import select_measures
from .sensors import RecordCheck, compile_sensors

__all__ = ["LiveTwin", "LiveOutputs", "draw_members", "LOG", "OUTPUT_FILES", "ALERT_COLUMNS", "OBSERVATION_COLUMNS", "CYCLE_COLUMNS"]

LOG = logging.getLogger("citytwin.live")

ALERT_COLUMNS = ["issued_s", "zone", "event", "status", "probability", "threshold", "window_s",
                 "lead_time_s", "measure", "message"]
OBSERVATION_COLUMNS = ["t_s", "sensor", "kind", "value", "twin_p5", "twin_p50", "twin_p95"]
CYCLE_COLUMNS = ["t_s", "records_used", "ess", "resampled", "distinct_members", "demand_mean", "demand_p5",
                 "demand_p95", "speed_mean", "rain_mm_per_h_mean", "rain_gauge_mm_per_h", "corrected_zones",
                 "moved_in", "moved_out", "running_without", "wall_s"]
SKIPPED_COLUMNS = ["where", "t_s", "sensor", "value", "reason"]
CELL_COLUMNS = ["issued_s", "cell", "zone", "walk_density_now_ppm2", "los_now", "peak_walk_density_forecast_ppm2",
                "los_forecast"]
OUTPUT_FILES = ("forecast.csv", "alerts.csv", "observations.csv", "cycles.csv", "skipped.csv", "cells.csv",
                "status.json", "provenance.json", "scenario.json")
_EVENTS = (("cap", "full", "cap_warn_probability", "its cap"), ("los_e", "los_e", "los_e_warn_probability",
           "walkway LOS E somewhere"), ("los_f", "los_f", "los_f_warn_probability", "walkway LOS F somewhere"))


def draw_members(weights: np.ndarray, k: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``k`` members drawn by weight (evenly spaced systematic draws), each once with its share:
    (indices, weights); all of them, with their weights, when ``k`` covers them.  How a forecast with
    ``[live] forecast_members`` and the what-ifs pick their members."""
    if k >= weights.size:
        return np.arange(weights.size), weights / weights.sum()
    drawn = systematic_resample(weights / weights.sum(), rng)
    drawn = drawn[np.linspace(0, weights.size - 1, k).round().astype(int)]
    pick, counts = np.unique(drawn, return_counts=True)
    return pick, counts / counts.sum()


class LiveOutputs:
    """The twin's output folder: checked before anything runs (a folder, writable, holding nothing but
    an earlier twin's files, which are replaced); CSV rows appended whole and flushed; JSON files
    replaced atomically."""

    @staticmethod
    def check(out_dir: str | Path) -> Path:
        """Refuse a folder that cannot be the twin's (nothing is written)."""
        out = Path(out_dir)
        if out.exists() and not out.is_dir():
            raise OutputError(f"--out: {str(out)!r} is a file, not a folder")
        if out.exists():
            foreign = sorted(p.name for p in out.iterdir() if p.name not in OUTPUT_FILES)
            if foreign:
                raise OutputError(f"--out: {str(out)!r} holds files that are not a live twin's "
                                  f"({', '.join(foreign[:5])}); choose an empty or new folder")
        return out

    def __init__(self, out_dir: str | Path):
        out = self.check(out_dir)
        try:
            out.mkdir(parents=True, exist_ok=True)
            probe = out / ".citytwin-write-test"
            probe.write_text("")
            probe.unlink()
        except OSError as exc:
            raise OutputError(f"--out: cannot write into {str(out)!r} ({exc.strerror or exc})") from None
        for name in OUTPUT_FILES:
            (out / name).unlink(missing_ok=True)
        self.dir = out
        self._writers: dict[str, tuple] = {}

    def append(self, name: str, columns: list[str], rows: Iterable[dict]) -> None:
        rows = list(rows)
        if name not in self._writers:
            handle = (self.dir / name).open("w", newline="", encoding="utf-8")
            writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
            writer.writeheader()
            self._writers[name] = (handle, writer)
        handle, writer = self._writers[name]
        writer.writerows(rows)
        handle.flush()

    def replace(self, name: str, text: str) -> None:
        tmp = self.dir / f".{name}.tmp"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, self.dir / name)

    def close(self) -> None:
        for handle, _ in self._writers.values():
            handle.close()
        self._writers.clear()


def _clean(obj):
    """Plain JSON data: NaN and infinities as null, NumPy numbers as Python numbers."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    return obj


def _num(x, nd: int = 4):
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return None
    return round(float(x), nd)


class LiveTwin:
    """A live twin of a crowd scenario with ``[sensors]`` (see the module docstring).

    ``offer`` one feed item at a time (a :class:`~sim.live.feed.Record`, a
    :class:`~sim.live.feed.BadLine` or :data:`~sim.live.feed.END`), or ``run`` a whole feed.
    ``on_forecast(forecast)`` is called with every forecast (as is and each what-if), e.g. to score
    it.  ``workers`` > 1 runs the forecasts' member runs in forked processes."""

    def __init__(self, scenario: CrowdScenario, out_dir: str | Path | None = None, *, workers: int = 1,
                 on_forecast: Callable[[Forecast], None] | None = None, command: list[str] | None = None,
                 overrides: list[str] | None = None):
        if getattr(scenario, "kind", None) != "crowd":
            raise ScenarioError(getattr(scenario, "source_path", "<scenario>"),
                                [f"kind: the live twin follows crowd scenarios, not {scenario.kind!r}"])
        if out_dir is not None:
            LiveOutputs.check(out_dir)
        live = scenario.live
        dt = scenario.simulation.dt_s
        problems = []
        if live.warn_within_s > live.horizon_s:
            problems.append(f"live.warn_within_s: {live.warn_within_s!r} must be <= live.horizon_s "
                            f"({live.horizon_s!r}): the warnings read the forecast")
        for key in ("assimilate_every_s", "forecast_every_s", "whatif_every_s"):
            value = getattr(live, key)
            if abs(value / live.assimilate_every_s - round(value / live.assimilate_every_s)) > 1e-9 \
                    or abs(value / dt - round(value / dt)) > 1e-9:
                problems.append(f"live.{key}: {value!r} must be a multiple of the time step ({dt!r} s) and of "
                                f"live.assimilate_every_s ({live.assimilate_every_s!r})")
        if problems:
            raise ScenarioError(scenario.source_path, problems)
        self.measures = select_measures(scenario)
        arrays = compile_crowd(scenario)             # every map check, before any output
        self.scenario, self.arrays, self.live = scenario, arrays, live
        self.sensors = compile_sensors(scenario, arrays)
        self.cycle_columns = CYCLE_COLUMNS + [f"demand:{name}" for name in arrays.source_names]
        self.outputs = LiveOutputs(out_dir) if out_dir is not None else None
        self.workers = max(1, int(workers))
        self.on_forecast = on_forecast
        self.duration_s = scenario.simulation.duration_s
        history = max([s.period_s for s in self.sensors.values()] + [0.0]) + live.assimilate_every_s + 2 * dt
        self.ensemble = Ensemble(scenario, arrays, self.sensors, history)
        self.check = RecordCheck(self.sensors, self.duration_s)
        self.cycle_s = live.assimilate_every_s
        self.assimilated_until_s = -1.0
        self.next_cycle_s = self.cycle_s
        self.next_forecast_s = live.forecast_every_s
        self.next_whatif_s = live.whatif_every_s
        self.pending: list[Record] = []
        self.alert_on: dict[tuple[str, str], bool] = {}
        self.alerts: list[dict] = []
        self.skipped: list[dict] = []
        self.silent: dict[str, float] = {}
        self.last_cycle: CycleReport | None = None
        self.last_forecast: Forecast | None = None
        self.last_risk: dict = {}
        self.whatif_risk: dict = {}
        self.forecasts_issued = 0
        self.cycles_done = 0
        self.records_used = 0
        self.ended = False
        self._forecast_rng = np.random.default_rng(np.random.SeedSequence([live.seed, 16]))
        self._status: dict = {}
        self._update_status()
        if self.outputs is not None:
            block = provenance(scenario, live.seed, overrides=overrides or [])
            self.outputs.replace("provenance.json", provenance_json(block, command=command))
            self.outputs.replace("scenario.json", json.dumps(scenario.to_dict(), indent=2) + "\n")
            self.outputs.replace("status.json", json.dumps(self._status, indent=2) + "\n")
        LOG.info("live twin of %s: %d members, %d sensors (%s), cycle %g s, forecast every %g s over %g s, "
                 "%d what-if measure(s)", scenario.name, len(self.ensemble.members), len(self.sensors),
                 ", ".join(self.sensors) or "none", self.cycle_s, live.forecast_every_s, live.horizon_s,
                 len(self.measures))

    # -- the feed --------------------------------------------------------------------------------
    def run(self, feed: Iterable) -> dict:
        """Follow a whole feed (until :data:`END`); returns the final status."""
        try:
            for item in feed:
                self.offer(item)
                if self.ended:
                    break
            if not self.ended:
                self.finish()
        finally:
            if self.outputs is not None:
                self.outputs.close()
        return self.status()

    def offer(self, item) -> None:
        """Take one feed item: assimilate the cycles it closes, or log and skip it."""
        if self.ended:
            return
        if item is END:
            self.finish()
            return
        if isinstance(item, BadLine):
            self._skip(item.where, None, None, None, f"not a record: {item.reason} ({item.text!r})")
            return
        reason = self.check.check(item, self.assimilated_until_s)
        if reason is not None:
            self._skip(item.where, item.t_s, item.sensor, item.value, reason)
            return
        gap = self.check.gap_before(item)
        if gap is not None:
            LOG.warning("sensor %s: no record from t=%g s to t=%g s (a gap); using it again", item.sensor, *gap)
        while item.t_s > self.next_cycle_s and self.next_cycle_s <= self.duration_s:
            self._cycle()
        self.pending.append(item)

    def finish(self) -> None:
        """The feed has ended: assimilate what is pending (the cycle of the last record)."""
        if self.ended:
            return
        last = max((r.t_s for r in self.pending), default=None)
        if last is not None:
            while self.next_cycle_s - self.cycle_s < last and self.next_cycle_s <= self.duration_s:
                self._cycle()
        self.ended = True
        self._update_status()
        self._write_status()
        LOG.info("feed ended at t=%g s: %d cycles, %d records used, %d skipped, %d forecasts, %d alerts",
                 self.assimilated_until_s, self.cycles_done, self.records_used, len(self.skipped),
                 self.forecasts_issued, len(self.alerts))

    def _skip(self, where, t_s, sensor, value, reason: str) -> None:
        row = {"where": where, "t_s": t_s, "sensor": sensor, "value": value, "reason": reason}
        self.skipped.append(row)
        LOG.warning("skipped record%s: %s", f" ({where})" if where else "", reason)
        if self.outputs is not None:
            self.outputs.append("skipped.csv", SKIPPED_COLUMNS, [row])

    # -- one cycle -------------------------------------------------------------------------------
    def _cycle(self) -> None:
        start = time.perf_counter()
        t_end = min(self.next_cycle_s, self.duration_s)
        records = [r for r in self.pending if r.t_s <= t_end]
        self.pending = [r for r in self.pending if r.t_s > t_end]
        ens = self.ensemble
        ens.advance(t_end)
        report = ens.assimilate(records)
        rain_records = [r for r in records if self.sensors[r.sensor].kind == "rain"]
        self.records_used += report.used + len(rain_records)
        gauges = [n for n, s in self.sensors.items() if s.kind == "rain"]
        silent = self.check.silent(t_end)
        if rain_records:
            ens.force_rain(max(rain_records, key=lambda r: r.t_s).value)
        elif gauges and all(g in silent for g in gauges):
            ens.force_rain(None)
        self._note_silent(silent, t_end)
        self.assimilated_until_s = t_end
        self.next_cycle_s += self.cycle_s
        self.cycles_done += 1
        self.last_cycle = report
        if t_end + 1e-9 >= self.next_forecast_s and t_end < self.duration_s:
            self._forecast(t_end)
            self.next_forecast_s += self.live.forecast_every_s
        wall = time.perf_counter() - start
        self._write_cycle(report, silent, wall)
        self._update_status()
        self._write_status()

    def _note_silent(self, silent: dict[str, float], t_s: float) -> None:
        for name, since in silent.items():
            if name not in self.silent:
                LOG.warning("running without sensor %s: no record since t=%g s (now t=%g s)", name, since, t_s)
        for name in self.silent:
            if name not in silent:
                LOG.warning("sensor %s reports again (t=%g s)", name, t_s)
        self.silent = dict(silent)

    def _write_cycle(self, report: CycleReport, silent: dict[str, float], wall: float) -> None:
        if self.outputs is None:
            return
        self.outputs.append("observations.csv", OBSERVATION_COLUMNS, [
            {"t_s": rec.t_s, "sensor": rec.sensor, "kind": self.sensors[rec.sensor].kind, "value": rec.value,
             "twin_p5": round(lo, 1), "twin_p50": round(mid, 1), "twin_p95": round(hi, 1)}
            for rec, lo, mid, hi in report.bands])
        p = self.ensemble.parameter_summary()
        by_source = dict(zip(self.arrays.source_names, self.ensemble.source_multipliers()))
        corr = report.corrections
        self.outputs.append("cycles.csv", self.cycle_columns, [{
            **{f"demand:{name}": round(float(v), 4) for name, v in by_source.items()},
            "t_s": report.t_s, "records_used": report.used, "ess": round(report.ess_before, 2),
            "resampled": int(report.resampled), "distinct_members": report.unique_after,
            "demand_mean": round(p["demand_mean"], 4), "demand_p5": round(p["demand_p5"], 4),
            "demand_p95": round(p["demand_p95"], 4), "speed_mean": round(p["speed_mean"], 4),
            "rain_mm_per_h_mean": round(p["rain_mm_per_h_mean"], 3),
            "rain_gauge_mm_per_h": "" if report.rain_forced is None else report.rain_forced,
            "corrected_zones": ";".join(corr), "moved_in": sum(c["moved_in"] for c in corr.values()),
            "moved_out": sum(c["moved_out"] for c in corr.values()),
            "running_without": ";".join(sorted(silent)), "wall_s": round(wall, 3)}])

    # -- forecasts and warnings -----------------------------------------------------------------
    def _draw(self, weights: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        return draw_members(weights, k, self._forecast_rng)

    def _forecast(self, t_s: float) -> None:
        ens, live = self.ensemble, self.live
        horizon = min(live.horizon_s, self.duration_s - t_s)
        if horizon <= 0:
            return
        within = min(live.warn_within_s, horizon)
        n_forecast = live.forecast_members or len(ens.members)
        pick, w = self._draw(ens.weights, n_forecast)
        models = [ens.members[i].model for i in pick]
        seeds = [int(s) for s in self._forecast_rng.integers(0, 2**31 - 1, len(models))]
        fc = run_forecast(models, w, seeds, horizon, self.arrays.dt_s, None, self.workers)
        fc.horizon_s = live.horizon_s if horizon >= live.horizon_s else horizon
        self.last_forecast = fc
        self.forecasts_issued += 1
        self.last_risk = zone_risk(fc, within)
        self._warn(fc, t_s)
        rows = forecast_rows(fc)
        if self.on_forecast is not None:
            self.on_forecast(fc)
        whatifs = []
        if self.measures and live.whatif_members > 0 and t_s + 1e-9 >= self.next_whatif_s:
            while self.next_whatif_s <= t_s + 1e-9:
                self.next_whatif_s += live.whatif_every_s
            sub, weights = self._draw(w, live.whatif_members)     # members of the forecast, so "as is" is theirs
            base = Forecast(t_s=fc.t_s, horizon_s=fc.horizon_s, measure=None, weights=weights,
                            runs=[fc.runs[i] for i in sub], zone_names=fc.zone_names, zone_cap=fc.zone_cap)
            self.whatif_risk = {"members": int(sub.size), "as_is": zone_risk(base, within), "measures": {}}
            for measure in self.measures:
                wf = run_forecast([models[i] for i in sub], weights, [seeds[i] for i in sub], horizon,
                                  self.arrays.dt_s, measure, self.workers)
                wf.horizon_s = fc.horizon_s
                whatifs.append(wf)
                self.whatif_risk["measures"][measure.name] = {
                    "label": measure.label, "applied": wf.applied, "zones": zone_risk(wf, within)}
                if self.on_forecast is not None:
                    self.on_forecast(wf)
        if self.outputs is not None:
            self.outputs.append("forecast.csv", FORECAST_COLUMNS, rows)
            for wf in whatifs:
                self.outputs.append("forecast.csv", FORECAST_COLUMNS, forecast_rows(wf))
            self.outputs.replace("cells.csv", self._cells_csv(fc))

    def _warn(self, fc: Forecast, t_s: float) -> None:
        live = self.live
        within = min(live.warn_within_s, fc.horizon_s)
        rows = []
        for event, key, setting, words in _EVENTS:
            threshold = getattr(live, setting)
            p = fc.probability(key, within)
            lead = fc.expected_time_s(key, within)
            for z, zone in enumerate(fc.zone_names):
                if not math.isfinite(p[z]):
                    continue
                on = self.alert_on.get((zone, event), False)
                status = None
                if not on and p[z] >= threshold:
                    status = "raised"
                elif on and p[z] < live.clear_fraction * threshold:
                    status = "cleared"
                if status is None:
                    continue
                self.alert_on[(zone, event)] = status == "raised"
                lead_s = lead[z] if status == "raised" and math.isfinite(lead[z]) else None
                when = f"; expected in {lead_s / 60:.0f} min" if lead_s is not None else ""
                row = {"issued_s": round(t_s, 1), "zone": zone, "event": event, "status": status,
                       "probability": round(float(p[z]), 4), "threshold": threshold, "window_s": within,
                       "lead_time_s": "" if lead_s is None else round(lead_s, 1), "measure": "none",
                       "message": f"{zone}: P({words} within {within / 60:.0f} min) = {p[z]:.2f} "
                                  f"{'>=' if status == 'raised' else '<'} "
                                  f"{threshold if status == 'raised' else live.clear_fraction * threshold:.2f}{when}"}
                rows.append(row)
                LOG.warning("warning %s at t=%g s: %s", status, t_s, row["message"])
        self.alerts.extend(rows)
        if rows and self.outputs is not None:
            self.outputs.append("alerts.csv", ALERT_COLUMNS, rows)

    def _cells_csv(self, fc: Forecast) -> str:
        w = fc.weights
        now = np.stack([r.cell_walk_now for r in fc.runs]).astype(np.float64)
        peak = np.stack([r.cell_peak_walk for r in fc.runs]).astype(np.float64)
        q_now = weighted_quantile(now, w, [0.5])[0]
        q_peak = weighted_quantile(peak, w, [0.5])[0]
        thresholds = self.ensemble.members[0].model.engine.arrays.los_thresholds_ppm2
        los_now = np.searchsorted(thresholds, q_now, side="left")
        los_peak = np.searchsorted(thresholds, q_peak, side="left")
        names = self.arrays.zone_names
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=CELL_COLUMNS)
        writer.writeheader()
        for c in range(q_now.size):
            z = int(self.arrays.cell_zone[c])
            writer.writerow({"issued_s": round(fc.t_s, 1), "cell": c, "zone": names[z] if z >= 0 else "",
                             "walk_density_now_ppm2": round(q_now[c], 4), "los_now": LOS_NAMES[los_now[c]],
                             "peak_walk_density_forecast_ppm2": round(q_peak[c], 4),
                             "los_forecast": LOS_NAMES[los_peak[c]]})
        return buf.getvalue()

    # -- status ----------------------------------------------------------------------------------
    def _update_status(self) -> None:
        ens = self.ensemble
        cycle = self.last_cycle
        risk = {zone: {k: _num(v) for k, v in r.items()} for zone, r in self.last_risk.items()}
        whatif = _clean(self.whatif_risk)
        self._status = _clean({
            "scenario": self.scenario.name, "scenario_path": self.scenario.source_path,
            "t_s": max(self.assimilated_until_s, 0.0), "ended": self.ended,
            "members": len(ens.members), "cycles": self.cycles_done, "records_used": self.records_used,
            "records_skipped": len(self.skipped),
            "sensors": sorted(self.sensors),
            "running_without": [{"sensor": n, "silent_since_s": s} for n, s in sorted(self.silent.items())],
            "last_cycle": None if cycle is None else {
                "t_s": cycle.t_s, "records_used": cycle.used, "ess": round(cycle.ess_before, 2),
                "resampled": cycle.resampled, "corrections": cycle.corrections},
            "parameters": {k: round(v, 4) for k, v in ens.parameter_summary().items()},
            "demand_by_source": {name: round(float(v), 4)
                                 for name, v in zip(self.arrays.source_names, ens.source_multipliers())},
            "last_forecast_s": None if self.last_forecast is None else self.last_forecast.t_s,
            "risk": risk,
            "active_alerts": sorted(f"{zone}:{event}" for (zone, event), on in self.alert_on.items() if on),
            "alerts": len(self.alerts), "whatif": whatif,
            "los_thresholds_ppm2": [float(x) for x in ens.members[0].model.engine.arrays.los_thresholds_ppm2],
            "zones": list(self.arrays.zone_names),
            "caps": {z: int(c) for z, c in zip(self.arrays.zone_names, self.arrays.zone_cap) if c < 2**62},
        })

    def _write_status(self) -> None:
        if self.outputs is not None:
            self.outputs.replace("status.json", json.dumps(self._status, indent=2, allow_nan=False) + "\n")

    def status(self) -> dict:
        """The twin's status now (safe to call from another thread: a snapshot made each cycle)."""
        return self._status

