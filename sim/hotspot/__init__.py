"""Hotspot model: a two-dimensional microscopic crowd model for places where streams meet (stairs,
landings, squares), to be coupled to the network crowd model.

Pedestrians are discs moved by the collision-free speed model (Tordeux, Chraibi & Seyfried 2016) in
walkable polygons; desired directions come from shortest-route fields, so they go round corners.
See docs/hotspot.md for the equations, parameters, validation and benchmark.

Typical use::

    geometry = HotspotGeometry(area, exits={"north": seg}, entries={"south": seg2})
    sim = HotspotSim(geometry, CsmParameters(), seed=1)
    k = sim.insert("south", queued, goal="north")   # k people went in; keep the rest queued
    report = sim.step()                              # report.exited_id left through report.exited_exit
"""

from .engine import AgentView, HotspotSim, StepReport
from .errors import ConservationError, GeometryError, HotspotError, ParameterError
from .geometry import HotspotGeometry, Stair
from .measure import (CrowdMonitor, classic_density, density_map, flow_from_crossings, mean_speed, voronoi_cells,
                      voronoi_density)
from .params import CsmParameters, draw_free_speeds
from .trajectories import TrajectoryRecorder, read_pedpy_txt, write_pedpy_txt

__all__ = [
    "HotspotSim", "StepReport", "AgentView", "HotspotGeometry", "Stair", "CsmParameters", "draw_free_speeds",
    "HotspotError", "GeometryError", "ParameterError", "ConservationError",
    "CrowdMonitor", "classic_density", "voronoi_cells", "voronoi_density", "density_map", "flow_from_crossings",
    "mean_speed", "TrajectoryRecorder", "write_pedpy_txt", "read_pedpy_txt",
]
