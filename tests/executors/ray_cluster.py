"""A real Ray cluster started with `ray start` on this machine: its own ports and temp folder, so it never meets
another Ray instance (a test's, a benchmark's, an engineer's), and the pids of its head to kill.

Used by the cluster-loss test (test_driver_cluster.py) and by `python -m bench.ray_cluster` (two nodes).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.live_app import free_port

# Ray ends a process whose GCS stays away this long (default 60 s): low, so a test sees Ray's own reaction too.
GCS_RECONNECT_ENV = "RAY_gcs_rpc_server_reconnect_timeout_s"
# Ray 2.60 turns token authentication on when ~/.ray/auth_token exists, which any other `ray.init` on this machine
# may create or replace meanwhile: a loopback cluster of a test's own runs without it, and so must its drivers.
NO_AUTH = {"RAY_AUTH_MODE": "disabled"}


def ray_command() -> str:
    found = shutil.which("ray")
    if not found:
        raise RuntimeError("the `ray` command is not installed (pip install -r requirements-ray.txt)")
    return found


@dataclass
class RayNode:
    temp_dir: Path
    head: bool
    gcs_port: int
    env: dict = field(repr=False)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.gcs_port}"

    def pids(self, name: str) -> list[int]:
        """Pids of this node's processes whose command line holds `name` (gcs_server, raylet) and its temp dir."""
        found = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                command = (proc / "cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            if name.encode() in command and str(self.temp_dir).encode() in command:
                found.append(int(proc.name))
        return found


WORKER_PORTS = 30


def _distinct_free_ports(count: int, taken: set[int]) -> list[int]:
    """`count` free ports, none in `taken` and none twice: the kernel may hand the same free port out again."""
    chosen: list[int] = []
    while len(chosen) < count:
        port = free_port()
        if port not in taken:
            taken.add(port)
            chosen.append(port)
    return chosen


def _ports(gcs_port: int) -> list[str]:
    """Ports for every component of one node, no two alike and none inside the worker range: `ray start` refuses
    a node whose node-manager port falls among its worker ports (a CI run drew exactly that)."""
    names = (
        "--node-manager-port",
        "--object-manager-port",
        "--dashboard-agent-listen-port",
        "--dashboard-agent-grpc-port",
        "--metrics-export-port",
        "--runtime-env-agent-port",
        "--ray-client-server-port",
    )
    low = free_port()
    while gcs_port in range(low, low + WORKER_PORTS + 1) or low + WORKER_PORTS > 65535:
        low = free_port()
    taken = set(range(low, low + WORKER_PORTS + 1)) | {gcs_port}
    args = []
    for name, port in zip(names, _distinct_free_ports(len(names), taken), strict=True):
        args += [name, str(port)]
    return args + ["--min-worker-port", str(low), "--max-worker-port", str(low + WORKER_PORTS)]


def start_node(num_cpus: int, head_address: str | None = None, reconnect_timeout_s: int = 60) -> RayNode:
    """`ray start --head` (or a worker joining `head_address`) with its own ports and a short temp dir."""
    # Short: Ray's unix sockets live under the temp dir, and socket paths are limited to 107 bytes.
    temp_dir = Path(tempfile.mkdtemp(prefix="dlray", dir="/tmp"))
    env = {**os.environ, GCS_RECONNECT_ENV: str(reconnect_timeout_s), "RAY_USAGE_STATS_ENABLED": "0", **NO_AUTH}
    gcs_port = free_port() if head_address is None else int(head_address.rsplit(":", 1)[1])
    command = [ray_command(), "start", "--num-cpus", str(num_cpus), "--temp-dir", str(temp_dir)]
    command += ["--disable-usage-stats"]
    port_args = _ports(gcs_port)
    if head_address is None:
        command += ["--head", "--port", str(gcs_port), "--include-dashboard=false"]
    else:
        command += ["--address", head_address]
        # The client server runs on the head only.
        at = port_args.index("--ray-client-server-port")
        del port_args[at : at + 2]
    command += port_args
    subprocess.run(command, env=env, check=True, capture_output=True, timeout=180)
    return RayNode(temp_dir, head_address is None, gcs_port, env)


def stop_node(node: RayNode) -> None:
    """Kill every process of this node (`ray stop` would stop all Ray on the machine, others' included)."""
    for name in ("raylet", "gcs_server", "default_worker", "dashboard", "runtime_env", "log_monitor", "monitor"):
        for pid in node.pids(name):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    time.sleep(0.5)
    shutil.rmtree(node.temp_dir, ignore_errors=True)
