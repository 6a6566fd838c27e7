"""Run the RiMEA scenarios (``scenarios/rimea/*.toml``) step by step and record what the tests read."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sim.crowd.model import CrowdModel
from sim.kinds import load_scenario

RIMEA = Path(__file__).resolve().parents[2] / "scenarios" / "rimea"


@dataclass
class Trace:
    """A finished run: the model, and per step the people who left at each exit node so far."""
    model: CrowdModel
    t_s: np.ndarray                     # time after each step
    exited: dict[str, np.ndarray]       # exit node name -> people out by then

    def out_time_s(self, node: str, share: float = 1.0) -> float:
        """When ``share`` of the people who left by ``node`` had left."""
        series = self.exited[node]
        k = int(np.searchsorted(series, share * series[-1] - 1e-9))
        return float(self.t_s[k])


def run(file: str, overrides: list[str] | None = None, seed: int | None = None, check_every_steps: int = 1,
        until_empty: bool = True) -> Trace:
    """Run ``scenarios/rimea/FILE`` (recounting everyone every step) until all have left."""
    scenario = load_scenario(RIMEA / file, overrides or [])
    model = CrowdModel(scenario, seed=seed, check_every_steps=check_every_steps)
    engine = model.engine
    walk = engine.arrays.walk
    exits = {name: walk.walk_node(walk.network.find_node(name))
             for group in scenario.exits.values() for name in group.nodes}
    times, series = [], {name: [] for name in exits}
    while engine.step_index < model.n_steps:
        model.step()
        times.append(engine.t_s)
        for name, node in exits.items():
            series[name].append(int(engine.nodes.exited[node]))
        if until_empty and engine.inside == 0 and engine.n_active == engine.n_agents:
            break
    return Trace(model, np.asarray(times), {k: np.asarray(v) for k, v in series.items()})
