"""The standalone notebook: public imports only, validated inputs, escaped text, and (slow) executed with nbclient it
reproduces the stored run's test accuracy."""

from __future__ import annotations

import ast
import re
from dataclasses import replace

import nbformat
import pytest

from engine.errors import InvalidSpec
from engine.reports import run_subject, runs_subject
from engine.reports.notebook import notebook_for, notebook_text
from engine.store import StoredRun
from tests.reports.conftest import train_digits

PUBLIC = {"keras", "numpy", "tensorflow", "sklearn", "plotly", "math", "html"}


def _imported_roots(source: str) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            roots.add((node.module or "").split(".")[0])
    return roots


def _code(notebook) -> list[str]:
    return [cell.source for cell in notebook.cells if cell.cell_type == "code"]


def test_code_cells_import_public_packages_only_and_never_the_project(short_run):
    notebook = nbformat.reads(notebook_text(run_subject(short_run.run_id)), as_version=4)
    nbformat.validate(notebook)
    imported = set().union(*(_imported_roots(source) for source in _code(notebook)))
    assert "keras" in imported and "sklearn" in imported
    assert imported <= PUBLIC, imported - PUBLIC
    whole = "\n".join(_code(notebook))
    assert not re.search(r"\b(engine|dashboard)\.", whole)
    # The run's settings are in the code: seed, epochs, batch size.
    config = short_run.meta["config"]
    assert f"SEED = {config['seed']}" in whole and f"EPOCHS = {config['epochs']}" in whole
    assert f"BATCH_SIZE = {config['batch_size']}" in whole


def test_a_tampered_spec_in_the_meta_is_refused_before_any_code_is_written(short_run):
    meta = dict(short_run.meta)
    spec = dict(meta["spec"])
    spec["output_activation"] = 'softmax"); import os; os.system("echo owned'
    meta["spec"] = spec
    tampered = replace(short_run, meta=meta)
    with pytest.raises(InvalidSpec):
        notebook_for(_subject_of(tampered))


def _subject_of(run: StoredRun):
    from engine.reports.subject import ReportSubject

    return ReportSubject(f"Run {run.run_id}", "run", (run,), run.run_id, "the only run")


def test_meta_strings_are_escaped_in_markdown_and_literals_in_code(short_run):
    meta = dict(short_run.meta)
    evil = "<script>alert(1)</script>[x](http://e.test)"
    meta["class_names"] = [evil] + list(meta["class_names"][1:])
    meta["warnings"] = [evil]
    notebook = notebook_for(_subject_of(replace(short_run, meta=meta)))
    markdown = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
    assert "<script" not in markdown and "](http" not in markdown
    assert "&lt;script&gt;" in markdown
    code = "\n".join(_code(notebook))
    namespace: dict = {}
    line = next(line for line in code.splitlines() if line.startswith("CLASS_NAMES = "))
    exec(line, namespace)  # a plain literal: the exact names back, nothing run
    assert namespace["CLASS_NAMES"][0] == evil


def test_non_finite_stored_scores_and_curves_are_valid_python_in_the_notebook(short_run, tmp_path):
    """A stored infinite loss or NaN score was written as a bare `inf` / `nan`: NameError once the notebook ran.
    The notebook's stored-value lines now evaluate to exactly the stored values."""
    import json
    import math
    import shutil

    meta = dict(short_run.meta)
    meta["metrics"] = {**meta["metrics"], "test_loss": math.inf, "val_accuracy": math.nan}
    folder = tmp_path / "copy"
    shutil.copytree(short_run.path, folder)
    history = short_run.history()
    history["epochs"][0] = {**history["epochs"][0], "loss": math.inf, "val_loss": math.nan}
    (folder / "history.json").write_text(json.dumps(history))  # json writes Infinity / NaN, as Python reads them
    code = "\n".join(_code(notebook_for(_subject_of(replace(short_run, path=folder, meta=meta)))))
    namespace: dict = {"__builtins__": {}, "float": float}
    for name in ("STORED", "STORED_CURVES"):
        line = next(line for line in code.splitlines() if line.startswith(f"{name} = "))
        exec(line, namespace)  # a NameError here is the fault
    assert namespace["STORED"]["test_loss"] == math.inf and math.isnan(namespace["STORED"]["val_accuracy"])
    assert namespace["STORED_CURVES"]["loss"][0] == math.inf and math.isnan(namespace["STORED_CURVES"]["val_loss"][0])


def test_a_setting_the_recipe_does_not_reproduce_is_named(short_run, monkeypatch):
    import engine.reports.notebook as notebook_module

    meta = dict(short_run.meta)
    meta["config"] = {**meta["config"], "augment_zoom": 0.2}
    monkeypatch.setattr(notebook_module, "RECIPE_FIELDS", notebook_module.RECIPE_FIELDS - {"augment_zoom"})
    notebook = notebook_for(_subject_of(replace(short_run, meta=meta)))
    markdown = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
    assert "not reproduced" in markdown and "augment\\_zoom = 0\\.2" in markdown


def test_a_set_reproduces_its_best_run_by_validation_accuracy_and_tables_all(short_run):
    other = train_digits(epochs=2, seed=1)
    subject = runs_subject([short_run.run_id, other.run_id])
    by_hand = max((short_run, other), key=lambda run: run.meta["metrics"]["val_accuracy"]).run_id
    assert subject.best_run_id == by_hand
    notebook = notebook_for(subject)
    code = _code(notebook)
    table = next(source for source in code if source.lstrip().startswith("# Every run of the set"))
    namespace: dict = {}
    exec(table.split("header =")[0], namespace)
    assert [row["run_id"] for row in namespace["RUNS"]] == [short_run.run_id, other.run_id]
    assert namespace["BEST_RUN"] == by_hand
    best_epochs = subject.best.meta["config"]["epochs"]
    assert any(f"EPOCHS = {best_epochs}" in source for source in code)


@pytest.mark.slow
def test_the_executed_notebook_reproduces_the_stored_test_accuracy(tmp_path):
    """nbclient runs every cell in a fresh kernel; the printed test accuracy is within 0.02 of the stored run's."""
    from nbclient import NotebookClient

    run = train_digits(epochs=10)
    notebook = notebook_for(run_subject(run.run_id))
    resources = {"metadata": {"path": str(tmp_path)}}
    client = NotebookClient(notebook, timeout=600, kernel_name="python3", resources=resources)
    client.execute()
    printed = "".join(
        output.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("name") == "stdout"
    )
    found = re.search(r"test accuracy: (\d\.\d+) \(stored run: (\d\.\d+)\)", printed)
    assert found, printed[-2000:]
    assert float(found.group(2)) == pytest.approx(run.meta["metrics"]["test_accuracy"], abs=1e-4)
    assert abs(float(found.group(1)) - run.meta["metrics"]["test_accuracy"]) <= 0.02
    figures = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if "application/vnd.plotly.v1+json" in output.get("data", {})
    ]
    assert len(figures) >= 2  # the confusion matrix and the curves (and the mistakes, when there are any)


@pytest.mark.parametrize("kind", ["idx-gz", "idx-raw", "npz", "npz-0..16"])
def test_an_uploads_notebook_reads_its_files_into_the_engines_exact_split(kind, tmp_path):
    """The data cell of a notebook for an upload, run as is, holds the engine's own images and labels, part by part."""
    import gzip
    import io

    import numpy as np

    from engine.datasets import load_dataset
    from engine.datasets.uploads import register_upload
    from engine.reports.notebook import notebook_reason
    from engine.reports.recipe import to_keras_code
    from engine.runs import preset_request
    from engine.training.data import prepare_data
    from tests.datasets.helpers import idx_bytes, make_images
    from tests.datasets.test_uploads import IDX_NAMES

    x_train, y_train = make_images(60, size=8, seed=3)
    x_test, y_test = make_images(20, size=8, seed=4)
    if kind == "npz-0..16":  # divided by 16 under the default (auto) scaling: the notebook must divide alike
        x_train, x_test = x_train % 17, x_test % 17
    if kind.startswith("npz"):
        buffer = io.BytesIO()
        np.savez(buffer, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
        files = [("data.npz", buffer.getvalue())]
    else:
        names = IDX_NAMES
        arrays = (x_train, y_train, x_test, y_test)
        files = [
            (name + ".gz", gzip.compress(idx_bytes(array))) if kind == "idx-gz" else (name, idx_bytes(array))
            for name, array in zip(names, arrays, strict=True)
        ]
    name = register_upload(files)
    assert notebook_reason(name) == ""
    dataset = load_dataset(name)
    spec, config = preset_request("digitlab-small8", dataset, epochs=1, seed=5)
    code = to_keras_code(spec, config, name)
    namespace: dict = {"__name__": "recipe"}
    exec(code.split("# --- model")[0], namespace)
    prepared = prepare_data(dataset, config)
    for ours, theirs in (("x_fit", prepared.x_train), ("x_val", prepared.x_val), ("x_test", prepared.x_test)):
        np.testing.assert_array_equal(namespace[ours], theirs)
    np.testing.assert_array_equal(namespace["t_test"].argmax(axis=1), prepared.y_test)
    assert notebook_reason("not-a-dataset") and "HTML report" in notebook_reason("not-a-dataset")
