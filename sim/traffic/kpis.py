"""KPIs of a traffic run: portal queues, waits and throughput per mode, per plan."""

from __future__ import annotations

import numpy as np

from .compile import BIKE, MOTOR
from .controllers import PHASES
from .kernels import PENDING, QUEUED

__all__ = ["TrafficRecorder", "traffic_plan_summary", "format_table", "kpi_columns", "flatten_kpis", "risk_table"]

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
    free = a.trip_free_s if a.trip_free_s is not None and a.trip_free_s.size == n else np.full(n, np.nan)
    delay = travel - free
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
            "travel_time_s_p95": round(_p95(travel[mask & arrived]), 1) if (mask & arrived).any() else None,
            "free_flow_s_mean": round(float(free[mask & arrived].mean()), 1) if (mask & arrived).any() else None,
            "delay_s_mean": round(float(delay[mask & arrived].mean()), 1) if (mask & arrived).any() else None,
            "delay_s_p95": round(_p95(delay[mask & arrived]), 1) if (mask & arrived).any() else None,
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
        "kinematics": e.kinematics,
        "invariants": {"checked": bool(model.check_invariants), "steps": int(model.invariant_checks),
                       "seconds": round(model.invariant_seconds, 3),
                       "share_of_wall": round(model.invariant_seconds / model.wall_seconds, 4)
                       if model.wall_seconds > 0 else None},
    }


def format_table(summary: dict) -> str:
    """The per-plan, per-mode KPI table printed after a traffic run: throughput through the tunnel
    (where there is one), waits, queues, arrivals, travel times and delays (travel time less the
    free-flow time of the trip's route)."""
    head = (f"{'plan':<18}{'mode':<7}{'arrived':>9}{'travel min':>11}{'delay min':>10}{'through/h':>10}"
            f"{'wait mean s':>12}{'wait p95 s':>11}{'max queue':>10}{'queue m':>9}{'tunnel %':>9}{'convoys':>8}")
    lines = [head, "-" * len(head)]

    def minutes(value):
        return "-" if value is None else f"{value / 60:.1f}"

    for name, plan in summary["plans"].items():
        for mode, m in plan["modes"].items():
            if m["trips"] == 0 and mode == "bike" and m["throughput_per_h"] is None:
                continue
            through = "-" if m["throughput_per_h"] is None else f"{m['throughput_per_h']:,.0f}"
            share = "-" if m["tunnel_utilisation"] is None else f"{100 * m['tunnel_utilisation']:.0f}"
            lines.append(f"{name:<18}{mode:<7}{m['arrived']:>9,}{minutes(m.get('travel_time_s_mean')):>11}"
                         f"{minutes(m.get('delay_s_mean')):>10}{through:>10}{m['wait_s_mean']:>12.0f}"
                         f"{m['wait_s_p95']:>11.0f}{m['max_queue_vehicles']:>10,}{m['max_queue_m']:>9.0f}{share:>9}"
                         f"{plan['convoys'] if mode == 'bike' and through != '-' else '':>8}")
    lines.append("")
    lines.append(f"trips {summary['trips_total']:,}  vehicles conserved {summary['vehicles_conserved']}  "
                 f"wall {summary['wall_seconds']:.1f} s for {len(summary['plans'])} plan(s) of "
                 f"{summary['sim_seconds']:.0f} simulated s")
    for note in summary.get("notes", []):
        lines.append(f"note: {note}")
    for name, plan in summary["plans"].items():
        k, inv = plan.get("kinematics", {}), plan.get("invariants", {})
        if k:
            cost = "" if not inv.get("checked") else (
                f"; safety invariants held every step ({inv['seconds']:.2f} s, "
                f"{100 * (inv['share_of_wall'] or 0):.1f}% of the wall)")
            lines.append(f"{name}: braking clamped at 9 m/s2 {k['decel_clamps']:,}x, speed drops faster than "
                         f"9 m/s2 {k['hard_stops']:,}, instant stops at an edge end {k['instant_stops']:,}{cost}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Flat KPIs for sweeps.
# ---------------------------------------------------------------------------------------------

RUN_KPIS = ["trips_total", "vehicles_conserved"]
PLAN_KPIS = ["vehicles_conserved", "convoys", "bikes_per_convoy_mean"]
MODES = ("motor", "bike")
MODE_KPIS = ["trips", "departed", "arrived", "throughput_per_h", "wait_s_mean", "wait_s_p95",
             "max_queue_vehicles", "max_queue_m", "mean_queue_vehicles", "tunnel_utilisation",
             "travel_time_s_mean", "travel_time_s_p95", "delay_s_mean", "delay_s_p95", "depart_delay_s_mean"]


def kpi_columns(scenario) -> list[str]:
    """``trips_total``, ``vehicles_conserved``, then ``PLAN.KPI`` and ``PLAN.MODE.KPI``."""
    cols = list(RUN_KPIS)
    for p in list(scenario.plans) or ["traffic"]:
        cols += [f"{p}.{k}" for k in PLAN_KPIS]
        cols += [f"{p}.{m}.{k}" for m in MODES for k in MODE_KPIS]
    return cols


def flatten_kpis(summary: dict) -> dict:
    """A plan comparison's summary as flat ``column -> value``."""
    row = {k: summary.get(k) for k in RUN_KPIS}
    for name, plan in summary["plans"].items():
        row.update({f"{name}.{k}": plan.get(k) for k in PLAN_KPIS})
        for mode, kpis in plan["modes"].items():
            row.update({f"{name}.{mode}.{k}": kpis.get(k) for k in MODE_KPIS})
    return row


def risk_table(scenario) -> list[tuple[str, str, str]]:
    """Columns of the short table printed after a traffic sweep."""
    cols = [("trips mean", "trips_total.mean", "{:,.0f}")]
    for p in list(scenario.plans)[:3]:
        cols.append((f"{p} bike wait s", f"{p}.bike.wait_s_mean.mean", "{:.0f}"))
    return cols
