"""KPIs of a bike plan: pickups, unmet demand, empty pools, redistribution effort."""

from __future__ import annotations

import numpy as np

from .engine import COUNTER_NAMES

__all__ = ["bike_plan_summary", "format_table", "kpi_columns", "flatten_kpis"]

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
        "bikes_conserved": _recounted(e),
        "counters": {name: int(v) for name, v in zip(COUNTER_NAMES, e.counters)},
    }


def _recounted(engine) -> bool:
    """A last independent recount (it raises :class:`~sim.core.errors.ConservationError` on a
    mismatch, as every recount during the run would have)."""
    engine.recount()
    return True


def format_table(summary: dict) -> str:
    """The per-plan KPI table printed after a bikes run, then exit shares dry vs rain."""
    head = (f"{'plan':<12}{'pickups':>9}{'unmet':>7}{'unmet %':>9}{'empty pool min':>16}{'moved':>7}"
            f"{'van km':>8}{'extra walk m':>13}{'conserved':>11}")
    lines = [head, "-" * len(head)]
    for name, p in summary["plans"].items():
        lines.append(f"{name:<12}{p['pickups']:>9,}{p['unmet_pickups']:>7,}{100 * p['unmet_share']:>9.1f}"
                     f"{sum(p['empty_pool_minutes'].values()):>16.0f}{p['bikes_moved']:>7,}{p['van_km']:>8.1f}"
                     f"{p['extra_walk_m_mean']:>13.1f}{str(p['bikes_conserved']):>11}")
    lines.append("")
    shares = summary["exit_shares"]
    lines.append("exit shares " + ("dry -> rain" if shares["rain"] else "(dry)") + ":")
    for name, dry in shares["dry"].items():
        wet = f" -> {100 * shares['rain'][name]:.1f}%" if shares["rain"] else ""
        lines.append(f"  {name:<36}{100 * dry:5.1f}%{wet}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Flat KPIs for sweeps.
# ---------------------------------------------------------------------------------------------

RUN_KPIS = ["pickup_requests", "bikes_conserved"]
PLAN_KPIS = ["pickups", "unmet_pickups", "unmet_share", "bikes_moved", "van_km", "extra_walk_m_mean",
             "bikes_conserved"]


def kpi_columns(scenario) -> list[str]:
    """``pickup_requests``, ``bikes_conserved``, then ``PLAN.KPI``."""
    return list(RUN_KPIS) + [f"{p}.{k}" for p in scenario.plans for k in PLAN_KPIS]


def flatten_kpis(summary: dict) -> dict:
    """A bike plan comparison's summary as flat ``column -> value``."""
    row = {k: summary.get(k) for k in RUN_KPIS}
    for name, plan in summary["plans"].items():
        row.update({f"{name}.{k}": plan.get(k) for k in PLAN_KPIS})
    return row
