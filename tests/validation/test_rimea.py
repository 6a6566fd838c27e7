"""The RiMEA test cases (RiMEA 3.0, 2016; docs/sources.md) run on the network model.

Geometries: ``maps/rimea.osm`` (``maps/build_rimea_map.py``); scenarios: ``scenarios/rimea/``.  A
network model represents rooms, corridors, doors and stairs as links with a length and a width; each
test says what that cannot represent.  Every run recounts everyone at every step (a lost or doubled
person raises ``ConservationError``).  Results that depend on the draw are checked over seeds.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.crowd import kernels as K
from tests.validation.rimea_runs import run

SEEDS = range(1, 11)


def test_rimea_1_one_person_crosses_40_m_in_26_to_34_s():
    """RiMEA 1: one person at 1.33 m/s walks 40 m of a 2 m corridor; it must arrive within 26-34 s
    (the guideline's window; it starts on a 0.5 m pad before the corridor)."""
    trace = run("test01_corridor.toml")
    assert 26.0 <= trace.out_time_s("T1 exit") <= 34.0


@pytest.mark.parametrize("file, node, low_mps, high_mps", [
    ("test02_stairs_up.toml", "T2 exit", 0.49, 0.67),
    ("test03_stairs_down.toml", "T3 exit", 0.60, 1.01)])
def test_rimea_2_3_stairs_slow_a_walker_by_direction(file, node, low_mps, high_mps):
    """RiMEA 2 and 3: one person up (down) a 10 m flight keeps a constant speed.  The speed is the
    stair speed of the direction: within Fruin's range (1971, via BSI PD 7974-6: up 0.49-0.67 m/s,
    down 0.60-1.01 m/s).  Unit check: the mean stair speeds are this project's inputs (Fruin's
    midpoints); the test shows that a person walking 1.34 m/s on the level is slowed to them."""
    trace = run(file)
    pad_s = 0.5 / 1.34
    speed = 10.0 / (trace.out_time_s(node) - pad_s)
    assert low_mps - 0.05 <= speed <= high_mps + 0.05       # one step (1 s) of rounding in 13-17 s


def test_rimea_5_people_start_at_their_premovement_times():
    """RiMEA 5: ten people in a room 8 m x 5 m start moving at 10, 20, ..., 100 s: each starts within
    one step of its time and nobody before."""
    from sim.kinds import load_scenario
    from sim.crowd.model import CrowdModel
    from tests.validation.rimea_runs import RIMEA

    model = CrowdModel(load_scenario(RIMEA / "test05_premovement.toml"), check_every_steps=1)
    engine = model.engine
    started_at = np.full(10, np.nan)
    while engine.step_index < 110:
        model.step()
        moving = engine.agents.state[:10] != K.WAITING
        started_at[moving & np.isnan(started_at)] = engine.t_s
    assert np.all(np.abs(np.sort(started_at) - np.arange(10, 101, 10) - 1.0) <= 1.0)


def test_rimea_6_twenty_people_turn_a_corner_and_all_arrive():
    """RiMEA 6: twenty people walk round a left corner (two legs of 12 m x 2 m).  A network has no
    walls to cross: the corner is a node, and what the test can check is that everyone arrives,
    no sooner than the 18 m from the start area's far end allow at the fastest free speed."""
    trace = run("test06_corner.toml")
    assert trace.exited["T6 exit"][-1] == 20
    fastest = trace.model.engine.agents.v0_mps.max()
    assert trace.t_s[np.argmax(trace.exited["T6 exit"] > 0)] >= 18.0 / fastest - 1.0


def test_rimea_7_walking_speeds_of_the_age_groups_lie_in_their_ranges():
    """RiMEA 7 (table 1, after Weidmann 1993): people of each group walk at speeds within the group's
    range (under 30: 0.58-1.61, 30-50: 1.41-1.54, over 50: 0.68-1.41, limited mobility: 0.46-0.76
    m/s), measured as 50 m over the time taken on an empty walkway; and the groups' means keep their
    order.  A unit check of the speed draw and of free walking."""
    trace = run("test07_demographics.toml")
    engine = trace.model.engine
    v0 = engine.agents.v0_mps[:200]
    ranges = [(0.58, 1.61), (1.41, 1.54), (0.68, 1.41), (0.46, 0.76)]
    for k, (low, high) in enumerate(ranges):
        group = v0[50 * k: 50 * (k + 1)]
        assert group.min() >= low and group.max() <= high
    means = [v0[50 * k: 50 * (k + 1)].mean() for k in range(4)]
    assert means[1] > means[0] > means[3] and means[1] > means[2] > means[3]


@pytest.mark.parametrize("file, prefix", [("test09a_four_exits.toml", "T9"), ("test09b_four_exits.toml", "T9b")])
def test_rimea_9_closing_two_of_four_exits_about_doubles_the_evacuation_time(file, prefix):
    """RiMEA 9: 1,000 people, a room 30 m x 20 m, four 1 m exits; closing two roughly doubles the
    evacuation time (accepted: 1.6-2.4; the guideline notes doubling may be pessimistic).  Checked
    with the doors on separate nodes (a) and two doors on one node (b): a walker held at a node
    takes the other door there, so (b) empties as fast as (a)."""
    ratios, four = [], []
    for seed in (1, 2, 3):
        t4 = run(file, seed=seed).model.summary()["everyone_out_s"]
        t2 = run(file, [f'exits.doors.nodes=["{prefix} exit 3", "{prefix} exit 4"]'],
                 seed=seed).model.summary()["everyone_out_s"]
        ratios.append(t2 / t4)
        four.append(t4)
    assert all(1.6 <= r <= 2.4 for r in ratios), ratios
    # 4 x 1 m of doors at the level capacity (Weidmann 1.22 p/(m s)) take about 205 s for 1,000.
    assert all(abs(t - 1000 / (4 * 1.2249)) <= 0.1 * 205 for t in four), four


def test_rimea_10_everyone_uses_the_assigned_exit():
    """RiMEA 10: two groups in one room, each assigned an exit: every person leaves by its own."""
    trace = run("test10_assigned_exits.toml")
    assert trace.exited["T11 near exit"][-1] == 100 and trace.exited["T11 far exit"][-1] == 100


def test_rimea_11_both_exits_are_used_and_the_split_lies_between_nearness_and_capacity():
    """RiMEA 11: 300 people, two 1 m doors on one wall 6 m apart; 80% stand nearer the first door.
    The guideline expects most to leave by the nearer door.  In this model walkers weigh the wait in
    the queue at a door against the walk to the other one (4.5 s here), so when both doors are
    saturated they balance the two queues: the split lies between the floor's (80% nearer) and the
    doors' capacities (50%).  Checked over seeds 1-10: the far door is used in every seed and the
    nearer door's share stays within 40-80% (measured after the queue-length change of issue 10:
    45-70%, mean 52%; the engine before it: 47-71%, mean 63%).  A documented difference from the guideline's
    expectation: people here know the other door and its queue (README, 'Known gaps')."""
    shares = []
    for seed in SEEDS:
        trace = run("test11_exit_choice.toml", seed=seed)
        near, far = trace.exited["T11 near exit"][-1], trace.exited["T11 far exit"][-1]
        assert near + far == 300 and far > 0, (seed, near, far)
        shares.append(near / 300)
    assert all(0.4 <= s <= 0.8 for s in shares), shares


def test_rimea_12_a_jam_forms_at_the_first_bottleneck_only():
    """RiMEA 12: 150 people leave room 1 by a 1 m door into a 5 m x 1 m corridor and room 2 with a
    1 m exit: a jam forms before the first door, none at the last (the guideline documents this;
    JuPedSim compares the two flows).  Checked: everyone leaves in every seed; and over 50 people
    wait at the first door while the queue at room 2's exit never holds a tenth of that (momentary
    bunching; measured 138 and 6)."""
    for seed in SEEDS:
        trace = run("test12_two_bottlenecks.toml", seed=seed)
        engine = trace.model.engine
        assert trace.exited["T12 exit"][-1] == 150
    # A longer look at one seed: queues at each door over the run.
    from sim.kinds import load_scenario
    from sim.crowd.model import CrowdModel
    from tests.validation.rimea_runs import RIMEA

    model = CrowdModel(load_scenario(RIMEA / "test12_two_bottlenecks.toml"), check_every_steps=1)
    engine = model.engine
    walk = engine.arrays.walk
    net = walk.network
    first = np.flatnonzero(np.isin(walk.cell_link, net.links_where("name", "T12 room 1")))
    last = np.flatnonzero(np.isin(walk.cell_link, net.links_where("name", "T12 room 2")))
    peak_first = peak_last = 0
    while engine.step_index < 300:
        model.step()
        peak_first = max(peak_first, int(engine.cells.queued[first].sum()))
        peak_last = max(peak_last, int(engine.cells.queued[last].sum()))
    assert peak_first >= 50 and peak_last <= 0.1 * peak_first, (peak_first, peak_last)


def test_rimea_13_a_jam_forms_at_the_stairs_whose_flow_is_lower_than_the_corridors():
    """RiMEA 13: people leave a room by a 2 m door into a 12 m x 2 m corridor ending at a 2 m flight
    up.  A jam forms at the foot of the stairs, and the flow on the stairs is lower than the flow the
    corridor brings (JuPedSim's criterion: by at least 0.05 p/s).  The queue at the foot is seen at
    the density it stands at (issue 10, finding 1: the engine before it reported a queue of 20 there
    as 0.87 p/m2, held at one point of a 100 m cell): the short cells at the foot reach at least
    2.5 p/m2 (Fruin's queuing LOS D, 1.5-3.6 p/m2, where people stand in a queue)."""
    from sim.kinds import load_scenario
    from sim.crowd.model import CrowdModel
    from tests.validation.rimea_runs import RIMEA

    model = CrowdModel(load_scenario(RIMEA / "test13_stairs_jam.toml"), check_every_steps=1)
    engine = model.engine
    walk = engine.arrays.walk
    net = walk.network
    corridor = np.isin(walk.cell_link, net.links_where("name", "T13 corridor"))
    stairs = np.flatnonzero(np.isin(walk.cell_link, net.links_where("name", "T13 stairs")))
    into_corridor = np.flatnonzero(np.isin(walk.cell_link, net.links_where("name", "T13 doorway")))
    peak = 0.0
    while engine.step_index < 10:
        model.step()
    p0 = engine.edges.passed.copy()
    while engine.step_index < 40:
        model.step()
    corridor_in = (engine.edges.passed - p0)[2 * into_corridor].sum() / 30.0
    stairs_on = (engine.edges.passed - p0)[2 * stairs[0]].sum() / 30.0
    while engine.inside:
        model.step()
        peak = max(peak, float(engine.cell_density[corridor].max()))
    assert corridor_in - stairs_on >= 0.05
    assert peak >= 2.5


def test_rimea_14_route_choice_follows_the_faster_route_with_stairs_costed_slower():
    """RiMEA 14: a short route over two flights (up 10 m, down 10 m) or a longer level route; the
    guideline asks to document the choice.  citytwin costs stairs at their free speeds (0.58 up, 0.81
    down: 33 s over 25 m) against 55 m on the level (41 s): the first walkers take the stairs; when
    the stairs queue, walkers at the fork take the level route as soon as the wait there is longer
    than the detour.  Checked: the stairs carry some, and they are costed slower than level ground."""
    trace = run("test14_route_choice.toml")
    engine = trace.model.engine
    walk = engine.arrays.walk
    stairs = np.flatnonzero(np.isin(walk.cell_link, walk.network.links_where("name", "T14 stairs up")))
    level = np.flatnonzero(np.isin(walk.cell_link, walk.network.links_where("name", "T14 level route")))
    on_stairs = int(engine.edges.passed[2 * stairs[-1]:2 * stairs[-1] + 2].sum())
    assert on_stairs > 0
    cost = engine.edge_cost_s
    lengths = engine.arrays.edge_length_m
    stair_edges = np.concatenate([2 * stairs, 2 * stairs + 1])
    level_edges = np.concatenate([2 * level, 2 * level + 1])
    assert (cost[stair_edges] / lengths[stair_edges]).min() > (cost[level_edges] / lengths[level_edges]).max()


def test_rimea_15_a_corner_takes_as_long_as_a_straight_corridor_of_its_length():
    """RiMEA 15 (as JuPedSim runs it): 500 people from a hall into a 2 m corridor; the evacuation
    time with a corner (30 m + 20 m) lies between a straight 30 m and a straight 50 m corridor.  A
    network has no corner geometry: the cornered corridor behaves as a straight one of its length
    (within 2%: the corner is one more node where the queue's head is three people abreast)."""
    trace = run("test15_corner_group.toml")
    short, long_, corner = (trace.out_time_s(f"T15 {k} exit") for k in ("short", "long", "corner"))
    assert short < corner
    assert corner == pytest.approx(long_, rel=0.02)


def test_rimea_8_is_documentation_only():
    """RiMEA 8 (parameter analysis of a multi-storey building) is a documentation task, not a pass or
    fail test (the guideline says so); ``benchmarks/`` and the README's sensitivity figures document
    how results respond to the project's assumptions."""
    pytest.skip("RiMEA 8 is a documentation task (no criterion); see README 'Assumptions' and sensitivity")
