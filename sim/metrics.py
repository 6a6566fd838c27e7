"""KPIs of a run: crowd zone series, Fruin levels of service, gate waits, clearance; and traffic
portal queues, waits and throughput per mode.

:class:`CrowdRecorder` keeps one row per step and zone (occupancy, densest cell, gate queue) and the
peak density of every cell; :func:`crowd_summary` turns them into the numbers a safety team reads.
Zone level of service is that of its densest cell (conservative: "somewhere in the zone").
"""

from __future__ import annotations

import numpy as np

from .fundamental import LOS_NAMES

__all__ = ["CrowdRecorder", "crowd_summary", "LOS_E", "LOS_F", "TrafficRecorder", "traffic_plan_summary",
           "bike_plan_summary"]

LOS_E, LOS_F = 4, 5


class CrowdRecorder:
    """Per-step series of one run (preallocated; a few MB for a 3-hour run)."""

    def __init__(self, engine, n_steps: int):
        n_zones = len(engine.arrays.zone_names)
        self.dt_s = engine.arrays.dt_s
        self.thresholds = engine.arrays.los_thresholds_ppm2
        self.occupancy = np.zeros((n_steps, n_zones), dtype=np.int32)
        self.max_density = np.zeros((n_steps, n_zones), dtype=np.float32)
        self.gate_queue = np.zeros((n_steps, n_zones), dtype=np.int32)
        self.admitted = np.zeros((n_steps, n_zones), dtype=np.int32)
        self.inside = np.zeros(n_steps, dtype=np.int64)
        self.exited = np.zeros(n_steps, dtype=np.int64)
        self.entered = np.zeros(n_steps, dtype=np.int64)
        self.conserved_each_step = np.ones(n_steps, dtype=bool)
        self.cell_peak_density = np.zeros(engine.arrays.walk.n_cells)
        self.n = 0
        self.cell_density_every = 0          # off; see keep_cell_density
        self.cell_density = np.zeros((0, engine.arrays.walk.n_cells), dtype=np.float32)
        self.cell_density_t_s = np.zeros(0)
        self.n_cell_snapshots = 0

    def keep_cell_density(self, every_steps: int) -> None:
        """Also keep every cell's density once every ``every_steps`` recorded steps (off unless called;
        call before the run).  Costs ``4 x n_cells`` bytes per snapshot: under 0.2 MB for a 3-hour run
        on the Bund map (217 cells) at one snapshot a simulated minute.  For maps of density over
        time (the app's time slider)."""
        if every_steps < 1:
            raise ValueError(f"every_steps must be >= 1, got {every_steps!r}")
        n = self.occupancy.shape[0] // every_steps + 1
        self.cell_density_every = int(every_steps)
        self.cell_density = np.zeros((n, self.cell_peak_density.size), dtype=np.float32)
        self.cell_density_t_s = np.zeros(n)
        self.n_cell_snapshots = 0

    def record(self, engine) -> None:
        k = self.n
        self.occupancy[k] = engine.zone_occupancy
        self.max_density[k] = engine.zone_max_density
        self.gate_queue[k] = engine.zone_gate_queue
        self.admitted[k] = engine.admitted_last_step
        self.inside[k] = engine.inside
        self.exited[k] = engine.exited
        self.entered[k] = engine.n_active
        self.conserved_each_step[k] = engine.conserved and engine.n_active == engine.exited + engine.inside
        np.maximum(self.cell_peak_density, engine.cell_density, out=self.cell_peak_density)
        self.n += 1
        if self.cell_density_every and self.n % self.cell_density_every == 0:
            self.cell_density[self.n_cell_snapshots] = engine.cell_density
            self.cell_density_t_s[self.n_cell_snapshots] = engine.t_s
            self.n_cell_snapshots += 1

    def los_levels(self) -> np.ndarray:
        """Level of service (0=A .. 5=F) of each zone at each recorded step."""
        return np.searchsorted(self.thresholds, self.max_density[: self.n], side="left")


def _clearance_s(occupancy: np.ndarray, dt_s: float, end_step: int) -> float | None:
    """Seconds from the show's end until the zone holds 5% or less of its crowd at the end."""
    if end_step >= occupancy.shape[0]:
        return None
    crowd = occupancy[end_step]
    if crowd == 0:
        return 0.0
    after = np.flatnonzero(occupancy[end_step:] <= 0.05 * crowd)
    return float(after[0] * dt_s) if after.size else None


def crowd_summary(model) -> dict:
    """The KPIs of a finished (or partly run) model, as plain data for ``summary.json``."""
    engine = model.engine
    rec: CrowdRecorder = model.recorder
    arrays = engine.arrays
    n = rec.n
    dt = rec.dt_s
    los = rec.los_levels()
    end_step = int(round(model.scenario.show.end_s / dt))
    zones = {}
    for z, name in enumerate(arrays.zone_names):
        gate = model.gates.get(name)
        zones[name] = {
            "cap": None if gate is None else gate.cap,
            "area_m2": round(float(arrays.zone_area_m2[z]), 1),
            "peak_occupancy": int(rec.occupancy[:n, z].max()) if n else 0,
            "peak_density_ppm2": round(float(rec.max_density[:n, z].max()), 3) if n else 0.0,
            "peak_mean_density_ppm2": round(float(rec.occupancy[:n, z].max() / arrays.zone_area_m2[z]), 3)
            if n else 0.0,
            "worst_los": LOS_NAMES[int(los[:, z].max())] if n else "A",
            "seconds_at_los_e_or_worse": float((los[:, z] >= LOS_E).sum() * dt),
            "seconds_at_los_f": float((los[:, z] >= LOS_F).sum() * dt),
            "max_gate_queue": int(rec.gate_queue[:n, z].max()) if n else 0,
            "gate_closed_s": 0.0 if gate is None else gate.closed_seconds,
            "clearance_s": _clearance_s(rec.occupancy[:n, z], dt, end_step),
        }
    waited = engine.gate_wait_s[engine.gate_wait_s >= 0]
    still_waiting = engine.wait_start_s[(engine.wait_start_s >= 0)]
    waits = np.concatenate([waited, engine.t_s - still_waiting])
    main = model.scenario.main_zone
    counters = engine.counters
    from . import crowd_kernels as K
    return {
        "scenario": model.scenario.name,
        "scenario_file": model.scenario.source_path,
        "seed": model.seed_value,
        "sim_seconds": float(engine.t_s),
        "wall_seconds": round(float(model.wall_seconds), 3),
        "steps": int(engine.step_index),
        "dt_s": dt,
        "agents_total": int(engine.n_agents),
        "agents_entered": int(engine.n_active),
        "agents_exited": int(engine.exited),
        "agents_inside": int(engine.inside),
        "agents_conserved": bool(rec.conserved_each_step[:n].all() and engine.recount_ok()),
        "balked_at_gates": int(counters[K.C_BALKED]),
        "weather": {"rain_mm_per_h": model.scenario.weather.rain_mm_per_h,
                    "jam_density_ppm2": round(arrays.rho_jam_ppm2, 3),
                    "capacity_ppms": round(arrays.q_max_ppms, 3),
                    "los_thresholds_ppm2": {LOS_NAMES[k + 1]: round(float(v), 3)
                                            for k, v in enumerate(arrays.los_thresholds_ppm2)}},
        "zones": zones,
        "peak_occupancy": {name: zones[name]["peak_occupancy"] for name in zones},
        "peak_density_ppm2": {name: zones[name]["peak_density_ppm2"] for name in zones},
        "seconds_at_los_e_or_worse": {name: zones[name]["seconds_at_los_e_or_worse"] for name in zones},
        "seconds_at_los_f": {name: zones[name]["seconds_at_los_f"] for name in zones},
        "max_gate_queue": int(rec.gate_queue[:n].sum(axis=1).max()) if n else 0,
        "gate_waiters": int(waits.size),
        "gate_wait_s_p95": round(float(np.percentile(waits, 95)), 1) if waits.size else 0.0,
        "gate_wait_s_mean": round(float(waits.mean()), 1) if waits.size else 0.0,
        "clearance_zone": main,
        "clearance_s": zones[main]["clearance_s"],
    }


# ---------------------------------------------------------------------------------------------
# Traffic: portal queues, waits and throughput per mode of one phase plan.
# ---------------------------------------------------------------------------------------------

class TrafficRecorder:
    """Portal queues sampled every ``queue_sample_s`` (vehicles and metres, per portal and mode)."""

    def __init__(self, engine, n_samples: int):
        n_tubes = len(engine.arrays.tubes)
        self.t_s = np.zeros(n_samples)
        self.queue_n = np.zeros((n_samples, n_tubes, 2), dtype=np.int64)
        self.queue_m = np.zeros((n_samples, n_tubes, 2))
        self.phase = np.zeros(n_samples, dtype=np.int8)
        self.n = 0

    def record(self, engine, controller) -> None:
        from .control import PHASES
        k = self.n
        if k >= self.t_s.size:
            return
        self.t_s[k] = engine.t_s
        self.queue_n[k] = engine.queue_n
        self.queue_m[k] = engine.queue_m
        self.phase[k] = PHASES.index(controller.phase) if controller is not None else -1
        self.n += 1


def _p95(values: np.ndarray) -> float:
    return float(np.percentile(values, 95)) if values.size else 0.0


def traffic_plan_summary(model) -> dict:
    """The KPIs of one plan: per mode throughput through the tunnel, waits (time stopped on the road
    plus time in a portal's waiting area), portal queues, the tunnel's time share; plus the plan."""
    from .traffic import BIKE, MOTOR
    from .traffic_kernels import PENDING, QUEUED

    e = model.engine
    a = model.arrays
    n = e.n_trips
    end_s = e.t_s
    hours = max(end_s, 1e-9) / 3600.0
    rec = model.recorder
    controller = model.controller
    phase_s = controller.phase_seconds(end_s) if controller is not None else {}
    state = e.veh_state[:n]
    departed = state != PENDING
    in_area = (state == QUEUED) & (e.veh_insert_s[:n] >= 0)          # waiting at a portal right now
    wait = e.veh_wait_s[:n] + e.veh_queue_wait_s[:n] + np.where(in_area, end_s - e.veh_queue_enter_s[:n], 0.0)
    inserted = e.veh_insert_s[:n] >= 0
    depart_delay = np.where(inserted, e.veh_insert_s[:n] - e.veh_depart_s[:n], end_s - e.veh_depart_s[:n])
    arrived = e.veh_arrive_s[:n] >= 0
    travel = e.veh_arrive_s[:n] - e.veh_depart_s[:n]
    modes = {}
    for mode, label, share_key in ((MOTOR, "motor", "motor"), (BIKE, "bike", "convoy")):
        mask = departed & (e.veh_mode[:n] == mode)
        qn = rec.queue_n[: rec.n, :, mode]
        qm = rec.queue_m[: rec.n, :, mode]
        modes[label] = {
            "trips": int(((e.veh_mode[:n] == mode)).sum()),
            "departed": int(mask.sum()),
            "arrived": int((mask & arrived).sum()),
            "throughput_per_h": round(float(e.tube_exits[:, mode].sum()) / hours, 1) if a.tubes else None,
            "wait_s_mean": round(float(wait[mask].mean()), 1) if mask.any() else 0.0,
            "wait_s_p95": round(_p95(wait[mask]), 1),
            "max_queue_vehicles": int(qn.max()) if qn.size else 0,
            "max_queue_m": round(float(qm.max()), 1) if qm.size else 0.0,
            "mean_queue_vehicles": round(float(qn.sum(axis=1).mean()), 2) if qn.size else 0.0,
            "tunnel_utilisation": round(phase_s.get(share_key, 0.0) / max(end_s, 1e-9), 4) if phase_s else None,
            "travel_time_s_mean": round(float(travel[mask & arrived].mean()), 1) if (mask & arrived).any() else None,
            "depart_delay_s_mean": round(float(depart_delay[mask].mean()), 1) if mask.any() else 0.0,
        }
    portals = {}
    for g, tube in enumerate(a.tubes):
        portals[tube.portal_label] = {
            "tube_length_m": round(tube.length_m, 1),
            "motor_through": int(e.tube_exits[g, MOTOR]), "bike_through": int(e.tube_exits[g, BIKE]),
            "max_motor_queue_vehicles": int(rec.queue_n[: rec.n, g, MOTOR].max()) if rec.n else 0,
            "max_motor_queue_m": round(float(rec.queue_m[: rec.n, g, MOTOR].max()), 1) if rec.n else 0.0,
            "max_bike_queue": int(rec.queue_n[: rec.n, g, BIKE].max()) if rec.n else 0,
        }
    convoys = [c for c in controller.convoys if c.state == "done"] if controller is not None else []
    plan = model.plan.model_dump(mode="json") if model.plan is not None else None
    return {
        "plan": plan,
        "seed": model.seed_value,
        "sim_seconds": round(end_s, 3),
        "wall_seconds": round(model.wall_seconds, 3),
        "trips_total": int(n),
        "vehicles_conserved": bool(e.conserved),
        "conservation_error": e.conservation_error or None,
        "vehicle_updates": int(e.vehicle_updates),
        "vehicle_updates_per_s": round(e.vehicle_updates / model.wall_seconds) if model.wall_seconds > 0 else None,
        "convoys": len(convoys),
        "aborted_convoys": controller.aborted_convoys if controller is not None else 0,
        "bikes_per_convoy_mean": round(float(np.mean([c.released for c in convoys])), 1) if convoys else 0.0,
        "phase_seconds": {k: round(v, 1) for k, v in phase_s.items()},
        "modes": modes,
        "portals": portals,
        "violations": len(model.violations) if model.check_invariants else None,
    }


# ---------------------------------------------------------------------------------------------
# Bikes: pickups, unmet demand, empty pools, redistribution effort of one plan.
# ---------------------------------------------------------------------------------------------

def bike_plan_summary(model) -> dict:
    """The KPIs of one redistribution plan (the bikes scenario's summary.json, per plan)."""
    e = model.engine
    a = model.arrays
    pickups = int(e.pickups.sum())
    unmet = int(e.unmet.sum())
    van_moved = sum(v.moved for v in model.vans)
    van_km = sum(v.km for v in model.vans)
    walks = np.asarray(e.extra_walk_m) if e.extra_walk_m else np.zeros(0)
    return {
        "plan": model.plan.model_dump(mode="json"),
        "seed": model.seed_value,
        "wall_seconds": round(model.wall_seconds, 3),
        "pickups": pickups,
        "unmet_pickups": unmet,
        "unmet_share": round(unmet / (pickups + unmet), 4) if pickups + unmet else 0.0,
        "unmet_pickups_by_pool": {n: int(v) for n, v in zip(a.pool_names, e.unmet)},
        "pickups_by_pool": {n: int(v) for n, v in zip(a.pool_names, e.pickups)},
        "empty_pool_minutes": {n: round(float(v) / 60.0, 1) for n, v in zip(a.pool_names, e.empty_s)},
        "returns": int(e.returns.sum()),
        "lost_returns": int(e.lost_returns),
        "bikes_moved": int(model.layout_moved + van_moved),
        "van_km": round(float(model.layout_km + van_km), 2),
        "van_loads_planned": len(model.trips),
        "van_max_load": max((v.max_load for v in model.vans), default=0),
        "extra_walk_m_mean": round(float(walks.mean()), 1) if walks.size else 0.0,
        "start_stock": {n: int(v) for n, v in zip(a.pool_names, model.engine.initial_stock)},
        "end_stock": {n: int(v) for n, v in zip(a.pool_names, e.stock)},
        "bikes_in_vans_at_end": int(e.in_vans),
        "bikes_conserved": bool(e.conserved),
        "conservation_error": e.conservation_error or None,
    }
