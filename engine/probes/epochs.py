"""What a stored run recorded after each epoch: its predictions on the test set (confusion matrices over time).

The trainer's `EpochRecorder` stores `epoch_predictions.npy`, (epochs run, n_test) unsigned class indices: row
e - 1 holds the predicted class of every test image after epoch e, scored like the final test set (inference
mode). The file is listed in the run's manifest like every other; here it is also checked against the run's own
test labels, classes and history before any matrix is built from it, since the cache is a folder anyone can edit.

Early stopping: Keras sets the best epoch's weights back at the end of training, so the stored model (and the
test probabilities every other view reads) is then that epoch's, not the last one's. The history names that
epoch (`restored_epoch`), and the matrix shown by default is the stored model's epoch: the restored one when
there is one, else the last.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.errors import InvalidConfig, NotRecorded, StoreError
from engine.store import StoredRun
from engine.store.meta_checks import MAX_HISTORY_EPOCHS

EPOCH_PREDICTIONS = "epoch_predictions.npy"


def check_epoch_number(epoch: object, epochs: int = MAX_HISTORY_EPOCHS) -> int:
    """An epoch asked for (a link's, the command line's, a slider's): a whole number from 1 to `epochs` (a run's
    epochs run; without a run, the most any stored history may list). Raises `InvalidConfig`."""
    if isinstance(epoch, bool) or not isinstance(epoch, int | np.integer) or not 1 <= epoch <= epochs:
        raise InvalidConfig(f"the epoch must be a whole number from 1 to {epochs}, got {str(epoch)[:40]!r}")
    return int(epoch)


def final_epoch(history: dict) -> int:
    """The epoch whose weights the stored model holds: the restored one after early stopping, else the last."""
    restored = history.get("restored_epoch")
    return int(restored) if restored else len(history.get("epochs", []))


def stored_epoch_predictions(run: StoredRun) -> np.ndarray:
    """The run's per-epoch test predictions, (epochs run, n_test) int64, checked against the run.

    `NotRecorded` for a run stored before they were kept; `StoreError` when the file does not fit the run (another
    shape, a signed or float array, a class the run does not have).
    """
    if EPOCH_PREDICTIONS not in run.files():
        raise NotRecorded(
            f"Run {run.run_id} was stored before Digit Lab kept each epoch's test predictions, so its confusion "
            "matrices over time are unknown. Delete the run and train it again to record them."
        )
    epochs = len(run.history().get("epochs", []))
    array = run.array(EPOCH_PREDICTIONS)
    return checked_class_rows(run, EPOCH_PREDICTIONS, array, epochs, "test").astype(np.int64)


def damaged_file(run: StoredRun, name: str, why: str) -> StoreError:
    """A per-epoch record of `run` that does not fit it (anyone can edit the cache), said with what to do."""
    return StoreError(f"{name} of run {run.run_id} is damaged: {why}. Delete the run and retrain it.")


def checked_class_rows(run: StoredRun, name: str, array: np.ndarray, epochs: int, part: str) -> np.ndarray:
    """`array`, a record of predicted classes per epoch (`epoch_predictions.npy`, `train_predictions.npy`), when it
    is (epochs, the run's images of `part`: "test" or "training") of unsigned class numbers of the run's classes;
    else `damaged_file`."""
    images = len(run.test_labels()) if part == "test" else run.meta.get("dataset", {}).get("n_train")
    k = len(run.meta["class_names"])
    if array.dtype.kind != "u":
        raise damaged_file(run, name, f"it holds {array.dtype} values, not class numbers")
    if array.shape != (epochs, images):
        raise damaged_file(
            run, name, f"its shape is {array.shape}, the run has {epochs} epochs and {images} {part} images"
        )
    if array.size and int(array.max()) >= k:
        raise damaged_file(run, name, f"it names class {int(array.max())}: not class numbers of its {k} classes")
    return array


@dataclass(frozen=True)
class EpochConfusion:
    """The test set's confusion matrix after one epoch (rows true class, columns predicted)."""

    run_id: str
    epoch: int  # 1-based
    epochs: int  # epochs run
    final_epoch: int  # the epoch the stored model holds (`final_epoch`)
    restored_epoch: int | None  # set when early stopping restored an earlier epoch's weights
    class_names: tuple[str, ...]
    labels: np.ndarray  # (n_test,) the run's test labels
    matrix: np.ndarray  # (k, k) int64 counts
    accuracy: float
    predicted: np.ndarray  # (n_test,) int64: each test image's predicted class after this epoch

    def cell_indices(self, true_class: int, predicted_class: int) -> np.ndarray:
        """Test-image indices of class `true_class` predicted as `predicted_class` after this epoch, ascending."""
        return np.flatnonzero((self.labels == true_class) & (self.predicted == predicted_class))

    @property
    def is_final(self) -> bool:
        """Whether this is the stored model's matrix, the one every other view of the run shows."""
        return self.epoch == self.final_epoch

    @property
    def note(self) -> str:
        if self.restored_epoch is None:
            return ""
        return (
            f"Early stopping restored the weights of epoch {self.restored_epoch} of {self.epochs}: the stored model, "
            f"its test scores and its final confusion matrix are epoch {self.restored_epoch}'s."
        )

    def to_dict(self) -> dict:
        return {
            "run_id": self.run_id,
            "epoch": self.epoch,
            "epochs": self.epochs,
            "final_epoch": self.final_epoch,
            "restored_epoch": self.restored_epoch,
            "is_final": self.is_final,
            "class_names": list(self.class_names),
            "matrix": self.matrix.tolist(),
            "accuracy": self.accuracy,
            "note": self.note,
        }


def epoch_confusion(run: StoredRun, epoch: int | None = None) -> EpochConfusion:
    """The confusion matrix after `epoch` (1-based; None: the stored model's epoch, `final_epoch`)."""
    from engine.evaluation import confusion_matrix  # deferred: engine.evaluation loads pandas, the link check not

    predictions = stored_epoch_predictions(run)
    history = run.history()
    epochs = len(predictions)
    if epochs == 0:
        raise NotRecorded(f"Run {run.run_id} finished no epoch, so there is no confusion matrix over time.")
    final = final_epoch(history)
    chosen = final if epoch is None else check_epoch_number(epoch, epochs)
    labels = run.test_labels()
    names = tuple(str(name) for name in run.meta["class_names"])
    row = predictions[chosen - 1]
    return EpochConfusion(
        run_id=run.run_id,
        epoch=chosen,
        epochs=epochs,
        final_epoch=final,
        restored_epoch=history.get("restored_epoch"),
        class_names=names,
        labels=labels,
        predicted=row,
        matrix=confusion_matrix(labels, row, len(names)),
        accuracy=float(np.mean(row == labels)) if len(labels) else 0.0,
    )
