"""The bundled digits load without importing scikit-learn, and equal what its own loader and split give."""

import subprocess
import sys

import numpy as np
import pytest

from engine.datasets import load_dataset
from tests.test_import_graph import ROOT


def test_digits_equal_sklearns_loader_and_stratified_split():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    x, y = bunch.images.astype(np.uint8), bunch.target.astype(np.int64)
    expected = train_test_split(x, y, test_size=0.2, stratify=y, random_state=42)
    dataset = load_dataset("digits")
    for want, got in zip(expected, (dataset.x_train, dataset.x_test, dataset.y_train, dataset.y_test), strict=True):
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got.reshape(want.shape), want)  # the Dataset adds a channel axis
    assert dataset.identity == "the published files (checksum verified)"


@pytest.mark.slow  # a fresh interpreter
def test_loading_the_digits_does_not_import_sklearn():
    code = "import sys\nimport engine.datasets as d\nd.load_dataset('digits')\nprint('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
