"""The CLI: a run writes its files; bad input gives one clear error and writes nothing."""

import csv
import json

import numpy as np
import pytest

import sim.crowd.engine
import sim.study.sweep
from sim.cli import main
from sim.core.errors import ScenarioError
from sim.kinds import load_scenario
from sim.study.engines import make_engine
from tests.conftest import ROOT, corridor_scenario, to_toml

RAIN = ROOT / "scenarios" / "bund_lightshow_rain.toml"


def test_run_writes_results(tmp_path, capsys):
    data = corridor_scenario(tmp_path, rate_per_min=200, duration_s=600)
    path = tmp_path / "corridor.toml"
    path.write_text(to_toml(data))
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--quiet", "--seed", "4"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    for key in ("scenario", "seed", "sim_seconds", "wall_seconds", "agents_total", "agents_conserved",
                "peak_occupancy", "peak_density_ppm2", "seconds_at_los_e_or_worse", "seconds_at_los_f",
                "max_gate_queue", "gate_wait_s_p95", "clearance_s"):
        assert key in summary
    assert summary["seed"] == 4 and summary["agents_conserved"] is True
    header = (out / "timeseries.csv").read_text().splitlines()[0]
    assert header.startswith("minute,zone,occupancy,mean_density_ppm2,max_density_ppm2,gate_queue")
    assert (out / "occupancy_density.png").stat().st_size > 10_000
    assert (out / "peak_density_map.png").stat().st_size > 10_000
    assert "plaza" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["--seed", "-3"], "--seed must be a non-negative integer"),
    (["--set", "zones.promenade.cap=-5"], "zones.promenade.cap"),
    (["--set", "zones.promenade.capp=5"], "unknown key"),
    (["--set", "nonsense"], "expected KEY=VALUE"),
    (["--set", "sources.0.nodes=['Nowhere']"], "sources.0.nodes.0"),
])
def test_bad_flags_are_clean_errors_and_write_nothing(tmp_path, capsys, args, message):
    out = tmp_path / "out"
    assert main(["run", str(RAIN), "--out", str(out), "--quiet", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists()


def test_bad_scenario_file_lists_every_problem(tmp_path, capsys):
    text = RAIN.read_text().replace("dt_s = 1.0", "dt_s = \"fast\"").replace("cap = 60000", "cap = 60000\ncolour = 1")
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(bad)
    assert "simulation.dt_s" in str(info.value) and "zones.promenade.colour" in str(info.value)
    assert str(bad) in str(info.value)
    assert main(["run", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert not (tmp_path / "o").exists()


def test_negative_rate_is_rejected(tmp_path):
    text = RAIN.read_text().replace("profile = [[0, 180]", "profile = [[0, -180]")
    bad = tmp_path / "neg.toml"
    bad.write_text(text)
    with pytest.raises(ScenarioError, match=r"sources\.0\.profile"):
        load_scenario(bad)


def test_list_shows_scenarios_and_maps(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "bund_lightshow_rain.toml" in out and "bund.osm" in out


TYPHOON = ROOT / "scenarios" / "typhoon_tunnel_convoy.toml"


def test_typhoon_run_writes_kpis_for_every_plan(tmp_path, capsys):
    """One `citytwin run` for every scenario kind: the typhoon scenario (first 40 minutes, two
    plans, one changed with --set) writes per-plan, per-mode KPIs, the queue series and plots."""
    out = tmp_path / "typhoon"
    code = main(["run", str(TYPHOON), "--out", str(out), "--quiet", "--plan", "fixed_10_10", "--plan", "on_demand_60",
                 "--set", "simulation.duration_s=2400", "--set", "plans.fixed_10_10.convoy_s=660"])
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["vehicles_conserved"] is True
    assert set(summary["plans"]) == {"fixed_10_10", "on_demand_60"}
    assert summary["plans"]["fixed_10_10"]["plan"]["convoy_s"] == 660
    for plan in summary["plans"].values():
        assert plan["vehicles_conserved"] is True
        for mode in ("motor", "bike"):
            for key in ("throughput_per_h", "wait_s_mean", "wait_s_p95", "max_queue_vehicles", "max_queue_m",
                        "tunnel_utilisation"):
                assert plan["modes"][mode][key] is not None
        assert plan["convoys"] >= 1
    header = (out / "timeseries.csv").read_text().splitlines()[0].split(",")
    assert header[:4] == ["plan", "minute", "portal", "phase"]
    assert (out / "portal_queues.png").stat().st_size > 10_000
    assert (out / "plan_comparison.png").exists()
    printed = capsys.readouterr().out
    assert "fixed_10_10" in printed and "through/h" in printed


@pytest.mark.parametrize("args, message", [
    (["--plan", "fixed_99"], "--plan 'fixed_99' is not a plan"),
    (["--set", "plans.fixed_20_10.motor_s=0"], "plans.fixed_20_10.motor_s"),
    (["--set", "tunnel.name=Dalian Road Tunnel"], "tunnel.name: no tunnel=yes road named 'Dalian Road Tunnel'"),
    (["--set", "plans.on_demand_60.trigger_bikes=-3"], "plans.on_demand_60.trigger_bikes"),
])
def test_bad_typhoon_input_is_one_clean_error(tmp_path, capsys, args, message):
    out = tmp_path / "never"
    assert main(["run", str(TYPHOON), "--out", str(out), "--quiet", *args]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("error:") == 1
    assert not out.exists()


def test_bikes_run_writes_kpis_for_every_plan(tmp_path, capsys):
    """The issue's acceptance command, on the rain evening."""
    out = tmp_path / "bikes"
    assert main(["run", str(ROOT / "scenarios" / "bund_bikes_rain.toml"), "--out", str(out), "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["bikes_conserved"] is True
    assert set(summary["plans"]) == {"none", "static", "forecast", "optimised"}
    for plan in summary["plans"].values():
        for key in ("pickups", "unmet_pickups", "unmet_share", "empty_pool_minutes", "bikes_moved", "van_km",
                    "extra_walk_m_mean", "bikes_conserved"):
            assert key in plan
        assert plan["bikes_conserved"] is True
    assert summary["exit_shares"]["dry"] and summary["exit_shares"]["rain"]
    assert (out / "timeseries.csv").read_text().splitlines()[0].startswith("plan,minute,pool,stock")
    assert (out / "exit_shares.png").exists() and (out / "pool_stock.png").exists()
    assert "optimised" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------
# run --seeds: one folder per run and the bands over them (through the sweep runner).
# ---------------------------------------------------------------------------------------------

def test_run_over_seeds_writes_a_folder_per_run_and_the_bands(tmp_path, capsys):
    import csv

    import numpy as np

    from sim.study.stats import cp_interval

    data = corridor_scenario(tmp_path, rate_per_min=200, duration_s=600,
                             bottleneck={"highway": "footway", "width": "1.0", "zone": "neck"})
    data["zones"]["plaza"]["cap"] = 400
    path = tmp_path / "corridor.toml"
    path.write_text(to_toml(data))
    out = tmp_path / "seeds"
    assert main(["run", str(path), "--seeds", "3", "--seed", "10", "--out", str(out), "--quiet", "--workers", "2",
                 "--queue-levels", "0,50", "--no-plots"]) == 0
    printed = capsys.readouterr().out
    seeds = [10, 11, 12]
    summaries = [json.loads((out / "runs" / f"seed-{s}" / "summary.json").read_text()) for s in seeds]
    for s, summary in zip(seeds, summaries):
        assert summary["seed"] == s and summary["agents_conserved"] is True
        assert {p.name for p in (out / "runs" / f"seed-{s}").iterdir()} == {
            "summary.json", "timeseries.csv", "scenario.json", "provenance.json", "places.geojson"}
    # each run's folder is what `citytwin run --seed S` writes
    assert main(["run", str(path), "--seed", "11", "--out", str(tmp_path / "single"), "--quiet", "--no-plots"]) == 0
    single = json.loads((tmp_path / "single" / "summary.json").read_text())
    for key in ("agents_total", "max_gate_queue", "gate_wait_s_p95", "zones", "places", "safety"):
        assert single[key] == summaries[1][key]
    # bands: median and p5-p95 across the runs; probabilities with their Clopper-Pearson interval
    bands = json.loads((out / "bands.json").read_text())
    queue = [s["max_gate_queue"] for s in summaries]
    band = bands["kpis"]["max_gate_queue"]
    assert band["median"] == pytest.approx(np.median(queue)) and band["p5"] == pytest.approx(np.percentile(queue, 5))
    assert band["p95"] == pytest.approx(np.percentile(queue, 95)) and band["runs"] == 3
    unsafe = sum(not s["safety"]["safe"] for s in summaries)
    p = bands["probabilities"]["p_unsafe"]
    assert (p["events"], p["runs"]) == (unsafe, 3)
    assert (p["low"], p["high"]) == pytest.approx(cp_interval(unsafe, 3), abs=1e-4)
    above = bands["probabilities"]["p_max_gate_queue_above_50"]
    assert above["events"] == sum(q > 50 for q in queue)
    assert bands["probabilities"]["p_max_gate_queue_above_0"]["events"] == sum(q > 0 for q in queue)
    rows = {r["kpi"]: r for r in csv.DictReader(open(out / "bands.csv"))}
    assert float(rows["max_gate_queue"]["median"]) == pytest.approx(np.median(queue))
    assert "P(unsafe: breaks the [safety] criterion)" in printed and "3 run(s) ok over seeds 10-12" in printed
    # more seeds later: only the new ones run
    assert main(["run", str(path), "--seeds", "4", "--seed", "10", "--out", str(out), "--quiet", "--workers", "1",
                 "--no-plots"]) == 0
    assert "1 run(s) now, 3 already on disk" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["--seeds", "0"], "expected a positive integer"),
    (["--seeds", "2", "--queue-levels", "a,b"], "--queue-levels: expected non-negative numbers"),
    (["--workers", "2"], "--workers and --queue-levels go with --seeds N"),
    (["--seeds", "2", "--set", "zones.promenade.capp=1"], "unknown key"),
])
def test_bad_seeds_flags_are_clean_errors_and_write_nothing(tmp_path, capsys, args, message):
    out = tmp_path / "out"
    assert main(["run", str(RAIN), "--out", str(out), "--quiet", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists()


def test_plan_comparison_over_seeds_reports_bands_per_plan(tmp_path):
    from sim.study.bands import format_bands, run_seeds

    typhoon = ROOT / "scenarios" / "typhoon_tunnel_convoy.toml"
    out = tmp_path / "typhoon"
    bands, _ = run_seeds(typhoon, 2, out, overrides=["simulation.duration_s=600"], plans=["fixed_20_10"],
                         engine="inline", plots=False, log=lambda msg: None)
    assert bands.kind == "traffic" and bands.runs_ok == 2 and bands.probabilities == {}
    assert "fixed_20_10.bike.wait_s_mean" in bands.kpis and not any(k.startswith("fixed_10_10") for k in bands.kpis)
    on_disk = json.loads((out / "bands.json").read_text())
    assert on_disk["kpis"]["fixed_20_10.motor.wait_s_mean"] == bands.kpis["fixed_20_10.motor.wait_s_mean"]
    waits = [json.loads((out / "runs" / f"seed-{s}" / "summary.json").read_text())["plans"]["fixed_20_10"]
             ["modes"]["motor"]["wait_s_mean"] for s in bands.seeds]
    assert bands.kpis["fixed_20_10.motor.wait_s_mean"]["max"] == pytest.approx(max(waits), abs=1e-3)
    assert "fixed_20_10.motor.wait_s_mean" in format_bands(bands)


@pytest.fixture
def inline_sweep(tmp_path, monkeypatch):
    """A small corridor scenario file; sweeps run in this process (so patches reach the runs)."""
    monkeypatch.setattr(sim.study.sweep, "make_engine",
                        lambda engine, workers, scheduler: make_engine("inline", workers, scheduler))
    path = tmp_path / "corridor.toml"
    path.write_text(to_toml(corridor_scenario(tmp_path, rate_per_min=300, duration_s=300)))
    return path


def test_sweep_lists_invalid_runs_and_exits_3(inline_sweep, tmp_path, monkeypatch, capsys):
    """A run stopped by a conservation check is listed (grid values, seed, error) and the sweep exits 3;
    the other runs' results are still written."""
    original, corrupted = sim.crowd.engine.CrowdEngine.step, []

    def step(self):                      # the first run's engine gains a phantom person at step 30
        original(self)
        if not corrupted:
            corrupted.append(self)
        if corrupted[0] is self and self.step_index == 30:
            self.cells.count[int(np.argmax(self.cells.count))] += 1
            self.check_every_steps = 1

    monkeypatch.setattr(sim.crowd.engine.CrowdEngine, "step", step)
    out = tmp_path / "sweep"
    code = main(["sweep", str(inline_sweep), "--grid", "zones.plaza.cap=100,none", "--seeds", "2",
                 "--out", str(out), "--quiet"])
    captured = capsys.readouterr()
    assert code == 3 and "Traceback" not in captured.err
    with open(out / "sweep.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    bad = [r for r in rows if r["status"] == "invalid"]
    assert len(rows) == 4 and len(bad) == 1 and {r["status"] for r in rows} == {"ok", "invalid"}
    listed = [line.strip() for line in captured.err.splitlines() if line.startswith("  ")]
    cap = bad[0]["zones.plaza.cap"] or "none"
    assert listed == [f"zones.plaza.cap={cap}, seed {bad[0]['seed']}: {bad[0]['error']}"]
    assert "error: 1 run(s) INVALID" in captured.err and "ConservationError" in listed[0]
    assert "risk.csv" in captured.out                                   # the table and files still printed


def test_sweep_without_invalid_runs_exits_0(inline_sweep, tmp_path, capsys):
    assert main(["sweep", str(inline_sweep), "--grid", "zones.plaza.cap=100", "--seeds", "1",
                 "--out", str(tmp_path / "sweep"), "--quiet"]) == 0
    assert "INVALID" not in capsys.readouterr().err
