"""Issue 23, fault 2: sizes declared in headers are checked against the bytes present before anything is allocated.
Each file here is built by hand, so what its header declares and what it holds are known."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from engine.errors import InvalidDataFile
from engine.npy_header import check_npy_header


def npy_header(shape: tuple[int, ...], descr: str = "<f4") -> bytes:
    handle = io.BytesIO()
    np.lib.format.write_array_header_1_0(handle, {"descr": descr, "fortran_order": False, "shape": shape})
    return handle.getvalue()


def npy_bytes(array: np.ndarray) -> bytes:
    handle = io.BytesIO()
    np.save(handle, array, allow_pickle=False)
    return handle.getvalue()


def test_a_tiny_file_promising_ten_trillion_values_is_refused_before_numpy_allocates():
    from engine.probes.explain import read_image_array

    crafted = npy_header((10**13,))
    assert len(crafted) == 128  # the whole file: a header and no data
    with pytest.raises(InvalidDataFile, match=r"declares shape \(10000000000000,\) of float32 = 40,000,000,000,000"):
        read_image_array(crafted, "crafted.npy", (8, 8), 16.0)


def test_a_sound_array_passes_and_reads_back():
    from engine.probes.explain import read_image_array

    images = np.arange(2 * 8 * 8, dtype=np.float32).reshape(2, 8, 8) % 17
    data = npy_bytes(images)
    assert check_npy_header(io.BytesIO(data), len(data), "ok", InvalidDataFile) == ((2, 8, 8), np.dtype("<f4"))
    np.testing.assert_array_equal(read_image_array(data, "ok.npy", (8, 8), 16.0), images)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (npy_bytes(np.zeros((2, 8, 8), np.float32))[:-4], "holds 508"),  # one value short
        (npy_bytes(np.zeros((2, 8, 8), np.float32)) + b"\0" * 4, "holds 516"),  # one value too many
        (npy_header((1,) * 5) + b"\0" * 4, "declares 5 dimensions"),
    ],
)
def test_headers_that_do_not_match_the_bytes_are_refused(data, message):
    with pytest.raises(InvalidDataFile, match=message):
        check_npy_header(io.BytesIO(data), len(data), "f.npy", InvalidDataFile)


def test_headers_it_cannot_read_or_of_pickles_are_left_to_the_readers_own_refusal():
    for data in (npy_header((2,), "|O") + b"\0" * 16, b"\x93NUMPY\x01\x00" + b"\xff" * 10, b"<script>"):
        assert check_npy_header(io.BytesIO(data), len(data), "f.npy", InvalidDataFile) is None


def test_an_npz_member_whose_header_claims_more_than_it_holds_is_refused(tmp_path):
    from engine.datasets.idx import load_npz

    path = tmp_path / "crafted.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x_train.npy", npy_header((10**9, 28, 28), "|u1"))  # 785 TB promised, nothing held
        archive.writestr("y_train.npy", npy_bytes(np.zeros(2, np.uint8)))
        archive.writestr("x_test.npy", npy_bytes(np.zeros((2, 28, 28), np.uint8)))
        archive.writestr("y_test.npy", npy_bytes(np.zeros(2, np.uint8)))
    with pytest.raises(InvalidDataFile, match="'x_train''s header declares shape"):
        load_npz(path)


def idx(dims: tuple[int, ...], data: bytes = b"") -> bytes:
    return b"\x00\x00\x08" + bytes([len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims) + data


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (idx((1,) * 70, b"\0"), "declares 70 dimensions"),
        (idx((1,) * 4, b"\0"), "declares 4 dimensions"),
        # 2^31 * 2^31 * 4 = 2^64: in int64 arithmetic this product wraps to 0 and matched the empty data.
        (idx((2**31, 2**31, 4)), "18,446,744,073,709,551,616 bytes of data, found 0"),
    ],
)
def test_idx_headers_with_too_many_dimensions_or_an_overflowing_size_are_refused(tmp_path, content, message):
    from engine.datasets.idx import read_idx

    path = tmp_path / "crafted-idx3-ubyte"
    path.write_bytes(content)
    with pytest.raises(InvalidDataFile, match=message):
        read_idx(path)
