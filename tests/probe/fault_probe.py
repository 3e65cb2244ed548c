"""The fault probe: over 300 bad inputs and faults across the CLI, shared links, the run store, data files and
uploads, reports, job records, hostile text on the pages, a full disk and hosted mode, each checked for a clean answer,
and a table of tried / clean / failed per family.

Run by hand from the repository root (it is a measurement, like `tests/load/soak.py`, not a pytest test: it takes
minutes, starts subprocesses and, for the read-only cache and the full disk, mount namespaces as root):

    python -m tests.probe.fault_probe                        # every family
    python -m tests.probe.fault_probe --family store         # some families (repeatable)
    python -m tests.probe.fault_probe --match 'FIFO|fifo'    # only cases whose "family: name" matches a regex
    python -m tests.probe.fault_probe --json                 # one JSON object: every case and the table

A case fails when the product crashes (an uncaught exception, a traceback, "unexpected ..."), hangs past the case's
timeout, silently substitutes (accepts what it then loses, reads a value as another without a word), or renders
hostile text as markup. "Clean" means: a one-line `error: ...` from the CLI with exit code 2 (argparse's own usage
error counts), a notice on the page that names the value, a record flagged and skipped, or a sound result; nothing
bad stored, nothing bad served. The cases live beside this file: `input_faults` (cli, links), `store_faults`,
`dataset_faults` (data, uploads), `output_faults` (reports, jobs, text, diskfull), `hosted_faults`; `fixtures` holds
what they share.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

from tests.probe.fixtures import Case, Outcome

FAMILIES = ("cli", "links", "store", "data", "uploads", "reports", "jobs", "text", "diskfull", "hosted", "classroom")
CASE_TIMEOUT_S = 300.0  # the slowest clean case (a training in a subprocess) takes well under a minute


def build_cases(family: str, work: Path) -> list[Case]:
    from tests.probe import (
        classroom_faults,
        dataset_faults,
        hosted_faults,
        input_faults,
        output_faults,
        store_faults,
    )

    builders = {
        "cli": lambda: input_faults.cli_cases(work) + input_faults.file_argument_cases(work),
        "links": lambda: input_faults.link_cases() + input_faults.page_link_cases(),
        "store": lambda: store_faults.store_cases(work) + store_faults.store_hazard_cases(work),
        "data": lambda: dataset_faults.data_cases(work),
        "uploads": lambda: dataset_faults.upload_cases(work),
        "reports": lambda: output_faults.report_cases(work),
        "jobs": lambda: output_faults.job_cases(work),
        "text": lambda: output_faults.text_cases(work),
        "diskfull": lambda: output_faults.diskfull_cases(work),
        "hosted": lambda: hosted_faults.hosted_cases(work),
        "classroom": lambda: classroom_faults.classroom_cases(work),
    }
    return builders[family]()


def run_case(case: Case, timeout: float) -> str:
    """The case's problem ("" when clean); a case still running after `timeout` seconds is a hang. It runs in a
    daemon thread, so a hung reader is left behind and the probe goes on."""
    result: list[str] = []

    def target() -> None:
        try:
            result.append(case.check())
        except Exception as error:  # noqa: BLE001 - an escaping exception is a failed case
            result.append(f"escaped {type(error).__name__}: {str(error)[:200]}")

    worker = threading.Thread(target=target, daemon=True, name=f"probe {case.name}")
    stdout, stderr = sys.stdout, sys.stderr
    worker.start()
    worker.join(timeout)
    sys.stdout, sys.stderr = stdout, stderr  # a hung case may hold them redirected to its own buffers
    return f"hung: no answer after {timeout:.0f} s" if worker.is_alive() else result[0]


def summary_table(outcomes: list[Outcome], families: list[str]) -> str:
    lines = ["| family | tried | clean | failed |", "| --- | ---: | ---: | ---: |"]
    for family in families:
        mine = [o for o in outcomes if o.case.family == family]
        if mine:
            failed = sum(1 for o in mine if o.problem)
            lines.append(f"| {family} | {len(mine)} | {len(mine) - failed} | {failed} |")
    failed = sum(1 for o in outcomes if o.problem)
    lines.append(f"| all | {len(outcomes)} | {len(outcomes) - failed} | {failed} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--family", action="append", choices=FAMILIES, help="only these families (repeatable)")
    parser.add_argument("--match", metavar="PATTERN", help='only cases whose "family: name" matches this regex')
    parser.add_argument("--timeout", type=float, default=CASE_TIMEOUT_S, help="seconds before a case counts as hung")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of lines and a table")
    parser.add_argument("--verbose", action="store_true", help="one line per case, clean ones too")
    args = parser.parse_args(argv)
    pattern = re.compile(args.match, re.IGNORECASE) if args.match else None
    families = args.family or list(FAMILIES)
    work = Path(tempfile.mkdtemp(prefix="digitlab-probe-"))
    for variable in ("DIGIT_LAB_HOSTED", "DIGIT_LAB_MNIST_DIR", "DIGIT_LAB_FASHION_MNIST_DIR"):
        os.environ.pop(variable, None)
    home = work / "home"
    home.mkdir()
    os.environ["HOME"] = str(home)  # no Keras download cache: mnist is unavailable, as on a fresh server
    outcomes: list[Outcome] = []
    try:
        for family in families:
            os.environ["DIGIT_LAB_CACHE"] = str(work / f"{family}-cache")
            for case in build_cases(family, work):
                if pattern and not pattern.search(f"{case.family}: {case.name}"):
                    continue
                started = time.perf_counter()
                problem = run_case(case, args.timeout)
                outcomes.append(Outcome(case, problem, time.perf_counter() - started))
                if not args.json and (args.verbose or problem):
                    mark = "FAILED" if problem else "clean "
                    print(f"{mark} {case.family:<8} {case.name}" + (f": {problem}" if problem else ""), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    table = summary_table(outcomes, families)
    if args.json:
        report = {
            "cases": [
                {
                    "family": o.case.family,
                    "name": o.case.name,
                    "clean": not o.problem,
                    "problem": o.problem,
                    "seconds": round(o.seconds, 2),
                }
                for o in outcomes
            ],
            "table": [
                {
                    "family": f,
                    "tried": len(m),
                    "clean": sum(not o.problem for o in m),
                    "failed": sum(bool(o.problem) for o in m),
                }
                for f in families
                if (m := [o for o in outcomes if o.case.family == f])
            ],
        }
        print(json.dumps(report, indent=1))
    else:
        print()
        print(table)
    return 1 if any(o.problem for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
