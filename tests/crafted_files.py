"""Hostile files built by hand for the tests: what a visitor's browser or an upload could send."""

from __future__ import annotations

import struct
import zlib


def png_header_claiming(width: int, height: int) -> bytes:
    """A PNG of a few dozen bytes whose header says width x height RGBA and which holds no pixel data: decoding it
    would need width * height * 4 bytes, reading its header costs nothing."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"") + chunk(b"IEND", b"")
