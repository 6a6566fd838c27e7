"""``citytwin advise``: exact binomial bounds, the cap search on a synthetic risk function (no model),
plans and caps as typed, bad input, and a small end-to-end advice on a tiny crowd scenario.

Published values the bounds are checked against:

* the closed forms of the Clopper-Pearson (1934) bounds at the ends: with no failure in n runs the
  one-sided upper bound is 1 - alpha^(1/n); with n of n, the lower bound is alpha^(1/n);
* the zero-failure ("success run") sample sizes: 59 runs for 5% and 29 for 10% at 95% confidence, as
  issue 12 states them (ln 0.05 / ln 0.95 = 58.4, ln 0.05 / ln 0.9 = 28.4);
* Conover (1999), Practical Nonparametric Statistics, table of exact binomial confidence limits:
  5 successes of 25 -> 95% two-sided interval 0.068 to 0.407 (quoted by influentialpoints.com,
  "Confidence intervals of proportions"; see docs/sources.md, section "Risk over seeds").
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from sim.cli import main
from sim.core.errors import CliError, ScenarioError
from sim.core.osmxml import write_osm
from sim.study.advise import (ADVICE_HTML, ADVICE_JSON, Plan, advise, default_caps, parse_caps_arg, parse_plans,
                              search_caps)
from sim.study.stats import attainable_upper, binom_cdf, cp_interval, cp_lower, cp_upper, runs_needed
from sim.study.sweep import read_table, run_sweep
from tests.conftest import ROOT, to_toml

RAIN = ROOT / "scenarios" / "bund_lightshow_rain.toml"


# ---------------------------------------------------------------------------------------------
# Clopper-Pearson.
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 2, 10, 29, 59, 200])
def test_clopper_pearson_closed_forms_at_the_ends(n):
    assert cp_upper(0, n) == pytest.approx(1 - 0.05 ** (1 / n), abs=1e-12)
    assert cp_lower(n, n) == pytest.approx(0.05 ** (1 / n), abs=1e-12)
    assert cp_lower(0, n) == 0.0 and cp_upper(n, n) == 1.0
    assert attainable_upper(n) == cp_upper(0, n)


def test_zero_failure_runs_needed_are_59_for_5_percent_and_29_for_10():
    assert runs_needed(0.05) == 59 and runs_needed(0.10) == 29 and runs_needed(0.20) == 14
    assert cp_upper(0, 59) < 0.05 <= cp_upper(0, 58)
    assert cp_upper(0, 29) < 0.10 <= cp_upper(0, 28)


def test_clopper_pearson_against_conovers_table():
    low, high = cp_interval(5, 25, confidence=0.95)
    assert low == pytest.approx(0.068, abs=5e-4) and high == pytest.approx(0.407, abs=5e-4)
    # 0 of 20, two-sided 95%: the upper end is the closed form with alpha = 0.025 (0.1684).
    assert cp_interval(0, 20, confidence=0.95) == (0.0, pytest.approx(1 - 0.025 ** (1 / 20), abs=1e-12))


@pytest.mark.parametrize("k, n", [(1, 5), (3, 17), (12, 59), (40, 41), (7, 300)])
def test_bounds_solve_the_binomial_tail_equations(k, n):
    up, lo = cp_upper(k, n), cp_lower(k, n)
    assert binom_cdf(k, n, up) == pytest.approx(0.05, abs=1e-9)             # P(X <= k | upper) = alpha
    assert 1 - binom_cdf(k - 1, n, lo) == pytest.approx(0.05, abs=1e-9)     # P(X >= k | lower) = alpha
    exact = sum(math.comb(n, i) * 0.3 ** i * 0.7 ** (n - i) for i in range(k + 1))
    assert binom_cdf(k, n, 0.3) == pytest.approx(exact, rel=1e-9)


@pytest.mark.parametrize("n", [5, 29])
def test_upper_bound_covers_at_least_95_percent_for_every_p(n):
    """The guarantee that makes the bound exact: whatever the true p, P(p <= upper bound) >= 95%
    (computed by enumerating every outcome, no simulation)."""
    uppers = [cp_upper(k, n) for k in range(n + 1)]
    for p in [i / 200 for i in range(1, 200)]:
        coverage = sum(math.comb(n, k) * p ** k * (1 - p) ** (n - k) for k in range(n + 1) if uppers[k] >= p)
        assert coverage >= 0.95 - 1e-9, (n, p, coverage)


def test_bad_counts_are_refused():
    with pytest.raises(ValueError, match="k must be"):
        cp_upper(6, 5)
    with pytest.raises(ValueError, match="risk must be"):
        runs_needed(0.0)


# ---------------------------------------------------------------------------------------------
# The search on a synthetic risk function (no model runs).
# ---------------------------------------------------------------------------------------------

def _uniform(index: int) -> float:
    """The same 'draw' for a seed index at every cap (common random numbers)."""
    return ((index * 2654435761 + 12345) % 2 ** 32) / 2 ** 32


class Synthetic:
    """A run function with a known, non-monotone P(unsafe) against the cap; records every request."""

    def __init__(self, p_of, fail_every: int = 0):
        self.p_of, self.fail_every = p_of, fail_every
        self.requests: list[tuple] = []

    def __call__(self, requests):
        self.requests += requests
        out = {}
        for cap, index in requests:
            if self.fail_every and len(self.requests) % self.fail_every == 0 and index % 3 == 1:
                out[(cap, index)] = None                   # a run that crashed: no outcome
            else:
                out[(cap, index)] = _uniform(index) < self.p_of(cap)
        return out


def _dip(cap):
    """Safe up to 30,000, unsafe at 40,000-59,999 (the squares fill at the gates), safe again from
    60,000 to 74,999, unsafe from 75,000 and uncapped."""
    if cap is None or cap >= 75000:
        return 1.0
    return 1.0 if 40000 <= cap < 60000 else 0.0


def test_search_finds_the_highest_safe_cap_of_a_non_monotone_response():
    caps, resolution = default_caps(60000)
    assert caps == [15000, 30000, 45000, 60000, 75000, 90000, 105000, 120000, None]
    runs = Synthetic(_dip)
    search = search_caps(runs, caps, 0.10, 29, resolution=resolution, workers=2)
    assert search.found and 75000 - resolution <= search.cap < 75000
    answer = search.records[search.cap]
    assert answer.n == 29 and answer.k == 0 and answer.upper < 0.10
    # the failing 45,000 below the answer is seen and does not stop the search
    assert search.records[45000].status(0.10, 29) == "unsafe"
    above = search.records[search.above]
    assert search.above > search.cap and above.status(0.10, 29) in ("unsafe", "undecided")
    # every cap above the answer on the grid was shown unsafe (two failures of two)
    for cap in (75000, 90000, 105000, 120000, None):
        assert search.records[cap].n == 2 and search.records[cap].status(0.10, 29) == "unsafe"
    # common random numbers: the screen asked the same seed indices at every cap
    screen = [r for r in runs.requests[: 2 * len(caps)]]
    assert {i for _, i in screen} == {0, 1} and len({c for c, _ in screen}) == len(caps)
    # far fewer runs than a plain grid at the same resolution with the same seeds per cap
    grid_runs = len(range(resolution, 120001, resolution)) * 29
    assert search.runs == len(runs.requests) and search.runs < 0.15 * grid_runs


def test_monotone_bisection_would_miss_what_the_search_finds():
    """Unsafe between 60,000 and 69,999, safe from 70,000 to 84,999: a bisection that assumes a
    monotone response lands below 60,000; the search finds the safe band above."""
    def band(cap):
        return 1.0 if cap is None or cap >= 85000 or 60000 <= cap < 70000 else 0.0

    low, high = 15000, 120000
    while high - low > 3800:
        mid = (low + high) // 2
        low, high = (mid, high) if band(mid) == 0.0 else (low, mid)
    assert low < 60000
    found = search_caps(Synthetic(band), default_caps(60000)[0], 0.10, 29, resolution=3800)
    assert found.found and 85000 - 3800 <= found.cap < 85000


def test_search_when_no_cap_is_safe_stops_after_the_screen():
    caps = [20000, 40000, None]
    runs = Synthetic(lambda cap: 1.0)
    search = search_caps(runs, caps, 0.10, 29)
    assert not search.found and search.cap is None and search.runs == 2 * len(caps)


def test_uncertain_cap_stops_once_it_can_no_longer_pass():
    runs = Synthetic(lambda cap: 0.5)
    search = search_caps(runs, [10000], 0.05, 59)
    rec = search.records[10000]
    assert not search.found and rec.k >= 1 and rec.n <= 8          # the first failure ends it at 59 seeds
    assert rec.status(0.05, 59) == "undecided"


def test_failed_runs_are_not_counted_and_more_seeds_are_asked():
    runs = Synthetic(lambda cap: 0.0, fail_every=2)
    search = search_caps(runs, [10000], 0.2, 14)
    rec = search.records[10000]
    assert search.found and rec.n == 14 and rec.failed_runs > 0 and rec.next_index == 14 + rec.failed_runs


def test_budget_and_floor():
    runs = Synthetic(_dip)
    spent = search_caps(runs, default_caps(60000)[0], 0.10, 29, max_runs=25)
    assert spent.budget_spent and spent.runs <= 25 and not spent.found
    floored = search_caps(Synthetic(_dip), [20000, 50000, None], 0.10, 29, floor=30000)
    assert not floored.found and floored.records[20000].n == 2     # below the floor: screened only


# ---------------------------------------------------------------------------------------------
# Plans and caps as typed.
# ---------------------------------------------------------------------------------------------

def test_plans_from_the_file_and_the_command_line():
    data = {"plans": {"managed": {"description": "one-way loops", "set": ["crowd.aisle_width_m=5"]}}}
    plans = parse_plans(["base", "managed", "wide:crowd.aisle_width_m=6,show.release_order=[\"north\", \"south\"]"],
                        data)
    assert plans == [Plan("base", (), "the scenario as given"),
                     Plan("managed", ("crowd.aisle_width_m=5",), "one-way loops"),
                     Plan("wide", ("crowd.aisle_width_m=6", 'show.release_order=["north", "south"]'), "command line")]
    assert parse_plans([], data) == [Plan("base", (), "the scenario as given")]


@pytest.mark.parametrize("items, message", [
    (["nowhere"], "no plan 'nowhere' in --plans (its plans: base, managed)"),
    (["x:novalue"], "expected NAME:KEY=VALUE,KEY=VALUE"),
    (["base", "base"], "given twice"),
    (["bad name:a=1"], "a plan name is letters"),
])
def test_bad_plans_are_one_clear_error(items, message):
    with pytest.raises(CliError, match="--plans") as info:
        parse_plans(items, {"plans": {"managed": {"set": ["a=1"]}}})
    assert message in str(info.value)


def test_caps_as_typed():
    assert parse_caps_arg("20000, 40_000,none") == [20000, 40000, None]
    assert parse_caps_arg("20000:50000:10000") == [20000, 30000, 40000, 50000]
    for bad in ("20000,-5", "abc", "10:5:1", "1000,1000"):
        with pytest.raises(CliError, match="--caps"):
            parse_caps_arg(bad)


# ---------------------------------------------------------------------------------------------
# Bad input stops before any run.
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("args, message", [
    (["--risk", "0.05", "--seeds", "20"], "--seeds 20: with 20 runs per cap the lowest upper bound attainable is 13.9%"),
    (["--risk", "1.5"], "expected a probability strictly between 0 and 1"),
    (["--plans", "nowhere"], "no plan 'nowhere'"),
    (["--plans", "x:crowd.aisle_widthh=3"], "crowd.aisle_widthh: unknown key"),
    (["--caps", "10,,20"], "--caps"),
    (["--zone", "moon"], "--zone 'moon' is not a zone"),
])
def test_bad_advise_input_is_one_clean_error_and_writes_nothing(tmp_path, capsys, args, message):
    out = tmp_path / "advice"
    assert main(["advise", str(RAIN), "--out", str(out), "--quiet", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("error:") == 1
    assert not out.exists()


def test_advise_refuses_other_kinds(tmp_path):
    with pytest.raises(CliError, match="advise finds a crowd cap"):
        advise(ROOT / "scenarios" / "typhoon_tunnel_convoy.toml", 0.1, out_dir=tmp_path / "x")


# ---------------------------------------------------------------------------------------------
# End to end on a tiny crowd scenario.
# ---------------------------------------------------------------------------------------------

def small_plaza(tmp_path: Path) -> Path:
    """A 200 m, 12 m wide footway into a 15 m x 100 m viewing plaza: 400 people a minute for 10
    minutes, viewers standing at 4 p/m2 (0.25 m2 each), so a full plaza reaches Fruin's queuing LOS E
    and a capped one queues at its gate (people go home after 5 minutes)."""
    points = {"Entry West": (0, 0), "c1": (100, 0), "Plaza Gate": (200, 0), "p1": (250, 0), "Plaza End": (300, 0),
              "Exit East": (320, 0)}
    ways = [(["Entry West", "c1", "Plaza Gate"], {"highway": "footway", "width": "12"}),
            (["Plaza Gate", "p1", "Plaza End"], {"highway": "pedestrian", "width": "15", "zone": "plaza"}),
            (["Plaza End", "Exit East"], {"highway": "footway", "width": "12"})]
    osm = write_osm(tmp_path / "plaza.osm", points, ways,
                    node_tags={"Entry West": {"entrance": "yes"}, "Exit East": {"entrance": "yes"}})
    data = {"name": "small plaza", "map": str(osm),
            "simulation": {"duration_s": 900, "max_cell_m": 50, "seed": 3},
            "crowd": {"view_space_m2": 0.25, "patience_s": 300},
            "show": {"start_s": 700, "end_s": 800, "release": "all"},
            "zones": {"plaza": {"match": "zone=plaza", "view": True, "cap": 2000}},
            "exits": {"street": {"nodes": ["Exit East", "Entry West"]}},
            "sources": [{"name": "west", "nodes": ["Entry West"], "profile": [[0, 400], [10, 400], [11, 0]],
                         "exit": "street"}]}
    path = tmp_path / "plaza.toml"
    path.write_text(to_toml(data))
    return path


def test_advise_end_to_end_on_a_tiny_scenario(tmp_path):
    path = small_plaza(tmp_path)
    out = tmp_path / "advice"
    seen = []
    advice = advise(path, 0.2, caps=[1000, 2000, 3000, None], resolution=250, out_dir=out, engine="inline",
                    progress=lambda done, total, why: seen.append((done, total)), log=lambda msg: None)
    result = advice.best
    assert advice.max_seeds == 14 and result is not None and result.search.found
    cap = result.search.cap
    # the answer agrees with the runs on disk: all its runs kept the criterion, the next tested cap did not
    rows = read_table(out / "plan-base" / "sweep.csv")
    at_answer = [r for r in rows if r["zones.plaza.cap"] == cap]
    assert len(at_answer) == 14 and all(r["status"] == "ok" and r["safe"] is True for r in at_answer)
    above = [r for r in rows if r["zones.plaza.cap"] == result.search.above]
    assert above and any(r["safe"] is False for r in above)
    assert all(r["safe"] is False for r in rows if r["zones.plaza.cap"] in (3000, None))
    assert 1000 <= cap < result.search.above <= cap + 250 * 2
    # files: advice.json with the answer and its interval; the one-page report with embedded plots;
    # each run's own folder with its summary and places.geojson
    data = json.loads((out / ADVICE_JSON).read_text())
    assert data["answer"]["cap"] == cap and data["answer"]["failures"] == 0 and data["answer"]["runs"] == 14
    assert data["answer"]["upper_95"] == pytest.approx(1 - 0.05 ** (1 / 14), abs=1e-4)
    assert data["runs_needed_without_failure"] == 14 and "gate_wait_s_p95" in data["answer"]["price"]
    page = (out / ADVICE_HTML).read_text()
    assert page.count("data:image/png;base64,") == 2 and "small plaza" in page and f"{cap:,}" in page
    run_dir = out / "plan-base" / "runs" / f"zones.plaza.cap={cap}" / "seed-3"
    assert (run_dir / "summary.json").is_file() and (run_dir / "places.geojson").is_file()
    assert seen and seen[-1][0] == advice.runs_total
    # asked again, it reuses every run on disk and says the same
    again = advise(path, 0.2, caps=[1000, 2000, 3000, None], resolution=250, out_dir=out, engine="inline",
                   report=False, log=lambda msg: None)
    assert again.runs_new == 0 and again.best.search.cap == cap
    # an independent sweep at the advised cap on fresh seeds breaks the criterion in at most 20% of runs
    check = run_sweep(path, [f"zones.plaza.cap={cap}"], 10, tmp_path / "check", engine="inline",
                      overrides=["simulation.seed=1000"], log=lambda msg: None)
    assert check.risk[0]["p_unsafe"] <= 0.2
