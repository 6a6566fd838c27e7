"""Judging the twin: replay a hidden truth into it (in one process) and score its warnings and
forecasts.

* :func:`track` runs a :class:`~sim.live.replay.Truth` and a :class:`~sim.live.twin.LiveTwin` side by
  side, minute by minute, keeping the truth's zone series and every forecast the twin issues.
* :func:`crps_ensemble`: the continuous ranked probability score of a weighted ensemble,
  ``E|X - y| - E|X - X'| / 2`` (Gneiting & Raftery 2007), in the forecast's unit; for a single
  value it is the absolute error.
* :func:`trend_forecast`: the naive forecast the twin must beat, persistence of the last trend of
  the counts (the last count plus its change over the last ``window_s``, carried on; at most the
  zone's cap when given).
* :func:`score_warning`: lead time of the first cap warning before the truth reaches the cap, or
  whether a warning was a false alarm.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..crowd.schema import CrowdScenario
from .forecast import Forecast
from .replay import Truth, TruthSpec
from .twin import LiveTwin

__all__ = ["crps_ensemble", "trend_forecast", "score_warning", "WarningScore", "Tracked", "track",
           "first_time", "BackgroundTrack"]


def crps_ensemble(values, weights, y: float) -> float:
    """CRPS of a weighted ensemble ``values`` for the outcome ``y`` (Gneiting & Raftery 2007, the
    energy form); lower is better, 0 for a sharp and right forecast."""
    x = np.asarray(values, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    w = w / w.sum()
    first = float(w @ np.abs(x - y))
    second = float(w @ np.abs(x[:, None] - x[None, :]) @ w)
    return first - 0.5 * second


def trend_forecast(times_s: np.ndarray, values: np.ndarray, t_s: float, lead_s: float,
                   window_s: float = 300.0, upper: float | None = None) -> float | None:
    """Persistence of the last trend: the count at ``t_s`` plus its change over the last
    ``window_s`` scaled to ``lead_s``, not below 0 nor above ``upper`` (a zone's cap: its gates
    close there, which a naive forecaster knows too); None without both counts."""
    times_s = np.asarray(times_s, dtype=np.float64)
    now = np.flatnonzero(np.abs(times_s - t_s) < 0.5)
    then = np.flatnonzero(np.abs(times_s - (t_s - window_s)) < 0.5)
    if now.size == 0 or then.size == 0:
        return None
    y1, y0 = float(values[now[-1]]), float(values[then[-1]])
    y = max(0.0, y1 + (y1 - y0) * lead_s / window_s)
    return y if upper is None else min(y, float(upper))


def first_time(times_s: np.ndarray, flags: np.ndarray) -> float | None:
    """The first time a flag is set (None: never)."""
    hit = np.flatnonzero(np.asarray(flags, dtype=bool))
    return float(times_s[hit[0]]) if hit.size else None


@dataclass
class WarningScore:
    """How the cap warning did against one truth."""

    truth_full_s: float | None          # when the truth reached its cap (None: never)
    first_warning_s: float | None       # the first cap warning (before the truth's cap, if it reached it)
    lead_time_s: float | None           # truth_full_s - first_warning_s (None: not warned before)
    warned_10min: bool
    false_alarm: bool


def score_warning(alerts: list[dict], zone: str, truth_full_s: float | None, min_lead_s: float = 600.0,
                  event: str = "cap") -> WarningScore:
    """Score the first ``event`` warning raised for ``zone`` (as-is forecasts) against the truth."""
    raised = sorted(a["issued_s"] for a in alerts if a["zone"] == zone and a["event"] == event
                    and a["status"] == "raised" and a.get("measure", "none") == "none")
    if truth_full_s is None:
        first = raised[0] if raised else None
        return WarningScore(None, first, None, False, bool(raised))
    before = [t for t in raised if t <= truth_full_s]
    if not before:
        return WarningScore(truth_full_s, None, None, False, False)
    lead = truth_full_s - before[0]
    return WarningScore(truth_full_s, before[0], lead, lead >= min_lead_s, False)


@dataclass
class Tracked:
    """A truth and the twin that followed it."""

    twin: LiveTwin
    truth: Truth
    t_s: np.ndarray                                   # truth minutes (s)
    occupancy: np.ndarray                             # (minutes, zones)
    max_density: np.ndarray
    full: np.ndarray                                  # bool (minutes, zones)
    los_e: np.ndarray
    los_f: np.ndarray
    records: list = field(default_factory=list)       # every record the feed sent
    forecasts: list[Forecast] = field(default_factory=list)

    @property
    def zone_names(self) -> tuple[str, ...]:
        return self.truth.arrays.zone_names

    def truth_at(self, zone: str, t_s: float) -> float | None:
        """The truth's occupancy of ``zone`` at ``t_s`` (None: not run that far)."""
        k = np.flatnonzero(np.abs(self.t_s - t_s) < 0.5)
        return float(self.occupancy[k[0], self.zone_names.index(zone)]) if k.size else None

    def full_time(self, zone: str) -> float | None:
        return first_time(self.t_s, self.full[:, self.zone_names.index(zone)])


def track(scenario: CrowdScenario, spec: TruthSpec, *, until_s: float | None = None,
          out_dir: str | Path | None = None, workers: int = 1, keep_forecasts: bool = True,
          feed_filter=None) -> Tracked:
    """Replay the truth ``spec`` of ``scenario`` into a live twin of ``scenario`` until ``until_s``
    (default: the end of the night); ``feed_filter(records) -> records`` may alter the feed (tests)."""
    truth = Truth(scenario, spec)
    forecasts: list[Forecast] = []
    twin = LiveTwin(scenario, out_dir, workers=workers,
                    on_forecast=forecasts.append if keep_forecasts else None)
    rows = {k: [] for k in ("t_s", "occupancy", "max_density", "full", "los_e", "los_f")}
    sent = []
    try:
        for frame in truth.frames(until_s):
            records = frame.records if feed_filter is None else feed_filter(frame.records)
            for rec in records:
                twin.offer(rec)
            sent.extend(records)
            for key in rows:
                rows[key].append(getattr(frame, key))
        twin.finish()
    finally:
        if twin.outputs is not None:
            twin.outputs.close()
    arrays = {k: np.array(v) for k, v in rows.items()}
    return Tracked(twin=twin, truth=truth, records=sent, forecasts=forecasts, **arrays)


class BackgroundTrack:
    """:func:`track` in a daemon thread (the app's replay demo): ``running``, ``error`` and, when done,
    ``result``."""

    def __init__(self, scenario: CrowdScenario, spec: TruthSpec, out_dir: str | Path, until_s: float | None = None):
        import threading

        self.result: Tracked | None = None
        self.error: BaseException | None = None
        self.out_dir = Path(out_dir)

        def work() -> None:
            try:
                self.result = track(scenario, spec, until_s=until_s, out_dir=out_dir, keep_forecasts=False)
            except BaseException as exc:          # reported by the caller, never lost in the thread
                self.error = exc

        self.thread = threading.Thread(target=work, name="citytwin-replay", daemon=True)
        self.thread.start()

    @property
    def running(self) -> bool:
        return self.thread.is_alive()
