"""Engine tests: the entry/exit API for coupling, conservation, determinism, routes, empty areas."""

from __future__ import annotations

import time
from unittest import mock

import numba
import numpy as np
import pytest
from shapely.geometry import box

from sim.hotspot import ConservationError, CsmParameters, GeometryError, HotspotGeometry, HotspotSim, ParameterError
from sim.hotspot.scenarios import random_positions, rimea6_corner


def _corridor(**kw) -> HotspotGeometry:
    """A 20 m x 3 m corridor: entry on the west end, exits east and (a door) north."""
    return HotspotGeometry(box(0, 0, 20, 3), entries={"west": ((0, 0), (0, 3))},
                           exits={"east": ((20, 0), (20, 3)), "door": ((12, 3), (11, 3))}, **kw)


def test_insert_only_where_there_is_room_and_keep_the_rest_queued():
    sim = HotspotSim(_corridor(), seed=1)
    first = sim.insert("west", 10, goal="east")
    assert 1 <= first < 10                        # one row of slots along the 3 m entry
    assert sim.insert("west", 10, goal="east") == 0          # no free room right away
    xy = np.column_stack([sim.a.x_m[: sim.n], sim.a.y_m[: sim.n]])
    d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    assert d[np.triu_indices(len(xy), 1)].min() >= 2 * 0.18 + 0.02 - 1e-9
    sim.run(2.0)
    assert sim.insert("west", 10, goal="east") > 0           # the first row has walked on


def test_insert_uses_the_callers_ids_in_order():
    sim = HotspotSim(_corridor(), seed=2)
    queue = [1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008]
    k = sim.insert("west", len(queue), goal="east", ids=queue)
    assert sorted(sim.agents().agent_id.tolist()) == queue[:k]
    with pytest.raises(ParameterError, match=r"ids: expected new unique ids"):
        sim.run(3.0)
        sim.insert("west", 2, goal="east", ids=[1001, 1001])


def test_everyone_is_conserved_under_insertion_and_removal():
    """Independent recount: ids inserted = ids inside + ids reported as removed, at every step."""
    sim = HotspotSim(_corridor(), seed=3)
    queue = list(range(500, 800))
    inserted, removed = set(), {}
    while sim.t_s < 120:
        if queue:
            k = sim.insert("west", min(len(queue), 6), goal=["east"] if len(queue) % 2 else "door", ids=queue[:6])
            inserted.update(queue[:k])
            del queue[:k]
        report = sim.step()
        for name, ids in report.by_exit(sim.geometry.exit_names).items():
            for i in ids.tolist():
                assert i not in removed
                removed[i] = name
        inside = set(sim.agents().agent_id.tolist())
        assert inserted == inside | set(removed) and not (inside & set(removed))
        assert sim.inserted_total == len(inserted) and sim.removed_total == len(removed)
    sim.check_invariants()
    assert not queue and len(removed) > 200
    assert set(removed.values()) == {"east", "door"}


def test_lost_agent_raises_conservation_error():
    sim = HotspotSim(_corridor(), seed=4)
    sim.insert("west", 5, goal="east")
    sim.a.agent_id[sim.n - 1] = -1               # someone vanishes from the buffers
    with pytest.raises(ConservationError, match=r"conservation broken at t=.*inserted 5 != inside 4"):
        sim.step()
    assert issubclass(ConservationError, ValueError)


def test_duplicate_id_is_caught_by_the_full_check():
    sim = HotspotSim(_corridor(), seed=4)
    sim.insert("west", 3, goal="east")
    sim.a.agent_id[1] = sim.a.agent_id[0]
    with pytest.raises(ConservationError, match="duplicate agent ids"):
        sim.check_invariants()


def test_empty_area_costs_nothing():
    sim = HotspotSim(_corridor(), seed=5)
    with mock.patch("sim.hotspot.engine.csm_step", side_effect=AssertionError("kernel called")), \
            mock.patch("sim.hotspot.engine.build_grid", side_effect=AssertionError("grid built")):
        t0 = time.perf_counter()
        for _ in range(2000):
            report = sim.step()
        elapsed = time.perf_counter() - t0
    assert report.exited_id.size == 0 and sim.t_s == pytest.approx(2000 * sim.params.dt_s)
    assert elapsed < 0.2                          # about 1-3 microseconds a step


def _trajectory(seed: int, threads: int, steps: int = 300) -> np.ndarray:
    g, start = rimea6_corner()
    sim = HotspotSim(g, CsmParameters(), seed=seed, num_threads=threads)
    pos = random_positions(start, 20, np.random.default_rng(seed))
    sim.add_agents(pos[:, 0], pos[:, 1], goal="out")
    frames = []
    for _ in range(steps):
        sim.step()
        v = sim.agents()
        order = np.argsort(v.agent_id)
        frames.append(np.column_stack([v.agent_id[order], v.x_m[order], v.y_m[order]]))
    return np.concatenate(frames)


def test_same_seed_same_trajectories():
    assert np.array_equal(_trajectory(7, 1), _trajectory(7, 1))
    assert not np.array_equal(_trajectory(7, 1), _trajectory(8, 1))


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 Numba threads")
def test_thread_count_does_not_change_trajectories():
    assert np.array_equal(_trajectory(9, 1), _trajectory(9, 2))


def test_bigger_crowd_same_with_one_and_two_threads():
    """Same check with enough agents for several parallel chunks (64 agents each)."""
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs 2 Numba threads")
    out = []
    for threads in (1, 2):
        g = HotspotGeometry(box(0, 0, 20, 10), exits={"e": ((20, 0), (20, 10))})
        sim = HotspotSim(g, seed=1, num_threads=threads)
        pos = random_positions(box(0, 0, 12, 10), 300, np.random.default_rng(1))
        sim.add_agents(pos[:, 0], pos[:, 1], goal="e")
        sim.run(5.0)
        out.append(np.column_stack([sim.a.agent_id[: sim.n], sim.a.x_m[: sim.n], sim.a.y_m[: sim.n]]))
    assert np.array_equal(out[0], out[1])


def test_route_through_a_waypoint():
    """Agents heading for the east exit via a way point near the north-west corner go there first."""
    g = HotspotGeometry(box(0, 0, 20, 10), exits={"east": ((20, 0), (20, 10))},
                        waypoints={"nw": ((4, 9), (5, 9))})
    sim = HotspotSim(g, seed=1)
    ids = sim.add_agents([1.0, 1.0, 2.0], [1.0, 2.0, 1.5], goal=["nw", "east"])
    max_y = {int(i): 0.0 for i in ids}
    while sim.n and sim.t_s < 60:
        sim.step()
        for i, y in zip(sim.a.agent_id[: sim.n], sim.a.y_m[: sim.n]):
            max_y[int(i)] = max(max_y[int(i)], y)
    assert sim.removed_total == 3
    assert min(max_y.values()) > 9.0 - sim.params.waypoint_reach_m - 0.05


def test_periodic_positions_wrap():
    g = HotspotGeometry(box(0, 0, 10, 2), directions={"east": (1, 0)}, periodic_x=True)
    sim = HotspotSim(g, seed=1)
    sim.add_agents([9.9], [1.0], goal="east", free_speed_mps=1.0)
    sim.run(1.0)
    assert 0.0 <= sim.a.x_m[0] < 1.0 and sim.n == 1


def test_add_agents_reports_every_problem():
    g = HotspotGeometry(box(0, 0, 10, 4), exits={"e": ((10, 0), (10, 4))})
    sim = HotspotSim(g)
    with pytest.raises(GeometryError) as err:
        sim.add_agents([-1.0, 0.1, 5.0, 5.1], [1.0, 2.0, 2.0, 2.0], goal="e")
    text = str(err.value)
    assert "1 position(s) outside the area" in text and "closer than one radius to a wall" in text
    assert "1 pair(s) of agents overlap" in text and len(err.value.problems) == 3
    with pytest.raises(GeometryError, match=r"goal: unknown goal 'nowhere'"):
        sim.add_agents([5.0], [2.0], goal="nowhere")
    with pytest.raises(ParameterError, match=r"free_speed_mps: expected \(0, 3.0\] m/s, got \[5.0\]"):
        sim.add_agents([5.0], [2.0], goal="e", free_speed_mps=5.0)


def test_step_report_by_exit():
    sim = HotspotSim(_corridor(), seed=6)
    ids = sim.add_agents([19.85, 11.5], [1.5, 2.8], goal=["east"], free_speed_mps=1.5)
    sim.a.goal[1] = sim.geometry.goal_index("door")
    left = {}
    for _ in range(40):
        left.update({k: v.tolist() for k, v in sim.step().by_exit(sim.geometry.exit_names).items()})
    assert left == {"east": [int(ids[0])], "door": [int(ids[1])]}
