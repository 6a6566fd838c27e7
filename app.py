"""citytwin in the browser: compare crowd caps, bike redistribution plans and tunnel phase plans
side by side.

    streamlit run app.py

Pages (``?page=crowd|bikes|tunnel|live|hotspot``):

* **Crowd caps**: "The answer over seeds" (:func:`sim.study.advise.advise`, as ``citytwin advise``):
  the highest cap (and best plan) whose probability of breaking the safety criterion is shown below a
  chosen risk, with a progress bar, the runs behind every figure, the curve of P(unsafe) against the
  cap with intervals, the price and the one-page report; the light show once per cap on one seed
  (labelled as such: what can happen, not a verdict): KPI table, occupancy, gate queues and density
  against the cap and the LOS bands in clock time, maps of the levels of service at their peak and at
  any minute; and "Load a sweep": a finished ``citytwin sweep`` folder shown per grid cell with the
  probabilities, p5-p95 bands of the key KPIs, the curve, and the highest cap shown within a chosen
  risk (exact binomial bounds).
* **Bike plans**: a bikes scenario (dry or rain, or any rain intensity) with every chosen
  redistribution plan on the same evening; KPI table per plan, the plan with the fewest unmet
  pickups, exit shares dry vs rain, stock per pool over time, the pools on the map.
* **Tunnel plans**: phase plans of a traffic scenario with a tunnel (``[tunnel]`` and its ``[plans.NAME]``;
  only those are listed, and the page says so when there is none) on the same trips; queues per portal
  with the phases, waits and throughput per mode, the plan with the lowest mean wait per mode.
* **Hotspots**: a ``kind = "hotspot"`` scenario (stairs run as a 2D crowd inside the network run): per
  hotspot the local density, its peak and the seconds above 4 and 5 p/m2 in each measurement area, the
  peak heat map, and the local density at any moment of the run (a frame slider over
  ``hotspot_NAME_frames.npz``'s frames).

Every page takes a shipped scenario or an uploaded file (validated with the CLI's errors, never
executed), takes ``citytwin run``'s ``--seed``/``--set`` as run options, and offers the run's
``summary.json``, ``timeseries.csv`` and ``scenario.json`` for download.

The app only lays results out: every number comes from the ``sim`` API the CLI uses
(:mod:`sim.study` over the case models), every plot from the case packages' ``plots`` modules.  Results are cached by
scenario content (after overrides) and seed with ``st.cache_data``, each with its progress bars drawn
inside the cached function; the map and compiled arrays once per map or scenario with
``st.cache_resource``, so a repeated comparison returns at once.  It works offline: maps are drawn
from the network's own geometry, without basemap tiles.
"""

from __future__ import annotations

import hashlib
import json
import threading
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from sim import study as C
from sim.core.errors import ConservationError, SimError
from sim.bikes.plots import bike_pools_map_figure, exit_shares_figure, pool_stock_figure
from sim.core.plotting import clock_label, figure_png
from sim.crowd.plots import cap_series_figure, los_map_figure, map_labels
from sim.study.advise import ADVICE_HTML, ADVICE_JSON, advise, default_advise_dir, parse_caps_arg
from sim.study.plots import risk_curve_figure, sweep_bands_figure
from sim.study.stats import attainable_upper, cp_lower, cp_upper, runs_needed
from sim.traffic.plots import plan_comparison_figure, portal_queues_figure
from sim.kinds import scenario_from_dict
from sim.study.sweep import RISK_NAME, TABLE_NAME, load_sweep

PAGES = {"crowd": "Crowd caps", "tunnel": "Tunnel plans", "bikes": "Bike plans", "live": "Live",
         "hotspot": "Hotspots: 2D crowds on the stairs"}
HEAVY_RAIN_MM_PER_H = 15.0          # the rain slider's start on a dry bikes scenario (as bund_bikes_rain.toml)
UPLOAD = "Upload a scenario file..."
DEFAULT_CAPS = "40,000, 60,000, 80,000, none"
DEFAULT_SWEEP = "out/sweep"
DEFAULT_MAX_RISK = 0.05


# ---------------------------------------------------------------------------------------------
# Caches: compiled inputs once per map/scenario (resources), results per scenario and seed (data).
# ---------------------------------------------------------------------------------------------

def _scenario_key(scenario) -> str:
    """The scenario's content after overrides (what the results depend on, with the seed).  Keys
    keep the file's order: the order of tables such as ``demand.destinations`` or ``zones`` is part
    of the content (it orders the seeded draws), so a sorted key would run another scenario than
    ``citytwin run`` does."""
    return json.dumps(scenario.to_dict())


def walk_and_places(scenario):
    """The walk network and its places (names and label points) of a crowd scenario, for maps."""
    arrays = crowd_arrays(_scenario_key(scenario), scenario.source_path)
    return arrays.walk, getattr(arrays, "places", None)


@st.cache_resource(show_spinner=False, max_entries=32)
def crowd_arrays(scenario_json: str, source: str):
    """A crowd scenario compiled onto its map (read-only; shared by every run of it)."""
    from sim.crowd.compile import compile_crowd
    return compile_crowd(scenario_from_dict(json.loads(scenario_json), source))


@st.cache_resource(show_spinner=False, max_entries=16)
def traffic_arrays(scenario_json: str, source: str, seed: int):
    """A traffic scenario compiled onto its map with its trips drawn from ``seed`` (read-only;
    shared by every plan)."""
    from sim.traffic.compile import compile_traffic
    return compile_traffic(scenario_from_dict(json.loads(scenario_json), source), np.random.default_rng(seed))


def _progress(label: str):
    """A progress bar and a ``callback(fraction)`` that moves it (at most every 2%)."""
    bar = st.progress(0.0, text=f"{label}: starting")
    last = [-1.0]

    def callback(fraction: float) -> None:
        if fraction - last[0] >= 0.02 or fraction >= 1.0:
            last[0] = fraction
            bar.progress(min(1.0, fraction), text=f"{label}: {100 * fraction:.0f}% simulated")
    return callback


@st.cache_data(show_spinner=False, max_entries=64)
def crowd_result(scenario_json: str, source: str, seed: int, label: str) -> C.CrowdResult:
    """One crowd run (its progress bar is drawn here, so a cached run shows a full bar at once)."""
    scenario = scenario_from_dict(json.loads(scenario_json), source)
    return C.run_crowd(scenario, seed=seed, label=label, callback=_progress(label),
                       arrays=crowd_arrays(scenario_json, source))


@st.cache_data(show_spinner=False, max_entries=32)
def traffic_result(scenario_json: str, source: str, seed: int, plans: tuple[str, ...]) -> C.TrafficResult:
    """One plan comparison (every plan on the same trips)."""
    scenario = scenario_from_dict(json.loads(scenario_json), source)
    n = len(plans)

    bar = st.progress(0.0, text="starting")
    last = [-1.0]

    def callback(fraction: float) -> None:
        if fraction - last[0] >= 0.01 or fraction >= 1.0:
            last[0] = fraction
            k = min(n - 1, int(fraction * n))
            bar.progress(min(1.0, fraction),
                         text=f"{100 * fraction:.0f}% simulated: plan {k + 1} of {n} ({plans[k]})")
    return C.run_plans(scenario, seed=seed, plans=list(plans), callback=callback,
                       arrays=traffic_arrays(scenario_json, source, seed))


@st.cache_resource(show_spinner=False, max_entries=16)
def bike_arrays(scenario_json: str, source: str, seed: int):
    """A bikes scenario compiled onto its map, with its evening drawn from ``seed`` (read-only;
    shared by every plan, and its walk network draws the pools' map)."""
    from sim.bikes.compile import compile_bikes
    return compile_bikes(scenario_from_dict(json.loads(scenario_json), source), seed)


@st.cache_data(show_spinner=False, max_entries=32)
def bike_result(scenario_json: str, source: str, seed: int, plans: tuple[str, ...]) -> C.BikeResult:
    """One plan comparison (every plan on the same evening), with a progress bar per plan."""
    scenario = scenario_from_dict(json.loads(scenario_json), source)
    arrays = bike_arrays(scenario_json, source, seed)
    n = len(plans)
    bars = [st.progress(0.0, text=f"plan {name}: waiting") for name in plans]
    last = [-1.0]

    def callback(fraction: float) -> None:
        if fraction - last[0] >= 0.01 or fraction >= 1.0:
            last[0] = fraction
            k = min(n - 1, int(fraction * n))
            for done in range(k):
                bars[done].progress(1.0, text=f"plan {plans[done]}: 100% simulated")
            part = min(1.0, fraction * n - k)
            bars[k].progress(part, text=f"plan {plans[k]}: {100 * part:.0f}% simulated")
    return C.run_bike_plans(scenario, seed=seed, plans=list(plans), callback=callback, arrays=arrays)


@st.cache_resource
def plot_lock() -> threading.Lock:
    """One lock for every session: matplotlib's pyplot is not thread-safe, sessions are threads."""
    return threading.Lock()


@st.cache_data(show_spinner=False, max_entries=64)
def series_png(keys: tuple[str, ...], zone: str, _results) -> bytes:
    with plot_lock():
        return figure_png(cap_series_figure(_results, zone))


@st.cache_data(show_spinner=False, max_entries=512)
def map_png(key: str, minute: int | None, title: str, _result: C.CrowdResult, _walk, _places=None) -> bytes:
    density = _result.cell_peak_density if minute is None else _result.density_at(minute)
    labels = map_labels(_places, _result.summary.get("worst_places", []), limit=4)
    with plot_lock():
        return figure_png(los_map_figure(_walk, density, _result.los_thresholds_ppm2, title, places=_places,
                                         labels=labels), dpi=90)


@st.cache_data(show_spinner=False, max_entries=32)
def tunnel_pngs(key: str, _result: C.TrafficResult) -> tuple[bytes, bytes]:
    with plot_lock():
        queues = portal_queues_figure(_result.series, _result.start_clock, _result.duration_s,
                                      f"{_result.summary['scenario']}: portal queues per plan")
        return figure_png(queues), figure_png(plan_comparison_figure(_result.summary["plans"]))


@st.cache_data(show_spinner=False, max_entries=32)
def bike_pngs(key: str, _result: C.BikeResult, _walk) -> tuple[bytes, bytes, bytes]:
    """Pools on the map (one panel per plan, one colour scale), stock per pool over time, exit shares."""
    summary = _result.summary
    pools = _result.pool_names
    per_plan = {name: ([p["unmet_pickups_by_pool"][k] for k in pools], [p["empty_pool_minutes"][k] for k in pools])
                for name, p in summary["plans"].items()}
    with plot_lock():
        maps = figure_png(bike_pools_map_figure(_walk, _result.pool_xy_m, pools, per_plan,
                                                f"{summary['scenario']}: bike pools per plan",
                                                pool_covered=_result.pool_covered))
        stock = figure_png(pool_stock_figure(_result.stock, pools, _result.start_clock, _result.duration_s,
                                             f"{summary['scenario']}: bikes in each pool"))
        shares = figure_png(exit_shares_figure(summary["exit_shares"], summary["rain_mm_per_h"],
                                               f"{summary['scenario']}: exit shares"))
    return maps, stock, shares


@st.cache_data(show_spinner=False, max_entries=32)
def sweep_png(rows_json: str, labels: tuple[str, ...], title: str) -> bytes:
    with plot_lock():
        return figure_png(sweep_bands_figure(json.loads(rows_json), labels, title))


@st.cache_data(show_spinner=False, max_entries=32)
def curve_png(curves_json: str, risk: float, answer_json: str, title: str) -> bytes:
    with plot_lock():
        return figure_png(risk_curve_figure(json.loads(curves_json), risk, json.loads(answer_json), title))


# ---------------------------------------------------------------------------------------------
# Shared widgets: scenario choice (shipped or uploaded), run options, downloads.
# ---------------------------------------------------------------------------------------------

def _shipped_data(path: Path) -> dict:
    """A shipped scenario file's TOML as plain data ({} if it cannot be read)."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}


def pick_scenario(kind: str, page: str, fits=None, none_text: str = ""):
    """The chosen scenario file as ``(data, source, uploaded)``, or None (with the reason shown).
    ``fits(data)``: which shipped scenarios of ``kind`` the page lists (default: all); when none
    does, ``none_text`` says so and only an upload is offered."""
    shipped = C.shipped_scenarios(kind)
    if fits is not None:
        shipped = {label: path for label, path in shipped.items() if fits(_shipped_data(path))}
    if not shipped and none_text:
        st.info(none_text)
    choice = st.selectbox("Scenario", [*shipped, UPLOAD], key=f"{page}_scenario")
    if choice != UPLOAD:
        path = shipped[choice]
        return C.scenario_data_from_toml(path.read_bytes(), str(path)), str(path), False
    upload = st.file_uploader(
        f"Scenario file (TOML, at most {C.MAX_SCENARIO_BYTES // 1000} kB; read as data, never run). "
        f"Its map must be one of the shipped maps, e.g. map = \"../maps/bund.osm\".",
        type=["toml"], key=f"{page}_upload")
    if upload is None:
        st.info("Choose a .toml scenario file (see scenarios/ for annotated examples).")
        return None
    source = str(C.SCENARIO_DIR / Path(upload.name).name)
    data = C.scenario_data_from_toml(upload.getvalue(), source)
    if data.get("kind", "crowd") != kind:
        other = {"crowd": PAGES["crowd"], "traffic": PAGES["tunnel"], "bikes": PAGES["bikes"],
                 "hotspot": PAGES["hotspot"]}.get(
            data.get("kind", "crowd"), "another")
        raise SimError(f"{upload.name} is a {data.get('kind', 'crowd')!r} scenario; open it on the {other} page")
    return data, source, True


def validated_scenario(kind: str, page: str, **pick):
    """The picked scenario (:func:`pick_scenario`) validated like the CLI, its description shown:
    (data, source, uploaded, scenario), or None after showing why there is nothing to run."""
    try:
        picked = pick_scenario(kind, page, **pick)
        if picked is None:
            return None
        data, source, uploaded = picked
        base = C.validate_scenario(data, source, map_dir=C.MAP_DIR if uploaded else None)
    except SimError as exc:
        st.error(str(exc))
        return None
    if base.description:
        st.caption(base.description)
    return data, source, uploaded, base


def run_options(page: str, scenario, choice_key: str) -> tuple[int, list[str]]:
    """Seed, simulated minutes and free overrides (as ``citytwin run --seed/--set``)."""
    with st.expander("Run options (seed, simulated time, other settings)"):
        seed = st.number_input("Seed", min_value=0, value=int(scenario.simulation.seed), step=1,
                               key=f"{page}_seed_{choice_key}")
        full = scenario.simulation.duration_s / 60.0
        minutes = st.number_input("Simulated minutes", min_value=1.0, value=float(full), step=10.0,
                                  key=f"{page}_minutes_{choice_key}",
                                  help="Shorter runs are quicker; the show (or the plans) must still fit in.")
        extra = st.text_area("More settings, one KEY=VALUE per line (as `citytwin run --set`)", value="",
                             key=f"{page}_overrides", placeholder="crowd.patience_s=900")
    overrides = [] if abs(minutes - full) < 1e-9 else [C.duration_override(minutes)]
    overrides += [line.strip() for line in extra.splitlines() if line.strip() and not line.strip().startswith("#")]
    return int(seed), overrides


def run_error(exc: SimError) -> None:
    """A run's error in an error box; a failed conservation check is named as a model error."""
    if isinstance(exc, ConservationError):
        st.error(f"**The run was stopped: a conservation check failed.** {exc}. Someone was lost or counted "
                 f"twice: a model error, not bad input, so no results are shown. Please report it with the "
                 f"scenario and seed.")
    else:
        st.error(str(exc))


def downloads(files: dict[str, str], stem: str, key: str) -> None:
    """Download buttons for a run's summary.json, timeseries.csv and scenario.json."""
    mime = {"json": "application/json", "csv": "text/csv", "geojson": "application/geo+json"}
    columns = st.columns(len(files))
    for column, (name, text) in zip(columns, files.items()):
        column.download_button(name, text, file_name=f"{stem}_{name}", mime=mime[name.rsplit(".", 1)[1]],
                               key=f"{key}_{name}")


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in text).strip("_").lower()


def _result_key(*parts) -> str:
    return hashlib.sha1(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------------------------
# Crowd caps.
# ---------------------------------------------------------------------------------------------

def scenario_and_weather(kind: str, default_rain_mm_per_h: float, rain_help: str):
    """The scenario picker (shipped or uploaded, validated like the CLI) and the Dry/Rain choice
    with its intensity slider, shared by the crowd and bike pages.  Returns (data, source,
    uploaded, scenario, widget key, rain mm/h), or None after showing why there is nothing to run."""
    validated = validated_scenario(kind, kind)
    if validated is None:
        return None
    data, source, uploaded, base = validated
    choice_key = _slug(source)[-40:]
    weather = st.radio("Weather", ["Dry", "Rain"], index=1 if base.raining else 0, horizontal=True,
                       key=f"{kind}_weather_{choice_key}")
    rain = 0.0
    if weather == "Rain":
        rain = st.slider("Rain intensity (mm/h)", 0.5, 50.0,
                         float(base.weather.rain_mm_per_h or default_rain_mm_per_h), 0.5,
                         key=f"{kind}_rain_{choice_key}", help=rain_help)
    return data, source, uploaded, base, choice_key, rain


def crowd_page() -> None:
    st.header("Crowd caps: how many people may the promenade hold?")
    st.caption("The answer is a probability over many nights (seeds): **The answer over seeds** finds the "
               "highest cap whose risk of breaking the safety criterion is shown below the risk you accept. "
               "Below it, **one night per cap** shows what can happen on one seed (not a verdict).  Each cap "
               "is applied as `--set zones.ZONE.cap=N`.")
    crowd_sweep()
    inputs, _ = st.columns([2, 1])
    with inputs:
        chosen = scenario_and_weather(
            "crowd", 10.0, "Umbrellas open at any rain (more space per walker and viewer, lower capacity, LOS "
                           "thresholds shift); the intensity sets how strongly people avoid uncovered ways, fully "
                           "at weather.heavy_rain_mm_per_h.")
        if chosen is None:
            return
        data, source, uploaded, base, choice_key, rain = chosen
        zones = list(base.zones)
        zone = st.selectbox("Zone to cap", zones, index=zones.index(base.main_zone), key=f"crowd_zone_{choice_key}")
        seed, extra = run_options("crowd", base, choice_key)
    crowd_advise(data, source, uploaded, base, zone, rain, seed, extra)
    st.subheader("One night per cap (one seed: what can happen, not a verdict)")
    one, _ = st.columns([2, 1])
    with one:
        caps_text = st.text_input("Caps to compare (people; commas between caps; 'none' = uncapped)",
                                  DEFAULT_CAPS, key="crowd_caps")
        avoid = st.radio("Zones to report at", ["LOS F", "LOS E or worse"], horizontal=True, key="crowd_avoid")
        run = st.button("Run one night per cap", key="crowd_run")
    if run:
        try:
            caps = C.parse_caps(caps_text)
            overrides = [C.rain_override(rain), *extra]
            scenarios = [C.validate_scenario(data, source, [*overrides, C.cap_override(zone, cap)],
                                             map_dir=C.MAP_DIR if uploaded else None) for cap in caps]
            results = []
            for cap, scenario in zip(caps, scenarios):
                label = C.cap_label(cap)
                key = _scenario_key(scenario)
                results.append((_result_key(key, source, seed, label), crowd_result(key, source, seed, label)))
        except SimError as exc:
            run_error(exc)
            return
        weather_text = "dry" if rain == 0 else f"rain {rain:g} mm/h"
        st.session_state["crowd"] = {
            "results": results, "zone": zone, "scenario": scenarios[0], "source": source,
            "caption": f"{base.name}; {weather_text}; seed {seed}"
                       + (f"; settings {', '.join(extra)}" if extra else "")}
    if "crowd" in st.session_state:
        crowd_results(st.session_state["crowd"], "F" if avoid == "LOS F" else "E")


def crowd_advise(data: dict, source: str, uploaded: bool, base, zone: str, rain: float, seed: int,
                 extra: list[str]) -> None:
    """The answer over seeds: ``citytwin advise`` through :func:`sim.study.advise.advise`, with a
    progress bar; the answer, the runs behind it, the curve, the price and the report."""
    st.subheader("The answer over seeds: the highest safe cap, with its risk")
    left, _ = st.columns([2, 1])
    with left:
        risk = st.number_input("Acceptable risk: probability that a night breaks the safety criterion",
                               min_value=0.01, max_value=0.5, value=DEFAULT_MAX_RISK, step=0.01, format="%.2f",
                               key="advise_risk")
        needed = runs_needed(float(risk))
        seeds = int(st.number_input("Most runs per cap", min_value=needed, value=needed, step=1,
                                    key=f"advise_seeds_{needed}"))
        st.caption(f"Safe means: the one-sided 95% upper Clopper-Pearson bound on that probability is below "
                   f"{float(risk):.0%}. {needed} runs without a failure are the fewest that can show it; with "
                   f"{seeds} runs the lowest bound is {attainable_upper(seeds):.1%}.")
        caps_text = st.text_input("Caps to try (empty: a quarter of the scenario's cap up to twice it, and none; "
                                  "or e.g. 20000,40000,none or 20000:80000:10000)", "", key="advise_caps")
        plans_text = st.text_area("Plans, one per line: base (the scenario as given), a [plans.NAME] of the "
                                  "scenario, or NAME:KEY=VALUE,KEY=VALUE", "base", key="advise_plans")
        go = st.button("Find the highest safe cap", type="primary", key="advise_run")
    if go:
        if uploaded:
            st.info("The answer over seeds runs on a scenario file: put the file in scenarios/ and choose it "
                    "here, or run `citytwin advise FILE`.")
            return
        overrides = [C.rain_override(rain), *extra]
        bar = st.progress(0.0, text="advise: starting")

        def progress(done: int, total: int, why: str) -> None:
            bar.progress(min(1.0, done / max(total, 1)), text=f"{done} run(s) of about {total}: {why}")

        try:
            caps = parse_caps_arg(caps_text) if caps_text.strip() else None
            plans = [line.strip() for line in plans_text.splitlines() if line.strip()]
            out = default_advise_dir(Path(source), [*overrides, f"simulation.seed={seed}", f"zone={zone}"])
            advice = advise(source, float(risk), seeds=seeds, plans=plans, caps=caps, overrides=overrides,
                            seed=seed, zone=zone, out_dir=out, progress=progress, log=lambda msg: None)
        except SimError as exc:
            run_error(exc)
            return
        bar.progress(1.0, text=f"done: {advice.runs_total} run(s), {advice.runs_new} new")
        st.session_state["advise"] = {"advice": advice.to_dict(), "out": str(advice.out_dir)}
    if "advise" in st.session_state:
        advise_results(st.session_state["advise"])


def advise_results(state: dict) -> None:
    """An advice on the page (plain data from ``advice.json``)."""
    advice, out = state["advice"], Path(state["out"])
    answer = advice["answer"]
    (st.success if answer else st.warning)(advice["text"])
    per_cap = "; ".join(f"plan {p['name']}: {p['runs']} run(s) over {len(p['caps'])} cap(s)" for p in advice["plans"])
    st.caption(f"{advice['runs_total']} run(s) behind this answer ({per_cap}), seeds from {advice['seeds_from']}, "
               f"at most {advice['max_seeds_per_cap']} per cap. {advice['caveat'].capitalize()}.")
    if answer and answer["price"]:
        st.markdown("**The price at the answer** (over its runs)")
        st.dataframe(pd.DataFrame([{"what": v["label"], "median": v["median"], "p5": v["p5"], "p95": v["p95"],
                                    "runs": v["runs"]} for v in answer["price"].values()]), hide_index=True)
    st.markdown("**Every cap tried** (runs, failures, one-sided 95% bounds, verdict)")
    rows = [{"plan": p["name"], "cap": C.cap_label(c["cap"]), "runs": c["runs"], "broke the criterion": c["failures"],
             "P": c["p"], "95% lower": c["lower"], "95% upper": c["upper"], "verdict": c["status"]}
            for p in advice["plans"] for c in p["caps"]]
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    curves = {p["name"]: p["caps"] for p in advice["plans"]}
    best = {"plan": answer["plan"], "cap": answer["cap"]} if answer else None
    st.markdown("**P(a night breaks the criterion) against the cap** (bars: 90% Clopper-Pearson interval)")
    st.image(curve_png(json.dumps(curves), advice["risk"], json.dumps(best), advice["scenario"]))
    columns = st.columns(2)
    for column, name, mime in zip(columns, (ADVICE_JSON, ADVICE_HTML), ("application/json", "text/html")):
        if (out / name).is_file():
            column.download_button(name, (out / name).read_bytes(), file_name=name, mime=mime, key=f"advise_dl_{name}")


def crowd_results(state: dict, avoid: str) -> None:
    results = [r for _, r in state["results"]]
    keys = tuple(k for k, _ in state["results"])
    zone = state["zone"]
    labels = [r.label for r in results]
    summaries = [r.summary for r in results]
    st.caption(f"Runs shown: {state['caption']}; **one run (one seed) per cap**: every figure below is one "
               f"night, not a band")
    verdict = C.safe_cap(summaries, zone, avoid)
    st.info(f"One run per cap, so no verdict: on this one night, {verdict.text[0].lower()}{verdict.text[1:]} "
            f"For the cap with its risk over seeds, use **The answer over seeds** above.")
    table = pd.DataFrame(C.crowd_kpi_rows(summaries, labels, zone)).set_index("KPI")
    st.table(table)
    with st.expander("Every zone of every run"):
        st.dataframe(pd.DataFrame(C.crowd_zone_rows(summaries, labels)), hide_index=True)
    st.markdown(f"**{zone}: people against the cap, people queueing at its gates, densest cell against the levels "
                f"of service** (one seed per cap; one scale per panel, shared by every cap)")
    st.image(series_png(keys, zone, results))
    walk, places = walk_and_places(state["scenario"])
    st.markdown("**Peak level of service on every way, per cap** (one seed per cap)")
    for column, key, res in zip(st.columns(len(results)), keys, results):
        column.image(map_png(key, None, f"{res.label}: peak", res, walk, places))
    density_over_time(state["results"], walk, places)
    st.markdown("**Downloads** (as `citytwin run` writes them)")
    for key, res in state["results"]:
        st.caption(res.label)
        downloads(res.files(), _slug(res.label), f"crowd_dl_{key}")


def crowd_sweep() -> None:
    """A finished ``citytwin sweep`` (many seeds per cap): the risk per cap with p5-p95 bands."""
    with st.expander("Load a sweep: risk per cap across seeds (from `citytwin sweep ... --out DIR`)"):
        folder = st.text_input(f"Sweep folder (holds {TABLE_NAME} and {RISK_NAME})", DEFAULT_SWEEP,
                               key="crowd_sweep_dir")
        max_risk = st.number_input("Acceptable probability of an unsafe night", min_value=0.0,
                                   max_value=1.0, value=DEFAULT_MAX_RISK, step=0.01, format="%.2f",
                                   key="crowd_sweep_risk")
        if st.button("Load sweep", key="crowd_sweep_load"):
            st.session_state["crowd_sweep"] = folder.strip()
        if "crowd_sweep" in st.session_state:
            sweep_results(st.session_state["crowd_sweep"], float(max_risk))


def sweep_results(folder: str, max_risk: float) -> None:
    path = Path(folder).expanduser()
    missing = [name for name in (TABLE_NAME, RISK_NAME) if not (path / name).is_file()]
    if not path.is_dir() or missing:
        st.warning(f"No sweep in {folder!r}: " + ("no such folder" if not path.is_dir() else
                   f"{' and '.join(missing)} missing") + ". Give the --out folder of a finished `citytwin sweep`, "
                   f"e.g. citytwin sweep scenarios/bund_lightshow_rain.toml --grid "
                   f"zones.promenade.cap=40000,60000,80000 --seeds 5 --out {DEFAULT_SWEEP}")
        return
    try:
        runs, risk = load_sweep(path)
        grid_keys = C.sweep_grid_keys(risk.columns)
    except (OSError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        st.error(f"Could not read the sweep in {folder!r}: {exc}")
        return
    zones = C.sweep_zones(risk.columns)
    if "p_unsafe" not in risk.columns or not zones:
        st.warning(f"The sweep in {folder!r} is not a crowd sweep (no LOS or density columns in {RISK_NAME}).")
        return
    cap_key = C.sweep_cap_key(grid_keys)
    zone = cap_key.split(".")[1] if cap_key else zones[0]
    zone = zone if zone in zones else zones[0]
    records = risk.to_dict("records")
    failed = int((runs["status"] != "ok").sum()) if "status" in runs else 0
    invalid = int((runs["status"] == "invalid").sum()) if "status" in runs else 0
    if invalid:
        st.error(f"{invalid} run(s) of this sweep are invalid: a conservation check failed (a model error; see "
                 f"the error column of {TABLE_NAME}). They count in no risk band below.")
    st.caption(f"{folder}: {len(runs)} runs in {len(records)} grid cell(s) "
               f"({', '.join(grid_keys) or 'no grid'}), seeds {runs['seed'].min()}-{runs['seed'].max()}"
               + (f"; {failed} run(s) failed" if failed else "") + ". Probabilities are shares of a cell's ok "
               "runs; bands are p5-p95 across seeds.")
    if cap_key is None:
        st.info(f"This sweep's grid ({', '.join(grid_keys) or 'none'}) has no zones.ZONE.cap key: no cap to choose.")
    else:
        try:
            verdict = C.sweep_safe_cap(records, grid_keys, max_risk)
        except ValueError as exc:
            st.warning(str(exc))
        else:
            (st.success if verdict.found else st.warning)(verdict.text)
    rows = C.sweep_risk_rows(records, grid_keys, zone)
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    if cap_key is not None and grid_keys == [cap_key]:
        points = []
        for r in records:
            n = int(r.get("runs_ok") or 0)
            p = r.get("p_unsafe")
            if n and p is not None and not pd.isna(p):
                k = int(round(float(p) * n))
                cap = r.get(cap_key)
                points.append({"cap": None if cap is None or pd.isna(cap) else int(cap), "runs": n, "failures": k,
                               "p": k / n, "lower": cp_lower(k, n), "upper": cp_upper(k, n)})
        if points:
            st.image(curve_png(json.dumps({"sweep": points}), float(max_risk) if 0 < max_risk < 1 else 0.05,
                               "null", f"{folder}: P(unsafe) against the cap"))
    labels = tuple(label for _, label, _ in C.sweep_kpis(zone))
    st.image(sweep_png(json.dumps(rows), labels, f"{folder}: risk per grid cell"))


@st.fragment
def density_over_time(keyed_results: list, walk, places=None) -> None:
    """Maps of every cap at one moment; the slider reruns only this part."""
    first = keyed_results[0][1]
    last_minute = int(first.cell_density_t_s[-1] // 60) if first.cell_density_t_s.size else 0
    st.markdown("**Level of service over time** (move the slider; grey band in the plot above: the show)")
    default = min(last_minute, int(round(first.show_end_s / 60)))
    minute = st.slider("Minutes from start", 0, max(1, last_minute), default, key="crowd_minute")
    clock = first.start_clock
    when = f"minute {minute}" if not clock else f"{clock_label(clock, minute)}"
    for column, (key, res) in zip(st.columns(len(keyed_results)), keyed_results):
        column.image(map_png(key, minute, f"{res.label}: {when}", res, walk, places))


# ---------------------------------------------------------------------------------------------
# Tunnel plans.
# ---------------------------------------------------------------------------------------------

NO_TUNNEL = ("No shipped traffic scenario has a tunnel (a [tunnel] table with [plans.NAME] phase plans), so "
             "there are no phase plans to compare: upload a scenario with one, or run plain traffic scenarios "
             "with `citytwin run`.")


def has_tunnel(data: dict) -> bool:
    """Whether a traffic scenario's data has a time-sliced tunnel (a ``[tunnel]`` table and phase plans)."""
    return isinstance(data.get("tunnel"), dict) and bool(data.get("plans"))


def tunnel_page() -> None:
    st.header("Tunnel plans: motor traffic and escorted bike convoys in one tunnel")
    st.caption("Runs every chosen phase plan on the same trips (same seed) and compares portal queues, "
               "waits and throughput per mode.  Lists the traffic scenarios with a tunnel ([tunnel] and its "
               "[plans.NAME]); plain traffic scenarios run with `citytwin run`.")
    inputs, _ = st.columns([2, 1])
    with inputs:
        validated = validated_scenario("traffic", "tunnel", fits=has_tunnel, none_text=NO_TUNNEL)
        if validated is None:
            return
        data, source, uploaded, base = validated
        if base.tunnel is None or not base.plans:
            st.warning(f"{base.name} has no tunnel (no [tunnel] table with [plans.NAME] phase plans): there are "
                       f"no phase plans to compare here.  Run it with `citytwin run {Path(source).name}` (network "
                       f"travel times, delays and speeds).")
            return
        choice_key = _slug(source)[-40:]
        plans = st.multiselect("Phase plans", list(base.plans), default=list(base.plans),
                               key=f"tunnel_plans_{choice_key}")
        seed, extra = run_options("tunnel", base, choice_key)
        run = st.button("Run comparison", type="primary", key="tunnel_run")
    if run:
        if not plans:
            st.error("Choose at least one phase plan.")
            return
        try:
            scenario = C.validate_scenario(data, source, extra, map_dir=C.MAP_DIR if uploaded else None)
            key = _scenario_key(scenario)
            result = traffic_result(key, source, seed, tuple(plans))
        except SimError as exc:
            run_error(exc)
            return
        st.session_state["tunnel"] = {
            "key": _result_key(key, source, seed, plans), "result": result,
            "caption": f"{base.name}; seed {seed}" + (f"; settings {', '.join(extra)}" if extra else "")}
    if "tunnel" in st.session_state:
        tunnel_results(st.session_state["tunnel"])


def tunnel_results(state: dict) -> None:
    result: C.TrafficResult = state["result"]
    summary = result.summary
    st.subheader("Result")
    st.caption(f"Runs shown: {state['caption']}")
    st.success(C.best_plans(summary).text)
    if not summary["vehicles_conserved"]:
        st.error("Vehicle conservation failed in some plan: see summary.json (conservation_error).")
    st.markdown("**Motor vehicles per plan**")
    st.dataframe(pd.DataFrame(C.plan_mode_rows(summary, "motor")), hide_index=True)
    st.markdown("**Bicycles per plan**")
    st.dataframe(pd.DataFrame(C.plan_mode_rows(summary, "bike")), hide_index=True)
    queues, bars = tunnel_pngs(state["key"], result)
    st.markdown("**Queues at each portal over time, with the phases**")
    st.image(queues)
    st.markdown("**Waits and throughput per mode**")
    st.image(bars)
    st.markdown("**Downloads** (as `citytwin run` writes them)")
    downloads(result.files(), _slug(summary["scenario"])[:40], f"tunnel_dl_{state['key']}")


# ---------------------------------------------------------------------------------------------
# Bike plans.
# ---------------------------------------------------------------------------------------------

def bikes_page() -> None:
    st.header("Bike plans: shared bikes at the metro exits, dry and rain")
    st.caption("Runs every chosen redistribution plan on the same evening (same trains, passengers and "
               "returns: same seed) and compares unmet pickups, empty pools and the effort of moving bikes. "
               "Rain sends passengers to sheltered exits and fewer of them ride.  The rain intensity is "
               "applied as `--set weather.rain_mm_per_h=X`.")
    inputs, _ = st.columns([2, 1])
    with inputs:
        chosen = scenario_and_weather(
            "bikes", HEAVY_RAIN_MM_PER_H, "Exit choice weighs the metres walked in the open by the intensity; the "
                                          "share of passengers who ride falls by demand.rain_drop_per_mm_h per "
                                          "mm/h, levelling off at demand.rain_cap_mm_h.")
        if chosen is None:
            return
        data, source, uploaded, base, choice_key, rain = chosen
        plans = st.multiselect("Redistribution plans", list(base.plans), default=list(base.plans),
                               key=f"bikes_plans_{choice_key}")
        seed, extra = run_options("bikes", base, choice_key)
        run = st.button("Run comparison", type="primary", key="bikes_run")
    if run:
        if not plans:
            st.error("Choose at least one redistribution plan.")
            return
        try:
            scenario = C.validate_scenario(data, source, [C.rain_override(rain), *extra],
                                           map_dir=C.MAP_DIR if uploaded else None)
            key = _scenario_key(scenario)
            result = bike_result(key, source, seed, tuple(plans))
        except SimError as exc:
            run_error(exc)
            return
        weather_text = "dry" if rain == 0 else f"rain {rain:g} mm/h"
        st.session_state["bikes"] = {
            "key": _result_key(key, source, seed, plans), "result": result,
            "arrays": (key, source, seed),
            "caption": f"{base.name}; {weather_text}; seed {seed}"
                       + (f"; settings {', '.join(extra)}" if extra else "")}
    if "bikes" in st.session_state:
        bike_results(st.session_state["bikes"])


def bike_results(state: dict) -> None:
    result: C.BikeResult = state["result"]
    summary = result.summary
    st.subheader("Result")
    st.caption(f"Runs shown: {state['caption']}")
    st.success(C.fewest_unmet(summary).text)
    if not summary["bikes_conserved"]:
        st.error("Bike conservation failed in some plan: see summary.json (bikes_conserved per plan).")
    st.markdown(f"**KPIs per plan** ({summary['pickup_requests']:,} riders wanted a bike, "
                f"{summary['returns_offered']:,} returned one; empty-pool minutes: time a pool had no bike)")
    st.table(pd.DataFrame(C.bike_kpi_rows(summary)).set_index("KPI"))
    with st.expander("Every pool of every plan"):
        st.dataframe(pd.DataFrame(C.bike_pool_rows(summary)), hide_index=True)
    walk = bike_arrays(*state["arrays"]).walk
    maps, stock, shares = bike_pngs(state["key"], result, walk)
    st.markdown("**Pools on the map**, each at its exit (colour: minutes the pool stood empty, one scale for "
                "every plan; circle area and brackets: unmet pickups; blue rim: pool under cover)")
    st.image(maps)
    st.markdown("**Bikes in each pool over the evening, per plan**")
    st.image(stock)
    st.markdown("**Exit shares, dry against rain** (expected share of alighting passengers by exit)")
    chart, table = st.columns([1, 1])
    chart.image(shares)
    share_table = pd.DataFrame(C.exit_share_rows(summary)).set_index("exit")
    table.table(share_table.apply(lambda col: col.map("{:+.1f}".format if col.name.startswith("change")
                                                      else "{:.1f}".format)))
    shelter = summary["shelter"]
    if shelter["rain"]:
        dry, wet = shelter["dry"], shelter["rain"]
        table.caption(f"Leaving by the driest exit for their destination: {100 * dry['driest_exit_share']:.0f}% "
                      f"if they chose as on a dry day, {100 * wet['driest_exit_share']:.0f}% in the rain; "
                      f"metres walked in the open, mean: {dry['open_m_walked_mean']:.0f} -> "
                      f"{wet['open_m_walked_mean']:.0f}.")
    else:
        table.caption("A dry evening: choose Rain above to see how rain shifts the exits.")
    st.markdown("**Downloads** (as `citytwin run` writes them)")
    downloads(result.files(), _slug(summary["scenario"])[:40], f"bikes_dl_{state['key']}")


# ---------------------------------------------------------------------------------------------
# Live: a twin following a night (citytwin live), or a replay started here.
# ---------------------------------------------------------------------------------------------

DEFAULT_LIVE = "out/live"
LIVE_REFRESH_S = 5


@st.cache_resource
def live_replays() -> dict:
    """Replays started from this page, by folder (shared by sessions: one twin per folder)."""
    return {}


@st.cache_data(show_spinner=False, max_entries=64)
def live_pngs(folder: str, stamp: tuple, _view, _walk, _places) -> dict[str, bytes]:
    """The Live page's figures of one state of a twin's folder (``stamp``: its time and forecast)."""
    from sim.live.plots import counts_figure, live_map_figures, zone_fan_figure

    out = {}
    with plot_lock():
        maps = live_map_figures(_view, _walk, _places) if _walk is not None else None
        if maps is not None:
            out["map_now"], out["map_ahead"] = (figure_png(f, dpi=90) for f in maps)
        for zone in _view.zones:
            out[f"fan:{zone}"] = figure_png(zone_fan_figure(_view, zone), dpi=90)
        for sensor in sorted(set(_view.observations["sensor"])) if not _view.observations.empty else []:
            out[f"counts:{sensor}"] = figure_png(counts_figure(_view, sensor), dpi=90)
    return out


def live_page() -> None:
    st.header("Live: counts in, forecasts and early warnings out")
    st.caption("Follows a live twin (`citytwin live SCENARIO --feed FILE|-|http://HOST:PORT --out DIR`) as it "
               "writes its folder: the map by level of service now and at its forecast peak, each zone's counts "
               "against the twin's band with the forecast fan, P(cap) and P(LOS E/F) with the expected times, the "
               "warnings with their lead time, and what each measure would change.  Or replay a hidden night into "
               "a twin from here.")
    folder = st.text_input("Twin folder (the --out of citytwin live)", value=DEFAULT_LIVE, key="live_folder")
    live_replay_form(folder)
    replay = live_replays().get(folder)
    if replay is not None and replay.error is not None:
        if isinstance(replay.error, SimError):
            run_error(replay.error)
        else:
            st.error(f"The replay stopped: {replay.error!r}")
    running = replay is not None and replay.running
    auto = st.toggle(f"Refresh as the feed arrives (every {LIVE_REFRESH_S} s)", value=running, key="live_refresh")
    st.fragment(live_panel, run_every=LIVE_REFRESH_S if auto else None)(folder)


def live_replay_form(folder: str) -> None:
    from sim.live import TruthSpec, live_scenarios
    from sim.live.skill import BackgroundTrack

    with st.expander("Replay a hidden night into a twin here (as `citytwin replay ... | citytwin live ...`)"):
        scenarios = live_scenarios()
        if not scenarios:
            st.info("No shipped scenario has [sensors].")
            return
        choice = st.selectbox("Scenario with sensors", list(scenarios), key="live_scenario")
        a, b, c, d = st.columns(4)
        seed = a.number_input("Truth seed", min_value=0, value=7, step=1, key="live_seed")
        scale = b.number_input("Demand (x the scenario's)", min_value=0.1, max_value=3.0, value=1.2, step=0.1,
                               key="live_scale")
        onset = c.number_input("Rain onset (minute; -1: the scenario's weather)", min_value=-1.0, value=40.0,
                               step=5.0, key="live_onset")
        noise = d.number_input("Count noise (sd / value)", min_value=0.0, max_value=1.0, value=0.1, step=0.05,
                               key="live_noise")
        minutes = st.number_input("Minutes to replay", min_value=1.0, value=90.0, step=10.0, key="live_minutes")
        extra = st.text_area("Twin settings, one KEY=VALUE per line (as `citytwin live --set`)",
                             value="live.members=8\nlive.whatif_every_s=1800", key="live_overrides")
        if st.button("Start the replay", key="live_start", disabled=folder in live_replays()
                     and live_replays()[folder].running):
            try:
                overrides = [line.strip() for line in extra.splitlines() if line.strip()]
                scenario = C.validate_scenario(C.scenario_data_from_toml(scenarios[choice].read_bytes(),
                                                                         str(scenarios[choice])),
                                               str(scenarios[choice]), overrides=overrides)
                spec = TruthSpec(seed=int(seed), demand_scale=float(scale), noise_frac=float(noise),
                                 rain_onset_s=None if onset < 0 else 60.0 * float(onset))
                live_replays()[folder] = BackgroundTrack(scenario, spec, folder, until_s=60.0 * float(minutes))
                st.success(f"Replaying truth seed {int(seed)} (demand x{scale:g}) into {folder}/")
            except SimError as exc:
                st.error(str(exc))


def live_panel(folder: str) -> None:
    from sim.live import read_live

    try:
        view = read_live(folder)
    except SimError as exc:
        st.error(str(exc))
        return
    if view is None:
        st.info(f"No live twin has written to {folder}/ yet: start one with `citytwin live ... --out {folder}`, "
                f"or replay a night above.")
        return
    status = view.status
    walk = places = None
    if view.scenario is not None:
        walk, places = walk_and_places(view.scenario)
    stamp = (view.t_s, view.issued_s, len(view.alerts), len(view.observations))
    pngs = live_pngs(str(Path(folder).resolve()), stamp, view, walk, places)
    m = st.columns(5)
    m[0].metric("Simulated time", f"minute {view.t_s / 60:.0f}", "feed ended" if status.get("ended") else "following")
    m[1].metric("Members", status.get("members"))
    m[2].metric("Records used / skipped", f"{status.get('records_used', 0):,} / {status.get('records_skipped', 0):,}")
    params = status.get("parameters", {})
    m[3].metric("Demand (x scenario)", f"{params.get('demand_mean', float('nan')):.2f}",
                f"p5-p95 {params.get('demand_p5', float('nan')):.2f}-{params.get('demand_p95', float('nan')):.2f}",
                delta_color="off")
    without = [s["sensor"] for s in status.get("running_without", [])]
    m[4].metric("Running without", ", ".join(without) or "none")
    for alert in status.get("active_alerts", []):
        st.warning(f"Warning active: {alert}")
    st.subheader("Warnings")
    rows = view.alert_rows()
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    else:
        st.caption("No warning raised yet.")
    st.subheader("Zones: forecast")
    risk = view.risk_rows()
    if risk:
        st.table(pd.DataFrame(risk).set_index("zone"))
    else:
        st.caption("No forecast yet (the first comes after the first forecast cycle).")
    if "map_now" in pngs:
        left, right = st.columns(2)
        left.image(pngs["map_now"])
        right.image(pngs["map_ahead"])
    fans = [k for k in pngs if k.startswith("fan:")]
    for row in range(0, len(fans), 2):
        columns = st.columns(2)
        for column, key in zip(columns, fans[row:row + 2]):
            column.image(pngs[key])
    whatif = view.whatif_rows()
    if whatif:
        st.subheader("What if, from now")
        st.caption(f"Each measure forecast from the same {status['whatif'].get('members')} members as the "
                   f"'as is' columns.")
        st.dataframe(pd.DataFrame(whatif), hide_index=True, width="stretch")
    counts = [k for k in pngs if k.startswith("counts:")]
    if counts:
        st.subheader("Counts against the twin")
        for row in range(0, len(counts), 3):
            columns = st.columns(3)
            for column, key in zip(columns, counts[row:row + 3]):
                column.image(pngs[key])


# ---------------------------------------------------------------------------------------------
# Hotspots: areas run as 2D crowds inside a network run (kind = "hotspot").
# ---------------------------------------------------------------------------------------------

@st.cache_data(show_spinner=False, max_entries=8)
def hotspot_result(scenario_json: str, source: str, seed: int) -> dict:
    """One hotspot run (``sim.kinds.build_run(...).run()``, as ``citytwin run``), with its progress bar:
    the summary, per hotspot its density frames, outline and peak map (PNG), and the run's files."""
    from sim.core.results import provenance, summary_json, timeseries_csv
    from sim.core.results import scenario_json as scenario_text
    from sim.crowd.plots import start_clock_of
    from sim.hotspot.frames import frames_of
    from sim.hotspot.plots import hotspot_figure, outline_of
    from sim.kinds import build_run

    scenario = scenario_from_dict(json.loads(scenario_json), source)
    run = build_run(scenario, seed=seed)
    summary = {**run.run(callback=_progress(scenario.name)), "provenance": provenance(scenario, run.seed_value)}
    with plot_lock():
        peak_png = {name: figure_png(hotspot_figure(h, f"{scenario.name}: {name}"), dpi=90)
                    for name, h in run.hotspots.items()}
    return {"summary": summary, "frames": {name: frames_of(h) for name, h in run.hotspots.items()},
            "outlines": {name: outline_of(h.area) for name, h in run.hotspots.items()}, "peak_png": peak_png,
            "start_clock": start_clock_of(scenario),
            "files": {"summary.json": summary_json(summary),
                      "timeseries.csv": timeseries_csv(run.timeseries_rows(), list(run.TIMESERIES_COLUMNS)),
                      "scenario.json": scenario_text(scenario.to_dict())}}


@st.cache_data(show_spinner=False, max_entries=256)
def hotspot_frame_png(key: str, name: str, k: int, title: str, _frames, _outline, start_clock: str | None) -> bytes:
    from sim.hotspot.plots import frame_png

    with plot_lock():
        return frame_png(_frames, k, _outline, title, start_clock)


@st.cache_data(show_spinner=False, max_entries=16)
def hotspot_frames_npz(key: str, name: str, _frames) -> bytes:
    """``hotspot_NAME_frames.npz`` of a run, as ``citytwin run`` writes it."""
    from sim.hotspot.frames import frames_npz_bytes
    return frames_npz_bytes(_frames)


def _show_fits(base, overrides: list[str]) -> list[str]:
    """A shortened run ends its show with it (``show.end_s`` at the new ``simulation.duration_s``, put
    before the free settings so that one given there wins)."""
    prefix = "simulation.duration_s="
    if not overrides or not overrides[0].startswith(prefix) or getattr(base, "show", None) is None:
        return overrides
    duration_s = float(overrides[0][len(prefix):])
    if base.show.end_s <= duration_s:
        return overrides
    return [overrides[0], f"show.end_s={duration_s!r}", *overrides[1:]]


def _mmss(t_s: float) -> str:
    """``t_s`` as minutes:seconds (whole seconds)."""
    whole = round(t_s)
    return f"{whole // 60}:{whole % 60:02d}"


def hotspot_page() -> None:
    st.header("Hotspots: 2D crowds on the stairs")
    st.caption("Runs a hotspot scenario (`kind = \"hotspot\"`: a stairway run as a two-dimensional crowd inside "
               "the network run, as `citytwin run` does) and shows, per hotspot, the local density in each "
               "measurement area (Gaussian estimate, Helbing et al. 2007), the peak heat map, and the local "
               "density at any moment of the run.  A shorter run ends the show with it.")
    inputs, _ = st.columns([2, 1])
    with inputs:
        validated = validated_scenario("hotspot", "hotspot")
        if validated is None:
            return
        data, source, uploaded, base = validated
        choice_key = _slug(source)[-40:]
        seed, extra = run_options("hotspot", base, choice_key)
        run = st.button("Run", type="primary", key="hotspot_run")
    if run:
        overrides = _show_fits(base, extra)
        try:
            scenario = C.validate_scenario(data, source, overrides, map_dir=C.MAP_DIR if uploaded else None)
            key = _scenario_key(scenario)
            result = hotspot_result(key, source, seed)
        except SimError as exc:
            run_error(exc)
            return
        st.session_state["hotspot"] = {
            "key": _result_key(key, source, seed), "result": result,
            "caption": f"{base.name}; seed {seed}" + (f"; settings {', '.join(overrides)}" if overrides else "")}
    if "hotspot" in st.session_state:
        hotspot_results(st.session_state["hotspot"])


def hotspot_results(state: dict) -> None:
    result = state["result"]
    summary = result["summary"]
    st.subheader("Result")
    st.caption(f"Run shown: {state['caption']}")
    if not summary.get("agents_conserved", True):
        st.error("Agent conservation failed: see summary.json.")
    for name, h in summary["hotspots"].items():
        sep = "one-way lanes" if h["separation"] == "one_way" else "no separation"
        st.markdown(f"### {name} ({sep}, {h['area_m2']:g} m2)")
        st.caption(f"Went in {h['handed_in']:,}, came out {h['handed_out']:,}; most in the area at once "
                   f"{h['max_inside']:,}; most waiting on the network at its entries {h['max_entry_queue']:,}; "
                   f"densest point of the whole area {h['max_local_density_ppm2']:.2f} p/m2.")
        rows = [{"area": area.replace("_", " "), "max local density (p/m2)": v["max_local_density_ppm2"],
                 "max N/A density (p/m2)": v["max_classic_density_ppm2"],
                 "s above 4 p/m2": v["time_above_4_ppm2_s"], "s above 5 p/m2": v["time_above_5_ppm2_s"]}
                for area, v in h["areas"].items()]
        st.table(pd.DataFrame(rows).set_index("area"))
        st.markdown("**Peak local density, and the densest point of each area over time** (4 p/m2 is critical "
                    "for a moving crowd, above 5 dangerous)")
        st.image(result["peak_png"][name])
        hotspot_frames(state["key"], name, result["frames"][name], result["outlines"][name], result["start_clock"])
    st.markdown("**Downloads** (as `citytwin run` writes them)")
    downloads(result["files"], _slug(summary["scenario"])[:40], f"hotspot_dl_{state['key']}")
    from sim.hotspot.frames import frames_file_name

    columns = st.columns(max(1, len(result["frames"])))
    for column, (name, frames) in zip(columns, result["frames"].items()):
        column.download_button(frames_file_name(name), hotspot_frames_npz(state["key"], name, frames),
                               file_name=frames_file_name(name), mime="application/octet-stream",
                               key=f"hotspot_dl_{state['key']}_{name}_frames")


@st.fragment
def hotspot_frames(key: str, name: str, frames, outline, start_clock: str | None) -> None:
    """The local density at one moment (a frame of the run); the slider reruns only this part."""
    times = [float(t) for t in frames.t_s]
    if not times:
        st.info("No density frame: the run was shorter than hotspots.NAME.frame_every_s.")
        return
    st.markdown(f"**Local density over time** (a frame every {times[1] - times[0] if len(times) > 1 else times[0]:g} s "
                f"of simulated time; move the slider; same colours as the peak map)")
    t_s = st.select_slider("Time (minutes:seconds from the start)", options=times, value=times[-1],
                           format_func=_mmss, key=f"hotspot_frame_{key}_{name}")
    k = frames.index_at(t_s)
    st.image(hotspot_frame_png(key, name, k, name, frames, outline, start_clock))


# ---------------------------------------------------------------------------------------------

def main() -> None:
    st.set_page_config(page_title="citytwin", layout="wide")
    keys = list(PAGES)
    requested = st.query_params.get("page", "crowd")
    with st.sidebar:
        st.title("citytwin")
        st.caption("Crowd and traffic digital twin of the Bund, Shanghai")
        label = st.radio("Page", [PAGES[k] for k in keys],
                         index=keys.index(requested) if requested in keys else 0, key="page")
        st.caption("Results are cached by scenario, settings and seed: a repeated comparison returns at once. "
                   "Works offline (maps drawn from the network itself).")
    page = keys[[PAGES[k] for k in keys].index(label)]
    if st.query_params.get("page") != page:
        st.query_params["page"] = page
    {"crowd": crowd_page, "tunnel": tunnel_page, "bikes": bikes_page, "live": live_page,
     "hotspot": hotspot_page}[page]()


main()
