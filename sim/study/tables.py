"""Tables of plain values (rows for a data frame) that the app lays out: a cap comparison's KPIs,
plans per mode, bike plans, exit shares, and a finished sweep's risk table."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from ..crowd.fundamental import LOS_NAMES
from .upload import cap_label

__all__ = ["crowd_kpi_rows", "crowd_zone_rows", "plan_mode_rows", "bike_kpi_rows", "bike_pool_rows",
           "exit_share_rows", "sweep_grid_keys", "sweep_cap_key", "sweep_zones", "sweep_kpis", "sweep_risk_rows"]


def _empty_total_min(plan: dict) -> float:
    return float(sum(plan["empty_pool_minutes"].values()))



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


#: The probabilities shown per sweep cell: (label, ``risk.csv`` column).
RISK_LABELS = (("P(unsafe)", "p_unsafe"), ("P(any place LOS F)", "p_any_place_los_f"),
               ("P(crush density)", "p_any_place_crush_density"))


def sweep_risk_rows(risk: Sequence[dict], grid_keys: Sequence[str], zone: str) -> list[dict[str, Any]]:
    """One row per grid cell: ``cell`` (e.g. ``cap 40,000``), runs ok and failed, the probabilities
    of :data:`RISK_LABELS` (share of the cell's ok runs: unsafe by the scenario's ``[safety]``
    criterion, walkers at LOS F in some place, some place at crush density), and mean,
    p5 and p95 across seeds of :func:`sweep_kpis` (``None`` where no run had a value, e.g. a
    clearance not reached within the runs).  Numbers, rounded for reading."""
    rows = []
    for r in risk:
        row: dict[str, Any] = {"cell": _cell_label(r, grid_keys), "runs ok": int(_value(r.get("runs_ok")) or 0),
                               "runs failed": int(_value(r.get("runs_failed")) or 0)}
        for name, column in RISK_LABELS:
            p = _value(r.get(column))
            row[name] = None if p is None else round(p, 3)
        for kpi, label, scale in sweep_kpis(zone):
            for stat in ("mean", "p5", "p95"):
                v = _value(r.get(f"{kpi}.{stat}"))
                row[f"{label} {stat}"] = None if v is None else round(v * scale, 2)
        rows.append(row)
    return rows
