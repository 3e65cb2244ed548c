"""The one progress type for batches of runs: executor events in, `BatchProgress` out, and the CLI's printer."""

from __future__ import annotations

import pytest

from engine.executors import batch_relay
from engine.executors.tasks import RunTask, TaskEvent
from engine.progress import BatchProgress


def task(index: int) -> RunTask:
    return RunTask(
        dataset="digits",
        fingerprint="f" * 12,
        local_path=None,
        spec={},
        config={},
        run_id=f"run{index:017d}",
        label=f"fold {index + 1}/3",
    )


def relayed(events: list[TaskEvent], labels=()) -> list[BatchProgress]:
    seen: list[BatchProgress] = []
    relay = batch_relay(seen.append, labels=labels)
    for event in events:
        relay(event)
    return seen


def test_a_trained_run_starts_trains_and_ends():
    epoch = object()  # stands in for the training's ProgressEvent, which is passed on untouched
    seen = relayed(
        [
            TaskEvent(0, 3, "running", task(0)),
            TaskEvent(0, 3, "training", task(0), event=epoch),
            TaskEvent(0, 3, "done", task(0), done=1),
        ]
    )
    assert [(p.index, p.total, p.status) for p in seen] == [(1, 3, "start"), (1, 3, "training"), (1, 3, "done")]
    assert seen[1].event is epoch and seen[0].event is None
    assert seen[2].done == 1 and seen[2].cached is False
    assert {p.run_id for p in seen} == {"run00000000000000000"}
    assert {p.label for p in seen} == {""}  # folds are known by their number


def test_a_run_answered_from_the_store_without_running_still_starts_first():
    # A parallel executor answers cached runs before submitting anything: no "running" event comes.
    seen = relayed([TaskEvent(2, 3, "cached", task(2), done=1)])
    assert [(p.index, p.status, p.cached) for p in seen] == [(3, "start", False), (3, "done", True)]


def test_queued_and_failed_pass_through_with_the_error_and_attempt():
    seen = relayed(
        [
            TaskEvent(1, 3, "queued", task(1)),
            TaskEvent(1, 3, "running", task(1), attempt=2),
            TaskEvent(1, 3, "failed", task(1), done=2, error="worker died", attempt=2),
        ]
    )
    assert [p.status for p in seen] == ["queued", "start", "failed"]
    assert seen[1].attempt == 2
    assert seen[2].error == "worker died" and seen[2].done == 2


def test_labels_name_the_runs_of_a_study():
    seen = relayed(
        [TaskEvent(0, 2, "running", task(0)), TaskEvent(1, 2, "running", task(1))], labels=("seed003-m1", "seed003-m2")
    )
    assert [p.label for p in seen] == ["seed003-m1", "seed003-m2"]
    assert seen[1].describe("model") == "Model 2 of 2 (seed003-m2)"
    assert BatchProgress(4, 5, "start").describe("fold") == "Fold 4 of 5"


def test_the_callbacks_answer_goes_back_to_the_executor():
    # A local training is cancelled when the progress callback returns False; the relay must not swallow it.
    relay = batch_relay(lambda update: False)
    assert relay(TaskEvent(0, 1, "training", task(0), event=object())) is False


def test_a_progress_value_is_frozen():
    with pytest.raises(AttributeError):
        BatchProgress(1, 2, "start").status = "done"


@pytest.mark.parametrize(("label", "expected"), [("", "fold 2/5"), ("seed003-m4", "seed003-m4 (2/5)")])
def test_the_cli_printer_names_the_run_that_starts(label, expected):
    from engine.cli.progress_bar import _ProgressBar

    bar = _ProgressBar(enabled=False)
    progress = bar.batch("fold")
    progress(BatchProgress(2, 5, "start", label=label))
    assert bar.label == expected
