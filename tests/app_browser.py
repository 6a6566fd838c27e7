"""Drive ``streamlit run app.py`` in headless Chromium (Debian's ``chromium``, through Playwright).

Used by ``tests/test_app.py`` (a short crowd comparison and a bike comparison, screenshots in
pytest's temporary folder) and, as a script, to take the README's screenshots of each page with
full-length runs (crowd caps and bike plans on the rain scenarios, tunnel plans on the typhoon):

    python tests/app_browser.py --out docs/screenshots          # about 2 minutes on 2 cores
    python tests/app_browser.py --pages bikes                   # only docs/screenshots/bike_plans.png

No browser is downloaded (never ``playwright install``): the system Chromium is used.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")


def chromium_path() -> str | None:
    """The system Chromium, or None."""
    for candidate in (os.environ.get("CITYTWIN_CHROMIUM"), *CHROMIUM_CANDIDATES,
                      shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def streamlit_server(timeout_s: float = 90.0):
    """``streamlit run app.py`` on a free localhost port; yields its URL, stops it afterwards."""
    port = free_port()
    log = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.read().strip() == b"ok":
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                raise RuntimeError(f"streamlit did not come up on {url} (exit code {proc.poll()}); "
                                   f"its output:\n{log.read()[-3000:]}")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def launch(playwright, executable: str):
    return playwright.chromium.launch(executable_path=executable, headless=True,
                                      args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])


#: The button that runs a page's comparison (the crowd page's runs one night per cap on one seed;
#: its "Find the highest safe cap" runs many seeds and is not what these checks press).
RUN_BUTTONS = {"crowd": "Run one night per cap", "tunnel": "Run comparison", "bikes": "Run comparison"}


def run_button(page, page_key: str):
    return page.get_by_role("button", name=RUN_BUTTONS[page_key], exact=True)


def open_app(browser, url: str, page_key: str, width: int = 1500, height: int = 1000):
    """A browser tab on one page of the app, once its Run button is there."""
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(f"{url}/?page={page_key}")
    run_button(page, page_key).wait_for(timeout=60_000)
    return page


def _commit(locator, text: str) -> None:
    locator.fill(text)
    locator.press("Tab")          # Streamlit takes the value when the field loses focus


def choose(page, label: str, option_part: str) -> None:
    """Pick the option containing ``option_part`` in the selectbox labelled ``label``."""
    page.get_by_role("combobox", name=re.compile(f"^{re.escape(label)}")).click()
    page.get_by_role("option", name=re.compile(re.escape(option_part))).click()
    page.wait_for_timeout(1500)


def set_caps(page, caps: str) -> None:
    _commit(page.get_by_role("textbox", name=re.compile("^Caps to compare")), caps)


def set_run_options(page, minutes: float | None = None, overrides: list[str] | None = None) -> None:
    if minutes is None and not overrides:
        return
    page.get_by_text("Run options (seed, simulated time, other settings)").click()
    if minutes is not None:
        _commit(page.get_by_role("spinbutton", name="Simulated minutes"), f"{minutes:g}")
    if overrides:
        _commit(page.get_by_role("textbox", name=re.compile("More settings")), "\n".join(overrides))
    page.wait_for_timeout(500)


def run_comparison(page, page_key: str, timeout_s: float = 300.0,
                   result_selector: str = '[data-testid="stTable"]') -> None:
    """Press the page's Run button and wait until the result table and every image are shown and the
    app is idle."""
    run_button(page, page_key).click()
    page.locator(result_selector).first.wait_for(timeout=timeout_s * 1000)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
        " && [...document.images].every(img => img.complete)", timeout=timeout_s * 1000)
    page.wait_for_timeout(1000)


def exceptions_shown(page) -> list[str]:
    return page.locator('[data-testid="stException"]').all_inner_texts()


def screenshot(page, path: Path) -> Path:
    """The whole page (Streamlit scrolls inside its own container, so grow the window to fit)."""
    height = page.evaluate("() => Math.max(...[...document.querySelectorAll('[data-testid=\"stMain\"], "
                           "[data-testid=\"stAppViewContainer\"], section.main')].map(e => e.scrollHeight), "
                           "document.body.scrollHeight)")
    page.set_viewport_size({"width": page.viewport_size["width"], "height": int(height) + 40})
    page.wait_for_timeout(800)
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path


def short_crowd_overrides(scenario: Path, show_start_min: int = 20, rate_factor: float = 1.4) -> list[str]:
    """``--set`` lines that squeeze a light-show night into about half an hour: the show at
    ``show_start_min`` for 5 minutes, every source at ``rate_factor`` x its peak rate until then."""
    data = tomllib.loads(scenario.read_text(encoding="utf-8"))
    lines = [f"show.start_s={show_start_min * 60}", f"show.end_s={(show_start_min + 5) * 60}"]
    for k, source in enumerate(data["sources"]):
        rate = round(max(r for _, r in source["profile"]) * rate_factor)
        lines.append(f"sources.{k}.profile=[[0, {rate}], [{show_start_min}, {rate}], [{show_start_min + 1}, 0]]")
    return lines


#: The README's screenshots: page -> (scenario option to choose or None for the default, file name,
#: what shows that the run is done).
README_SHOTS = {
    "crowd": ("bund_lightshow_rain.toml", "crowd_caps.png", '[data-testid="stTable"]'),
    "tunnel": (None, "tunnel_plans.png", '[data-testid="stDataFrame"]'),
    "bikes": ("bund_bikes_rain.toml", "bike_plans.png", '[data-testid="stTable"]'),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Screenshots of each page of the app, with full-length runs.")
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    parser.add_argument("--pages", nargs="+", choices=list(README_SHOTS), default=list(README_SHOTS),
                        help="pages to take (default: all)")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    if executable is None:
        print("no Chromium found (apt-get install -y chromium)", file=sys.stderr)
        return 1
    out = Path(args.out)
    with streamlit_server() as url, sync_playwright() as p:
        browser = launch(p, executable)
        try:
            for key in args.pages:
                scenario, name, done = README_SHOTS[key]
                page = open_app(browser, url, key)
                if scenario is not None:
                    choose(page, "Scenario", scenario)
                run_comparison(page, key, timeout_s=600, result_selector=done)
                shown = exceptions_shown(page)
                if shown:
                    print(f"{key}: the app shows an exception:\n{shown[0]}", file=sys.stderr)
                    return 1
                print(screenshot(page, out / name))
        finally:
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
