"""A Ray cluster dies under a k-fold job: the driver says so, the runs finished are kept, the server still answers,
the page tells the user, and a resume on a new cluster reuses the stored folds.

Real parts throughout: `ray start --head` with its own ports and temp folder (Ray's GCS reconnect timeout set to
5 s, so Ray's own reaction to the loss comes within the test too), the driver process `engine.jobs.start_job`
starts (as the page does), a real `streamlit run` of the dashboard, and the head's GCS killed by its pid.
"""

from __future__ import annotations

import os
import signal
import time
import urllib.request

import pytest

from bench.live_app import start_server, stop_server, wait_healthy
from engine.architectures.presets import DEFAULT_PRESET
from engine.crossval import fold_tasks
from engine.datasets import load_dataset
from engine.jobs import JobRequest, driver_alive, job_status, resume_job, start_job, wait_for_job
from engine.jobs.records import read_pid
from engine.runs import preset_request
from engine.store import RunStore
from tests.dashboard.conftest import open_page
from tests.executors.ray_cluster import GCS_RECONNECT_ENV, NO_AUTH, start_node, stop_node

pytest.importorskip("ray", reason="Ray is optional (pip install -r requirements-ray.txt)")


@pytest.mark.slow
def test_killing_the_ray_head_mid_job_is_reported_and_the_server_keeps_answering(isolated_cache, monkeypatch, tmp_path):
    digits = load_dataset("digits")
    # The sidebar's default model with 3 folds: the page opened below shows this very job.
    spec, config = preset_request(DEFAULT_PRESET, digits)
    tasks = fold_tasks(digits, spec, config, 3, DEFAULT_PRESET)
    request = JobRequest("cv", "fold", "3-fold test", "ray", tuple(task.portable() for task in tasks))

    server, url = start_server(str(isolated_cache), str(tmp_path / "streamlit.log"))
    node = start_node(num_cpus=1, reconnect_timeout_s=5)  # one CPU: the folds train one after another
    try:
        wait_healthy(url, server)
        monkeypatch.setenv("RAY_ADDRESS", node.address)
        monkeypatch.setenv(GCS_RECONNECT_ENV, "5")
        for name, value in NO_AUTH.items():
            monkeypatch.setenv(name, value)  # the driver inherits it, as it inherits RAY_ADDRESS
        job_id = start_job(request)

        deadline = time.monotonic() + 400
        status = job_status(job_id)
        while status.stored < 1 and not status.final and time.monotonic() < deadline:
            time.sleep(0.5)
            status = job_status(job_id)
        assert status.state == "running" and status.stored == 1, status
        [gcs] = node.pids("gcs_server")
        os.kill(gcs, signal.SIGKILL)  # the Ray head's GCS, by its pid
        killed_at = time.monotonic()

        status = wait_for_job(job_id, timeout=60)
        assert status.state == "cluster_lost", status
        stored = status.stored
        assert stored >= 1 and stored < 3
        kept = "that one is stored" if stored == 1 else f"those {stored} are stored"
        assert "The Ray cluster went away (its head at " in status.message
        assert f"after {stored} of 3 folds; {kept}" in status.message
        assert sum(RunStore().get(task.run_id) is not None for task in tasks) == stored  # the store agrees
        assert not driver_alive(read_pid(job_id), job_id)  # the driver ended itself, nothing lingers

        # Past Ray's reconnect timeout, when Ray ends every process still attached to the lost GCS, the server
        # (which never called ray.init) still answers and the page says what happened.
        time.sleep(max(0.0, 8 - (time.monotonic() - killed_at)))
        assert server.poll() is None
        assert urllib.request.urlopen(f"{url}/_stcore/health", timeout=10).read() == b"ok"
        app = open_page("views/crossval.py", {"folds": "3", "job": job_id})
        assert any("The Ray cluster went away" in e.value and f"after {stored} of 3" in e.value for e in app.error)
        assert any(b.label == f"Resume: train the other {3 - stored} folds" for b in app.button)
    finally:
        stop_node(node)

    # Resume on a new cluster: the stored folds are answered from the store, the others trained.
    node = start_node(num_cpus=2)
    try:
        monkeypatch.setenv("RAY_ADDRESS", node.address)
        resume_job(job_id)
        status = wait_for_job(job_id, timeout=400)
        assert status.state == "done", status
        assert status.attempt == 2
        assert [run.status for run in status.runs].count("cached") == stored
        assert all(RunStore().get(task.run_id) is not None for task in tasks)
    finally:
        stop_node(node)
        stop_server(server)
    log = (tmp_path / "streamlit.log").read_text()
    assert "Traceback" not in log
