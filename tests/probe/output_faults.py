"""What the product writes and shows from stored things: reports of runs whose stored numbers or names are odd
(family `reports`), job and sweep records tampered with (family `jobs`), hostile text in stored names and job
messages on the pages (family `text`), and a full disk (family `diskfull`: a small tmpfs filled up, in a mount
namespace, so this needs root on Linux)."""

from __future__ import annotations

import ast
import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tests.probe.fixtures import (
    HAZARDS,
    HOSTILE,
    ROOT,
    Case,
    cli_in_process,
    copy_of_trained,
    edit_meta,
    one_line_error,
    page_problem,
    plant,
    remanifest,
    trained_cache,
)

RAW_MARKUP = ("<img src=x", "<b>b</b>", "](http://evil.example")


def notebook_problem(path: Path) -> str:
    """A notebook is sound when every code cell parses and names no bare `nan`/`inf` (written for a non-finite
    number, they end in NameError when run), and no Markdown cell carries the planted markup unescaped."""
    notebook = json.loads(path.read_text())
    for cell in notebook["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "code":
            try:
                tree = ast.parse(source)
            except SyntaxError as error:
                return f"a code cell does not parse: {error}"
            names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
            if names & {"nan", "inf", "NaN", "Infinity"}:
                return f"a code cell uses bare {sorted(names & {'nan', 'inf', 'NaN', 'Infinity'})}"
        elif any(raw in source for raw in RAW_MARKUP):
            return f"planted markup in a Markdown cell: {source[:120]!r}"
    return ""


def html_problem(path: Path) -> str:
    text = path.read_text(errors="replace")
    for raw in RAW_MARKUP[:2]:
        if raw in text:
            return f"planted HTML {raw!r} is in the report unescaped"
    return ""


def report_cases(work: Path) -> list[Case]:
    """`report` on a run whose stored numbers or names no trainer writes (the manifest remade to match): a report
    that is sound (notebook code parses, no bare nan; planted markup escaped) or a one-line refusal."""

    def case(name: str, tamper: Callable[[Path], None], fmt: str) -> Case:
        def check() -> str:
            cache, run_id = copy_of_trained(work, f"report {name} {fmt}")
            tamper(cache / "runs" / run_id)
            out = cache / f"report.{fmt}"
            code, _, err = cli_in_process("report", run_id, "--format", fmt, "--output", str(out), "--json")
            if code != 0:
                return one_line_error(code, err)
            if "Traceback" in err:
                return f"traceback: {err[-200:]}"
            return notebook_problem(out) if fmt == "ipynb" else html_problem(out)

        return Case("reports", f"{name} ({fmt})", check)

    def history(value: object) -> Callable[[Path], None]:
        def tamper(folder: Path) -> None:
            (folder / "history.json").write_text(json.dumps(value))
            remanifest(folder)

        return tamper

    def meta(change: Callable[[dict], None]) -> Callable[[Path], None]:
        return lambda folder: edit_meta(folder, change)

    tampers = {
        "meta test accuracy NaN": meta(lambda m: m["metrics"].update(test_accuracy=float("nan"))),
        "meta test loss inf": meta(lambda m: m["metrics"].update(test_loss=float("inf"))),
        "history epochs are numbers": history({"epochs": [1, 2]}),
        "history loss NaN": history({"epochs": [{"epoch": 1, "loss": float("nan"), "accuracy": 0.5}]}),
        "history with no epochs": history({"epochs": []}),
        "history is a list": history([{"epoch": 1}]),
        "hostile class names": meta(lambda m: m.update(class_names=[f"{HOSTILE} {i}" for i in range(10)])),
        "hostile warnings": meta(lambda m: m.update(warnings=[HOSTILE])),
    }
    cases = [case(name, tamper, fmt) for name, tamper in tampers.items() for fmt in ("ipynb", "html")]

    def sweep_report(hazard: str) -> Case:
        def check() -> str:
            from engine.sweeps.runner import SWEEP_ID_LENGTH, sweep_dir

            cache, _ = copy_of_trained(work, f"sweep report {hazard}")
            sweep_id = "c" * SWEEP_ID_LENGTH
            folder = sweep_dir(sweep_id)
            folder.mkdir(parents=True)
            (folder / "study.db").write_bytes(b"")
            (folder / "request.json").write_text('{"fingerprint": "x", "request": {}}')
            plant(folder / "request.json", hazard)
            code, _, err = cli_in_process(
                "report", "--sweep", sweep_id, "--format", "html", "--output", str(cache / "s.html")
            )
            return one_line_error(code, err)

        return Case("reports", f"report --sweep whose request is {hazard}", check)

    cases += [sweep_report(hazard) for hazard in HAZARDS]
    return cases


def job_cases(work: Path) -> list[Case]:
    """`job status` on a job folder whose files were tampered with: one answer, at once; never a traceback."""
    from engine.jobs.records import job_dir

    job_id = "0123456789abcdef"
    valid_status = {"job_id": job_id, "state": "running", "runs": [], "message": "", "pid": 0, "attempt": 1}
    valid_request = {"kind": "cv", "noun": "fold", "title": "t", "executor": "local", "tasks": []}

    def case(name: str, files: dict[str, object]) -> Case:
        def check() -> str:
            os.environ["DIGIT_LAB_CACHE"] = str(work / f"jobs-{abs(hash(name))}")
            folder = job_dir(job_id)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "request.json").write_text(json.dumps(valid_request))
            (folder / "status.json").write_text(json.dumps(valid_status))
            for file, content in files.items():
                if isinstance(content, str) and content in HAZARDS:
                    plant(folder / file, content)
                else:
                    (folder / file).write_text(content if isinstance(content, str) else json.dumps(content))
            code, out, err = cli_in_process("job", "status", job_id, "--json")
            if code in (0, 1) and "Traceback" not in err and "unexpected" not in err:
                # 1 is a job that did not finish (here: its driver is gone), said in the status printed
                try:
                    return "" if json.loads(out).get("state") else f"no state in {out[:200]!r}"
                except ValueError:
                    return f"exit {code} without a JSON status: {out[:120]!r} {err[-160:]!r}"
            return one_line_error(code, err)

        return Case("jobs", name, check)

    cases = [
        case(f"{file} is {hazard}", {file: hazard}) for file in ("request.json", "status.json") for hazard in HAZARDS
    ]
    cases += [
        case("driver.pid is a fifo", {"driver.pid": "fifo"}),
        case("driver.pid is a dev-zero link", {"driver.pid": "dev-zero link"}),
        case("driver.log is a fifo", {"driver.log": "fifo"}),
        case("status runs not a list", {"status.json": {**valid_status, "runs": "x"}}),
        case("status unknown state", {"status.json": {**valid_status, "state": HOSTILE}}),
        case("status attempt NaN", {"status.json": json.dumps({**valid_status, "attempt": float("nan")})}),
        case("status pid negative", {"status.json": {**valid_status, "pid": -1}}),
        case("status 100,000 runs", {"status.json": {**valid_status, "runs": [{"label": "x"}] * 100_000}}),
        case("request unknown kind", {"request.json": {**valid_request, "kind": "rm -rf"}}),
        case("request tasks not a list", {"request.json": {**valid_request, "tasks": {"a": 1}}}),
        case("request 10,000 tasks", {"request.json": {**valid_request, "tasks": [{}] * 10_000}}),
        case("request hostile title", {"request.json": {**valid_request, "title": HOSTILE}}),
    ]
    return cases


def text_cases(work: Path) -> list[Case]:
    """Hostile text stored where pages show it (class names and warnings of a run, a job's message, title and noun):
    shown as text, never as a link, an image or HTML (an independent CommonMark renderer checks each body)."""
    from tests.dashboard.conftest import open_page

    def run_page(name: str, page: str, change: Callable[[dict], None], query: Callable[[str], dict]) -> Case:
        def check() -> str:
            cache, run_id = copy_of_trained(work, f"text {name}")
            edit_meta(cache / "runs" / run_id, change)
            return page_problem(open_page(page, query={"dataset": "digits", **query(run_id)}))

        return Case("text", name, check)

    def names(meta: dict) -> None:
        meta.update(class_names=[f"{HOSTILE} {i}" for i in range(10)], warnings=[HOSTILE])

    cases = [
        run_page("hostile class names and warnings on Home", "views/home.py", names, lambda r: {}),
        run_page("hostile class names on Evaluate", "views/evaluate.py", names, lambda r: {"run": r}),
        run_page(
            "hostile class names on Evaluate's confusion tab",
            "views/evaluate.py",
            names,
            lambda r: {"run": r, "tab": "Confusion matrix"},
        ),
        run_page("hostile class names on Compare", "views/compare.py", names, lambda r: {"runs": r}),
        run_page("hostile class names on Explain", "views/explain.py", names, lambda r: {"run": r}),
        run_page("hostile class names on Inspect", "views/inspect.py", names, lambda r: {"run": r}),
    ]

    def job_page(name: str, **planted: str) -> Case:
        def check() -> str:
            from engine.datasets import load_dataset
            from engine.jobs import JobRequest, RunState
            from engine.jobs.records import JobStatus, write_request, write_status
            from tests.dashboard.test_job_pages import default_fold_tasks

            copy_of_trained(work, f"job {name}")
            tasks = default_fold_tasks(load_dataset("digits"))
            job_id = "7" * 16
            request = JobRequest(
                "cv",
                planted.get("noun", "fold"),
                planted.get("title", "t"),
                "local",
                tuple(t.portable() for t in tasks),
            )
            write_request(job_id, request)
            runs = tuple(RunState(t.label, t.run_id, status="waiting", epoch=0, epochs=1) for t in tasks)
            write_status(
                JobStatus(job_id, "failed", runs, message=planted.get("message", "ended"), started=time.time())
            )
            return page_problem(open_page("views/crossval.py", {"dataset": "digits", "folds": "3", "job": job_id}))

        return Case("text", name, check)

    cases += [
        job_page("job panel: hostile message", message=HOSTILE),
        job_page("job panel: hostile title", title=HOSTILE),
        job_page("job panel: hostile noun", noun=HOSTILE),
    ]
    return cases


def diskfull_cases(work: Path) -> list[Case]:
    """A full disk under the cache: a 16 MB tmpfs holding a copy of the trained cache, filled to the last byte, in a
    mount namespace; the CLI runs in a subprocess there."""
    template, run_id = trained_cache(work)

    def full_disk(name: str, args: list[str], *, ok_codes: tuple[int, ...] = (0, 2), check_out=None) -> Case:
        def check() -> str:
            mount = work / f"full-{abs(hash(name))}"
            mount.mkdir()
            command = " ".join(
                shlex.quote(part)
                for part in [
                    sys.executable,
                    "-m",
                    "engine",
                    *({"RUN": run_id, "OUT": str(mount / "cache" / "r.html")}.get(a, a) for a in args),
                ]
            )
            script = (
                f"mount -t tmpfs -o size=16m none {shlex.quote(str(mount))} && "
                f"cp -a {shlex.quote(str(template))} {shlex.quote(str(mount / 'cache'))} && "
                f"(head -c 100M /dev/zero > {shlex.quote(str(mount / 'fill'))} 2>/dev/null; true) && exec {command}"
            )
            env = {**os.environ, "DIGIT_LAB_CACHE": str(mount / "cache"), "PYTHONPATH": str(ROOT)}
            done = subprocess.run(
                ["unshare", "-m", "sh", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=400
            )
            err = "\n".join(
                line
                for line in done.stderr.splitlines()
                if "error:" in line or "Traceback" in line or "unexpected" in line
            )
            if "Traceback" in done.stderr or "unexpected" in err:
                return f"not clean: {err[-240:] or done.stderr[-240:]}"
            if done.returncode not in ok_codes:
                return f"exit {done.returncode}: {done.stderr.strip()[-200:]}"
            if done.returncode == 2:
                return (
                    ""
                    if "space" in err.lower() or "full" in err.lower()
                    else f"message does not say the disk is full: {err[-200:]}"
                )
            return check_out(done.stdout) if check_out else ""

        return Case("diskfull", name, check)

    def shown_not_stored(out: str) -> str:
        result = json.loads(out)
        return (
            ""
            if result.get("stored") is False and result.get("store_problem")
            else f"expected shown, not stored: {out[:200]}"
        )

    return [
        full_disk(
            "train on a full disk shows the result, stores nothing",
            ["train", "--dataset", "digits", "--epochs", "1", "--limit-train", "200", "--seed", "7", "--json"],
            ok_codes=(0,),
            check_out=shown_not_stored,
        ),
        full_disk("report into the full disk", ["report", "RUN", "--format", "html", "--output", "OUT"]),
        full_disk("runs lists on a full disk", ["runs", "--json"], ok_codes=(0,)),
        full_disk(
            "calibration on a full disk (probe record not stored)", ["calibration", "RUN", "--json"], ok_codes=(0,)
        ),
    ]
