"""Soak: a class opening one hosted Digit Lab at once, against a real `streamlit run` on loopback.

Browser sessions (headless Chromium) switch pages and train on the real server while AppTest sessions in
separate processes train small `digits` models into the same cache, so the store's locks and the training
queue are exercised across threads and processes. Bounded in time; prints sessions, runs finished, errors
and the server's peak memory. Run: `python -m tests.load.soak --sessions 10 --seconds 180`.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.live_app import ROOT, browser, start_server, stop_server, wait_healthy

PAGES = ("", "data", "train", "evaluate", "crossval", "compare", "inspect")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def apptest_worker(worker: int, seconds: float, cache: str, out: multiprocessing.Queue) -> None:
    """One simulated user in its own process: page switches and small trainings through the real pages."""
    os.environ["DIGIT_LAB_CACHE"] = cache
    from streamlit.testing.v1 import AppTest

    rng = random.Random(worker)
    errors, trained, visits = [], 0, 0
    deadline = time.time() + seconds
    app = AppTest.from_file(str(ROOT / "dashboard" / "Home.py"), default_timeout=300)
    app.run()
    while time.time() < deadline:
        page = rng.choice(PAGES[1:])
        try:
            app.switch_page(f"views/{page}.py")
            app.run()
            visits += 1
            if app.exception:
                errors.append(f"{page}: {app.exception[0].message[:200]}")
            if page == "train" and rng.random() < 0.6:
                app.session_state["cfg_epochs"] = 1
                app.session_state["cfg_seed"] = rng.randrange(4)  # a few seeds: some requests collide on purpose
                app.session_state["cfg_limit_train"] = 300
                app.run()
                buttons = [b for b in app.button if "Train" in str(b.label)]
                if buttons and not buttons[0].disabled:
                    buttons[0].click().run()
                    trained += 1
                    if app.exception:
                        errors.append(f"train: {app.exception[0].message[:200]}")
        except Exception as error:  # noqa: BLE001 - a soak records every failure
            errors.append(f"{page}: {type(error).__name__}: {error}"[:200])
    out.put({"worker": worker, "visits": visits, "trained": trained, "errors": errors})


def browser_worker(worker: int, url: str, seconds: float, results: list) -> None:
    driver = browser()
    rng = random.Random(100 + worker)
    visits, errors = 0, []
    deadline = time.time() + seconds
    try:
        while time.time() < deadline:
            page = rng.choice(PAGES)
            driver.get(f"{url}/{page}")
            time.sleep(3)
            visits += 1
            text = driver.find_element("tag name", "body").text
            if "Traceback" in text:
                errors.append(f"{page}: traceback shown")
    finally:
        driver.quit()
    results.append({"browser": worker, "visits": visits, "errors": errors})


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--browsers", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=180)
    args = parser.parse_args()
    cache = tempfile.mkdtemp(prefix="digitlab-soak-")
    log_path = Path(cache) / "server.log"
    server, url = start_server(cache, str(log_path), env={"DIGIT_LAB_HOSTED": "1"})
    wait_healthy(url, server)
    started = time.time()
    queue: multiprocessing.Queue = multiprocessing.get_context("spawn").Queue()
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=apptest_worker, args=(i, args.seconds, cache, queue))
        for i in range(args.sessions - args.browsers)
    ]
    for worker in workers:
        worker.start()
    browser_results: list = []
    threads = [
        threading.Thread(target=browser_worker, args=(i, url, args.seconds, browser_results))
        for i in range(args.browsers)
    ]
    for thread in threads:
        thread.start()
    results = [queue.get(timeout=args.seconds + 900) for _ in workers]
    for worker in workers:
        worker.join(60)
    for thread in threads:
        thread.join(120)
    peak = peak_rss_mb(server.pid)
    stop_server(server)
    log = log_path.read_text()

    os.environ["DIGIT_LAB_CACHE"] = cache
    from engine.store import RunStore

    store = RunStore()
    runs = store.list()
    unreadable = [r.run_id for r in runs if store.get(r.run_id) is None or r.test_probabilities().size == 0]
    errors = [e for r in results for e in r["errors"]] + [e for r in browser_results for e in r["errors"]]
    summary = {
        "sessions": args.sessions,
        "apptest_sessions": len(results),
        "browser_sessions": len(browser_results),
        "seconds": round(time.time() - started),
        "page_visits": sum(r["visits"] for r in results + browser_results),
        "trainings_requested": sum(r["trained"] for r in results),
        "runs_stored": len(runs),
        "runs_unreadable": len(unreadable),
        "errors": len(errors),
        "server_tracebacks": log.count("Traceback"),
        "server_peak_rss_mb": round(peak),
    }
    print(json.dumps(summary, indent=2))
    for error in errors[:20]:
        print("error:", error)
    return 0 if not errors and not unreadable and "Traceback" not in log else 1


if __name__ == "__main__":
    sys.exit(main())
