"""Shared plotting ground: matplotlib without a display, PNG bytes, clock labels, point labels."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = ["plt", "figure_png", "clock_label", "place_labels"]

def figure_png(fig: "Figure", dpi: int = 110) -> bytes:
    """The figure as PNG bytes; closes it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    return buffer.getvalue()


def clock_label(start_clock: str, minutes: float) -> str:
    h, m = (int(x) for x in start_clock.split(":"))
    total = h * 60 + m + int(round(minutes))
    return f"{(total // 60) % 24:02d}:{total % 60:02d}"


def place_labels(ax, xy: np.ndarray, radii_pt: np.ndarray, texts: Sequence[str], fontsize: float) -> None:
    """Label each point beside its circle where the label covers no other circle or label and stays
    inside the axes (tried right, left, above, below, then the diagonals; the first free place, else
    the right)."""
    fig = ax.figure
    fig.canvas.draw()
    to_pt = 72.0 / fig.dpi
    centres = ax.transData.transform(xy) * to_pt
    frame = ax.get_window_extent()
    fx0, fy0, fx1, fy1 = frame.x0 * to_pt, frame.y0 * to_pt, frame.x1 * to_pt, frame.y1 * to_pt
    placed: list[tuple[float, float, float, float]] = []

    def hits(box) -> bool:
        x0, y0, x1, y1 = box
        if x0 < fx0 or y0 < fy0 or x1 > fx1 or y1 > fy1:
            return True
        for (cx, cy), r in zip(centres, radii_pt):
            if x0 - r < cx < x1 + r and y0 - r < cy < y1 + r:
                return True
        return any(x0 < b[2] and b[0] < x1 and y0 < b[3] and b[1] < y1 for b in placed)

    for k in np.argsort(-radii_pt, kind="stable"):
        (cx, cy), r, text = centres[k], radii_pt[k], texts[k]
        w, h, gap = 0.58 * fontsize * len(text), 1.2 * fontsize, r + 2.0
        candidates = [(gap, -h / 2), (-gap - w, -h / 2), (-w / 2, gap), (-w / 2, -gap - h),
                      (0.7 * gap, 0.7 * gap), (-0.7 * gap - w, 0.7 * gap), (0.7 * gap, -0.7 * gap - h),
                      (-0.7 * gap - w, -0.7 * gap - h)]
        dx, dy = next(((dx, dy) for dx, dy in candidates
                       if not hits((cx + dx, cy + dy, cx + dx + w, cy + dy + h))), candidates[0])
        placed.append((cx + dx, cy + dy, cx + dx + w, cy + dy + h))
        ax.annotate(text, xy[k], xytext=(dx, dy), textcoords="offset points", fontsize=fontsize,
                    ha="left", va="bottom", zorder=4)
