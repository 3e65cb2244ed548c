"""The Cross-validation page's bar chart of fold scores beside the test score (`charts.crossval`)."""

from charts.crossval import cv_beside_test


def test_cv_beside_test_labels_old_runs_running_average():
    fold = {"fold": 1, "train_accuracy": 0.73, "val_accuracy": 0.87, "test_accuracy": 0.86}
    summary = {"folds": [fold], "mean_train_accuracy": 0.73, "mean_val_accuracy": 0.87, "mean_test_accuracy": 0.86}
    old = [trace.name for trace in cv_beside_test({**summary, "train_accuracy_kind": "running"}).data]
    new = [trace.name for trace in cv_beside_test({**summary, "train_accuracy_kind": "inference"}).data]
    assert old[0] == "train (last-epoch running average, dropout on)" and new[0] == "train"
    assert old[1:] == new[1:] == ["CV (validation)", "test"]
