"""Results on disk: ``summary.json``, ``timeseries.csv``, the scenario used, plots and provenance.

A results folder is made ready *before* a run (:func:`prepare_results`): it must be creatable and
writable, and an existing folder must be empty or hold an earlier run's results (``summary.json``
or ``provenance.json``), never other files.  Files are written into a staging folder and moved into
place when everything is written, so a failed run leaves no half-written folder:

* staging beside the destination (same file system), then the old folder is swapped out whole; or
* staging inside the destination when it is a mount point, on another device than its parent, or
  its parent is not writable; the old files are then removed and the new ones moved up.

A move that crosses file systems (``EXDEV``) falls back to copy-and-delete.  A run into an existing
folder replaces it whole (:attr:`ResultsFolder.replaced` says so): no stale files of an earlier run.

Every run's files carry provenance (:func:`provenance`): ``summary.json`` has a ``provenance`` block
(package version, scenario and map hashes, settings, seed) and ``provenance.json`` adds the machine,
the time, the command and the SHA-256 of every file written; PNG plots carry it as a text chunk.
"""

from __future__ import annotations

import csv
import errno
import hashlib
import io
import json
import os
import platform
import secrets
import shutil
import struct
import sys
import tempfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .errors import OutputError

__all__ = ["write_results", "prepare_results", "ResultsFolder", "summary_json", "timeseries_csv",
           "scenario_json", "provenance", "provenance_json", "scenario_digest", "default_out_dir",
           "package_version", "PROVENANCE_NAME", "RESULT_MARKERS"]

PROVENANCE_NAME = "provenance.json"
#: A folder holding one of these is an earlier run's results, which a new run may replace.
RESULT_MARKERS = ("provenance.json", "summary.json")
_STAGING_PREFIX = ".citytwin-staging-"
_OLD_PREFIX = ".citytwin-old-"
_PNG_KEY = b"citytwin:provenance"


# ---------------------------------------------------------------------------------------------
# File contents.
# ---------------------------------------------------------------------------------------------

def summary_json(summary: dict) -> str:
    """``summary.json`` as written by :func:`write_results`."""
    return json.dumps(summary, indent=2) + "\n"


def timeseries_csv(rows: list[dict], columns: list[str]) -> str:
    """``timeseries.csv`` as written by :func:`write_results` (one row per dict, in ``columns`` order)."""
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def scenario_json(scenario_data: dict) -> str:
    """``scenario.json`` (the scenario as run, ``ScenarioBase.to_dict()``)."""
    return json.dumps(scenario_data, indent=2) + "\n"


# ---------------------------------------------------------------------------------------------
# Provenance.
# ---------------------------------------------------------------------------------------------

def package_version() -> str:
    """The installed citytwin version (``"unknown"`` when run from a tree that is not installed)."""
    from importlib import metadata
    try:
        return metadata.version("citytwin")
    except metadata.PackageNotFoundError:
        return "unknown"


def scenario_digest(data: dict) -> str:
    """SHA-256 of a scenario's plain data (canonical JSON, sorted keys): equal scenarios, equal hash."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode("utf-8")).hexdigest()


def _file_sha256(path: Path) -> str | None:
    try:
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()
    except OSError:
        return None


def provenance(scenario: Any, seed: int | None, *, plans: Sequence[str] | None = None,
               overrides: Sequence[str] = ()) -> dict:
    """What a run's results came from: package version, scenario hash (after ``--set``), map hash,
    seed and settings.  Deterministic (the same run gives the same block), so it sits in
    ``summary.json``; :func:`provenance_json` adds the machine, time and files."""
    data = scenario.to_dict() if hasattr(scenario, "to_dict") else dict(scenario)
    map_path = getattr(scenario, "map_path", None)
    return {
        "package": "citytwin",
        "version": package_version(),
        "scenario": data.get("name"),
        "kind": data.get("kind", "crowd"),
        "scenario_sha256": scenario_digest(data),
        "map": data.get("map"),
        "map_sha256": _file_sha256(map_path) if map_path is not None else None,
        "seed": None if seed is None else int(seed),
        "settings": {"overrides": [str(o) for o in overrides],
                     "plans": [str(p) for p in plans if p] or None if plans else None},
    }


def _source_commit() -> str | None:
    """The git commit of the source tree this package runs from, read from ``.git`` (no git call)."""
    root = Path(__file__).resolve().parents[2] / ".git"
    try:
        head = (root / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head or None
        ref = head[5:]
        if (root / ref).is_file():
            return (root / ref).read_text().strip() or None
        for line in (root / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split()[0]
    except OSError:
        pass
    return None


def provenance_json(block: dict, files: dict[str, str] | None = None, command: Sequence[str] | None = None) -> str:
    """``provenance.json``: the summary's provenance block, the environment (Python, libraries, OS,
    time, command, source commit) and the SHA-256 of every result file."""
    libraries = {}
    for name in ("numpy", "numba", "mesa", "osmnx", "pydantic", "networkx"):
        module = sys.modules.get(name)
        libraries[name] = getattr(module, "__version__", None) if module is not None else None
    data = {**block, "source_commit": _source_commit(),
            "python": platform.python_version(), "platform": platform.platform(), "libraries": libraries,
            "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": list(command) if command is not None else None,
            "files": dict(sorted((files or {}).items()))}
    return json.dumps(data, indent=2) + "\n"


def _png_with_text(data: bytes, key: bytes, text: str) -> bytes:
    """A PNG with a ``tEXt`` chunk inserted after its header (pixels untouched)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return data
    end_ihdr = 8 + 8 + struct.unpack(">I", data[8:12])[0] + 4
    body = key + b"\x00" + text.encode("latin-1", "replace")
    chunk = struct.pack(">I", len(body)) + b"tEXt" + body + struct.pack(">I", zlib.crc32(b"tEXt" + body))
    return data[:end_ihdr] + chunk + data[end_ihdr:]


def default_out_dir(scenario_path: str | Path, scenario: Any, seed: int | None,
                    plans: Iterable[str] | None = None, root: str | Path = "out") -> Path:
    """``out/<scenario file stem>-<8 hex>``: the hex is a hash of the scenario as run (after
    ``--set``), the seed and the plans, so runs with other settings or seeds never share a folder."""
    data = scenario.to_dict() if hasattr(scenario, "to_dict") else dict(scenario)
    key = {"scenario": scenario_digest(data), "seed": seed, "plans": sorted(plans or [])}
    short = hashlib.sha256(json.dumps(key, sort_keys=True).encode("utf-8")).hexdigest()[:8]
    return Path(root) / f"{Path(scenario_path).stem}-{short}"


# ---------------------------------------------------------------------------------------------
# The folder: checked before the run, committed after it.
# ---------------------------------------------------------------------------------------------

def _move(src: Path, dst: Path) -> None:
    """Rename ``src`` to ``dst``; across file systems (EXDEV), copy then delete."""
    try:
        os.replace(src, dst)
        return
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
    try:
        if src.is_dir() and not src.is_symlink():
            shutil.copytree(src, dst, symlinks=True)
        else:
            shutil.copy2(src, dst, follow_symlinks=False)
    except BaseException:
        if dst.is_dir() and not dst.is_symlink():
            shutil.rmtree(dst, ignore_errors=True)
        elif dst.exists():
            dst.unlink(missing_ok=True)
        raise
    _remove(src)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _device(path: Path) -> int:
    return os.stat(path).st_dev


def _make_hidden_dir(parent: Path, prefix: str) -> Path:
    """A new hidden folder in ``parent`` with the usual permissions (umask applies, unlike
    ``tempfile.mkdtemp``'s 0700), so the results folder it becomes is readable as any other."""
    for _ in range(100):
        path = parent / f"{prefix}{secrets.token_hex(4)}"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free name for a staging folder", str(parent))  # pragma: no cover


@dataclass
class ResultsFolder:
    """A results destination made ready before a run (see :func:`prepare_results`).

    ``path`` is the folder as given, ``real`` where it resolves to; ``replaced`` is true when it held
    an earlier run's results, which :meth:`commit` replaces whole (``replaced_files`` of them)."""

    path: Path
    real: Path
    staging: Path
    inside: bool                                      # staging inside the destination (mount point)
    replaced: bool = False
    replaced_files: int = 0
    created: list[Path] = field(default_factory=list)  # folders made for it, removed by discard()
    done: bool = False

    def commit(self) -> Path:
        """Move the staged files into place (replacing an earlier run's files); returns ``path``."""
        if self.done:
            raise OutputError(f"results in {str(self.path)!r} were already committed or discarded")
        try:
            if self.inside:
                self._commit_inside()
            else:
                self._commit_beside()
        except OSError as exc:
            self.discard()
            raise OutputError(f"--out {str(self.path)!r}: could not move the results into place ({exc})") from exc
        self.done = True
        return self.path

    def _commit_beside(self) -> None:
        old = None
        if self.real.exists():
            old = self.real.parent / f"{_OLD_PREFIX}{secrets.token_hex(4)}"
            try:
                os.replace(self.real, old)
            except OSError:                            # cannot set it aside: remove it
                old = None
                shutil.rmtree(self.real)
        try:
            _move(self.staging, self.real)
        except BaseException:
            if old is not None and not self.real.exists():
                os.replace(old, self.real)             # put the earlier results back
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    def _commit_inside(self) -> None:
        """The destination stays (a mount point): its old files are set aside in a hidden folder
        inside it, the new ones moved up; on failure the old ones are put back."""
        old = _make_hidden_dir(self.real, _OLD_PREFIX)
        kept, moved = [], []
        try:
            for item in list(self.real.iterdir()):
                if item not in (self.staging, old):
                    os.replace(item, old / item.name)
                    kept.append(item.name)
            for item in list(self.staging.iterdir()):
                _move(item, self.real / item.name)
                moved.append(item.name)
        except BaseException:
            for name in moved:
                _remove(self.real / name)
            for name in kept:
                os.replace(old / name, self.real / name)
            shutil.rmtree(old, ignore_errors=True)
            raise
        self.staging.rmdir()
        shutil.rmtree(old, ignore_errors=True)

    def discard(self) -> None:
        """Remove the staging folder and any folder made for these results (a failed run)."""
        shutil.rmtree(self.staging, ignore_errors=True)
        for folder in reversed(self.created):
            try:
                folder.rmdir()                         # only if still empty
            except OSError:
                pass
        self.done = True


def _check_existing(out: Path, real: Path) -> int:
    """Files in an existing destination that a run may replace; raises when it is not a results folder."""
    if not real.is_dir():
        raise OutputError(f"--out {str(out)!r} exists and is not a folder: give a folder path")
    try:
        names = [p.name for p in real.iterdir()
                 if not p.name.startswith((_STAGING_PREFIX, _OLD_PREFIX))]
    except OSError as exc:
        raise OutputError(f"--out {str(out)!r} cannot be read ({exc.strerror or exc})") from None
    if names and not any(m in names for m in RESULT_MARKERS):
        shown = ", ".join(repr(n) for n in sorted(names)[:3]) + (", ..." if len(names) > 3 else "")
        raise OutputError(f"--out {str(out)!r} holds files that are not a citytwin run's results ({shown}); "
                          f"a run replaces its folder whole, so give a new or empty folder")
    cwd = Path.cwd().resolve()
    if real == cwd or real in cwd.parents or real == Path.home().resolve() or real == Path(real.anchor):
        raise OutputError(f"--out {str(out)!r} is the current folder, one above it, the home folder or a "
                          f"root: give a folder of its own")
    return len(names)


def prepare_results(out_dir: str | Path) -> ResultsFolder:
    """Check and stage a results folder before a run: raises :class:`~sim.core.errors.OutputError`
    when it cannot be created or written, is a file, or holds files that are not results.  Nothing
    visible changes until :meth:`ResultsFolder.commit` (folders above it may be created)."""
    out = Path(out_dir)
    real = Path(os.path.realpath(out))
    exists = real.exists()
    n_old = _check_existing(out, real) if exists else 0
    created: list[Path] = []
    missing = [p for p in [real.parent, *real.parent.parents] if not p.exists()][::-1]
    try:
        for folder in missing:
            folder.mkdir()
            created.append(folder)
    except OSError as exc:
        for folder in reversed(created):
            folder.rmdir()
        raise OutputError(f"--out {str(out)!r}: cannot create {str(folder)!r} "
                          f"({exc.strerror or exc}); give a writable folder") from None
    inside = exists and (os.path.ismount(real) or _device(real) != _device(real.parent)
                         or not os.access(real.parent, os.W_OK | os.X_OK))
    where = real if inside else real.parent
    try:
        staging = _make_hidden_dir(where, _STAGING_PREFIX)
        probe = staging / ".write-probe"
        probe.write_bytes(b"ok")
        probe.unlink()
        if exists and not inside:                      # the old files must be removable too
            fd, name = tempfile.mkstemp(prefix=_STAGING_PREFIX, dir=real)
            os.close(fd)
            os.unlink(name)
    except OSError as exc:
        if "staging" in locals():
            shutil.rmtree(staging, ignore_errors=True)
        for folder in reversed(created):
            folder.rmdir()
        raise OutputError(f"--out {str(out)!r} is not writable ({exc.strerror or exc}); "
                          f"give a folder you can write to") from None
    return ResultsFolder(path=out, real=real, staging=staging, inside=inside, replaced=n_old > 0,
                         replaced_files=n_old, created=created)


def write_results(model: Any, out_dir: str | Path | ResultsFolder, plots: bool = True, *,
                  provenance_block: dict | None = None, command: Sequence[str] | None = None) -> Path:
    """Write a finished run's results and move them into place (see the module docstring).

    ``model`` is what :func:`sim.kinds.build_run` returns (``summary()``, ``timeseries_rows()``,
    ``TIMESERIES_COLUMNS``, ``scenario``, ``write_plots(folder)`` and, where a kind has more files
    such as a crowd run's ``places.geojson``, ``write_files(folder, summary)``); ``out_dir`` a path or a folder
    from :func:`prepare_results` (made ready before the run).  ``provenance_block`` defaults to
    :func:`provenance` of the model's scenario, seed and plans.  On any error the staged files are
    removed and the destination is left as it was."""
    folder = out_dir if isinstance(out_dir, ResultsFolder) else prepare_results(out_dir)
    try:
        block = provenance_block if provenance_block is not None else provenance(
            model.scenario, getattr(model, "seed_value", None), plans=getattr(model, "plan_names", None))
        tmp = folder.staging
        summary = {**model.summary(), "provenance": block}
        (tmp / "summary.json").write_text(summary_json(summary), encoding="utf-8")
        (tmp / "timeseries.csv").write_text(timeseries_csv(model.timeseries_rows(), model.TIMESERIES_COLUMNS),
                                            encoding="utf-8", newline="")
        (tmp / "scenario.json").write_text(scenario_json(model.scenario.to_dict()), encoding="utf-8")
        if hasattr(model, "write_files"):          # a kind's result files besides the plots
            model.write_files(tmp, summary)
        if plots:
            model.write_plots(tmp)
            text = json.dumps(block, sort_keys=True)
            for png in tmp.glob("*.png"):
                png.write_bytes(_png_with_text(png.read_bytes(), _PNG_KEY, text))
        files = {p.name: _file_sha256(p) for p in tmp.iterdir() if p.is_file()}
        (tmp / PROVENANCE_NAME).write_text(provenance_json(block, files, command), encoding="utf-8")
    except BaseException:
        folder.discard()
        raise
    return folder.commit()
