"""Soft-tissue background and image noise, shared by anatomy and segmentation.

The background is what the image would look like with no dense structure:
a weighted Gaussian mean over soft tissue, re-estimated with positive
outliers (bone, calcium) left out, so holes are filled from their surroundings.
"""

from __future__ import annotations

import numpy as np

import cv2

from .filters import disk, gaussian, normalized_gaussian

__all__ = ["region_opening", "soft_tissue_background", "noise_sigma", "local_noise_sigma", "MAD_TO_SIGMA"]

#: Median absolute deviation of a normal distribution, in sigmas.
MAD_TO_SIGMA = 1.4826
#: Outlier rejection when re-estimating the background, in noise sigma.
_OUTLIER_SIGMA = 2.5
#: Smoothing (px) of the image before the outlier test (white-noise sigma
#: falls by 2 sqrt(pi) s for a Gaussian of s pixels).
_OUTLIER_SMOOTH_PX = 1.5
#: Number of re-estimations of the background.
_BACKGROUND_ITERATIONS = 3


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
    mad = float(np.median(np.abs(values - np.median(values))))
    # white noise: var(x - G*x) = var(x) * (1 - 2 g0 + sum g^2), with a 2-D
    # Gaussian's sum g^2 = 1 / (4 pi s^2) and g0 = 1 / (2 pi s^2)
    s2 = max(scale_px, 0.5) ** 2
    kept = max(1.0 - 2.0 / (2 * np.pi * s2) + 1.0 / (4 * np.pi * s2), 0.1)
    return max(MAD_TO_SIGMA * mad / np.sqrt(kept), 1e-6)


def local_noise_sigma(
    response: np.ndarray, region: np.ndarray, global_sigma: float, sigma_px: float
) -> np.ndarray:
    """A smooth map of the noise sigma of ``response`` (e.g. a filtered residual).

    Root-mean-square of the response over ``region`` in a Gaussian window,
    with values beyond 3 global sigmas clipped so that foci do not inflate it;
    floored at half the global sigma.
    """
    clipped = np.clip(response, -3 * global_sigma, 3 * global_sigma)
    weight = region.astype(np.float32)
    rms = np.sqrt(normalized_gaussian(clipped * clipped, weight, sigma_px))
    return np.maximum(rms, 0.5 * global_sigma).astype(np.float32)


def soft_tissue_background(
    image: np.ndarray,
    soft_tissue: np.ndarray,
    sigma_px: float,
    noise: float,
    *,
    iterations: int = _BACKGROUND_ITERATIONS,
    outlier_sigma: float = _OUTLIER_SIGMA,
) -> np.ndarray:
    """Estimate the soft-tissue background with dense outliers excluded.

    Parameters
    ----------
    image : ndarray of float32
    soft_tissue : ndarray of bool
        Pixels that may be soft tissue (body without bone and metal).
    sigma_px : float
        Scale of the background (pixels): larger than the structures to find.
    noise : float
        Noise sigma of ``image``.
    iterations : int
        Re-estimations; each drops pixels more than ``outlier_sigma`` noise
        sigmas above the current background.

    Returns
    -------
    ndarray of float32
        Background, defined everywhere (filled across excluded holes).
    """
    weight = soft_tissue.astype(np.float32)
    background = normalized_gaussian(image, weight, sigma_px)
    # test outliers on a lightly smoothed image: faint but extended deposits
    # then stand out of the noise and are kept out of the background too
    smoothed = gaussian(image, _OUTLIER_SMOOTH_PX)
    smoothed_noise = noise / (2.0 * np.sqrt(np.pi) * _OUTLIER_SMOOTH_PX)
    for _ in range(iterations):
        keep = soft_tissue & (smoothed - background < outlier_sigma * smoothed_noise)
        background = normalized_gaussian(image, keep.astype(np.float32), sigma_px)
    return background


def region_opening(
    image: np.ndarray, region: np.ndarray, radius_px: float, *, grid_factor: int = 1, smooth: bool = False
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

    Returns
    -------
    ndarray of float32, same shape as ``image``.
    """
    h, w = image.shape
    if grid_factor > 1:
        small = cv2.resize(image, (max(1, w // grid_factor), max(1, h // grid_factor)), interpolation=cv2.INTER_AREA)
        small_region = cv2.resize(region.astype(np.uint8), small.shape[::-1], interpolation=cv2.INTER_NEAREST).astype(bool)
        radius = radius_px * small.shape[0] / h
    else:
        small, small_region, radius = np.asarray(image, np.float32), region, radius_px
    if not small_region.any():
        return np.full(image.shape, float(np.median(image)), np.float32)
    hi, lo = float(small[small_region].max()), float(small[small_region].min())
    kernel = disk(radius)
    eroded = cv2.erode(np.where(small_region, small, hi).astype(np.float32), kernel, borderType=cv2.BORDER_REPLICATE)
    floor = cv2.dilate(np.where(small_region, eroded, lo).astype(np.float32), kernel, borderType=cv2.BORDER_REPLICATE)
    if smooth:
        floor = normalized_gaussian(floor, small_region.astype(np.float32), 0.5 * radius)
    if floor.shape != (h, w):
        floor = cv2.resize(floor, (w, h), interpolation=cv2.INTER_LINEAR)
    return floor.astype(np.float32, copy=False)
