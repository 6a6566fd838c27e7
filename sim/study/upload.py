"""Scenarios from files and uploads: the shipped ones by kind, uploaded text checked like the CLI's,
and the ``--set`` overrides the studies and the app build (caps, rain, duration)."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from pathlib import Path

from ..core.errors import ScenarioError
from ..core.paths import MAP_DIR, SCENARIO_DIR
from ..core.schema import apply_overrides
from ..kinds import AnyScenario, scenario_from_dict

__all__ = ["SCENARIO_DIR", "MAP_DIR", "MAX_SCENARIO_BYTES", "shipped_scenarios", "scenario_data_from_toml",
           "validate_scenario", "cap_override", "rain_override", "duration_override", "parse_caps", "cap_label"]

#: Largest scenario file accepted from an upload (the shipped ones are 3-6 kB).
MAX_SCENARIO_BYTES = 200_000


def shipped_scenarios(kind: str, folder: Path = SCENARIO_DIR) -> dict[str, Path]:
    """Shipped scenario files of one ``kind`` (``crowd``, ``traffic``, ...), labelled
    ``"name (file)"``, in file order.  Files that are not valid TOML are left out (``citytwin list``
    shows them)."""
    found = {}
    for path in sorted(Path(folder).glob("*.toml")):
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError):
            continue
        if data.get("kind", "crowd") == kind:
            found[f"{data.get('name', path.stem)} ({path.name})"] = path
    return found


def scenario_data_from_toml(content: bytes | str, source: str, max_bytes: int = MAX_SCENARIO_BYTES) -> dict:
    """Parse a scenario file's content (e.g. an upload) into plain data: at most ``max_bytes``,
    UTF-8, TOML; never executed.  Errors are :class:`ScenarioError` worded as the CLI's."""
    raw = content.encode("utf-8") if isinstance(content, str) else bytes(content)
    if len(raw) > max_bytes:
        raise ScenarioError(source, [f"file is {len(raw):,} bytes; scenario files may be at most "
                                     f"{max_bytes:,} bytes"])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(source, [f"not a UTF-8 text file: {exc}"]) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(source, [f"not valid TOML: {exc}"]) from None


def validate_scenario(data: dict, source: str, overrides: Iterable[str] = (),
                      map_dir: Path | None = None) -> AnyScenario:
    """Apply ``--set``-style overrides and validate (as ``citytwin run --set ...`` does).

    ``source`` is the file the scenario stands for: its ``map`` is read relative to it.
    ``map_dir``, when given, confines the map to files in that folder (uploads may only use the
    shipped maps, never an arbitrary path on the server)."""
    scenario = scenario_from_dict(apply_overrides(data, list(overrides)), source)
    if map_dir is not None and scenario.map_path.parent != Path(map_dir).resolve():
        shipped = sorted(p.name for p in Path(map_dir).glob("*.osm"))
        raise ScenarioError(source, [f"map: {scenario.map!r} is not one of the shipped maps; use "
                                     f"{', '.join(repr(f'../maps/{m}') for m in shipped)}"])
    return scenario


def cap_override(zone: str, cap: int | None) -> str:
    """The ``--set`` text that caps ``zone`` at ``cap`` people (``None``: lifts the cap)."""
    return f"zones.{zone}.cap={'none' if cap is None else int(cap)}"


def rain_override(rain_mm_per_h: float) -> str:
    """The ``--set`` text for the rain intensity (0: dry, no umbrellas)."""
    return f"weather.rain_mm_per_h={float(rain_mm_per_h)!r}"


def duration_override(minutes: float) -> str:
    """The ``--set`` text for the simulated time."""
    return f"simulation.duration_s={float(minutes) * 60.0!r}"


def parse_caps(text: str) -> list[int | None]:
    """``"40,000, 60k, 80 000, none"`` -> ``[40000, 60000, 80000, None]``: caps separated by commas or
    semicolons (a comma between a digit and exactly three digits is a thousands separator), sorted
    and unique; ``none`` or ``uncapped`` lifts the cap; ``k`` means thousands.
    :class:`ScenarioError` lists every bad entry."""
    caps: list[int | None] = []
    problems = []
    text = re.sub(r"(?<=\d),(?=\d{3}(?!\d))", "", text)
    for part in text.replace(";", ",").split(","):
        item = part.strip().lower().replace(" ", "").replace("_", "")
        if not item:
            continue
        if item in ("none", "uncapped", "nocap"):
            caps.append(None)
            continue
        scale = 1000 if item.endswith("k") else 1
        number = item[:-1] if scale > 1 else item
        try:
            value = float(number) * scale
        except ValueError:
            problems.append(f"{part.strip()!r}: expected a number of people (e.g. 60000 or 60k) or 'none'")
            continue
        if value < 1 or value != int(value):
            problems.append(f"{part.strip()!r}: a cap is a whole number of people >= 1")
            continue
        caps.append(int(value))
    if not caps and not problems:
        problems.append("no caps given: enter e.g. '40000, 60000, 80000, none'")
    if problems:
        raise ScenarioError("caps", problems)
    unique = sorted({c for c in caps if c is not None})
    return unique + ([None] if None in caps else [])


def cap_label(cap: int | None) -> str:
    return "uncapped" if cap is None else f"cap {cap:,}"
