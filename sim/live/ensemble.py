"""The ensemble: twins of one night with uncertain demand, rain and walking speed, kept consistent
with the counts as they arrive.

**Method.** A bootstrap particle filter (Gordon, Salmond & Smith 1993) over the parameters, with
the whole crowd state of each member carried along, as Malleson et al. (2020) do for an agent-based
crowd model, plus an ensemble Kalman update of the counted zones' occupancy:

1. *Forecast step.*  Every member runs the crowd model to the end of the cycle (one simulated minute
   by default), with its own random stream.  A rain gauge's latest record sets every member's rain
   (a forcing); while no gauge reports, each member's rain drifts (a random walk).
2. *Weights.*  Each count record of the cycle (zone occupancy, cordon and source counts) is compared
   with what the member's run would have read at that time (:class:`~sim.live.sensors.Tracker`); the
   likelihood is Gaussian with the sensor's error and a model error added in quadrature.
3. *Resampling.*  When the effective sample size falls below a share of the members, members are
   drawn by weight with systematic resampling (Kitagawa 1996; the lowest variance of the common
   schemes, Douc, Cappe & Moulines 2005) and copied whole (:func:`sim.crowd.state.copy_model`).
4. *Parameter jitter.*  After resampling, parameters (log demand multiplier overall and per source,
   log walking-speed multiplier, rain while no gauge reports) are moved by Liu & West's (2001) kernel
   shrinkage: ``theta' = a theta + (1 - a) mean + N(0, (1 - a^2) V)``, which keeps the ensemble's
   mean and variance while restoring diversity (a regularised particle filter, Musso, Oudjane &
   Le Gland 2001), plus Gordon et al.'s (1993) roughening, independent noise of ``roughen`` times
   each parameter's prior sd, so that the ensemble does not collapse and can follow a demand
   outside the range it holds.  A change of demand rescales the arrivals still to come
   (:func:`sim.crowd.state.rescale_future_demand`).
5. *Occupancy correction.*  The occupancy of each counted zone is then moved toward its count by the
   stochastic ensemble Kalman filter update with perturbed observations (Burgers, van Leeuwen &
   Evensen 1998; Evensen 2003): ``x' = x + K (y + e - x)``, ``K = P / (P + R)`` with the ensemble's
   variance ``P`` and the sensor's error variance ``R``, and the move booked as flows
   (:func:`sim.crowd.state.move_people`), so everyone stays accounted for.

Why this pair: demand, rain and speed act on the whole night through a strongly nonlinear model
(gates, queues, capacities), where a particle filter needs no linearity; their dimension is small
(about seven), within what a few tens of particles can weigh.  The occupancy of a counted zone is
observed directly and nearly linearly, where a Kalman update is efficient and keeps the state close
to the counts without waiting for resampling.  Random streams: the filter's own (resampling, jitter,
perturbed observations) and each member's are separate ``numpy.random.Generator`` streams spawned
from ``[live] seed``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..crowd.compile import NO_CAP, CrowdArrays
from ..crowd.model import CrowdModel
from ..crowd.schema import CrowdScenario
from ..crowd.state import copy_model, move_people, rain_of, rescale_future_demand, scale_walking_speed, set_rain
from .feed import Record
from .sensors import COUNT_KINDS, Sensor, Tracker

__all__ = ["Params", "Member", "Ensemble", "CycleReport", "systematic_resample", "weighted_quantile",
           "effective_sample_size"]


def systematic_resample(weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Indices drawn by weight with systematic resampling (Kitagawa 1996): one uniform draw, ``n``
    evenly spaced points on the cumulative weights."""
    n = weights.size
    positions = (rng.random() + np.arange(n)) / n
    cum = np.cumsum(weights)
    cum[-1] = 1.0
    return np.minimum(np.searchsorted(cum, positions, side="right"), n - 1)


def effective_sample_size(weights: np.ndarray) -> float:
    """1 / sum(w^2) of normalised weights (Kong, Liu & Wong 1994)."""
    return float(1.0 / np.sum(weights ** 2))


def weighted_quantile(values: np.ndarray, weights: np.ndarray, qs) -> np.ndarray:
    """Quantiles of ``values`` (first axis: members) under ``weights``: the inverse of the weighted
    empirical distribution, interpolated between the midpoints of the members' weights."""
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(values, axis=0, kind="stable")
    v = np.take_along_axis(values, order, axis=0)
    w = weights[order] if values.ndim == 1 else np.take_along_axis(
        np.broadcast_to(weights.reshape((-1,) + (1,) * (values.ndim - 1)), values.shape), order, axis=0)
    cum = np.cumsum(w, axis=0) - 0.5 * w
    cum /= np.sum(w, axis=0)
    qs = np.atleast_1d(np.asarray(qs, dtype=np.float64))
    if values.ndim == 1:
        return np.interp(qs, cum, v)
    flat_v = v.reshape(v.shape[0], -1)
    flat_c = cum.reshape(cum.shape[0], -1)
    out = np.empty((qs.size, flat_v.shape[1]))
    for j in range(flat_v.shape[1]):
        out[:, j] = np.interp(qs, flat_c[:, j], flat_v[:, j])
    return out.reshape((qs.size,) + values.shape[1:])


@dataclass
class Params:
    """One member's uncertain parameters (as applied to its run)."""

    log_demand: float                 # all sources
    log_source: np.ndarray            # each source, around the overall multiplier
    log_speed: float                  # free walking speeds
    rain_mm_per_h: float

    def demand_factors(self) -> np.ndarray:
        return np.exp(self.log_demand + self.log_source)

    def vector(self, with_rain: bool) -> np.ndarray:
        v = [self.log_demand, *self.log_source, self.log_speed]
        return np.array(v + [self.rain_mm_per_h] if with_rain else v, dtype=np.float64)

    def copy(self) -> "Params":
        return Params(self.log_demand, self.log_source.copy(), self.log_speed, self.rain_mm_per_h)


@dataclass
class Member:
    """One twin: a crowd model, the tracker behind its sensor readings, its parameters."""

    model: CrowdModel
    tracker: Tracker
    params: Params

    def copy(self, rng: np.random.Generator) -> "Member":
        return Member(copy_model(self.model, rng), self.tracker.copy(), self.params.copy())

    def apply(self, new: Params, rng: np.random.Generator) -> None:
        """Move the run to parameters ``new`` (demand still to come, walking speed, rain)."""
        engine = self.model.engine
        old = self.params
        ratio = np.exp((new.log_demand - old.log_demand) + (new.log_source - old.log_source))
        if np.any(np.abs(ratio - 1.0) > 1e-9):
            rescale_future_demand(engine, ratio, rng)
        if new.log_speed != old.log_speed:
            scale_walking_speed(engine, math.exp(new.log_speed - old.log_speed))
        if new.rain_mm_per_h != old.rain_mm_per_h:
            set_rain(engine, new.rain_mm_per_h)
        self.params = new


@dataclass
class CycleReport:
    """What one assimilation cycle did."""

    t_s: float
    used: int                                     # count records weighed
    ess_before: float                             # effective sample size after weighing
    resampled: bool
    unique_after: int                             # distinct members after resampling
    bands: list[tuple[Record, float, float, float]] = field(default_factory=list)   # record, p5, p50, p95 before
    corrections: dict[str, dict] = field(default_factory=dict)   # zone -> what was moved
    rain_forced: float | None = None


class Ensemble:
    """The members and their weights; :meth:`advance` runs them, :meth:`assimilate` weighs,
    resamples, jitters and corrects them (see the module docstring)."""

    def __init__(self, scenario: CrowdScenario, arrays: CrowdArrays, sensors: dict[str, Sensor],
                 history_s: float, n_members: int | None = None, start=None):
        """``n_members`` (default ``[live] members``) twins, each built with its own seed from
        ``[live] seed``, or, with ``start`` (a crowd model already run to some time), copies of it;
        every member then draws its parameters from the prior."""
        live = scenario.live
        self.scenario, self.arrays, self.sensors = scenario, arrays, sensors
        self.live = live
        n = n_members or live.members
        seq = np.random.SeedSequence([live.seed, 15])
        filter_seq, member_seq = seq.spawn(2)
        self.rng = np.random.default_rng(filter_seq)
        self._member_seeds = member_seq
        self.n_sources = len(arrays.source_names)
        self.members: list[Member] = []
        for k in range(n):
            member_rng = np.random.default_rng(member_seq.spawn(1)[0])
            seed = int(member_rng.integers(2**31 - 1))
            if start is None:
                model = CrowdModel(scenario, seed=seed, arrays=arrays)
            else:
                model = copy_model(start, np.random.default_rng(seed))
            as_built = Params(0.0, np.zeros(self.n_sources), 0.0, rain_of(model.engine))
            member = Member(model, Tracker(model.engine, history_s), as_built)
            prior = Params(float(self.rng.normal(0.0, live.demand_sd)),
                           self.rng.normal(0.0, live.source_sd, self.n_sources),
                           float(self.rng.normal(0.0, live.speed_sd)), as_built.rain_mm_per_h)
            member.apply(prior, member_rng)
            self.members.append(member)
        self.log_w = np.zeros(n)
        self.gauge_rain: float | None = None

    # -- running ---------------------------------------------------------------------------------
    @property
    def t_s(self) -> float:
        return self.members[0].model.engine.t_s

    @property
    def weights(self) -> np.ndarray:
        w = np.exp(self.log_w - self.log_w.max())
        return w / w.sum()

    def advance(self, t_s: float) -> None:
        """Run every member to ``t_s`` (or the end of the night), booking each step."""
        for m in self.members:
            model, engine = m.model, m.model.engine
            steps = min(int(round(t_s / engine.arrays.dt_s)), model.n_steps)
            while engine.step_index < steps:
                model.step()
                m.tracker.record(engine)

    def force_rain(self, mm_per_h: float | None) -> None:
        """The gauge's intensity for every member (None: no gauge reports; each member's rain drifts)."""
        self.gauge_rain = mm_per_h
        for m in self.members:
            new = m.params.copy()
            if mm_per_h is None:
                if self.live.rain_sd_mm_per_h > 0:
                    new.rain_mm_per_h = max(0.0, new.rain_mm_per_h + float(self.rng.normal(0, self.live.rain_sd_mm_per_h)))
            else:
                new.rain_mm_per_h = float(mm_per_h)
            m.apply(new, m.model.rng)

    # -- assimilation ------------------------------------------------------------------------------
    def predicted(self, sensor: Sensor, t_s: float) -> np.ndarray:
        """Each member's reading of ``sensor`` at ``t_s`` (NaN where its history does not reach)."""
        out = np.full(len(self.members), np.nan)
        for k, m in enumerate(self.members):
            v = m.tracker.value(sensor, t_s)
            if v is not None:
                out[k] = v
        return out

    def assimilate(self, records: list[Record]) -> CycleReport:
        """Weigh the members by the cycle's count records, resample and jitter if the weights have
        degenerated, then correct the counted zones' occupancy (latest count at the cycle's end)."""
        live = self.live
        t = self.t_s
        loglik = np.zeros(len(self.members))
        bands = []
        used = 0
        w0 = self.weights
        for rec in records:
            sensor = self.sensors[rec.sensor]
            if sensor.kind not in COUNT_KINDS:
                continue
            pred = self.predicted(sensor, rec.t_s)
            ok = np.isfinite(pred)
            if not ok.any():
                continue
            q = weighted_quantile(pred[ok], w0[ok] / w0[ok].sum(), [0.05, 0.5, 0.95])
            bands.append((rec, float(q[0]), float(q[1]), float(q[2])))
            sd = sensor.error_sd(rec.value, live.model_error_frac)
            loglik[ok] += -0.5 * ((pred[ok] - rec.value) / sd) ** 2
            used += 1
        self.log_w += loglik
        self.log_w -= self.log_w.max()
        w = self.weights
        ess = effective_sample_size(w)
        report = CycleReport(t_s=t, used=used, ess_before=ess, resampled=False, unique_after=len(self.members),
                             bands=bands, rain_forced=self.gauge_rain)
        if used and ess < live.resample_ess_fraction * len(self.members):
            self._resample_and_jitter(w)
            report.resampled = True
            report.unique_after = len({id(m.model) for m in self.members})
        report.unique_after = int(report.unique_after)
        report.corrections = self._correct(records, t)
        return report

    def _resample_and_jitter(self, w: np.ndarray) -> None:
        live = self.live
        with_rain = self.gauge_rain is None
        theta = np.array([m.params.vector(with_rain) for m in self.members])
        mean = w @ theta
        dev = theta - mean
        cov = (w[:, None] * dev).T @ dev
        idx = systematic_resample(w, self.rng)
        counts = np.bincount(idx, minlength=len(self.members))
        new_members: list[Member] = []
        for k, c in enumerate(counts):
            for j in range(c):
                # The first copy keeps the member itself; the others are independent copies.
                new_members.append(self.members[k] if j == 0 else
                                   self.members[k].copy(np.random.default_rng(self._member_seeds.spawn(1)[0])))
        a = live.shrink
        h2 = 1.0 - a * a
        rough = live.roughen * np.array([live.demand_sd] + [live.source_sd] * self.n_sources + [live.speed_sd]
                                        + ([live.rain_sd_mm_per_h] if with_rain else []))
        chol = np.linalg.cholesky(h2 * cov + np.diag(rough ** 2) + 1e-12 * np.eye(cov.shape[0]))
        for m in new_members:
            old = m.params.vector(with_rain)
            new = a * old + (1 - a) * mean + chol @ self.rng.standard_normal(old.size)
            p = Params(float(new[0]), new[1:1 + self.n_sources].copy(), float(new[1 + self.n_sources]),
                       max(0.0, float(new[-1])) if with_rain else m.params.rain_mm_per_h)
            m.apply(p, m.model.rng)
        self.members = new_members
        self.log_w = np.zeros(len(self.members))

    def _correct(self, records: list[Record], t_s: float) -> dict[str, dict]:
        """Ensemble Kalman update of each counted zone's occupancy toward its count at ``t_s``,
        booked as flows in every member."""
        out = {}
        latest: dict[int, Record] = {}
        for rec in records:
            sensor = self.sensors[rec.sensor]
            if sensor.kind == "zone_occupancy" and abs(rec.t_s - t_s) < 0.5 * self.arrays.dt_s:
                latest[sensor.zone] = rec
        w = self.weights
        for z, rec in latest.items():
            sensor = self.sensors[rec.sensor]
            x = np.array([m.model.engine.zone_occupancy[z] for m in self.members], dtype=np.float64)
            mean = float(w @ x)
            p = float(w @ (x - mean) ** 2)
            r = sensor.error_sd(rec.value, 0.0) ** 2
            gain = p / (p + r) if p + r > 0 else 0.0
            cap = int(self.arrays.zone_cap[z])
            moved_in = moved_out = 0
            deltas = []
            for m, xi in zip(self.members, x):
                target = xi + gain * (rec.value + self.rng.normal(0.0, math.sqrt(r)) - xi)
                if cap < NO_CAP:
                    target = min(target, cap)
                delta = int(round(max(target, 0.0) - xi))
                moved = move_people(m.model.engine, z, delta, m.model.rng) if delta else None
                if moved is not None:
                    m.tracker.corrected(m.model.engine, moved)
                    moved_in += moved.from_walkers + moved.from_sources + moved.from_future
                    moved_out += moved.to_sources + moved.to_exits
                    deltas.append(moved.moved)
                else:
                    deltas.append(0)
            out[self.arrays.zone_names[z]] = {
                "count": rec.value, "mean_before": mean, "gain": gain, "mean_moved": float(w @ np.array(deltas)),
                "moved_in": moved_in, "moved_out": moved_out}
        return out

    # -- summaries -------------------------------------------------------------------------------
    def parameter_summary(self) -> dict[str, float]:
        """Weighted mean and 5-95% range of the overall demand multiplier, the speed multiplier and rain."""
        w = self.weights
        demand = np.array([math.exp(m.params.log_demand + float(np.mean(m.params.log_source)))
                           for m in self.members])
        speed = np.array([math.exp(m.params.log_speed) for m in self.members])
        rain = np.array([m.params.rain_mm_per_h for m in self.members])
        out = {}
        for name, v in (("demand", demand), ("speed", speed), ("rain_mm_per_h", rain)):
            q = weighted_quantile(v, w, [0.05, 0.95])
            out[f"{name}_mean"] = float(w @ v)
            out[f"{name}_p5"], out[f"{name}_p95"] = float(q[0]), float(q[1])
        return out

    def source_multipliers(self) -> np.ndarray:
        """Weighted mean demand multiplier of each source."""
        w = self.weights
        return w @ np.array([m.params.demand_factors() for m in self.members])
