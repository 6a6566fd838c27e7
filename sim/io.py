"""Results on disk: ``summary.json``, ``timeseries.csv``, the scenario used, and plots.

Everything is written into a temporary folder beside the destination and moved into place at the
end, so a failed run never leaves a half-written results folder.
"""

from __future__ import annotations

import csv
import json
import shutil
import tempfile
from pathlib import Path

__all__ = ["write_results"]


def write_results(model, out_dir: str | Path, plots: bool = True) -> Path:
    """Write a finished run's results into ``out_dir`` (created; replaced files inside it).

    ``model`` is anything :func:`sim.model.build_run` returns (a crowd model or a plan comparison)."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        summary = model.summary()
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        with open(tmp / "timeseries.csv", "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=model.TIMESERIES_COLUMNS)
            writer.writeheader()
            writer.writerows(model.timeseries_rows())
        (tmp / "scenario.json").write_text(json.dumps(model.scenario.to_dict(), indent=2) + "\n",
                                           encoding="utf-8")
        if plots:
            model.write_plots(tmp)
        out_dir.mkdir(exist_ok=True)
        for item in tmp.iterdir():
            item.replace(out_dir / item.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir
