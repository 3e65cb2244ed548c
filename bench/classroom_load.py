"""A class at once: one hosted server in a 2.7 GB memory cgroup, one challenge, N students each submitting once.

One `streamlit run dashboard/Home.py` with `DIGIT_LAB_HOSTED=1` starts in a child memory cgroup limited to 2.7 GB
(bench/hosted_soak.py's `MemoryCgroup`: the shell that starts it writes its pid into `cgroup.procs`, then execs the
server). This process creates one open-joining challenge on the bundled `digits` with the engine the CLI calls
(`engine.classroom.service.create_challenge`; small locks: at most 2 epochs and 400 training images, students may
change epochs and seed), in a SQLite database and a run cache in a temporary folder that the server shares. Then,
all at once:

- `--browsers` students (default 20) each drive a headless Chromium on the server's Classroom page: open the join
  link, type a display name, Join, set their seed, Submit, and wait for "Public accuracy";
- the rest join and submit through the same engine path (`service.join` + `service.submit`) in a pool of worker
  processes (`--workers`, default 3), so they contend for the database and the run store as separate clients do.

Students pick seeds from a small set (`--seeds`, default 30), so some submissions are identical and the run store
trains them once. Recorded per student: seconds from Submit to the score, the queue positions they were shown (the
page's "Queue position" text; on the engine path `service.queue_position` polled while the submission waits, and
the position at the first progress event, as the page computes it), whether it was answered from the store, and
errors. At the end: tracebacks in the server log, the cgroup's peak usage, failcnt and OOM kills, and how many
trainings the run store deduplicated (scored submissions minus distinct runs, read from the database).

    python -m bench.classroom_load                          # 100 students, 20 browsers (about 5-10 minutes here)
    python -m bench.classroom_load --students 6 --browsers 2 --json
    python -m bench.classroom_load --database-url "$(python -m tests.postgres_server start /tmp/pg)"   # PostgreSQL

Run as root for the cgroup; where it cannot be made the run says so and goes on uncapped. `--ray` starts a two-node
Ray cluster on this machine (1 CPU per node) and sets DIGIT_LAB_EXECUTOR=ray and RAY_ADDRESS, so every submission
trains through a job driver on the cluster; on 2 cores, run it with few students (`--students 6 --browsers 0`).
Bounded: every wait has
a deadline (`--minutes`); browsers, workers, server and cgroup are removed at the end; loopback only.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import json
import math
import multiprocessing
import os
import random
import re
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import bench._common  # noqa: F401  (quiets TensorFlow before it is imported)
from bench._common import ROOT, rss_mib, table, temp_cache, verdict

LIMIT_BYTES = 2_700_000_000  # Streamlit Community Cloud's memory for an app, about 2.7 GB
POLL = 0.5  # seconds between looks at a page or at the queue
MAX_EPOCHS, MAX_TRAIN = 2, 400  # the challenge's locks: small, so a class of 100 scores within minutes on 2 cores
QUEUE_TEXT = re.compile(r"Queue position: (\d+)")
SCORE_TEXT = "Public accuracy"
CACHED_TEXT = "an identical submission was trained before"
BROWSERS_STARTING = 3  # Chromiums starting and joining at once; twenty at once on 2 cores time out their drivers


# ------------------------------------------------------------------------------------------------ pure parts


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=100, help="students in the class (default 100)")
    parser.add_argument("--browsers", type=int, default=20, help="of them, through real browsers (default 20)")
    parser.add_argument("--workers", type=int, default=3, help="worker processes for the engine-path students (2-4)")
    parser.add_argument("--seeds", type=int, default=30, help="students pick seeds from 0..N-1 (default 30)")
    parser.add_argument("--minutes", type=float, default=9.0, help="deadline for the whole class (default 9)")
    parser.add_argument("--json", action="store_true", help="also write bench/results/classroom_load-<date>.json")
    parser.add_argument(
        "--ray",
        action="store_true",
        help="train the submissions on a two-node Ray cluster started here (1 CPU each); try with few --students",
    )
    parser.add_argument(
        "--database-url",
        help="the classroom's database (e.g. the PostgreSQL URL `python -m tests.postgres_server start DIR` prints; "
        "it should be empty); default: a SQLite file in the bench's temporary folder",
    )
    args = parser.parse_args(argv)
    if args.students < 1 or not 0 <= args.browsers <= args.students:
        parser.error(f"--browsers must be between 0 and --students ({args.students}); got {args.browsers}")
    if not 1 <= args.workers <= 8 or args.seeds < 1 or args.minutes <= 0:
        parser.error("--workers must be 1-8, --seeds at least 1 and --minutes positive")
    return args


def cpu_model(cpuinfo: str) -> str:
    """The CPU as /proc/cpuinfo names it; some kernels name no model, and then the vendor is all that is known."""
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    if fields.get("model name"):
        return fields["model name"]
    vendor = fields.get("vendor_id", "")
    if vendor == "AuthenticAMD":
        return "AMD EPYC (model not named by the kernel)"
    return f"{vendor} (model not named by the kernel)" if vendor else "unknown CPU (no model in /proc/cpuinfo)"


def percentile(values: list[float], q: float) -> float | None:
    """The nearest-rank percentile (the smallest value with at least q% of the values at or below it)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


@dataclass
class Student:
    index: int
    name: str
    seed: int
    path: str  # "browser" | "engine"
    seconds_to_score: float | None = None
    positions: list[int] = field(default_factory=list)  # queue positions shown while waiting, in order
    cached: bool | None = None  # answered from the run store (an identical submission trained before)
    run_id: str = ""
    errors: list[str] = field(default_factory=list)


def summarise(
    students: list[Student],
    *,
    tracebacks: int,
    scored_submissions: int,
    distinct_runs: int,
    memory: dict,
    wall_seconds: float,
    cpu: str,
    notes: list[str],
) -> dict:
    """The run's figures as one JSON-ready dict (what the printout and --json show)."""
    times = [s.seconds_to_score for s in students if s.seconds_to_score is not None]

    def spread(group: list[Student]) -> dict:
        values = [s.seconds_to_score for s in group if s.seconds_to_score is not None]
        return {
            "p50": percentile(values, 50),
            "p95": percentile(values, 95),
            "max": max(values) if values else None,
        }

    browsers = [s for s in students if s.path == "browser"]
    engine = [s for s in students if s.path == "engine"]
    trained = [s for s in students if s.cached is False]
    return {
        "cpu": cpu,
        "students": len(students),
        "browser_sessions": len(browsers),
        "engine_students": len(engine),
        "scored": len(times),
        "errors": sum(len(s.errors) for s in students),
        "students_with_errors": sum(bool(s.errors) for s in students),
        "server_tracebacks": tracebacks,
        "oom": bool(memory.get("oom_kills")),
        **memory,
        "seconds_to_score": {**spread(students), "browser": spread(browsers), "engine": spread(engine)},
        "saw_queue_position": sum(bool(s.positions) for s in students),
        "saw_queue_position_of_trained": sum(bool(s.positions) for s in trained),
        "trained_submissions": len(trained),
        "cached_submissions": sum(s.cached is True for s in students),
        "scored_submissions_in_database": scored_submissions,
        "distinct_runs_trained": distinct_runs,
        "deduplicated_trainings": scored_submissions - distinct_runs,
        "wall_seconds": round(wall_seconds, 1),
        "notes": notes,
        "per_student": [asdict(s) for s in students],
    }


def report(summary: dict) -> str:
    """The summary as the Markdown the README quotes."""

    def sec(value: float | None) -> str:
        return "—" if value is None else f"{value:.1f}"

    times = summary["seconds_to_score"]
    rows = [
        [label, sec(part["p50"]), sec(part["p95"]), sec(part["max"])]
        for label, part in (
            ("all students", times),
            ("browser sessions", times["browser"]),
            ("engine path", times["engine"]),
        )
    ]
    peak = summary.get("cgroup_peak_mb")
    lines = [
        f"CPU: {summary['cpu']}",
        "",
        table(["seconds from Submit to score", "p50", "p95", "max"], rows),
        "",
        f"- students: {summary['students']} ({summary['browser_sessions']} browser sessions, "
        f"{summary['engine_students']} on the engine path); scored: {summary['scored']}",
        f"- errors: {summary['errors']} (students with errors: {summary['students_with_errors']}): "
        f"{verdict(summary['errors'] == 0)}",
        f"- tracebacks in the server log: {summary['server_tracebacks']}: {verdict(summary['server_tracebacks'] == 0)}",
        f"- OOM: {'yes' if summary['oom'] else 'no'} (oom_kill {summary.get('oom_kills', '—')}, "
        f"failcnt {summary.get('failcnt', '—')}): {verdict(not summary['oom'])}",
        f"- peak server memory: cgroup {'—' if peak is None else f'{peak:,.0f} MB'} of "
        f"{summary.get('cgroup_limit_mb') or '— (uncapped)'} MB; server VmHWM {sec(summary.get('server_vmhwm_mb'))} MB",
        f"- queue position seen: {summary['saw_queue_position']} of {summary['students']} students "
        f"({summary['saw_queue_position_of_trained']} of the {summary['trained_submissions']} "
        "whose submission trained)",
        f"- deduplicated trainings: {summary['deduplicated_trainings']} of {summary['scored_submissions_in_database']} "
        f"scored submissions ({summary['distinct_runs_trained']} distinct runs trained; "
        f"{summary['cached_submissions']} students were told theirs was answered from the store)",
        f"- wall time: {summary['wall_seconds']:.0f} s",
    ]
    lines += [f"- {note}" for note in summary["notes"]]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------ Ray


def start_cluster(notes: list[str]) -> list:
    """`--ray`: a two-node Ray cluster on this machine (`ray start --head` and one `ray start --address`, 1 CPU
    each, own ports and temp folders), and the environment an operator sets so the class's submissions train there
    through job drivers: DIGIT_LAB_EXECUTOR=ray, RAY_ADDRESS, DIGIT_LAB_ALLOW_RAY=1 (hosted mode offers no Ray
    without it). The server and the engine-path workers inherit it. Returns the nodes, for `stop_cluster`."""
    from tests.executors.ray_cluster import NO_AUTH, start_node, stop_node

    started = time.monotonic()
    head = start_node(1)
    try:
        worker = start_node(1, head_address=head.address)
    except BaseException:
        stop_node(head)
        raise
    os.environ.update({**NO_AUTH, "DIGIT_LAB_EXECUTOR": "ray", "RAY_ADDRESS": head.address, "DIGIT_LAB_ALLOW_RAY": "1"})
    notes.append(
        f"--ray: two Ray nodes on this machine (head {head.address} + one worker node, 1 CPU each) started in "
        f"{time.monotonic() - started:.0f} s; DIGIT_LAB_EXECUTOR=ray, so every submission trains in a job driver "
        "process on the cluster and the server (or worker process) scores it; the hosted server's training slots "
        "still count each task in flight"
    )
    return [head, worker]


def stop_cluster(nodes: list) -> None:
    from tests.executors.ray_cluster import stop_node

    for node in reversed(nodes):
        stop_node(node)


def job_states(cache: Path) -> dict[str, int]:
    """How the class's training jobs ended (`--ray`), read from their status files."""
    from engine.jobs import job_status

    states: dict[str, int] = {}
    for folder in sorted((cache / "jobs").glob("*")):
        try:
            state = job_status(folder.name).state
        except Exception:  # noqa: BLE001 - a malformed job folder is counted, not fatal
            state = "unreadable"
        states[state] = states.get(state, 0) + 1
    return states


def worker_budget(challenge_id: str, record) -> tuple[int, float]:
    """(the hosted memory budget in MB, the runtime MB the ledger charges each training process for this challenge)."""
    from engine.classroom.scoring import SubmissionRequest, build_locked_request, public_view
    from engine.classroom.service import challenge_data
    from engine.limits import server_limits
    from engine.memory_estimate import estimate_training

    dataset, split = challenge_data(record.spec)
    view = public_view(dataset, split, challenge_id)
    locked = build_locked_request(record.spec, view, SubmissionRequest({"epochs": MAX_EPOCHS, "seed": 0}))
    need = estimate_training(locked.spec, locked.config, len(view.x_train), len(view.x_test))
    return server_limits().memory_budget_mb, need.runtime_mb


# ------------------------------------------------------------------------------------------------ engine-path students


def engine_student(challenge_id: str, join_token: str, student: Student, deadline: float) -> Student:
    """One student in a worker process: join, submit once, watch the queue while waiting (runs in the pool)."""
    from engine.classroom import service

    try:
        joined = service.join(challenge_id, join_token, student.name)
        done = threading.Event()

        def watch() -> None:  # what a client polling its position would be told while it waits
            while not done.is_set() and time.time() < deadline:
                with contextlib.suppress(Exception):  # a read that races the submission's own writes: look again
                    waiting = service.waiting_submission(challenge_id, joined.token)
                    if waiting:
                        position = service.queue_position(challenge_id, waiting)
                        if not student.positions or student.positions[-1] != position:
                            student.positions.append(position)
                done.wait(POLL)

        def placed(position: int) -> None:  # what the page shows, as soon as the submission has its slot
            if not student.positions or student.positions[-1] != position:
                student.positions.append(position)

        watcher = threading.Thread(target=watch, daemon=True)
        started = time.monotonic()
        watcher.start()
        try:
            outcome = service.submit(
                challenge_id, joined.token, {"epochs": MAX_EPOCHS, "seed": student.seed}, placed=placed
            )
        finally:
            done.set()
            watcher.join(5)
        student.seconds_to_score = time.monotonic() - started
        student.cached, student.run_id = outcome.cached, outcome.run_id
        if outcome.status != "scored" or outcome.public_score is None:
            student.errors.append(f"submission {outcome.status}: {outcome.message}"[:300])
    except Exception as error:  # noqa: BLE001 - a load run records every failure
        student.errors.append(f"{type(error).__name__}: {error}"[:300])
    return student


# ------------------------------------------------------------------------------------------------ browser students


def page_problems(driver) -> list[str]:
    found = [e.text[:200] for e in driver.find_elements("css selector", "[data-testid='stException']")]
    found += [e.text[:200] for e in driver.find_elements("css selector", "[data-testid='stAlertContentError']")]
    return found


@dataclass
class Gate:
    """Browsers join a few at a time (Chromium's start-up alone saturates two cores), then all submit together."""

    starting: threading.Semaphore
    ready: threading.Semaphore  # released once per browser when it has joined (or failed to)
    go: threading.Event  # set when every browser is ready: the class submits


def browser_student(
    url: str, challenge_id: str, join_token: str, student: Student, deadline: float, gate: Gate
) -> None:
    """One student in headless Chromium on the Classroom page: join link, name, Join, seed, Submit, the score."""
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    from bench.live_app import browser

    def wait(condition):
        return WebDriverWait(driver, max(1.0, deadline - time.time()), poll_frequency=POLL).until(condition)

    def body(d) -> str:
        return d.find_element("tag name", "body").text

    def press(label: str) -> None:
        button = wait(lambda d: d.find_element("xpath", f"//button[normalize-space(.)='{label}' and not(@disabled)]"))
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", button)
        button.click()

    driver = None
    stage = "start Chromium"
    joined = False
    try:
        with gate.starting:
            driver = browser()
            stage = "open the join link"
            driver.get(f"{url}/classroom?challenge={challenge_id}&join={join_token}")
            name_box = wait(lambda d: d.find_element("css selector", "input[aria-label='Display name']"))
            name_box.send_keys(student.name)
            stage = "join"
            press("Join")
            wait(lambda d: "Signed in as" in body(d))
            stage = "set the seed"
            seed_box = wait(lambda d: d.find_element("css selector", "input[aria-label='Seed']"))
            seed_box.send_keys(Keys.CONTROL, "a")
            seed_box.send_keys(str(student.seed), Keys.TAB)  # Tab, not Enter: the value is kept, the form not sent
        joined = True
        gate.ready.release()
        gate.go.wait(max(1.0, deadline - time.time()))
        stage = "submit"
        press("Submit")
        started = time.monotonic()
        while time.time() < deadline:
            text = body(driver)
            for position in QUEUE_TEXT.findall(text):
                if not student.positions or student.positions[-1] != int(position):
                    student.positions.append(int(position))
            problems = page_problems(driver)
            if problems:
                student.errors += problems
                return
            if SCORE_TEXT in text:
                student.seconds_to_score = time.monotonic() - started
                student.cached = CACHED_TEXT in text
                kept = driver.find_element("css selector", "input[aria-label='Seed']").get_attribute("value")
                if kept != str(student.seed):
                    student.errors.append(f"the seed typed was {student.seed}, the form holds {kept}")
                return
            time.sleep(POLL)
        student.errors.append("no score before the deadline")
    except Exception as error:  # noqa: BLE001 - a load run records every failure
        first_line = str(error).splitlines()[0] if str(error) else ""
        student.errors.append(f"{stage}: {type(error).__name__}: {first_line}"[:300])
    finally:
        if not joined:
            gate.ready.release()
        if driver is not None:
            with contextlib.suppress(Exception):
                driver.quit()


# ------------------------------------------------------------------------------------------------ the run


def read_cpu() -> str:
    try:
        return cpu_model(Path("/proc/cpuinfo").read_text(errors="replace"))
    except OSError:
        return "unknown CPU (/proc/cpuinfo unreadable)"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from bench.hosted_soak import CgroupUnavailable, MemoryCgroup
    from bench.live_app import CHROMIUM, DRIVER, start_server, stop_server, wait_healthy

    cpu = read_cpu()
    print(f"# A class at once: {args.students} students ({args.browsers} in browsers) on one hosted server")
    print(f"CPU: {cpu} · {os.cpu_count()} cores · started {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
    notes: list[str] = []
    browsers = args.browsers
    if browsers and not (CHROMIUM and DRIVER):
        notes.append(f"chromium/chromedriver are not installed: the {browsers} browser students use the engine path")
        browsers = 0

    work = Path(temp_cache("digitlab-classroom-load-"))  # removed when this process exits
    cache, database = work / "cache", args.database_url or f"sqlite:///{work / 'classroom.db'}"
    print(f"Database: {database.split(':', 1)[0]} ({'given' if args.database_url else 'a temporary SQLite file'})\n")
    # This process, its workers (spawned: they inherit it) and the server share the database and the run cache.
    os.environ.update({"DIGIT_LAB_CACHE": str(cache), "DIGIT_LAB_DATABASE_URL": database, "DIGIT_LAB_HOSTED": "1"})
    from engine.classroom import service
    from engine.classroom.spec import ChallengeLimits, ChallengeSpec

    limits = ChallengeLimits(max_epochs=MAX_EPOCHS, max_train=MAX_TRAIN, editable=("epochs", "seed"))
    created = service.create_challenge(ChallengeSpec("digits", "Class load test", limits=limits), open_joining=True)
    challenge_id = created.challenge_id
    join_token = parse_qs(urlparse(created.student_link).query)["join"][0]
    budget, runtime_mb = worker_budget(challenge_id, service.classroom_db().get_challenge(challenge_id))
    extra = args.workers * runtime_mb
    os.environ["DIGIT_LAB_MEMORY_MB"] = str(budget + math.ceil(extra))
    notes.append(
        f"memory budget: the training ledger under the cache is machine-wide, and each engine-path worker keeps "
        f"TensorFlow's runtime ({runtime_mb:,.0f} MB estimated) charged to it while it lives, outside the server's "
        f"cgroup; so every process's DIGIT_LAB_MEMORY_MB is the hosted default {budget:,} MB + {args.workers} x "
        f"{runtime_mb:,.0f} MB = {os.environ['DIGIT_LAB_MEMORY_MB']} MB, leaving the server the hosted default for "
        f"its own runtime and the class's trainings (without it the workers' runtimes fill the budget and the "
        f"server's trainings wait forever)"
    )

    nodes = start_cluster(notes) if args.ray else []
    try:
        cgroup: MemoryCgroup | None = MemoryCgroup(LIMIT_BYTES, f"digitlab-classroom-{os.getpid()}")
    except CgroupUnavailable as reason:
        cgroup = None
        notes.append(f"no memory cgroup: {reason}; the server runs uncapped")
    log_path = work / "streamlit.log"
    server, url = start_server(
        str(cache),
        str(log_path),
        env={"DIGIT_LAB_HOSTED": "1", "DIGIT_LAB_DATABASE_URL": database, "PYTHONPATH": str(ROOT)},
        wrap=cgroup.wrap if cgroup else None,
    )
    rng = random.Random(20261206)
    students = [
        Student(i, f"{'Browser' if i < browsers else 'Engine'} student {i + 1}", rng.randrange(args.seeds), "")
        for i in range(args.students)
    ]
    for student in students:
        student.path = "browser" if student.index < browsers else "engine"
    memory: dict = {}
    started = time.monotonic()
    alive = False
    try:
        wait_healthy(url, server, timeout=120, poll=0.5)
        if cgroup is not None:
            in_cgroup = str(server.pid) in (cgroup.path / "cgroup.procs").read_text().split()
            notes.append(
                f"server pid {server.pid} {'in' if in_cgroup else 'NOT in'} {cgroup.path} "
                f"(cgroup v{cgroup.version}, limit {cgroup.limit:,} B)"
            )
        started = time.monotonic()
        deadline = time.time() + args.minutes * 60
        engine_students = [s for s in students if s.path == "engine"]
        gate = Gate(threading.Semaphore(BROWSERS_STARTING), threading.Semaphore(0), threading.Event())
        threads = [
            threading.Thread(
                target=browser_student, args=(url, challenge_id, join_token, s, deadline, gate), daemon=True
            )
            for s in students
            if s.path == "browser"
        ]
        for thread in threads:
            thread.start()
        for _ in threads:  # every browser has joined and set its seed (or failed): then the whole class submits
            gate.ready.acquire(timeout=max(1.0, deadline - time.time()))
        joined_at = time.monotonic()
        notes.append(f"{len(threads)} browsers joined, {BROWSERS_STARTING} at a time, in {joined_at - started:.0f} s")
        gate.go.set()
        pool = concurrent.futures.ProcessPoolExecutor(args.workers, mp_context=multiprocessing.get_context("spawn"))
        futures: dict[concurrent.futures.Future, int] = {}
        try:
            futures = {
                pool.submit(engine_student, challenge_id, join_token, s, deadline): s.index for s in engine_students
            }
            for future in concurrent.futures.as_completed(futures, timeout=max(1.0, deadline - time.time() + 60)):
                index = futures[future]
                try:
                    students[index] = future.result()
                except Exception as error:  # noqa: BLE001 - a worker that died is an error, not the end of the run
                    students[index].errors.append(f"worker: {type(error).__name__}: {error}"[:300])
        except concurrent.futures.TimeoutError:
            for future, index in futures.items():
                if not future.done():
                    students[index].errors.append("no result before the deadline")
        finally:
            # A worker still blocked past the deadline would keep this process from exiting: end it by its pid.
            stuck = [process for process in (getattr(pool, "_processes", None) or {}).values() if process.is_alive()]
            pool.shutdown(wait=False, cancel_futures=True)
            if any(not future.done() for future in futures):
                for process in stuck:
                    process.terminate()
        for thread in threads:
            thread.join(max(1.0, deadline - time.time() + 30))
        wall = time.monotonic() - started
        alive = server.poll() is None
        if alive:
            memory["server_vmhwm_mb"] = rss_mib(server.pid, "VmHWM") * 2**20 / 1e6
    finally:
        wall = time.monotonic() - started
        stop_server(server)
        stop_cluster(nodes)
    if cgroup is not None:
        memory.update(
            cgroup_limit_mb=round(cgroup.limit / 1e6),
            cgroup_peak_mb=cgroup.peak_bytes() / 1e6,
            failcnt=cgroup.failcnt(),
            oom_kills=cgroup.oom_kills(),
        )
        cgroup.remove()
    memory["server_alive_at_end"] = alive

    records = service.classroom_db(database).submissions(challenge_id)
    scored = [r for r in records if r.status == "scored"]
    server_log = log_path.read_text(errors="replace")
    summary = summarise(
        students,
        tracebacks=server_log.count("Traceback"),
        scored_submissions=len(scored),
        distinct_runs=len({r.run_id for r in scored}),
        memory=memory,
        wall_seconds=wall,
        cpu=cpu,
        notes=notes,
    )
    summary.update(
        date=time.strftime("%Y-%m-%d %H:%M:%S"),
        workers=args.workers,
        seeds=args.seeds,
        locks={"max_epochs": MAX_EPOCHS, "max_train": MAX_TRAIN, "editable": ["epochs", "seed"]},
        submissions_in_database=len(records),
        submissions_by_status={s: sum(r.status == s for r in records) for s in {r.status for r in records}},
        executor="ray (two nodes, 1 CPU each)" if args.ray else "local (the server's own training queue)",
        ray_jobs=job_states(cache) if args.ray else None,
    )
    print(report(summary))
    if args.ray:
        print(f"\nTraining jobs on the Ray cluster, by how they ended: {summary['ray_jobs']}")
    failing = [s for s in students if s.errors]
    if failing:
        print("\nErrors (first 10 students):")
        for s in failing[:10]:
            print(f"- {s.name} ({s.path}): {'; '.join(s.errors)}")
    if summary["server_tracebacks"]:
        print("\nServer log (last 3000 characters):\n" + server_log[-3000:])
    if args.json:
        out = ROOT / "bench" / "results" / f"classroom_load-{time.strftime('%Y%m%d-%H%M')}.json"
        out.write_text(json.dumps(summary, indent=2) + "\n")
        print(f"\nWrote {out.relative_to(ROOT)}")
    passed = summary["errors"] == 0 and not summary["server_tracebacks"] and not summary["oom"] and alive
    print(f"\nCLASS LOAD {'PASSED' if passed else 'FAILED'}")
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
