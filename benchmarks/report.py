"""The one way every benchmark script reports: an aligned table on stdout and the same rows as CSV."""

from __future__ import annotations

import csv
from pathlib import Path

__all__ = ["print_table", "write_csv"]


def print_table(rows: list[dict], columns: list[str] | None = None) -> None:
    """Print ``rows`` as a ``|``-separated table with right-aligned columns."""
    cols = columns or list(rows[0])
    widths = [max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in cols]
    print(" | ".join(f"{c:>{w}}" for c, w in zip(cols, widths)))
    for r in rows:
        print(" | ".join(f"{str(r.get(c, '')):>{w}}" for c, w in zip(cols, widths)))


def write_csv(rows: list[dict], path: str | Path, columns: list[str] | None = None) -> Path:
    """Write ``rows`` to ``path`` (folders created), columns in ``columns`` or first-row order."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns or list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path
