"""The one-page report ``advise`` writes for the meeting (``advice.html``, self-contained: the plots
are embedded as base64 PNGs, so the file can be mailed or printed as it is).

It states the answer and its risk (the runs, the failures and the 95% bound), the price (gate queues
and waits, people who went home: median and p5-p95 over the answer's runs), the curve of P(unsafe)
against the cap with intervals for every plan, the places that broke the criterion most often on the
map (with their share of runs, from each run's own ``summary.json``), the reasoning table, and how
to read it all (method, caveat, files).

It also holds what the report shares with :mod:`sim.study.advise`: the file names
(``ADVICE_JSON``, ``ADVICE_HTML``), :func:`cap_text` and the reasoning table
(:func:`format_reasoning`, re-exported by ``advise``).  Imports run one way: ``advise`` imports this
module, this module never imports ``advise`` (only its types, for annotations).
"""

from __future__ import annotations

import base64
import html
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .stats import runs_needed

if TYPE_CHECKING:  # pragma: no cover
    from .advise import Advice, PlanResult

__all__ = ["write_report", "place_risk", "format_reasoning", "cap_text", "ADVICE_JSON", "ADVICE_HTML"]

ADVICE_JSON, ADVICE_HTML = "advice.json", "advice.html"


def cap_text(cap: int | None) -> str:
    return "uncapped" if cap is None else f"{cap:,}"


def place_risk(result: "PlanResult", cap: int | None, cap_key: str) -> list[dict[str, Any]]:
    """Per place, over the ok runs of ``result`` at ``cap`` (read from each run's ``summary.json``):
    the share of runs in which it broke the criterion, and the median / p95 of its KPIs; sorted by
    that share, then by median seconds with walkers at LOS F."""
    from .sweep import cell_folder_name

    cell = cell_folder_name([cap_key], ("" if cap is None else str(cap),))
    runs = []
    for row in result.rows_at(cap):
        path = result.runs_dir / cell / f"seed-{int(row['seed'])}" / "summary.json"
        if path.is_file():
            try:
                runs.append(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, json.JSONDecodeError):
                continue
    if not runs:
        return []
    names = list(runs[0].get("places", {}))
    out = []
    for name in names:
        failing = [name in r.get("safety", {}).get("failing_places", []) for r in runs]
        kpis = [r["places"].get(name, {}) for r in runs]

        def stat(key: str, q: float) -> float:
            vals = [k.get(key) for k in kpis if isinstance(k.get(key), (int, float))]
            return round(float(np.percentile(vals, q)), 2) if vals else 0.0

        out.append({"place": name, "kind": kpis[0].get("kind", ""), "runs": len(runs),
                    "share_breaking": round(sum(failing) / len(runs), 4),
                    "walkers_los_f_s_median": stat("seconds_walkers_at_los_f", 50),
                    "longest_los_f_spell_s_p95": stat("longest_spell_walkers_at_los_f_s", 95),
                    "holding_queue_los_e_s_median": stat("seconds_holding_at_queue_los_e_or_worse", 50),
                    "peak_density_ppm2_p95": stat("peak_density_ppm2", 95)})
    out.sort(key=lambda r: (-r["share_breaking"], -r["walkers_los_f_s_median"], -r["holding_queue_los_e_s_median"]))
    return out


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _pct(p: float) -> str:
    return f"{100 * p:.3g}%"


def _focus(advice: "Advice") -> tuple["PlanResult | None", Any]:
    """The plan and cap whose places the report maps: the answer, else the least risky cap tried."""
    if advice.best is not None and advice.best.search.found:
        return advice.best, advice.best.search.cap
    best = None
    for result in advice.plans:
        for rec in result.search.tested():
            if rec.n and (best is None or (rec.p, -rec.n) < (best[1].p, -best[1].n)):
                best = (result, rec)
    return (best[0], best[1].cap) if best else (None, None)


def _places_map(advice: "Advice", result: "PlanResult", cap: Any, rows: list[dict]) -> bytes | None:
    from ..core.plotting import figure_png
    from ..crowd.compile import compile_crowd
    from ..crowd.plots import places_risk_map_figure
    from ..kinds import load_scenario

    try:
        scenario = load_scenario(advice.scenario_path, [*_base_overrides(result), *result.plan.overrides,
                                                        f"{advice.cap_key}={'none' if cap is None else cap}"])
        arrays = compile_crowd(scenario)
    except Exception:                       # the report still says everything else
        return None
    share = {r["place"]: r["share_breaking"] for r in rows}
    where = "uncapped" if cap is None else f"cap {cap:,}"
    fig = places_risk_map_figure(arrays.walk, arrays.places, share,
                                 f"plan {result.plan.name}, {where}: where runs broke the criterion "
                                 f"({rows[0]['runs'] if rows else 0} runs)")
    return figure_png(fig, dpi=90)


def _base_overrides(result: "PlanResult") -> list[str]:
    manifest = result.out_dir / "sweep.json"
    try:
        overrides = json.loads(manifest.read_text(encoding="utf-8"))["overrides"]
    except (OSError, KeyError, json.JSONDecodeError):
        return []
    plan = list(result.plan.overrides)
    return [o for o in overrides if o not in plan]


_CSS = """
body{font-family:system-ui,Segoe UI,Helvetica,Arial,sans-serif;max-width:1000px;margin:1.5em auto;color:#222}
h1{font-size:1.35em;margin-bottom:.2em} h2{font-size:1.1em;margin-top:1.4em;border-bottom:1px solid #ccc}
.answer{padding:.8em 1em;border-radius:6px;font-size:1.05em}
.ok{background:#e7f4e4;border:1px solid #7fbf7b} .no{background:#fdecea;border:1px solid #d73027}
table{border-collapse:collapse;font-size:.85em} td,th{padding:.2em .6em;border-bottom:1px solid #ddd;text-align:right}
th{background:#f3f3f3} td:first-child,th:first-child{text-align:left} img{max-width:100%}
pre{font-size:.75em;background:#f7f7f7;padding:.6em;overflow-x:auto} .small{font-size:.8em;color:#555}
@media print{body{margin:0}}
"""


def write_report(advice: "Advice", path: str | Path) -> Path:
    """Write ``advice.html`` (see the module docstring)."""
    from ..core.plotting import figure_png
    from .plots import risk_curve_figure

    path = Path(path)
    esc = html.escape
    found = advice.best is not None and advice.best.search.found
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>citytwin advice: {esc(advice.scenario)}"
             f"</title><style>{_CSS}</style></head><body>",
             f"<h1>{esc(advice.scenario)}: how many people on {esc(advice.main_zone)}?</h1>",
             f"<p class='small'>citytwin advise, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; scenario "
             f"{esc(advice.scenario_path)}; seeds from {advice.seed0}; risk asked {_pct(advice.risk)}.</p>",
             f"<div class='answer {'ok' if found else 'no'}'>{esc(advice.text)}</div>"]
    price = advice.price()
    if price:
        parts.append("<h2>The price at the answer</h2><table><tr><th>what</th><th>median</th><th>p5</th>"
                     "<th>p95</th><th>runs</th></tr>")
        for value in price.values():
            parts.append(f"<tr><td>{esc(value['label'])}</td><td>{value['median']:,.0f}</td><td>{value['p5']:,.0f}"
                         f"</td><td>{value['p95']:,.0f}</td><td>{value['runs']}</td></tr>")
        parts.append("</table>")
    curves = {r.plan.name: [rec.to_dict(advice.risk, advice.max_seeds) for rec in r.search.tested()]
              for r in advice.plans}
    answer = {"plan": advice.best.plan.name, "cap": advice.best.search.cap} if found else None
    parts.append("<h2>The risk against the cap</h2>")
    parts.append(_img(figure_png(risk_curve_figure(curves, advice.risk, answer), dpi=100), "risk against the cap"))
    parts.append(f"<p class='small'>Each point: the share of runs at that cap that broke the criterion; the bar "
                 f"runs from the one-sided 95% lower to the one-sided 95% upper Clopper-Pearson bound. A cap is "
                 f"safe when its upper end is below the risk ({runs_needed(advice.risk)} runs without a failure "
                 f"are the fewest that can show {_pct(advice.risk)}); the response need not fall with the cap.</p>")
    result, cap = _focus(advice)
    if result is not None:
        rows = place_risk(result, cap, advice.cap_key)
        where = cap_text(cap)
        heading = "Where it breaks at the answer" if found else f"Where it breaks at the least risky cap tried ({where})"
        parts.append(f"<h2>{heading}</h2>")
        png = _places_map(advice, result, cap, rows) if rows else None
        if png:
            parts.append(_img(png, "places that broke the criterion"))
        shown = [r for r in rows if r["share_breaking"] > 0][:12]
        if shown:
            parts.append("<table><tr><th>place</th><th>kind</th><th>share of runs breaking</th>"
                         "<th>walkers at LOS F (s, median)</th><th>longest LOS F spell (s, p95)</th>"
                         "<th>queuing LOS E+ (s, median)</th><th>peak p/m2 (p95)</th></tr>")
            for r in shown:
                parts.append(f"<tr><td>{esc(r['place'])}</td><td>{esc(r['kind'])}</td>"
                             f"<td>{r['share_breaking']:.2f}</td><td>{r['walkers_los_f_s_median']:,.0f}</td>"
                             f"<td>{r['longest_los_f_spell_s_p95']:,.0f}</td>"
                             f"<td>{r['holding_queue_los_e_s_median']:,.0f}</td>"
                             f"<td>{r['peak_density_ppm2_p95']:.2f}</td></tr>")
            parts.append("</table>")
        elif rows:
            parts.append(f"<p>No place broke the criterion in any of the {rows[0]['runs']} runs.</p>")
    crit = advice.criterion
    parts.append("<h2>How the answer was found</h2>")
    parts.append(f"<pre>{esc(format_reasoning(advice))}</pre>")
    parts.append(
        "<p class='small'>A run breaks the safety criterion when walkers in any place stay at walkway LOS F "
        f"(Fruin 1971; thresholds shifted for umbrellas in rain) longer than {crit.get('max_walk_los_f_s', '?')} s at "
        f"a stretch, or people standing or queueing spend more than {crit.get('max_hold_los_e_s', '?')} s at "
        f"Fruin's queuing LOS E or worse. Caps were screened with a few runs each on common seeds, certified "
        f"from the top with runs added until each interval was clearly above or below the risk, and refined "
        f"by bisection. Caveat: each bound holds for one cap tested alone; choosing the highest passing cap "
        f"and stopping as the runs came in make the overall error rate somewhat higher than 5%: check the "
        f"advised cap with an independent sweep on fresh seeds (citytwin sweep ... --set simulation.seed=N). "
        f"Files: advice.json, and per plan a sweep folder with every run's results.</p></body></html>")
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def format_reasoning(advice: "Advice") -> str:
    """The reasoning as a short table: per plan and tested cap, runs, failures, the 95% bounds and
    the verdict; then the answer in words."""
    lines = [f"{advice.scenario}: risk {_pct(advice.risk)}; safe = one-sided 95% upper Clopper-Pearson bound "
             f"below it; at most {advice.max_seeds} runs per cap (all passing: bound "
             f"{_pct(advice.attainable_upper)}; {runs_needed(advice.risk)} clean runs are the fewest that can "
             f"show {_pct(advice.risk)})"]
    head = f"{'plan':<12}{'cap':>10}{'runs':>6}{'broke':>7}{'P':>7}{'95% low':>9}{'95% up':>8}  verdict"
    for result in advice.plans:
        lines += ["", head, "-" * (len(head) + 10)]
        for rec in result.search.tested():
            status = rec.status(advice.risk, advice.max_seeds)
            mark = " <- answer" if result.search.found and rec.cap == result.search.cap else ""
            p = "-" if rec.p is None else f"{rec.p:.2f}"
            lines.append(f"{result.plan.name[:11]:<12}{cap_text(rec.cap):>10}{rec.n:>6}{rec.k:>7}{p:>7}"
                         f"{rec.lower:>9.3f}{rec.upper:>8.3f}  {status}{' (refine)' if rec.stage == 'refine' else ''}"
                         f"{mark}")
    lines += ["", advice.text]
    price = advice.price()
    if price:
        lines.append("price at the answer (median, p5-p95 over its runs):")
        for value in price.values():
            lines.append(f"  {value['label']}: {value['median']:,.0f} ({value['p5']:,.0f}-{value['p95']:,.0f})")
    lines.append(f"{advice.runs_total} run(s) in all, {advice.runs_new} run now, {advice.wall_seconds:.0f} s; "
                 f"files in {advice.out_dir}/ ({ADVICE_JSON}, {ADVICE_HTML})")
    return "\n".join(lines)
