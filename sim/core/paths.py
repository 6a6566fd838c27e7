"""Where the project's shipped files live (scenarios, maps), for the CLI, the studies and the app."""

from __future__ import annotations

from pathlib import Path

__all__ = ["PROJECT_ROOT", "SCENARIO_DIR", "MAP_DIR"]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SCENARIO_DIR = PROJECT_ROOT / "scenarios"
MAP_DIR = PROJECT_ROOT / "maps"
