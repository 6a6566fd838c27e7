"""The hotspot benchmark must not rot: run it at its smoke size (no timing asserted)."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_hotspot_quick(tmp_path, capsys):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import bench_hotspot_vs_jupedsim as bench
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    out = tmp_path / "hotspot.csv"
    assert bench.main(["--quick", "--no-jupedsim", "--threads", "1", "--csv", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert {r["case"] for r in rows} == {"throughput", "bottleneck 1.2 m"}
    assert all(int(r["agent_steps_per_s"]) > 0 for r in rows)
    assert all(float(r["specific_flow_ppms"]) > 0 for r in rows if r["case"].startswith("bottleneck"))
    assert "agent_steps_per_s" in capsys.readouterr().out
