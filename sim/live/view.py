"""What an operations view reads from a live twin's folder (the app's Live page, or a notebook):
the twin's status, the latest forecast per zone, the warnings with their lead time, the counts
against the twin's band, the what-ifs, and each cell's level of service now and ahead.

Everything here is read from the files the twin writes as it goes (:mod:`sim.live.twin`), so a view
can follow a twin running in another process; a file being written is read up to its last whole row.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.paths import SCENARIO_DIR
from ..core.schema import validate_as
from ..crowd.schema import CrowdScenario

__all__ = ["LiveView", "read_live", "live_scenarios"]


def _csv(path: Path) -> pd.DataFrame:
    if not path.exists():
        return pd.DataFrame()
    text = path.read_text(encoding="utf-8")
    if not text.endswith("\n"):                 # a row being written: up to the last whole one
        text = text[: text.rfind("\n") + 1]
    try:
        return pd.read_csv(io.StringIO(text)) if text.strip() else pd.DataFrame()
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


def _minutes(seconds) -> float | None:
    return None if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)) else round(seconds / 60.0, 1)


@dataclass
class LiveView:
    """A live twin's folder, read once (call :func:`read_live` again to refresh)."""

    folder: Path
    status: dict
    scenario: CrowdScenario | None
    forecast: pd.DataFrame
    alerts: pd.DataFrame
    observations: pd.DataFrame
    cycles: pd.DataFrame
    cells: pd.DataFrame

    @property
    def t_s(self) -> float:
        return float(self.status.get("t_s", 0.0))

    @property
    def zones(self) -> list[str]:
        return list(self.status.get("zones", []))

    @property
    def issued_s(self) -> float | None:
        """The time of the latest forecast (as is)."""
        if self.forecast.empty:
            return None
        as_is = self.forecast[self.forecast["measure"] == "none"]
        return float(as_is["issued_s"].max()) if not as_is.empty else None

    def latest(self, measure: str = "none") -> pd.DataFrame:
        """Rows of the latest forecast of ``measure`` (``none``: as is)."""
        if self.forecast.empty:
            return self.forecast
        rows = self.forecast[self.forecast["measure"] == measure]
        return rows[rows["issued_s"] == rows["issued_s"].max()] if not rows.empty else rows

    def risk_rows(self) -> list[dict]:
        """Per zone, from the latest forecast as is: occupancy now and at the horizon (median and
        p5-p95), P(cap within 10/20/30 min), the expected time to the cap, P(LOS E / F)."""
        latest = self.latest()
        out = []
        for zone in self.zones:
            rows = latest[latest["zone"] == zone]
            if rows.empty:
                continue
            now, end = rows.iloc[0], rows.iloc[-1]
            out.append({"zone": zone, "cap": None if pd.isna(now["cap"]) else int(now["cap"]),
                        "occupancy_now": int(round(now["occupancy_p50"])),
                        f"occupancy_in_{int(end['lead_min'])}_min": int(round(end["occupancy_p50"])),
                        "p5_p95": f"{end['occupancy_p5']:,.0f} - {end['occupancy_p95']:,.0f}",
                        "p_cap_10min": now["p_cap_10min"], "p_cap_20min": now["p_cap_20min"],
                        "p_cap_30min": now["p_cap_30min"],
                        "expected_time_to_cap_min": _minutes(now["expected_time_to_cap_s"]),
                        "p_los_e": now["p_los_e"], "p_los_f": now["p_los_f"]})
        return out

    def alert_rows(self) -> list[dict]:
        """Warnings raised and cleared, newest first, with their lead time in minutes."""
        if self.alerts.empty:
            return []
        rows = self.alerts.sort_values("issued_s", ascending=False, kind="stable")
        return [{"minute": round(r["issued_s"] / 60.0, 1), "zone": r["zone"], "event": r["event"],
                 "status": r["status"], "probability": r["probability"],
                 "lead_time_min": _minutes(r["lead_time_s"]), "message": r["message"]} for _, r in rows.iterrows()]

    def whatif_rows(self) -> list[dict]:
        """Per measure and zone: P(cap) and P(LOS F) with the measure and as is, on the same members."""
        whatif = self.status.get("whatif") or {}
        as_is = whatif.get("as_is", {})
        out = []
        for name, entry in (whatif.get("measures") or {}).items():
            for zone, risk in entry.get("zones", {}).items():
                base = as_is.get(zone, {})
                out.append({"measure": entry.get("label", name), "applies_now": entry.get("applied", True),
                            "zone": zone, "p_cap": risk.get("cap"), "p_cap_as_is": base.get("cap"),
                            "p_los_f": risk.get("los_f"), "p_los_f_as_is": base.get("los_f"),
                            "time_to_cap_min": _minutes(risk.get("time_cap_s"))})
        return out

    def fan(self, zone: str, measure: str = "none") -> pd.DataFrame:
        """The latest forecast's fan of ``zone``: minute, occupancy p5/p50/p95, densest cell p5/p50/p95."""
        rows = self.latest(measure)
        return rows[rows["zone"] == zone]

    def counts(self, sensor: str) -> pd.DataFrame:
        """A sensor's records and the twin's band (p5, median, p95 before each update)."""
        if self.observations.empty:
            return self.observations
        return self.observations[self.observations["sensor"] == sensor]

    def occupancy_sensor(self, zone: str) -> str | None:
        """The sensor counting ``zone``'s occupancy, if any."""
        if self.scenario is None:
            return None
        for name, spec in self.scenario.sensors.items():
            if spec.kind == "zone_occupancy" and spec.zone == zone:
                return name
        return None

    def cell_densities(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Each cell's walkers' density now and its forecast peak (ensemble medians), or None."""
        if self.cells.empty:
            return None
        cells = self.cells.sort_values("cell")
        return (cells["walk_density_now_ppm2"].to_numpy(float),
                cells["peak_walk_density_forecast_ppm2"].to_numpy(float))


def read_live(folder: str | Path) -> LiveView | None:
    """The live twin's folder as a :class:`LiveView` (None when no twin has written there yet)."""
    folder = Path(folder)
    status_path = folder / "status.json"
    if not status_path.is_file():
        return None
    try:
        status = json.loads(status_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    scenario = None
    scenario_path = folder / "scenario.json"
    if scenario_path.is_file():
        data = json.loads(scenario_path.read_text(encoding="utf-8"))
        scenario = validate_as(CrowdScenario, data, status.get("scenario_path") or str(scenario_path))
    return LiveView(folder=folder, status=status, scenario=scenario, forecast=_csv(folder / "forecast.csv"),
                    alerts=_csv(folder / "alerts.csv"), observations=_csv(folder / "observations.csv"),
                    cycles=_csv(folder / "cycles.csv"), cells=_csv(folder / "cells.csv"))


def live_scenarios(folder: Path = SCENARIO_DIR) -> dict[str, Path]:
    """Shipped crowd scenarios that have ``[sensors]`` (a live twin can follow them), labelled
    ``"name (file)"``."""
    import tomllib

    found = {}
    for path in sorted(Path(folder).glob("*.toml")):
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError):
            continue
        if data.get("kind", "crowd") == "crowd" and data.get("sensors"):
            found[f"{data.get('name', path.stem)} ({path.name})"] = path
    return found
