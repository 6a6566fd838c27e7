"""Results on disk: ``summary.json``, ``timeseries.csv``, the scenario used, and plots.

Everything is written into a temporary folder beside the destination and moved into place at the
end, so a failed run never leaves a half-written results folder.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import tempfile
from pathlib import Path

__all__ = ["write_results", "summary_json", "timeseries_csv", "scenario_json"]


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
    """``scenario.json`` (the scenario as run, :meth:`~sim.scenario.Scenario.to_dict`)."""
    return json.dumps(scenario_data, indent=2) + "\n"


def write_results(model, out_dir: str | Path, plots: bool = True) -> Path:
    """Write a finished run's results into ``out_dir`` (created; replaced files inside it).

    ``model`` is anything :func:`sim.model.build_run` returns (a crowd model or a plan comparison)."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        (tmp / "summary.json").write_text(summary_json(model.summary()), encoding="utf-8")
        (tmp / "timeseries.csv").write_text(timeseries_csv(model.timeseries_rows(), model.TIMESERIES_COLUMNS),
                                            encoding="utf-8", newline="")
        (tmp / "scenario.json").write_text(scenario_json(model.scenario.to_dict()), encoding="utf-8")
        if plots:
            model.write_plots(tmp)
        out_dir.mkdir(exist_ok=True)
        for item in tmp.iterdir():
            item.replace(out_dir / item.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir
