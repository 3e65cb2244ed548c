"""Hosted soak under a real memory limit: one hosted-mode server in a 2.7 GB memory cgroup, a class of browsers.

A `streamlit run dashboard/Home.py` with `DIGIT_LAB_HOSTED=1` starts inside a new memory cgroup (a child of this
process's own: cgroup v1 `memory.limit_in_bytes`, or v2 `memory.max`) limited to 2.7 GB, the memory Streamlit
Community Cloud gives an app; the shell that starts it writes its pid into the cgroup's `cgroup.procs` and then
execs the server, so every byte the server allocates is charged there. (`prlimit --as` is no substitute: it
limits address space, and TensorFlow's allocator fails under it far below the limit.)

Headless Chromium sessions (bench/live_app.py) then connect at once: some press Train together — the largest
Fashion-MNIST training the hosted caps allow among them (digitlab-fast28 on 20,000 images) — the others follow
the shared link of the first training and, once it is stored, its Evaluate link. The server admits trainings by
their memory estimate (engine/training_queue.py); the rest wait and show their position.

Pass: no server error (no traceback in the server log, no exception or error box on any page), no OOM kill (the
cgroup's oom_kill count is 0 and the server still answers), every training session sees its result, and every
session that was queued saw its position first. Printed: the cgroup's peak usage, the server's VmHWM, each
training's wait and duration, errors. Bounded: every wait has a deadline; browsers, server and cgroup are
removed at the end; loopback only.

    python -m bench.hosted_soak             # 10 sessions, 4 trainings (3 on Fashion-MNIST), about 10 minutes
    python -m bench.hosted_soak --quick     # digits only: 5 sessions, 3 trainings; a few minutes (CI)
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import bench._common  # noqa: F401  (quiets TensorFlow before it is imported)
from bench._common import ROOT, header, rss_mib, table, temp_cache, verdict
from bench.live_app import CHROMIUM, DRIVER, browser, start_server, stop_server, wait_healthy

LIMIT_BYTES = 2_700_000_000  # Streamlit Community Cloud's upper memory limit for an app, about 2.7 GB
POLL = 1.0  # seconds between looks at a page


class CgroupUnavailable(RuntimeError):
    """This machine's memory cgroups cannot be used here (read-only, missing controller); the soak skips."""


class MemoryCgroup:
    """A child memory cgroup of this process's own, with a limit; v1 or v2, whichever this machine mounts."""

    def __init__(self, limit_bytes: int, name: str):
        lines = Path("/proc/self/cgroup").read_text().splitlines()
        v1 = next((line.split(":", 2)[2] for line in lines if line.split(":")[1] == "memory"), None)
        unified = Path("/sys/fs/cgroup/cgroup.controllers")
        if v1 is not None and Path("/sys/fs/cgroup/memory").is_dir():
            self.version, parent = 1, Path("/sys/fs/cgroup/memory") / v1.lstrip("/")
        elif unified.exists() and "memory" in unified.read_text().split():
            path = next((line.split(":", 2)[2] for line in lines if line.startswith("0::")), "/")
            self.version, parent = 2, Path("/sys/fs/cgroup") / path.lstrip("/")
        else:
            raise CgroupUnavailable("no memory cgroup controller is mounted (neither v1 nor v2)")
        self.path = parent / name
        try:
            self.path.mkdir()
            limit_file = "memory.limit_in_bytes" if self.version == 1 else "memory.max"
            (self.path / limit_file).write_text(str(limit_bytes))
            self.limit = int((self.path / limit_file).read_text())
        except OSError as error:
            self.remove()
            raise CgroupUnavailable(
                f"cannot create a memory cgroup under {parent} (cgroup v{self.version}): {error.strerror or error}"
            ) from error

    def wrap(self, argv: list[str]) -> list[str]:
        """`argv` started by a shell that first moves itself into this cgroup, then execs (same pid)."""
        return ["sh", "-c", 'echo $$ > "$0" && exec "$@"', str(self.path / "cgroup.procs"), *argv]

    def _read(self, name: str) -> str:
        try:
            return (self.path / name).read_text()
        except OSError:
            return ""

    def peak_bytes(self) -> int:
        text = self._read("memory.max_usage_in_bytes" if self.version == 1 else "memory.peak")
        return int(text) if text.strip() else -1

    def oom_kills(self) -> int:
        text = self._read("memory.oom_control" if self.version == 1 else "memory.events")
        found = re.search(r"^oom_kill (\d+)", text, re.M)
        return int(found.group(1)) if found else 0

    def failcnt(self) -> int:
        """v1: times usage hit the limit (the kernel then reclaims page cache; not an OOM kill by itself)."""
        text = self._read("memory.failcnt") if self.version == 1 else ""
        match = re.search(r"^max (\d+)", self._read("memory.events"), re.M) if self.version == 2 else None
        return int(text) if text.strip() else int(match.group(1)) if match else 0

    def remove(self) -> None:
        for _ in range(50):  # the kernel needs a moment after the last process leaves
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.1)


@dataclass(frozen=True)
class Plan:
    """One session's part: press Train on `query`, or follow the links `query` then the trained run's."""

    name: str
    query: str  # the link the session opens (dataset, preset, config)
    trains: bool


@dataclass
class Outcome:
    plan: Plan
    positions: list[int] = field(default_factory=list)
    clicked: float = 0.0
    first_epoch: float = 0.0  # when its progress first showed an epoch (training admitted and running)
    done: float = 0.0
    result: str = ""  # "trained" | "cached" | "" (none)
    run_id: str = ""
    errors: list[str] = field(default_factory=list)


def link(dataset: str, preset: str, **config) -> str:
    from dashboard.links import encode

    query = f"dataset={dataset}&preset={preset}"
    return query + (f"&cfg={encode(config)}" if config else "")


def plans(quick: bool, sessions: int) -> list[Plan]:
    if quick:
        trainers = [
            Plan("digits small8 seed 0", link("digits", "digitlab-small8", epochs=5, seed=0), True),
            Plan("digits seed002 10 ep", link("digits", "seed002-uci8x8", epochs=10), True),
            Plan("digits small8 seed 1", link("digits", "digitlab-small8", epochs=5, seed=1), True),
        ]
    else:
        trainers = [
            # The largest training the hosted caps allow among the presets: 20,000 images (the cap), fast28.
            Plan("fashion fast28 20k seed 0", link("fashion-mnist", "digitlab-fast28", limit_train=20_000), True),
            Plan("fashion cnn3 20k", link("fashion-mnist", "seed001-cnn3", limit_train=20_000), True),
            Plan(
                "fashion fast28 20k seed 1",
                link("fashion-mnist", "digitlab-fast28", limit_train=20_000, seed=1, epochs=5),
                True,
            ),
            Plan("digits small8", link("digits", "digitlab-small8"), True),
        ]
    followers = [Plan(f"link follower {i + 1}", trainers[0].query, False) for i in range(sessions - len(trainers))]
    return trainers + followers


def estimates(session_plans: list[Plan]) -> dict[str, tuple[float, float]]:
    """(runtime MB, training MB) the engine will charge for each training session's request."""
    from dashboard.links import decode
    from engine.datasets import load_dataset
    from engine.memory_estimate import estimate_training
    from engine.runs import preset_request

    found = {}
    for plan in session_plans:
        if plan.trains:
            params = dict(urllib.parse.parse_qsl(plan.query))
            data = load_dataset(params["dataset"])
            spec, config = preset_request(
                params["preset"], data, **decode(params.get("cfg", "")) if "cfg" in params else {}
            )
            need = estimate_training(spec, config, len(data.x_train), len(data.x_test))
            found[plan.name] = (need.runtime_mb, need.training_mb)
    return found


def page_text(driver) -> str:
    return driver.find_element("tag name", "body").text


def page_problems(driver) -> list[str]:
    """Exceptions and error boxes on the page (Streamlit's own test ids)."""
    found = [e.text[:200] for e in driver.find_elements("css selector", "[data-testid='stException']")]
    found += [e.text[:200] for e in driver.find_elements("css selector", "[data-testid='stAlertContentError']")]
    return found


def follow_training(driver, outcome: Outcome, deadline: float) -> None:
    """Poll a session that pressed Train until its result shows; record positions, epochs and errors."""
    while time.monotonic() < deadline:
        text = page_text(driver)
        for position in re.findall(r"position (\d+) in the queue", text):
            if not outcome.positions or outcome.positions[-1] != int(position):
                outcome.positions.append(int(position))
        if not outcome.first_epoch and re.search(r"epoch \d+/\d+", text):
            outcome.first_epoch = time.monotonic()
        problems = page_problems(driver)
        if problems:
            outcome.errors += problems
            return
        if "Trained run" in text or "Already trained" in text:
            outcome.done = time.monotonic()
            outcome.result = "trained" if "Trained run" in text else "cached"
            outcome.run_id = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(driver.current_url).query)).get(
                "run", ""
            )
            return
        time.sleep(POLL)
    outcome.errors.append("no result before the deadline")


def click_train(driver) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    button = WebDriverWait(driver, 300, poll_frequency=0.5).until(
        lambda d: d.find_element("xpath", "//button[normalize-space(.)='Train' and not(@disabled)]")
    )
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", button)
    button.click()


def established(port: int) -> int:
    """TCP connections to the server's port now (each browser session holds one websocket)."""
    count = 0
    for table_file in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table_file).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            parts = row.split()
            if int(parts[1].rsplit(":", 1)[1], 16) == port and parts[3] == "01":
                count += 1
    return count


def wait_for(driver, text: str, deadline: float) -> bool:
    while time.monotonic() < deadline:
        if text in page_text(driver):
            return True
        time.sleep(POLL)
    return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="digits only: 5 sessions, 3 trainings")
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--minutes", type=float, default=25.0, help="deadline for the whole soak")
    parser.add_argument("--memory-mb", type=int, help="DIGIT_LAB_MEMORY_MB for the server (default: the engine's)")
    args = parser.parse_args()
    header("Hosted soak: a hosted server in a 2.7 GB memory cgroup, browser sessions training at once", args.quick)
    if not (CHROMIUM and DRIVER):
        print("Skipped: chromium and chromedriver are not installed.")
        return 0
    sessions = 5 if args.quick else max(args.sessions, 5)
    session_plans = plans(args.quick, sessions)
    needs = estimates(session_plans)
    memory_mb = args.memory_mb
    if args.quick and memory_mb is None:
        # Digits trainings are small: a budget that holds any two of the three but not all three, so one queues.
        runtime = max(r for r, _ in needs.values())
        shares = sorted(t for _, t in needs.values())
        memory_mb = int(runtime + sum(shares) - shares[0] / 2)
    try:
        cgroup = MemoryCgroup(LIMIT_BYTES, f"digitlab-soak-{os.getpid()}")
    except CgroupUnavailable as reason:
        print(f"Skipped: {reason}.")
        return 0

    cache = temp_cache("digitlab-bench-soak-")
    log_path = Path(cache) / "streamlit.log"
    env = {"DIGIT_LAB_HOSTED": "1", "PYTHONPATH": str(ROOT)}
    if memory_mb is not None:
        env["DIGIT_LAB_MEMORY_MB"] = str(memory_mb)
    deadline = time.monotonic() + args.minutes * 60
    outcomes = [Outcome(plan) for plan in session_plans]
    drivers: list = []
    notes: list[str] = []
    server, url = start_server(cache, str(log_path), env=env, wrap=cgroup.wrap)
    port = urllib.parse.urlsplit(url).port
    try:
        wait_healthy(url, server)
        in_cgroup = str(server.pid) in (cgroup.path / "cgroup.procs").read_text().split()
        notes.append(f"server pid {server.pid} in {cgroup.path} (cgroup v{cgroup.version}, limit {cgroup.limit:,} B)")
        if not in_cgroup:
            raise RuntimeError("the server is not in the soak's cgroup")
        for outcome in outcomes:  # every session connects before anyone trains
            driver = browser()
            drivers.append(driver)
            driver.get(f"{url}/train?{outcome.plan.query}")
            if not wait_for(driver, "Training", deadline):
                outcome.errors.append("Train page did not render")
        baseline = rss_mib(server.pid) * 2**20 / 1e6
        connections = established(port)
        notes.append(f"{len(drivers)} browser sessions open, {connections} TCP connections established to the server")
        notes.append(f"server RSS with every session open, before any training: {baseline:.0f} MB")

        trainers = [(d, o) for d, o in zip(drivers, outcomes, strict=True) if o.plan.trains]
        start = threading.Barrier(len(trainers))

        def press(driver, outcome):
            try:
                start.wait(60)
                click_train(driver)
                outcome.clicked = time.monotonic()
                follow_training(driver, outcome, deadline)
            except Exception as error:  # noqa: BLE001 - a soak records every failure
                outcome.errors.append(f"{type(error).__name__}: {error}"[:300])

        threads = [threading.Thread(target=press, args=pair) for pair in trainers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(max(1.0, deadline - time.monotonic()))

        shared_run = outcomes[0].run_id
        for driver, outcome in zip(drivers, outcomes, strict=True):
            if outcome.plan.trains:
                continue
            started = time.monotonic()
            outcome.clicked = started
            if not shared_run:
                outcome.errors.append("the shared training produced no run to follow")
                continue
            driver.get(f"{url}/train?{outcome.plan.query}")  # the shared link again: now answered from the store
            if wait_for(driver, "Already trained", deadline):
                driver.get(f"{url}/evaluate?{outcome.plan.query}&run={shared_run}")
                if wait_for(driver, "Classification report", deadline):
                    outcome.done, outcome.result, outcome.run_id = time.monotonic(), "cached", shared_run
            outcome.errors += page_problems(driver)
            if not outcome.result:
                outcome.errors.append("the shared link did not show the stored run")
        alive = server.poll() is None
        try:
            wait_healthy(url, server, timeout=10)
        except RuntimeError:
            alive = False
        server_peak = rss_mib(server.pid, "VmHWM") * 2**20 / 1e6 if alive else float("nan")
        # RSS counts shared-library pages that other processes on this machine already brought into the page cache;
        # the cgroup is charged only for pages this server faulted in first. Anonymous memory is the server's own.
        split = {field: rss_mib(server.pid, field) * 2**20 / 1e6 for field in ("RssAnon", "RssFile")} if alive else {}
    finally:
        for driver in drivers:
            with contextlib.suppress(Exception):  # a browser that died already is quit
                driver.quit()
        stop_server(server)
    peak, oom_kills, failcnt = cgroup.peak_bytes(), cgroup.oom_kills(), cgroup.failcnt()
    cgroup.remove()

    server_log = log_path.read_text(errors="replace")
    tracebacks = server_log.count("Traceback")
    rows = []
    for outcome in outcomes:
        runtime, training = needs.get(outcome.plan.name, (0.0, 0.0))
        waited = (outcome.first_epoch - outcome.clicked) if outcome.first_epoch and outcome.clicked else None
        total = (outcome.done - outcome.clicked) if outcome.done else None
        rows.append(
            [
                outcome.plan.name,
                "Train" if outcome.plan.trains else "shared links",
                f"{runtime:.0f} + {training:.0f}" if outcome.plan.trains else "—",
                ", ".join(map(str, outcome.positions)) or "—",
                f"{waited:.0f}" if waited is not None else "—",
                f"{total:.0f}" if total is not None else "—",
                outcome.result or "none",
                "; ".join(outcome.errors) or "0",
            ]
        )
    print(
        table(
            [
                "session",
                "does",
                "estimate MB (runtime + training)",
                "queue positions seen",
                "wait s (click to first epoch)",
                "s to result",
                "result",
                "errors",
            ],
            rows,
        )
    )
    print()
    for note in notes:
        print(f"- {note}")
    budget = memory_mb if memory_mb is not None else "engine default"
    print(f"- DIGIT_LAB_MEMORY_MB: {budget}")
    print(
        f"- cgroup peak usage: {peak / 1e6:,.0f} MB of {LIMIT_BYTES / 1e6:,.0f} MB; server VmHWM {server_peak:,.0f} MB"
    )
    if split:
        print(f"- server RSS at the end: {split['RssAnon']:,.0f} MB anonymous + {split['RssFile']:,.0f} MB file-backed")
    print(f"- cgroup failcnt (limit reached, page cache reclaimed): {failcnt}")
    errors = sum(len(o.errors) for o in outcomes)
    queued = [o for o in outcomes if o.positions]
    print(f"- sessions at once: {len(outcomes)}: {verdict(len(outcomes) >= (5 if args.quick else 10))}")
    print(f"- trainings pressed at once: {sum(o.plan.trains for o in outcomes)}")
    print(
        f"- no OOM kill and the server still answers: oom_kill {oom_kills}, alive {alive}: "
        f"{verdict(not oom_kills and alive)}"
    )
    print(f"- tracebacks in the server log: {tracebacks}: {verdict(tracebacks == 0)}")
    print(f"- errors on pages or in sessions: {errors}: {verdict(errors == 0)}")
    print(f"- every session got its result: {verdict(all(o.result for o in outcomes))}")
    print(
        f"- queued sessions (saw a position, then their result): {len(queued)}: "
        f"{verdict(bool(queued) and all(o.result for o in queued))}"
    )
    if tracebacks:
        print("\nServer log (last 3000 characters):\n" + server_log[-3000:])
    passed = not oom_kills and alive and not tracebacks and not errors and all(o.result for o in outcomes) and queued
    print(f"\nSOAK {'PASSED' if passed else 'FAILED'}")
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
