"""The feed format and its readers (file, a growing stream)."""

from __future__ import annotations

import os
import threading
import time

import pytest

from sim.core.errors import CliError
from sim.live.feed import END, BadLine, Record, file_feed, format_record, http_address, parse_line, stream_feed


@pytest.mark.parametrize("line, expected", [
    ('{"t_s": 60, "sensor": "plaza_count", "value": 120}', Record(60.0, "plaza_count", 120.0)),
    ("60,plaza_count,120", Record(60.0, "plaza_count", 120.0)),
    (" 90.5 , rain_gauge , 3.2 ", Record(90.5, "rain_gauge", 3.2)),
])
def test_records_are_read_from_json_lines_and_csv(line, expected):
    rec = parse_line(line, "x:1")
    assert (rec.t_s, rec.sensor, rec.value) == (expected.t_s, expected.sensor, expected.value)
    again = parse_line(format_record(rec))
    assert (again.t_s, again.sensor, again.value) == (rec.t_s, rec.sensor, rec.value)


@pytest.mark.parametrize("line", ["", "   ", "# a comment", "t_s,sensor,value"])
def test_blank_lines_comments_and_the_header_are_not_records(line):
    assert parse_line(line) is None


@pytest.mark.parametrize("line, reason", [
    ('{"t_s": 60, "sensor": "a"', "not valid JSON"),
    ('{"t_s": 60, "value": 3}', "missing sensor"),
    ('{"t_s": 60, "sensor": "a", "value": 3, "unit": "p"}', "unknown key"),
    ('{"t_s": "soon", "sensor": "a", "value": 3}', "t_s must be a number"),
    ('{"t_s": 60, "sensor": "a", "value": NaN}', "value must be a finite number"),
    ('{"t_s": 60, "sensor": "a", "value": true}', "value must be a number"),
    ('{"t_s": 60, "sensor": "", "value": 1}', "sensor must be a sensor name"),
    ("60,a", "expected JSON or CSV"),
    ("[1, 2, 3]", "t_s must be a number"),
])
def test_a_bad_line_says_why(line, reason):
    bad = parse_line(line, "feed:7")
    assert isinstance(bad, BadLine) and reason in bad.reason and bad.where == "feed:7"


def test_the_end_line_ends_a_feed(tmp_path):
    path = tmp_path / "feed.jsonl"
    path.write_text('1,a,1\n{"end": true}\n2,a,2\n')
    items = list(file_feed(path))
    assert [type(i) for i in items] == [Record, type(END)] and items[0].where == "feed.jsonl:1"


def test_a_missing_feed_file_is_one_clear_error(tmp_path):
    with pytest.raises(CliError, match="is not a file"):
        file_feed(tmp_path / "nope.jsonl")


@pytest.mark.parametrize("spec", ["http://localhost", "http://:80", "https://a:1", "http://a:1/x", "http://a:port"])
def test_a_malformed_http_feed_is_refused(spec):
    with pytest.raises(CliError, match="http://HOST:PORT"):
        http_address(spec)


def test_a_stream_is_read_as_it_grows():
    read_fd, write_fd = os.pipe()
    reader = os.fdopen(read_fd, "r")
    got: list = []

    def consume():
        for item in stream_feed(reader):
            got.append((time.perf_counter(), item))

    thread = threading.Thread(target=consume)
    thread.start()
    with os.fdopen(write_fd, "w") as writer:
        writer.write("60,a,1\n")
        writer.flush()
        deadline = time.perf_counter() + 10
        while not got and time.perf_counter() < deadline:      # read before the writer is done
            time.sleep(0.01)
        assert got and got[0][1].value == 1.0
        writer.write("120,a,2\n")
    thread.join(10)
    assert [i.value for _, i in got[:2]] == [1.0, 2.0] and got[-1][1] is END
