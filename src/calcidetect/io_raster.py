"""PNG, TIFF and JPEG radiographs, decoded with OpenCV.

The image size is read from the file header (PNG IHDR, the first TIFF IFD,
the JPEG SOF segment) and checked against the pixel limit *before* OpenCV
allocates anything.  Decoding uses ``cv2.imdecode(..., IMREAD_UNCHANGED)``
on the file's bytes, which keeps 16-bit data exact and handles non-ASCII
paths (``benchmarks/decode_png.py`` measures it against tifffile).

Raster files carry no trustworthy pixel spacing, so it is left unknown;
their grey values are taken as given (bright = dense, as radiographs are
conventionally exported).
"""

from __future__ import annotations

import struct

import cv2
import numpy as np

from .errors import LoadError
from .io_limits import check_declared_size
from .radiograph import Radiograph

__all__ = ["sniff_raster", "read_raster", "header_size"]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TIFF_SIGNATURES = (b"II*\x00", b"MM\x00*")
BIGTIFF_SIGNATURES = (b"II+\x00", b"MM\x00+")
JPEG_SIGNATURE = b"\xff\xd8\xff"

# PNG (ISO/IEC 15948): signature, then the IHDR chunk: length (4), type (4),
# width (4), height (4), bit depth (1), colour type (1).
_PNG_IHDR_TYPE_OFFSET = 12
_PNG_IHDR_DATA_OFFSET = 16
_PNG_IHDR_END = 26

# TIFF 6.0: header = byte order (2), magic 42 (2), offset of IFD0 (4); an IFD
# entry = tag (2), type (2), count (4), value or offset (4).
_TIFF_HEADER_BYTES = 8
_TIFF_ENTRY_BYTES = 12
_TIFF_TAG_IMAGE_WIDTH = 256
_TIFF_TAG_IMAGE_LENGTH = 257
_TIFF_TYPE_SHORT = 3
_TIFF_TYPE_LONG = 4

# JPEG (ITU T.81): start-of-frame markers carry P (1), Y (2), X (2) after the
# segment length; DHT (C4), JPG (C8) and DAC (CC) share the range but are not
# frames.  Markers D0-D9 and 01 stand alone (no length).
_JPEG_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_STANDALONE_MARKERS = frozenset(range(0xD0, 0xDA)) | {0x01}
_JPEG_SOS_MARKER = 0xDA
_JPEG_MARKER_PREFIX = 0xFF

#: Colour channels (BGR) of a decoded colour image; a 4th channel is alpha.
_COLOUR_CHANNELS = 3


def sniff_raster(head: bytes) -> str | None:
    """The raster format ("PNG", "TIFF", "JPEG") that ``head`` starts with.

    Parameters
    ----------
    head : bytes
        The first bytes of a file.

    Returns
    -------
    str or None
        The format name, or ``None`` when ``head`` has no known signature.

    Examples
    --------
    >>> sniff_raster(b"\\x89PNG\\r\\n\\x1a\\n....")
    'PNG'
    >>> sniff_raster(b"hello") is None
    True
    """
    if head.startswith(PNG_SIGNATURE):
        return "PNG"
    if head.startswith(TIFF_SIGNATURES + BIGTIFF_SIGNATURES):
        return "TIFF"
    if head.startswith(JPEG_SIGNATURE):
        return "JPEG"
    return None


def header_size(path: str, data: bytes, file_format: str) -> tuple[int, int]:
    """(rows, columns) declared in a raster header, read without decoding.

    Parameters
    ----------
    path : str
        Used in error messages only.
    data : bytes
        The whole file.
    file_format : {"PNG", "TIFF", "JPEG"}
        As returned by :func:`sniff_raster`.

    Returns
    -------
    tuple of int
        Declared height and width.

    Raises
    ------
    LoadError
        If the header is missing, truncated or malformed.
    """
    if file_format == "PNG":
        return _png_size(path, data)
    if file_format == "TIFF":
        return _tiff_size(path, data)
    return _jpeg_size(path, data)


def read_raster(path: str, file_format: str, *, max_pixels: int) -> Radiograph:
    """Read a PNG, TIFF or JPEG radiograph as greyscale.

    Parameters
    ----------
    path : str
        File to read.
    file_format : {"PNG", "TIFF", "JPEG"}
        As returned by :func:`sniff_raster`.
    max_pixels : int
        Refuse a header declaring more pixels than this, before decoding.

    Returns
    -------
    Radiograph
        Grey values as stored (not yet checked for constancy; the caller does
        that), spacing unknown.

    Raises
    ------
    LoadError
        Bad header, too large, undecodable (truncated / corrupt), or a colour
        image whose channels differ.

    Notes
    -----
    RGB and RGBA images whose three colour channels are identical (a grey
    image saved as colour) become grey; alpha is ignored.  True colour is an
    error, since a radiograph has one channel.  The first page / frame of a
    multi-page TIFF or animated PNG is used, as OpenCV returns it.
    """
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except (OSError, ValueError) as exc:
        raise LoadError(path, f"cannot read file ({exc})") from None
    rows, cols = header_size(path, data.tobytes(), file_format)
    check_declared_size(path, f"{file_format} header", rows, cols, max_pixels)
    try:
        decoded = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:
        raise LoadError(path, f"{file_format} data could not be decoded ({exc.err})") from None
    if decoded is None:
        raise LoadError(
            path, f"{file_format} data could not be decoded (truncated or corrupt file)"
        )
    grey, channels = _to_grey(path, decoded)
    meta = {
        "file_format": file_format,
        "photometric": "MONOCHROME2",
        "bits_stored": int(decoded.dtype.itemsize * 8),
        "dtype": str(decoded.dtype),
        "samples_per_pixel": channels,
    }
    return Radiograph(pixels=grey, pixel_spacing_mm=None, spacing_source="unknown",
                      source=path, meta=meta)


def _to_grey(path: str, image: np.ndarray) -> tuple[np.ndarray, int]:
    """One channel from a decoded image, or LoadError for true colour."""
    if image.ndim == 2:
        return image, 1
    if image.ndim == 3 and image.shape[2] == 1:
        return image[:, :, 0], 1
    if image.ndim != 3 or image.shape[2] < _COLOUR_CHANNELS:
        raise LoadError(path, f"unexpected decoded image shape {image.shape}")
    channels = image.shape[2]
    colour = image[:, :, :_COLOUR_CHANNELS]
    if not (np.array_equal(colour[:, :, 0], colour[:, :, 1])
            and np.array_equal(colour[:, :, 0], colour[:, :, 2])):
        raise LoadError(
            path,
            f"colour image ({channels} channels whose colour channels differ); "
            "a radiograph must be greyscale",
        )
    return colour[:, :, 0], channels


def _png_size(path: str, data: bytes) -> tuple[int, int]:
    """Height and width from the PNG IHDR chunk."""
    if len(data) < _PNG_IHDR_END or data[_PNG_IHDR_TYPE_OFFSET:_PNG_IHDR_DATA_OFFSET] != b"IHDR":
        raise LoadError(path, "PNG file is truncated or has no IHDR header chunk")
    width, height = struct.unpack(">II", data[_PNG_IHDR_DATA_OFFSET:_PNG_IHDR_DATA_OFFSET + 8])
    return height, width


def _tiff_size(path: str, data: bytes) -> tuple[int, int]:
    """Height and width from the first IFD of a classic TIFF."""
    if data[:4] in BIGTIFF_SIGNATURES:
        raise LoadError(path, "BigTIFF files are not supported; save as classic TIFF or PNG")
    if len(data) < _TIFF_HEADER_BYTES:
        raise LoadError(path, "TIFF file is truncated (no header)")
    endian = "<" if data[:2] == b"II" else ">"
    (ifd_offset,) = struct.unpack(endian + "I", data[4:8])
    if ifd_offset + 2 > len(data):
        raise LoadError(path, "TIFF file is truncated (first IFD lies beyond the end)")
    (n_entries,) = struct.unpack(endian + "H", data[ifd_offset:ifd_offset + 2])
    size: dict[int, int] = {}
    for i in range(n_entries):
        start = ifd_offset + 2 + i * _TIFF_ENTRY_BYTES
        entry = data[start:start + _TIFF_ENTRY_BYTES]
        if len(entry) < _TIFF_ENTRY_BYTES:
            raise LoadError(path, "TIFF file is truncated (first IFD is incomplete)")
        tag, typ = struct.unpack(endian + "HH", entry[:4])
        if tag not in (_TIFF_TAG_IMAGE_WIDTH, _TIFF_TAG_IMAGE_LENGTH):
            continue
        if typ == _TIFF_TYPE_SHORT:
            (value,) = struct.unpack(endian + "H", entry[8:10])
        elif typ == _TIFF_TYPE_LONG:
            (value,) = struct.unpack(endian + "I", entry[8:12])
        else:
            raise LoadError(path, f"TIFF tag {tag} has invalid field type {typ}")
        size[tag] = value
    if len(size) < 2:
        raise LoadError(path, "TIFF first IFD lacks ImageWidth / ImageLength")
    return size[_TIFF_TAG_IMAGE_LENGTH], size[_TIFF_TAG_IMAGE_WIDTH]


def _jpeg_size(path: str, data: bytes) -> tuple[int, int]:
    """Height and width from the first JPEG start-of-frame segment."""
    pos, end = len(JPEG_SIGNATURE) - 1, len(data)
    while pos + 4 <= end:
        if data[pos] != _JPEG_MARKER_PREFIX:
            raise LoadError(path, f"JPEG header is corrupt (no marker at byte {pos})")
        marker = data[pos + 1]
        if marker == _JPEG_MARKER_PREFIX:  # fill byte
            pos += 1
            continue
        if marker in _JPEG_STANDALONE_MARKERS:
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        if marker in _JPEG_SOF_MARKERS:
            if pos + 9 > end:
                break
            height, width = struct.unpack(">HH", data[pos + 5:pos + 9])
            return height, width
        if marker == _JPEG_SOS_MARKER or length < 2:
            break
        pos += 2 + length
    raise LoadError(path, "JPEG file is truncated or corrupt (no frame header found)")
