"""Stage 3: calcification candidates as excess density over soft tissue.

Excess over a soft-tissue background (bone and metal masked out), filtered at
a fine and a coarse scale, divided by a local noise sigma estimated from the
image itself, then a hysteresis threshold in sigma units, clean-up, minimum
size, and grouping of the lobules of one mass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from .anatomy import Anatomy, bone_continuations, marker_holders
from .background import local_significance, region_line_opening, region_opening
from .config import Config
from .filters import (
    dilate,
    dilate_labels,
    fill_holes,
    gaussian,
    grey_dilate,
    hysteresis_threshold,
    keep_labels,
    label_components,
    label_raster_order,
    within_chamfer_distance,
)
from .labelstats import label_max, label_mean, label_median, label_moments, label_solidity
from .orderstats import median

__all__ = ["Segmentation", "segment", "group_lobules"]

#: Detection scales (Gaussian sigma, mm): matched to a 0.3-2 mm dot and to
#: plaques / masses.
_DETECTION_SCALES_MM = (0.0, 0.6)
#: Smoothing before the opening (a 0.3 mm dot survives it; noise is tamed).
_FINE_SMOOTH_MM = 0.2
#: Coarse channel: smoothing, and grid factor of its opening (at the default
#: working spacing its grid matches the smoothing: nothing finer is left).
_COARSE_SMOOTH_MM = 0.8
_COARSE_GRID = 4
#: The coarse channel works where the body's half-width (the largest depth
#: below the skin within a window) is at least this.
_COARSE_MIN_HALFWIDTH_MM = 10.0
_HALFWIDTH_WINDOW_MM = 12.0
#: A mass found by the coarse channel is compact.
_MASS_MAX_ELONGATION = 4.0
_MASS_MIN_SOLIDITY = 0.5
#: The fine floor's smoothing (a Gaussian of half the opening radius) runs on
#: a grid this many times coarser than the working grid.
_FINE_FLOOR_SMOOTH_GRID = 2
#: Window of the local noise estimate.
_NOISE_WINDOW_MM = 12.0
#: The surroundings of a speck are read from this far out (its own halo excluded).
_SPECK_RING_GAP_MM = 1.0


@dataclass
class Segmentation:
    """Candidate foci on the working grid.

    Attributes
    ----------
    labels : ndarray of int32
        Grouped foci, 1..n.
    lobule_labels : ndarray of int32
        The connected parts before grouping (lobules).
    significance : ndarray of float32
        Excess density in noise sigmas (max over scales).
    excess : ndarray of float32
        Image minus soft-tissue background (image units).
    noise : float
        Global noise sigma of the finest-scale response.
    """

    labels: np.ndarray
    lobule_labels: np.ndarray
    significance: np.ndarray
    excess: np.ndarray
    noise: float


def _compact_blobs(mask: np.ndarray, min_area_px: float) -> np.ndarray:
    """Components large enough and mass-like: not long strips of soft tissue."""
    labels, n = label_components(mask, 8)
    if n == 0:
        return mask
    moments = label_moments(labels, n)
    elongation = moments["axis_major_length"] / np.maximum(moments["axis_minor_length"], 1.0)
    keep = np.zeros(n + 1, bool)
    keep[1:] = (moments["area"] >= min_area_px) & (elongation <= _MASS_MAX_ELONGATION)
    # the convex hull only for components that passed the cheaper tests
    keep[1:] &= label_solidity(labels, keep[1:], ndi.find_objects(labels, n)) >= _MASS_MIN_SOLIDITY
    return keep[labels]


def _wide_body(skin_depth_px: np.ndarray, spacing_mm: float) -> np.ndarray:
    """Where the body is wide enough for the coarse channel.

    In a body part narrower than the coarse opening (a finger) the opening's
    floor falls to the thin tissue at the skin and the whole part stands out
    as a "mass"; masses there are left to the fine channel.  The half-width
    is the largest depth below the skin within ``_HALFWIDTH_WINDOW_MM``; it
    must be at least ``_COARSE_MIN_HALFWIDTH_MM``.
    """
    if float(skin_depth_px.min()) * spacing_mm >= 2.0 * _COARSE_MIN_HALFWIDTH_MM:
        return np.ones(skin_depth_px.shape, bool)  # the half-width is at least the smallest depth: wide everywhere
    halfwidth_px = grey_dilate(skin_depth_px, _HALFWIDTH_WINDOW_MM / spacing_mm, grid_factor=_COARSE_GRID)
    return halfwidth_px * spacing_mm >= _COARSE_MIN_HALFWIDTH_MM


def _drop_bone_attached(mask: np.ndarray, bone: np.ndarray, spacing_mm: float, cfg: Config) -> np.ndarray:
    """Remove candidates that are a bone's edge or a part of the bone the mask missed.

    Two tests, on one labelling of the candidates:

    - hugging: a cortex edge or an unmasked bone end shows up as excess just
      outside the bone mask; calcifications are deposits in soft tissue
      (tendon-sheath streaks run a few millimetres off the bone), so a
      candidate with more than ``bone_hug_max_fraction`` of its area within
      ``bone_hug_distance_mm`` of bone is bone, not calcium;
    - contact: candidates are only looked for beyond ``bone_margin_mm`` of
      the bone mask; one whose excess still stands above its extent
      threshold within ``bone_contact_mm`` of that margin has no soft tissue
      between it and the bone: a bone end or a faint plate's rim, the density
      continuing into the bone.  A deposit beside a bone keeps its own edge,
      and a gap of soft tissue, on the side facing the bone.
    """
    if not bone.any():
        return mask
    labels, n = label_components(mask, 8)
    if n == 0:
        return mask
    near = within_chamfer_distance(bone, cfg.bone_hug_distance_mm / spacing_mm)
    fraction = np.zeros(n + 1)
    fraction[1:] = label_mean(near, labels, n)
    reach = dilate(bone, (cfg.bone_margin_mm + cfg.bone_contact_mm) / spacing_mm)
    touching = np.zeros(n + 1, bool)
    touching[labels[reach & mask]] = True
    keep = (fraction < cfg.bone_hug_max_fraction) & ~touching
    keep[0] = False
    return keep[labels]


def _drop_faint_large(mask: np.ndarray, significance: np.ndarray, spacing_mm: float, cfg: Config) -> np.ndarray:
    """Remove large candidates that never rise far above the noise.

    Texture inside bone that the bone mask missed, and plate edges, give
    broad patches a few sigma high; a calcified mass that large is dense.
    Candidates of ``large_focus_min_area_mm2`` or more need a peak of
    ``large_focus_min_contrast_sigma``.
    """
    labels, n = label_components(mask, 8)
    if n == 0:
        return mask
    # sizes and peaks from the candidates' own pixels (no whole-image passes)
    where = np.flatnonzero(labels != 0)  # (a bool nonzero is faster)
    lab = labels.ravel()[where]
    area_mm2 = np.bincount(lab, minlength=n + 1)[1:] * spacing_mm**2
    peak = label_max(significance.ravel()[where], lab, n)
    keep = np.zeros(n + 1, bool)
    keep[1:] = (area_mm2 < cfg.large_focus_min_area_mm2) | (peak >= cfg.large_focus_min_contrast_sigma)
    out = np.zeros(mask.size, bool)
    out[where[keep[lab]]] = True
    return out.reshape(mask.shape)


def _drop_specks_on_dense_tissue(mask: np.ndarray, anatomy: Anatomy, spacing_mm: float, cfg: Config) -> np.ndarray:
    """Remove small candidates lying on tissue as dense as bone.

    A soft-tissue calcification lies in soft tissue.  A speck (up to
    ``punctate_max_diameter_mm`` across) whose surroundings, from 1 mm to
    ``dense_surround_ring_mm`` around it and outside the bone mask, are on
    median above ``dense_surround_max_fraction`` of the bone threshold sits on
    a plate or shaft the bone mask missed: trabecular texture, not a deposit.
    """
    if not (np.isfinite(anatomy.bone_threshold) and anatomy.bone.any()):
        return mask  # no bone in the image: nothing to compare the surroundings with
    labels, n = label_raster_order(mask, 8)
    if n == 0:
        return mask
    where = np.flatnonzero(labels != 0)  # the candidates' pixels: sizes and specks without whole-image passes
    lab = labels.ravel()[where]
    area_px = np.bincount(lab, minlength=n + 1)
    max_area_px = np.pi * (0.5 * cfg.punctate_max_diameter_mm / spacing_mm) ** 2
    small = area_px <= max_area_px
    small[0] = False
    if not small.any():
        return mask
    speck_labels = np.zeros(labels.size, labels.dtype)
    in_speck = small[lab]
    speck_labels[where[in_speck]] = lab[in_speck]
    speck_labels = speck_labels.reshape(labels.shape)
    # each ring pixel takes the label of a speck within reach (max wins where rings meet)
    ring_labels = dilate_labels(speck_labels, cfg.dense_surround_ring_mm / spacing_mm)
    near = dilate(speck_labels > 0, _SPECK_RING_GAP_MM / spacing_mm)
    ring = (ring_labels > 0) & ~near & anatomy.body & ~anatomy.bone
    ring_median = np.full(n + 1, -np.inf)
    ring_median[1:] = np.nan_to_num(label_median(anatomy.dense_excess, np.where(ring, ring_labels, 0), n), nan=-np.inf)
    on_dense = small & (ring_median > cfg.dense_surround_max_fraction * anatomy.bone_threshold)
    out = mask.copy()
    out.ravel()[where[on_dense[lab]]] = False
    return out


def _keep_seeded(mask: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """Keep the parts of ``mask`` that still hold a seed pixel.

    Trimming a hysteresis region to its extent can split it; a piece cut off
    from every pixel that passed the high threshold (the tail of a skin-line
    response, say) was never significant on its own.
    """
    labels, n = label_components(mask, 8)
    if n == 0:
        return mask
    seeded = np.zeros(n + 1, bool)
    seeded[labels[seeds & mask]] = True
    seeded[0] = False
    return seeded[labels]


def _trim_to_extent(mask: np.ndarray, fine_excess: np.ndarray, relative: float) -> np.ndarray:
    """Cut each candidate to where its excess reaches ``relative`` of its own peak.

    Hysteresis in sigma units finds a focus; its blurred tail above the noise
    is not part of it.  A threshold relative to each focus's peak puts the
    edge near the deposit's true border whatever its contrast; holes are filled.
    """
    labels, n = label_components(mask, 8)
    if n == 0:
        return mask
    peak = np.zeros(n + 1, np.float32)
    peak[1:] = label_max(fine_excess, labels, n)
    trimmed = mask & (fine_excess >= relative * peak[labels])
    return fill_holes(trimmed)


def segment(
    image: np.ndarray, anatomy: Anatomy, spacing_mm: float, cfg: Config, trace: dict[str, np.ndarray] | None = None
) -> Segmentation:
    """Find candidate calcified foci.

    Parameters
    ----------
    image : ndarray of float32
        Working-resolution image (higher = denser).
    anatomy : Anatomy
        Masks from :func:`calcidetect.anatomy.find_anatomy`.
    spacing_mm : float
        Working pixel spacing.
    cfg : Config
    trace : dict, optional
        When given, filled with the candidate mask after each step, in order
        (``"fine"``, ``"seeded"``, ``"coarse"``, ``"confirmed"``,
        ``"bone_attached"``, ``"bone_continuation"``, ``"faint_large"``,
        ``"dense_surround"``): what
        dropped a focus, for diagnostics (``benchmarks/misses.py``).

    Returns
    -------
    Segmentation
    """
    def record(step: str, mask: np.ndarray) -> None:
        if trace is not None:
            trace[step] = mask.copy()

    excluded = dilate(anatomy.bone, cfg.bone_margin_mm / spacing_mm) | anatomy.metal
    # a lead letter's holder is searched no more than the letter (its edges
    # are steps); the floor below still sees it as tissue, so its box leaves no edge
    excluded |= marker_holders(anatomy.metal, spacing_mm, cfg.marker_max_area_mm2, cfg.marker_holder_margin_mm)
    soft = anatomy.body & ~excluded & (anatomy.field_edge_px > cfg.field_edge_margin_mm / spacing_mm)
    # filters are unreliable within their reach of the image border
    border = int(np.ceil(cfg.image_border_margin_mm / spacing_mm))
    if border:
        soft[:border] = soft[-border:] = False
        soft[:, :border] = soft[:, -border:] = False
    # bones take part in the opening (their flanks are slopes it keeps), metal not
    fine = gaussian(image, _FINE_SMOOTH_MM / spacing_mm)
    floor = region_opening(
        fine,
        anatomy.body & ~anatomy.metal,
        cfg.background_radius_mm / spacing_mm,
        smooth=True,
        smooth_grid_factor=_FINE_FLOOR_SMOOTH_GRID,
    )
    excess = (fine - floor).astype(np.float32)

    step = max(1, int(soft.sum()) // 300_000)
    significance = np.full(image.shape, -np.inf, np.float32)
    for scale_mm in _DETECTION_SCALES_MM:
        response = gaussian(excess, scale_mm / spacing_mm) if scale_mm > 0 else excess
        np.maximum(significance, local_significance(response, soft, step, _NOISE_WINDOW_MM / spacing_mm, inside_only=True), out=significance)
    significance[~soft] = 0.0
    mask = hysteresis_threshold(significance, cfg.low_threshold_sigma, cfg.high_threshold_sigma)
    seeds = significance >= cfg.high_threshold_sigma

    # band-pass channel: dots and thin sheets (plaques) narrower than the
    # outer scale, with the smooth soft-tissue texture and the broad slopes
    # (where the opening keeps a sheet lying on the skin's slope) taken out
    band = gaussian(excess, cfg.bandpass_inner_mm / spacing_mm) - gaussian(excess, cfg.bandpass_outer_mm / spacing_mm)
    band_sig = local_significance(band, soft, step, _NOISE_WINDOW_MM / spacing_mm, inside_only=True)
    band_sig[~soft] = 0.0
    np.maximum(significance, band_sig, out=significance)
    # the skin line itself (a dermis step, the curvature of the limb's
    # outline) gives a band-pass ridge just under the skin: there both
    # thresholds are raised in proportion
    near_skin = anatomy.skin_depth_px < cfg.bandpass_skin_margin_mm / spacing_mm
    band_sig[near_skin] *= np.float32(cfg.bandpass_high_threshold_sigma / cfg.bandpass_skin_high_threshold_sigma)
    mask |= hysteresis_threshold(band_sig, cfg.bandpass_low_threshold_sigma, cfg.bandpass_high_threshold_sigma)
    seeds |= band_sig >= cfg.bandpass_high_threshold_sigma
    del band, band_sig, near_skin
    record("fine", mask)
    mask = _keep_seeded(_trim_to_extent(mask, excess, cfg.relative_extent), seeds)
    record("seeded", mask)

    # coarse channel: masses wider than the fine opening, bones kept out.
    # Line openings, not a disk: the soft tissue between a bone and the skin
    # is often narrower than a mass-sized disk, which would flatten its
    # profile to the skin's level and light the whole band up as a "mass";
    # a line along the band fits in it.
    coarse = gaussian(image, _COARSE_SMOOTH_MM / spacing_mm)
    coarse_floor = region_line_opening(
        coarse, soft, 2.0 * cfg.coarse_background_radius_mm / spacing_mm, grid_factor=_COARSE_GRID
    )
    coarse_excess = (coarse - coarse_floor).astype(np.float32)
    # in units of the per-pixel noise: a mass must be dense, not merely
    # smooth enough to beat the (tiny) noise of a heavily smoothed image
    coarse_sig = (coarse_excess - float(median(coarse_excess[soft][::step]))) / float(anatomy.noise)  # float32
    coarse_sig[~soft] = 0.0
    coarse_mask = hysteresis_threshold(coarse_sig, cfg.coarse_low_threshold_sigma, cfg.coarse_high_threshold_sigma)
    coarse_mask = _compact_blobs(coarse_mask, cfg.coarse_min_area_mm2 / spacing_mm**2)
    coarse_mask &= _wide_body(anatomy.skin_depth_px, spacing_mm)
    coarse_mask = _trim_to_extent(coarse_mask, coarse_excess, cfg.relative_extent)
    record("coarse", coarse_mask)
    # a mass also shows in the fine channel (its rim, its lobules); a broad
    # swell of soft tissue does not: keep coarse regions holding a fine one
    coarse_labels, m = label_components(coarse_mask, 8)
    confirmed = np.zeros(m + 1, bool)
    confirmed[coarse_labels[mask]] = True
    confirmed[0] = False
    mask |= confirmed[coarse_labels]
    significance = np.maximum(significance, coarse_sig)
    record("confirmed", mask)

    mask = _drop_bone_attached(mask, anatomy.bone, spacing_mm, cfg)
    record("bone_attached", mask)
    # a child's faint last phalanx, beyond the end of the next one and in line
    mask &= ~bone_continuations(mask, anatomy.bone, spacing_mm, cfg.linear_max_width_mm)
    record("bone_continuation", mask)
    mask = _drop_faint_large(mask, significance, spacing_mm, cfg)
    record("faint_large", mask)
    mask = _drop_specks_on_dense_tissue(mask, anatomy, spacing_mm, cfg)
    record("dense_surround", mask)
    lobules, n = label_raster_order(mask, 8)
    if n:
        areas = np.bincount(lobules.ravel(), minlength=n + 1)
        keep = areas * spacing_mm**2 >= cfg.min_area_mm2
        keep[0] = False
        lobules, n = keep_labels(lobules, keep)  # = label_raster_order(keep[lobules], 8)
    return Segmentation(
        labels=group_lobules(lobules, n, spacing_mm, cfg, bridge=significance >= cfg.lobule_bridge_min_sigma),
        lobule_labels=lobules.astype(np.int32),
        significance=significance,
        excess=excess,
        noise=anatomy.noise,
    )


def group_lobules(
    lobules: np.ndarray, n: int, spacing_mm: float, cfg: Config, bridge: np.ndarray | None = None
) -> np.ndarray:
    """Foci from lobules: lobules closer than ``lobule_group_distance_mm`` are one focus.

    With ``bridge``, lobules up to ``lobule_bridge_distance_mm`` apart are
    also one focus where a path runs between them through ``bridge`` pixels
    each within half that distance of a lobule: the nodules of one plaque,
    joined by its fainter sheet, are one deposit.  ``segment`` passes the
    pixels at least ``lobule_bridge_min_sigma`` above the noise in any of
    its channels; the smoothed ones spread a dense dot's own response about
    a millimetre around it, so two dots less than about 2 mm apart are one
    focus even on plain soft tissue, and two dots 2-3 mm apart are one only
    where denser tissue joins them.

    Parameters
    ----------
    lobules : ndarray of int
        Lobule labels 1..n (0 = background).
    n : int
        Number of lobules.
    spacing_mm : float
    cfg : Config
    bridge : ndarray of bool, optional
        Tissue denser than its surroundings, however faintly.

    Returns
    -------
    ndarray of int32
        Focus labels numbered 1..m without gaps (0 = background).
    """
    if n == 0:
        return np.zeros(lobules.shape, np.int32)
    inside = lobules > 0
    joined = dilate(inside, 0.5 * cfg.lobule_group_distance_mm / spacing_mm)
    if bridge is not None and cfg.lobule_bridge_distance_mm > cfg.lobule_group_distance_mm:
        joined |= bridge & dilate(inside, 0.5 * cfg.lobule_bridge_distance_mm / spacing_mm)
    grouped, m = label_raster_order(joined)
    # renumber 1..m: each value's rank among those present (np.unique's
    # inverse, in linear time); the values present are read off the lobules
    present = np.zeros(m + 1, bool)
    present[grouped[inside]] = True
    present[0] = not inside.all()
    labels = (np.cumsum(present) - 1).astype(np.int32)[np.where(inside, grouped, 0)]
    if not present[0]:
        labels += 1
    return labels
