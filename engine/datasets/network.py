"""The one place the dataset sources touch the network: each fetch function, the `FETCHERS` table, the timeout.

Loaders look a fetch up in `FETCHERS` when they need it, not when they are imported, so tests simulate being
offline with `monkeypatch.setitem(network.FETCHERS, "mnist", offline)`.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout

import numpy as np

# Bounds every socket operation of a download, so an unreachable host fails instead of hanging the dashboard.
NETWORK_TIMEOUT_S = 20.0


def fetch_mnist() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Download MNIST with Keras (kept by Keras in ~/.keras/datasets/mnist.npz for next time)."""
    from keras.datasets import mnist

    return mnist.load_data()


def fetch_fashion_mnist() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Download Fashion-MNIST with Keras (kept by Keras in ~/.keras/datasets/fashion-mnist/)."""
    from keras.datasets import fashion_mnist

    return fashion_mnist.load_data()


def fetch_uci_optdigits() -> tuple[np.ndarray, np.ndarray]:
    """Fetch the full UCI optdigits set (id 80) as features `(5620, 64)` and labels `(5620,)`."""
    from ucimlrepo import fetch_ucirepo

    repo = fetch_ucirepo(id=80)
    return repo.data.features.to_numpy(), repo.data.targets.to_numpy().ravel()


# Dataset name -> the function that downloads it.
FETCHERS: dict[str, Callable[[], tuple]] = {
    "mnist": fetch_mnist,
    "fashion-mnist": fetch_fashion_mnist,
    "uci-optdigits": fetch_uci_optdigits,
}

_NETWORK_LOCK = threading.Lock()


@contextmanager
def network_timeout(seconds: float = NETWORK_TIMEOUT_S) -> Iterator[None]:
    """Set the process-wide default socket timeout for one fetch, then restore it.

    The default timeout is global, so fetches are serialised to keep one from restoring it under another.
    Keras prints its "Downloading data from ..." line on stdout; it goes to stderr so `--json` output stays
    one clean JSON value.
    """
    with _NETWORK_LOCK, redirect_stdout(sys.stderr):
        previous = socket.getdefaulttimeout()
        socket.setdefaulttimeout(seconds)
        try:
            yield
        finally:
            socket.setdefaulttimeout(previous)


def short_reason(error: BaseException) -> str:
    """An error as one line of at most 200 characters: its type and the first line of its message."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    reason = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return reason if len(reason) <= 200 else reason[:197] + "..."


# Downloads that failed in this process: dataset name -> (when, why). A failed download is not retried on every
# dashboard rerun (each try costs the full timeout); it is retried only when the user asks (`forget_failure`).
_FAILED: dict[str, tuple[float, str]] = {}


def remembered_failure(name: str) -> str | None:
    """Why the last download of `name` failed in this process, with when; None if none failed (or it was forgotten)."""
    found = _FAILED.get(name)
    if found is None:
        return None
    when, reason = found
    at = time.strftime("%H:%M:%S", time.localtime(when))
    # The CLI starts a new process each time, so only the dashboard ever shows this; its button is on the Data page.
    return f"failed at {at} ({reason}); not retried in this process until asked (Retry download, on the Data page)"


def remember_failure(name: str, reason: str) -> None:
    _FAILED[name] = (time.time(), reason)


def forget_failure(name: str) -> None:
    """Let the next load of `name` try the download again (the dashboard's "Retry download")."""
    _FAILED.pop(name, None)


def fetch(name: str) -> tuple:
    """Download `name` through `FETCHERS` under the network timeout, unless it already failed in this process.

    Raises `DownloadFailed` with a one-line reason either way, so the loaders build the same message.
    """
    earlier = remembered_failure(name)
    if earlier is not None:
        raise DownloadFailed(earlier)
    try:
        with network_timeout():
            return FETCHERS[name]()
    except Exception as error:
        reason = short_reason(error)
        remember_failure(name, reason)
        raise DownloadFailed(reason) from None


def forget_failures() -> None:
    """Forget every remembered failure (tests; a server operator who restored the network)."""
    _FAILED.clear()


class DownloadFailed(Exception):
    """A download failed (now, or earlier in this process); its text is the one-line reason."""
