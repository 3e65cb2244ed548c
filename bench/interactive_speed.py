"""Interactive speed: the default digits model against `import tensorflow`, the first Home render, page switches.

All three against a bare `python -c "import tensorflow"` (median of 3) measured in the same invocation:

1. Default model: `python -m engine train --dataset digits --seed S --json` (the default preset, an empty cache
   so it really trains) for seeds 0, 1, 2: wall time minus the import's median ("work beyond the import"), the
   child's CPU seconds, and each seed's test accuracy. The previous default (`digitlab-small8`, seed 0) is run
   once beside it for reference. Targets: mean test accuracy >= 0.97; beyond-import wall <= 0.75x the import.
2. First Home render: `streamlit run dashboard/Home.py` process start to Home rendered in headless Chromium
   (the browser started before the clock), 3 times; target <= 0.6x the import; TensorFlow must not be loaded
   in the server by then (/proc/<pid>/maps).
3. Page switches on a cached run: one browser session opens `?run=<id>` on a server whose cache holds that
   run, then clicks the sidebar's links (Evaluate, Inspect, Explain, Compare, Data, Train, Home, twice round); a
   switch is the click until the new page's title is shown and Streamlit reports its script as not running.
   Target: every switch of the second round <= 0.5 s (the first round includes the first model load and
   imports).

    python -m bench.interactive_speed            # about 5 minutes on a quiet 2-core machine
    python -m bench.interactive_speed --quick    # one of each
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import bench._common  # noqa: F401  (quiets TensorFlow before it is imported)
from bench._common import ROOT, header, table, temp_cache, verdict
from bench.dashboard_start import home_start
from bench.live_app import CHROMIUM, DRIVER, browser, start_server, stop_server, wait_healthy

PAGES = ("Evaluate", "Inspect", "Explain", "Compare", "Data", "Train", "Home")
TITLES = {"Home": "Digit Lab"}  # each page's st.title, where it is not the page's name
CHILD_ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT)}  # this checkout's code


def _child(command: list[str], cache: str | None = None) -> tuple[float, float, str]:
    """(wall s, CPU s of the child, stdout) of one command run from the repository root."""
    env = {**CHILD_ENV, **({"DIGIT_LAB_CACHE": cache} if cache else {})}
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    return wall, cpu, done.stdout


def import_tensorflow() -> tuple[float, float]:
    wall, cpu, _ = _child([sys.executable, "-c", "import tensorflow"])
    return wall, cpu


def train_default(seed: int, preset: str | None = None) -> dict:
    command = [sys.executable, "-m", "engine", "train", "--dataset", "digits", "--seed", str(seed), "--json"]
    if preset:
        command += ["--preset", preset]
    wall, cpu, out = _child(command, temp_cache("digitlab-bench-interactive-"))
    run = json.loads(out)
    return {"wall": wall, "cpu": cpu, "seed": seed, **run}


def home_starts(repeats: int) -> tuple[list[float], list[bool]]:
    times, loaded = [], []
    driver = browser()
    try:
        for _ in range(repeats):
            seconds, had_tensorflow = home_start(driver)
            times.append(seconds)
            loaded.append(had_tensorflow)
    finally:
        driver.quit()
    return times, loaded


# One script call per poll (elements found by Selenium go stale while Streamlit replaces the page).
RENDERED = """
const app = document.querySelector('[data-testid="stApp"]');
if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
return Array.from(document.querySelectorAll('h1')).some(h => h.innerText.trim() === arguments[0]);
"""


def _rendered(driver, title: str) -> bool:
    """The page titled `title` is shown and Streamlit reports its script as finished."""
    return bool(driver.execute_script(RENDERED, title))


def page_switches(rounds: int) -> tuple[list[list], str]:
    """Click through the sidebar on a cached run; [page, round, seconds, exceptions] per switch."""
    from selenium.webdriver.support.ui import WebDriverWait

    cache = temp_cache("digitlab-bench-switch-")
    run_id = json.loads(_child([sys.executable, "-m", "engine", "train", "--dataset", "digits", "--json"], cache)[2])[
        "run_id"
    ]
    rows = []
    driver = browser()
    process, url = start_server(cache, os.path.join(cache, "streamlit.log"))
    try:
        wait_healthy(url, process)
        driver.get(f"{url}/?run={run_id}")
        WebDriverWait(driver, 120, poll_frequency=0.05).until(lambda d: _rendered(d, "Digit Lab"))
        for round_ in range(1, rounds + 1):
            for page in PAGES:
                title = TITLES.get(page, page)
                link = driver.find_element(
                    "xpath", f'//a[@data-testid="stSidebarNavLink"][.//span[normalize-space()="{page}"]]'
                )
                started = time.perf_counter()
                link.click()
                WebDriverWait(driver, 120, poll_frequency=0.02).until(lambda d, t=title: _rendered(d, t))
                seconds = time.perf_counter() - started
                errors = len(driver.find_elements("css selector", '[data-testid="stException"]'))
                rows.append([page, round_, round(seconds, 2), errors])
    finally:
        driver.quit()
        stop_server(process)
    with open(os.path.join(cache, "streamlit.log"), encoding="utf-8", errors="replace") as log:
        tracebacks = log.read().count("Traceback")
    return rows, f"{tracebacks} traceback(s) in the server log"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one seed, one start, one round of switches")
    args = parser.parse_args()
    header("Interactive speed: default model, first Home render, page switches", args.quick)
    os.environ["PYTHONPATH"] = str(ROOT)  # the streamlit servers run this checkout's code too
    from engine.architectures import DEFAULT_PRESET

    seeds = (0,) if args.quick else (0, 1, 2)
    # Each training right after an import of its own: on a shared machine the load moves within minutes, so the
    # pairs are compared too, beside the median import the target names.
    imports, runs = [], []
    for seed in seeds:
        imports.append(import_tensorflow())
        runs.append(train_default(seed))
    # The old default beside the new one; a smoke run (--quick) leaves it out: one import and one training fewer.
    reference = None
    if not args.quick:
        imports.append(import_tensorflow())
        reference = train_default(0, "digitlab-small8")
    imp = statistics.median(wall for wall, _ in imports)
    imp_cpu = statistics.median(cpu for _, cpu in imports)
    print(
        f"python -c 'import tensorflow' (one before each training): {', '.join(f'{w:.2f}' for w, _ in imports)} s "
        f"wall (median {imp:.2f}), CPU {', '.join(f'{c:.2f}' for _, c in imports)} s (median {imp_cpu:.2f})"
    )
    print()
    rows = []
    labelled = [(f"{DEFAULT_PRESET} seed {r['seed']}", r) for r in runs]
    if reference is not None:
        labelled.append(("digitlab-small8 seed 0", reference))
    for (label, run), (paired, _) in zip(labelled, imports, strict=True):
        beyond = run["wall"] - imp
        rows.append(
            [
                label,
                f"{run['wall']:.2f}",
                f"{beyond:.2f}",
                f"{beyond / imp:.2f}",
                f"{(run['wall'] - paired) / paired:.2f}",
                f"{run['cpu']:.2f}",
                f"{(run['cpu'] - imp_cpu) / imp_cpu:.2f}",
                f"{run['train_seconds']:.2f}",
                f"{run['test_accuracy']:.4f}",
            ]
        )
    print(
        table(
            [
                "train --dataset digits (fresh cache)",
                "wall s",
                "beyond the import s",
                "beyond / import (wall)",
                "beyond / the import just before (wall)",
                "CPU s",
                "beyond / import (CPU)",
                "train_seconds (meta)",
                "test accuracy",
            ],
            rows,
        )
    )
    accuracy = statistics.mean(r["test_accuracy"] for r in runs)
    ratio = statistics.median(r["wall"] - imp for r in runs) / imp
    cpu_ratio = statistics.median(r["cpu"] - imp_cpu for r in runs) / imp_cpu
    print()
    print(f"- {DEFAULT_PRESET} mean test accuracy >= 0.97: {accuracy:.4f}: {verdict(accuracy >= 0.97)}")
    print(f"- work beyond the import <= 0.75x the import (median of seeds): {ratio:.2f}: {verdict(ratio <= 0.75)}")
    print(f"- the same in CPU seconds (steadier on a shared machine): {cpu_ratio:.2f}: {verdict(cpu_ratio <= 0.75)}")
    print()

    if not (CHROMIUM and DRIVER):
        print("Browser measurements skipped: chromium and chromedriver are not installed.")
        return 0
    times, loaded = home_starts(1 if args.quick else 3)
    home = statistics.median(times)
    print(
        f"streamlit run -> Home rendered in Chromium: {', '.join(f'{t:.2f}' for t in times)} s (median {home:.2f}); "
        f"ratio to the import {home / imp:.2f}"
    )
    print(f"- first Home render <= 0.6x the import: {home / imp:.2f}: {verdict(home / imp <= 0.6)}")
    answers = ", ".join("yes" if x else "no" for x in loaded)
    print(f"- TensorFlow loaded in the server when Home first rendered: {answers}")
    print()

    switches, log_note = page_switches(1 if args.quick else 2)
    print(table(["page switch (click -> rendered)", "round", "seconds", "exceptions shown"], switches))
    last = [row for row in switches if row[1] == max(r[1] for r in switches)]
    worst = max(row[2] for row in last)
    print()
    print(f"- every switch of the last round <= 0.5 s on the cached run: worst {worst:.2f} s: {verdict(worst <= 0.5)}")
    print(f"- {log_note}; exceptions shown: {sum(row[3] for row in switches)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
