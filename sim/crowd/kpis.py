"""KPIs of a crowd run: zone series, Fruin levels of service, gate waits, clearance.

:class:`CrowdRecorder` keeps one row per step and zone (occupancy, densest cells, gate queue) and the
peak densities of every cell; :func:`crowd_summary` turns them into the numbers a safety team reads.
Walkers are judged on Fruin's walkway levels of service by the density of the ground left to them;
people who stand, queue or wait on his queuing levels by their cell's density
(:func:`sim.crowd.kernels.zone_stats`).  A zone's level is that of its worst cell (conservative:
"somewhere in the zone").
"""

from __future__ import annotations

import numpy as np

from . import kernels as K
from .fundamental import LOS_NAMES

__all__ = ["CrowdRecorder", "crowd_summary", "format_table", "kpi_columns", "flatten_kpis", "risk_flags", "risk_table",
           "LOS_E", "LOS_F"]

LOS_E, LOS_F = 4, 5


class CrowdRecorder:
    """Per-step series of one run (preallocated; a few MB for a 3-hour run)."""

    def __init__(self, engine, n_steps: int):
        n_zones = len(engine.arrays.zone_names)
        self.dt_s = engine.arrays.dt_s
        self.thresholds = engine.arrays.los_thresholds_ppm2
        self.queue_thresholds = engine.arrays.queue_los_thresholds_ppm2
        self.occupancy = np.zeros((n_steps, n_zones), dtype=np.int32)
        self.max_density = np.zeros((n_steps, n_zones), dtype=np.float32)
        self.max_walk_density = np.zeros((n_steps, n_zones), dtype=np.float32)
        self.max_hold_density = np.zeros((n_steps, n_zones), dtype=np.float32)
        self.gate_queue = np.zeros((n_steps, n_zones), dtype=np.int32)
        self.admitted = np.zeros((n_steps, n_zones), dtype=np.int32)
        self.inside = np.zeros(n_steps, dtype=np.int64)
        self.exited = np.zeros(n_steps, dtype=np.int64)
        self.entered = np.zeros(n_steps, dtype=np.int64)
        self.cell_peak_density = np.zeros(engine.arrays.walk.n_cells)
        self.cell_peak_walk = np.zeros(engine.arrays.walk.n_cells)
        self.cell_peak_hold = np.zeros(engine.arrays.walk.n_cells)
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
        zones, cells = engine.zones, engine.cells
        K.record_step(k, zones.occupancy, zones.max_density, zones.max_walk_density, zones.max_hold_density,
                      zones.gate_queue, engine.admitted_last_step, cells.density_ppm2, cells.walk_density,
                      cells.hold_density, self.occupancy, self.max_density, self.max_walk_density,
                      self.max_hold_density, self.gate_queue, self.admitted, self.cell_peak_density,
                      self.cell_peak_walk, self.cell_peak_hold)
        self.inside[k] = engine.inside
        self.exited[k] = engine.exited
        self.entered[k] = engine.n_active
        self.n += 1
        if self.cell_density_every and self.n % self.cell_density_every == 0:
            self.cell_density[self.n_cell_snapshots] = engine.cell_density
            self.cell_density_t_s[self.n_cell_snapshots] = engine.t_s
            self.n_cell_snapshots += 1

    def los_levels(self) -> np.ndarray:
        """Walkway level of service (0=A .. 5=F) of each zone's walkers at each recorded step."""
        return np.searchsorted(self.thresholds, self.max_walk_density[: self.n], side="left")

    def queue_los_levels(self) -> np.ndarray:
        """Queuing level of service (0=A .. 5=F) of each zone's standing, queueing and waiting
        people at each recorded step (A where nobody stands)."""
        return np.searchsorted(self.queue_thresholds, self.max_hold_density[: self.n], side="left")


def _clearance_s(occupancy: np.ndarray, dt_s: float, end_step: int) -> float | None:
    """Seconds from the show's end until the zone holds 5% or less of its crowd at the end."""
    if end_step >= occupancy.shape[0]:
        return None
    crowd = occupancy[end_step]
    if crowd == 0:
        return 0.0
    after = np.flatnonzero(occupancy[end_step:] <= 0.05 * crowd)
    return float(after[0] * dt_s) if after.size else None


def _recounted(engine) -> bool:
    """A last independent recount (it raises :class:`~sim.core.errors.ConservationError` on a mismatch,
    as every recount during the run would have)."""
    engine.recount()
    return True


def crowd_summary(model) -> dict:
    """The KPIs of a finished (or partly run) model, as plain data for ``summary.json``."""
    engine = model.engine
    rec: CrowdRecorder = model.recorder
    arrays = engine.arrays
    n = rec.n
    dt = rec.dt_s
    los = rec.los_levels()
    queue_los = rec.queue_los_levels()
    end_step = int(round(model.scenario.show.end_s / dt)) if model.scenario.show is not None else 0
    zones = {}
    for z, name in enumerate(arrays.zone_names):
        gate = model.gates.get(name)
        zones[name] = {
            "cap": None if gate is None else gate.cap,
            "area_m2": round(float(arrays.zone_area_m2[z]), 1),
            "peak_occupancy": int(rec.occupancy[:n, z].max()) if n else 0,
            "peak_density_ppm2": round(float(rec.max_density[:n, z].max()), 3) if n else 0.0,
            "peak_walking_density_ppm2": round(float(rec.max_walk_density[:n, z].max()), 3) if n else 0.0,
            "peak_holding_density_ppm2": round(float(rec.max_hold_density[:n, z].max()), 3) if n else 0.0,
            "peak_mean_density_ppm2": round(float(rec.occupancy[:n, z].max() / arrays.zone_area_m2[z]), 3)
            if n else 0.0,
            "worst_los": LOS_NAMES[int(los[:, z].max())] if n else "A",
            "seconds_at_los_e_or_worse": float((los[:, z] >= LOS_E).sum() * dt),
            "seconds_at_los_f": float((los[:, z] >= LOS_F).sum() * dt),
            "worst_queue_los": LOS_NAMES[int(queue_los[:, z].max())] if n else "A",
            "seconds_at_queue_los_e_or_worse": float((queue_los[:, z] >= LOS_E).sum() * dt),
            "max_gate_queue": int(rec.gate_queue[:n, z].max()) if n else 0,
            "gate_closed_s": 0.0 if gate is None else gate.closed_seconds,
            "clearance_s": _clearance_s(rec.occupancy[:n, z], dt, end_step),
        }
    waited = engine.gate_wait_s[engine.gate_wait_s >= 0]
    still_waiting = engine.wait_start_s[(engine.wait_start_s >= 0)]
    waits = np.concatenate([waited, engine.t_s - still_waiting])
    main = model.scenario.main_zone
    counters = engine.counters
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
        "agents_conserved": _recounted(engine),
        "balked_at_gates": int(counters[K.C_BALKED]),
        "weather": {"rain_mm_per_h": model.scenario.weather.rain_mm_per_h,
                    "jam_density_ppm2": round(arrays.rho_jam_ppm2, 3),
                    "capacity_ppms": round(arrays.q_max_ppms, 3),
                    "queue_density_ppm2": round(arrays.queue_density_ppm2, 3),
                    "los_thresholds_ppm2": {LOS_NAMES[k + 1]: round(float(v), 3)
                                            for k, v in enumerate(arrays.los_thresholds_ppm2)},
                    "queue_los_thresholds_ppm2": {LOS_NAMES[k + 1]: round(float(v), 3)
                                                  for k, v in enumerate(arrays.queue_los_thresholds_ppm2)}},
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
        "clearance_s": zones[main]["clearance_s"] if main is not None else None,
        "everyone_out_s": _everyone_out_s(rec, engine),
        "counters": {name: int(v) for name, v in zip(K.COUNTER_NAMES, counters)},
        "exited_by_node": _exited_by_node(engine),
        "people": _accounting(engine, still_waiting.size, waits),
        "gate_waits_censored": int(still_waiting.size),
        **_places(engine, model.scenario.safety),
    }


def _accounting(engine, censored: int, waits: np.ndarray) -> dict:
    """Where everyone went: drawn, kept away by a closed station, arrived at another one, held at a
    gate (and for how long in all), diverted at a gate, gave up, sent home at the show's end, out,
    still inside.  ``held_person_s`` counts waits still going on at the end up to the end
    (censored: ``held_still_waiting``)."""
    c = engine.counters
    arr = engine.arrivals
    not_coming = 0 if arr.not_coming is None else int(arr.not_coming.sum())
    moved = 0 if arr.diverted_from is None else int((arr.diverted_from >= 0).sum())
    return {"came": int(engine.n_agents), "kept_away_by_closed_stations": not_coming,
            "arrived_at_another_station": moved,
            "held_at_gates": int(waits.size), "held_person_s": round(float(waits.sum()), 1),
            "held_still_waiting": int(censored),
            "diverted_at_gates": int(c[K.C_DIVERTED]), "gave_up_at_gates": int(c[K.C_BALKED]),
            "sent_home_at_show_end": int(c[K.C_SENT_HOME]), "out": int(engine.exited),
            "still_inside": int(engine.inside)}


def _places(engine, safety) -> dict:
    """Every place's KPIs, the worst places, and the safety verdict of the run (the scenario's
    ``[safety]`` criterion over all places)."""
    a = engine.arrays
    pl, names, kinds = engine.places, a.places.names, a.places.kinds
    rows = {}
    for k, name in enumerate(names):
        rows[name] = {"kind": kinds[k], "area_m2": round(float(a.places.area_m2[k]), 1),
                      "peak_density_ppm2": round(float(pl.peak_total[k]), 3),
                      "peak_walking_density_ppm2": round(float(pl.peak_walk[k]), 3),
                      "peak_holding_density_ppm2": round(float(pl.peak_hold[k]), 3),
                      "seconds_walkers_at_los_e_or_worse": float(pl.walk_e_s[k]),
                      "seconds_walkers_at_los_f": float(pl.walk_f_s[k]),
                      "longest_spell_walkers_at_los_f_s": float(pl.longest_f_s[k]),
                      "seconds_holding_at_queue_los_e_or_worse": float(pl.hold_e_s[k])}
    failing = [name for k, name in enumerate(names)
               if pl.longest_f_s[k] > safety.max_walk_los_f_s or pl.hold_e_s[k] > safety.max_hold_los_e_s]
    order = sorted(range(len(names)), key=lambda k: (-pl.walk_f_s[k], -pl.hold_e_s[k], -pl.walk_e_s[k],
                                                     -pl.peak_total[k]))
    worst = [names[k] for k in order[:10] if pl.walk_e_s[k] > 0 or pl.hold_e_s[k] > 0]
    return {"places": rows, "worst_places": worst,
            "safety": {"safe": not failing, "failing_places": failing,
                       "any_place_walkers_at_los_f": bool((pl.walk_f_s > 0).any()),
                       "any_place_at_crush_density": bool((pl.peak_total >= safety.crush_density_ppm2).any()),
                       "criterion": {"max_walk_los_f_s": safety.max_walk_los_f_s,
                                     "max_hold_los_e_s": safety.max_hold_los_e_s,
                                     "crush_density_ppm2": safety.crush_density_ppm2}}}


def _everyone_out_s(rec: CrowdRecorder, engine) -> float | None:
    """When the last person left the map (None if someone is still inside or yet to arrive)."""
    n = rec.n
    if n == 0 or engine.inside > 0 or engine.n_active < engine.n_agents:
        return None
    inside = rec.inside[:n] + (engine.n_agents - rec.entered[:n])
    out = np.flatnonzero(inside == 0)
    return float((out[0] + 1) * rec.dt_s) if out.size else None


def _exited_by_node(engine) -> dict[str, int]:
    """People who left the map at each exit node, by the node's name (or OSM id)."""
    walk = engine.arrays.walk
    net = walk.network
    out = {}
    for node in np.flatnonzero(engine.nodes.exited):
        net_node = walk.node_net[node]
        label = net.node_tags[net_node].get("name") or str(net.node_osmid[net_node]) if net_node >= 0 else str(node)
        out[label] = int(engine.nodes.exited[node])
    return out


def format_table(summary: dict) -> str:
    """The KPI table printed after a run: per zone, the walkers' walkway level of service and the
    queuing level of those who stand, queue or wait (Fruin 1971), with the time spent at the worst."""
    head = (f"{'zone':<30}{'cap':>8}{'peak occ':>10}{'peak p/m2':>10}{'walk LOS':>9}{'s F':>7}"
            f"{'queue LOS':>10}{'s >=E':>7}{'max queue':>10}{'clear s':>9}")
    lines = [head, "-" * len(head)]
    for name, z in summary["zones"].items():
        cap = f"{z['cap']:,}" if z["cap"] else "-"
        clear = "-" if z["clearance_s"] is None else f"{z['clearance_s']:.0f}"
        lines.append(f"{name:<30}{cap:>8}{z['peak_occupancy']:>10,}{z['peak_density_ppm2']:>10.2f}"
                     f"{z['worst_los']:>9}{z['seconds_at_los_f']:>7.0f}{z['worst_queue_los']:>10}"
                     f"{z['seconds_at_queue_los_e_or_worse']:>7.0f}{z['max_gate_queue']:>10,}{clear:>9}")
    lines.append("")
    lines.append(f"people {summary['agents_total']:,}  exited {summary['agents_exited']:,}  "
                 f"inside at end {summary['agents_inside']:,}  conserved {summary['agents_conserved']}  "
                 f"went home from gates {summary['balked_at_gates']:,}")
    clear = summary["clearance_s"]
    clear_text = "not within the run" if clear is None else f"{clear:.0f} s"
    censored = summary.get("gate_waits_censored", 0)
    censored_text = f", {censored:,} still waiting at the end: a lower bound" if censored else ""
    lines.append(f"gate wait p95 {summary['gate_wait_s_p95']:.0f} s (of {summary['gate_waiters']:,} who queued"
                 f"{censored_text})  clearance of {summary['clearance_zone']}: {clear_text}  "
                 f"wall {summary['wall_seconds']:.1f} s for {summary['sim_seconds']:.0f} simulated s")
    people = summary.get("people")
    if people:
        lines.append(f"accounting: came {people['came']:,}, kept away by closed stations "
                     f"{people['kept_away_by_closed_stations']:,}, arrived at another station "
                     f"{people['arrived_at_another_station']:,}, held at gates {people['held_at_gates']:,}, diverted "
                     f"{people['diverted_at_gates']:,}, gave up {people['gave_up_at_gates']:,}, sent home at the "
                     f"show's end {people['sent_home_at_show_end']:,}, out {people['out']:,}, still inside "
                     f"{people['still_inside']:,}")
    safety = summary.get("safety")
    if safety:
        verdict = "safe" if safety["safe"] else f"UNSAFE at {len(safety['failing_places'])} place(s)"
        worst = ", ".join(summary.get("worst_places", [])[:3]) or "none"
        lines.append(f"safety (this seed only; use `citytwin run --seeds N` or `advise` for a verdict): {verdict}; "
                     f"worst places: {worst}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Flat KPIs for sweeps, and the per-run risks a sweep summarises.
# ---------------------------------------------------------------------------------------------

RUN_KPIS = ["agents_total", "agents_entered", "agents_exited", "agents_inside", "agents_conserved",
            "balked_at_gates", "max_gate_queue", "gate_waiters", "gate_wait_s_mean", "gate_wait_s_p95",
            "clearance_s", "everyone_out_s", "safe", "failing_places", "any_place_walkers_at_los_f",
            "any_place_at_crush_density", "worst_place", "gate_waits_censored", "diverted_at_gates",
            "sent_home_at_show_end", "kept_away_by_closed_stations", "held_person_s"]
ZONE_KPIS = ["peak_occupancy", "peak_density_ppm2", "peak_walking_density_ppm2", "peak_holding_density_ppm2",
             "peak_mean_density_ppm2", "worst_los", "seconds_at_los_e_or_worse", "seconds_at_los_f",
             "worst_queue_los", "seconds_at_queue_los_e_or_worse", "max_gate_queue", "gate_closed_s", "clearance_s"]


def kpi_columns(scenario) -> list[str]:
    """The flattened KPI columns of a crowd run: the run KPIs, then ``ZONE.KPI``."""
    return RUN_KPIS + [f"{z}.{k}" for z in scenario.zones for k in ZONE_KPIS]


def flatten_kpis(summary: dict) -> dict:
    """A crowd run's summary as flat ``column -> value``."""
    row = {k: summary.get(k) for k in RUN_KPIS}
    safety = summary.get("safety", {})
    row.update(safe=safety.get("safe"), failing_places=len(safety.get("failing_places", [])),
               any_place_walkers_at_los_f=safety.get("any_place_walkers_at_los_f"),
               any_place_at_crush_density=safety.get("any_place_at_crush_density"),
               worst_place=(summary.get("worst_places") or [None])[0])
    people = summary.get("people", {})
    row.update(diverted_at_gates=people.get("diverted_at_gates"),
               sent_home_at_show_end=people.get("sent_home_at_show_end"),
               kept_away_by_closed_stations=people.get("kept_away_by_closed_stations"),
               held_person_s=people.get("held_person_s"))
    for zone, kpis in summary["zones"].items():
        row.update({f"{zone}.{k}": kpis.get(k) for k in ZONE_KPIS})
    return row


def risk_flags(ok_rows: list[dict], kpis: list[str]) -> dict[str, list[bool]]:
    """Per run, over every place (not only the zones): unsafe by the scenario's criterion; walkers at
    walkway LOS F somewhere; a place at or above the crush density; and, for the zones, LOS F."""
    zones = [k[: -len(".worst_los")] for k in kpis if k.endswith(".worst_los")]
    return {"p_unsafe": [r.get("safe") is False for r in ok_rows],
            "p_any_place_los_f": [bool(r.get("any_place_walkers_at_los_f")) for r in ok_rows],
            "p_any_place_crush_density": [bool(r.get("any_place_at_crush_density")) for r in ok_rows],
            "p_any_zone_los_f": [any(r.get(f"{z}.worst_los") == "F" for z in zones) for r in ok_rows]}


def risk_table(scenario) -> list[tuple[str, str, str]]:
    """Columns of the short table printed after a crowd sweep."""
    main = scenario.main_zone
    return [("P(unsafe)", "p_unsafe", "{:.2f}"), ("P(LOS F)", "p_any_place_los_f", "{:.2f}"),
            ("P(crush)", "p_any_place_crush_density", "{:.2f}"),
            (f"{main} peak mean", f"{main}.peak_occupancy.mean", "{:,.0f}"),
            ("peak p/m2 p95", f"{main}.peak_density_ppm2.p95", "{:.2f}"),
            ("wait p95 s mean", "gate_wait_s_p95.mean", "{:.0f}"),
            ("clear s mean", "clearance_s.mean", "{:.0f}")]
