"""The scenario base: strict schemas, validation reported all at once, dotted ``--set`` overrides.

Each scenario kind (:mod:`sim.crowd.schema`, :mod:`sim.traffic.schema`, :mod:`sim.bikes.schema`)
declares its tables as pydantic models on :class:`Strict` and its top level on
:class:`ScenarioBase`; :mod:`sim.kinds` picks the kind of a file and validates it.  A scenario is
checked in two passes, both before any run: the schema here (unknown keys, types, signs, ranges) and
the map (each kind's compile step).  All problems are reported in one :class:`ScenarioError`.
"""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from .errors import ScenarioError

__all__ = ["Strict", "ScenarioBase", "MapDefaultsSpec", "Profile", "check_profile", "format_pydantic", "validate_as",
           "parse_override", "apply_overrides", "read_scenario_data", "scenario_toml", "MAX_DURATION_S"]

#: Longest simulated time of any run (a week): with each kind's smallest step the number of steps
#: stays finite and countable (a found case: dt_s = 5e-324 made it infinite).
MAX_DURATION_S = 7 * 86_400.0


class Strict(BaseModel):
    """A scenario table: unknown keys are errors, values are frozen after validation."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def check_profile(value: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """A (minute, rate) profile: non-negative points with increasing minutes."""
    for k, (minute, rate) in enumerate(value):
        if minute < 0 or rate < 0:
            raise ValueError(f"point {k} {(minute, rate)!r}: minutes and rates must be >= 0")
    minutes = [m for m, _ in value]
    if minutes != sorted(minutes):
        raise ValueError(f"minutes must increase, got {minutes!r}")
    return value


#: A piecewise-linear profile of (minute, rate) points, linear in between.
Profile = Annotated[list[tuple[float, float]], Field(min_length=2), AfterValidator(check_profile)]


def check_map_name(value: str) -> str:
    """A map file name: not empty (an empty name would resolve to the scenario's own folder)."""
    if not value.strip():
        raise ValueError(f"expected a map file such as '../maps/bund.osm', got {value!r}")
    return value


class MapDefaultsSpec(Strict):
    """``[map_defaults]``: how the map is read where its tags are silent (:mod:`sim.core.profiles`).

    ``profile`` picks a country or region's defaults (``auto``: from the map's location); the
    other keys override single values.  ``max_snap_m`` is how far a place given by name, POI or
    coordinates may lie from the node it is snapped to (:mod:`sim.core.places`)."""

    profile: Literal["auto", "CN", "DE", "US-CA", "generic"] = "auto"
    maxspeed_kph: dict[str, Annotated[float, Field(gt=0)]] = Field(
        default_factory=dict, description="speed limit (km/h) per highway class where maxspeed is missing")
    lanes_per_direction: dict[str, Annotated[int, Field(ge=1, le=8)]] = Field(
        default_factory=dict, description="lanes per direction per highway class where lanes is missing")
    sidewalk_width_m: float | None = Field(None, gt=0, le=20, description="per side, where sidewalk:width is missing")
    sidewalk: Literal["both", "none"] = Field(
        "both", description="sidewalks assumed on streets without a sidewalk tag")
    width_m: dict[str, Annotated[float, Field(gt=0, le=200)]] = Field(
        default_factory=dict, description="walkable width per highway class (footway, path, ...) where width is missing")
    bike_lanes_on_roads: int | None = Field(None, ge=0, le=4, description="single-file bicycle lanes on roads")
    max_snap_m: float = Field(150.0, gt=0, description="farthest a named place may be snapped to a node (m)")


class ScenarioBase(Strict):
    """What every scenario kind has: a name, a map, how to read it, and the file it came from."""

    name: str
    description: str = ""
    map: Annotated[str, AfterValidator(check_map_name)] = Field(description="map file, relative to the scenario file")
    map_defaults: MapDefaultsSpec = Field(
        default_factory=MapDefaultsSpec, description="defaults for missing OSM tags (sim.core.profiles)")
    source_path: str = Field("", description="file the scenario was read from (set by the loader)")

    @property
    def map_path(self) -> Path:
        base = Path(self.source_path).parent if self.source_path else Path.cwd()
        return (base / self.map).resolve()

    def to_dict(self) -> dict[str, Any]:
        """Plain data as in the file (without ``source_path``), for saving with the results."""
        return self.model_dump(mode="json", exclude={"source_path"})


def format_pydantic(exc: ValidationError) -> list[str]:
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        msg = err["msg"]
        if err["type"] == "value_error":
            msg = msg.removeprefix("Value error, ")
            if not where:       # cross-field checks already name their fields
                problems.extend(msg.split("; "))
                continue
            problems.append(f"{where}: {msg}")
            continue
        where = where or "(top level)"
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; see scenarios/*.toml for the known keys)"
        elif "input" in err and err["type"] not in ("missing",):
            msg = f"{msg} (got {err['input']!r})"
        problems.append(f"{where}: {msg}")
    return problems


def validate_as(model: type[ScenarioBase], data: dict[str, Any], source: str) -> ScenarioBase:
    """Validate plain data as ``model``; raises :class:`ScenarioError` listing every problem."""
    try:
        return model.model_validate({**data, "source_path": source})
    except ValidationError as exc:
        raise ScenarioError(source, format_pydantic(exc)) from None


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"zones.promenade.cap=80000"`` -> (["zones", "promenade", "cap"], 80000).

    The value is read as a TOML value (numbers, booleans, strings, lists); bare words are strings and
    ``none``/``null`` removes the key (e.g. ``zones.promenade.cap=none`` lifts the cap).
    """
    if "=" not in text:
        raise ScenarioError("--set", [f"{text!r}: expected KEY=VALUE with a dotted key, "
                                      f"e.g. zones.promenade.cap=80000"])
    key, raw = text.split("=", 1)
    path = [p for p in key.strip().split(".")]
    if not all(path):
        raise ScenarioError("--set", [f"{text!r}: empty part in dotted key {key!r}"])
    raw = raw.strip()
    if raw.lower() in ("none", "null"):
        return path, None
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return path, value


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a copy of scenario data with dotted-key overrides applied (lists take numeric parts)."""
    out = copy.deepcopy(data)
    for text in overrides:
        path, value = parse_override(text)
        node: Any = out
        for depth, part in enumerate(path[:-1]):
            if isinstance(node, list):
                if not (part.isascii() and part.isdigit()) or int(part) >= len(node):
                    raise ScenarioError("--set", [f"{text!r}: {'.'.join(path[:depth + 1])!r} is not an "
                                                  f"index of a list of {len(node)}"])
                node = node[int(part)]
            elif isinstance(node, dict):
                if part not in node:
                    node[part] = {}
                node = node[part]
            else:
                raise ScenarioError("--set", [f"{text!r}: {'.'.join(path[:depth])!r} is a value, "
                                              f"not a table"])
        last = path[-1]
        if not isinstance(node, (dict, list)):
            raise ScenarioError("--set", [f"{text!r}: {'.'.join(path[:-1])!r} is a value, not a table"])
        if isinstance(node, list):
            if not (last.isascii() and last.isdigit()) or int(last) >= len(node):
                raise ScenarioError("--set", [f"{text!r}: {last!r} is not an index of a list of {len(node)}"])
            node[int(last)] = value
        elif value is None:
            node.pop(last, None)
        else:
            node[last] = value
    return out


def read_scenario_data(path: str | Path, overrides: list[str] | None = None) -> dict[str, Any]:
    """Read a TOML scenario file and apply ``--set`` overrides (no validation yet)."""
    path = Path(path)
    if not path.exists():
        raise ScenarioError(str(path), ["file not found; shipped scenarios are in scenarios/ "
                                        "(see `citytwin list`)"])
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(str(path), [f"not valid TOML: {exc}"]) from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(str(path), [f"not a UTF-8 text file: {exc}"]) from None
    return apply_overrides(data, overrides or [])


def scenario_toml(data: dict[str, Any]) -> str:
    """Scenario data as a TOML file's text (tables, arrays of tables, JSON-compatible values): the
    inverse of :func:`read_scenario_data` for the data scenarios hold."""
    import json

    lines: list[str] = []

    def emit(prefix: str, table: dict) -> None:
        if prefix:
            lines.append(f"[{prefix}]")
        for k, v in table.items():
            if not isinstance(v, dict) and not (isinstance(v, list) and v and isinstance(v[0], dict)):
                lines.append(f"{k} = {json.dumps(v)}")
        for k, v in table.items():
            if isinstance(v, dict):
                emit(f"{prefix}.{k}" if prefix else k, v)
            elif isinstance(v, list) and v and isinstance(v[0], dict):
                for item in v:
                    lines.append(f"[[{k}]]")
                    lines.extend(f"{kk} = {json.dumps(vv)}" for kk, vv in item.items())

    emit("", data)
    return "\n".join(lines) + "\n"
