"""Load a radiograph from a DICOM, PNG, TIFF or JPEG file.

:func:`load_image` is the only public name.  It sniffs the file's content (not
its extension), hands DICOM to :mod:`calcidetect.io_dicom` and raster formats
to :mod:`calcidetect.io_raster`, and checks the result once for all formats:
a 2-D, C-contiguous, finite float32 array that is not a single pixel and not
constant, where a higher value always means more attenuating.

Every problem with the *file* (missing, empty, truncated, not an image, colour,
undecodable, absurdly large) raises :class:`~calcidetect.errors.LoadError`
naming the file and the reason; no exception from pydicom, numpy or OpenCV
escapes for a bad file.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .config import Config
from .errors import LoadError
from .dicom_sniff import has_dicom_magic, looks_like_dicom
from .io_raster import sniff_raster, read_raster
from .radiograph import Radiograph

__all__ = ["load_image"]

#: Bytes read to recognise a format: the 128-byte DICOM preamble plus "DICM".
_SNIFF_BYTES = 132
#: Extensions under which an unrecognised file is still tried as DICOM (with
#: pydicom's ``force=True``), e.g. ACR-NEMA style files without a preamble
#: whose first element is not one :func:`looks_like_dicom` recognises.
_DICOM_EXTENSIONS = frozenset({".dcm", ".dicom", ".dic"})
#: A radiograph must be at least this many pixels along each side.
_MIN_SIDE_PX = 2


def load_image(
    path: str | os.PathLike[str],
    *,
    max_pixels: int | None = None,
    apply_modality_lut: bool = True,
) -> Radiograph:
    """Read one radiograph so that higher pixel values mean more attenuation.

    Parameters
    ----------
    path : str or os.PathLike
        A DICOM file (with or without preamble and extension), or a PNG, TIFF
        or JPEG image (8 or 16 bit).  The format is recognised from the
        content, not the name.
    max_pixels : int, optional
        Refuse images that declare more pixels (rows x columns of one frame)
        than this, *before* any pixel data are decoded.  ``None`` uses
        :attr:`calcidetect.Config.max_pixels`.
    apply_modality_lut : bool, default True
        Apply the DICOM Modality LUT or Rescale Slope / Intercept (PS3.3
        C.11.1).  ``False`` keeps the stored values (still masked to Bits
        Stored and still inverted for MONOCHROME1).  Ignored for non-DICOM.

    Returns
    -------
    Radiograph
        ``pixels`` is float32, 2-D, C-contiguous and finite.  DICOM pixel
        spacing follows PixelSpacing, then ImagerPixelSpacing (divided by
        EstimatedRadiographicMagnificationFactor when present), else ``None``
        with ``spacing_source="unknown"``; raster images always have unknown
        spacing.  ``meta`` holds technical fields only, never patient
        identifiers.

    Raises
    ------
    LoadError
        For any file that cannot be read as a greyscale radiograph: missing,
        empty, truncated, not an image, colour, multi-sample, undecodable
        transfer syntax (the message names the syntax and the package that
        would decode it), larger than ``max_pixels``, a single pixel or
        constant.

    Warns
    -----
    UserWarning
        For a multi-frame DICOM: only the first frame is returned.

    See Also
    --------
    calcidetect.io_dicom.read_dicom : the DICOM rules in detail.
    calcidetect.io_raster.read_raster : the PNG / TIFF / JPEG rules.

    Notes
    -----
    VOI LUT / windowing (PS3.3 C.11.2) is never applied: analysis needs the
    modality values, not display values.  The window centre and width are kept
    in ``meta`` for display.

    Examples
    --------
    >>> import numpy as np, cv2, tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> p = os.path.join(d, "ramp.png")
    >>> ok = cv2.imwrite(p, np.arange(12, dtype=np.uint16).reshape(3, 4) * 1000)
    >>> img = load_image(p)
    >>> img.pixels.dtype, img.shape, img.pixel_spacing_mm, img.spacing_source
    (dtype('float32'), (3, 4), None, 'unknown')
    """
    limit = _resolve_max_pixels(max_pixels)
    fspath = os.fspath(path)
    head = _read_head(fspath)
    if not head:
        raise LoadError(fspath, "file is empty (0 bytes)")

    # "DICM" first: a DICOM preamble may itself hold a TIFF header.
    raster_format = None if has_dicom_magic(head) else sniff_raster(head)
    if raster_format is not None:
        image = read_raster(fspath, raster_format, max_pixels=limit)
    elif looks_like_dicom(head) or Path(fspath).suffix.lower() in _DICOM_EXTENSIONS:
        from .io_dicom import read_dicom  # imports pydicom: only for DICOM files

        image = read_dicom(fspath, max_pixels=limit, apply_modality_lut=apply_modality_lut)
    else:
        raise LoadError(
            fspath,
            "not a recognised image: neither DICOM (no 'DICM' marker at byte 128 "
            "and no DICOM element at the start) nor PNG, TIFF or JPEG",
        )
    image.pixels = _checked_pixels(fspath, image.pixels)
    return image


def _resolve_max_pixels(max_pixels: int | None) -> int:
    """The pixel limit to use: the argument, else ``Config().max_pixels``."""
    limit = Config().max_pixels if max_pixels is None else max_pixels
    if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 1:
        raise ValueError(f"max_pixels must be a positive integer, got {max_pixels!r}")
    return int(limit)


def _read_head(path: str) -> bytes:
    """The first bytes of ``path``; OS errors become :class:`LoadError`."""
    try:
        with open(path, "rb") as fh:
            return fh.read(_SNIFF_BYTES)
    except FileNotFoundError:
        raise LoadError(path, "file not found") from None
    except IsADirectoryError:
        raise LoadError(path, "is a directory, not a file") from None
    except PermissionError:
        raise LoadError(path, "permission denied") from None
    except OSError as exc:
        raise LoadError(path, f"cannot read file ({exc.strerror or exc})") from None


def _checked_pixels(path: str, pixels: np.ndarray) -> np.ndarray:
    """Enforce the :class:`Radiograph` pixel contract, or raise LoadError."""
    if pixels.ndim != 2:
        raise LoadError(path, f"expected a 2-D greyscale image, got shape {pixels.shape}")
    rows, cols = pixels.shape
    if rows < _MIN_SIDE_PX or cols < _MIN_SIDE_PX:
        raise LoadError(
            path,
            f"image is {rows} x {cols} pixels; a radiograph needs at least "
            f"{_MIN_SIDE_PX} pixels along each side",
        )
    out = np.ascontiguousarray(pixels, dtype=np.float32)
    finite = np.isfinite(out)
    if not finite.all():
        raise LoadError(path, f"{int(out.size - finite.sum())} pixel values are NaN or infinite")
    low, high = float(out.min()), float(out.max())
    if low == high:
        raise LoadError(path, f"image is constant (every pixel is {low:g}); nothing to analyse")
    return out
