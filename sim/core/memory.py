"""Memory a run will need against the memory available: a demand too large is refused before the
run, with the estimate, instead of growing until the machine swaps or the process is killed.

    from sim.core.memory import check_memory
    check_memory(n_people, bytes_per_agent=320, what="people", field="sources.0.profile", value=profile)

Available memory is the smallest of: ``MemAvailable`` in ``/proc/meminfo`` (else
``os.sysconf`` free pages), the cgroup limit less its usage (containers), and
``CITYTWIN_MAX_MEMORY`` when set (bytes, or a number with K, M, G or T, e.g. ``8G``), a cap for
shared machines.  A run may plan for :data:`DEFAULT_SHARE` of it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from .errors import ResourceError

__all__ = ["available_memory_bytes", "estimate_bytes", "check_memory", "format_bytes", "parse_bytes",
           "DEFAULT_SHARE", "MAX_MEMORY_ENV"]

#: Share of the available memory one run may plan for (the rest: Python, Numba, plots, the OS).
DEFAULT_SHARE = 0.8
#: Environment variable capping the memory a run may plan for (e.g. ``8G``).
MAX_MEMORY_ENV = "CITYTWIN_MAX_MEMORY"
_UNITS = {"": 1, "K": 1024, "M": 1024 ** 2, "G": 1024 ** 3, "T": 1024 ** 4}
_NO_LIMIT = 1 << 60                 # cgroup v1 writes a huge number for "no limit"


def parse_bytes(text: str) -> int:
    """``"8G"`` -> 8589934592; ``"512M"``, ``"1.5G"``, ``"100000"`` (bytes); binary units."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*", str(text), flags=re.IGNORECASE)
    if match is None:
        raise ResourceError(f"{MAX_MEMORY_ENV}: expected bytes or a number with K, M, G or T (e.g. '8G'), "
                            f"got {text!r}")
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _meminfo_bytes() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _cgroup_bytes() -> int | None:
    """Room left under the cgroup's memory limit (v2, else v1); None without a limit."""
    v2 = Path("/sys/fs/cgroup")
    limit, used = _read_int(v2 / "memory.max"), _read_int(v2 / "memory.current")
    if limit is None:
        v1 = v2 / "memory"
        limit, used = _read_int(v1 / "memory.limit_in_bytes"), _read_int(v1 / "memory.usage_in_bytes")
    if limit is None or limit >= _NO_LIMIT:
        return None
    return max(0, limit - (used or 0))


def available_memory_bytes() -> int | None:
    """Memory available to this process now (bytes): the smallest of the system's available memory,
    the room under a cgroup limit and ``CITYTWIN_MAX_MEMORY``; None when nothing can be read."""
    found = [v for v in (_meminfo_bytes(), _cgroup_bytes()) if v is not None]
    cap = os.environ.get(MAX_MEMORY_ENV, "").strip()
    if cap:
        found.append(parse_bytes(cap))
    return min(found) if found else None


def estimate_bytes(n_agents: float, bytes_per_agent: float, fixed_bytes: float = 0) -> int:
    """Memory for ``n_agents`` agents of ``bytes_per_agent`` each, plus ``fixed_bytes``."""
    if not (n_agents >= 0 and bytes_per_agent >= 0 and fixed_bytes >= 0):
        raise ValueError(f"estimate_bytes: counts and sizes must be >= 0, got n_agents={n_agents!r}, "
                         f"bytes_per_agent={bytes_per_agent!r}, fixed_bytes={fixed_bytes!r}")
    total = float(n_agents) * float(bytes_per_agent) + float(fixed_bytes)
    return int(min(total, 1e300))                      # inf or astronomically large: still an int


def format_bytes(n: float) -> str:
    """``6442450944`` -> ``'6.0 GiB'``; beyond PiB in powers of ten (``'1.2e+24 B'``)."""
    value = float(n)
    if value >= 1024 ** 6:
        return f"{value:.2g} B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(value) < 1024 or unit == "PiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} PiB"                         # pragma: no cover


def _count(n: float) -> str:
    return f"{float(n):,.0f}" if float(n) < 1e15 else f"{float(n):.2g}"


def check_memory(n_agents: float, bytes_per_agent: float, *, what: str, field: str, value: Any = None,
                 fixed_bytes: float = 0, share: float = DEFAULT_SHARE,
                 available_bytes: int | None = None) -> int:
    """Refuse a run whose estimated memory exceeds ``share`` of the memory available.

    ``n_agents`` agents (``what``: "people", "vehicles", "bike requests") of ``bytes_per_agent``
    each plus ``fixed_bytes``; ``field`` and ``value`` name the scenario setting that asks for them.
    Returns the estimate (bytes); raises :class:`~sim.core.errors.ResourceError` with the estimate and
    the memory available.  ``available_bytes`` replaces :func:`available_memory_bytes` (tests).
    When the available memory cannot be read, nothing is refused."""
    need = estimate_bytes(n_agents, bytes_per_agent, fixed_bytes)
    have = available_memory_bytes() if available_bytes is None else int(available_bytes)
    if have is None or need <= share * have:
        return need
    shown = "" if value is None else f" = {value!r}"
    raise ResourceError(
        f"{field}{shown} asks for about {_count(n_agents)} {what}, an estimated {format_bytes(need)} of memory "
        f"({bytes_per_agent:,.0f} bytes each); {format_bytes(have)} is available and a run may use "
        f"{share:.0%} of it ({format_bytes(share * have)}): lower {field}, or run on a larger machine "
        f"(cap: {MAX_MEMORY_ENV})")
