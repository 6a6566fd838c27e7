"""A disk cache for loaded maps: a second run on the same extract starts in about a second.

Entries are keyed by the file's content (SHA-256), the loader's version and its settings (the
resolved ``[map_defaults]``, simplification), never by path or modification time, so an edited map
or a changed default is never served stale.  Each entry is written to a temporary file in the cache
folder and moved into place with :func:`os.replace` (atomic on POSIX and Windows), so parallel sweep
workers may load the same map at once: each either reads a complete entry or builds its own, and the
last complete write wins.  A damaged or unreadable entry is ignored and rebuilt.

The folder is ``$CITYTWIN_CACHE_DIR`` if set (``off`` disables the disk cache), else
``$XDG_CACHE_HOME/citytwin`` or ``~/.cache/citytwin``.  Entries are Python pickles: the cache is a
private folder of the user running citytwin, not a place to load files from others.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["cache_dir", "cache_key", "cache_get", "cache_put"]


def cache_dir() -> Path | None:
    """The cache folder, or None when the disk cache is off."""
    env = os.environ.get("CITYTWIN_CACHE_DIR")
    if env is not None:
        return None if env.strip().lower() in ("", "off", "0", "none") else Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "citytwin"


def cache_key(*parts: Any) -> str:
    """A short hex digest of JSON-serialisable parts."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]


def _entry(kind: str, key: str) -> Path | None:
    folder = cache_dir()
    return None if folder is None else folder / kind / f"{key}.pkl"


def cache_get(kind: str, key: str) -> Any | None:
    """The cached object for ``key`` or None (missing, disabled or unreadable)."""
    path = _entry(kind, key)
    if path is None or not path.exists():
        return None
    try:
        with open(path, "rb") as fh:
            payload = pickle.load(fh)
    except Exception:            # a damaged entry is rebuilt, never trusted
        return None
    if not isinstance(payload, dict) or payload.get("key") != key:
        return None
    return payload.get("value")


def cache_put(kind: str, key: str, value: Any) -> Path | None:
    """Store ``value`` atomically; returns the entry's path (None when disabled or not writable)."""
    path = _entry(kind, key)
    if path is None:
        return None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{key}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                pickle.dump({"key": key, "value": value}, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError:              # a read-only home or a full disk: run without the disk cache
        return None
    return path
