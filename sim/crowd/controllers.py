"""Crowd controller agents (Mesa): zone gates with a cap and the crowd-management measures (cordons,
metered and alternately opened entrances, one-way ways), and the show's release.

Controllers act at the start of each step on the state the previous step left, through the
engine's control methods; they never move pedestrians themselves.  :func:`build_controllers` makes
the ones a scenario asks for (the engine's model and the plain-Python reference use the same).
"""

from __future__ import annotations

import math

import mesa
import numpy as np

from .kernels import max_per_group

__all__ = ["ZoneGate", "OneWayController", "ShowController", "build_controllers"]


class ZoneGate(mesa.Agent):
    """Opens and closes every entrance of one zone.

    Closed while any of: the zone holds ``cap`` people (reopening at or below ``reopen_at``:
    hysteresis); the time is outside its ``open_windows`` (alternately opened entrances); a zone
    in ``close_while_full`` has its gates closed at its cap (a cordon that holds people further
    out); ``inside_cap`` people or more are on the map (a district cordon; reopens at or below
    ``inside_reopen_at``).  Metering (``meter_pps``) and who is held (``gate = "inbound"``) act in
    the kernels.  People held back queue at the entrances; routes that refresh from congestion send
    newcomers to shorter queues, those held past ``divert_after_s`` look for a spot elsewhere and
    those who wait past their patience go home."""

    def __init__(self, model: "mesa.Model", zone_index: int, zone_name: str, cap: int | None, reopen_at: int,
                 open_windows=(), close_while_full=(), inside_cap: int | None = None,
                 inside_reopen_at: int | None = None):
        super().__init__(model)
        self.zone_index = zone_index
        self.zone_name = zone_name
        self.cap = cap
        self.reopen_at = reopen_at
        self.open_windows = [tuple(w) for w in open_windows]
        self.close_while_full = list(close_while_full)
        self.inside_cap = inside_cap
        self.inside_reopen_at = inside_reopen_at
        self.cap_open = True            # by its own cap only (what close_while_full reads)
        self.inside_open = True
        self.is_open = True
        self.closures = 0
        self.closed_seconds = 0.0

    def step(self) -> None:
        engine = self.model.engine
        t = engine.t_s
        if self.cap is not None:
            occupancy = int(engine.zone_occupancy[self.zone_index])
            if self.cap_open and occupancy >= self.cap:
                self.cap_open = False
            elif not self.cap_open and occupancy <= self.reopen_at:
                self.cap_open = True
        if self.inside_cap is not None:
            inside = int(engine.on_network)
            if self.inside_open and inside >= self.inside_cap:
                self.inside_open = False
            elif not self.inside_open and inside <= self.inside_reopen_at:
                self.inside_open = True
        in_window = not self.open_windows or any(start <= t < end for start, end in self.open_windows)
        held = any(not self.model.gates[name].cap_open for name in self.close_while_full)
        is_open = self.cap_open and self.inside_open and in_window and not held
        if self.is_open and not is_open:
            self.closures += 1
        self.is_open = is_open
        engine.set_gate(self.zone_index, is_open)
        if not is_open:
            self.closed_seconds += engine.arrays.dt_s


class OneWayController(mesa.Agent):
    """Puts the scenario's one-way ways in force and lifts them at their times (``from_s``,
    ``until_s``): routes then weigh walking against the direction with a prohibitive penalty, so
    nobody does while a way round exists."""

    def __init__(self, model: "mesa.Model"):
        super().__init__(model)
        self.active = None

    def step(self) -> None:
        from .compile import one_way_penalty_s

        engine = self.model.engine
        penalty = one_way_penalty_s(engine.arrays, self.model.scenario, engine.t_s)
        active = tuple(np.flatnonzero(penalty).tolist())
        if active != self.active:
            if self.active is not None:           # the engine starts with the penalties of t = 0
                engine.set_edge_penalty(penalty)
            self.active = active


def build_controllers(model: "mesa.Model") -> tuple[dict[str, ZoneGate], OneWayController | None,
                                                     "ShowController | None"]:
    """The controllers ``model.scenario`` asks for, acting on ``model.engine``: a gate per zone with a
    cap or a measure, one for the one-way ways, and the show's release."""
    scenario, a = model.scenario, model.engine.arrays
    gates: dict[str, ZoneGate] = {}
    model.gates = gates                               # close_while_full reads the others
    for z, (name, spec) in enumerate(scenario.zones.items()):
        if not spec.controlled:
            continue
        inside_reopen = None if spec.inside_cap is None else math.floor(spec.inside_cap * spec.reopen_fraction)
        gates[name] = ZoneGate(model, z, name, spec.cap, int(a.zone_reopen[z]) if spec.cap is not None else -1,
                               spec.open_windows, spec.close_while_full, spec.inside_cap, inside_reopen)
    one_way = OneWayController(model) if scenario.one_way else None
    show = scenario.show
    show_controller = None if show is None else ShowController(
        model, show.end_s, a.release_times_s, show.release_rate_pps, show.release_hold_density_ppm2,
        show.release_max_hold_s, show.release_hold_scope)
    return gates, one_way, show_controller


class ShowController(mesa.Agent):
    """Ends arrivals when the show ends and sends the crowd home in release groups (staged release:
    one section of the promenade after another, ``release_interval_s`` apart).

    Three ways: each group at once at its time; metered (``release_rate_pps`` in all, group after
    group); or marshalled (``hold_density_ppm2``): every group whose time has come leaves at up to
    ``release_rate_pps`` in parallel, held while the people *walking* in its section (not those
    still standing or waiting in a queue: the walkers' density in the ground left to them) reach
    the hold density somewhere (in its section, or with ``hold_scope = "map"`` anywhere on the map,
    the streets they leave by included), as stewards hold a section until the way to the stairs has
    cleared; no hold lasts longer than ``max_hold_s`` (people will not wait for ever), after which
    the group leaves at the metered rate until the watched cells clear."""

    def __init__(self, model: "mesa.Model", end_s: float, release_times_s, release_rate_pps: float | None = None,
                 hold_density_ppm2: float | None = None, max_hold_s: float = 600.0, hold_scope: str = "section"):
        super().__init__(model)
        self.end_s = end_s
        self.release_times_s = list(release_times_s)
        self.release_rate_pps = release_rate_pps
        self.hold_density_ppm2 = hold_density_ppm2
        self.max_hold_s = max_hold_s
        self.hold_scope = hold_scope
        self.ended = False
        self.released = [0] * len(self.release_times_s)     # people released per group
        self.held_seconds = [0.0] * len(self.release_times_s)
        self._budget = 0.0
        self._group_budget = [0.0] * len(self.release_times_s)
        self._cell_watched_by = None

    def step(self) -> None:
        engine = self.model.engine
        t = engine.t_s
        if t < self.end_s:
            return
        if not self.ended:
            engine.end_arrivals()
            self.ended = True
        if self.release_rate_pps is None:
            for group, when in enumerate(self.release_times_s):
                if t >= when and self.released[group] == 0:
                    self.released[group] = max(1, engine.release_group(group))
            return
        if self.hold_density_ppm2 is not None:
            self._marshalled_step(engine, t)
            return
        # Metered release: a steady number per second, group after group (a group may start only
        # at its release time), so the exits are not swamped.
        self._budget = min(self._budget, 1.0) + self.release_rate_pps * engine.arrays.dt_s
        for group, when in enumerate(self.release_times_s):
            whole = int(self._budget)
            if t < when or whole == 0:
                break
            n = engine.release_group(group, whole)
            self.released[group] += n
            self._budget -= n

    def _marshalled_step(self, engine, t: float) -> None:
        n_groups = len(self.release_times_s)
        if self._cell_watched_by is None:
            # The group each cell is watched for (-1: none); with hold_scope "map" every group watches
            # every cell, so one maximum serves them all.
            groups = engine.arrays.cell_release_group
            zoned = engine.arrays.cell_zone >= 0
            self._cell_watched_by = np.where(zoned, groups, -1).astype(np.int32)
            self._peak_walk_density = np.empty(n_groups)
            self._held_since = [None] * n_groups
        dt = engine.arrays.dt_s
        walk_density = np.asarray(engine.walk_density, dtype=np.float64)
        peak = self._peak_walk_density
        if self.hold_scope == "map":
            peak[:] = walk_density.max() if walk_density.size else -np.inf
        else:
            max_per_group(walk_density, self._cell_watched_by, peak)
        for group, when in enumerate(self.release_times_s):
            if t < when:
                continue
            crowded = bool(peak[group] >= self.hold_density_ppm2)
            since = self._held_since[group]
            if crowded and (since is None or t - since < self.max_hold_s):
                if since is None:
                    self._held_since[group] = t
                self.held_seconds[group] += dt
                self._group_budget[group] = 0.0
                continue
            if not crowded:
                self._held_since[group] = None
            self._group_budget[group] = min(self._group_budget[group], 1.0) + self.release_rate_pps * dt
            whole = int(self._group_budget[group])
            if whole:
                n = engine.release_group(group, whole)
                self.released[group] += n
                self._group_budget[group] -= whole
