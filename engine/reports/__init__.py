"""Reports a student can hand in: a standalone notebook that reproduces a run with public packages alone, and one
self-contained HTML file with the run's card, scores and figures. Both take a `ReportSubject`: one stored run, or a
named set of runs with a best one (a preset study, a k-fold, Compare's selection, a sweep). The notebook's code is the
exported Keras recipe (`recipe.to_keras_code`), which the Train page shows as well."""

from engine.reports.subject import (
    ReportSubject,
    preset_study_subject,
    run_subject,
    runs_subject,
    set_subject,
    sweep_subject,
)

__all__ = ["ReportSubject", "run_subject", "runs_subject", "set_subject", "preset_study_subject", "sweep_subject"]
