"""A student's submission run on the pages: Evaluate, Inspect and Explain open it and show its test set as the
challenge's public part, never the private one (issue 24, item 2), loading the public view by the name in the run's
meta from the view's record, as any other process would. The HTML report of it draws only public images; its
notebook is refused, saying why.

Oracles: the public part's size from the split function and from scikit-learn's stratified split called here; the
report's images against the base dataset's test images at the public indices scikit-learn picks."""

from __future__ import annotations

import os
import re
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
from sklearn.model_selection import StratifiedShuffleSplit

from engine.classroom import service
from engine.classroom.database import ClassroomDB
from engine.classroom.spec import ChallengeLimits, ChallengeSpec
from engine.classroom.split import hidden_split
from engine.datasets import load_dataset, memo
from tests.dashboard.conftest import literal, open_page, open_tab

FRACTION, SEED = 0.3, 424242


def spec() -> ChallengeSpec:
    limits = ChallengeLimits(max_epochs=2, max_train=300, daily_submissions=3, editable=("epochs", "seed"))
    return ChallengeSpec(
        "digits", "Views", "Public part only.", limits=limits, private_fraction=FRACTION, split_seed=SEED
    )


@pytest.fixture(scope="module")
def submission(tmp_path_factory):
    """One scored submission in a cache of its own: (cache, run id, public indices (oracle), private count)."""
    cache = tmp_path_factory.mktemp("view-pages")
    old = os.environ.get("DIGIT_LAB_CACHE")
    os.environ["DIGIT_LAB_CACHE"] = str(cache)
    db = ClassroomDB.open(f"sqlite:///{cache / 'classroom.db'}")
    try:
        created = service.create_challenge(spec(), roster=("Ana",), db=db)
        token = parse_qs(urlparse(created.students[0].link).query)["student"][0]
        outcome = service.submit(created.challenge_id, token, {"epochs": 1, "seed": 0}, db=db)
    finally:
        db.close()
        if old is None:
            os.environ.pop("DIGIT_LAB_CACHE", None)
        else:
            os.environ["DIGIT_LAB_CACHE"] = old
    labels = load_dataset("digits").y_test
    splitter = StratifiedShuffleSplit(n_splits=1, test_size=FRACTION, random_state=SEED)
    public = np.sort(next(splitter.split(np.zeros((len(labels), 1)), labels))[0])
    split = hidden_split(labels, FRACTION, SEED)
    assert np.array_equal(split.public, public)  # the split function is scikit-learn's stratified split
    private = len(labels) - len(public)
    assert 0 < private < len(public)
    return cache, outcome.run_id, public, private


@pytest.fixture
def pages_cache(submission, monkeypatch):
    cache, run_id, public, private = submission
    monkeypatch.setenv("DIGIT_LAB_CACHE", str(cache))
    memo.clear_dataset_cache()  # the view is rebuilt from its record, as in a fresh server process
    return run_id, public, private


def page_text(app) -> str:
    parts = []
    for kind in ("markdown", "caption", "warning", "info", "error", "text", "metric"):
        for element in app.get(kind):
            parts.append(literal(getattr(element, "value", "")))
            parts.append(literal(getattr(element, "help", "") or ""))
    return "\n".join(parts)


def never_the_private_count(text: str, private: int) -> None:
    assert not re.search(rf"\b{private:,} (of \d+ )?test images\b", text), text[:2000]


def test_evaluate_shows_the_public_part_with_its_images(pages_cache):
    run_id, public, private = pages_cache
    app = open_page("views/evaluate.py", {"run": run_id})
    assert not app.exception, app.exception
    text = page_text(app)
    assert "Metrics only, no images" not in text  # the view loaded: its images line up with the stored predictions
    assert f"({len(public):,} test images" in text
    assert any(f"of {len(public)} test images wrong" in (m.help or "") for m in app.metric)
    never_the_private_count(text, private)
    app = open_tab(app, "eval_tab", "Sample predictions")
    assert not app.exception and app.get("plotly_chart")
    never_the_private_count(page_text(app), private)


@pytest.mark.parametrize(("page", "key"), [("views/inspect.py", "inspect_index"), ("views/explain.py", "explain")])
def test_inspect_and_explain_pick_among_the_public_images_only(pages_cache, page, key):
    run_id, public, private = pages_cache
    app = open_page(page, {"run": run_id})
    assert not app.exception, app.exception
    assert not app.error, [e.value for e in app.error]
    pickers = [n for n in app.number_input if n.label.startswith("Test image (0..")]
    assert len(pickers) == 1, [n.label for n in app.number_input]
    assert pickers[0].label == f"Test image (0..{len(public) - 1})"
    assert pickers[0].max == len(public) - 1
    never_the_private_count(page_text(app), private)


def test_compare_scores_the_submission_on_the_public_part(pages_cache):
    from sklearn.metrics import accuracy_score

    from engine.store import RunStore

    run_id, public, private = pages_cache
    base = load_dataset("digits")
    model = RunStore().get(run_id).load_model()
    predicted = model.predict(base.x_test[public] / base.value_max, verbose=0).argmax(axis=1)
    expected = accuracy_score(base.y_test[public], predicted)  # the model on the public images, scored here
    app = open_page("views/compare.py", {"runs": run_id})
    assert not app.exception, app.exception
    [table] = [frame.value for frame in app.dataframe if "test_accuracy" in frame.value.columns]
    [shown] = table.loc[table["run_id"] == run_id, "test_accuracy"].tolist()
    assert shown == pytest.approx(expected, abs=1e-6)
    never_the_private_count(page_text(app), private)


def test_the_report_draws_public_images_only_and_the_notebook_says_why_not(pages_cache, monkeypatch):
    import engine.reports.html as report_html
    from engine.errors import InvalidConfig
    from engine.reports import run_subject
    from engine.reports.writer import report_text

    run_id, public, private = pages_cache
    base = load_dataset("digits")
    drawn = []
    real_grid = report_html.image_grid

    def recording_grid(images, titles, *args, **kwargs):
        drawn.append((np.array(images), list(titles)))
        return real_grid(images, titles, *args, **kwargs)

    monkeypatch.setattr(report_html, "image_grid", recording_grid)
    page = report_text(run_subject(run_id), "html")
    assert "Images left out" not in page
    assert len(drawn) == 1
    images, titles = drawn[0]
    assert len(images) > 0
    for image, title in zip(images, titles, strict=True):
        index = int(re.match(r"#(\d+) ", title).group(1))  # the image's place in the run's (public) test set
        assert index < len(public)
        np.testing.assert_array_equal(image, base.x_test[public[index]])
    private_only = np.setdiff1d(np.arange(len(base.y_test)), public)
    public_bytes = {base.x_test[i].tobytes() for i in public}
    hidden = [base.x_test[i].tobytes() for i in private_only if base.x_test[i].tobytes() not in public_bytes]
    assert not {image.tobytes() for image in images} & set(hidden)
    assert not re.search(rf"\b{private:,} test images\b", page)

    with pytest.raises(InvalidConfig, match="secret split seed"):
        report_text(run_subject(run_id), "ipynb")


def test_a_challenge_records_its_view_at_create_and_an_older_one_gets_it_at_submit(tmp_path, monkeypatch):
    from engine.datasets import views

    monkeypatch.setenv("DIGIT_LAB_CACHE", str(tmp_path / "cache"))
    db = ClassroomDB.open(f"sqlite:///{tmp_path / 'classroom.db'}")
    try:
        created = service.create_challenge(spec(), roster=("Ana",), db=db)
        name = views.public_view_name("digits", created.challenge_id)
        path = views.record_path(name)
        record = views.read_record(name)
        assert (record.base, record.private_fraction, record.split_seed) == ("digits", FRACTION, SEED)
        assert record.base_fingerprint == load_dataset("digits").fingerprint
        assert not [p.name for p in path.parent.iterdir() if p.name != path.name]  # no temporary file left
        path.unlink()  # as for a challenge made before views were recorded
        token = parse_qs(urlparse(created.students[0].link).query)["student"][0]
        outcome = service.submit(created.challenge_id, token, {"epochs": 1, "seed": 0}, db=db)
        memo.clear_dataset_cache()
        assert len(load_dataset(name).y_test) == len(hidden_split(load_dataset("digits").y_test, FRACTION, SEED).public)
        from engine.store import RunStore

        assert RunStore().get(outcome.run_id).meta["dataset"]["name"] == name
        path.write_text('{"version": 1}')  # damaged by hand: written again at the next submission (served cached)
        assert service.submit(created.challenge_id, token, {"epochs": 1, "seed": 0}, db=db).cached
        assert views.read_record(name) == record
    finally:
        db.close()


@pytest.mark.slow
def test_the_cli_reports_a_submission_run_in_a_fresh_process(submission, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    cache, run_id, public, private = submission
    root = Path(__file__).resolve().parents[2]
    output = tmp_path / "report.html"
    env = {**os.environ, "DIGIT_LAB_CACHE": str(cache), "PYTHONPATH": str(root)}
    done = subprocess.run(
        [sys.executable, "-m", "engine", "report", run_id, "--format", "html", "--output", str(output), "--json"],
        env=env,
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    page = output.read_text()
    assert "Images left out" not in page and "Most confident mistakes" in page
    assert not re.search(rf"\b{private:,} test images\b", page)
    notebook = subprocess.run(
        [sys.executable, "-m", "engine", "report", run_id, "--format", "ipynb", "--output", str(tmp_path / "n.ipynb")],
        env=env,
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert notebook.returncode == 2 and "secret split seed" in notebook.stderr
    assert not (tmp_path / "n.ipynb").exists()
