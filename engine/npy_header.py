"""What a `.npy` header promises, checked against the bytes that are there before anything is allocated.

NumPy reads an array from a stream that is no real file (an upload's bytes, an `.npz` member) by first allocating
the whole array its header declares: a 128-byte file that claims 10^13 values ends in MemoryError. Every reader of
an untrusted `.npy` (the Explain page's upload and `explain --image`, the members of a dataset's `.npz`) calls
`check_npy_header` first, which reads the header only and refuses more dimensions than allowed, or a data size
(computed in Python integers, so it cannot overflow) other than what the stream holds. A header it cannot read, or
one of a pickled array, it leaves to the reader's own load (`allow_pickle=False`), which refuses those with its
established messages before allocating anything.
"""

from __future__ import annotations

import math
from typing import IO

import numpy as np


def read_npy_header(handle: IO[bytes]) -> tuple[tuple[int, ...], np.dtype]:
    """The (shape, dtype) of the `.npy` header at `handle`'s position, reading the header only; raises ValueError,
    OSError or EOFError when it is no readable header. The handle is left just after the header."""
    version = np.lib.format.read_magic(handle)
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _, dtype = read(handle)
    return tuple(shape), dtype


def check_npy_header(
    handle: IO[bytes], available: int, name: str, error: type[Exception], max_dims: int = 4
) -> tuple[tuple[int, ...], np.dtype] | None:
    """The (shape, dtype) the header at `handle`'s position declares, once they fit the `available` bytes of the
    whole stream; otherwise raise `error` naming `name`. None when the header is unreadable or declares a pickled
    array: the caller's load refuses those. The handle is left just after the header."""
    start = handle.tell()
    try:
        shape, dtype = read_npy_header(handle)
    except (ValueError, OSError, EOFError):
        return None
    if dtype.hasobject:
        return None
    if len(shape) > max_dims:
        raise error(f"{name}'s header declares {len(shape)} dimensions; at most {max_dims} are allowed here")
    declared = math.prod(shape) * dtype.itemsize
    present = available - (handle.tell() - start)
    if declared != present:
        raise error(
            f"{name}'s header declares shape {tuple(shape)} of {dtype} = {declared:,} bytes of data, but the file "
            f"holds {present:,}; it is damaged or crafted"
        )
    return tuple(shape), dtype
