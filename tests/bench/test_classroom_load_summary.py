"""bench/classroom_load.py's pure parts, with no server: its arguments, the CPU line, the percentiles and the summary
it prints and writes. The expected values are worked out by hand from the hand-built inputs."""

from __future__ import annotations

import pytest

from bench.classroom_load import Student, cpu_model, parse_args, percentile, report, summarise


def test_defaults_are_the_issue_class_and_impossible_splits_are_refused():
    args = parse_args([])
    assert (args.students, args.browsers, args.workers, args.seeds) == (100, 20, 3, 30)
    assert not args.json and not args.ray
    small = parse_args(["--students", "6", "--browsers", "2", "--json"])
    assert (small.students, small.browsers, small.json) == (6, 2, True)
    with pytest.raises(SystemExit):
        parse_args(["--students", "5", "--browsers", "6"])  # more browsers than students
    with pytest.raises(SystemExit):
        parse_args(["--workers", "0"])


def test_cpu_line_names_the_model_or_says_the_kernel_named_none():
    assert cpu_model("vendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Processor\n") == (
        "Intel(R) Xeon(R) Processor"
    )
    assert cpu_model("vendor_id\t: AuthenticAMD\ncpu family\t: 25\n") == "AMD EPYC (model not named by the kernel)"
    assert cpu_model("vendor_id\t: GenuineIntel\n") == "GenuineIntel (model not named by the kernel)"
    assert cpu_model("") == "unknown CPU (no model in /proc/cpuinfo)"


def test_percentiles_are_nearest_rank():
    twenty = [float(v) for v in range(20, 0, -1)]  # 20..1, unsorted on purpose
    assert percentile(twenty, 50) == 10.0  # ceil(0.50 * 20) = 10th smallest
    assert percentile(twenty, 95) == 19.0  # ceil(0.95 * 20) = 19th smallest
    assert percentile([5.0, 1.0, 3.0], 50) == 3.0  # ceil(1.5) = 2nd smallest
    assert percentile([], 50) is None


def test_summary_counts_errors_positions_and_deduplicated_trainings():
    students = [
        Student(0, "a", 1, "browser", seconds_to_score=4.0, positions=[2, 1, 0], cached=False, run_id="r1"),
        Student(1, "b", 1, "engine", seconds_to_score=2.0, positions=[], cached=True, run_id="r1"),
        Student(2, "c", 2, "engine", seconds_to_score=6.0, positions=[0], cached=False, run_id="r2"),
        Student(3, "d", 3, "engine", errors=["no result before the deadline"]),
    ]
    summary = summarise(
        students,
        tracebacks=0,
        scored_submissions=3,
        distinct_runs=2,
        memory={"oom_kills": 0, "failcnt": 0, "cgroup_peak_mb": 900.0, "cgroup_limit_mb": 2700},
        wall_seconds=30.04,
        cpu="Test CPU",
        notes=["a note"],
    )
    assert (summary["students"], summary["browser_sessions"], summary["engine_students"]) == (4, 1, 3)
    assert (summary["scored"], summary["errors"], summary["students_with_errors"]) == (3, 1, 1)
    assert summary["oom"] is False
    assert summary["deduplicated_trainings"] == 1  # three scored submissions, two distinct runs
    assert (summary["trained_submissions"], summary["cached_submissions"]) == (2, 1)
    assert (summary["saw_queue_position"], summary["saw_queue_position_of_trained"]) == (2, 2)
    assert summary["seconds_to_score"]["p50"] == 4.0 and summary["seconds_to_score"]["max"] == 6.0
    assert summary["seconds_to_score"]["engine"] == {"p50": 2.0, "p95": 6.0, "max": 6.0}
    text = report(summary)
    assert "OOM: no" in text and "errors: 1" in text and "deduplicated trainings: 1 of 3" in text
    assert "Test CPU" in text and "a note" in text
