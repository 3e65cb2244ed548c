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

    python bench/dashboard_start.py            # about 2 minutes
    python bench/dashboard_start.py --quick    # one start, the same page switches
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

import _common  # noqa: F401
from _common import ROOT, header, table, temp_cache, verdict

COUNTERS = ("dataset_loads", "model_loads", "evaluations", "trainings")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
BROWSER_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1400,1800")


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in BROWSER_FLAGS:
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(DRIVER), options=options)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(cache: str, log_path: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "DIGIT_LAB_CACHE": cache}
    log = open(log_path, "w")  # noqa: SIM115 - closed when the process is stopped
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "dashboard/Home.py", "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    process.log = log  # type: ignore[attr-defined]
    return process, f"http://127.0.0.1:{port}"


def wait_healthy(url: str, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with {process.returncode}")
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"streamlit did not answer within {timeout:.0f} s")


def wait_text(driver, text: str, timeout: float = 120, poll: float = 0.05) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout, poll_frequency=poll).until(lambda d: text in d.find_element("tag name", "body").text)


def stop_server(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    process.log.close()  # type: ignore[attr-defined]


def tensorflow_loaded(pid: int) -> bool:
    with open(f"/proc/{pid}/maps", encoding="ascii", errors="replace") as maps:
        return any("libtensorflow" in line or "_pywrap_tensorflow" in line for line in maps)


def import_tensorflow_seconds() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import tensorflow"], check=True, capture_output=True,
                   env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    return time.perf_counter() - started


def measure_start(repeats: int) -> tuple[list[float], list[float], list[bool]]:
    import_times, start_times, tf_loaded = [], [], []
    driver = browser()
    try:
        for _ in range(repeats):
            import_times.append(import_tensorflow_seconds())
            cache = temp_cache("digitlab-bench-start-")
            started = time.perf_counter()
            process, url = start_server(cache, os.path.join(cache, "streamlit.log"))
            try:
                wait_healthy(url, process)
                driver.get(url)
                wait_text(driver, "Stored runs")
                start_times.append(time.perf_counter() - started)
                tf_loaded.append(tensorflow_loaded(process.pid))
            finally:
                stop_server(process)
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
    steps = [("Home", None), ("Evaluate", "views/evaluate.py"), ("Inspect", "views/inspect.py"),
             ("Evaluate (second visit)", "views/evaluate.py")]
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
        rows.append([name, f"{seconds:.2f}", *deltas, len(sys.modules) - modules,
                     "; ".join(problems)[:80] or "none"])
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one start-up instead of three")
    args = parser.parse_args()
    header("Dashboard start-up and page switches", args.quick)

    if CHROMIUM and DRIVER:
        import_times, start_times, tf_loaded = measure_start(1 if args.quick else 3)
        imp, start = statistics.median(import_times), statistics.median(start_times)
        print(table(
            ["measurement", "runs (s)", "median s", "ratio to import tensorflow"],
            [["python -c 'import tensorflow' (baseline)", ", ".join(f"{t:.2f}" for t in import_times), f"{imp:.2f}", "1.00"],
             ["streamlit run -> Home rendered in Chromium ('Stored runs')", ", ".join(f"{t:.2f}" for t in start_times),
              f"{start:.2f}", f"{start / imp:.2f}"]]))
        print()
        print(f"- first Home render faster than importing TensorFlow (ratio < 1): {start / imp:.2f}: {verdict(start < imp)}")
        print(f"- TensorFlow loaded in the server when Home first rendered: {', '.join('yes' if t else 'no' for t in tf_loaded)}")
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
        print(f"  second visit added {dict(zip((*COUNTERS, 'new modules'), second[2:7]))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
