"""The live server's test side: a stored digits run for it to show, and a module fixture that serves the app and
keeps its log. Starting, waiting for and stopping the server and the browser are bench/live_app.py's, shared with
the benchmarks (which may not import tests).
"""

from __future__ import annotations

import os

from bench.live_app import ROOT, start_server, stop_server, wait_healthy

ARTIFACTS = ROOT / "test-artifacts" / "browser"  # browser tests' screenshots and server logs


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


def serve_app(cache: str, log_path, saved_log_name: str, env: dict | None = None, timeout: float = 60):
    """A generator for a module fixture: the real app on `cache` (with `env` added to its environment), its url
    yielded; afterwards the server log is kept in test-artifacts/browser/`saved_log_name` and must hold no traceback."""
    process, url = start_server(str(cache), str(log_path), **({"env": env} if env else {}))
    try:
        wait_healthy(url, process, timeout=timeout, poll=0.5)
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
