"""Label issues: precision and recall against scikit-learn, a hand-built case whose wrong labels are known, the plan's
checks and hosted caps, the stored result read back and refused when damaged, and the real search on digits."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import precision_score, recall_score

from engine.datasets import load_dataset
from engine.datasets.noise import NoiseSpec
from engine.diagnostics.label_issues import (
    PROBE,
    LabelIssuePlan,
    LabelIssues,
    find_issues,
    label_issues,
    precision_recall,
    prepare,
    stored_label_issues,
)
from engine.errors import InvalidConfig, InvalidProbeRecord
from engine.probes.stored import probe_folder


@pytest.mark.parametrize("seed", range(6))
def test_precision_recall_match_sklearn_on_boolean_masks(seed):
    rng = np.random.default_rng(seed)
    flagged, truth = rng.random(300) < 0.1 * (seed + 1), rng.random(300) < 0.08
    precision, recall = precision_recall(flagged, truth)
    assert precision == pytest.approx(precision_score(truth, flagged, zero_division=0))
    assert recall == pytest.approx(recall_score(truth, flagged, zero_division=0))


def test_nothing_flagged_or_nothing_true_scores_zero_like_sklearn():
    none, some = np.zeros(10, dtype=bool), np.arange(10) < 3
    assert precision_recall(none, some) == (0.0, precision_score(some, none, zero_division=0))
    assert precision_recall(some, none)[1] == recall_score(none, some, zero_division=0) == 0.0


# Four wrong labels in each class of 40: with a single wrong label between two classes, confident learning's
# estimate of that pair's noise can round to zero and keep it (its documented behaviour, not a fault found here).
WRONG = tuple(c * 40 + j for c in range(4) for j in (0, 5, 9, 13))


def _hand_built(n_per_class: int = 40, classes: int = 4, wrong: tuple[int, ...] = WRONG):
    """Confident, correct predictions for every image; the images in `wrong` carry a label other than the class the
    probabilities (their true class) point to."""
    rng = np.random.default_rng(0)
    true = np.repeat(np.arange(classes), n_per_class)
    probs = np.full((len(true), classes), 0.02)
    probs[np.arange(len(true)), true] = 1 - 0.02 * (classes - 1)
    probs += rng.uniform(0, 0.01, size=probs.shape)  # no ties in self-confidence
    probs /= probs.sum(axis=1, keepdims=True)
    given = true.copy()
    for i in wrong:
        given[i] = (true[i] + 1 + i % (classes - 1)) % classes
    return given, probs, true, np.array(wrong)


def test_hand_built_wrong_labels_are_exactly_the_issues():
    given, probs, true, wrong = _hand_built()
    result = find_issues(given, probs, flipped=wrong)
    assert sorted(i.index for i in result.issues) == sorted(wrong)
    for issue in result.issues:
        assert issue.given == given[issue.index] and issue.suggested == true[issue.index]
        assert issue.score == pytest.approx(probs[issue.index, given[issue.index]] / probs[issue.index].sum())
    scores = [i.score for i in result.issues]
    assert scores == sorted(scores)  # ranked by self-confidence, lowest first
    assert result.precision == result.recall == result.baseline_precision == result.baseline_recall == 1.0
    assert result.oof_accuracy == pytest.approx(1 - len(wrong) / len(given))


def test_scores_against_planted_flips_match_sklearn_on_the_issue_masks():
    """Only some of the wrong labels were "planted", and one clean image is planted but not wrong: the scores are
    those of the masks built from the returned issues, the baseline's from self-confidences sorted here."""
    given, probs, _true, wrong = _hand_built()
    planted = np.array([0, 5, 9, 7])  # 12 other labels are wrong but unplanted; 7 is planted but looks right
    result = find_issues(given, probs, flipped=planted)
    truth = np.isin(np.arange(len(given)), planted)
    flagged = np.isin(np.arange(len(given)), [i.index for i in result.issues])
    assert result.precision == pytest.approx(precision_score(truth, flagged))
    assert result.recall == pytest.approx(recall_score(truth, flagged))
    self_confidence = probs[np.arange(len(given)), given] / probs.sum(axis=1)
    lowest = np.isin(
        np.arange(len(given)), sorted(range(len(given)), key=lambda i: self_confidence[i])[: flagged.sum()]
    )
    assert result.baseline_precision == pytest.approx(precision_score(truth, lowest))
    assert result.baseline_recall == pytest.approx(recall_score(truth, lowest))
    assert result.precision == pytest.approx(3 / 16) and result.recall == pytest.approx(3 / 4)  # by hand


def test_without_noise_there_are_no_scores():
    given, probs, _true, _wrong = _hand_built()
    result = find_issues(given, probs)
    assert result.precision is result.recall is result.baseline_precision is None
    assert result.n_flipped == 0 and len(result.issues) == len(WRONG)


def test_result_round_trips_and_damaged_records_are_refused():
    given, probs, _true, wrong = _hand_built()
    result = find_issues(given, probs, flipped=wrong)
    stored = json.loads(json.dumps(result.to_dict()))
    assert LabelIssues.from_dict(stored) == result
    for field, value in (
        ("precision", 1.5),
        ("precision", "high"),
        ("oof_accuracy", float("nan")),
        ("flipped", [10_000]),
        ("issues", [{"index": 9_999, "given": 0, "suggested": 1, "score": 0.1}]),
        ("issues", [{"index": 1, "given": 0, "suggested": 1, "score": 2.0}]),
        ("issues", "many"),
        ("noise_planted", "yes"),
    ):
        with pytest.raises((InvalidProbeRecord, KeyError, TypeError)):
            LabelIssues.from_dict({**stored, field: value})


@pytest.mark.parametrize(
    "changes",
    [
        {"folds": 1},
        {"folds": 11},
        {"folds": 3.0},
        {"preset": "no-such-preset"},
        {"preset": "seed004-4class"},  # merges classes
        {"dataset": ""},
        {"dataset": "x" * 500},
        {"epochs": 0},
        {"noise": 0.05},
    ],
)
def test_bad_plans_are_refused(changes):
    with pytest.raises(InvalidConfig):
        LabelIssuePlan(**changes)


def test_hosted_mode_caps_folds_and_training_size(monkeypatch):
    monkeypatch.setenv("DIGIT_LAB_HOSTED", "1")
    with pytest.raises(InvalidConfig, match="2 to 5 folds"):
        LabelIssuePlan(folds=6)
    monkeypatch.setenv("DIGIT_LAB_MAX_LABEL_ISSUE_IMAGES", "1000")
    with pytest.raises(InvalidConfig, match="1,437 training images"):
        prepare(LabelIssuePlan(folds=2), load_dataset("digits"))


def test_a_dataset_other_than_the_plans_is_refused():
    with pytest.raises(InvalidConfig):
        prepare(LabelIssuePlan(dataset="mnist"), load_dataset("digits"))


def test_search_uses_every_fold_once_and_is_kept_per_plan():
    """Two folds, one epoch: every training image gets its probabilities from the fold that left it out, the fold
    runs are the k-fold's cached runs, and the second call reads the stored result without training."""
    plan = LabelIssuePlan("digits", folds=2, noise=NoiseSpec(0.1, seed=4), epochs=1)
    prepared = prepare(plan)
    events = []
    first = label_issues(plan, progress=events.append)
    assert events and first.n_flipped == round(0.1 * 1437)
    assert first.noise_planted and 0 <= first.precision <= 1
    from engine.store import RunStore

    store = RunStore()
    runs = [store.get(run_id) for run_id in prepared.fold_ids()]
    assert all(run is not None for run in runs)
    assert runs[0].meta["dataset"]["name"] == "noisy-digits-0.1-4"
    from engine.probes.run_data import run_data

    assert run_data(runs[1]).data.y_val.size  # a page rebuilds a fold's data from the run's meta alone
    assert len(list(probe_folder(runs[0]).glob(f"{PROBE}-*.json"))) == 1
    again_events = []
    again = label_issues(plan, progress=again_events.append)
    assert again == first
    assert not [e for e in again_events if getattr(e, "event", None) is not None]  # nothing trained
    # A stored result edited by hand is refused, computed again from the fold models and stored anew.
    (record,) = probe_folder(runs[0]).glob(f"{PROBE}-*.json")
    edited = json.loads(record.read_text())
    edited["result"]["precision"] = 1.5
    record.write_text(json.dumps(edited))
    assert label_issues(plan) == first
    assert json.loads(record.read_text())["result"]["precision"] == first.precision
    other = label_issues(LabelIssuePlan("digits", folds=2, noise=NoiseSpec(0.1, seed=5), epochs=1))
    assert other.flipped != first.flipped  # another seed: other data, other runs, another result


def test_the_stored_only_lookup_never_trains_and_reads_what_the_search_kept():
    """The Evaluate page asks this: None while a fold or the result is missing (and nothing is trained meanwhile),
    then exactly the search's result."""
    from engine.store import RunStore

    plan = LabelIssuePlan("digits", folds=2, epochs=1)
    store = RunStore()
    ids = prepare(plan).fold_ids()
    assert stored_label_issues(plan, store=store) is None
    assert all(store.get(run_id) is None for run_id in ids)  # the lookup trained nothing
    found = label_issues(plan, store=store)
    assert stored_label_issues(plan, store=store) == found
    for record in probe_folder(store.get(ids[0])).glob(f"{PROBE}-*.json"):
        record.unlink()  # the folds are kept, the result is not: still nothing to show, nothing computed
    assert stored_label_issues(plan, store=store) is None
    assert not list(probe_folder(store.get(ids[0])).glob(f"{PROBE}-*.json"))
    assert stored_label_issues(LabelIssuePlan("digits", folds=3, epochs=1), store=store) is None


@pytest.mark.slow  # five folds of the default preset: about 25 s on two cores
def test_digits_five_percent_noise_is_found_with_precision_and_recall_over_0_8():
    """Measured on AMD EPYC, 2 cores (seeds 0, 1, 2): precision 0.94, 0.92, 0.91; recall 0.83, 0.92, 0.86."""
    result = label_issues(LabelIssuePlan("digits", folds=5, noise=NoiseSpec(0.05, seed=0)))
    assert result.n_flipped == 72
    assert result.precision >= 0.8 and result.recall >= 0.8
    assert result.baseline_precision >= 0.8 and result.baseline_recall >= 0.8
