"""The HTTP feed: records posted to a running twin are followed; its status is served."""

from __future__ import annotations

import json
import threading
import time
import urllib.request

from live_night import small_night
from sim.live.feed import HttpFeed, format_record
from sim.live.replay import Truth, TruthSpec
from sim.live.twin import LiveTwin


def _post(url: str, body: str) -> dict:
    req = urllib.request.Request(url, data=body.encode("utf-8"), method="POST")
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return json.loads(resp.read())


def test_records_posted_over_http_are_followed_by_a_running_twin(tmp_path):
    night = small_night(tmp_path, live={"horizon_s": 300, "warn_within_s": 300, "whatif_members": 0})
    twin = LiveTwin(night, tmp_path / "out")
    feed = HttpFeed("127.0.0.1", 0, status=twin.status)
    runner = threading.Thread(target=twin.run, args=(feed,), daemon=True)
    runner.start()
    try:
        truth = Truth(night, TruthSpec(seed=3, demand_scale=1.2))
        posted = 0
        for frame in truth.frames(until_s=480):
            body = "\n".join(format_record(r) for r in frame.records)
            if frame.t_s == 240:
                body += "\n240,plaza_count\n"                       # a bad line: answered, logged, skipped
            reply = _post(f"{feed.address}/records", body)
            posted += reply["read"]
            if frame.t_s == 240:
                assert reply["bad"] and "expected JSON or CSV" in reply["bad"][0]["reason"]
        deadline = time.monotonic() + 120
        status = _get(f"{feed.address}/status")
        while status["t_s"] < 420 and time.monotonic() < deadline:   # cycles are assimilated as records arrive
            time.sleep(0.2)
            status = _get(f"{feed.address}/status")
        assert status["t_s"] == 420 and not status["ended"] and status["last_forecast_s"] == 300
        assert _post(f"{feed.address}/end", "") == {"ended": True}
        runner.join(120)
        assert not runner.is_alive()
    finally:
        feed.close()
    final = twin.status()
    assert final["ended"] and final["t_s"] == 480 and final["records_used"] == posted
    assert final["records_skipped"] == 1 and final["cycles"] == 8
    rows = (tmp_path / "out" / "forecast.csv").read_text().splitlines()
    assert rows[0].startswith("issued_s,measure") and len(rows) > 1
    assert json.loads((tmp_path / "out" / "status.json").read_text())["ended"] is True
