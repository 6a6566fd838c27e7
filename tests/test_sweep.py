"""Sweeps: one row per run, pool and Dask agree, resume runs only what is missing, failures are
retried and recorded, risk summaries equal a hand computation, bad grids are one clean error."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest

from sim.cli import main
from sim.core.errors import ScenarioError
from sim.kinds import load_scenario
from sim.study.sweep import (RISK_NAME, TABLE_NAME, flatten_kpis, kpi_columns, parse_grid, plan_sweep, read_table,
                       risk_summary, run_summary, run_sweep)
from tests.conftest import ROOT, corridor_scenario, to_toml

GRID = ["zones.plaza.cap=400,none", "crowd.patience_s=30,600"]
SEEDS = 3
NEVER = {"wall_seconds"}                     # the only column allowed to differ between engines


@pytest.fixture(scope="module")
def corridor_toml(tmp_path_factory) -> Path:
    """A 200 m corridor with a narrow 'neck' zone into a capped viewing plaza; 10 simulated minutes."""
    folder = tmp_path_factory.mktemp("sweep_scenario")
    data = corridor_scenario(folder, rate_per_min=200, duration_s=600,
                             bottleneck={"highway": "footway", "width": "1.0", "zone": "neck"})
    data["zones"]["neck"] = {"match": "zone=neck"}
    path = folder / "corridor.toml"
    path.write_text(to_toml(data))
    return path


@pytest.fixture(scope="module")
def pool_sweep(corridor_toml, tmp_path_factory):
    out = tmp_path_factory.mktemp("pool") / "sweep"
    return run_sweep(corridor_toml, GRID, SEEDS, out, workers=2, engine="pool")


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _key(row: dict) -> tuple:
    return row["zones.plaza.cap"], row["crowd.patience_s"], row["seed"]


def test_table_has_one_row_per_run_with_grid_values_seed_and_kpis(pool_sweep, corridor_toml):
    rows = _rows(pool_sweep.table_path)
    base_seed = load_scenario(corridor_toml).simulation.seed
    expected = {(cap, patience, str(base_seed + k)) for cap in ("400", "") for patience in ("30", "600")
                for k in range(SEEDS)}
    assert [_key(r) for r in rows] == sorted(expected, key=lambda k: (k[0] == "", k[1] == "600", k[2]))
    assert all(r["status"] == "ok" and r["attempts"] == "1" and r["error"] == "" for r in rows)
    header = list(rows[0])
    for column in ("zones.plaza.cap", "crowd.patience_s", "seed", "status", "error", "wall_seconds",
                   "agents_total", "agents_conserved", "clearance_s", "max_gate_queue", "gate_wait_s_p95",
                   "plaza.peak_occupancy", "plaza.peak_density_ppm2", "plaza.seconds_at_los_e_or_worse",
                   "plaza.seconds_at_los_f", "plaza.worst_los", "neck.peak_density_ppm2", "neck.worst_los"):
        assert column in header
    assert len(pool_sweep.ran) == 12 and pool_sweep.skipped == 0 and pool_sweep.failed == 0
    assert len({r["agents_total"] for r in rows}) > 1                 # seeds differ
    capped = [r for r in rows if r["zones.plaza.cap"] == "400"]
    assert all(int(r["plaza.peak_occupancy"]) <= 400 for r in capped)
    # seed k = 0 of a cell is exactly a single run of that scenario
    scenario = load_scenario(corridor_toml, ["zones.plaza.cap=400", "crowd.patience_s=30"])
    from sim.kinds import build_run
    single = flatten_kpis(build_run(scenario, seed=base_seed).run())
    assert {k: v for k, v in read_table(pool_sweep.table_path)[0].items() if k in single} == single


def test_risk_summary_equals_hand_computation(pool_sweep):
    table = read_table(pool_sweep.table_path)
    risk = read_table(pool_sweep.risk_path)
    assert len(risk) == 4
    for cell in risk:
        runs = [r for r in table if r["zones.plaza.cap"] == cell["zones.plaza.cap"]
                and r["crowd.patience_s"] == cell["crowd.patience_s"]]
        assert cell["runs_ok"] == len(runs) == SEEDS and cell["runs_failed"] == 0
        for kpi in ("agents_total", "plaza.peak_occupancy", "neck.peak_density_ppm2", "gate_wait_s_p95",
                    "balked_at_gates"):
            values = [r[kpi] for r in runs]
            assert cell[f"{kpi}.mean"] == pytest.approx(sum(values) / len(values), abs=1e-6)
            assert cell[f"{kpi}.p5"] == pytest.approx(np.percentile(values, 5), abs=1e-6)
            assert cell[f"{kpi}.p95"] == pytest.approx(np.percentile(values, 95), abs=1e-6)
        los_f = [r["plaza.worst_los"] == "F" or r["neck.worst_los"] == "F" for r in runs]
        assert cell["p_any_zone_los_f"] == pytest.approx(sum(los_f) / len(runs))
        assert cell["p_unsafe"] == pytest.approx(sum(r["safe"] is False for r in runs) / len(runs))
        assert cell["p_any_place_los_f"] == pytest.approx(sum(bool(r["any_place_walkers_at_los_f"]) for r in runs)
                                                          / len(runs))
        assert cell["p_any_place_crush_density"] == pytest.approx(
            sum(bool(r["any_place_at_crush_density"]) for r in runs) / len(runs))
        assert cell["agents_conserved.share"] == 1.0


def test_risk_probabilities_on_known_rows():
    rows = [{"cap": 1, "status": "ok", "a.worst_los": "F", "a.peak_density_ppm2": 3.0, "b.worst_los": "C",
             "b.peak_density_ppm2": 1.0, "x": 10, "safe": False, "any_place_walkers_at_los_f": True,
             "any_place_at_crush_density": False},
            {"cap": 1, "status": "ok", "a.worst_los": "E", "a.peak_density_ppm2": 1.2, "b.worst_los": "E",
             "b.peak_density_ppm2": 4.5, "x": 20, "safe": False, "any_place_walkers_at_los_f": False,
             "any_place_at_crush_density": True},
            {"cap": 1, "status": "ok", "a.worst_los": "D", "a.peak_density_ppm2": 1.0, "b.worst_los": "A",
             "b.peak_density_ppm2": 0.1, "x": None, "safe": True, "any_place_walkers_at_los_f": False,
             "any_place_at_crush_density": False},
            {"cap": 1, "status": "failed", "a.worst_los": None, "a.peak_density_ppm2": None, "b.worst_los": None,
             "b.peak_density_ppm2": None, "x": None}]
    kpis = ["a.worst_los", "a.peak_density_ppm2", "b.worst_los", "b.peak_density_ppm2", "x", "safe",
            "any_place_walkers_at_los_f", "any_place_at_crush_density"]
    (cell,) = risk_summary(rows, ["cap"], kpis, "crowd")
    assert (cell["runs_ok"], cell["runs_failed"]) == (3, 1)
    assert cell["p_any_zone_los_f"] == pytest.approx(1 / 3, abs=1e-6)
    assert cell["p_unsafe"] == pytest.approx(2 / 3, abs=1e-6)
    assert cell["p_any_place_los_f"] == pytest.approx(1 / 3, abs=1e-6)
    assert cell["p_any_place_crush_density"] == pytest.approx(1 / 3, abs=1e-6)
    assert (cell["x.mean"], cell["x.p5"], cell["x.p95"]) == (15.0, 10.5, 19.5)    # runs with a value
    assert "a.worst_los.mean" not in cell


def test_pool_and_dask_give_identical_rows(pool_sweep, corridor_toml, tmp_path):
    result = run_sweep(corridor_toml, GRID, SEEDS, tmp_path / "dask", workers=1, engine="dask")
    assert result.engine == "dask" and len(result.ran) == 12
    pool = {_key(r): {k: v for k, v in r.items() if k not in NEVER} for r in _rows(pool_sweep.table_path)}
    dask = {_key(r): {k: v for k, v in r.items() if k not in NEVER} for r in _rows(result.table_path)}
    assert pool == dask
    assert (tmp_path / "dask" / RISK_NAME).read_text() == pool_sweep.risk_path.read_text()


def test_resume_runs_only_the_missing_runs(pool_sweep, tmp_path, capsys):
    out = tmp_path / "resume"
    shutil.copytree(pool_sweep.out_dir, out)
    rows = _rows(out / TABLE_NAME)
    removed = {_key(r) for r in rows[3:7]}
    with open(out / TABLE_NAME, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows[:3] + rows[7:])
        fh.write(",".join(list(rows[5].values())[:6]))         # a row cut short by a hard kill
    (out / RISK_NAME).unlink()
    scenario = pool_sweep.plan.scenario_path
    new_seed = pool_sweep.plan.seeds[-1] + 1                    # one more seed: 4 new runs too
    result = run_sweep(scenario, GRID, SEEDS + 1, out, workers=1)
    new = {(cap, patience, str(new_seed)) for cap in ("400", "") for patience in ("30", "600")}
    assert {(cap, patience, str(seed)) for cap, patience, seed in result.ran} == removed | new
    assert result.skipped == 8 and len(result.ran) == 8
    after = [r for r in _rows(out / TABLE_NAME) if r["seed"] != str(new_seed)]
    strip = lambda rs: [{k: v for k, v in r.items() if k not in NEVER} for r in rs]   # noqa: E731
    assert strip(after) == strip(rows)                      # complete, in grid order, same numbers
    assert main(["sweep", str(scenario), "--grid", GRID[0], "--grid", GRID[1], "--seeds", str(SEEDS + 1),
                 "--out", str(out), "--quiet"]) == 0
    assert "0 run(s)" in capsys.readouterr().out and len(_rows(out / TABLE_NAME)) == 16
    assert len(read_table(out / RISK_NAME)) == 4


# A run_fn for the failure test (module level, so spawned workers import it): patience 30 always
# fails; patience 600 fails on its first attempt only (a marker file beside the scenario remembers).
def flaky_run(scenario, seed):
    if scenario.crowd.patience_s == 30:
        raise RuntimeError(f"boom at seed {seed}")
    marker = Path(scenario.source_path).parent / f"tried-{scenario.crowd.patience_s:g}-{seed}"
    if scenario.crowd.patience_s == 600 and not marker.exists():
        marker.touch()
        raise ValueError("first attempt fails")
    return run_summary(scenario, seed)


def test_failed_run_is_retried_then_recorded(corridor_toml, tmp_path):
    result = run_sweep(corridor_toml, ["crowd.patience_s=30,600,900"], 2, tmp_path / "out", workers=1,
                       run_fn=flaky_run)
    rows = {(r["crowd.patience_s"], r["seed"]): r for r in _rows(result.table_path)}
    assert len(rows) == 6 and result.failed == 2
    for seed in ("3", "4"):
        bad, retried, fine = rows[("30", seed)], rows[("600", seed)], rows[("900", seed)]
        assert bad["status"] == "failed" and bad["attempts"] == "2"
        assert bad["error"] == f"RuntimeError: boom at seed {seed} (failed twice)" and bad["agents_total"] == ""
        assert retried["status"] == "ok" and retried["attempts"] == "2" and retried["agents_total"] != ""
        assert retried["error"] == "retried after: ValueError: first attempt fails"
        assert fine["status"] == "ok" and fine["attempts"] == "1" and fine["error"] == ""
    risk = {r["crowd.patience_s"]: r for r in read_table(result.risk_path)}
    assert (risk[30]["runs_ok"], risk[30]["runs_failed"]) == (0, 2) and risk[30]["agents_total.mean"] is None
    assert (risk[600]["runs_ok"], risk[600]["runs_failed"]) == (2, 0)


@pytest.mark.parametrize("args, message", [
    (["--grid", "zones.plaza.cap=100,-5"], "grid cell [zones.plaza.cap=-5]: zones.plaza.cap"),
    (["--grid", "zones.plaza.capp=1,2"], "zones.plaza.capp: unknown key"),
    (["--grid", "nonsense"], "expected KEY=V1,V2,..."),
    (["--grid", "zones.plaza.cap=1,,2"], "empty key or value"),
    (["--grid", "zones.plaza.cap=1,1"], "given twice"),
    (["--grid", "simulation.seed=1,2"], "--seeds"),
    (["--grid", "zones.plaza.cap=1", "--grid", "zones.plaza.cap=2"], "given twice"),
    (["--grid", "sources.0.nodes=[\"Entry West\"],[\"Nowhere\"]"], "sources.0.nodes.0"),
    (["--grid", "zones.plaza.cap=100", "--set", "crowd.v0_mps=-1"], "crowd.v0_mps"),
    (["--seeds", "0"], "expected a positive integer"),
    (["--workers", "x"], "expected a positive integer"),
    (["--engine", "ray"], "invalid choice"),
    (["--scheduler", "tcp://127.0.0.1:1", "--workers", "2"], "--workers"),
])
def test_bad_input_is_one_clean_error_and_writes_nothing(corridor_toml, tmp_path, capsys, args, message):
    out = tmp_path / "out"
    assert main(["sweep", str(corridor_toml), "--out", str(out), "--quiet", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("error:") == 1
    assert not out.exists()


def test_problem_shared_by_every_cell_is_listed_once(corridor_toml):
    with pytest.raises(ScenarioError) as info:
        plan_sweep(corridor_toml, ["zones.plaza.cap=1,2,3", "crowd.v0_mps=1.0,-1"])
    problems = info.value.problems
    assert len(problems) == 1 and problems[0].startswith("grid cell [zones.plaza.cap=1, crowd.v0_mps=-1], ")
    with pytest.raises(ScenarioError) as info:
        plan_sweep(corridor_toml, ["zones.plaza.cap=1,2,3"], overrides=["zones.plaza.kap=1"])
    assert len(info.value.problems) == 1


def test_other_sweep_in_the_same_folder_is_refused(pool_sweep, capsys):
    before = pool_sweep.table_path.read_text()
    args = ["sweep", str(pool_sweep.plan.scenario_path), "--grid", GRID[0], "--out", str(pool_sweep.out_dir),
            "--quiet"]
    assert main(args) == 2
    assert "holds a different sweep (grid keys differ)" in capsys.readouterr().err
    assert main([*args, "--grid", GRID[1], "--set", "crowd.v0_mps=1.2"]) == 2
    assert "scenario (after --set)" in capsys.readouterr().err
    assert pool_sweep.table_path.read_text() == before


def test_grid_values_parse_like_set_values():
    (axis,) = parse_grid(["show.release_order=[\"north\", \"south\"],[],none"])
    assert axis.values == (["north", "south"], [], None)
    assert axis.labels == ('["north", "south"]', "[]", "")


def test_traffic_sweep_columns_match_the_runs_kpis():
    path = ROOT / "scenarios" / "typhoon_tunnel_convoy.toml"
    plan = plan_sweep(path, ["plans.fixed_20_10.convoy_s=600,900"], 1, overrides=["simulation.duration_s=300"])
    assert plan.kind == "traffic" and len(plan.cells) == 2
    kpis = run_summary(plan.cells[0].scenario, plan.seeds[0])
    assert list(kpis) == kpi_columns(plan.cells[0].scenario) == plan.kpis
    assert "fixed_20_10.bike.wait_s_mean" in kpis and "fixed_10_10.motor.throughput_per_h" in kpis
