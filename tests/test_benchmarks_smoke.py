"""Benchmarks must not rot: run each script at a tiny size (no timing asserted)."""

import csv
import sys

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
