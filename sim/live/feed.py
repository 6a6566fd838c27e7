"""The feed: count records in, from a file, from standard input as it grows, or over HTTP.

**Format.** One record per line, each a count of one sensor at one time:

* JSON lines: ``{"t_s": 600, "sensor": "promenade_count", "value": 14250}``
* or CSV: ``600,promenade_count,14250`` (a header line ``t_s,sensor,value`` is allowed)

``t_s`` is simulated seconds since the scenario's start (``t = 0`` is the start of the night, e.g.
18:30 on the Bund); ``sensor`` a ``[sensors.NAME]`` of the scenario; ``value`` a number in the
sensor's unit (people, people per period, mm/h).  Blank lines and lines starting with ``#`` are
ignored.  The line ``{"end": true}`` ends the feed (as the end of a file does).

**Sources.** :func:`open_feed` takes ``FILE``, ``-`` (standard input, read line by line as it grows)
or ``http://HOST:PORT``: the twin then listens there (:class:`HttpFeed`, a small ``http.server`` in a
thread): ``POST /records`` with JSON lines (or CSV lines) as the body queues them and answers how
many were read and which lines could not be; ``POST /end`` ends the feed; ``GET /status`` returns
the twin's status (time, sensors it runs without, last forecast, warnings) as JSON.

A line that cannot be read is not fatal: the reader yields a :class:`BadLine` that the twin logs and
skips.
"""

from __future__ import annotations

import json
import math
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO
from urllib.parse import urlparse

from ..core.errors import CliError

__all__ = ["Record", "BadLine", "END", "parse_line", "format_record", "file_feed", "stream_feed", "HttpFeed",
           "open_feed", "http_address", "MAX_BODY_BYTES"]

#: Largest body one HTTP request may carry.
MAX_BODY_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class Record:
    """One count: ``value`` of ``sensor`` at ``t_s`` (simulated seconds since the scenario's start)."""

    t_s: float
    sensor: str
    value: float
    where: str = ""             # where it came from (file:line, stdin:line, http), for the log

    def to_json(self) -> str:
        return format_record(self)


@dataclass(frozen=True)
class BadLine:
    """A line that is not a record; logged and skipped."""

    text: str
    reason: str
    where: str = ""


class _End:
    """The end of the feed."""

    def __repr__(self) -> str:
        return "END"


END = _End()


def format_record(record: Record) -> str:
    """A record as one JSON line (integral values written as integers)."""
    value = record.value
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        value = int(value)
    t = int(record.t_s) if float(record.t_s).is_integer() else record.t_s
    return json.dumps({"t_s": t, "sensor": record.sensor, "value": value})


def _number(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{what} must be a number, got {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{what} must be a finite number, got {value!r}")
    return number


def parse_line(text: str, where: str = "") -> Record | BadLine | _End | None:
    """Read one line: a :class:`Record`, a :class:`BadLine` (why it is not one), :data:`END`, or None
    for a blank line, a comment or a CSV header."""
    line = text.strip()
    if not line or line.startswith("#"):
        return None
    try:
        if line.startswith("{"):
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"not valid JSON ({exc.msg})") from None
            if not isinstance(data, dict):
                raise ValueError("expected a JSON object with t_s, sensor and value")
            if data.get("end") is True:
                return END
            missing = [k for k in ("t_s", "sensor", "value") if k not in data]
            if missing:
                raise ValueError(f"missing {', '.join(missing)} (expected {{\"t_s\": ..., \"sensor\": ..., "
                                 f"\"value\": ...}})")
            extra = sorted(set(data) - {"t_s", "sensor", "value"})
            if extra:
                raise ValueError(f"unknown key(s) {extra!r} (a record has t_s, sensor and value)")
            t, sensor, value = data["t_s"], data["sensor"], data["value"]
        else:
            parts = [p.strip() for p in line.split(",")]
            if parts == ["t_s", "sensor", "value"]:
                return None
            if len(parts) != 3:
                raise ValueError("expected JSON or CSV t_s,sensor,value")
            t, sensor, value = parts
        if not isinstance(sensor, str) or not sensor:
            raise ValueError(f"sensor must be a sensor name, got {sensor!r}")
        return Record(t_s=_number(t, "t_s"), sensor=sensor, value=_number(value, "value"), where=where)
    except ValueError as exc:
        return BadLine(text=line[:200], reason=str(exc), where=where)


def _lines(lines: Iterable[str], label: str) -> Iterator[Record | BadLine | _End]:
    for k, text in enumerate(lines, start=1):
        item = parse_line(text, f"{label}:{k}")
        if item is END:
            yield END
            return
        if item is not None:
            yield item
    yield END


def file_feed(path: str | Path) -> Iterator[Record | BadLine | _End]:
    """Records of a file, to its end (checked to exist before anything is read)."""
    path = Path(path)
    if not path.is_file():
        raise CliError(f"--feed: {str(path)!r} is not a file (use FILE, - for standard input, or "
                       f"http://HOST:PORT)")

    def read() -> Iterator[Record | BadLine | _End]:
        with path.open(encoding="utf-8", errors="replace") as handle:
            yield from _lines(handle, path.name)
    return read()


def stream_feed(stream: IO[str], label: str = "stdin") -> Iterator[Record | BadLine | _End]:
    """Records of a stream read line by line as it grows (standard input from a pipe), to its end."""
    yield from _lines(iter(stream.readline, ""), label)


class HttpFeed:
    """A small HTTP endpoint that takes records (``POST /records``, JSON lines or CSV lines as the
    body), ends the feed (``POST /end``) and reports the twin's status (``GET /status``).

    ``port`` 0 picks a free port (:attr:`address` says which).  Iterating the feed yields what was
    posted, in the order it arrived, until ``POST /end`` or :meth:`close`."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, status: Callable[[], dict] | None = None):
        self._queue: queue.Queue = queue.Queue()
        self._status = status or (lambda: {})
        self._lines = 0
        self._lock = threading.Lock()
        feed = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:      # the twin logs records, not requests
                pass

            def _reply(self, code: int, body: dict) -> None:
                data = json.dumps(body).encode("utf-8")
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path.rstrip("/") == "/status":
                    self._reply(200, feed._status())
                else:
                    self._reply(404, {"error": f"no {self.path!r}; use GET /status, POST /records, POST /end"})

            def do_POST(self) -> None:
                path = self.path.rstrip("/")
                if path == "/end":
                    feed._queue.put(END)
                    self._reply(200, {"ended": True})
                    return
                if path != "/records":
                    self._reply(404, {"error": f"no {self.path!r}; use POST /records or POST /end"})
                    return
                try:
                    length = int(self.headers.get("Content-Length", "0"))
                except ValueError:
                    length = -1
                if length < 0 or length > MAX_BODY_BYTES:
                    self._reply(413, {"error": f"body must be 0 to {MAX_BODY_BYTES} bytes, got "
                                               f"Content-Length {self.headers.get('Content-Length')!r}"})
                    return
                body = self.rfile.read(length).decode("utf-8", errors="replace")
                read, bad = 0, []
                with feed._lock:
                    for text in body.splitlines():
                        feed._lines += 1
                        item = parse_line(text, f"http:{feed._lines}")
                        if item is None:
                            continue
                        if isinstance(item, BadLine):
                            bad.append({"line": item.text, "reason": item.reason})
                        else:
                            read += 1
                        feed._queue.put(item)
                self._reply(200, {"read": read, "bad": bad})

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="citytwin-feed", daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __iter__(self) -> Iterator[Record | BadLine | _End]:
        while True:
            item = self._queue.get()
            yield item
            if item is END:
                return

    def close(self) -> None:
        """Stop listening (and end the feed)."""
        self._queue.put(END)
        self._server.shutdown()
        self._server.server_close()


def http_address(spec: str) -> tuple[str, int] | None:
    """(host, port) of an ``http://HOST:PORT`` feed spec; None for a file or ``-``; a malformed URL
    raises :class:`CliError`."""
    if not spec.startswith(("http://", "https://")):
        return None
    url = urlparse(spec)
    try:
        port = url.port
    except ValueError:
        port = None
    if url.scheme != "http" or not url.hostname or port is None or url.path not in ("", "/"):
        raise CliError(f"--feed: expected http://HOST:PORT (the twin listens there), got {spec!r}")
    return url.hostname, port


def open_feed(spec: str, stdin: IO[str] | None = None, status: Callable[[], dict] | None = None):
    """The feed named on the command line: ``FILE``, ``-`` (standard input) or ``http://HOST:PORT``
    (listen there).  Returns an iterable of records, bad lines and :data:`END`."""
    if spec == "-":
        import sys
        return stream_feed(stdin if stdin is not None else sys.stdin)
    address = http_address(spec)
    if address is not None:
        try:
            return HttpFeed(address[0], address[1], status)
        except OSError as exc:
            raise CliError(f"--feed: cannot listen on {address[0]}:{address[1]} ({exc.strerror or exc})") from None
    return file_feed(spec)
