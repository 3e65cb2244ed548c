"""Peak memory of one dashboard server: train the default 28x28 preset in it, then five browser sessions.

`streamlit run dashboard/Home.py` starts with an empty temporary cache. A headless Chromium opens
Train with `?dataset=fashion-mnist&preset=digitlab-fast28` and clicks Train, so the server process itself
loads full Fashion-MNIST and trains the preset (its own recipe). Then five more browser sessions open Evaluate
and Inspect with `?run=<id>` and stay open. The server's RSS (`VmRSS`) is read after each stage and its peak
(`VmHWM`, /proc/<pid>/status) at the end; the engine's counters are not reachable from outside, so sharing is
shown by memory: the five sessions must add little, because dashboard/services.py keeps one dataset and one
model per server (`st.cache_resource`).

    python -m bench.memory            # about 5 minutes (the training is most of it)
    python -m bench.memory --quick    # digits and digitlab-small8 for one epoch, two sessions
"""

from __future__ import annotations

import argparse
import time

import bench._common  # noqa: F401  (quiets TensorFlow before it is imported)
from bench._common import header, rss_mib, table, temp_cache, verdict
from bench.live_app import (
    CHROMIUM,
    DRIVER,
    browser,
    start_server,
    stop_server,
    wait_healthy,
    wait_text,
)

TARGET_MIB = 2048


def click_train(driver) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    button = WebDriverWait(driver, 120, poll_frequency=0.5).until(
        lambda d: d.find_element("xpath", "//button[normalize-space(.)='Train' and not(@disabled)]")
    )
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", button)
    button.click()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="digits, the 8x8 default model, two sessions")
    parser.add_argument("--sessions", type=int, default=5)
    args = parser.parse_args()
    header("Dashboard memory: train in the server, then browser sessions on the run", args.quick)
    if not (CHROMIUM and DRIVER):
        print("Skipped: chromium and chromedriver are not installed.")
        return 0
    dataset, preset, sessions = (
        ("digits", "digitlab-small8", 2) if args.quick else ("fashion-mnist", "digitlab-fast28", args.sessions)
    )

    from engine.datasets import load_dataset
    from engine.runs import preset_request, run_id_for

    epochs = 1 if args.quick else None  # None: the preset's own recipe
    data = load_dataset(dataset)
    run_id = run_id_for(data, *preset_request(preset, data, epochs=epochs))
    del data  # this process only needs the id; the server loads its own copy
    query = f"dataset={dataset}&preset={preset}"
    if epochs:
        from dashboard.links import encode

        query += f"&cfg={encode({'epochs': epochs})}"

    cache = temp_cache("digitlab-bench-memory-")
    process, url = start_server(cache, f"{cache}/streamlit.log")
    stages = []
    drivers = []
    try:
        wait_healthy(url, process)
        stages.append(["server started (health check answers)", rss_mib(process.pid)])
        trainer = browser()
        drivers.append(trainer)
        trainer.get(f"{url}/train?{query}")
        wait_text(trainer, "Press **Train**".replace("**", ""), timeout=300)
        stages.append([f"Train page open ({dataset} loaded)", rss_mib(process.pid)])
        started = time.perf_counter()
        click_train(trainer)
        wait_text(trainer, "Trained run", timeout=3600, poll=1.0)
        train_s = time.perf_counter() - started
        if run_id not in trainer.find_element("tag name", "body").text:
            raise RuntimeError(f"the server trained another run than {run_id}")
        stages.append([f"trained {preset} in the server ({train_s:.0f} s, click to result)", rss_mib(process.pid)])
        for index in range(sessions):
            driver = browser()
            drivers.append(driver)
            driver.get(f"{url}/evaluate?{query}&run={run_id}")
            wait_text(driver, "Classification report", timeout=300)
            driver.get(f"{url}/inspect?{query}&run={run_id}")
            wait_text(driver, "Feature maps", timeout=300)
            stages.append([f"session {index + 1}: Evaluate then Inspect open", rss_mib(process.pid)])
        time.sleep(2)
        peak = rss_mib(process.pid, "VmHWM")
        stages.append(["peak (VmHWM) of the server process", peak])
    finally:
        for driver in drivers:
            driver.quit()
        stop_server(process)

    after_training = stages[2][1]
    after_sessions = stages[-2][1]
    print(table(["stage", "server RSS MiB"], [[name, f"{mib:.0f}"] for name, mib in stages]))
    print()
    print(f"- peak RSS of the server < {TARGET_MIB} MiB: {peak:.0f} MiB: {verdict(peak < TARGET_MIB)}")
    print(
        f"- {sessions} browser sessions added {after_sessions - after_training:+.0f} MiB after training "
        f"({(after_sessions - after_training) / sessions:+.0f} MiB per session): the dataset and the model are shared "
        "through st.cache_resource"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
