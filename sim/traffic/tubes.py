"""Tunnel tubes for the traffic case: see :mod:`sim.core.tunnels` (tubes are map geometry, found
the same way by ``citytwin maps inspect``)."""

from __future__ import annotations

from ..core.tunnels import MAX_TURN_RAD, Tube, branch_offsets, find_tubes, tunnel_names

__all__ = ["Tube", "find_tubes", "tunnel_names", "branch_offsets", "MAX_TURN_RAD"]
