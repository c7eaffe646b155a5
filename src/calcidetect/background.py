"""Soft-tissue background and image noise, shared by anatomy and segmentation.

The background is what the image would look like with no dense structure:
a weighted Gaussian mean over soft tissue, re-estimated with positive
outliers (bone, calcium) left out, so holes are filled from their surroundings.
"""

from __future__ import annotations

import numpy as np

from .filters import gaussian, normalized_gaussian

__all__ = ["soft_tissue_background", "noise_sigma", "local_noise_sigma", "MAD_TO_SIGMA"]

#: Median absolute deviation of a normal distribution, in sigmas.
MAD_TO_SIGMA = 1.4826
#: Outlier rejection when re-estimating the background, in noise sigma.
_OUTLIER_SIGMA = 2.5
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
    for _ in range(iterations):
        keep = soft_tissue & (image - background < outlier_sigma * noise)
        background = normalized_gaussian(image, keep.astype(np.float32), sigma_px)
    return background
