"""A real `streamlit run dashboard/Home.py` on loopback, and headless Chromium to look at it: started, waited for
and stopped the same way by every benchmark and test that needs a live server.

It lives under bench/ because benchmarks are run as scripts without the test suite and so must not import
`tests`, while tests may import bench/ (the repository root is on pytest's path). It imports nothing from the
engine and Selenium only when a browser is asked for, so a test or benchmark that loads it pays no TensorFlow
start-up and none of bench/_common's settings. Browsers: Debian's chromium and chromium-driver, with the flags
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
from collections.abc import Callable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
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


def server_argv(port: int) -> list[str]:
    """The command line of a headless dashboard server on loopback `port`, run from the repository root."""
    return [
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
    ]


def start_server(
    cache: str,
    log_path: str,
    *,
    env: Mapping[str, str | None] | None = None,
    wrap: Callable[[list[str]], list[str]] | None = None,
) -> tuple[subprocess.Popen, str]:
    """`streamlit run dashboard/Home.py` on a free loopback port with `DIGIT_LAB_CACHE=cache`; output to log_path.

    `env` adds variables to the server's environment (or, with None, removes them) after the cache is set, so it
    may also move the cache; `wrap` turns the server's command line into the one that starts it (a memory cgroup,
    a mount namespace) and must exec it so the process stays the server. Returns the process and its url.
    """
    port = free_port()
    environment = {**os.environ, "DIGIT_LAB_CACHE": str(cache)}
    for name, value in (env or {}).items():
        if value is None:
            environment.pop(name, None)
        else:
            environment[name] = value
    argv = server_argv(port)
    log = open(log_path, "w")  # noqa: SIM115 - closed by stop_server
    process = subprocess.Popen(
        wrap(argv) if wrap else argv, cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT
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
    """Terminate a server from `start_server` (killed after 20 s), then close its log."""
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
