"""Results written safely anywhere: across file systems and onto mount points, refused before the run
when the folder cannot be written, an earlier run's folder replaced whole, default folders that
never collide, and provenance in every run's files."""

from __future__ import annotations

import errno
import json
import os
import struct
import zlib
from pathlib import Path

import pytest

import sim.core.results as R
from sim.cli import main
from sim.core.errors import ConservationError, OutputError
from sim.core.results import default_out_dir, prepare_results, provenance, scenario_digest, write_results
from sim.kinds import load_scenario
from tests.conftest import corridor_scenario, to_toml


def _png() -> bytes:
    """A valid 1x1 grey PNG."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\x80")) + chunk(b"IEND", b""))


class _Scenario:
    def __init__(self, map_path: Path, name: str = "stub"):
        self.name, self.map_path = name, map_path

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": "crowd", "map": self.map_path.name, "simulation": {"duration_s": 60.0}}


class _Model:
    """What ``write_results`` needs of a run, without running anything."""

    TIMESERIES_COLUMNS = ["minute", "value"]

    def __init__(self, tmp_path: Path, seed: int = 7, plots: tuple[str, ...] = ("a.png",)):
        map_path = tmp_path / "stub.osm"
        map_path.write_text("<osm/>\n")
        self.scenario, self.seed_value, self.plots = _Scenario(map_path), seed, plots

    def summary(self) -> dict:
        return {"scenario": "stub", "seed": self.seed_value, "counters": {}}

    def timeseries_rows(self) -> list[dict]:
        return [{"minute": 1, "value": 2.5}]

    def write_plots(self, folder: Path) -> list:
        for name in self.plots:
            (folder / name).write_bytes(_png())
        return []


def _names(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def _no_leftovers(parent: Path) -> bool:
    """No staging or set-aside folder anywhere below ``parent``."""
    return not [p for p in parent.rglob(".citytwin-*")]


def test_files_carry_provenance(tmp_path):
    model = _Model(tmp_path)
    out = write_results(model, tmp_path / "out")
    assert _names(out) == {"summary.json", "timeseries.csv", "scenario.json", "provenance.json", "a.png"}
    summary = json.loads((out / "summary.json").read_text())
    block = summary["provenance"]
    assert block["version"] == R.package_version() and block["seed"] == 7
    assert block["scenario_sha256"] == scenario_digest(model.scenario.to_dict())
    assert block["map_sha256"] == R._file_sha256(model.scenario.map_path)
    assert block["settings"] == {"overrides": [], "plans": None}
    prov = json.loads((out / "provenance.json").read_text())
    assert {k: prov[k] for k in block} == block
    assert prov["python"] and prov["created_utc"] and prov["libraries"]["numpy"]
    for name in ("summary.json", "timeseries.csv", "scenario.json", "a.png"):
        assert prov["files"][name] == R._file_sha256(out / name)
    png = (out / "a.png").read_bytes()
    assert b"tEXtcitytwin:provenance\x00" in png and png.startswith(b"\x89PNG")
    assert oct(out.stat().st_mode & 0o777) == oct(0o777 & ~_umask())   # not mkdtemp's 0700
    assert _no_leftovers(tmp_path)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_an_earlier_runs_folder_is_replaced_whole(tmp_path):
    out = tmp_path / "out"
    write_results(_Model(tmp_path, plots=("old.png", "a.png")), out)
    (out / "notes.txt").write_text("stale")
    folder = prepare_results(out)
    assert folder.replaced and folder.replaced_files == 7
    assert (out / "old.png").exists()                   # nothing changes before the commit
    write_results(_Model(tmp_path, seed=8), folder)
    assert _names(out) == {"summary.json", "timeseries.csv", "scenario.json", "provenance.json", "a.png"}
    assert json.loads((out / "summary.json").read_text())["seed"] == 8
    assert _no_leftovers(tmp_path)


def test_cross_device_moves_fall_back_to_copying(tmp_path, monkeypatch):
    """Staging and destination on different file systems: os.replace raises EXDEV (as it does when
    --out is a mount point or another disk), and the results are copied instead."""
    real_replace = os.replace
    calls = []

    def replace(src, dst):
        calls.append((str(src), str(dst)))
        if ".citytwin-" in str(src) or ".citytwin-" in str(dst):
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return real_replace(src, dst)

    out = tmp_path / "deep" / "out"
    write_results(_Model(tmp_path, plots=("old.png",)), out)
    monkeypatch.setattr(os, "replace", replace)
    write_results(_Model(tmp_path, seed=9), out)
    assert calls, "os.replace was never tried"
    assert _names(out) == {"summary.json", "timeseries.csv", "scenario.json", "provenance.json", "a.png"}
    assert json.loads((out / "summary.json").read_text())["seed"] == 9
    assert _no_leftovers(tmp_path)


def test_mount_point_is_filled_in_place(tmp_path, monkeypatch):
    """A mount point cannot be renamed: the files are staged inside it and moved up."""
    out = tmp_path / "mnt"
    out.mkdir()
    write_results(_Model(tmp_path, plots=("old.png",)), out)
    inode = out.stat().st_ino
    real_ismount = os.path.ismount
    monkeypatch.setattr(os.path, "ismount", lambda p: Path(p) == out or real_ismount(p))
    folder = prepare_results(out)
    assert folder.inside and folder.staging.parent == out
    write_results(_Model(tmp_path, seed=11), folder)
    assert out.stat().st_ino == inode                   # the same folder, not a new one
    assert _names(out) == {"summary.json", "timeseries.csv", "scenario.json", "provenance.json", "a.png"}
    assert _no_leftovers(tmp_path)


def test_failed_write_leaves_the_earlier_results(tmp_path):
    out = tmp_path / "out"
    write_results(_Model(tmp_path), out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    class Broken(_Model):
        def write_plots(self, folder):
            raise RuntimeError("plot failed")

    with pytest.raises(RuntimeError, match="plot failed"):
        write_results(Broken(tmp_path, seed=99), out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert _no_leftovers(tmp_path)


def test_unwritable_places_are_refused_before_anything_is_written(tmp_path):
    with pytest.raises(OutputError, match="not writable|cannot create"):
        prepare_results("/proc/citytwin-results/out")           # read-only even for root
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="exists and is not a folder"):
        prepare_results(blocker)
    with pytest.raises(OutputError, match="cannot create|not writable"):
        prepare_results(blocker / "below")
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("keep me")
    with pytest.raises(OutputError, match="not a citytwin run's results.*'thesis.tex'"):
        prepare_results(foreign)
    assert (foreign / "thesis.tex").read_text() == "keep me"
    assert _no_leftovers(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_folder_is_refused(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        with pytest.raises(OutputError, match="not writable"):
            prepare_results(locked / "out")
    finally:
        locked.chmod(0o755)


def test_default_folders_differ_by_settings_seed_and_plans(tmp_path):
    stub = _Scenario(tmp_path / "m.osm")
    base = default_out_dir("scenarios/x.toml", stub, 1)
    assert base.parent == Path("out") and base.name.startswith("x-") and len(base.name) == len("x-") + 8
    assert default_out_dir("scenarios/x.toml", stub, 1) == base
    assert default_out_dir("scenarios/x.toml", stub, 2) != base
    assert default_out_dir("scenarios/x.toml", stub, 1, ["plan_a"]) != base
    other = _Scenario(tmp_path / "m.osm", name="other")
    assert default_out_dir("scenarios/x.toml", other, 1) != base


# --- through the CLI -----------------------------------------------------------------------------------

@pytest.fixture
def corridor_toml(tmp_path) -> Path:
    data = corridor_scenario(tmp_path, rate_per_min=120, duration_s=300)
    path = tmp_path / "corridor.toml"
    path.write_text(to_toml(data))
    return path


def test_cli_default_folders_never_collide(corridor_toml, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    args = ["run", str(corridor_toml), "--quiet", "--no-plots"]
    assert main(args) == 0
    assert main([*args, "--seed", "4"]) == 0
    assert main([*args, "--set", "zones.plaza.cap=50"]) == 0
    folders = sorted((tmp_path / "out").iterdir())
    assert len(folders) == 3 and all(f.name.startswith("corridor-") for f in folders)
    seeds = {json.loads((f / "provenance.json").read_text())["seed"] for f in folders}
    assert seeds == {3, 4}
    overrides = [json.loads((f / "summary.json").read_text())["provenance"]["settings"]["overrides"] for f in folders]
    assert sorted(overrides) == [[], [], ["zones.plaza.cap=50"]]
    scenario = load_scenario(corridor_toml)
    block = provenance(scenario, 3)
    first = [f for f in folders if json.loads((f / "provenance.json").read_text())["seed"] == 3
             and not json.loads((f / "provenance.json").read_text())["settings"]["overrides"]][0]
    assert json.loads((first / "summary.json").read_text())["provenance"] == block


def test_cli_replaces_an_earlier_run_and_says_so(corridor_toml, tmp_path, capsys):
    out = tmp_path / "res"
    assert main(["run", str(corridor_toml), "--quiet", "--out", str(out)]) == 0
    assert "replaced" not in capsys.readouterr().out
    pngs = {p.name for p in out.glob("*.png")}
    assert pngs
    assert main(["run", str(corridor_toml), "--quiet", "--no-plots", "--out", str(out)]) == 0
    assert "replaced an earlier run's results" in capsys.readouterr().out
    assert not list(out.glob("*.png"))                       # no stale plots of the earlier run
    assert _no_leftovers(tmp_path)


def test_cli_refuses_an_unwritable_out_before_the_run(corridor_toml, tmp_path, monkeypatch, capsys):
    import sim.crowd.model

    ran = []
    monkeypatch.setattr(sim.crowd.model.CrowdModel, "run", lambda self, **kw: ran.append(1) or {})
    assert main(["run", str(corridor_toml), "--quiet", "--out", "/proc/citytwin/out"]) == 2
    err = capsys.readouterr().err
    assert "error: --out '/proc/citytwin/out'" in err and "Traceback" not in err and not ran


def test_cli_failed_run_leaves_no_folder(corridor_toml, tmp_path, monkeypatch, capsys):
    import sim.crowd.model

    def broken(self, **kw):
        raise ConservationError("crowd agents", 12, 12.0, {"entered": 5, "exited": 6})

    monkeypatch.setattr(sim.crowd.model.CrowdModel, "run", broken)
    out = tmp_path / "new" / "deeper" / "out"
    assert main(["run", str(corridor_toml), "--quiet", "--out", str(out)]) == 3
    assert not (tmp_path / "new").exists()                   # folders made for it are gone too
