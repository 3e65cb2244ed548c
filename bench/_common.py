"""Shared helpers for the benchmarks: the machine's description, mean ± std, tables, RSS, quiet TensorFlow.

Benchmarks are scripts, not tests: each prints a Markdown table headed by the machine it ran on and compares
against a baseline measured in the same invocation, because this machine's cores are shared and absolute
seconds drift with the load.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

# The repository (for the dashboard's Home.py); the engine itself is imported as the installed package
# (`pip install -r requirements.txt` installs the project), never through sys.path.
ROOT = Path(__file__).resolve().parent.parent

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def cpu_name(cpuinfo: str) -> str:
    """The first CPU's model name with its family and model numbers and its wide-vector flags: virtual machines
    often name only "AMD EPYC", which covers CPUs with and without AVX-512 and native bfloat16, and the figures
    depend on which (the engine trains in bfloat16 only where the CPU has it)."""
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        if not line.strip():
            break  # the first processor's block is enough
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    name = fields.get("model name", "")
    if not name:
        return ""
    flags = set(fields.get("flags", "").split())
    wide = [flag for flag in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if flag in flags]
    numbers = ", ".join(f"{key} {fields[key]}" for key in ("cpu family", "model") if key in fields)
    return f"{name} ({'; '.join(part for part in (numbers, ' '.join(wide)) if part)})"


def machine() -> str:
    """One line: CPU, cores, memory, load, Python and library versions, the training precision in force."""
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as cpuinfo:
            cpu = cpu_name(cpuinfo.read()) or cpu
    except OSError:
        pass
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            memory = f"{int(meminfo.readline().split()[1]) / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        memory = "RAM unknown"
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    from importlib import metadata

    versions = []
    for name in ("tensorflow", "keras", "streamlit"):
        with contextlib.suppress(metadata.PackageNotFoundError):  # not installed: not listed
            versions.append(f"{name} {metadata.version(name if name != 'tensorflow' else _tf_dist())}")
    precision = os.environ.get("DIGIT_LAB_PRECISION", "auto")
    return (
        f"{cpu} · {os.cpu_count()} cores · {memory} · load avg {load} (shared machine) · "
        f"Python {platform.python_version()} · {' · '.join(versions)} · DIGIT_LAB_PRECISION={precision}"
    )


def _tf_dist() -> str:
    from importlib import metadata

    for name in ("tensorflow-cpu", "tensorflow"):
        try:
            metadata.version(name)
            return name
        except metadata.PackageNotFoundError:
            continue
    return "tensorflow"


def mean_std(values) -> tuple[float, float]:
    values = [float(v) for v in values]
    if not values:
        return float("nan"), float("nan")
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def fmt(values, digits: int = 2) -> str:
    """'12.34 ± 0.56' (sample std over seeds); a single value prints alone."""
    values = [v for v in values if v is not None]
    if not values:
        return "—"
    mean, std = mean_std(values)
    return f"{mean:.{digits}f}" if len(values) == 1 else f"{mean:.{digits}f} ± {std:.{digits}f}"


def table(headers: list[str], rows: list[list]) -> str:
    """A Markdown table (pastes into bench/README.md as is)."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def verdict(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


def rss_mib(pid: int | str = "self", field: str = "VmRSS") -> float:
    """Resident memory of a process in MiB (`VmHWM` for its peak)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise KeyError(field)


def temp_cache(prefix: str) -> str:
    """A temporary cache folder for one benchmark, removed when the process exits."""
    folder = tempfile.mkdtemp(prefix=prefix)
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def header(title: str, quick: bool) -> None:
    print(f"# {title}{' (--quick: tiny sizes, a smoke run, not evidence)' if quick else ''}")
    print(f"Machine: {machine()}")
    print(f"Started: {time.strftime('%Y-%m-%d %H:%M:%S')}")
    print()
