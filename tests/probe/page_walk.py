"""The page walk: every page and every tab of the real app in headless Chromium, as a new student would open them,
with a screenshot of each and a table of what each showed (exceptions, warnings, errors).

Run by hand from the repository root (a measurement, like the fault probe; it trains two small digits runs into a
temporary cache, serves the app on it and takes a minute or two on 2 cores):

    python -m tests.probe.page_walk                  # screenshots under test-artifacts/walk/
    python -m tests.probe.page_walk --hosted         # the same walk with DIGIT_LAB_HOSTED=1
    python -m tests.probe.page_walk --json

A page is "clean" when it shows no exception box and the server logs no traceback; its warnings and errors are
listed so a reader can judge whether each is the honest notice it should be. Cut-off labels and overlapping
widgets are judged by looking at the screenshots, which is why the walk keeps them.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.live_app import ROOT, browser, start_server, stop_server, wait_healthy
from dashboard.views import data_view, evaluate_view, explain_view, inspect_view
from tests.live_app import train_digits_run

OUT = ROOT / "test-artifacts" / "walk"
PRESET = "digitlab-small8"

# (url path, tabs); tab names are the pages' own, read from their view declarations so the walk follows renames.
WALK: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("", ()),
    ("data", data_view.TABS),
    ("train", ()),
    ("evaluate", evaluate_view.TABS),
    ("crossval", ()),
    ("sweep", ()),
    ("compare", ()),
    ("inspect", inspect_view.TABS),
    ("explain", explain_view.TABS),
)


@dataclass
class Visit:
    url: str
    seconds: float
    exceptions: list[str] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)
    screenshot: str = ""


def settle(driver, timeout: float = 180.0) -> None:
    """Until the script run that the page load started has finished: Streamlit shows its status widget (the
    running man) while a script runs; wait for it to appear briefly and then stay away for a second."""
    deadline = time.time() + timeout
    quiet_since = None
    while time.time() < deadline:
        running = driver.execute_script("return document.querySelector('[data-testid=\"stStatusWidget\"]') !== null")
        body = driver.execute_script("return document.body ? document.body.innerText.length : 0")
        if not running and body > 50:
            quiet_since = quiet_since or time.time()
            if time.time() - quiet_since > 1.5:
                return
        else:
            quiet_since = None
        time.sleep(0.25)


def visit(driver, base: str, path: str, query: str, shot: Path) -> Visit:
    url = f"{base}/{path}?{query}"
    started = time.perf_counter()
    driver.get(url)
    settle(driver)
    seconds = time.perf_counter() - started
    exceptions = [e.text[:300] for e in driver.find_elements("css selector", '[data-testid="stException"]')]
    alerts = [" ".join(e.text.split())[:200] for e in driver.find_elements("css selector", '[data-testid="stAlert"]')]
    height = driver.execute_script("return document.body.scrollHeight")
    driver.set_window_size(1400, max(1200, min(int(height) + 200, 6000)))
    driver.save_screenshot(str(shot))
    driver.set_window_size(1400, 1800)
    return Visit(url, round(seconds, 1), exceptions, alerts, str(shot.relative_to(ROOT)))


def walk(hosted: bool) -> tuple[list[Visit], str]:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as cache:
        run_id = train_digits_run(cache, epochs=2, preset=PRESET)
        other = train_digits_run(cache, epochs=3, preset=PRESET)
        log_path = Path(cache) / "server.log"
        env = {"DIGIT_LAB_HOSTED": "1"} if hosted else {}
        process, base = start_server(cache, str(log_path), env=env)
        visits: list[Visit] = []
        try:
            wait_healthy(base, process, timeout=120, poll=0.5)
            driver = browser()
            try:
                common = f"dataset=digits&preset={PRESET}&run={run_id}&runs={run_id},{other}"
                for path, tabs in WALK:
                    for tab in tabs or ("",):
                        query = common + (f"&tab={tab.replace(' ', '+')}" if tab else "")
                        name = f"{'hosted-' if hosted else ''}{path or 'home'}{'-' + tab if tab else ''}"
                        shot = OUT / f"{name.replace(' ', '_').replace('/', '_')}.png"
                        visits.append(visit(driver, base, path, query, shot))
            finally:
                driver.quit()
        finally:
            stop_server(process)
        return visits, log_path.read_text()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosted", action="store_true", help="serve with DIGIT_LAB_HOSTED=1")
    parser.add_argument("--json", action="store_true", help="print the visits as JSON")
    args = parser.parse_args(argv)
    visits, server_log = walk(args.hosted)
    tracebacks = server_log.count("Traceback")
    if args.json:
        print(json.dumps({"visits": [asdict(v) for v in visits], "server_tracebacks": tracebacks}, indent=1))
    else:
        print("| page | seconds | exceptions | alerts |")
        print("|---|---|---|---|")
        for v in visits:
            page = v.url.split("/", 3)[3].split("?")[0] or "home"
            tab = v.url.split("&tab=")[1].replace("+", " ") if "&tab=" in v.url else ""
            alerts = "; ".join(v.alerts).replace("|", "/")
            print(f"| {page} {tab} | {v.seconds} | {len(v.exceptions)} | {alerts} |")
        print(f"\nserver log tracebacks: {tracebacks}; screenshots in {OUT.relative_to(ROOT)}/")
    if tracebacks:
        print(server_log[-3000:], file=sys.stderr)
    return 1 if tracebacks or any(v.exceptions for v in visits) else 0


if __name__ == "__main__":
    raise SystemExit(main())
