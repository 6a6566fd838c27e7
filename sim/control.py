"""Controller agents (Mesa): zone gates with a cap and hysteresis, the show's staged release, and
the time-sliced tunnel with its escorted bicycle convoys.

Controllers act at the start of each step on the state the previous step left, through the
engine's control methods; they never move pedestrians or vehicles themselves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import mesa
import numpy as np

from .traffic import convoy_traverse_s

__all__ = ["ZoneGate", "ShowController", "TunnelController", "PHASES", "Van"]

#: Tunnel phases: motor traffic; closed, emptying of motor vehicles; convoys; closed after convoys.
PHASES = ("motor", "clear_to_convoy", "convoy", "clear_to_motor")


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
    still standing) reach the hold density somewhere, as stewards hold a section until the way to
    the stairs has cleared; no hold lasts longer than ``max_hold_s`` (people will not wait for
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
        area = engine.arrays.walk.cell_area_m2
        for group, when in enumerate(self.release_times_s):
            if t < when:
                continue
            cells = self._group_cells[group]
            walking = (engine.cell_count[cells] - engine.cell_standing[cells]) / area[cells] if cells.size else None
            crowded = walking is not None and walking.max() >= self.hold_density_ppm2
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


@dataclass
class Convoy:
    """One escorted convoy through one tube."""
    tube: int
    lead: int
    started_s: float
    closer: int | None = None
    state: str = "lead"            # lead -> release -> closing -> done
    released: int = 0
    done_s: float | None = None


@dataclass
class PhaseRecord:
    phase: str
    start_s: float
    end_s: float | None = None


class TunnelController(mesa.Agent):
    """Runs a tunnel's phase plan (:class:`~sim.scenario.PlanSpec`) on a
    :class:`~sim.traffic.TrafficEngine`.

    * ``motor``: portals open to motor vehicles; bicycles gather in each portal's waiting area.
      A ``fixed`` plan ends it after ``motor_s``; an ``on_demand`` plan once ``trigger_bikes`` wait
      at some portal and ``min_motor_s`` has passed.
    * ``clear_to_convoy``: portals closed to motor vehicles; waits until no motor vehicle is left
      in any tube, and at least ``clearance_s``.  If the tubes have not emptied after three rides
      through at 20 km/h (gridlock behind an exit), the convoy is called off, counted in
      ``aborted_convoys``, and motor traffic resumes.
    * ``convoy``: in each tube a police car leads, then up to ``bikes_per_convoy`` waiting bicycles
      ride in at the escort speed, then a second police car closes.  Release stops in time for the
      closing car to leave the tube by the end of ``convoy_s`` (fixed), or when the waiting area is
      empty (on demand).  The phase ends when every closing car has left its tube.
    * ``clear_to_motor``: ``clearance_s`` more, then motor traffic again.
    """

    def __init__(self, model: "mesa.Model", plan_name: str, plan):
        super().__init__(model)
        self.plan_name = plan_name
        self.plan = plan
        engine = model.engine
        tunnel = engine.arrays.scenario.tunnel
        self.escort_speed_mps = tunnel.escort_speed_kph / 3.6
        self.traverse_s = convoy_traverse_s(engine.arrays)
        self.n_tubes = len(engine.arrays.tubes)
        self.convoys: list[Convoy] = []
        self.aborted_convoys = 0
        # longest wait for the tubes to empty of motor vehicles: three rides through at 20 km/h
        self.max_clear_wait_s = 3.0 * max(t.length_m for t in engine.arrays.tubes) / (20 / 3.6)
        self.current: dict[int, Convoy] = {}
        self.history: list[PhaseRecord] = []
        self.phase = ""
        first = "clear_to_convoy" if plan.first_phase == "convoy" else "motor"
        self._enter(first, engine.t_s)

    # ------------------------------------------------------------------ phases
    def _enter(self, phase: str, t_s: float) -> None:
        if self.history:
            self.history[-1].end_s = t_s
        self.history.append(PhaseRecord(phase, t_s))
        self.phase = phase
        engine = self.model.engine
        announce = engine.arrays.scenario.tunnel.closure_announced
        for g in range(self.n_tubes):
            engine.set_motor_gate(g, phase == "motor", self.expected_closure_s(phase) if announce else 0.0)
            if phase == "convoy":
                engine.set_convoy(g, True)
                convoy = Convoy(g, engine.launch_escort(g), t_s)
                self.current[g] = convoy
                self.convoys.append(convoy)
            elif phase == "clear_to_motor":
                engine.set_convoy(g, False)

    def expected_closure_s(self, phase: str) -> float:
        """How long the portals will stay closed to motor vehicles from the start of ``phase``, as
        told to drivers (fixed plans: the plan; on demand: half the longest convoy phase)."""
        plan = self.plan
        convoy = plan.convoy_s if plan.control == "fixed" else 0.5 * plan.max_convoy_s
        return {"motor": 0.0, "clear_to_convoy": 2 * plan.clearance_s + convoy,
                "convoy": plan.clearance_s + convoy, "clear_to_motor": plan.clearance_s}[phase]

    @property
    def phase_started_s(self) -> float:
        return self.history[-1].start_s

    def _release_window_over(self, t_s: float) -> bool:
        if self.plan.control == "fixed":
            return t_s >= self.phase_started_s + self.plan.convoy_s - self.traverse_s
        return t_s >= self.phase_started_s + self.plan.max_convoy_s - self.traverse_s

    def step(self) -> None:
        engine = self.model.engine
        t = engine.t_s
        plan = self.plan
        elapsed = t - self.phase_started_s
        if self.phase == "motor":
            if plan.control == "fixed":
                if elapsed >= plan.motor_s:
                    self._enter("clear_to_convoy", t)
            elif elapsed >= plan.min_motor_s and max(
                    engine.waiting_bikes(g) for g in range(self.n_tubes)) >= plan.trigger_bikes:
                self._enter("clear_to_convoy", t)
        elif self.phase == "clear_to_convoy":
            if elapsed >= plan.clearance_s and int(engine.tube_inside[:, 0].sum()) == 0:
                self._enter("convoy", t)
            elif elapsed >= plan.clearance_s + self.max_clear_wait_s:
                # gridlock behind the exits keeps motor vehicles in the tube: give up this convoy
                # and let traffic flow again (recorded), rather than wait for ever
                self.aborted_convoys += 1
                self._enter("motor", t)
        elif self.phase == "convoy":
            for g, convoy in self.current.items():
                self._step_convoy(engine, convoy, t)
            if all(c.state == "done" for c in self.current.values()):
                self.current = {}
                self._enter("clear_to_motor", t)
        elif self.phase == "clear_to_motor":
            if elapsed >= plan.clearance_s and int(engine.tube_inside.sum()) == 0:
                self._enter("motor", t)

    def _step_convoy(self, engine, convoy: Convoy, t: float) -> None:
        q = engine.gate_queue[convoy.tube]
        if convoy.state == "lead":
            if engine.veh_state[convoy.lead] == 2:          # the lead car is in the tube
                convoy.state = "release"
                engine.allow_bikes(convoy.tube, self.plan.bikes_per_convoy)
        elif convoy.state == "release":
            convoy.released = self.plan.bikes_per_convoy - int(engine.queue_allow[q])
            stop = (convoy.released >= self.plan.bikes_per_convoy or self._release_window_over(t)
                    or (self.plan.control == "on_demand" and engine.waiting_bikes(convoy.tube) == 0))
            if stop:
                engine.allow_bikes(convoy.tube, 0)
                convoy.closer = engine.launch_escort(convoy.tube)
                convoy.state = "closing"
        elif convoy.state == "closing":
            if engine.veh_tube_done[convoy.closer]:
                convoy.state = "done"
                convoy.done_s = t

    def finish(self, t_s: float) -> None:
        """Close the phase record at the end of the run."""
        if self.history and self.history[-1].end_s is None:
            self.history[-1].end_s = t_s

    # ------------------------------------------------------------------ checks and summaries
    def violations(self) -> list[str]:
        """Safety invariants, checked by the tests every step: no motor vehicle in a tube during a
        convoy phase; every bicycle in a tube rides behind its convoy's lead car and ahead of its
        closing car (or the closing car is still to come)."""
        engine = self.model.engine
        a = engine.arrays
        out = []
        if self.phase == "convoy" and int(engine.tube_inside[:, 0].sum()) > 0:
            out.append(f"t={engine.t_s:.1f}s: motor vehicle in the tunnel during a convoy phase")
        if int(engine.tube_inside[:, 1].sum()) == 0:
            return out
        driving = engine.veh_state == 2
        for g in range(self.n_tubes):
            on_tube = driving & (a.edge_tube[np.maximum(engine.veh_edge, 0)] == g) & (engine.veh_edge >= 0)
            bikes = np.flatnonzero(on_tube & a.cls_is_bike[engine.veh_cls])
            if bikes.size == 0:
                continue
            convoy = self.current.get(g)
            if self.phase != "convoy" or convoy is None:
                out.append(f"t={engine.t_s:.1f}s: {bikes.size} bicycles in tube {g} outside a convoy phase")
                continue
            pos = a.edge_tube_offset_m[engine.veh_edge[bikes]] + engine.veh_pos[bikes]
            lead = engine.tube_position_m(convoy.lead, g)
            if not lead > pos.max():
                out.append(f"t={engine.t_s:.1f}s: a bicycle in tube {g} is not behind the lead car")
            if convoy.closer is None:
                if convoy.state != "release":
                    out.append(f"t={engine.t_s:.1f}s: bicycles in tube {g} with no closing car to come")
            elif not engine.tube_position_m(convoy.closer, g) < pos.min():
                out.append(f"t={engine.t_s:.1f}s: a bicycle in tube {g} is behind the closing car")
        return out

    def phase_seconds(self, end_s: float) -> dict[str, float]:
        out = {p: 0.0 for p in PHASES}
        for rec in self.history:
            out[rec.phase] += (rec.end_s if rec.end_s is not None else end_s) - rec.start_s
        return out


class Van(mesa.Agent):
    """A rebalancing van: works through its planned loads (:func:`sim.bikes.plan_van_trips`) one
    after another: drive to the source pool, load what is there (up to the planned number), drive
    to the target pool, unload what fits.  Travel times and distances come from the road graph."""

    def __init__(self, model: "mesa.Model", index: int, trips: list, depot_place: int):
        super().__init__(model)
        self.index = index
        self.trips = list(trips)
        self.place = depot_place
        self.load = 0
        self.km = 0.0
        self.moved = 0
        self.phase = "idle"
        self.busy_until_s = 0.0
        self._trip = None
        self.max_load = 0

    @property
    def free_at_s(self) -> float:
        """When the van will be free of its current load (for re-planning)."""
        if self.phase == "idle":
            return self.busy_until_s
        a = self.model.engine.arrays
        trip = self._trip
        rest = self.busy_until_s
        if self.phase in ("to_source", "loading"):
            rest += a.van_s[trip.source, trip.target] + trip.bikes * a.scenario.vans.load_s_per_bike
        elif self.phase == "to_target":
            rest += trip.bikes * a.scenario.vans.load_s_per_bike
        return rest

    @property
    def next_place(self) -> int:
        return self._trip.target if self.phase != "idle" and self._trip is not None else self.place

    def step(self) -> None:
        engine = self.model.engine
        a = engine.arrays
        t = engine.t_s
        if t < self.busy_until_s:
            return
        load_s = a.scenario.vans.load_s_per_bike
        if self.phase == "idle":
            if not self.trips:
                return
            self._trip = self.trips.pop(0)
            self.km += a.van_km[self.place, self._trip.source]
            self.busy_until_s = t + a.van_s[self.place, self._trip.source]
            self.phase = "to_source"
        elif self.phase == "to_source":
            self.place = self._trip.source
            room = a.scenario.vans.capacity - self.load
            got = engine.take(self._trip.source, min(self._trip.bikes, room))
            self.load += got
            self.max_load = max(self.max_load, self.load)
            self.busy_until_s = t + got * load_s
            self.phase = "loading"
        elif self.phase == "loading":
            self.km += a.van_km[self.place, self._trip.target]
            self.busy_until_s = t + a.van_s[self.place, self._trip.target]
            self.phase = "to_target"
        elif self.phase == "to_target":
            self.place = self._trip.target
            put = engine.put(self._trip.target, self.load)
            self.load -= put
            self.moved += put
            self.busy_until_s = t + put * load_s
            self.phase = "unloading"
        elif self.phase == "unloading":
            self.phase = "idle"
