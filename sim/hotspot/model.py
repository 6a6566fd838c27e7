"""The coupled model: the crowd model on the network with hotspot areas run in two dimensions.

:class:`HotspotModel` is a :class:`~sim.crowd.model.CrowdModel` whose step, after the network step,
runs each hotspot for the same time and exchanges people at its ends (:mod:`.coupling`), then checks
that everyone is accounted for.  Its summary is the crowd summary plus ``hotspots``; its result files
add a density heat map per hotspot, the local density over time (``hotspot_NAME_frames.npz``,
:mod:`.frames`) and the trajectories in PedPy's text format.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..crowd import kernels as K
from ..crowd.compile import CrowdArrays
from ..crowd.model import CrowdModel
from .coupling import NetworkHotspot, check_parked, stair_ends
from .frames import frames_file_name, frames_of, save_frames
from .layout import StairArea, StairLayout
from .osm_areas import stair_outlines
from .params import CsmParameters
from .schema import HotspotScenario, hotspot_zone_name

__all__ = ["HotspotModel", "build_hotspots"]


def build_hotspots(model: CrowdModel, scenario: HotspotScenario) -> dict[str, NetworkHotspot]:
    """One :class:`NetworkHotspot` per ``[hotspots.NAME]``, their zones' gates shut."""
    engine = model.engine
    a = engine.arrays
    crowd = scenario.crowd
    out = {}
    for k, (name, spec) in enumerate(scenario.hotspots.items()):
        z = a.zone_names.index(hotspot_zone_name(name))
        engine.set_gate(z, False)
        cells = np.flatnonzero(a.net.cell_zone == z)
        ends, width = stair_ends(a, cells, name)
        if spec.area_buffer_m is not None:          # drawn from the map's outlines
            walk = a.walk
            foot, top = ends["foot"], ends["top"]
            pieces = stair_outlines(walk.network, np.unique(walk.cell_link[cells]),
                                    (walk.node_x_m[foot], walk.node_y_m[foot]), (walk.node_x_m[top], walk.node_y_m[top]),
                                    spec.area_buffer_m, f"hotspots.{name}.area_buffer_m")
            area = StairArea.from_outlines(pieces, apron_length_m=spec.apron_length_m, apron_width_m=spec.apron_width_m,
                                           separation=spec.separation, barrier_width_m=spec.barrier_width_m,
                                           up_speed_mps=crowd.stairs_up_speed_mps,
                                           down_speed_mps=crowd.stairs_down_speed_mps,
                                           field=f"hotspots.{name}.area_buffer_m")
        else:                                        # laid out along the ways
            area = StairArea.build(StairLayout(
                width_m=spec.width_m or width, flights_m=tuple(spec.flights_m), landings_m=tuple(spec.landings_m),
                apron_length_m=spec.apron_length_m, apron_width_m=max(spec.apron_width_m, spec.width_m or width),
                separation=spec.separation, barrier_width_m=spec.barrier_width_m,
                up_speed_mps=crowd.stairs_up_speed_mps, down_speed_mps=crowd.stairs_down_speed_mps))
        params = CsmParameters(dt_s=spec.dt_s, time_gap_s=spec.time_gap_s, radius_m=spec.radius_m,
                               level_mean_speed_mps=crowd.v0_mps)
        every = int(round(1.0 / (spec.trajectory_fps * spec.dt_s))) if spec.trajectory_fps > 0 else 0
        out[name] = NetworkHotspot(name, engine, z, area, ends, params=params,
                                   seed=model.seed_value * 1009 + k, sample_every_s=spec.sample_every_s,
                                   frame_every_s=spec.frame_every_s,
                                   duration_s=float(scenario.simulation.duration_s),
                                   trajectory_every_steps=max(every, 1) if every else 0,
                                   num_threads=spec.num_threads)
    return out


class HotspotModel(CrowdModel):
    """A hotspot scenario as a Mesa model (see the module docstring)."""

    def __init__(self, scenario: HotspotScenario, seed: int | None = None, arrays: CrowdArrays | None = None,
                 check_every_steps: int | None = None):
        self.hotspot_scenario = scenario
        super().__init__(scenario.network_scenario(), seed=seed, arrays=arrays, check_every_steps=check_every_steps)
        self.hotspots = build_hotspots(self, scenario)

    def step(self) -> None:
        super().step()
        for h in self.hotspots.values():
            h.exchange()
        e = self.engine     # the engine's exit count as its step would have set it, parking included
        e.exited = int(e.counters[K.C_EXITED] + e.counters[K.C_LEFT_FROM_SOURCE])
        check_parked(self.engine, list(self.hotspots.values()))

    def summary(self) -> dict:
        out = super().summary()
        out["hotspots"] = {name: h.summary() for name, h in self.hotspots.items()}
        return out

    def write_files(self, folder, summary: dict) -> list:
        """The crowd files, and per hotspot its density frames (``hotspot_NAME_frames.npz``) and
        trajectories (``trajectories_NAME.txt``, where kept)."""
        files = super().write_files(folder, summary)
        for name, h in self.hotspots.items():
            files.append(save_frames(frames_of(h), Path(folder) / frames_file_name(name)))
            if h.recorder is not None:
                files.append(h.recorder.write(Path(folder) / f"trajectories_{name}.txt",
                                              description=f"citytwin hotspot {name} ({self.scenario.name}); "
                                                          f"x along the stairs from the foot apron, y across"))
        return files

    def write_plots(self, folder) -> list:
        from .plots import plot_hotspot

        files = super().write_plots(folder)
        for name, h in self.hotspots.items():
            files.append(plot_hotspot(h, Path(folder) / f"hotspot_{name}.png", title=f"{self.scenario.name}: {name}"))
        return files
