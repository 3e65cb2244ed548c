"""A throwaway PostgreSQL server for the classroom tests: Debian's binaries, a non-root user, a unix socket only.

As a script (.ci/run uses it): `python -m tests.postgres_server start DIR` initialises and starts a server in DIR and
prints its URL; `python -m tests.postgres_server stop DIR` stops it. The tests import `start`/`stop` the same way
when `DIGIT_LAB_TEST_DATABASE_URL` is not set. No TCP port is opened, so servers of parallel runs never collide.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

SUPERUSER = "digitlab"
DATABASE = "digitlab"
# A root-run test still needs a non-root server: PostgreSQL refuses to run as root.
SERVER_USER = "nobody"


class PostgresUnavailable(RuntimeError):
    """No server can be started here; the message says why (for a test's skip reason)."""


def binaries() -> Path:
    """The newest installed PostgreSQL's bin folder (Debian keeps them out of PATH)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("pg_ctl")
    if on_path:
        return Path(on_path).parent
    raise PostgresUnavailable("PostgreSQL's server binaries are not installed (apt-get install postgresql)")


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    if shutil.which("runuser") is None:
        raise PostgresUnavailable("running as root without `runuser`, and PostgreSQL refuses to run as root")
    return ["runuser", "-u", SERVER_USER, "--", *command]


def url(folder: Path) -> str:
    return f"postgresql+psycopg://{SUPERUSER}@/{DATABASE}?host={folder}"


def start(folder: Path, owner_pid: int | None = None) -> str:
    """Initialise and start a server in `folder` (created if missing); returns its SQLAlchemy URL.

    With `owner_pid`, a watchdog process stops the server and removes `folder` once that process is gone: a test
    session killed by a timeout (SIGTERM runs no fixture teardown) leaves no server behind."""
    bin_dir = binaries()
    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / "data"
    if os.geteuid() == 0:
        # The server user must reach its folder and own its data; the folder holds nothing else secret.
        folder.chmod(0o755)
        shutil.chown(folder, user=SERVER_USER)
    run = _as_server_user
    subprocess.run(
        run([str(bin_dir / "initdb"), "-D", str(data), "-U", SUPERUSER, "-A", "trust", "-E", "UTF8", "--no-locale"])
        + ["--no-sync"],
        check=True,
        capture_output=True,
    )
    # Test settings: durability off (a crashed test server is thrown away anyway); the socket in `folder`.
    options = f"-k {folder} -c listen_addresses='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    started = subprocess.run(
        run([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(folder / "server.log"), "-o", options, "-w"])
        + ["start"],
        capture_output=True,
        text=True,
    )
    if started.returncode != 0:
        log = (folder / "server.log").read_text(errors="replace") if (folder / "server.log").exists() else ""
        raise PostgresUnavailable(f"pg_ctl start failed: {started.stderr.strip()} {log[-2000:]}")
    if owner_pid is not None:
        subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "watch", str(folder), str(owner_pid)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # outlives the owner's process group being killed
        )
    subprocess.run(
        run([str(bin_dir / "createdb"), "-h", str(folder), "-U", SUPERUSER, DATABASE]), check=True, capture_output=True
    )
    return url(folder)


def watch(folder: Path, owner_pid: int) -> None:
    """Wait for `owner_pid` to end (or the server to be stopped), then stop the server and remove its folder."""
    pid_file = Path(folder) / "data" / "postmaster.pid"
    while pid_file.exists():
        try:
            os.kill(owner_pid, 0)
        except ProcessLookupError:
            break
        time.sleep(1.0)
    stop(folder)
    shutil.rmtree(folder, ignore_errors=True)


def stop(folder: Path) -> None:
    data = Path(folder).resolve() / "data"
    if (data / "postmaster.pid").exists():
        subprocess.run(
            _as_server_user([str(binaries() / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]),
            capture_output=True,
        )


def main(argv: list[str]) -> int:
    if argv[:1] == ["watch"] and len(argv) == 3:
        watch(Path(argv[1]), int(argv[2]))
        return 0
    if len(argv) != 2 or argv[0] not in ("start", "stop"):
        print("usage: python -m tests.postgres_server start|stop DIR", file=sys.stderr)
        return 2
    if argv[0] == "start":
        print(start(Path(argv[1])))
    else:
        stop(Path(argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
