"""Crowd controller agents (Mesa): zone gates with a cap and hysteresis, and the show's release.

Controllers act at the start of each step on the state the previous step left, through the
engine's control methods; they never move pedestrians themselves.
"""

from __future__ import annotations

import mesa
import numpy as np

__all__ = ["ZoneGate", "ShowController"]

class ZoneGate(mesa.Agent):
    """Closes every entrance of a zone when its occupancy reaches the cap; reopens at or below
    ``reopen_at`` (hysteresis).  People held back queue at the entrances; routes that refresh from
    congestion send newcomers to shorter queues, and those who wait past their patience go home."""

    def __init__(self, model: "mesa.Model", zone_index: int, zone_name: str, cap: int, reopen_at: int):
        super().__init__(model)
        self.zone_index = zone_index
        self.zone_name = zone_name
        self.cap = cap
        self.reopen_at = reopen_at
        self.is_open = True
        self.closures = 0
        self.closed_seconds = 0.0

    def step(self) -> None:
        engine = self.model.engine
        occupancy = int(engine.zone_occupancy[self.zone_index])
        if self.is_open and occupancy >= self.cap:
            self.is_open = False
            self.closures += 1
        elif not self.is_open and occupancy <= self.reopen_at:
            self.is_open = True
        engine.set_gate(self.zone_index, self.is_open)
        if not self.is_open:
            self.closed_seconds += engine.arrays.dt_s


class ShowController(mesa.Agent):
    """Ends arrivals when the show ends and sends the crowd home in release groups (staged release:
    one section of the promenade after another, ``release_interval_s`` apart).

    Three ways: each group at once at its time; metered (``release_rate_pps`` in all, group after
    group); or marshalled (``hold_density_ppm2``): every group whose time has come leaves at up to
    ``release_rate_pps`` in parallel, held while the people *walking* in its section (not those
    still standing or waiting in a queue: the walkers' density in the ground left to them) reach
    the hold density somewhere, as stewards hold a section until the way to the stairs has cleared; no hold lasts longer than ``max_hold_s`` (people will not wait for
    ever), after which the group leaves at the metered rate until its section clears."""

    def __init__(self, model: "mesa.Model", end_s: float, release_times_s, release_rate_pps: float | None = None,
                 hold_density_ppm2: float | None = None, max_hold_s: float = 600.0):
        super().__init__(model)
        self.end_s = end_s
        self.release_times_s = list(release_times_s)
        self.release_rate_pps = release_rate_pps
        self.hold_density_ppm2 = hold_density_ppm2
        self.max_hold_s = max_hold_s
        self.ended = False
        self.released = [0] * len(self.release_times_s)     # people released per group
        self.held_seconds = [0.0] * len(self.release_times_s)
        self._budget = 0.0
        self._group_budget = [0.0] * len(self.release_times_s)
        self._group_cells = None

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
        if self._group_cells is None:
            groups = engine.arrays.cell_release_group
            zoned = engine.arrays.cell_zone >= 0
            self._group_cells = [np.flatnonzero((groups == g) & zoned) for g in range(len(self.release_times_s))]
            self._held_since = [None] * len(self.release_times_s)
        dt = engine.arrays.dt_s
        walk_density = np.asarray(engine.walk_density)
        for group, when in enumerate(self.release_times_s):
            if t < when:
                continue
            cells = self._group_cells[group]
            crowded = cells.size > 0 and walk_density[cells].max() >= self.hold_density_ppm2
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
