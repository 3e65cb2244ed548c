"""Dashboard start-up and page switches.

1. Start-up: wall time from `streamlit run dashboard/Home.py` process start to the first complete Home render
   in headless Chromium (Selenium; the body text contains "Stored runs"), against a bare
   `python -c "import tensorflow"` measured in the same invocation. The browser is started before the clock
   (its own start-up is not the dashboard's), the server gets an empty temporary cache, and /proc/<pid>/maps
   tells whether the server had loaded TensorFlow by then. Median of 3 starts (1 with --quick).
2. Page switches: one AppTest session on a cached run (`?run=<id>`) goes Home -> Evaluate -> Inspect ->
   Evaluate; the engine's counters (`engine.telemetry.counters()`: dataset_loads, model_loads, evaluations,
   trainings) and the number of newly imported modules are read after each page. The second visit of
   Evaluate must add 0 to each.

    python -m bench.dashboard_start            # about 2 minutes
    python -m bench.dashboard_start --quick    # one start, the same page switches
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

import bench._common  # noqa: F401  (quiets TensorFlow before it is imported)
from bench._common import ROOT, header, table, temp_cache, verdict
from bench.live_app import (
    CHROMIUM,
    DRIVER,
    browser,
    start_server,
    stop_server,
    wait_healthy,
    wait_text,
)

COUNTERS = ("dataset_loads", "model_loads", "evaluations", "trainings")


def tensorflow_loaded(pid: int) -> bool:
    with open(f"/proc/{pid}/maps", encoding="ascii", errors="replace") as maps:
        return any("libtensorflow" in line or "_pywrap_tensorflow" in line for line in maps)


def import_tensorflow_seconds() -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", "import tensorflow"],
        check=True,
        capture_output=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    return time.perf_counter() - started


def home_start(driver) -> tuple[float, bool]:
    """Seconds from launching a server on an empty cache until its Home page shows in `driver`, and whether the
    server process had TensorFlow loaded by then."""
    cache = temp_cache("digitlab-bench-start-")
    started = time.perf_counter()
    process, url = start_server(cache, os.path.join(cache, "streamlit.log"))
    try:
        wait_healthy(url, process)
        driver.get(url)
        wait_text(driver, "Stored runs", poll=0.05)  # polled often: this is the clock
        return time.perf_counter() - started, tensorflow_loaded(process.pid)
    finally:
        stop_server(process)


def measure_start(repeats: int) -> tuple[list[float], list[float], list[bool]]:
    import_times, start_times, tf_loaded = [], [], []
    driver = browser()
    try:
        for _ in range(repeats):
            import_times.append(import_tensorflow_seconds())
            seconds, loaded = home_start(driver)
            start_times.append(seconds)
            tf_loaded.append(loaded)
    finally:
        driver.quit()
    return import_times, start_times, tf_loaded


def page_switches(quick: bool) -> list[list]:
    """Home -> Evaluate -> Inspect -> Evaluate in one AppTest session; counter and module deltas per page."""
    os.environ["DIGIT_LAB_CACHE"] = temp_cache("digitlab-bench-pages-")
    from streamlit.testing.v1 import AppTest

    from engine import telemetry
    from engine.datasets import load_dataset
    from engine.runs import get_or_train, preset_request

    dataset = load_dataset("digits")
    spec, config = preset_request("digitlab-small8", dataset, epochs=1 if quick else 2)
    run_id = get_or_train(dataset, spec, config, preset="digitlab-small8").run.run_id

    app = AppTest.from_file(str(ROOT / "dashboard" / "Home.py"), default_timeout=300)
    for key, value in {"dataset": "digits", "preset": "digitlab-small8", "run": run_id}.items():
        app.query_params[key] = value
    rows = []
    steps = [
        ("Home", None),
        ("Evaluate", "views/evaluate.py"),
        ("Inspect", "views/inspect.py"),
        ("Evaluate (second visit)", "views/evaluate.py"),
    ]
    for name, page in steps:
        before, modules = telemetry.counters(), len(sys.modules)
        started = time.perf_counter()
        if page:
            app.switch_page(page)
        app.run()
        seconds = time.perf_counter() - started
        after = telemetry.counters()
        problems = [e.message for e in app.exception]
        deltas = [after.get(c, 0) - before.get(c, 0) for c in COUNTERS]
        rows.append([name, f"{seconds:.2f}", *deltas, len(sys.modules) - modules, "; ".join(problems)[:80] or "none"])
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one start-up instead of three")
    args = parser.parse_args()
    header("Dashboard start-up and page switches", args.quick)

    if CHROMIUM and DRIVER:
        import_times, start_times, tf_loaded = measure_start(1 if args.quick else 3)
        imp, start = statistics.median(import_times), statistics.median(start_times)
        print(
            table(
                ["measurement", "runs (s)", "median s", "ratio to import tensorflow"],
                [
                    [
                        "python -c 'import tensorflow' (baseline)",
                        ", ".join(f"{t:.2f}" for t in import_times),
                        f"{imp:.2f}",
                        "1.00",
                    ],
                    [
                        "streamlit run -> Home rendered in Chromium ('Stored runs')",
                        ", ".join(f"{t:.2f}" for t in start_times),
                        f"{start:.2f}",
                        f"{start / imp:.2f}",
                    ],
                ],
            )
        )
        print()
        print(
            f"- first Home render faster than importing TensorFlow (ratio < 1): {start / imp:.2f}: "
            f"{verdict(start < imp)}"
        )
        print(
            "- TensorFlow loaded in the server when Home first rendered: "
            + ", ".join("yes" if t else "no" for t in tf_loaded)
        )
    else:
        print("Start-up skipped: chromium and chromedriver are not installed.")
    print()

    rows = page_switches(args.quick)
    print(table(["page (one AppTest session, cached run)", "render s", *COUNTERS, "new modules", "exceptions"], rows))
    print()
    second = rows[-1]
    clean = all(value == 0 for value in second[2:7])
    print(f"- second visit of Evaluate adds 0 to every counter and imports nothing: {verdict(clean)}")
    if not clean:
        print(f"  second visit added {dict(zip((*COUNTERS, 'new modules'), second[2:7], strict=True))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
