"""The tunnel controller (Mesa agent): runs a phase plan, launches escorted bicycle convoys."""

from __future__ import annotations

from dataclasses import dataclass

import mesa
import numpy as np

from .compile import convoy_traverse_s
from .kernels import tube_order_check

__all__ = ["TunnelController", "PHASES", "Convoy", "PhaseRecord"]

#: Tunnel phases: motor traffic; closed, emptying of motor vehicles; convoys; closed after convoys.
PHASES = ("motor", "clear_to_convoy", "convoy", "clear_to_motor")


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
        self._check_out = np.zeros(3, dtype=np.int64)
        self._lead = np.zeros(self.n_tubes)
        self._closer = np.zeros(self.n_tubes)
        self._convoy_on = np.zeros(self.n_tubes, dtype=bool)
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
    def first_violation(self) -> str | None:
        """The first safety invariant broken now, or None: no motor vehicle in a tube (ramps
        included) during a convoy phase; every bicycle in a tube rides behind its convoy's lead car
        and ahead of its closing car (or the closing car is still to come).  Checked every step of
        every run (a Numba pass over the vehicles on the road, only while bicycles are in a tube)."""
        engine = self.model.engine
        if self.phase == "convoy" and engine.motor_in_tubes:
            g = int(np.flatnonzero(engine.tube_inside[:, 0])[0])
            return f"motor vehicle in tube {g} ({engine.arrays.tubes[g].portal_label}) during a convoy phase"
        if not engine.bikes_in_tubes:
            return None
        a = engine.arrays
        lead, closer, convoy_on = self._lead, self._closer, self._convoy_on
        lead.fill(-np.inf)
        closer.fill(np.nan)
        convoy_on.fill(False)
        if self.phase == "convoy":
            for g, convoy in self.current.items():
                convoy_on[g] = True
                lead[g] = self._tube_position(engine, convoy.lead, g)
                if convoy.closer is not None:
                    closer[g] = self._tube_position(engine, convoy.closer, g)
                elif convoy.state != "release" and engine.tube_inside[g, 1] > 0:
                    return f"bicycles in tube {g} ({a.tubes[g].portal_label}) with no closing car to come"
        out = self._check_out
        bad = tube_order_check(engine.active, engine.n_active, engine.veh_state, engine.veh_edge, engine.veh_pos,
                               engine.veh_cls, a.cls_is_bike, a.cls_is_escort, a.edge_tube, a.edge_tube_offset_m,
                               lead, closer, convoy_on, out)
        if bad == 0:
            return None
        kind, g, i = int(out[0]), int(out[1]), int(out[2])
        what = {1: "outside a convoy phase", 2: "not behind the convoy's lead car",
                3: "behind the convoy's closing car"}[kind]
        return (f"{bad} bicycle(s) in tube {g} ({a.tubes[g].portal_label}) {what} (first: vehicle {i} at "
                f"{a.edge_tube_offset_m[engine.veh_edge[i]] + engine.veh_pos[i]:.0f} m from the portal)")

    @staticmethod
    def _tube_position(engine, i: int, g: int) -> float:
        """Like :meth:`TrafficEngine.tube_position_m`, from the precomputed edge offsets."""
        if engine.veh_tube_done[i]:
            return np.inf
        e = int(engine.veh_edge[i])
        if engine.veh_state[i] != 2 or e < 0 or engine.arrays.edge_tube[e] != g:
            return -np.inf
        return float(engine.arrays.edge_tube_offset_m[e] + engine.veh_pos[i])

    def violations(self) -> list[str]:
        """The invariant broken now, as a list (empty when all hold); see :meth:`first_violation`."""
        problem = self.first_violation()
        return [] if problem is None else [f"t={self.model.engine.t_s:.1f}s: {problem}"]

    def phase_seconds(self, end_s: float) -> dict[str, float]:
        out = {p: 0.0 for p in PHASES}
        for rec in self.history:
            out[rec.phase] += (rec.end_s if rec.end_s is not None else end_s) - rec.start_s
        return out
