"""Every test in this folder drives the real app in headless Chromium: slow, browser, and skipped (saying why) where
Debian's chromium and chromium-driver are missing. One place for the marks instead of a copy in each file."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.live_app import CHROMIUM, DRIVER

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    no_browser = pytest.mark.skipif(
        not (CHROMIUM and DRIVER), reason="needs Debian's chromium and chromium-driver (.ci/run installs them)"
    )
    for item in items:
        if HERE in Path(item.fspath).resolve().parents:
            item.add_marker(pytest.mark.slow)
            item.add_marker(pytest.mark.browser)
            item.add_marker(no_browser)
