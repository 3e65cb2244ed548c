"""Is a process still there? One probe for the run locks, the training queue's ledger and the job driver.

`os.kill(pid, 0)` probes a process on POSIX, but on Windows it terminates it, so there the probe answers False
(cannot be checked safely) rather than kill what it asks about.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def process_exists(pid: int) -> bool:
    """Whether process `pid` exists; False when that cannot be checked safely."""
    if pid == os.getpid():
        return True
    if sys.platform == "win32":
        return False  # os.kill(pid, 0) would terminate the process on Windows, not probe it
    try:
        os.kill(pid, 0)
    except PermissionError:
        return True  # it exists but belongs to another user
    except OSError:
        return False
    return True


def process_start(pid: int) -> str:
    """The process's start time in clock ticks since boot ('' where /proc is missing): tells a reused pid apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[-1].split()[19]  # field 22 of proc(5), counted after the command name
