"""The :class:`Radiograph` container: pixels plus what we know about them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Radiograph", "SPACING_SOURCES"]

#: Where a pixel spacing came from.  ``"PixelSpacing"`` and
#: ``"ImagerPixelSpacing"`` are the DICOM attributes (PS3.3 C.7.6.2.1.1 /
#: C.8.11.7); ``"ImagerPixelSpacing/magnification"`` means ImagerPixelSpacing
#: divided by EstimatedRadiographicMagnificationFactor; ``"caller"`` means the
#: user gave it; ``"assumed"`` means ``Config.assumed_pixel_spacing_mm`` was
#: used; ``"unknown"`` means nothing is known yet.
SPACING_SOURCES = (
    "PixelSpacing",
    "ImagerPixelSpacing",
    "ImagerPixelSpacing/magnification",
    "caller",
    "assumed",
    "unknown",
)


@dataclass
class Radiograph:
    """A single-frame radiograph ready for analysis.

    Attributes
    ----------
    pixels : ndarray of float32, shape (H, W)
        Attenuation-like values: higher means more attenuating (bone and
        calcium bright), whatever the file's photometric interpretation.
    pixel_spacing_mm : tuple of float or None
        (row, column) spacing in millimetres, or ``None`` when unknown.
    spacing_source : str
        One of :data:`SPACING_SOURCES`.
    source : str or None
        Path the image was read from.
    meta : dict
        Technical metadata only (modality, body part, view, photometric,
        bits stored, transfer syntax, SOP Instance UID, manufacturer, window
        centre / width for display).  Never patient identifiers.
    """

    pixels: np.ndarray
    pixel_spacing_mm: tuple[float, float] | None = None
    spacing_source: str = "unknown"
    source: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns) of the pixel array."""
        return tuple(self.pixels.shape)  # type: ignore[return-value]
