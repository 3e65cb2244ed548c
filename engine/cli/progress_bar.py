"""The progress bar the training verbs draw on stderr while runs train."""

from __future__ import annotations

import sys
from collections.abc import Callable

from engine.progress import BatchProgress, ProgressEvent


class _ProgressBar:
    """A one-line text bar on stderr, drawn only when stderr is a terminal."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.label = "training"

    def epoch(self, event: ProgressEvent) -> None:
        if not self.enabled or event.stage == "start":
            return None
        width = 30
        filled = int(width * event.fraction_done)
        extra = ""
        if event.stage == "epoch" and event.metrics:  # a job's epochs come without metrics
            m = event.metrics
            extra = f" loss {m.get('loss', float('nan')):.4f} acc {m.get('accuracy', float('nan')):.4f}"
            if "val_accuracy" in m:
                extra += f" val_acc {m['val_accuracy']:.4f}"
        sys.stderr.write(
            f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] "
            f"epoch {event.epoch}/{event.epochs} {event.elapsed:.0f}s{extra}   "
        )
        sys.stderr.flush()
        return None

    def batch(self, noun: str) -> Callable[[BatchProgress], None]:
        """A `BatchProgress` callback for k-folds, preset studies and sweeps: each run that starts names the bar
        ("fold 2/5", "seed003-m4 (4/10)"), and its epochs fill it."""

        def progress(update: BatchProgress) -> None:
            if update.status == "start":
                where = f"{update.index}/{update.total}"
                self.label = f"{update.label} ({where})" if update.label else f"{noun} {where}"
            elif update.event is not None:
                self.epoch(update.event)

        return progress

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")
