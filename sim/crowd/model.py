"""The crowd model (Mesa): the skeleton that owns the crowd engine, its controllers and the data
collection.  The inner loop is :class:`~sim.crowd.engine.CrowdEngine`'s Numba kernels."""

from __future__ import annotations

import mesa
import numpy as np

from ..core.stepping import run_steps
from .compile import CrowdArrays
from .controllers import ZoneGate, build_controllers
from .engine import CrowdEngine
from .kpis import CrowdRecorder, crowd_summary
from .schema import CrowdScenario

__all__ = ["CrowdModel", "TIMESERIES_COLUMNS"]

TIMESERIES_COLUMNS = ["minute", "zone", "occupancy", "mean_density_ppm2", "max_density_ppm2", "gate_queue",
                 "inside_total", "exited_total"]


class CrowdModel(mesa.Model):
    """A crowd scenario as a Mesa model.

    ``TIMESERIES_COLUMNS`` are the columns of :meth:`timeseries_rows`.

    ``seed`` defaults to the scenario's ``simulation.seed``; the model's NumPy ``Generator``
    (``self.rng``) is the only source of randomness, so the same seed gives the same run.
    """

    def __init__(self, scenario: CrowdScenario, seed: int | None = None, arrays: CrowdArrays | None = None,
                 check_every_steps: int | None = None):
        seed_value = scenario.simulation.seed if seed is None else int(seed)
        super().__init__(rng=seed_value)
        self.seed_value = seed_value
        self.scenario = scenario
        self.engine = CrowdEngine(scenario, self.rng, arrays, check_every_steps)
        a = self.engine.arrays
        self.steps_per_minute = max(1, int(round(60.0 / a.dt_s)))
        self.n_steps = int(np.ceil(scenario.simulation.duration_s / a.dt_s))
        self.gates: dict[str, ZoneGate]
        self.gates, self.one_way, self.show = build_controllers(self)
        self.recorder = CrowdRecorder(self.engine, self.n_steps)
        reporters = {"minute": lambda m: m.engine.t_s / 60.0,
                     "inside": lambda m: m.engine.inside,
                     "exited": lambda m: m.engine.exited,
                     "entered": lambda m: m.engine.n_active}
        for z, name in enumerate(a.zone_names):
            reporters[f"{name}.occupancy"] = lambda m, z=z: int(m.engine.zone_occupancy[z])
            reporters[f"{name}.mean_density_ppm2"] = (
                lambda m, z=z: float(m.engine.zone_occupancy[z] / m.engine.arrays.zone_area_m2[z]))
            reporters[f"{name}.max_density_ppm2"] = lambda m, z=z: float(m.engine.zone_max_density[z])
            reporters[f"{name}.gate_queue"] = lambda m, z=z: int(m.engine.zone_gate_queue[z])
        self.datacollector = mesa.DataCollector(model_reporters=reporters)
        self.wall_seconds = 0.0
        self.gate_events: list[tuple[float, str, bool]] = []     # (t_s, zone, open after) per change
        self.datacollector.collect(self)

    def step(self) -> None:
        """Controllers act on the last state, then the engine advances one time step."""
        for gate in self.gates.values():
            was_open = gate.is_open
            gate.step()
            if gate.is_open != was_open:             # for the plots: when each zone's gates closed and reopened
                self.gate_events.append((float(self.engine.t_s), gate.zone_name, bool(gate.is_open)))
        if self.one_way is not None:
            self.one_way.step()
        if self.show is not None:
            self.show.step()
        self.engine.step()
        self.recorder.record(self.engine)
        if self.engine.step_index % self.steps_per_minute == 0:
            self.datacollector.collect(self)

    def run(self, progress: bool = False, callback=None) -> dict:
        """Run to the scenario's end; returns the summary.  ``progress`` shows a tqdm bar;
        ``callback(fraction_done)`` is called once a simulated minute (for the app's progress bar)."""
        self.wall_seconds = run_steps(self, self.scenario.name, progress, callback, lambda: self.engine.inside)
        return self.summary()

    TIMESERIES_COLUMNS = TIMESERIES_COLUMNS

    def summary(self) -> dict:
        return crowd_summary(self)

    def write_files(self, folder, summary: dict) -> list:
        """Result files besides the plots: ``places.geojson`` (every place with its KPIs, WGS84)."""
        from pathlib import Path

        from .geojson import PLACES_GEOJSON, write_places_geojson
        return [write_places_geojson(self, summary, Path(folder) / PLACES_GEOJSON)]

    def write_plots(self, folder) -> list:
        """The crowd plots: zone series against cap and LOS bands, and the peak-density map."""
        from .plots import plot_density_map, plot_zone_series
        return [plot_zone_series(self, folder / "occupancy_density.png"),
                plot_density_map(self, folder / "peak_density_map.png")]

    def timeseries_rows(self) -> list[dict]:
        """One row per minute and zone: occupancy, mean and max density, gate queue (long format)."""
        df = self.datacollector.get_model_vars_dataframe()
        rows = []
        for _, rec in df.iterrows():
            for name in self.engine.arrays.zone_names:
                rows.append({
                    "minute": round(float(rec["minute"]), 3), "zone": name,
                    "occupancy": int(rec[f"{name}.occupancy"]),
                    "mean_density_ppm2": round(float(rec[f"{name}.mean_density_ppm2"]), 4),
                    "max_density_ppm2": round(float(rec[f"{name}.max_density_ppm2"]), 4),
                    "gate_queue": int(rec[f"{name}.gate_queue"]),
                    "inside_total": int(rec["inside"]), "exited_total": int(rec["exited"]),
                })
        return rows
