"""Soft-tissue background and image noise, shared by anatomy and segmentation.

The soft-tissue level under a deposit or a bone is a grey opening restricted
to the body; the noise is measured on a high-pass of soft tissue.
"""

from __future__ import annotations

import numpy as np

import cv2

from .filters import cells_read, gaussian, grey_morphology, normalized_gaussian, normalized_gaussian_coarse
from .orderstats import median

__all__ = ["region_opening", "region_line_opening", "noise_sigma", "local_noise_sigma", "local_significance", "robust_sigma", "MAD_TO_SIGMA"]

#: Median absolute deviation of a normal distribution, in sigmas.
MAD_TO_SIGMA = 1.4826
#: Region openings run on the image quantized to this many steps (16 bits)
#: over the region's range (see :func:`_open_within`).
_OPENING_LEVELS = 65535


def robust_sigma(values: np.ndarray) -> float:
    """Sigma of ``values`` from their median absolute deviation (> 0; 1e-6 when empty)."""
    if values.size == 0:
        return 1e-6
    return max(float(MAD_TO_SIGMA * median(np.abs(values - median(values)))), 1e-6)


def noise_sigma(image: np.ndarray, region: np.ndarray, scale_px: float) -> float:
    """Robust noise sigma of ``image`` from a high-pass inside ``region``.

    The high-pass ``image - gaussian(image, scale_px)`` removes anatomy; its
    median absolute deviation, corrected for the part of white noise that the
    blur keeps, estimates the per-pixel noise.

    Returns
    -------
    float
        Noise standard deviation in image units (> 0).
    """
    highpass = image - gaussian(image, scale_px)
    values = highpass[region] if region.any() else highpass.ravel()
    if values.size == 0:
        return 1e-6
    mad = float(median(np.abs(values - median(values))))
    # white noise: var(x - G*x) = var(x) * (1 - 2 g0 + sum g^2), with a 2-D
    # Gaussian's sum g^2 = 1 / (4 pi s^2) and g0 = 1 / (2 pi s^2)
    s2 = max(scale_px, 0.5) ** 2
    kept = max(1.0 - 2.0 / (2 * np.pi * s2) + 1.0 / (4 * np.pi * s2), 0.1)
    return max(MAD_TO_SIGMA * mad / np.sqrt(kept), 1e-6)


def local_noise_sigma(
    response: np.ndarray,
    region: np.ndarray,
    global_sigma: float,
    sigma_px: float,
    *,
    coarse: bool = True,
    inside_only: bool = False,
) -> np.ndarray:
    """A smooth map of the noise sigma of ``response`` (e.g. a filtered residual).

    Root-mean-square of the response over ``region`` in a Gaussian window,
    with values beyond 3 global sigmas clipped so that foci do not inflate it;
    floored at half the global sigma.  With ``coarse`` (the default) the map,
    smooth over ``sigma_px`` anyway, is computed on its pyramid level; without
    it at full resolution (exact near the image border).  With
    ``inside_only`` the map is wanted inside ``region`` only: it is the same
    there, and outside it is not filled from wider windows
    (:func:`~calcidetect.filters.normalized_gaussian`'s ``needed``).
    """
    squared = np.clip(response, -3 * global_sigma, 3 * global_sigma)
    np.multiply(squared, squared, out=squared)
    weight = region.astype(np.float32)
    smooth_mean = normalized_gaussian_coarse if coarse else normalized_gaussian
    rms = np.sqrt(smooth_mean(squared, weight, sigma_px, needed=region if inside_only else None))
    return np.maximum(rms, 0.5 * global_sigma, out=rms).astype(np.float32, copy=False)


def local_significance(
    response: np.ndarray,
    region: np.ndarray,
    step: int,
    window_px: float,
    *,
    coarse: bool = True,
    inside_only: bool = False,
) -> np.ndarray:
    """``response`` in units of its own local noise, centred on its median inside ``region``.

    The median and a global sigma are read from every ``step``-th pixel of
    ``region``; the local sigma is :func:`local_noise_sigma` over a Gaussian
    window of ``window_px`` (``coarse`` and ``inside_only`` as there: with
    ``inside_only`` the values outside ``region`` are not meaningful).

    Returns
    -------
    ndarray of float32
    """
    values = response[region][::step]
    centre = float(median(values)) if values.size else 0.0
    shifted = response - centre
    local = local_noise_sigma(shifted, region, robust_sigma(values), window_px, coarse=coarse, inside_only=inside_only)
    return np.divide(shifted, local, out=shifted).astype(np.float32, copy=False)


def _on_grid(
    image: np.ndarray, region: np.ndarray, size_px: float, grid_factor: int
) -> tuple[np.ndarray, np.ndarray, float]:
    """``image`` (area-averaged), ``region`` (nearest) and a size in pixels on a grid ``grid_factor`` times coarser."""
    if grid_factor <= 1:
        return np.asarray(image, np.float32), region, size_px
    h, w = image.shape
    small = cv2.resize(image, (max(1, w // grid_factor), max(1, h // grid_factor)), interpolation=cv2.INTER_AREA)
    small_region = cv2.resize(region.astype(np.uint8), small.shape[::-1], interpolation=cv2.INTER_NEAREST).astype(bool)
    return small, small_region, size_px * small.shape[0] / h


def _open_within(image: np.ndarray, region: np.ndarray, erode, dilate) -> np.ndarray:
    """Grey opening ``dilate(erode(image))`` in which pixels outside ``region`` take no part.

    Outside pixels are set to the region's maximum for the erosion and to its
    minimum for the dilation, so air beside a finger does not pull its floor
    down (``region`` must not be empty).  The opening runs on the image
    quantized to ``_OPENING_LEVELS`` steps over the region's range (OpenCV's
    16-bit morphology is about twice as fast as its float one); the result
    is within half a step of the float opening, far below any noise.
    """
    hi, lo = float(image[region].max()), float(image[region].min())
    if not hi > lo:  # a flat region opens to itself
        return np.full(image.shape, lo, np.float32)
    scale = _OPENING_LEVELS / (hi - lo)
    # outside pixels: hi (the top level) for the erosion, lo (level 0) for the dilation
    levels = np.where(region, image, hi).astype(np.float32, copy=False)
    quantized = np.empty(image.shape, np.uint16)
    cv2.normalize(levels, quantized, 0, _OPENING_LEVELS, cv2.NORM_MINMAX, cv2.CV_16U)
    eroded = erode(quantized)
    eroded[~region] = 0
    opened = dilate(eroded).astype(np.float32)
    return (opened * np.float32(1.0 / scale) + np.float32(lo)).astype(np.float32, copy=False)


def region_opening(
    image: np.ndarray,
    region: np.ndarray,
    radius_px: float,
    *,
    grid_factor: int = 1,
    smooth: bool = False,
    smooth_only_lowers: bool = False,
    smooth_grid_factor: int = 1,
    inside_only: bool = False,
) -> np.ndarray:
    """Grey opening by a disk, restricted to ``region`` (the body).

    An opening removes bright structures narrower than the disk and keeps
    wider ones and monotone slopes (the skin edge of a limb, the flank of a
    bone) exactly.  Pixels outside ``region`` take no part: they are set high
    for the erosion and low for the dilation, so air beside a finger does not
    pull its floor down.

    Parameters
    ----------
    image : ndarray of float32
    region : ndarray of bool
    radius_px : float
        Disk radius in pixels of ``image``.
    grid_factor : int
        Work on a grid this many times coarser (for smooth, wide floors).
    smooth : bool
        Smooth the result within the region (Gaussian of a quarter of the
        disk's diameter) to remove the opening's plateaus.
    smooth_only_lowers : bool
        Cap the smoothed floor by the opening itself, so that nothing just
        under the skin is buried by it.
    smooth_grid_factor : int
        Do that smoothing on a grid this many times coarser than the
        opening's (:func:`~calcidetect.filters.normalized_gaussian_coarse`);
        the smoothing is wide, so little is lost.
    inside_only : bool
        The floor is wanted inside ``region`` only: the smoothing is the
        same there (and in the cells the enlargement reads), and is not
        filled from wider scales elsewhere
        (:func:`~calcidetect.filters.normalized_gaussian`'s ``needed``).

    Returns
    -------
    ndarray of float32, same shape as ``image``.
    """
    h, w = image.shape
    small, small_region, radius = _on_grid(image, region, radius_px, grid_factor)
    if not small_region.any():
        return np.full(image.shape, float(np.median(image)), np.float32)
    floor = _open_within(
        small,
        small_region,
        lambda x: grey_morphology(x, radius, "erode", cv2.BORDER_REPLICATE),
        lambda x: grey_morphology(x, radius, "dilate", cv2.BORDER_REPLICATE),
    )
    if smooth:
        needed = None
        if inside_only:  # on a coarser grid, the cells its enlargement reads
            needed = region if grid_factor <= 1 else cells_read(region, small.shape)
        smoothed = normalized_gaussian_coarse(
            floor, small_region.astype(np.float32), 0.5 * radius, factor=smooth_grid_factor, needed=needed
        )
        # on the steep slope at the skin a smoothed floor leans on the deeper,
        # higher values and rises above the opening
        floor = np.minimum(smoothed, floor) if smooth_only_lowers else smoothed
    if floor.shape != (h, w):
        floor = cv2.resize(floor, (w, h), interpolation=cv2.INTER_LINEAR)
    return floor.astype(np.float32, copy=False)


def _line_kernel(length_px: int, angle_rad: float) -> np.ndarray:
    """A one-pixel-wide line of ``length_px`` pixels through the centre, at ``angle_rad``."""
    half = max(length_px // 2, 1)
    size = 2 * half + 1
    kernel = np.zeros((size, size), np.uint8)
    dr, dc = -np.sin(angle_rad), np.cos(angle_rad)
    x0, y0 = (half + half * dc, half + half * dr), (half - half * dc, half - half * dr)
    cv2.line(kernel, (int(round(x0[0])), int(round(x0[1]))), (int(round(y0[0])), int(round(y0[1]))), 1, 1)
    return kernel


def region_line_opening(
    image: np.ndarray, region: np.ndarray, length_px: float, *, n_angles: int = 8, grid_factor: int = 1
) -> np.ndarray:
    """Supremum of grey openings by line segments, restricted to ``region``.

    A bump shorter than ``length_px`` in every direction (a mass) is removed
    by every line; a band of tissue narrower than a disk of that size (soft
    tissue between a bone and the skin) keeps its profile, since the line
    running along the band fits in it.  Pixels outside ``region`` take no
    part (high for the erosion, low for the dilation), as in
    :func:`region_opening`.

    Returns
    -------
    ndarray of float32, same shape as ``image``.
    """
    h, w = image.shape
    small, small_region, length = _on_grid(image, region, length_px, grid_factor)
    if not small_region.any():
        return np.full(image.shape, float(np.median(image)), np.float32)
    floor = None
    for k in range(n_angles):
        kernel = _line_kernel(int(round(length)), np.pi * k / n_angles)
        opened = _open_within(
            small,
            small_region,
            lambda x: cv2.erode(x, kernel, borderType=cv2.BORDER_REPLICATE),
            lambda x: cv2.dilate(x, kernel, borderType=cv2.BORDER_REPLICATE),
        )
        floor = opened if floor is None else np.maximum(floor, opened, out=floor)
    if floor.shape != (h, w):
        floor = cv2.resize(floor, (w, h), interpolation=cv2.INTER_LINEAR)
    return floor
