"""`digit-lab report` on a full disk: one line naming the folder and what to do, exit 2, nothing left behind (it was
"error: unexpected OSError: [Errno 28] No space left on device", exit 1). Simulated by failing every write under
the output folder with ENOSPC; and, marked slow, on a real 1 MB tmpfs in a private mount namespace."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from engine.cli import main
from tests.store.full_disk import fill_disk


@pytest.mark.parametrize("fmt", ["ipynb", "html"])
def test_a_full_output_disk_is_one_line_with_exit_2(short_run, fmt, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.html").write_text("an earlier report")
    fill_disk(monkeypatch, out)
    argv = ["report", short_run.run_id, "--format", fmt, "--output", str(out / f"r.{fmt}"), "--json"]
    assert main(argv) == 2  # --json: no progress lines, so stderr is the error alone
    captured = capsys.readouterr()
    err = captured.err
    assert captured.out == ""
    assert err.count("\n") == 1 and err.startswith(f"error: Could not write the report r.{fmt} to {out}")
    assert "No space left on device" in err and "is full" in err and "give --output a file in a folder" in err
    assert "unexpected" not in err
    monkeypatch.undo()
    assert sorted(p.name for p in out.iterdir()) == ["old.html"]  # nothing new, no temporary file


def test_a_full_disk_while_writing_removes_the_partial_file(short_run, tmp_path, monkeypatch, capsys):
    """The temporary file is created, then the disk fills while the report is written into it."""
    import engine.reports.writer as writer

    real_fdopen = os.fdopen

    class FullStream:
        def __init__(self, handle):
            self.stream = real_fdopen(handle, "wb")

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.stream.close()

        def write(self, data):
            self.stream.write(data[:10])
            raise OSError(28, "No space left on device")

    # os is one module: the store's readers open files through fdopen too, so only writes get the full stream.
    monkeypatch.setattr(
        writer.os,
        "fdopen",
        lambda handle, mode="r", *a, **k: FullStream(handle) if "w" in mode else real_fdopen(handle, mode, *a, **k),
    )
    assert main(["report", short_run.run_id, "--format", "ipynb", "--output", str(tmp_path / "r.ipynb")]) == 2
    assert "is full" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".r.ipynb")] == []
    assert not (tmp_path / "r.ipynb").exists()


NAMESPACE_SCRIPT = """
set -e
mount --make-rprivate /
mount -t tmpfs -o size=1m tmpfs "$FULL"
head -c 2000000 /dev/zero > "$FULL/filler" 2>/dev/null || true
exec "$@"
"""


@pytest.mark.slow
@pytest.mark.skipif(
    not shutil.which("unshare") or os.geteuid() != 0, reason="needs root and unshare for a mount namespace"
)
def test_a_real_full_tmpfs(short_run, tmp_path):
    full = tmp_path / "full"
    full.mkdir()
    argv = [sys.executable, "-m", "engine", "report", short_run.run_id, "--format", "html"]
    argv += ["--output", str(full / "r.html")]
    env = {**os.environ, "FULL": str(full)}
    done = subprocess.run(
        ["unshare", "-m", "sh", "-c", NAMESPACE_SCRIPT, "sh", *argv], env=env, capture_output=True, text=True
    )
    if "mount" in done.stderr and done.returncode != 2:
        pytest.skip(f"no tmpfs mount here: {done.stderr.strip()[:200]}")
    assert done.returncode == 2, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: Could not write the report r.html") and "is full" in last
