"""The live twin's benchmarks must not rot: each runs on the small night at a tiny size (nothing timed
or scored is asserted; the Bund figures are in the README, with the commands)."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from live_night import small_night_toml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))


def test_live_skill_runs_and_prints_its_table(tmp_path, capsys):
    import live_skill

    night = small_night_toml(tmp_path)
    out = tmp_path / "skill.csv"
    assert live_skill.main(["--scenario", str(night), "--truths", "2", "--members", "2", "--forecast-every-min", "5",
                            "--horizon-min", "20", "--until-min", "30", "--workers", "1", "--csv", str(out)]) == 0
    text = capsys.readouterr().out
    for words in ("median lead time of the cap warning", "false alarms", "CRPS reduction against the naive forecast",
                  "judged on zone plaza", "--scenario"):
        assert words in text, words
    rows = list(csv.DictReader(out.open()))
    assert [int(r["truth"]) for r in rows] == [0, 1] and all(int(r["forecasts_scored"]) > 0 for r in rows)
    summary = list(csv.DictReader(out.with_name("skill_summary.csv").open()))
    assert summary[0]["value"].startswith("2 (")


def test_live_speed_runs_and_prints_its_table(tmp_path, capsys):
    import live_speed

    night = small_night_toml(tmp_path, live={"horizon_s": 300, "warn_within_s": 300})
    out = tmp_path / "speed.csv"
    assert live_speed.main(["--scenario", str(night), "--members", "4", "--forecast-members", "2", "--at-min", "5",
                            "--cycles", "2", "--workers", "1", "--csv", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert [r["what"] for r in rows][:2] == ["assimilation cycle 1", "assimilation cycle 2"]
    assert int(rows[2]["members"]) <= 2                    # the forecast ran the members drawn by weight
    assert "real-time factor" in rows[-1]["note"] and "peak memory" in capsys.readouterr().out
