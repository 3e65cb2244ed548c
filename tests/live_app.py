"""A real `streamlit run dashboard/Home.py` on loopback and headless Chromium to look at it.

Shared by the browser test (tests/e2e) and the browser benchmarks (bench/dashboard_start.py, bench/memory.py),
so they start the server and the browser the same way: Debian's chromium and chromium-driver, with the flags
this machine needs.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
ARTIFACTS = ROOT / "test-artifacts" / "browser"  # browser tests' screenshots and server logs
BROWSER_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1800",
)


def browser():
    """A new headless Chromium: a fresh profile, nothing shared with other browsers but the server."""
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
    """`streamlit run dashboard/Home.py` on a free loopback port with `DIGIT_LAB_CACHE=cache`; output to log_path."""
    port = free_port()
    env = {**os.environ, "DIGIT_LAB_CACHE": str(cache)}
    log = open(log_path, "w")  # noqa: SIM115 - closed by stop_server
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "dashboard/Home.py",
            "--server.headless",
            "true",
            "--server.address",
            "127.0.0.1",
            "--server.port",
            str(port),
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    process.log = log  # type: ignore[attr-defined]
    return process, f"http://127.0.0.1:{port}"


def wait_healthy(url: str, process: subprocess.Popen, timeout: float = 120, poll: float = 0.05) -> None:
    """Until the server's health check answers; RuntimeError if it exits or does not answer in time."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with {process.returncode}")
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                return
        except OSError:
            time.sleep(poll)
    raise RuntimeError(f"streamlit did not answer within {timeout:.0f} s")


def stop_server(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    process.log.close()  # type: ignore[attr-defined]


def wait_text(driver, text: str, timeout: float = 120, poll: float = 0.5) -> None:
    """Until `text` is in the page's visible text."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout, poll_frequency=poll).until(lambda d: text in d.find_element("tag name", "body").text)


def train_digits_run(cache: str, epochs: int = 2, preset: str = "digitlab-small8") -> str:
    """Train (or find) one digits run in `cache` for a server to show; its run id. The process's own cache setting
    is restored afterwards."""
    previous = os.environ.get("DIGIT_LAB_CACHE")
    os.environ["DIGIT_LAB_CACHE"] = str(cache)
    try:
        from engine.datasets import load_dataset
        from engine.runs import get_or_train, preset_request

        dataset = load_dataset("digits")
        spec, config = preset_request(preset, dataset, epochs=epochs)
        return get_or_train(dataset, spec, config, preset=preset).run.run_id
    finally:
        if previous is None:
            os.environ.pop("DIGIT_LAB_CACHE", None)
        else:
            os.environ["DIGIT_LAB_CACHE"] = previous


def serve_app(cache: str, log_path, saved_log_name: str):
    """A generator for a module fixture: the real app on `cache`, its url yielded; afterwards the server log is kept
    in test-artifacts/browser/`saved_log_name` and must hold no traceback."""
    process, url = start_server(str(cache), str(log_path))
    try:
        wait_healthy(url, process, timeout=60, poll=0.5)
    except RuntimeError as error:
        stop_server(process)
        import pytest

        pytest.fail(f"{error}; see {log_path}")
    yield url
    stop_server(process)
    server_log = log_path.read_text()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / saved_log_name).write_text(server_log)
    assert "Traceback" not in server_log, f"the server logged a traceback; see test-artifacts/browser/{saved_log_name}"
