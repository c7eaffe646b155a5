"""DICOM radiographs: pixel values that mean attenuation, and the pixel spacing.

The rules, with the DICOM PS3.3 sections behind them:

1. Greyscale only: Samples per Pixel 1 (C.7.6.3.1.1) and Photometric
   Interpretation MONOCHROME1 or MONOCHROME2 (C.7.6.3.1.2); anything else is
   a colour image and a :class:`~calcidetect.errors.LoadError`.
2. Rows x Columns is checked against the pixel limit before anything is
   decoded.  Multi-frame: only the first frame is decoded, with a warning.
3. Bits Stored is respected (C.7.6.3, Image Pixel Module): bits above it are
   masked off (sign-extended when Pixel Representation is 1).
4. The Modality LUT or Rescale Slope / Intercept is applied (C.11.1), giving
   modality values.  The VOI LUT / window (C.11.2) is *not* applied: it is a
   display choice; its centre and width are kept in ``meta``.
5. Polarity: MONOCHROME1 (minimum displayed white, C.7.6.3.1.2) or a
   Presentation LUT Shape of INVERSE (C.11.6.1) means low values are dense,
   so the image is inverted.  See :func:`needs_inversion`.
6. Spacing: Pixel Spacing (0028,0030), else Imager Pixel Spacing (0018,1164)
   divided by Estimated Radiographic Magnification Factor (0018,1114) when
   present, else unknown (10.7.1.1, 10.7.1.3, C.7.6.2.1.1, C.8.11.4).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.pixels import apply_modality_lut, get_decoder, pixel_array
from pydicom.uid import (
    UID,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

from .dicom_sniff import has_dicom_magic, looks_like_dicom  # re-exported: part of this module's API
from .errors import LoadError
from .io_limits import check_declared_size
from .radiograph import Radiograph

__all__ = [
    "has_dicom_magic",
    "looks_like_dicom",
    "read_dicom",
    "dicom_pixel_spacing",
    "needs_inversion",
]

#: Photometric interpretations of a greyscale image (PS3.3 C.7.6.3.1.2).
MONOCHROME1 = "MONOCHROME1"
MONOCHROME2 = "MONOCHROME2"
#: Presentation LUT Shape (2050,0020) value that inverts (PS3.3 C.11.6.1).
PRESENTATION_INVERSE = "INVERSE"

#: For Bits Stored up to this, the range of the modality values is found by
#: pushing every possible stored value through the Modality LUT (at most
#: 65 536 values); above it, only the two extremes are used.
_EXACT_RANGE_MAX_BITS = 16
#: Pixel Representation (0028,0103) value for two's complement samples.
_SIGNED = 1
#: ``warnings.warn`` stack level that points at the caller of ``load_image``.
_WARN_STACKLEVEL = 4
#: Hint for decoders that pylibjpeg-libjpeg (GPLv3, opt-in extra) provides.
_GPL_CODEC_PACKAGE = "pylibjpeg-libjpeg"
_GPL_CODEC_HINT = "pip install calcidetect[gpl-codecs] (installs pylibjpeg-libjpeg, GPLv3)"
#: Types pydicom uses for multi-valued attributes.
_SEQUENCE_TYPES = (list, tuple, MultiValue)
#: Longest library message quoted in a LoadError reason.
_MAX_REASON_CHARS = 300
_ELLIPSIS = "..."

#: Technical attributes copied into ``Radiograph.meta`` (meta key -> keyword).
#: Deliberately no Patient*, Accession*, Institution*, dates or names.
_META_ATTRIBUTES = {
    "modality": "Modality",
    "body_part": "BodyPartExamined",
    "view_position": "ViewPosition",
    "photometric": "PhotometricInterpretation",
    "bits_allocated": "BitsAllocated",
    "bits_stored": "BitsStored",
    "pixel_representation": "PixelRepresentation",
    "sop_class_uid": "SOPClassUID",
    "sop_instance_uid": "SOPInstanceUID",
    "manufacturer": "Manufacturer",
    "window_center": "WindowCenter",
    "window_width": "WindowWidth",
    "rescale_slope": "RescaleSlope",
    "rescale_intercept": "RescaleIntercept",
    "rescale_type": "RescaleType",
    "presentation_lut_shape": "PresentationLUTShape",
}


def read_dicom(path: str, *, max_pixels: int, apply_modality_lut: bool = True) -> Radiograph:
    """Read a greyscale DICOM radiograph (first frame) as attenuation values.

    Parameters
    ----------
    path : str
        DICOM file, with or without preamble.
    max_pixels : int
        Refuse images whose Rows x Columns exceeds this, before decoding.
    apply_modality_lut : bool, default True
        Apply the Modality LUT / Rescale Slope-Intercept (PS3.3 C.11.1).

    Returns
    -------
    Radiograph
        float64 pixels (the caller converts to float32), spacing and
        technical meta.

    Raises
    ------
    LoadError
        Not DICOM, no pixel data, colour, too large, missing or invalid image
        attributes, or pixel data that cannot be decoded (the message names
        the transfer syntax and the package that would decode it).

    Warns
    -----
    UserWarning
        Multi-frame data: only the first frame is used.

    Notes
    -----
    MONOCHROME1 / INVERSE data are inverted as ``lo + hi - value``, where
    ``[lo, hi]`` is the range the Modality LUT / rescale maps the *possible*
    stored values to (``[0, 2**BitsStored - 1]`` unsigned, or the two's
    complement range when signed).  For unsigned data without rescale this
    is ``max_possible - value``.  Reflecting about the representable range
    rather than the image's own min / max keeps the result independent of
    image content (a marker or collimator does not shift every value), keeps
    values in the same range, and maps a MONOCHROME1 file written as
    ``max - v`` exactly back to ``v``.

    Multi-frame data give the first frame and a warning rather than an error,
    so a batch still gets a result; only that frame is decoded.  Warnings
    that pydicom itself raises for odd headers are passed through unchanged.
    """
    ds = _read_dataset(path)
    transfer_syntax = _transfer_syntax(path, ds)
    photometric = _photometric(path, ds)
    rows = _required_int(path, ds, "Rows")
    cols = _required_int(path, ds, "Columns")
    frames = _number_of_frames(path, ds)
    check_declared_size(path, "DICOM Rows x Columns", rows, cols, max_pixels)
    bits_allocated = _required_int(path, ds, "BitsAllocated")
    bits_stored = _required_int(path, ds, "BitsStored")
    signed = _required_int(path, ds, "PixelRepresentation") == _SIGNED
    if not 1 <= bits_stored <= bits_allocated:
        raise LoadError(
            path, f"invalid Bits Stored {bits_stored} for Bits Allocated {bits_allocated}"
        )

    stored = _decode_first_frame(path, ds, transfer_syntax, frames)
    if stored.shape != (rows, cols):
        raise LoadError(path, f"decoded pixel data has shape {stored.shape}, not {rows} x {cols}")
    stored = _mask_to_bits_stored(stored, bits_stored, signed)

    lo, hi = _stored_range(bits_stored, signed)
    if apply_modality_lut:
        values, (lo, hi) = _apply_modality(path, ds, stored, lo, hi)
    else:
        values = stored.astype(np.float64)
    lut_shape = _optional_str(ds, "PresentationLUTShape")
    inverted = needs_inversion(photometric, lut_shape)
    if inverted:
        values = (lo + hi) - values

    spacing, spacing_source = dicom_pixel_spacing(ds)
    meta = _technical_meta(ds)
    meta.update(
        file_format="DICOM",
        transfer_syntax=transfer_syntax.name,
        transfer_syntax_uid=str(transfer_syntax),
        number_of_frames=frames,
        modality_lut_applied=bool(apply_modality_lut),
        inverted=inverted,
    )
    return Radiograph(pixels=values, pixel_spacing_mm=spacing, spacing_source=spacing_source,
                      source=path, meta=meta)


def needs_inversion(photometric: str, presentation_lut_shape: str | None) -> bool:
    """Whether stored values must be inverted so that higher = denser.

    Parameters
    ----------
    photometric : str
        Photometric Interpretation (0028,0004), PS3.3 C.7.6.3.1.2.
    presentation_lut_shape : str or None
        Presentation LUT Shape (2050,0020), PS3.3 C.11.6.1, if present.

    Returns
    -------
    bool

    Notes
    -----
    Both attributes say "the minimum value is displayed white".  The DX IODs
    require INVERSE together with MONOCHROME1 (the same statement twice, not
    a double inversion), so a MONOCHROME1 image is inverted once whatever its
    Presentation LUT Shape, and a MONOCHROME2 image is inverted when its shape
    is INVERSE.  An IDENTITY shape on a MONOCHROME1 image contradicts the
    photometric interpretation; the photometric interpretation wins there (as
    in dcm4che's option to ignore Presentation LUT Shape for known bad files).

    Examples
    --------
    >>> needs_inversion("MONOCHROME1", "INVERSE"), needs_inversion("MONOCHROME2", None)
    (True, False)
    >>> needs_inversion("MONOCHROME2", "INVERSE")
    True
    """
    return photometric == MONOCHROME1 or presentation_lut_shape == PRESENTATION_INVERSE


def dicom_pixel_spacing(ds: Dataset) -> tuple[tuple[float, float] | None, str]:
    """Pixel spacing in mm (row, column) and where it came from.

    Parameters
    ----------
    ds : pydicom.dataset.Dataset

    Returns
    -------
    spacing : tuple of float or None
        (row spacing, column spacing) in mm, or ``None``.
    source : str
        ``"PixelSpacing"``, ``"ImagerPixelSpacing"``,
        ``"ImagerPixelSpacing/magnification"`` or ``"unknown"``.

    Notes
    -----
    Pixel Spacing (0028,0030) is the spacing in the patient (PS3.3 10.7.1.1,
    C.7.6.2.1.1) and wins.  Imager Pixel Spacing (0018,1164) is measured at
    the detector (C.8.11.4) and overstates sizes by the geometric
    magnification, so it is divided by Estimated Radiographic Magnification
    Factor (0018,1114) when that is present and positive.  A value that is
    not exactly two finite, positive numbers (e.g. ``0\\0``) is degenerate
    (10.7.1.3 requires positive values) and treated as absent.

    Examples
    --------
    >>> ds = Dataset()
    >>> ds.PixelSpacing = [0, 0]
    >>> ds.ImagerPixelSpacing = [0.2, 0.2]
    >>> ds.EstimatedRadiographicMagnificationFactor = 1.25
    >>> dicom_pixel_spacing(ds)
    ((0.16, 0.16), 'ImagerPixelSpacing/magnification')
    """
    pixel = _positive_pair(ds, "PixelSpacing")
    if pixel is not None:
        return pixel, "PixelSpacing"
    imager = _positive_pair(ds, "ImagerPixelSpacing")
    if imager is None:
        return None, "unknown"
    factor = _positive_number(ds, "EstimatedRadiographicMagnificationFactor")
    if factor is None:
        return imager, "ImagerPixelSpacing"
    return (imager[0] / factor, imager[1] / factor), "ImagerPixelSpacing/magnification"


# -- reading and decoding ---------------------------------------------------


def _read_dataset(path: str) -> Dataset:
    """Parse the file with pydicom (``force=True`` for files without preamble)."""
    try:
        ds = pydicom.dcmread(path, force=True)
    except Exception as exc:  # pydicom raises many types for corrupt input
        raise LoadError(path, f"not a readable DICOM file ({_describe(exc)})") from exc
    try:
        has_pixels = "PixelData" in ds
    except Exception as exc:
        raise LoadError(path, f"not a readable DICOM file ({_describe(exc)})") from exc
    if not has_pixels:
        if "FloatPixelData" in ds or "DoubleFloatPixelData" in ds:
            raise LoadError(path, "float pixel data (7FE0,0008/0009) is not supported")
        raise LoadError(
            path, "no pixel data (7FE0,0010): not a DICOM image, or a truncated file"
        )
    return ds


def _transfer_syntax(path: str, ds: Dataset) -> UID:
    """The Transfer Syntax UID, inferred from the encoding if the file has none."""
    try:
        file_meta = ds.file_meta
        uid = file_meta.get("TransferSyntaxUID")
        if uid:
            return UID(str(uid))
        implicit_vr, little_endian = ds.original_encoding
        encapsulated = ds["PixelData"].is_undefined_length
    except Exception as exc:
        raise LoadError(path, f"unreadable DICOM header ({_describe(exc)})") from exc
    if encapsulated or implicit_vr is None or little_endian is None:
        raise LoadError(
            path, "no Transfer Syntax UID (0002,0010) and the encoding cannot be inferred"
        )
    if implicit_vr:
        uid = ImplicitVRLittleEndian
    else:
        uid = ExplicitVRLittleEndian if little_endian else ExplicitVRBigEndian
    file_meta.TransferSyntaxUID = uid  # pydicom's decoders read it from here
    return uid


def _decode_first_frame(path: str, ds: Dataset, transfer_syntax: UID, frames: int) -> np.ndarray:
    """Decode the first frame, turning every decoder failure into LoadError."""
    syntax = f"transfer syntax {transfer_syntax.name!r} ({transfer_syntax})"
    try:
        decoder = get_decoder(transfer_syntax)
    except NotImplementedError:
        raise LoadError(path, f"{syntax} is not supported by pydicom") from None
    if not decoder.is_available:
        raise LoadError(
            path,
            f"no decoder installed for {syntax}; it would be decoded by: "
            f"{_decoder_hint(decoder.missing_dependencies)}",
        )
    if frames > 1:
        warnings.warn(
            f"{path}: multi-frame DICOM ({frames} frames); only the first frame is used",
            UserWarning,
            stacklevel=_WARN_STACKLEVEL,
        )
    try:
        return pixel_array(ds, index=0 if frames > 1 else None)
    except Exception as exc:  # decoder plugins raise many types for bad data
        tried = ", ".join(decoder.available_plugins) or "none"
        others = decoder.missing_dependencies
        hint = f"; other decoders: {_decoder_hint(others)}" if others else ""
        raise LoadError(
            path,
            f"pixel data in {syntax} could not be decoded by the installed "
            f"plugins ({tried}): {_describe(exc)}{hint}",
        ) from exc


def _decoder_hint(missing: list[str]) -> str:
    """Readable list of the packages that would decode a transfer syntax."""
    text = "; ".join(missing) if missing else "no known plugin"
    if any(_GPL_CODEC_PACKAGE in item for item in missing):
        text += f" ({_GPL_CODEC_HINT})"
    return text


# -- pixel values -----------------------------------------------------------


def _stored_range(bits_stored: int, signed: bool) -> tuple[int, int]:
    """Smallest and largest value representable in Bits Stored bits."""
    if signed:
        return -(1 << (bits_stored - 1)), (1 << (bits_stored - 1)) - 1
    return 0, (1 << bits_stored) - 1


def _mask_to_bits_stored(arr: np.ndarray, bits_stored: int, signed: bool) -> np.ndarray:
    """Clear the bits above Bits Stored (sign-extending signed data)."""
    if arr.dtype.kind not in "iu":
        return arr
    width = arr.dtype.itemsize * 8
    if bits_stored >= width:
        return arr
    shift = width - bits_stored
    unsigned = arr.view(np.dtype(f"u{arr.dtype.itemsize}"))
    if not signed:
        return unsigned & np.array((1 << bits_stored) - 1, dtype=unsigned.dtype)
    # arithmetic right shift of the signed view sign-extends from bit bits_stored-1
    shifted = np.left_shift(unsigned, shift).view(np.dtype(f"i{arr.dtype.itemsize}"))
    return np.right_shift(shifted, shift)


def _apply_modality(
    path: str, ds: Dataset, stored: np.ndarray, lo: int, hi: int
) -> tuple[np.ndarray, tuple[float, float]]:
    """Modality values (PS3.3 C.11.1) and the range the possible values map to."""
    bits = max(abs(lo), hi).bit_length()
    if bits <= _EXACT_RANGE_MAX_BITS:
        possible = np.arange(lo, hi + 1, dtype=stored.dtype)
    else:
        possible = np.array([lo, hi], dtype=stored.dtype)
    try:
        values = apply_modality_lut(stored, ds).astype(np.float64)
        mapped = apply_modality_lut(possible, ds).astype(np.float64)
    except Exception as exc:
        raise LoadError(
            path, f"invalid Modality LUT or Rescale Slope / Intercept ({_describe(exc)})"
        ) from exc
    return values, (float(mapped.min()), float(mapped.max()))


# -- attributes -------------------------------------------------------------


def _photometric(path: str, ds: Dataset) -> str:
    """Photometric Interpretation, refusing colour (PS3.3 C.7.6.3.1.2)."""
    photometric = _optional_str(ds, "PhotometricInterpretation")
    samples = _optional_int(ds, "SamplesPerPixel")
    if photometric is None:
        raise LoadError(path, "missing Photometric Interpretation (0028,0004)")
    if photometric not in (MONOCHROME1, MONOCHROME2) or (samples not in (None, 1)):
        raise LoadError(
            path,
            f"colour image (Photometric Interpretation {photometric}, Samples per Pixel "
            f"{samples}); a radiograph must be MONOCHROME1 or MONOCHROME2",
        )
    return photometric


def _number_of_frames(path: str, ds: Dataset) -> int:
    """Number of Frames (0028,0008); 1 when absent or empty."""
    try:
        value = ds.get("NumberOfFrames")
        frames = 1 if value in (None, "") else int(value)
    except Exception as exc:
        raise LoadError(path, f"invalid Number of Frames ({_describe(exc)})") from exc
    if frames < 1:
        raise LoadError(path, f"invalid Number of Frames {frames}")
    return frames


def _required_int(path: str, ds: Dataset, keyword: str) -> int:
    """An integer attribute that must be present."""
    value = _optional_int(ds, keyword)
    if value is None:
        raise LoadError(path, f"missing or invalid {keyword} attribute")
    return value


def _optional_int(ds: Dataset, keyword: str) -> int | None:
    try:
        value = ds.get(keyword)
        return None if value in (None, "") else int(value)
    except Exception:
        return None


def _optional_str(ds: Dataset, keyword: str) -> str | None:
    try:
        value = ds.get(keyword)
    except Exception:
        return None
    if value is None or value == "":
        return None
    return str(value).strip().upper() if isinstance(value, str) else str(value)


def _numbers(ds: Dataset, keyword: str) -> list[float] | None:
    """An attribute as a list of floats, or None when absent or not numeric."""
    try:
        value = ds.get(keyword)
        if value is None or value == "":
            return None
        items = list(value) if isinstance(value, _SEQUENCE_TYPES) else [value]
        return [float(item) for item in items]
    except Exception:
        return None


def _positive_pair(ds: Dataset, keyword: str) -> tuple[float, float] | None:
    """Two finite, positive numbers, or None (degenerate spacing)."""
    values = _numbers(ds, keyword)
    if values is None or len(values) != 2:
        return None
    if not all(math.isfinite(v) and v > 0 for v in values):
        return None
    return values[0], values[1]


def _positive_number(ds: Dataset, keyword: str) -> float | None:
    values = _numbers(ds, keyword)
    if values is None or len(values) != 1 or not (math.isfinite(values[0]) and values[0] > 0):
        return None
    return values[0]


def _technical_meta(ds: Dataset) -> dict[str, Any]:
    """JSON-friendly technical attributes only (never patient identifiers)."""
    meta: dict[str, Any] = {}
    for key, keyword in _META_ATTRIBUTES.items():
        try:
            value = ds.get(keyword)
        except Exception:
            continue
        if value is None or value == "":
            continue
        meta[key] = _plain(value)
    return meta


def _plain(value: Any) -> Any:
    """A pydicom value as a plain Python str, int, float or list of them."""
    if isinstance(value, _SEQUENCE_TYPES):
        items = [_plain(item) for item in value]
        return items[0] if len(items) == 1 else items
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return str(value)


def _describe(exc: BaseException) -> str:
    """``Type: message`` of an exception, shortened for a one-line reason."""
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    if len(text) <= _MAX_REASON_CHARS:
        return text
    return text[: _MAX_REASON_CHARS - len(_ELLIPSIS)] + _ELLIPSIS
