"""Stage 1: bring an image to the working resolution and a robust intensity scale."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .filters import resize_to
from .orderstats import percentile

__all__ = ["WorkingImage", "to_working_resolution", "robust_scale"]


@dataclass
class WorkingImage:
    """An image resampled for analysis, and how to get back to the input grid.

    Attributes
    ----------
    pixels : ndarray of float32
        Resampled pixels (higher = denser).
    spacing_mm : float
        Isotropic pixel spacing of ``pixels``.
    input_shape : tuple of int
        Shape of the original image.
    input_spacing_mm : tuple of float
        (row, col) spacing of the original image.
    """

    pixels: np.ndarray
    spacing_mm: float
    input_shape: tuple[int, int]
    input_spacing_mm: tuple[float, float]

    def mm_to_px(self, mm: float) -> float:
        """A length in millimetres as working pixels."""
        return mm / self.spacing_mm

    def mm2_to_px(self, mm2: float) -> float:
        """An area in square millimetres as working pixels."""
        return mm2 / (self.spacing_mm**2)

    def to_input(self, array: np.ndarray, *, nearest: bool = True) -> np.ndarray:
        """Resample a working-grid array back to the input grid."""
        if array.dtype == bool:
            return resize_to(array.astype(np.uint8), self.input_shape, nearest=True).astype(bool)
        return resize_to(array, self.input_shape, nearest=nearest)


def to_working_resolution(
    pixels: np.ndarray, spacing_mm: tuple[float, float], working_spacing_mm: float
) -> WorkingImage:
    """Resample to an isotropic working spacing; never upsample.

    Cost then follows the anatomy's size, not the detector's pixel count.  An
    image coarser than ``working_spacing_mm`` keeps its coarsest spacing
    (anisotropic pixels are made isotropic at that spacing).

    Parameters
    ----------
    pixels : ndarray, shape (H, W)
    spacing_mm : (float, float)
        Row and column spacing of ``pixels``.
    working_spacing_mm : float
        Target spacing.

    Returns
    -------
    WorkingImage

    Examples
    --------
    >>> import numpy as np
    >>> w = to_working_resolution(np.zeros((100, 100), np.float32), (0.1, 0.1), 0.2)
    >>> w.pixels.shape, w.spacing_mm
    ((50, 50), 0.2)
    """
    sr, sc = float(spacing_mm[0]), float(spacing_mm[1])
    target = max(working_spacing_mm, sr, sc)
    h, w = pixels.shape
    new_h = max(1, int(round(h * sr / target)))
    new_w = max(1, int(round(w * sc / target)))
    data = np.asarray(pixels, dtype=np.float32)
    work = resize_to(data, (new_h, new_w)) if (new_h, new_w) != (h, w) else data
    # the exact spacing after rounding the shape (rows rule)
    spacing = h * sr / new_h
    return WorkingImage(
        pixels=np.ascontiguousarray(work, dtype=np.float32),
        spacing_mm=float(spacing),
        input_shape=(h, w),
        input_spacing_mm=(sr, sc),
    )


def robust_scale(
    pixels: np.ndarray, region: np.ndarray | None, low_percentile: float, high_percentile: float
) -> np.ndarray:
    """Map the ``low``..``high`` percentiles inside ``region`` to 0..1 (float32).

    Values outside are not clipped, so ratios of contrasts are preserved.
    """
    values = pixels[region] if region is not None and region.any() else pixels.ravel()
    lo, hi = percentile(values, [low_percentile, high_percentile])
    scale = float(hi - lo) if hi > lo else 1.0
    return ((pixels - np.float32(lo)) / np.float32(scale)).astype(np.float32, copy=False)
