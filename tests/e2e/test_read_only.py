"""Ready to host: with the whole file system read-only except the cache folder and the temporary folder, the real
app starts, trains and shows a run. Runs `streamlit run` in a private mount namespace (`unshare -m`, needs root)
where `/` is remounted read-only, the temporary folder (TMPDIR) is a fresh tmpfs and the cache is the one
writable bind mount; a write anywhere else fails there and shows in the server log or the browser."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from bench.live_app import ROOT, browser, start_server, stop_server, wait_healthy, wait_text
from engine.architectures.presets import DEFAULT_PRESET  # what Home's "Train the default model" trains

# The browser marks come from tests/e2e/conftest.py; this one needs root for its mount namespace too.
pytestmark = pytest.mark.skipif(
    not shutil.which("unshare") or os.geteuid() != 0, reason="needs root and unshare for a mount namespace"
)

# Inside the namespace: the cache gets a mount of its own at /mnt (so it stays writable), then / turns read-only,
# then the temporary folder becomes an empty writable tmpfs (Keras and Python's tempfile write there), then the
# app starts. The tmpfs goes on /var/tmp, named by TMPDIR, rather than over /tmp: a checkout cloned under /tmp
# (as CI may clone it) must stay visible, and /tmp itself then stays read-only like the rest.
NAMESPACE_SCRIPT = """
set -e
mount --make-rprivate /
mount --bind "$WRITABLE_CACHE" /mnt
mount -o remount,bind,ro /
mount -t tmpfs -o size=1g tmpfs "$TMPDIR"
cd "$CHECKOUT"
exec "$@"
"""


def in_read_only_namespace(argv: list[str]) -> list[str]:
    """The server's command line run by NAMESPACE_SCRIPT once the mounts are in place (exec: the same pid)."""
    return ["unshare", "-m", "sh", "-c", NAMESPACE_SCRIPT, "sh", *argv]


def test_the_app_runs_with_a_read_only_checkout(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    log_path = tmp_path / "streamlit.log"
    before = subprocess.run(["git", "status", "--porcelain", "--ignored"], cwd=ROOT, capture_output=True, text=True)
    env = {
        "WRITABLE_CACHE": str(cache),
        "CHECKOUT": str(ROOT),
        "DIGIT_LAB_HOSTED": "1",
        "TMPDIR": "/var/tmp",
        # Let Python try to write __pycache__: the read-only checkout refuses.
        "PYTHONDONTWRITEBYTECODE": None,
    }
    process, url = start_server("/mnt", str(log_path), env=env, wrap=in_read_only_namespace)
    driver = None
    try:
        wait_healthy(url, process, timeout=90, poll=0.5)
        driver = browser()
        driver.get(url)
        wait_text(driver, "Stored runs")
        from selenium.webdriver.support.ui import WebDriverWait

        xpath = "//button[.//*[contains(text(), 'Train the default model')]]"
        WebDriverWait(driver, 60).until(lambda d: d.find_element("xpath", xpath)).click()
        wait_text(driver, "test accuracy", timeout=300)
        driver.get(f"{url}/evaluate?dataset=digits&preset={DEFAULT_PRESET}")
        wait_text(driver, "Classification report")
        body = driver.find_element("tag name", "body").text
        assert "Read-only file system" not in body and "Something went wrong" not in body, body[:2000]
    finally:
        if driver is not None:
            driver.quit()
        stop_server(process)
    server_log = log_path.read_text()
    for sign in ("Traceback", "Read-only file system", "PermissionError", "Errno 30"):
        assert sign not in server_log, f"{sign} in the server log:\n{server_log[-4000:]}"
    runs = [p for p in (cache / "runs").iterdir() if p.is_dir()] if (cache / "runs").is_dir() else []
    assert runs, "no run was stored in the writable cache"
    after = subprocess.run(["git", "status", "--porcelain", "--ignored"], cwd=ROOT, capture_output=True, text=True)
    assert after.stdout == before.stdout, "the checkout changed while it was mounted read-only"
