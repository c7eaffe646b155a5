"""Micro-calcification channel for mammograms (the ``mammo`` profile).

Breast micro-calcifications are 0.1-1 mm dots and short streaks on a bright,
textured background of fibroglandular tissue.  The musculoskeletal channels
of :mod:`calcidetect.segment` (a 3 mm opening, a coarse mass channel, bone
masks) either lose them or outline the parenchyma.  This channel instead:

1. takes the breast as body (:func:`find_breast`), away from the skin line
   and the image border (``microcalc_skin_margin_mm``);
2. removes the background with a small grey opening
   (``microcalc_background_radius_mm``, wider than a micro-calcification,
   narrower than a lobule of gland): a white top-hat;
3. divides the top-hat by its *local* root-mean-square in a window of
   ``microcalc_noise_window_mm`` (values clipped at 3 global sigmas): in
   dense, strand-rich parenchyma the top-hat fluctuates more, so the bar
   rises there and the texture is not outlined;
4. hysteresis in those sigmas, each candidate cut to where its top-hat
   reaches ``relative_extent`` of its own peak;
5. drops candidates larger than ``microcalc_max_area_mm2`` and elongated
   candidates (parenchymal strands, Cooper's ligaments) unless they peak at
   ``microcalc_strand_min_contrast_sigma``: a calcified vessel wall or a
   linear calcification is far denser than a strand of gland.

All of it is vectorised (OpenCV / scipy.ndimage / regionprops_table).

References
----------
American College of Radiology, *BI-RADS Atlas*, 5th ed., 2013: mammographic
calcification morphology (punctate, amorphous, fine linear, vascular) and
distribution (a cluster: >= 5 calcifications within 1 cm^3).
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage as ndi
from skimage.filters import apply_hysteresis_threshold, threshold_otsu
from skimage.measure import regionprops_table

from .anatomy import Anatomy
from .background import local_significance, region_opening
from .config import Config
from .filters import dilate, disk, fill_holes, gaussian, keep_labels, label_components, label_raster_order
from .segment import Segmentation, _trim_to_extent, group_lobules

__all__ = ["find_breast", "segment_microcalcs"]

#: Smoothing (mm) before the air/tissue split of :func:`find_breast`.
_BREAST_SMOOTH_MM = 1.0
#: Strips narrower than twice this (mm) are cut off the breast.
_BREAST_OPENING_MM = 6.0
#: Pixels within this fraction of the range below the maximum are saturated.
_SATURATED_FRACTION = 0.02
#: Sample at most about this many pixels for global statistics.
_MAX_SAMPLES = 300_000


def find_breast(image: np.ndarray, valid: np.ndarray, spacing_mm: float, fraction: float) -> np.ndarray:
    """The breast: the largest region brighter than air by ``fraction`` of the contrast.

    Air is the median below Otsu's threshold (the typical air, not a black
    bar drawn over a label), tissue the median above it.  A breast's uncompressed edge fades into air, and on
    processed digital mammograms fat is nearly as dark as air, so a small
    fraction of the air-to-tissue range separates them better than a
    two-class split.

    Parameters
    ----------
    image : ndarray of float32
        Working-resolution image (higher = denser).
    valid : ndarray of bool
        Exposed field (collimation and padding excluded).
    spacing_mm : float
    fraction : float
        ``Config.breast_body_fraction``.

    Returns
    -------
    ndarray of bool

    Examples
    --------
    >>> import numpy as np
    >>> img = np.zeros((60, 60), np.float32); img[10:50, :40] = 1.0
    >>> row = find_breast(img, np.ones_like(img, bool), 0.5, 0.1)[30]
    >>> bool(row[:38].all() and not row[45:].any())
    True
    """
    smooth = gaussian(image, _BREAST_SMOOTH_MM / spacing_mm)
    sample = smooth.ravel()[:: max(1, smooth.size // _MAX_SAMPLES)]
    if sample.max() <= sample.min():
        return valid.copy()
    # a white frame or unexposed film edge is neither air nor tissue
    top = sample.max() - _SATURATED_FRACTION * (sample.max() - sample.min())
    sample = sample[sample < top]
    split = threshold_otsu(sample)
    below, above = sample[sample <= split], sample[sample > split]
    # the typical air, not its darkest corner (a black redaction bar)
    air = float(np.median(below)) if below.size else float(sample.min())
    tissue = float(np.median(above)) if above.size else float(sample.max())
    body = (smooth > air + fraction * (tissue - air)) & valid
    # the breast is the largest part once thin strips (a bright band along
    # the film edge that reaches a burned-in label) are cut off by an opening;
    # its own outline is then taken back from the unopened mask
    radius_px = _BREAST_OPENING_MM / spacing_mm
    opened = cv2.morphologyEx(body.astype(np.uint8), cv2.MORPH_OPEN, disk(radius_px)).astype(bool)
    if not opened.any():
        return fill_holes(_largest_part(body)) & valid
    return fill_holes(_largest_part(body & dilate(_largest_part(opened), radius_px))) & valid


def _largest_part(mask: np.ndarray) -> np.ndarray:
    """The largest connected part of ``mask`` (all False when it is empty)."""
    labels, n = label_components(mask)
    if n == 0:
        return mask.copy()
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    sizes[0] = 0
    return labels == int(sizes.argmax())


def segment_microcalcs(image: np.ndarray, anatomy: Anatomy, spacing_mm: float, cfg: Config) -> Segmentation:
    """Find micro-calcification candidates on a mammogram.

    Parameters
    ----------
    image : ndarray of float32
        Working-resolution image (higher = denser).
    anatomy : Anatomy
        Masks from :func:`calcidetect.anatomy.find_anatomy` (bone is usually
        empty for mammograms: ``Config.detect_bone = 0``).
    spacing_mm : float
        Working pixel spacing.
    cfg : Config

    Returns
    -------
    Segmentation
        ``significance`` is the top-hat in local sigma, ``excess`` the
        top-hat itself.

    Examples
    --------
    >>> import numpy as np
    >>> from calcidetect.profiles import config_for
    >>> from calcidetect.anatomy import find_anatomy
    >>> rng = np.random.default_rng(1)
    >>> yy, xx = np.mgrid[:200, :200]
    >>> chord = np.sqrt(np.clip(1 - ((yy - 100) ** 2 + xx**2) / 150.0**2, 0, None))
    >>> img = (0.05 + 0.45 * chord + rng.normal(0, 0.01, (200, 200))).astype(np.float32)
    >>> img[100:103, 60:63] += 0.2                      # a 0.3 mm dot
    >>> cfg = config_for("mammo")
    >>> seg = segment_microcalcs(img, find_anatomy(img, 0.1, cfg), 0.1, cfg)
    >>> int(seg.labels.max()), int(seg.labels[101, 61])
    (1, 1)
    """
    margin = cfg.microcalc_skin_margin_mm / spacing_mm
    tissue = anatomy.body & ~anatomy.metal
    region = (
        tissue
        & (anatomy.skin_depth_px > margin)
        & (anatomy.field_edge_px > max(margin, cfg.field_edge_margin_mm / spacing_mm))
    )
    # the image border cuts the opening's disk (a chest wall running off the film)
    border = int(np.ceil(margin))
    region[:border] = region[-border:] = False
    region[:, :border] = region[:, -border:] = False
    smooth = gaussian(image, cfg.microcalc_smooth_mm / spacing_mm)
    floor = region_opening(smooth, tissue, cfg.microcalc_background_radius_mm / spacing_mm)
    tophat = (smooth - floor).astype(np.float32)

    step = max(1, int(region.sum()) // _MAX_SAMPLES)
    # full resolution: micro-calcifications sit close to the excluded border
    significance = local_significance(tophat, region, step, cfg.microcalc_noise_window_mm / spacing_mm, coarse=False)
    significance[~region] = 0.0

    mask = apply_hysteresis_threshold(significance, cfg.microcalc_low_threshold_sigma, cfg.microcalc_high_threshold_sigma)
    mask = _trim_to_extent(mask, tophat, cfg.relative_extent) & region

    lobules, n = label_raster_order(mask, 8)
    if n:
        props = regionprops_table(lobules, properties=("label", "area", "axis_major_length", "axis_minor_length"))
        lab = np.asarray(props["label"])
        area_mm2 = np.asarray(props["area"], float) * spacing_mm**2
        # +1: a one-pixel-wide streak has a moment minor axis of 0
        elongation = (np.asarray(props["axis_major_length"]) + 1.0) / (np.asarray(props["axis_minor_length"]) + 1.0)
        peak = np.asarray(ndi.maximum(significance, lobules, lab), float)
        keep = np.zeros(n + 1, bool)
        keep[lab] = (
            (area_mm2 >= cfg.min_area_mm2)
            & (area_mm2 <= cfg.microcalc_max_area_mm2)
            & ((elongation < cfg.microcalc_strand_min_elongation) | (peak >= cfg.microcalc_strand_min_contrast_sigma))
        )
        lobules, n = keep_labels(lobules, keep)  # = label_raster_order(keep[lobules], 8)
    return Segmentation(
        labels=group_lobules(lobules, n, spacing_mm, cfg),
        lobule_labels=lobules.astype(np.int32),
        significance=significance,
        excess=tophat,
        noise=anatomy.noise,
    )
