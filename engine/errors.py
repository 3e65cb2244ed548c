"""The error types the engine raises on purpose.

Every message is written for the person at the keyboard: what was wrong, the numbers involved, and what to do
next. The CLI prints `str(error)` on one line and the dashboard shows it in a box; neither shows a traceback.
"""


class DigitLabError(Exception):
    """Base class: anything the user can act on."""


class DatasetUnavailable(DigitLabError):
    """A dataset could not be had from any of the places tried (network, cache, local files)."""


class InvalidDataFile(DigitLabError):
    """A local IDX or npz file is malformed: wrong magic number, truncated, mismatched counts, bad dtype."""


class InvalidTestSplit(DigitLabError):
    """Test-image indices that cannot cut a test set (repeated, out of range, none), or a split that leaves a part
    without some class."""


class InvalidLabelMapping(DigitLabError):
    """A class-merging mapping leaves a class out, maps one twice, or names non-contiguous groups."""


class InvalidSpec(DigitLabError):
    """A model architecture that cannot be built (shapes collapse, unknown activation, bad numbers...)."""


class InvalidConfig(DigitLabError):
    """A training configuration that cannot run (epochs of 0, a validation split leaving no data...)."""


class TrainingDiverged(DigitLabError):
    """The loss became NaN or infinite; the run is not stored."""


class TrainingCancelled(DigitLabError):
    """The progress callback asked training to stop; the run is not stored."""


class RunNotFound(DigitLabError):
    """No stored run has this id."""


class StoreError(DigitLabError):
    """The run store could not be read or written (busy lock, full disk, read-only folder)."""


class InvalidRunMeta(StoreError):
    """A stored run's meta.json lacks a field readers rely on, or holds a wrong type: flagged, never served."""


class TrainingTooLarge(DigitLabError):
    """A training's memory estimate alone exceeds this server's budget for trainings; refused before it queues."""


class InvalidProbeRecord(StoreError):
    """A stored probe result (embedding map, robustness curve, calibration) that fails its checks: recomputed."""


class NotRecorded(DigitLabError):
    """A stored run lacks a record that is asked for (per-epoch predictions, training dynamics): it was trained
    without it, or before it was kept. Retraining under the same settings would return the same stored run."""
