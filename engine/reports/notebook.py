"""A standalone Jupyter notebook that reproduces a stored run with public packages alone (keras, numpy,
scikit-learn, plotly): the same data and split, the exact model, the same training settings and seed, then what
Evaluate shows (metrics, classification report, confusion matrix, curves, the most confident mistakes).

The data, model and training code is the exported Keras recipe (`engine.reports.recipe.to_keras_code`), cut into
cells at its section markers, so there is one code generator. For a set of runs (a preset study, a k-fold, Compare's
selection) the notebook reproduces the best run and tabulates the others from their stored metrics.

Everything taken from a stored run's meta is untrusted: the spec and config are re-validated by the engine's
validator before code is generated from them, stored values enter code cells only as Python literals
(`engine.reports.literals.py_literal`: a NaN or infinite score becomes `float('nan')` / `float('inf')`, never a bare
name), and Markdown cells get them escaped.
"""

from __future__ import annotations

import html
import re
from dataclasses import fields
from typing import TYPE_CHECKING

from engine.architectures.checks import validate_spec
from engine.architectures.presets import run_model_label
from engine.architectures.spec import ModelSpec
from engine.datasets.uploads import is_upload_name
from engine.datasets.views import is_view_name
from engine.errors import DigitLabError, InvalidConfig
from engine.reports.literals import py_literal
from engine.reports.recipe import PUBLIC_LOADERS, dataset_loader, to_keras_code
from engine.reports.subject import ReportSubject
from engine.store import StoredRun
from engine.training.checks import validate_config_values
from engine.training.config import TrainConfig, settings

if TYPE_CHECKING:
    from nbformat import NotebookNode

# TrainConfig fields the exported recipe reproduces (`SettingInfo.recipe`). A run that sets any other field to a
# non-default value (a setting added after the recipe) gets a notice in the notebook naming it, never a silent
# omission.
RECIPE_FIELDS = frozenset(name for name, info in settings().items() if info.recipe)
SECTION_MARK = re.compile(r"^# --- (.*?) -+$", re.MULTILINE)
MISTAKES_SHOWN = 12
_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")


def md_text(value: object, limit: int = 200) -> str:
    """Untrusted text for a Markdown cell: HTML-escaped, Markdown punctuation backslash-escaped, one line."""
    text = " ".join(str(value).split())[:limit]
    return _MARKDOWN_SPECIALS.sub(r"\\\1", html.escape(text, quote=True))


def notebook_reason(dataset_name: str) -> str:
    """Why no notebook can be written for runs on `dataset_name` ("" when one can): the recipe loads the public
    datasets and uploads (from their files); anything else has no loader."""
    if dataset_loader(str(dataset_name)) is not None:  # the recipe's own loaders, not a copy
        return ""
    if is_view_name(dataset_name):
        # A notebook loads its data from a public source. A view's test set is that source's cut by the challenge's
        # split, and the cut needs the split seed, which a student is never given: with it and the public test
        # labels the hidden images could be recomputed. Without it the notebook would test on the whole test set.
        return (
            "No notebook for runs on a challenge's public part: a notebook loads its data from a public source, and "
            "cutting the public part out of it would need the challenge's secret split seed (anyone holding it could "
            "recompute the hidden images). The HTML report works for these runs and shows the public part only."
        )
    return (
        f"No notebook for runs on {str(dataset_name)[:60]}: a notebook can load the public datasets "
        f"({', '.join(PUBLIC_LOADERS)}) and uploads. The HTML report works for every run."
    )


def checked_request(meta: dict) -> tuple[ModelSpec, TrainConfig]:
    """(ModelSpec, TrainConfig) from a stored run's meta, through the engine's validator: code is generated from
    these values, so a tampered meta must fail here rather than reach the notebook."""
    spec = ModelSpec.from_dict(meta["spec"])
    config = TrainConfig.from_dict(meta["config"])
    validate_spec(spec)
    validate_config_values(config)
    return spec, config


def unreproduced_settings(config: TrainConfig) -> list[str]:
    """Settings of `config` with a non-default value that the recipe does not reproduce."""
    default = type(config)()
    return [
        f"{f.name} = {getattr(config, f.name)!r}"
        for f in fields(config)
        if f.name not in RECIPE_FIELDS and getattr(config, f.name) != getattr(default, f.name)
    ]


def notebook_for(subject: ReportSubject) -> NotebookNode:
    """The notebook (an `nbformat` v4 node) for `subject`."""
    import nbformat
    from nbformat import v4

    run = subject.best
    meta = run.meta
    spec, config = checked_request(meta)
    dataset = str(meta["dataset"]["name"])
    refused = notebook_reason(dataset) if is_view_name(dataset) else ""
    if refused:  # said plainly, before the recipe's generic "no Keras recipe" refusal
        raise InvalidConfig(refused)
    history, history_problem = _stored_history(run)
    # The precision the run trained in, from its stored history (untrusted: only a known name reaches the code).
    precision = history.get("precision")
    precision = precision if precision in ("float32", "mixed_bfloat16") else "float32"
    # InvalidConfig for a dataset with no public loader.
    recipe = to_keras_code(spec, config, dataset, precision=precision)
    metrics = meta["metrics"]
    cells = [v4.new_markdown_cell(_title(subject, run_model_label(meta)))]
    if subject.is_set:
        cells.append(v4.new_code_cell(_table_code(subject)))
    notices = _notices(meta, config)
    if history_problem:
        notices.append(
            f"The stored run's training curves are left out: {md_text(history_problem, 400)} The curves below "
            "show this notebook's own training only."
        )
    if notices:
        cells.append(v4.new_markdown_cell("**Read this first.**\n\n" + "\n".join(f"- {n}" for n in notices)))
    cells += [v4.new_code_cell(source) for source in _recipe_cells(recipe)]
    cells += [v4.new_markdown_cell("## What Evaluate shows")]
    cells += [v4.new_code_cell(source) for source in _evaluation_cells(meta, metrics, history)]
    notebook = v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.metadata["language_info"] = {"name": "python"}
    nbformat.validate(notebook)
    return notebook


def notebook_text(subject: ReportSubject) -> str:
    import nbformat

    return nbformat.writes(notebook_for(subject))


def _stored_history(run: StoredRun) -> tuple[dict, str]:
    """The run's history, checked by the store, and '' ; or {} and why it cannot be read (said in the notebook)."""
    try:
        return run.history(), ""
    except DigitLabError as problem:
        return {}, str(problem)


def _title(subject: ReportSubject, model_label: str) -> str:
    meta = subject.best.meta
    metrics = meta["metrics"]
    lines = [
        f"# {md_text(subject.title)}",
        "",
        "A standalone notebook written by Digit Lab: it uses only public packages (keras, numpy, scikit-learn, "
        "plotly), loads the same data with the same split, builds the same model and trains it with the same "
        "settings and seed, then shows what Digit Lab's Evaluate page shows. Training is seeded but not bit-exact "
        "across machines and library versions, so expect small differences (Digit Lab's own test requires the "
        "digits notebook to land within 0.02 of the stored test accuracy).",
        "",
    ]
    if subject.is_set:
        lines += [
            f"This is a set of {len(subject.runs)} runs. The notebook reproduces the best one, chosen by "
            f"{md_text(subject.chosen_by)}, and tabulates all of them from their stored metrics.",
            "",
        ]
    lines += [
        f"- run: `{subject.best_run_id}`",
        f"- dataset: {md_text(meta['dataset']['name'])}",
        f"- model: {md_text(model_label)} ({int(meta['parameters']['total']):,} parameters)",
        f"- epochs run: {md_text(meta.get('epochs_run', '?'))}, created {md_text(meta.get('created', '?'))}",
        f"- stored test accuracy {float(metrics['test_accuracy']):.4f}, macro F1 {float(metrics['macro_f1']):.4f}, "
        f"test loss {float(metrics['test_loss']):.4f}",
    ]
    return "\n".join(lines)


def _table_code(subject: ReportSubject) -> str:
    # Deferred: engine.compare loads pandas; only a notebook about a set of runs has a table.
    from engine.compare import comparison_table

    table = comparison_table(list(subject.runs))
    columns = ["run_id", "preset", "architecture", "parameters", "epochs", "learning_rate", "seed"]
    rows = []
    for record, run in zip(table.to_dict(orient="records"), subject.runs, strict=True):
        row = {name: record[name] for name in columns}
        row["val_accuracy"] = run.meta["metrics"].get("val_accuracy")
        row["test_accuracy"] = record["test_accuracy"]
        row["macro_f1"] = record["macro_f1"]
        rows.append({k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()})
    return "\n".join(
        [
            "# Every run of the set, from its stored metrics (not retrained here); * marks the one reproduced below.",
            f"BEST_RUN = {py_literal(subject.best_run_id)}",
            "RUNS = [",
            *(f"    {py_literal(row)}," for row in rows),
            "]",
            "header = ('', 'run', 'preset', 'architecture', 'params', 'epochs', 'val acc', 'test acc', 'macro F1')",
            "print('{:1} {:8} {:22} {:36} {:>9} {:>6} {:>8} {:>8} {:>8}'.format(*header))",
            "for row in RUNS:",
            "    val = '-' if row['val_accuracy'] is None else f\"{row['val_accuracy']:.4f}\"",
            "    print('{:1} {:8} {:22} {:36} {:>9,} {:>6} {:>8} {:>8.4f} {:>8.4f}'.format(",
            "        '*' if row['run_id'] == BEST_RUN else '', row['run_id'][:8], str(row['preset'])[:22],",
            "        str(row['architecture'])[:36], row['parameters'], row['epochs'], val,",
            "        row['test_accuracy'], row['macro_f1']))",
        ]
    )


def _notices(meta: dict, config: TrainConfig) -> list[str]:
    notices = [f"Stored with this run: {md_text(warning, 400)}" for warning in meta.get("warnings", [])]
    identity = meta["dataset"].get("identity")
    if isinstance(identity, str) and "custom" in identity:
        notices.append(
            "The run was trained on local files that match no published copy of this dataset; the notebook loads "
            "the published one, so its numbers can differ."
        )

    if is_upload_name(meta["dataset"]["name"]):
        notices.append(
            "This run's data was uploaded to Digit Lab, and no public source holds it: the data cell reads the "
            "files from `DATA_PATH`, the folder the server keeps them in. Elsewhere, copy the files and change it."
        )
    missing = unreproduced_settings(config)
    if missing:
        notices.append(
            "These settings of the run are not reproduced by this notebook (the exported recipe does not know "
            f"them yet), so its numbers can differ: {md_text('; '.join(missing), 600)}."
        )
    return notices


def _recipe_cells(recipe: str) -> list[str]:
    """The recipe cut at its `# --- section ---` markers (imports and settings first)."""
    marks = list(SECTION_MARK.finditer(recipe))
    bounds = [0] + [mark.start() for mark in marks] + [len(recipe)]
    cells = [recipe[start:end].strip("\n") for start, end in zip(bounds, bounds[1:], strict=False)]
    return [cell for cell in cells if cell.strip()]


def _evaluation_cells(meta: dict, metrics: dict, history: dict) -> list[str]:
    class_names = [str(name) for name in meta["class_names"]]
    stored = {
        name: float(metrics[name])
        for name in ("test_accuracy", "macro_f1", "test_loss", "val_accuracy")
        if isinstance(metrics.get(name), int | float)
    }
    stored_curves = {
        metric: [float(epoch[metric]) for epoch in history.get("epochs", []) if isinstance(epoch.get(metric), float)]
        for metric in ("accuracy", "val_accuracy", "loss", "val_loss")
    }
    metrics_cell = "\n".join(
        [
            "from sklearn.metrics import (",
            "    accuracy_score,",
            "    classification_report,",
            "    log_loss,",
            "    precision_recall_fscore_support,",
            ")",
            "",
            f"CLASS_NAMES = {py_literal(class_names)}",
            f"STORED = {py_literal(stored)}  # the stored run's scores, for comparison",
            "labels = list(range(len(CLASS_NAMES)))",
            "probabilities = model.predict(x_test, verbose=0)",
            "y_pred = probabilities.argmax(axis=1)",
            "accuracy = accuracy_score(y_test, y_pred)",
            "precision, recall, f1, _ = precision_recall_fscore_support(",
            '    y_test, y_pred, labels=labels, average="macro", zero_division=0',
            ")",
            "loss = log_loss(y_test, probabilities, labels=labels)",
            "print(f\"test accuracy: {accuracy:.4f} (stored run: {STORED['test_accuracy']:.4f})\")",
            'print(f"macro precision {precision:.4f} · macro recall {recall:.4f} · macro F1 {f1:.4f} "',
            "      f\"(stored run: {STORED['macro_f1']:.4f}) · log loss {loss:.4f}\")",
            'print(f"{len(y_test) - int((y_pred == y_test).sum())} of {len(y_test)} test images wrong")',
            "print()",
            "print(classification_report(y_test, y_pred, labels=labels, target_names=CLASS_NAMES, digits=4,",
            "                            zero_division=0))",
        ]
    )
    plots_cell = "\n".join(
        [
            "import html",
            "",
            "import plotly.graph_objects as go",
            "from plotly.subplots import make_subplots",
            "from sklearn.metrics import confusion_matrix",
            "",
            "# Plotly reads labels as HTML: the class names (from the run) are escaped for the charts.",
            "CHART_NAMES = [html.escape(name) for name in CLASS_NAMES]",
            "confusion = confusion_matrix(y_test, y_pred, labels=labels)",
            "go.Figure(",
            '    go.Heatmap(z=confusion, x=CHART_NAMES, y=CHART_NAMES, colorscale="Blues", text=confusion,',
            '               texttemplate="%{text}",',
            '               hovertemplate="true %{y}, predicted %{x}: %{z}<extra></extra>"),',
            '    layout={"title": "Confusion matrix (rows: true class, columns: predicted)", "width": 560,',
            '            "height": 520, "yaxis": {"autorange": "reversed", "type": "category"},',
            '            "xaxis": {"type": "category"}},',
            ").show()",
        ]
    )
    curves_cell = "\n".join(
        [
            f"STORED_CURVES = {py_literal(stored_curves)}  # the stored run's per-epoch curves",
            'curves = make_subplots(rows=1, cols=2, subplot_titles=("Accuracy", "Loss"))',
            'for column, metric in ((1, "accuracy"), (2, "loss")):',
            '    for key, colour in ((metric, "#1f77b4"), (f"val_{metric}", "#ff7f0e")):',
            '        for source, values, dash in (("this notebook", history.history.get(key), "solid"),',
            '                                     ("stored run", STORED_CURVES.get(key), "dash")):',
            "            if values:",
            '                line = {"color": colour, "dash": dash}',
            "                curves.add_trace(go.Scatter(x=list(range(1, len(values) + 1)), y=values,",
            '                                            name=f"{key} ({source})", line=line), row=1, col=column)',
            'curves.update_xaxes(title_text="epoch")',
            'curves.update_layout(title="Training curves", height=420)',
            "curves.show()",
        ]
    )
    mistakes_cell = "\n".join(
        [
            f"# The {MISTAKES_SHOWN} most confident mistakes: title = predicted class (confidence) / true class.",
            "wrong = np.flatnonzero(y_pred != y_test)",
            'wrong = wrong[np.argsort(-probabilities[wrong].max(axis=1), kind="stable")]',
            f"shown = wrong[:{MISTAKES_SHOWN}]",
            "if len(shown):",
            "    grid = make_subplots(rows=1, cols=len(shown), subplot_titles=[",
            '        f"{CHART_NAMES[y_pred[i]]} ({probabilities[i].max():.0%})<br>true {CHART_NAMES[y_test[i]]}"',
            "        for i in shown",
            "    ])",
            "    for column, index in enumerate(shown, 1):",
            '        grid.add_trace(go.Heatmap(z=x_test[index, ::-1, :, 0], colorscale="gray", zmin=0, zmax=1,',
            "                                  showscale=False), row=1, col=column)",
            '    grid.update_xaxes(visible=False, scaleanchor="y")',
            "    grid.update_yaxes(visible=False)",
            "    grid.update_annotations(font_size=10)",
            '    grid.update_layout(title="Most confident mistakes", height=230, width=120 * len(shown) + 80)',
            "    grid.show()",
            "else:",
            '    print("No test image was misclassified.")',
        ]
    )
    return [metrics_cell, plots_cell, curves_cell, mistakes_cell]
