"""Benchmarks must not rot: run each script at a tiny size (no timing asserted)."""

import csv
import sys

import pytest

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))


def test_bench_crowd_smoke(tmp_path, capsys):
    import bench_crowd
    out = tmp_path / "crowd.csv"
    assert bench_crowd.main(["--scenario", str(ROOT / "scenarios" / "bund_lightshow_rain.toml"),
                             "--minutes", "3", "--csv", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert rows and rows[0]["conserved"] == "True"
    assert "agent_updates_per_s" in capsys.readouterr().out


def test_bench_crowd_versions_smoke(tmp_path, capsys):
    """This checkout against itself: the results agree, and a folder that is no checkout is one clear error."""
    import bench_crowd_versions
    out = tmp_path / "versions.csv"
    assert bench_crowd_versions.main([str(ROOT), "--rounds", "1", "--night", "bund_lightshow_rain.toml",
                                      "--minutes", "2", "--csv", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 1 and rows[0]["same_results"] == "True"
    with pytest.raises(SystemExit):
        bench_crowd_versions.main([str(tmp_path)])
    assert "not a citytwin checkout" in capsys.readouterr().err


def test_bench_reference_smoke(tmp_path, capsys):
    import bench_reference
    out = tmp_path / "reference.csv"
    assert bench_reference.main(["--minutes", "4", "--rate-per-min", "30", "--repeat", "1", "--csv", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert [r["model"] for r in rows] == ["numba engine", "mesa reference"]
    assert all(r["agree"] == "True" and r["conserved"] == "True" for r in rows)
    assert "numba engine / mesa reference" in capsys.readouterr().out


def test_bench_vs_sumo_smoke(tmp_path, capsys, shared_osm):
    """Our engine and SUMO on the same 200 trips for 5 minutes; skipped without the optional SUMO extra."""
    import bench_vs_sumo
    reason = bench_vs_sumo.sumo_missing()
    if reason:
        pytest.skip(reason)
    out = tmp_path / "vs_sumo.csv"
    assert bench_vs_sumo.main(["--trips", "200", "--minutes", "5", "--map", str(shared_osm), "--csv", str(out),
                               "--workdir", str(tmp_path / "sumo")]) == 0
    rows = list(csv.DictReader(out.open()))
    assert [r["engine"] for r in rows] == ["citytwin (Numba IDM)", "SUMO (idm)"]
    ours, sumo = rows
    assert int(ours["vehicle_updates"]) > 0 and int(sumo["vehicle_updates"]) > 0
    assert sumo["teleports"] != "" and float(sumo["ratio_updates_per_s"]) > 0
    assert abs(int(sumo["trips"]) - int(ours["trips"])) <= 2      # the same trips on both sides
    text = capsys.readouterr().out
    assert "ratio ours / SUMO (idm)" in text and "teleport" in text


def test_bench_crowd_scaling_smoke(tmp_path):
    """The scaling benchmark runs at a tiny size and writes its CSV (it must not rot)."""
    import bench_crowd_scaling as bench

    out = tmp_path / "scaling.csv"
    assert bench.main(["--sizes", "300", "--minutes", "3", "--csv", str(out)]) == 0
    assert out.read_text().startswith("people,")


def test_bench_sweep_smoke(tmp_path, capsys):
    import bench_sweep
    out = tmp_path / "sweep.csv"
    assert bench_sweep.main(["--runs", "4", "--minutes", "2", "--workers", "1", "--sizing", "chunked",
                             "--csv", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert [r["engine"] for r in rows] == ["serial", "pool", "dask"]
    assert all(r["runs"] == "4" for r in rows)
    assert "overhead_ms_per_run" in capsys.readouterr().out


def test_bench_vs_jupedsim_smoke(tmp_path, capsys):
    """Both crowd engines on a 20 m corridor and bottleneck for 30 s; skipped without the optional JuPedSim extra."""
    import bench_vs_jupedsim
    reason = bench_vs_jupedsim.jupedsim_missing()
    if reason:
        pytest.skip(reason)
    out = tmp_path / "jupedsim.csv"
    assert bench_vs_jupedsim.main(["--minutes", "0.5", "--size", "0.1", "--bottleneck-width", "1.2",
                                   "--csv", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert [r["case"] for r in rows] == ["corridor 4 m"] * 2 + ["bottleneck 1.2 m"] * 2
    assert [r["engine"].split()[0] for r in rows] == ["citytwin", "JuPedSim"] * 2
    assert [r["dt_s"] for r in rows] == ["1.0", "0.01"] * 2
    assert all(int(r["agents"]) > 0 and int(r["agent_steps"]) > 0 and float(r["specific_flow_ppms"]) > 0
               for r in rows)
    assert rows[0]["conserved"] == rows[2]["conserved"] == "True"          # our engine's own check
    assert float(rows[0]["ratio_rtf"]) > 0 and float(rows[2]["ratio_agent_steps_per_s"]) > 0
    text = capsys.readouterr().out
    assert "Not like for like" in text and "ours / JuPedSim" in text
