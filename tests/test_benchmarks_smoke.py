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
