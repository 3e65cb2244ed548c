"""One self-contained HTML report: the run card, metrics, classification report, confusion matrix, training curves
and the most confident mistakes; for a set of runs also the comparison table and charts. It opens offline: Plotly's
JavaScript is inlined once in the head, every figure is inline data, and nothing is fetched from anywhere.

The figures come from the chart builders the dashboard draws with too (the top-level `charts` package, plain
Plotly with no Streamlit), so the report looks like the pages it comes from. Every string from a stored run's meta
(names, notes, class names, settings) is untrusted: `html.escape`d in the page and in the figures, whose labels
Plotly reads as HTML.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from charts.compare import accuracy_vs_parameters, aligned_curves
from charts.evaluation import confusion_heatmap, image_grid
from charts.training import training_curves
from engine.architectures.presets import run_model_label
from engine.compare import accuracy_vs_parameters as accuracy_points
from engine.compare import aligned_curves as curve_table
from engine.compare import comparison_table
from engine.datasets import load_dataset
from engine.errors import DigitLabError
from engine.evaluation import Evaluation, evaluate
from engine.reports.subject import ReportSubject
from engine.runs import spec_summary
from engine.store import StoredRun

if TYPE_CHECKING:
    import plotly.graph_objects as go

MISTAKES_SHOWN = 24
_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 1100px;
       color: #222; padding: 0 1rem; }
h1 { font-size: 1.7rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #ddd; padding-bottom: .3rem; }
table { border-collapse: collapse; margin: .6rem 0; font-size: .9rem; }
th, td { border: 1px solid #ddd; padding: .25rem .6rem; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.best { background: #fff6d5; }
.metrics { display: flex; gap: 1.5rem; flex-wrap: wrap; margin: 1rem 0; }
.metric { border: 1px solid #ddd; border-radius: 6px; padding: .5rem .9rem; }
.metric .value { font-size: 1.4rem; font-weight: 600; }
.note { background: #f3f6fa; border-left: 4px solid #7a9cc6; padding: .4rem .8rem; margin: .6rem 0; }
.warning { background: #fff4e5; border-left: 4px solid #e69500; padding: .4rem .8rem; margin: .6rem 0; }
.figure { margin: 1rem 0; }
"""


def esc(value: object, limit: int = 300) -> str:
    """Untrusted text for the page or a Plotly label: one line, shortened, HTML-escaped (quotes too)."""
    text = " ".join(str(value).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return html.escape(text, quote=True)


def html_report(subject: ReportSubject, progress: Callable[[str], None] | None = None) -> str:
    """The whole report as one HTML document (a str). `progress` hears a short line before each slow step."""
    from plotly.offline import get_plotlyjs

    say = progress or (lambda _step: None)
    sections = []
    if subject.is_set:
        say(f"comparing {len(subject.runs)} runs")
        sections.append(_set_section(subject))
    say(f"evaluating run {subject.best_run_id}")
    sections.append(_run_section(subject, say))
    title = esc(subject.title, 200)
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{title} · Digit Lab report</title>",
            f"<style>{_STYLE}</style>",
            # Inlined once for every figure below: the file must open with no network.
            f'<script type="text/javascript">{get_plotlyjs()}</script>',
            "</head><body>",
            f"<h1>{title}</h1>",
            "<p>A Digit Lab report: every number and figure comes from the stored runs, as the dashboard shows them."
            "</p>",
            *sections,
            "</body></html>",
        ]
    )


def _figure(figure: go.Figure) -> str:
    body = figure.to_html(full_html=False, include_plotlyjs=False, include_mathjax=False, config={"displaylogo": False})
    return f'<div class="figure">{body}</div>'


def _table(header: list[str], rows: list[list[str]], classes: list[str] | None = None) -> str:
    """Cells arrive escaped (or built from numbers here); `classes` marks rows (e.g. the best run)."""
    head = "".join(f"<th>{cell}</th>" for cell in header)
    body = []
    for index, row in enumerate(rows):
        marker = f' class="{classes[index]}"' if classes and classes[index] else ""
        cells = "".join(
            f'<td class="num">{cell[1:]}</td>' if cell.startswith("\x00") else f"<td>{cell}</td>" for cell in row
        )
        body.append(f"<tr{marker}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _num(value: object, form: str = ".4f") -> str:
    """A number cell (right-aligned); blank for a missing or non-finite value."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        return "\x00" + ("" if value is None else esc(value))
    if isinstance(value, float | np.floating) and not math.isfinite(value):
        return "\x00"
    return "\x00" + format(value, form)


def _set_section(subject: ReportSubject) -> str:
    runs = list(subject.runs)
    table = comparison_table(runs)
    header = ["run", "model", "architecture", "parameters", "epochs", "batch", "learning rate", "seed"]
    header += ["val accuracy", "test accuracy", "macro F1", "train s"]
    rows, classes = [], []
    for record, run in zip(table.to_dict(orient="records"), runs, strict=True):
        rows.append(
            [
                f"<code>{esc(run.run_id)}</code>" + (" ★" if run.run_id == subject.best_run_id else ""),
                esc(record["label"], 120),
                esc(record["architecture"], 120),
                _num(record["parameters"], ","),
                _num(record["epochs"], "d"),
                _num(record["batch_size"], "d"),
                _num(record["learning_rate"], "g"),
                _num(record["seed"], "d"),
                _num(run.meta["metrics"].get("val_accuracy")),
                _num(record["test_accuracy"]),
                _num(record["macro_f1"]),
                _num(record["train_seconds"], ".1f"),
            ]
        )
        classes.append("best" if run.run_id == subject.best_run_id else "")
    problems: list[tuple[str, str]] = []
    curves = curve_table(runs, problems)
    labels = [esc(label, 60) for label in table["label"]]
    parts = [
        f"<h2>The runs ({len(runs)})</h2>",
        f'<p class="note">★ the best run, chosen by {esc(subject.chosen_by)}; it is reported in full below.</p>',
        _table(header, rows, classes),
    ]
    metrics = [m for m in ("val_accuracy", "accuracy") if m in set(curves["metric"])]
    if metrics:
        shown = curves.assign(label=curves["label"].map(lambda label: esc(label, 60)))
        parts.append(_figure(aligned_curves(shown, metrics[0], labels)))
    parts += [f'<p class="warning">No curve for run {esc(run_id)}: {esc(reason)}</p>' for run_id, reason in problems]
    points = accuracy_points(runs)
    points = points.assign(label=points["label"].map(lambda t: esc(t, 60)), dataset=points["dataset"].map(esc))
    parts.append(_figure(accuracy_vs_parameters(points)))
    return "\n".join(parts)


def _run_section(subject: ReportSubject, say: Callable[[str], None]) -> str:
    run = subject.best
    meta = run.meta
    scores = evaluate(run.test_labels(), run.test_probabilities(), meta["class_names"])
    names = [esc(name, 40) for name in scores.class_names]
    dataset = meta["dataset"]
    card = [
        ["run", f"<code>{esc(run.run_id)}</code>"],
        [
            "dataset",
            f"{esc(dataset['name'])} ({esc(dataset.get('n_test', scores.num_samples))} test images, "
            f"{scores.num_classes} classes)",
        ],
        ["model", esc(run_model_label(meta))],
        ["architecture", esc(spec_summary(meta["spec"]))],
        ["parameters", f"{int(meta['parameters']['total']):,}"],
        ["epochs run", esc(meta.get("epochs_run", "?"))],
        ["learning rate", esc(meta["spec"].get("learning_rate"))],
        ["optimizer", esc(meta["spec"].get("optimizer"))],
        *[[esc(name), esc(value)] for name, value in meta["config"].items()],
        ["training time", f"{float(meta.get('train_seconds', 0)):.1f} s"],
        ["created", esc(meta.get("created", "?"))],
        ["versions", esc(", ".join(f"{k} {v}" for k, v in meta.get("versions", {}).items()))],
    ]
    parts = [
        f"<h2>{'Best run' if subject.is_set else 'Run'} <code>{esc(run.run_id)}</code></h2>",
        "<table><tbody>" + "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in card) + "</tbody></table>",
    ]
    parts += [
        f'<p class="warning">Stored with this run: {esc(warning, 600)}</p>' for warning in meta.get("warnings", [])
    ]
    parts += [f'<p class="note">{esc(note, 600)}</p>' for note in scores.notes]
    headline = [
        ("Test accuracy", f"{scores.accuracy:.2%}", f"{scores.num_errors} of {scores.num_samples} wrong"),
        ("Macro precision", f"{scores.macro_precision:.4f}", ""),
        ("Macro recall", f"{scores.macro_recall:.4f}", ""),
        ("Macro F1", f"{scores.macro_f1:.4f}", ""),
        ("Log loss", f"{scores.log_loss:.4f}", ""),
    ]
    validation = meta["metrics"].get("val_accuracy")
    if isinstance(validation, int | float):
        # A run that diverged stores NaN: say it in words rather than print "nan%".
        shown = f"{validation:.2%}" if math.isfinite(validation) else "not a number"
        headline.append(("Validation accuracy", shown, "final, after training"))
    parts.append(
        '<div class="metrics">'
        + "".join(
            f'<div class="metric"><div>{label}</div><div class="value">{value}</div><small>{extra}</small></div>'
            for label, value, extra in headline
        )
        + "</div>"
    )
    report = scores.report
    parts += [
        "<h2>Classification report</h2>",
        _table(
            ["class", "precision", "recall", "f1-score", "support"],
            [
                [
                    esc(index, 60),
                    *(_num(row[c]) for c in ("precision", "recall", "f1-score")),
                    _num(row["support"], ",.0f"),
                ]
                for index, row in report.iterrows()
            ],
        ),
        "<h2>Confusion matrix</h2>",
        _figure(
            confusion_heatmap(
                scores.confusion, names, False, title=f"Confusion matrix · {scores.num_samples:,} test images"
            )
        ),
        "<p>Rows are the true class, columns the prediction; the diagonal is correct.</p>",
        "<h2>Training curves</h2>",
    ]
    try:
        history = run.history()
    except DigitLabError as error:
        history, problem = {}, str(error)
    else:
        problem = "" if isinstance(history, dict) and history.get("epochs") else "this run has no training history"
    parts.append(
        _figure(training_curves(history, title="Training curves (epoch 0: validation before training)"))
        if not problem
        else f'<p class="warning">No curves: {esc(problem)}</p>'
    )
    say("drawing the mistakes")
    parts += ["<h2>Most confident mistakes</h2>", _mistakes(run, scores, names)]
    return "\n".join(parts)


def _mistakes(run: StoredRun, scores: Evaluation, names: list[str]) -> str:
    """The most confident mistakes as an image grid; the images come from the dataset, loaded here and checked by
    fingerprint against the run's (a report never shows other images under this run's labels)."""
    wrong = scores.misclassified()
    if wrong.empty:
        return "<p>No test image was misclassified.</p>"
    meta = run.meta
    name = meta["dataset"]["name"]
    try:
        dataset = load_dataset(name)
    except DigitLabError as error:
        return f'<p class="warning">Images left out: the dataset {esc(name)} cannot be loaded here ({esc(error)}).</p>'
    if meta["dataset"].get("fingerprint") != dataset.fingerprint or len(dataset.x_test) != scores.num_samples:
        return f'<p class="warning">Images left out: the {esc(name)} images here differ from the run\'s.</p>'
    indices = wrong["index"].to_numpy()[:MISTAKES_SHOWN]
    titles = [
        f"#{i} · {names[scores.y_pred[i]]} ({scores.confidence[i]:.0%}) · true {names[scores.y_true[i]]}"
        for i in indices
    ]
    figure = image_grid(
        dataset.x_test[indices],
        titles,
        dataset.value_max,
        columns=6,
        panel_px=150,
        title=f"{len(indices)} of {len(wrong)} mistakes, most confident first (predicted, confidence, true class)",
    )
    return _figure(figure)
