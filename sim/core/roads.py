"""The road graph: directed edges for motor vehicles and bicycles, with lanes, in CSR form."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors import MapError
from .osm import ROAD_HIGHWAYS, Network, parse_width_m

__all__ = ["RoadGraph", "build_road_graph", "ROAD_BIKE_LANES", "ROAD_PRIORITY"]

#: Single-file bicycle lanes in a road's non-motorised lane (about 2.5 m; HCM 2000: ~1 m each).
ROAD_BIKE_LANES = 2
#: Rank of a road class at unsignalised junctions: vehicles from higher-ranked roads go first.
ROAD_PRIORITY = {"motorway": 7, "trunk": 6, "primary": 5, "secondary": 4, "tertiary": 3,
                 "unclassified": 2, "residential": 2, "living_street": 1, "service": 1}


@dataclass(frozen=True)
class RoadGraph:
    """Directed road edges for vehicles, in CSR form (out- and in-edges per node).

    Edge ``e`` runs ``edge_from[e] -> edge_to[e]`` along Network link ``edge_link[e]``.  It has
    ``motor_lanes[e]`` lanes for motor vehicles (0: closed to them in this direction) and, where
    bicycles may ride, ``bike_lanes[e]`` single-file bicycle lanes of about 1 m (HCM 2000, docs/sources.md):
    Shanghai's roads have a separate non-motorised lane of about 2.5 m, taken as two; cycleways
    and paths get one per metre of ``width`` (default one, at most three).  Node indices are
    :class:`Network` node indices.
    """

    network: Network
    edge_link: np.ndarray         # int32
    edge_from: np.ndarray         # int32
    edge_to: np.ndarray           # int32
    length_m: np.ndarray          # float64
    motor_lanes: np.ndarray       # int16
    bike_lanes: np.ndarray        # int16: single-file bicycle lanes (0: no bicycles)
    speed_limit_mps: np.ndarray   # float64
    tunnel: np.ndarray            # bool
    priority: np.ndarray          # int8 (ROAD_PRIORITY of the road class)
    heading_rad: np.ndarray       # float64: direction of travel where the edge ends
    out_start: np.ndarray         # int32 CSR over edge_from
    out_edges: np.ndarray
    in_start: np.ndarray          # int32 CSR over edge_to
    in_edges: np.ndarray
    node_signal: np.ndarray       # bool: node tagged highway=traffic_signals

    @property
    def n_edges(self) -> int:
        return int(self.edge_from.shape[0])

    @property
    def n_nodes(self) -> int:
        return self.network.n_nodes

    @property
    def bike_lane(self) -> np.ndarray:
        """Whether bicycles may ride the edge."""
        return self.bike_lanes > 0

    def edges_named(self, name: str) -> np.ndarray:
        """Edges whose link's ``name`` or ``name:en`` tag equals ``name`` (case-insensitive)."""
        want = name.strip().lower()
        net = self.network
        hits = [e for e, link in enumerate(self.edge_link)
                if want in (net.link_tags[link].get("name", "").lower(),
                            net.link_tags[link].get("name:en", "").lower())]
        return np.asarray(hits, dtype=np.int32)


def _end_heading(xy: np.ndarray, forward: bool) -> float:
    """Heading (rad, counter-clockwise from east) of travel at the end of a polyline."""
    a, b = (xy[-2], xy[-1]) if forward else (xy[1], xy[0])
    return float(math.atan2(b[1] - a[1], b[0] - a[0]))


def _csr(keys: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(keys, kind="stable").astype(np.int32)
    start = np.zeros(n + 1, dtype=np.int32)
    start[1:] = np.cumsum(np.bincount(keys, minlength=n))
    return start, order


def build_road_graph(net: Network) -> RoadGraph:
    """Directed edges for every direction of a link that motor vehicles or bicycles may use.

    Bicycles keep to one-way restrictions; bicycle-only ways (cycleways, paths with bicycle=yes)
    are two-way.
    """
    rows: list[tuple] = []
    for link in range(net.n_links):
        highway = net.highway[link].replace("_link", "")
        fwd_drive, bwd_drive = bool(net.drive_forward[link]), bool(net.drive_backward[link])
        bike = bool(net.bike[link])
        motor_only_roads = fwd_drive or bwd_drive
        for forward in (True, False):
            drive = fwd_drive if forward else bwd_drive
            bike_dir = bike and (drive or not motor_only_roads)
            if not (drive or bike_dir):
                continue
            lanes = int(net.lanes_forward[link] if forward else net.lanes_backward[link]) if drive else 0
            if drive:
                lanes = max(lanes, 1)
            u, v = (net.link_u[link], net.link_v[link]) if forward else (net.link_v[link], net.link_u[link])
            if not bike_dir:
                bike_lanes = 0
            elif drive or highway in ROAD_HIGHWAYS:
                bike_lanes = ROAD_BIKE_LANES
            else:
                width = parse_width_m(net.link_tags[link].get("width"))
                bike_lanes = min(3, max(1, int(width))) if width else 1
            rows.append((link, int(u), int(v), lanes, bike_lanes, ROAD_PRIORITY.get(highway, 1),
                         _end_heading(net.link_geometry_xy[link], forward)))
    if not rows:
        raise MapError(f"map {net.name!r} has no roads or cycleways: nothing for vehicles to drive on")
    link = np.array([r[0] for r in rows], dtype=np.int32)
    edge_from = np.array([r[1] for r in rows], dtype=np.int32)
    edge_to = np.array([r[2] for r in rows], dtype=np.int32)
    out_start, out_edges = _csr(edge_from, net.n_nodes)
    in_start, in_edges = _csr(edge_to, net.n_nodes)
    node_signal = np.array([tags.get("highway") == "traffic_signals" for tags in net.node_tags], dtype=bool)
    return RoadGraph(
        network=net, edge_link=link, edge_from=edge_from, edge_to=edge_to,
        length_m=net.length_m[link].astype(np.float64),
        motor_lanes=np.array([r[3] for r in rows], dtype=np.int16),
        bike_lanes=np.array([r[4] for r in rows], dtype=np.int16),
        speed_limit_mps=net.speed_limit_mps[link].astype(np.float64),
        tunnel=net.tunnel[link].copy(),
        priority=np.array([r[5] for r in rows], dtype=np.int8),
        heading_rad=np.array([r[6] for r in rows], dtype=np.float64),
        out_start=out_start, out_edges=out_edges, in_start=in_start, in_edges=in_edges,
        node_signal=node_signal,
    )
