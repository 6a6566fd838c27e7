"""``citytwin replay ... | citytwin live ... --feed -`` and the commands' bad input."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from live_night import small_night_toml
from sim.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def night_toml(tmp_path) -> Path:
    return small_night_toml(tmp_path, live={"horizon_s": 300, "warn_within_s": 300, "whatif_members": 0})


def test_replay_piped_into_live(night_toml, tmp_path):
    cmd = [sys.executable, "-m", "sim.cli"]
    replay = subprocess.Popen(cmd + ["replay", str(night_toml), "--truth-seed", "3", "--demand-scale", "1.3",
                                     "--noise", "0.1", "--rain-onset", "3", "--drop", "west_entry@3-7", "--until", "8",
                                     "--truth-out", str(tmp_path / "scores" / "truth.csv")],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    live = subprocess.run(cmd + ["live", str(night_toml), "--feed", "-", "--out", str(tmp_path / "out")],
                          stdin=replay.stdout, capture_output=True, text=True, cwd=ROOT, timeout=300)
    replay.stdout.close()
    assert replay.wait(60) == 0, replay.stderr.read().decode()
    assert live.returncode == 0, live.stderr
    assert "followed small night to t=480 s: 8 cycles" in live.stdout
    assert "running without sensor west_entry" in live.stderr and "reports again" in live.stderr
    with open(tmp_path / "out" / "observations.csv") as fh:
        obs = list(csv.DictReader(fh))
    assert {o["sensor"] for o in obs} == {"plaza_count", "plaza_in", "west_entry"}
    with open(tmp_path / "scores" / "truth.csv") as fh:          # its folder made on the way
        assert len(list(csv.DictReader(fh))) == 8 * 2                     # minutes x zones
    assert (tmp_path / "out" / "forecast.csv").exists() and (tmp_path / "out" / "cells.csv").exists()


@pytest.mark.parametrize("args, message", [
    (["live", "{toml}", "--feed", "{tmp}/missing.jsonl", "--out", "{tmp}/out"], "is not a file"),
    (["live", "{toml}", "--feed", "http://localhost", "--out", "{tmp}/out"], "expected http://HOST:PORT"),
    (["live", "{toml}", "--feed", "-", "--out", "{tmp}/out", "--set", "live.members=1"], "live.members"),
    (["live", "{toml}", "--feed", "-", "--out", "{tmp}/out", "--set", "live.measures=[\"fly\"]"],
     "live.measures: 'fly' is not a measure"),
    (["live", "scenarios/typhoon_tunnel_convoy.toml", "--feed", "-", "--out", "{tmp}/out"], "crowd scenarios"),
    (["replay", "{toml}", "--truth-seed", "1", "--drop", "thermometer@3"], "'thermometer' is not a sensor"),
    (["replay", "{toml}", "--truth-seed", "1", "--noise", "-0.1"], "expected a number >= 0"),
    (["replay", "{toml}"], "--truth-seed"),
])
def test_bad_input_is_one_clear_error_and_no_output(night_toml, tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(ROOT)
    argv = [a.format(toml=night_toml, tmp=tmp_path) for a in args]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_an_out_folder_with_other_files_is_refused_before_anything_runs(night_toml, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    feed = tmp_path / "feed.jsonl"
    feed.write_text("60,plaza_count,10\n")
    assert main(["live", str(night_toml), "--feed", str(feed), "--out", str(out)]) == 2
    assert "not a live twin's" in capsys.readouterr().err and sorted(p.name for p in out.iterdir()) == ["notes.txt"]
