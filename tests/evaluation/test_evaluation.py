"""Tests for engine.evaluation: oracle comparisons with scikit-learn on seeded random data (k = 2, 4, 10 and the
edge cases: a class never predicted, a class absent from the test set, one sample, rows not summing to 1),
hand-checked results on seed 001's confusion matrix, and a property test of row normalisation."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from engine.evaluation import (
    Evaluation,
    InvalidEvaluationInput,
    cell_indices,
    classification_report_table,
    classification_report_text,
    confusion_matrix,
    evaluate,
    log_loss,
    misclassified,
    most_confused_pairs,
    normalise_rows,
    one_vs_rest,
    one_vs_rest_matrix,
    report_from_confusion,
    roc_curves,
)

SEED_001_CONFUSION = np.array(
    [
        [971, 0, 1, 1, 0, 2, 2, 0, 2, 1],
        [0, 1134, 0, 1, 0, 0, 0, 0, 0, 0],
        [1, 4, 1026, 0, 0, 0, 0, 1, 0, 0],
        [0, 0, 2, 1006, 0, 2, 0, 0, 0, 0],
        [0, 1, 1, 0, 972, 0, 0, 1, 0, 7],
        [1, 0, 0, 10, 0, 879, 1, 0, 1, 0],
        [4, 3, 0, 0, 2, 3, 944, 0, 2, 0],
        [0, 9, 13, 3, 0, 1, 0, 990, 0, 12],
        [1, 0, 4, 2, 0, 2, 1, 0, 962, 2],
        [0, 2, 1, 0, 2, 2, 1, 0, 1, 1000],
    ]
)
DIGITS = tuple(str(d) for d in range(10))


# ---------------------------------------------------------------- scenarios


def _random_case(seed: int, n: int, k: int, skill: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """Labels and softmax-like probabilities that lean towards the true class, so metrics are not trivial."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), y] += skill * rng.random(n)
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    return y, probs


def _case(name: str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    if name == "k10":
        y, p = _random_case(1, 400, 10)
        return y, p, DIGITS
    if name == "k4_merged":
        y, p = _random_case(2, 150, 4)
        return y, p, ("0-2", "3-5", "6-8", "9")
    if name == "k2":
        y, p = _random_case(3, 40, 2, skill=1.0)
        return y, p, ("odd", "even")
    if name == "never_predicted":
        y, p = _random_case(4, 120, 5)
        p[:, 3] = 0.0  # class 3 can never win the arg-max
        p /= p.sum(axis=1, keepdims=True)
        return y, p, ("a", "b", "c", "d", "e")
    if name == "absent_class":
        y, p = _random_case(5, 120, 6)
        y[y == 2] = 0  # no test sample of class 2, but the model may still predict it
        return y, p, tuple("uvwxyz")
    if name == "single_sample":
        y, p = _random_case(6, 1, 10)
        return y, p, DIGITS
    if name == "unnormalised":
        y, p = _random_case(7, 100, 4)
        rng = np.random.default_rng(70)
        p = p * rng.uniform(0.9, 1.0, size=(len(y), 1))  # rows sum to 0.9..1.0
        return y, p, tuple("ABCD")
    if name == "float32":
        y, p = _random_case(8, 200, 10)
        return y, p.astype(np.float32), DIGITS
    raise KeyError(name)


ALL_CASES = ["k10", "k4_merged", "k2", "never_predicted", "absent_class", "single_sample", "unnormalised", "float32"]


@pytest.fixture(params=ALL_CASES)
def case(request):
    return _case(request.param)


def _sklearn_report(y, y_pred, names) -> dict:
    return skm.classification_report(
        y, y_pred, labels=range(len(names)), target_names=list(names), output_dict=True, zero_division=0
    )


def _expand(confusion: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """y_true, y_pred arrays holding exactly the counts of `confusion`."""
    pairs = [(t, p) for (t, p), count in np.ndenumerate(confusion) for _ in range(count)]
    truth, predicted = map(np.array, zip(*pairs, strict=True))
    return truth, predicted


# ---------------------------------------------------------------- classification report


def test_report_table_equals_sklearn_output_dict(case):
    y, p, names = case
    y_pred = p.argmax(axis=1)
    table = classification_report_table(y, y_pred, names)
    expected = _sklearn_report(y, y_pred, names)

    assert list(table.index) == [*names, "accuracy", "macro avg", "weighted avg"]
    assert list(table.columns) == ["precision", "recall", "f1-score", "support"]
    for row in [*names, "macro avg", "weighted avg"]:
        for column in ["precision", "recall", "f1-score", "support"]:
            assert table.at[row, column] == expected[row][column], (row, column)
    assert table.at["accuracy", "f1-score"] == expected["accuracy"]
    assert table.at["accuracy", "support"] == len(y)
    assert np.isnan(table.at["accuracy", "precision"]) and np.isnan(table.at["accuracy", "recall"])


def test_a_report_from_a_stored_confusion_matrix_equals_sklearn_on_the_labels_behind_it(case):
    y, p, names = case
    y_pred = p.argmax(axis=1)
    counts = skm.confusion_matrix(y, y_pred, labels=range(len(names)))  # what a classroom record keeps
    table = report_from_confusion(counts.tolist(), names)
    expected = _sklearn_report(y, y_pred, names)
    for row in [*names, "macro avg", "weighted avg"]:
        for column in ["precision", "recall", "f1-score", "support"]:
            assert table.at[row, column] == pytest.approx(expected[row][column], abs=1e-12), (row, column)
    assert table.at["accuracy", "f1-score"] == pytest.approx(expected["accuracy"], abs=1e-12)


@pytest.mark.parametrize(
    "bad",
    [[[1, 2], [3]], [[1, 2, 3]], [[1, -1], [0, 2]], [[0.5, 1], [1, 1]], [[0, 0], [0, 0]], [[[1]]]],
    ids=["ragged", "not-square", "negative", "fractional", "empty", "3-d"],
)
def test_a_damaged_confusion_matrix_is_refused(bad):
    with pytest.raises((InvalidEvaluationInput, ValueError)):
        report_from_confusion(bad, ["a", "b"])


@pytest.mark.parametrize("digits", [4, 2])
def test_report_text_equals_sklearn(case, digits):
    y, p, names = case
    y_pred = p.argmax(axis=1)
    expected = skm.classification_report(
        y, y_pred, labels=range(len(names)), target_names=list(names), digits=digits, zero_division=0
    )
    assert classification_report_text(y, y_pred, names, digits=digits) == expected


def test_never_predicted_class_has_zero_precision_and_a_note():
    y, p, names = _case("never_predicted")
    result = evaluate(y, p, names)
    assert result.report.at["d", "precision"] == 0.0
    assert result.report.at["d", "f1-score"] == 0.0
    assert result.report.at["d", "support"] == np.count_nonzero(y == 3) > 0
    assert any("never predicted: d" in note for note in result.notes)


def test_absent_class_has_zero_support_and_a_note():
    y, p, names = _case("absent_class")
    result = evaluate(y, p, names)
    assert result.report.at["w", "support"] == 0
    assert result.report.at["w", "recall"] == 0.0
    assert result.confusion[2].sum() == 0
    assert (result.confusion_normalised[2] == 0).all()
    assert any("no test samples: w" in note for note in result.notes)


# ---------------------------------------------------------------- evaluate


def test_evaluate_metrics_equal_sklearn(case):
    y, p, names = case
    result = evaluate(y, p, names)
    y_pred = p.argmax(axis=1)
    report = _sklearn_report(y, y_pred, names)

    assert isinstance(result, Evaluation)
    assert result.class_names == names
    np.testing.assert_array_equal(result.y_pred, y_pred)
    np.testing.assert_array_equal(result.confidence, p.max(axis=1))
    assert result.accuracy == skm.accuracy_score(y, y_pred) == report["accuracy"]
    assert result.macro_precision == report["macro avg"]["precision"]
    assert result.macro_recall == report["macro avg"]["recall"]
    assert result.macro_f1 == report["macro avg"]["f1-score"]
    assert result.weighted_precision == report["weighted avg"]["precision"]
    assert result.weighted_recall == report["weighted avg"]["recall"]
    assert result.weighted_f1 == report["weighted avg"]["f1-score"]
    np.testing.assert_array_equal(result.confusion, skm.confusion_matrix(y, y_pred, labels=range(len(names))))
    assert result.report_text() == skm.classification_report(
        y, y_pred, labels=range(len(names)), target_names=list(names), digits=4, zero_division=0
    )


def test_log_loss_equals_sklearn(case):
    y, p, names = case
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # sklearn warns about the unnormalised case
        expected = skm.log_loss(y, y_proba=p, labels=range(len(names)))
    assert log_loss(y, p) == expected
    assert evaluate(y, p, names).log_loss == expected


def test_log_loss_clips_zero_probability_of_true_class():
    y = np.array([0, 1])
    p = np.array([[0.0, 1.0], [0.0, 1.0]])  # first sample: certain and wrong
    eps = np.finfo(np.float64).eps
    assert log_loss(y, p) == pytest.approx((-np.log(eps) - np.log(1 - eps)) / 2, rel=1e-12)
    assert np.isfinite(log_loss(y, p))


def test_log_loss_accepts_float32_softmax_rounding_above_one():
    # A float32 softmax can store 1 + one rounding step; that is still a probability, clipped to 1 - eps.
    above_one = np.nextafter(np.float32(1), np.float32(2))
    p = np.array([[above_one, 0.0], [0.25, 0.75]], dtype=np.float32)
    eps = np.finfo(np.float32).eps
    by_hand = (-np.log(1 - eps) - np.log(0.75)) / 2
    assert log_loss([0, 1], p) == pytest.approx(by_hand, rel=1e-6)


def test_unnormalised_rows_are_noted_not_renormalised():
    y, p, names = _case("unnormalised")
    result = evaluate(y, p, names)
    assert any("do not sum to 1" in note for note in result.notes)
    # Renormalising would lower the loss; we keep the stored values as sklearn does.
    renormalised = p / p.sum(axis=1, keepdims=True)
    assert result.log_loss > log_loss(y, renormalised)
    assert not any("do not sum to 1" in note for note in evaluate(y, renormalised, names).notes)


def test_single_sample_evaluates():
    y, p, names = _case("single_sample")
    result = evaluate(y, p, names)
    assert result.num_samples == 1
    assert result.accuracy in (0.0, 1.0)
    assert result.accuracy == float(p.argmax() == y[0])
    assert result.confusion.sum() == 1
    assert result.confusion_normalised.sum() == 1.0


def test_seed_001_matrix_accuracy_and_report():
    truth, predicted = _expand(SEED_001_CONFUSION)
    assert len(truth) == 10000
    # Probabilities that put 0.91 on the predicted class make evaluate() see exactly this matrix.
    probs = np.full((len(truth), 10), 0.01)
    probs[np.arange(len(truth)), predicted] = 0.91
    result = evaluate(truth, probs, DIGITS)

    np.testing.assert_array_equal(result.confusion, SEED_001_CONFUSION)
    assert result.accuracy == 0.9884
    assert result.num_errors == 116
    table = classification_report_table(truth, predicted, DIGITS)
    expected = _sklearn_report(truth, predicted, DIGITS)
    for row in [*DIGITS, "macro avg", "weighted avg"]:
        np.testing.assert_allclose(
            table.loc[row].to_numpy(dtype=float),
            [expected[row][c] for c in ["precision", "recall", "f1-score", "support"]],
            rtol=0,
            atol=1e-12,
        )
    # Class 7: 990 right of 1028 true sevens; 990 of 992 predicted sevens.
    assert table.at["7", "recall"] == 990 / 1028
    assert table.at["7", "precision"] == 990 / 992


def test_evaluation_is_frozen_and_read_only():
    y, p, names = _case("k4_merged")
    result = evaluate(y, p, names)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.accuracy = 1.0  # type: ignore[misc]
    with pytest.raises(ValueError):
        result.confusion[0, 0] = 99
    # evaluate copied its inputs: changing the caller's array does not change the stored one
    p[0] = 0.25
    assert not np.all(result.probabilities[0] == 0.25)


@pytest.mark.parametrize(
    "y, p, names",
    [
        ([0, 1, 2], np.eye(3)[:2], ("a", "b", "c")),  # lengths differ
        ([0, 3], np.eye(3)[:2], ("a", "b", "c")),  # label out of range
        ([0, 1], np.eye(3)[:2], ("a", "b")),  # names do not match columns
        ([0, 1], np.array([[2.0, -1.0, 0.5], [0.1, 0.2, 0.7]]), ("a", "b", "c")),  # logits, not probabilities
        ([0, 1], np.eye(3)[:2], ("a", "a", "c")),  # duplicate names
        ([], np.zeros((0, 3)), ("a", "b", "c")),  # nothing to evaluate
        ([0.5, 1], np.eye(3)[:2], ("a", "b", "c")),  # non-integer label
    ],
)
def test_bad_inputs_raise_a_clear_error(y, p, names):
    with pytest.raises(InvalidEvaluationInput):
        evaluate(np.asarray(y), p, names)


# ---------------------------------------------------------------- confusion matrices


def test_confusion_matrix_equals_sklearn(case):
    y, p, names = case
    y_pred = p.argmax(axis=1)
    k = len(names)
    expected = skm.confusion_matrix(y, y_pred, labels=range(k))
    np.testing.assert_array_equal(confusion_matrix(y, y_pred, k), expected)
    np.testing.assert_allclose(
        confusion_matrix(y, y_pred, k, normalise=True),
        np.nan_to_num(skm.confusion_matrix(y, y_pred, labels=range(k), normalize="true")),
        rtol=0,
        atol=1e-12,
    )


def test_one_vs_rest_equals_multilabel_confusion_matrix(case):
    y, p, names = case
    y_pred = p.argmax(axis=1)
    k = len(names)
    mcm = skm.multilabel_confusion_matrix(y, y_pred, labels=range(k))  # each [[tn, fp], [fn, tp]]
    counts = confusion_matrix(y, y_pred, k)
    table = one_vs_rest(counts, names)

    assert list(table.columns) == ["class", "tp", "fp", "fn", "tn"]
    assert list(table["class"]) == list(names)
    np.testing.assert_array_equal(table["tp"], mcm[:, 1, 1])
    np.testing.assert_array_equal(table["fp"], mcm[:, 0, 1])
    np.testing.assert_array_equal(table["fn"], mcm[:, 1, 0])
    np.testing.assert_array_equal(table["tn"], mcm[:, 0, 0])
    for i in range(k):
        (tn, fp), (fn, tp) = mcm[i]
        np.testing.assert_array_equal(one_vs_rest_matrix(counts, i), [[tp, fn], [fp, tn]])


def test_one_vs_rest_matrix_layout_on_seed_001():
    # Class 7: tp 990, fn 1028-990=38, fp 992-990=2, tn 10000-990-38-2.
    np.testing.assert_array_equal(one_vs_rest_matrix(SEED_001_CONFUSION, 7), [[990, 38], [2, 8970]])
    with pytest.raises(InvalidEvaluationInput):
        one_vs_rest_matrix(SEED_001_CONFUSION, 10)


def test_most_confused_pairs_on_seed_001():
    pairs = most_confused_pairs(SEED_001_CONFUSION, DIGITS, top=4)
    assert list(pairs.columns[:4]) == ["true", "predicted", "count", "share_of_true"]
    assert list(zip(pairs["true"], pairs["predicted"], pairs["count"], strict=True)) == [
        ("7", "2", 13),
        ("7", "9", 12),
        ("5", "3", 10),
        ("7", "1", 9),
    ]
    assert pairs["share_of_true"].iloc[0] == 13 / 1028
    assert pairs["share_of_true"].iloc[2] == 10 / 892
    np.testing.assert_array_equal(pairs["true_label"], [7, 7, 5, 7])


def test_most_confused_pairs_ties_nonzero_and_top_none():
    counts = np.array([[5, 2, 0], [2, 5, 1], [0, 2, 9]])
    pairs = most_confused_pairs(counts, ("a", "b", "c"), top=None)
    # three cells of 2 tie: ordered by true index then predicted index; zeros and the diagonal never appear
    assert list(zip(pairs["true"], pairs["predicted"], strict=True)) == [("a", "b"), ("b", "a"), ("c", "b"), ("b", "c")]
    assert list(pairs["count"]) == [2, 2, 2, 1]
    assert len(most_confused_pairs(np.diag([3, 4]), ("x", "y"))) == 0
    assert len(most_confused_pairs(counts, ("a", "b", "c"), top=2)) == 2


@settings(max_examples=60, deadline=None)
@given(
    st.integers(min_value=1, max_value=6).flatmap(
        lambda k: st.tuples(
            st.just(k),
            st.lists(st.tuples(st.integers(0, k - 1), st.integers(0, k - 1)), min_size=1, max_size=60),
        )
    )
)
def test_normalised_confusion_rows_sum_to_one_or_zero(k_and_pairs):
    k, pairs = k_and_pairs
    truth, predicted = map(np.array, zip(*pairs, strict=True))
    counts = confusion_matrix(truth, predicted, k)
    shares = confusion_matrix(truth, predicted, k, normalise=True)
    sums = shares.sum(axis=1)
    present = counts.sum(axis=1) > 0
    np.testing.assert_allclose(sums[present], 1.0, rtol=0, atol=1e-12)
    assert (shares[~present] == 0).all()
    assert counts.sum() == len(pairs)
    np.testing.assert_array_equal(normalise_rows(counts), shares)


# ---------------------------------------------------------------- misclassified and cells


def test_misclassified_orders_most_confident_mistakes_first():
    y = np.array([0, 1, 2, 0, 1])
    p = np.array(
        [
            [0.9, 0.05, 0.05],  # right
            [0.6, 0.3, 0.1],  # wrong, confidence 0.6
            [0.1, 0.8, 0.1],  # wrong, confidence 0.8
            [0.2, 0.2, 0.6],  # wrong, confidence 0.6 (tie: keeps test-set order after row 1)
            [0.1, 0.7, 0.2],  # right
        ]
    )
    table = misclassified(y, p, ("a", "b", "c"))
    assert list(table.columns) == [
        "index",
        "true",
        "predicted",
        "true_label",
        "predicted_label",
        "confidence",
        "true_probability",
    ]
    assert list(table["index"]) == [2, 1, 3]
    assert list(table["true"]) == ["c", "b", "a"]
    assert list(table["predicted"]) == ["b", "a", "c"]
    assert list(table["predicted_label"]) == [1, 0, 2]
    assert list(table["confidence"]) == [0.8, 0.6, 0.6]
    assert list(table["true_probability"]) == [0.1, 0.3, 0.2]


def test_misclassified_matches_brute_force(case):
    y, p, names = case
    table = misclassified(y, p, names)
    wrong = np.flatnonzero(p.argmax(axis=1) != y)
    assert sorted(table["index"]) == list(wrong)
    assert (np.diff(table["confidence"].to_numpy()) <= 0).all()
    idx = table["index"].to_numpy()
    np.testing.assert_array_equal(table["true_probability"], p[idx, y[idx]])
    np.testing.assert_array_equal(table["confidence"], p[idx].max(axis=1))
    assert len(table) == evaluate(y, p, names).num_errors


def test_cell_indices_partition_the_test_set(case):
    y, p, names = case
    result = evaluate(y, p, names)
    seen = []
    for (t, q), count in np.ndenumerate(result.confusion):
        rows = result.cell_indices(t, q)
        assert len(rows) == count
        assert (y[rows] == t).all() and (result.y_pred[rows] == q).all()
        seen.extend(rows)
    assert sorted(seen) == list(range(len(y)))


def test_cell_indices_hand_example():
    np.testing.assert_array_equal(cell_indices([7, 2, 7, 7], [2, 2, 7, 2], 7, 2), [0, 3])
    assert cell_indices([0, 1], [0, 1], 5, 5).size == 0


# ---------------------------------------------------------------- ROC


def test_roc_per_class_equals_sklearn(case):
    y, p, names = case
    curves = roc_curves(y, p, names)
    for i, name in enumerate(names):
        curve = curves[name]
        assert curves[i] is curve
        positives = (y == i).astype(int)
        if 0 < positives.sum() < len(y):
            fpr, tpr, thresholds = skm.roc_curve(positives, p[:, i])
            np.testing.assert_array_equal(curve.fpr, fpr)
            np.testing.assert_array_equal(curve.tpr, tpr)
            np.testing.assert_array_equal(curve.thresholds, thresholds)
            assert curve.auc == skm.roc_auc_score(positives, p[:, i])
        else:
            assert np.isnan(curve.auc) and not curve.defined
            assert any(name in note and "undefined" in note for note in curves.notes)


@pytest.mark.parametrize("name", ["k10", "k4_merged", "never_predicted", "float32"])
def test_roc_micro_and_macro_equal_roc_auc_score(name):
    y, p, names = _case(name)
    curves = roc_curves(y, p, names)
    assert curves.notes == ()
    assert curves.micro.auc == skm.roc_auc_score(y, p, multi_class="ovr", average="micro")
    assert curves.macro.auc == skm.roc_auc_score(y, p, multi_class="ovr", average="macro")
    # The averaged curve runs from (0, 0) to (1, 1) with tpr never falling.
    assert curves.macro.fpr[0] == 0.0 and curves.macro.fpr[-1] == 1.0
    assert curves.macro.tpr[-1] == pytest.approx(1.0)
    assert (np.diff(curves.macro.tpr) >= -1e-12).all()
    table = curves.auc_table()
    assert len(table) == len(names) + 2
    assert table["auc"].iloc[-1] == curves.macro.auc


def test_roc_absent_class_is_nan_and_excluded_from_macro():
    y, p, names = _case("absent_class")
    curves = roc_curves(y, p, names)
    assert np.isnan(curves["w"].auc)
    present = [i for i in range(len(names)) if i != 2]
    expected = np.mean([skm.roc_auc_score(y == i, p[:, i]) for i in present])
    assert curves.macro.auc == expected
    assert not np.isnan(curves.micro.auc)
    assert len(curves.notes) == 1 and "w" in curves.notes[0]


def test_roc_binary_matches_sklearn_binary_auc():
    y, p, names = _case("k2")
    curves = roc_curves(y, p, names)
    assert curves["even"].auc == skm.roc_auc_score(y, p[:, 1])
    assert curves.macro.auc == np.mean([curves["odd"].auc, curves["even"].auc])


def test_roc_single_sample_never_raises():
    y, p, names = _case("single_sample")
    curves = roc_curves(y, p, names)
    assert all(np.isnan(c.auc) for c in curves.per_class)
    assert np.isnan(curves.macro.auc)
    assert curves.micro.defined  # one positive and nine negatives across the raveled one-hot
    assert len(curves.notes) == len(names) + 1


def test_engine_import_does_not_need_sklearn_or_dashboard_libraries():
    import subprocess
    import sys

    code = (
        "import sys, engine.evaluation; "
        "bad = [m for m in ('sklearn', 'streamlit', 'plotly', 'tensorflow') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=_repo_root())
    assert done.returncode == 0, done.stdout + done.stderr


def _repo_root() -> str:
    from pathlib import Path

    return str(Path(__file__).resolve().parents[2])


def test_report_support_column_is_integer():
    y, p, names = _case("k4_merged")
    table = evaluate(y, p, names).report
    assert pd.api.types.is_integer_dtype(table["support"])
    assert table["support"].iloc[: len(names)].sum() == table.at["accuracy", "support"] == len(y)
