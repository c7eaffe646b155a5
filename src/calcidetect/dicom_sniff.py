"""Is a file DICOM?  Read off its first bytes, without importing pydicom.

:func:`calcidetect.io.load_image` sniffs every file with these tests; only a
file that is DICOM pays for importing pydicom (about half a second), so a
batch of PNGs, and ``import calcidetect`` itself, start without it.
"""

from __future__ import annotations

import struct

__all__ = ["has_dicom_magic", "looks_like_dicom", "PREAMBLE_BYTES", "DICOM_MAGIC"]

#: Part 10 files: a 128-byte preamble, then the magic "DICM" (PS3.10 7.1).
PREAMBLE_BYTES = 128
DICOM_MAGIC = b"DICM"
#: Groups a DICOM stream without preamble plausibly starts with: the file meta
#: group (0002) or the identifying group (0008), ACR-NEMA style.
_FIRST_GROUPS = frozenset({0x0002, 0x0008})
_TAG_GROUP_BYTES = 2


def has_dicom_magic(head: bytes) -> bool:
    """Whether ``head`` is a Part 10 file: "DICM" after the 128-byte preamble.

    The preamble itself is free-form: some files carry a TIFF header there
    (PS3.10 7.1), so this test must come before any raster sniffing.

    Examples
    --------
    >>> has_dicom_magic(b"II*\\x00" + bytes(124) + b"DICM")
    True
    """
    return head[PREAMBLE_BYTES:PREAMBLE_BYTES + len(DICOM_MAGIC)] == DICOM_MAGIC


def looks_like_dicom(head: bytes) -> bool:
    """Whether the first bytes of a file look like DICOM.

    True for a Part 10 file ("DICM" after the 128-byte preamble) and for a
    bare data set without preamble whose first tag is in group 0002 or 0008
    (little- or big-endian).

    Parameters
    ----------
    head : bytes
        At least the first 132 bytes of the file (fewer for short files).

    Returns
    -------
    bool

    Examples
    --------
    >>> looks_like_dicom(bytes(128) + b"DICM")
    True
    >>> looks_like_dicom(b"\\x08\\x00\\x16\\x00UI")
    True
    >>> looks_like_dicom(b"hello world")
    False
    """
    if has_dicom_magic(head):
        return True
    if len(head) < 2 * _TAG_GROUP_BYTES:
        return False
    (little,) = struct.unpack("<H", head[:_TAG_GROUP_BYTES])
    (big,) = struct.unpack(">H", head[:_TAG_GROUP_BYTES])
    return little in _FIRST_GROUPS or big in _FIRST_GROUPS
