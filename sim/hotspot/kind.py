"""The hotspot scenario kind (a crowd scenario with areas run in two dimensions), as the registry
(:mod:`sim.kinds`) sees it."""

from __future__ import annotations

from ..core.errors import ScenarioError, SimError
from ..core.registry import ScenarioKind
from ..crowd import kpis as crowd_kpis
from ..crowd.compile import compile_crowd
from .schema import HotspotScenario

__all__ = ["KIND", "compile_hotspot", "format_table", "kpi_columns", "flatten_kpis"]

HOTSPOT_KPIS = ["max_local_density_ppm2", "handed_in", "handed_out", "max_inside", "max_entry_queue"]
AREA_KPIS = ["max_local_density_ppm2", "max_classic_density_ppm2", "time_above_4_ppm2_s", "time_above_5_ppm2_s"]


def compile_hotspot(scenario: HotspotScenario):
    """Check the scenario against its map (the crowd checks, and that each hotspot is one stairway
    whose ends meet the network); returns the network's compiled arrays."""
    import numpy as np

    from .coupling import stair_ends
    from .errors import GeometryError
    from .schema import hotspot_zone_name

    net_scenario = scenario.network_scenario()
    arrays = compile_crowd(net_scenario)
    problems = []
    for name in scenario.hotspots:
        z = arrays.zone_names.index(hotspot_zone_name(name))
        try:
            ends, _ = stair_ends(arrays, np.flatnonzero(arrays.net.cell_zone == z), name)
        except GeometryError as exc:
            problems.extend(exc.problems)
            continue
        dt = scenario.hotspots[name].dt_s
        if abs(round(arrays.dt_s / dt) * dt - arrays.dt_s) > 1e-9:
            problems.append(f"hotspots.{name}.dt_s: simulation.dt_s ({arrays.dt_s!r}) must be a whole number of "
                            f"area steps, got {dt!r}")
        for k, nodes in enumerate(arrays.source_nodes):
            if np.isin(nodes, list(ends.values())).any():
                problems.append(f"sources.{k}.nodes: a source at an end of hotspot {name!r}; put it on a way "
                                f"leading there")
    if problems:
        raise ScenarioError(scenario.source_path, problems)
    return arrays


def _build_run(scenario: HotspotScenario, seed: int | None = None, plans=None):
    from .model import HotspotModel

    if plans:
        raise SimError("--plan applies to scenarios with plans (traffic, bikes), not to hotspot scenarios")
    arrays = compile_hotspot(scenario)
    return HotspotModel(scenario, seed=seed, arrays=arrays)


def _describe(scenario: HotspotScenario, run) -> str:
    return (f"{scenario.name}: {run.engine.n_agents:,} people, {run.n_steps:,} steps of "
            f"{scenario.simulation.dt_s:g} s; hotspots {', '.join(scenario.hotspots)} in 2D")


def format_table(summary: dict) -> str:
    lines = [crowd_kpis.format_table(summary), ""]
    head = f"{'hotspot / area':<30}{'max local p/m2':>15}{'max N/A p/m2':>13}{'s > 4':>8}{'s > 5':>8}"
    lines += [head, "-" * len(head)]
    for name, h in summary.get("hotspots", {}).items():
        lines.append(f"{name + ' (' + h['separation'] + ')':<30}{h['max_local_density_ppm2']:>15.2f}"
                     f"{'':>13}{'':>8}{'':>8}")
        for area, v in h["areas"].items():
            lines.append(f"  {area:<28}{v['max_local_density_ppm2']:>15.2f}{v['max_classic_density_ppm2']:>13.2f}"
                         f"{v['time_above_4_ppm2_s']:>8.0f}{v['time_above_5_ppm2_s']:>8.0f}")
        lines.append(f"  went in {h['handed_in']:,}, came out {h['handed_out']:,}, inside at end {h['inside_at_end']:,}"
                     f", most inside {h['max_inside']:,}, most queued at its entries {h['max_entry_queue']:,}, "
                     f"2D wall {h['wall_s']:.1f} s")
    return "\n".join(lines)


def kpi_columns(scenario: HotspotScenario) -> list[str]:
    cols = crowd_kpis.kpi_columns(scenario.network_scenario())
    for name, spec in scenario.hotspots.items():
        cols += [f"hotspot.{name}.{k}" for k in HOTSPOT_KPIS]
        areas = [f"flight_{k + 1}" for k in range(len(spec.flights_m))]
        areas += [f"landing_{k + 1}" for k in range(len(spec.landings_m))] + ["stairs", "foot_apron", "top_apron"]
        cols += [f"hotspot.{name}.{a}.{k}" for a in areas for k in AREA_KPIS]
    return cols


def flatten_kpis(summary: dict) -> dict:
    row = crowd_kpis.flatten_kpis(summary)
    for name, h in summary.get("hotspots", {}).items():
        row.update({f"hotspot.{name}.{k}": h[k] for k in HOTSPOT_KPIS})
        for area, v in h["areas"].items():
            row.update({f"hotspot.{name}.{area}.{k}": v[k] for k in AREA_KPIS})
    return row


KIND = ScenarioKind(
    name="hotspot", schema=HotspotScenario, build_run=_build_run, compile_check=compile_hotspot,
    describe_run=_describe, format_table=format_table, kpi_columns=kpi_columns, flatten_kpis=flatten_kpis,
    risk_flags=crowd_kpis.risk_flags, risk_table=crowd_kpis.risk_table)
