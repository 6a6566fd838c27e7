"""Fuzzed inputs: hypothesis strategies for scenario files and small maps, and a runner that sorts
what ``citytwin run`` does with them into outcomes.

Shared by ``tests/test_fuzz_inputs.py`` (a few hundred cases, in process) and
``benchmarks/fuzz_inputs.py`` (thousands, in process and as ``citytwin run`` subprocesses).

**Maps** (:func:`maps`): a handful of points with unicode names (some at the same spot: zero-length
ways; some far away), ways of random highway types and tags (widths of 0, negative or nonsense,
zones, cover, tunnels, lanes, one-way), entrances, metro exits and signals; graphs are often
disconnected.  **Scenarios** (:func:`cases`): a runnable base scenario of each kind on that map, then
mutations that follow the kind's pydantic schema (:data:`sim.kinds.KINDS`): a field is walked to
through ``model_fields`` (nested tables, dicts and lists of tables) and set to a value drawn from its
annotation and constraints (mostly valid, sometimes out of range, sometimes of another type), deleted,
or joined by an unknown key.  New schema keys are fuzzed without new code.  Demands are either modest
or absurdly huge (never the in-between tens of millions, which would really allocate gigabytes);
``simulation.duration_s`` is kept short.  One case in ten also gets ``--set`` flags (schema paths with
odd parts: list indices out of range, non-ASCII digits, empty parts; odd TOML values).

**Outcomes** (:class:`Outcome`): ``ok`` (exit 0, complete results, everyone conserved), ``error``
(a clean :class:`~sim.core.errors.SimError`, exit 2, one message line, no output), ``conservation``
(exit 3), ``traceback`` (any other exception), ``timeout`` and ``partial`` (a results folder, staging
folder or file left behind where none should be, or an incomplete one).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
import traceback
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import annotated_types as at
from hypothesis import strategies as st
from pydantic import BaseModel

from sim.core.osmxml import write_osm

MAX_DURATION_S = 240.0            # simulated seconds of a fuzzed run (kept short)
SKIP_FIELDS = {"source_path"}     # set by the loader, not by a file
RESULT_FILES = {"summary.json", "timeseries.csv", "scenario.json", "provenance.json"}
HIGHWAYS = ["footway", "pedestrian", "steps", "path", "living_street", "residential", "primary", "secondary",
            "service", "cycleway", "motorway", "corridor", "track", "unclassified", "bogus"]
WIDTHS = ["0", "-2", "0.3", "1.5", "3", "8", "40", "abc", "1e9", "3,5 m", "10'"]
ZONES = ["plaza", "neck", "广场", "zöne"]

# --- names and TOML -----------------------------------------------------------------------------------

_NAME_CHARS = st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff\x00")
names = st.one_of(
    st.sampled_from(["Entry West", "Exit East", "外滩", "Straße", "🚲 Pool", "A & B", "x", "Ω-7", "o'clock"]),
    st.text(_NAME_CHARS, min_size=1, max_size=10))


def toml_key(key: str) -> str:
    return _toml_string(str(key))


def _toml_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def toml_value(value: Any) -> str:
    """Any plain value as an inline TOML value (nan and inf included; tables inline)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    return _toml_string(str(value))


def to_toml(data: dict) -> str:
    """A scenario as TOML: one ``key = value`` line per top-level key (tables written inline)."""
    return "".join(f"{toml_key(k)} = {toml_value(v)}\n" for k, v in data.items())


# --- maps ------------------------------------------------------------------------------------------------

@dataclass
class MapSpec:
    points: dict[str, tuple[float, float]]
    ways: list[tuple[list[str], dict[str, str]]]
    node_tags: dict[str, dict[str, str]]
    station: str
    exits: list[str]
    tunnel: str | None

    @property
    def way_names(self) -> list[str]:
        return sorted({n for names_, _ in self.ways for n in names_})

    def write(self, path: Path) -> Path:
        return write_osm(path, self.points, self.ways, node_tags=self.node_tags)


def _unique(found: list[str]) -> list[str]:
    out, seen = [], set()
    for k, name in enumerate(found):
        name = name.strip() or f"p{k}"
        while name in seen:
            name = f"{name}·{k}"
        seen.add(name)
        out.append(name)
    return out


@st.composite
def maps(draw) -> MapSpec:
    """A small random map (see the module docstring)."""
    n = draw(st.integers(2, 9))
    station = draw(st.sampled_from(["Station", "人民广场站", "Gare Ü"]))
    n_exits = draw(st.integers(0, 2))
    raw = draw(st.lists(names, min_size=n, max_size=n))
    point_names = _unique([f"{station} Exit {k + 1}" for k in range(n_exits)] + raw)[: max(n, n_exits + 1)]
    coord = st.one_of(st.integers(-300, 300).map(float), st.sampled_from([0.0, 1e-7, 3_000.0]))
    points = {p: (draw(coord), draw(coord)) for p in point_names}
    ways = []
    if draw(st.booleans()):                           # often one plain walkable viewing way
        ways.append((point_names[-2:], {"highway": draw(st.sampled_from(["pedestrian", "footway"])),
                                        "zone": "plaza", "width": draw(st.sampled_from(["4", "12", "0"]))}))
    for _ in range(draw(st.integers(1, 7))):
        chain = draw(st.lists(st.sampled_from(point_names), min_size=2, max_size=4))
        tags = {"highway": draw(st.sampled_from(HIGHWAYS))}
        for key, values in (("width", WIDTHS), ("zone", ZONES), ("covered", ["yes", "no"]),
                            ("oneway", ["yes", "-1", "no"]), ("lanes", ["1", "2", "0", "x"]),
                            ("maxspeed", ["30", "50 mph", "0", "none"]), ("foot", ["no", "yes"]),
                            ("section", ["north", "south"]), ("sidewalk", ["both", "no"])):
            if draw(st.integers(0, 3)) == 0:
                tags[key] = draw(st.sampled_from(values))
        if draw(st.integers(0, 2)) == 0:
            tags["zone"] = "plaza"
        ways.append((chain, tags))
    tunnel = None
    if draw(st.integers(0, 4)) == 0 and len(point_names) >= 2:
        tunnel = "Tunnel " + draw(st.sampled_from(["Renmin", "隧道", "X"]))
        ways.append((point_names[:2], {"highway": "primary", "tunnel": "yes", "name": tunnel, "lanes": "2"}))
    node_tags: dict[str, dict[str, str]] = {}
    for k, p in enumerate(point_names):
        if k < n_exits:
            node_tags[p] = {"railway": "subway_entrance"}
        elif draw(st.integers(0, 3)) == 0:
            node_tags[p] = {draw(st.sampled_from(["entrance", "highway"])): draw(st.sampled_from(["yes", "traffic_signals"]))}
    return MapSpec(points, ways, node_tags, station, point_names[:n_exits], tunnel)


# --- values from annotations -----------------------------------------------------------------------------

junk = st.one_of(st.text(_NAME_CHARS, max_size=6), st.integers(-10**20, 10**20), st.booleans(),
                 st.floats(allow_nan=True, allow_infinity=True), st.lists(st.integers(-3, 3), max_size=3),
                 st.dictionaries(st.text(_NAME_CHARS, min_size=1, max_size=4), st.integers(), max_size=2))


def _bounds(metadata: list) -> dict[str, float]:
    out = {}
    for m in metadata:
        for attr in ("gt", "ge", "lt", "le"):
            if isinstance(m, getattr(at, attr.capitalize())):
                out[attr] = getattr(m, attr)
    return out


def _number(kind: type, metadata: list, huge: bool) -> st.SearchStrategy:
    b = _bounds(metadata)
    lo = b.get("ge", b.get("gt"))
    hi = b.get("le", b.get("lt"))
    if kind is int:
        lo_i = int(lo) + (1 if "gt" in b else 0) if lo is not None else -5
        hi_i = int(hi) - (1 if "lt" in b else 0) if hi is not None else max(lo_i, 0) + 500
        valid = st.integers(lo_i, max(lo_i, hi_i))
        wild = st.sampled_from([-1, 0, 10**12, 2**63 - 1] + ([10**15] if huge else []))
    else:
        lo_f = float(lo) if lo is not None else -10.0
        hi_f = float(hi) if hi is not None else max(lo_f, 0.0) + 1000.0
        valid = st.floats(lo_f, hi_f, exclude_min="gt" in b, exclude_max="lt" in b, allow_nan=False)
        wild = st.sampled_from([-1.0, 0.0, 1e-300, 5e-324, 1e300, math.inf, math.nan] + ([1e13] if huge else []))
    return st.one_of(valid, valid, valid, wild)


def value_for(annotation: Any, metadata: list, pool: list[str], depth: int = 0, huge: bool = False) -> st.SearchStrategy:
    """Values for one schema field: drawn from its annotation and constraints, mostly valid."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return value_for(args[0], [*metadata, *annotation.__metadata__], pool, depth, huge)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in args if a is not type(None)]
        return st.one_of(*[value_for(a, metadata, pool, depth, huge) for a in members])
    if origin is Literal:
        return st.one_of(st.sampled_from(list(args)), st.text(_NAME_CHARS, max_size=5))
    if annotation is bool:
        return st.booleans()
    if annotation in (int, float):
        return _number(annotation, metadata, huge)
    if annotation is str:
        return st.one_of(st.sampled_from(pool), names) if pool else names
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return table_for(annotation, pool, depth + 1, huge) if depth < 4 else st.just({})
    sizes = [m.min_length for m in metadata if isinstance(m, at.MinLen)]
    min_size = min(sizes[0], 3) if sizes else 0
    if origin is list or (origin is tuple and len(args) == 2 and args[1] is Ellipsis):
        inner = args[0] if args else Any
        return st.lists(value_for(inner, [], pool, depth + 1, huge), min_size=min_size, max_size=max(min_size, 4))
    if origin is tuple:
        return st.tuples(*[value_for(a, [], pool, depth + 1, huge) for a in args]).map(list)
    if origin is dict:
        key = st.one_of(st.sampled_from(pool), names) if pool else names
        return st.dictionaries(key, value_for(args[1], [], pool, depth + 1, huge), min_size=min_size,
                               max_size=max(min_size, 3))
    return junk


@st.composite
def table_for(draw, model: type[BaseModel], pool: list[str], depth: int = 0, huge: bool = False) -> dict:
    """A whole table of ``model``: every required field, each optional one half the time."""
    out = {}
    for name, info in model.model_fields.items():
        if name in SKIP_FIELDS or (not info.is_required() and draw(st.booleans())):
            continue
        out[name] = draw(value_for(info.annotation, list(info.metadata), pool, depth, huge))
    return out


def field_paths(model: type[BaseModel], data: Any, prefix: tuple = ()) -> list[tuple[tuple, Any, list, bool]]:
    """Every field the schema knows at the tables present in ``data``: (path, annotation, metadata,
    required), walking nested tables, dicts of tables and lists of tables."""
    out = []
    if not isinstance(data, dict):
        return out
    for name, info in model.model_fields.items():
        if name in SKIP_FIELDS:
            continue
        path = (*prefix, name)
        out.append((path, info.annotation, list(info.metadata), info.is_required()))
        sub = data.get(name)
        for inner in _models_in(info.annotation):
            origin = typing.get_origin(_strip(info.annotation))
            if isinstance(sub, dict) and origin is dict:
                for key, item in sub.items():
                    out += field_paths(inner, item, (*path, key))
            elif isinstance(sub, list):
                for k, item in enumerate(sub):
                    out += field_paths(inner, item, (*path, k))
            elif isinstance(sub, dict):
                out += field_paths(inner, sub, path)
    return out


def _strip(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return _strip(members[0])
    return annotation


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    found = []
    for a in typing.get_args(annotation) or (annotation,):
        if isinstance(a, type) and issubclass(a, BaseModel):
            found.append(a)
        elif typing.get_args(a):
            found += _models_in(a)
    return found


def _set(data: dict, path: tuple, value: Any = None, delete: bool = False) -> None:
    node: Any = data
    for part in path[:-1]:
        if isinstance(node, dict):
            node = node.setdefault(part, {})
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            return
        if not isinstance(node, (dict, list)):
            return
    last = path[-1]
    if isinstance(node, dict):
        if delete:
            node.pop(last, None)
        else:
            node[last] = value
    elif isinstance(node, list) and isinstance(last, int) and last < len(node):
        if delete:
            node.pop(last)
        else:
            node[last] = value


# --- base scenarios per kind ---------------------------------------------------------------------------

def _rate(draw, huge: bool) -> float:
    return draw(st.sampled_from([1e13, 1e15])) if huge else float(draw(st.integers(0, 400)))


@st.composite
def crowd_base(draw, m: MapSpec, huge: bool) -> dict:
    nodes = m.way_names
    duration = float(draw(st.integers(30, int(MAX_DURATION_S))))
    rate = _rate(draw, huge)
    data = {"name": draw(names), "map": "map.osm",
            "simulation": {"duration_s": duration, "seed": draw(st.integers(0, 99)),
                           "max_cell_m": float(draw(st.sampled_from([10, 25, 50])))},
            "show": {"start_s": duration * 0.5, "end_s": duration * 0.8, "release": draw(st.sampled_from(["all", "staged"]))},
            "zones": {"plaza": {"match": "zone=plaza", "view": True}},
            "exits": {"street": {"nodes": draw(st.lists(st.sampled_from(nodes), min_size=1, max_size=2, unique=True))}},
            "sources": [{"name": "s", "nodes": draw(st.lists(st.sampled_from(nodes), min_size=1, max_size=2, unique=True)),
                         "profile": [[0, rate], [max(1.0, duration / 60.0), rate]], "exit": "street"}]}
    if draw(st.integers(0, 3)) == 0:
        data["zones"]["plaza"]["cap"] = draw(st.integers(1, 500))
    if draw(st.integers(0, 3)) == 0:
        people = draw(st.sampled_from([10**13])) if huge else draw(st.integers(1, 300))
        data["populations"] = [{"name": "p", "match": "zone=plaza", "people": people, "exit": "street"}]
    return data


@st.composite
def traffic_base(draw, m: MapSpec, huge: bool) -> dict:
    nodes = m.way_names
    duration = float(draw(st.integers(30, int(MAX_DURATION_S))))
    rate = _rate(draw, huge) * 10
    classes = draw(st.sampled_from([{"car": 1.0}, {"car": 0.9, "bus": 0.1}, {"bicycle": 0.5, "ebike": 0.5}]))
    data = {"name": draw(names), "kind": "traffic", "map": "map.osm",
            "simulation": {"duration_s": duration, "seed": draw(st.integers(0, 99))},
            "demand": [{"name": "d", "classes": classes,
                        "origins": draw(st.lists(st.sampled_from(nodes), min_size=1, max_size=2, unique=True)),
                        "destinations": draw(st.lists(st.sampled_from(nodes), min_size=1, max_size=2, unique=True)),
                        "profile": [[0, rate], [max(1.0, duration / 60.0), rate]]}]}
    if m.tunnel and draw(st.booleans()):
        data["tunnel"] = {"name": m.tunnel}
        data["plans"] = {"fixed": {"control": "fixed", "motor_s": 60.0, "convoy_s": 60.0},
                         "demand": {"control": "on_demand", "trigger_bikes": 5}}
    return data


@st.composite
def bikes_base(draw, m: MapSpec, huge: bool) -> dict:
    nodes = m.way_names
    exits = m.exits or nodes[:1]
    duration = float(draw(st.integers(60, int(MAX_DURATION_S) * 10)))
    pools = {}
    for k, ex in enumerate(exits):
        cap = draw(st.integers(1, 40))
        pools[f"pool_{k}"] = {"exit": ex, "stock": draw(st.integers(0, cap)), "capacity": cap}
    alight = _rate(draw, huge)
    data = {"name": draw(names), "kind": "bikes", "map": "map.osm",
            "simulation": {"duration_s": duration, "seed": draw(st.integers(0, 99)),
                           "dt_s": float(draw(st.sampled_from([5, 10, 30])))},
            "station": {"name": m.station, "headway_s": float(draw(st.sampled_from([60, 120, 300]))),
                        "alighting": [[0, alight], [60, alight]]},
            "demand": {"destinations": {draw(st.sampled_from(nodes)): 1.0},
                       "returns_per_h": [[0, float(draw(st.integers(0, 300)))], [60, 100.0]]},
            "pools": pools,
            "vans": {"count": draw(st.integers(1, 3)), "depot": draw(st.sampled_from(nodes))},
            "plans": {"none": {"kind": "none"}, "optimised": {"kind": "optimised"}}}
    if draw(st.booleans()):
        data["weather"] = {"rain_mm_per_h": float(draw(st.sampled_from([0, 5, 15, 40])))}
    return data


@st.composite
def hotspot_base(draw, m: MapSpec, huge: bool) -> dict:
    """A crowd base with a stairway of the map run in 2D (issue 14); the stairway is added to the map."""
    data = draw(crowd_base(m, huge))
    names_ = m.way_names
    m.ways.append((names_[:2], {"highway": "steps", "incline": "up", "name": "Fuzz stairs", "width": "4"}))
    data["kind"] = "hotspot"
    data["hotspots"] = {"stairs": {"match": "name=Fuzz stairs", "flights_m": [2.0, 2.0], "landings_m": [2.0],
                                   "trajectory_fps": 0.0}}
    return data


BASES = {"crowd": crowd_base, "traffic": traffic_base, "bikes": bikes_base, "hotspot": hotspot_base}


@dataclass
class Case:
    kind: str
    data: dict
    map: MapSpec
    mutations: list[str] = field(default_factory=list)
    plots: bool = False
    overrides: list[str] = field(default_factory=list)      # --set flags

    @property
    def cli_flags(self) -> list[str]:
        return [*([] if self.plots else ["--no-plots"]), *(f for o in self.overrides for f in ("--set", o))]

    def write(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        self.map.write(folder / "map.osm")
        path = folder / "scenario.toml"
        path.write_text(to_toml(self.data), encoding="utf-8")
        return path

    def describe(self) -> str:
        return json.dumps({"kind": self.kind, "mutations": self.mutations, "overrides": self.overrides,
                           "scenario": self.data,
                           "map": {"points": self.map.points, "ways": self.map.ways,
                                   "node_tags": self.map.node_tags}}, ensure_ascii=False, default=str)


@st.composite
def cases(draw, kind: str | None = None, plots_share: int = 20) -> Case:
    """A fuzzed case: a map, a base scenario of ``kind`` (random when None) and 0-3 schema mutations."""
    from sim.kinds import KINDS

    kind = kind or draw(st.sampled_from(sorted(BASES)))
    m = draw(maps())
    huge = draw(st.integers(0, 9)) == 0
    data = draw(BASES[kind](m, huge))
    schema = KINDS[kind].schema
    pool = [*m.way_names, *m.exits, m.station, "plaza", "street", "s", "none", "optimised", "car"]
    mutations = []
    for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2, 3]))):
        paths = field_paths(schema, data)
        path, annotation, metadata, required = draw(st.sampled_from(paths))
        op = draw(st.sampled_from(["set", "set", "set", "junk", "delete", "unknown"]))
        if op == "set":
            value = draw(value_for(annotation, metadata, pool, huge=huge))
            _set(data, path, value)
        elif op == "junk":
            value = draw(junk)
            _set(data, path, value)
        elif op == "delete":
            _set(data, path, delete=True)
            value = None
        else:
            path = (*path[:-1], draw(names))
            value = draw(junk)
            _set(data, path, value)
        mutations.append(f"{op} {'.'.join(map(str, path))}" + ("" if op == "delete" else f" = {value!r}"[:80]))
    sim = data.get("simulation")
    if isinstance(sim, dict):                       # short runs, whatever else was drawn
        d = sim.get("duration_s")
        cap = MAX_DURATION_S * (10 if kind == "bikes" else 1)
        if isinstance(d, (int, float)) and not isinstance(d, bool) and d > cap:
            sim["duration_s"] = cap
    overrides = []
    if draw(st.integers(0, 9)) == 0:                 # --set flags: dotted paths of the schema, odd parts
        for _ in range(draw(st.integers(1, 2))):
            path = [str(p) for p in draw(st.sampled_from(field_paths(schema, data)))[0]]
            if draw(st.booleans()):
                path.insert(draw(st.integers(0, len(path))), draw(st.sampled_from(["0", "¹", "99", "", "x"])))
            value = draw(st.one_of(st.sampled_from(["none", "[1, 2]", "{a = 1}", "'é'", "1e999", "-0"]),
                                   junk.map(toml_value)))
            overrides.append(f"{'.'.join(path)}={value}")
    return Case(kind, data, m, mutations, plots=draw(st.integers(0, 99)) < plots_share, overrides=overrides)


# --- running a case ----------------------------------------------------------------------------------------

@dataclass
class Outcome:
    """What one case did: ``status`` (ok, error, conservation, traceback, timeout, partial), ``detail``
    (error or exception class), the message or traceback, wall seconds."""
    status: str
    detail: str = ""
    message: str = ""
    seconds: float = 0.0

    @property
    def label(self) -> str:
        return f"{self.status}: {self.detail}" if self.detail else self.status


class FuzzTimeout(BaseException):
    """The case ran past its time limit (raised by SIGALRM; not an Exception, so nothing catches it)."""


@contextlib.contextmanager
def _time_limit(seconds: float):
    def fire(signum, frame):
        raise FuzzTimeout(f"over {seconds:g} s")
    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _leftovers(folder: Path, out: Path) -> list[str]:
    """Anything a run left in ``folder`` besides its inputs and a complete ``out``."""
    found = [p.name for p in folder.iterdir() if p.name not in ("map.osm", "scenario.toml", out.name)]
    return sorted(found)


def _check_output(case_dir: Path, out: Path, ok: bool) -> str:
    """'' when the output is as it should be, else what is wrong with it."""
    extra = _leftovers(case_dir, out)
    if extra:
        return f"left behind: {extra!r}"
    if not ok:
        return f"results folder {out.name!r} exists after a failed run" if out.exists() else ""
    if not out.is_dir():
        return "no results folder after a successful run"
    names_ = {p.name for p in out.iterdir()}
    if not RESULT_FILES <= names_:
        return f"incomplete results: {sorted(names_)!r}"
    if any(n.startswith(".") for n in names_):
        return f"hidden files in results: {sorted(names_)!r}"
    return ""


def _conserved(out: Path) -> str:
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    for key in ("agents_conserved", "vehicles_conserved", "bikes_conserved"):
        if key in summary and summary[key] is not True:
            return f"{key} = {summary[key]!r}"
    return ""


def run_in_process(case: Case, case_dir: Path, time_limit_s: float = 30.0) -> Outcome:
    """Run ``citytwin run`` on a case through ``sim.cli.main`` in this process (main thread)."""
    import sim.cli as cli

    toml = case.write(case_dir)
    out = case_dir / "out"
    argv = ["run", str(toml), "--out", str(out), "--quiet", *case.cli_flags]
    raised: list[BaseException] = []
    original = cli._cmd_run

    def spy(args):
        try:
            return original(args)
        except BaseException as exc:
            raised.append(exc)
            raise

    stderr, stdout = io.StringIO(), io.StringIO()
    t0 = time.perf_counter()
    cli._cmd_run = spy
    try:
        with _time_limit(time_limit_s), contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(stdout):
            rc = cli.main(argv)
    except FuzzTimeout as exc:                        # where it was when time ran out
        text = "".join(traceback.format_exception(exc))
        return Outcome("timeout", f"over {time_limit_s:g} s", text, time.perf_counter() - t0)
    except BaseException as exc:                      # noqa: BLE001  (a traceback is what we look for)
        text = "".join(traceback.format_exception(exc))
        return Outcome("traceback", type(exc).__name__, text, time.perf_counter() - t0)
    finally:
        cli._cmd_run = original
    seconds = time.perf_counter() - t0
    err = stderr.getvalue()
    exc = raised[-1] if raised else None
    wrong = _check_output(case_dir, out, rc == 0)
    if wrong:
        return Outcome("partial", type(exc).__name__ if exc else f"exit {rc}", wrong, seconds)
    if rc == 0:
        bad = _conserved(out)
        return Outcome("conservation", "summary", bad, seconds) if bad else Outcome("ok", "", "", seconds)
    detail = type(exc).__name__ if exc else f"exit {rc}"
    if rc == 3:
        return Outcome("conservation", detail, err.strip(), seconds)
    lines = [line for line in err.splitlines() if line.strip()]
    if rc != 2 or not lines or not lines[0].startswith("error: ") or len(lines[0]) <= len("error: ") or "Traceback" in err:
        return Outcome("traceback", f"unclean exit {rc}", err, seconds)
    return Outcome("error", detail, "\n".join(lines)[:2000], seconds)


def last_sim_frame(text: str) -> str:
    """``"sim/crowd/compile.py:generate_arrivals"``: the innermost frame of a traceback in ``sim/``."""
    found = ""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith('File "') and "/sim/" in line and ", in " in line:
            path = line.split('"')[1]
            found = f"sim/{path.rsplit('/sim/', 1)[1]}:{line.rsplit(', in ', 1)[1]}"
    return found


def citytwin_command() -> list[str]:
    exe = shutil.which("citytwin")
    return [exe] if exe else [sys.executable, "-m", "sim.cli"]


def run_subprocess(case: Case, case_dir: Path, time_limit_s: float = 60.0, memory_bytes: int | None = None) -> Outcome:
    """Run ``citytwin run`` on a case as a subprocess (hard time limit; optional address-space cap)."""
    toml = case.write(case_dir)
    out = case_dir / "out"
    argv = [*citytwin_command(), "run", str(toml), "--out", str(out), "--quiet", *case.cli_flags]

    def limit() -> None:                              # pragma: no cover (runs in the child)
        if memory_bytes:
            import resource
            resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))

    t0 = time.perf_counter()
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=time_limit_s, preexec_fn=limit,
                              env={**os.environ, "PYTHONFAULTHANDLER": "1"}, cwd=case_dir)
    except subprocess.TimeoutExpired:
        shutil.rmtree(out, ignore_errors=True)
        return Outcome("timeout", f"over {time_limit_s:g} s", "", time.perf_counter() - t0)
    seconds = time.perf_counter() - t0
    err = proc.stderr
    if "Traceback (most recent call last)" in err or proc.returncode not in (0, 2, 3):
        last = [line for line in err.splitlines() if line.strip()]
        kind = last[-1].split(":")[0] if last else f"exit {proc.returncode}"
        return Outcome("traceback", kind, err[-4000:], seconds)
    wrong = _check_output(case_dir, out, proc.returncode == 0)
    if wrong:
        return Outcome("partial", f"exit {proc.returncode}", wrong, seconds)
    if proc.returncode == 0:
        bad = _conserved(out)
        return Outcome("conservation", "summary", bad, seconds) if bad else Outcome("ok", "", "", seconds)
    if proc.returncode == 3:
        return Outcome("conservation", "exit 3", err.strip(), seconds)
    lines = [line for line in err.splitlines() if line.strip()]
    if not lines or not lines[0].startswith("error: "):
        return Outcome("traceback", "unclean exit 2", err, seconds)
    return Outcome("error", "exit 2", lines[0][:300], seconds)
