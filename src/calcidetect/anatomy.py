"""Stage 2: where the body, metal, bones, joints and skin are.

Everything runs on the working-resolution image (float32, higher = denser).
Lengths come in millimetres from :class:`~calcidetect.config.Config` and are
converted with the working spacing.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage as ndi
from scipy.spatial import cKDTree
from skimage.filters import threshold_otsu
from skimage.morphology import h_maxima
from skimage.segmentation import watershed

from .background import noise_sigma, region_opening, robust_sigma
from .config import Config
from .filters import (
    dilate,
    erode,
    farther_than,
    fill_holes,
    gaussian,
    grey_dilate,
    grey_morphology,
    label_components,
    label_raster_order,
    normalized_gaussian,
    normalized_gaussian_coarse,
)
from .labelstats import label_max, label_mean, label_median, label_min, label_moments, label_solidity
from .orderstats import median, percentile
from .plates import find_plates

__all__ = ["Anatomy", "find_anatomy", "find_collimation", "find_flat_overlays", "find_body", "find_bone", "find_joints", "joint_gaps", "joint_distance_at"]

#: Fraction of the image's intensity range within which a pixel counts as
#: saturated (collimation / unexposed film).
_SATURATION_BAND = 0.04
#: Collimation must run along the image edge for at least this long.
_COLLIMATION_MIN_CONTACT_MM = 15.0
#: Bright collimation runs along at least this fraction of an image side.
_COLLIMATION_SIDE_FRACTION = 0.5
#: ... and lies within this fraction of the range below the image's maximum.
_COLLIMATION_TOP_BAND = 0.15
#: A collimation region is flat: its std is at most this fraction of the range.
_COLLIMATION_MAX_STD = 0.05
#: Straight collimation bands: brighter than this fraction of the range below
#: the maximum, along this fraction of the image side.
_BAND_DEPTH = 0.15
_BAND_COVERAGE = 0.9
#: Collimator blade edge: a step up towards the border of this fraction of
#: the range over this distance, along this fraction of a line within this
#: fraction of the film from its side; ignored where known collimation
#: already covers this fraction of the film beyond it.
_BLADE_MIN_STEP = 0.03
_BLADE_STEP_MM = 1.0
_BLADE_MIN_COVERAGE = 0.95
_BLADE_SEARCH_FRACTION = 0.25
_BLADE_KNOWN_FRACTION = 0.8
#: Penumbra (soft edge) added around collimation and padding.
_COLLIMATION_PENUMBRA_MM = 2.0
#: A flat run of at least this many input pixels is a drawn overlay.
_OVERLAY_MIN_PIXELS = 3
#: A drawn plateau steps off its surroundings (a ring this many pixels wide)
#: by at least this fraction of the film's robust range (0.5-99.5 percentile).
_OVERLAY_RING_PX = 2
_OVERLAY_MIN_STEP_FRACTION = 0.08
#: Margin (mm) around drawn overlays on the working grid.
_OVERLAY_MARGIN_MM = 2.5
#: Overlays up to this area (mm^2 on the working grid: dust dots, letters)
#: are filled with the Gaussian mean (sigma in mm) of the pixels around them
#: before anatomy.
_OVERLAY_FILL_MAX_MM2 = 10.0
_OVERLAY_FILL_SIGMA_MM = 1.0
#: Smoothing before thresholding air against tissue.
_BODY_SMOOTH_MM = 1.0
#: Air is present when tissue stands this many air-spreads above air.
_AIR_SEPARATION = 6.0
#: Scale over which the air's brightness may vary (heel effect).
_AIR_LEVEL_SCALE_MM = 25.0
#: Body starts this many air spreads, or this fraction of the air-tissue gap,
#: above the air.
_AIR_MARGIN_SIGMA = 4.0
_AIR_MARGIN_FRACTION = 0.04
#: Air closer than this to tissue is not used to measure the air's level.
_AIR_CLEARANCE_MM = 4.0
#: Air and tissue must each cover at least this fraction of the exposed area.
_MIN_CLASS_FRACTION = 0.05
#: Opening radius that strips burned-in text strokes from the body mask.
_BODY_OPENING_MM = 1.5
#: Band along a collimation edge where bright pixels must survive that opening.
_FIELD_EDGE_STRIP_MM = 3.0
#: A body part with at least this fraction of its area within this distance
#: of a collimation edge is the edge's penumbra, not anatomy.
_PENUMBRA_BAND_MM = 12.0
_PENUMBRA_PART_FRACTION = 0.9
#: Body parts smaller than this are labels or markers, not anatomy.
_MIN_BODY_PART_MM2 = 400.0
#: Densest soft-tissue excess: this percentile of the excess inside the body.
_BONE_CONTRAST_PERCENTILE = 97.0
#: When Otsu's split of the excess clipped at the contrast percentile is this
#: many times the split clipped at the lower percentile, the top is metal.
_BONE_LOWER_CLIP_PERCENTILE = 90.0
_METAL_DOMINANCE_RATIO = 3.0
#: No bone when the densest excess is below this many noise sigmas.
_MIN_BONE_CONTRAST_SIGMA = 12.0
#: ... read at this percentile (a small bone still reaches it)
_BONE_PRESENCE_PERCENTILE = 99.5
#: Narrow body parts (fingers: half-width below _NARROW_BODY_MM, blended over
#: _NARROW_BLEND_MM) get a floor from a disk _NARROW_FLOOR_WIDTH_MM wide; the
#: half-width is the largest skin distance within _HALFWIDTH_WINDOW_MM.
_NARROW_BODY_MM = 14.0
_NARROW_BLEND_MM = 6.0
_NARROW_FLOOR_WIDTH_MM = 10.0
_HALFWIDTH_WINDOW_MM = 12.0
#: Edge-supported lower levels (fractions of the bone threshold): a region is
#: bone when at least _LEVEL_MIN_SUPPORT of its boundary (further than
#: _LEVEL_SKIN_CLEARANCE_MM inside the body) rises by _LEVEL_EDGE_FRACTION of
#: the level within _LEVEL_EDGE_WIDTH_MM, and it covers _LEVEL_MIN_AREA_MM2.
_LEVEL_FRACTIONS = (0.8, 0.6, 0.45, 0.35)
_LEVEL_MIN_SUPPORT = 0.7
_LEVEL_SKIN_CLEARANCE_MM = 2.0
_LEVEL_EDGE_FRACTION = 0.5
_LEVEL_EDGE_WIDTH_MM = 1.0
_LEVEL_MIN_AREA_MM2 = 20.0
#: ... and its mean excess is at least this multiple of the level.
_LEVEL_MIN_RISE = 1.6
#: The steepness asked of a low level's edge never drops below that of a
#: level at this fraction of the bone threshold.
_LEVEL_EDGE_FLOOR = 0.0
#: Grid on which the soft-tissue floor is computed (it is smooth).
_FLOOR_GRID_MM = 0.6
#: Smoothing of the excess before thresholding bone.
_BONE_SMOOTH_MM = 0.3
#: The bone threshold is at least this many noise sigmas of excess.
_BONE_MIN_THRESHOLD_SIGMA = 8.0
#: Closing that bridges gaps in a cortex ring.
_BONE_CLOSING_MM = 0.4
#: Plates closed by the image edge are filled when this dense (fraction of
#: the densest excess).
_PLATE_FRACTION = 0.1
#: A hole closed only with the help of the image edge must be this many
#: times denser than an enclosed one (soft tissue between a shaft and the
#: film edge must stay out).
_EDGE_CLOSED_FACTOR = 3.5
#: Dense components at least this large may be several bones joined at
#: joints; they are split where they narrow below twice _SPLIT_NECK_MM, and
#: around each summit of depth (distance to the component's edge) standing
#: _SPLIT_SUMMIT_MM above the saddles between them.
_SPLIT_MIN_AREA_MM2 = 300.0
_SPLIT_NECK_MM = 1.5
_SPLIT_SUMMIT_MM = 1.0
#: Holes enclosed by bone smaller than this are bone (a foramen is larger).
_MAX_FILLED_HOLE_MM2 = 300.0
#: Cortex test: rim (within this of the edge) denser than the core by this ratio.
_CORTEX_RIM_MM = 0.8
_CORTEX_CORE_MM = 1.4
_CORTEX_MIN_RATIO = 1.08
#: A convex blob whose rim (as for the cortex test) is fainter than this
#: fraction of its core is a calcified mass, not bone.  A cortex keeps a
#: bone's rim at least about half as dense as its core (a child's
#: ossification centre: >= 0.6 on the boneage films; phantom bones >= 0.46);
#: a mass without a cortex is thinnest at its rim (a homogeneous ball of
#: 4-10 mm radius: 0.45-0.33) and a cloud-like deposit densest at its centre.
#: A blob with a ring band denser than its core (``_CORTEX_PEAK_MIN_RATIO``)
#: has a cortex however faint its outermost pixels read.
_BONE_MIN_RIM_RATIO = 0.45
#: Peak cortex test (:func:`_cortex_peak_ratio`): the densest band this deep
#: or less, over the core beyond ``_CORTEX_PEAK_CORE_MM``; a ring band at
#: least as dense as the core is a cortex (the sample shoulder's oval bone,
#: 0.36 mm pixels: rim/core 0.49, ring band/core 1.3).
_CORTEX_PEAK_DEPTH_MM = 2.0
_CORTEX_PEAK_CORE_MM = 3.0
_CORTEX_PEAK_MIN_RATIO = 1.0
#: A rim this much denser than the core is a clear cortex.
_STRONG_CORTEX_RATIO = 1.5
#: Shape tests for bone components.
_BONE_MIN_SOLIDITY = 0.92
_BONE_MIN_ELONGATION = 2.5
_SHORT_BONE_MIN_ELONGATION = 1.8
_SHORT_BONE_MIN_SOLIDITY = 0.8
#: The last bone of a chain (a child's distal phalanx) may be smaller than
#: ``Config.min_bone_area_mm2``: a short tubular component of at least
#: _CHAIN_MIN_AREA_MM2 is bone when, within _CHAIN_GAP_MM beyond one of its
#: ends along its long axis, lies a tubular bone (elongation at least
#: _SHORT_BONE_MIN_ELONGATION) whose axis is within _CHAIN_MAX_ANGLE_DEG of its own.
_CHAIN_MIN_AREA_MM2 = 15.0
#: ... and nearly convex (a little less than a lone short bone must be: the
#: line with its neighbour says the rest).
_CHAIN_MIN_SOLIDITY = 0.75
_CHAIN_GAP_MM = 6.0
_CHAIN_MAX_ANGLE_DEG = 30.0
#: ... the tube being read through a window the candidate's length across,
#: which cuts a long bone short: there its elongation need only be this.
_CHAIN_LOCAL_MIN_ELONGATION = 1.5
#: A bone's outline (away from skin and film edge) is mostly a steep step.
_BONE_MIN_STEEP_OUTLINE = 0.4
#: Percentile of excess inside bone taken as the cortex's density.
_CORTEX_PERCENTILE = 95.0
#: Metal is brighter than this percentile of the image inside bone.
_BRIGHTEST_BONE_PERCENTILE = 99.5
#: Margin around metal: its blur and the edge-enhancement halo beside it.
_METAL_MARGIN_MM = 2.5
#: The ends of bones this elongated are joint surfaces, to this depth (mm).
_BONE_END_MIN_ELONGATION = 2.0
_BONE_END_DEPTH_MM = 3.0
#: A joint cleft is at least this deep (mm from its own edge).
_CLEFT_MIN_DEPTH_MM = 0.4
#: Faint bones (ribs, plates) pass at this fraction of the bone threshold
#: when long and elongated.
_FAINT_BONE_FRACTION = 0.5
_FAINT_BONE_MIN_LENGTH_MM = 30.0
_FAINT_BONE_MIN_ELONGATION = 3.0
#: ... and lie deeper than this below the skin (soft-tissue strips under the
#: skin are not ribs).
_FAINT_BONE_MIN_DEPTH_MM = 12.0
#: ... and their surroundings (a ring this wide) are at most this fraction as dense.
_FAINT_RING_MM = 3.0
_FAINT_RING_RATIO = 0.6
#: Growth of a bone into its fainter parts: how far, and down to which
#: fraction of the bone threshold.
_BONE_GROW_MM = 2.0
_BONE_GROW_FRACTION = 0.7
#: Outer cortex beyond the mask: on a soft-tissue slope (a bone just under
#: the skin) the floor follows the bone's outer part, and the mask stops short
#: of the cortex.  The band out to a steep step down (away from the bone, a
#: fall of the bone threshold within _LEVEL_EDGE_WIDTH_MM) at least
#: _OUTER_CORTEX_MIN_MM and at most _OUTER_CORTEX_MAX_MM beyond the mask is
#: bone, unless the image rises that steeply anywhere in it (a deposit beside
#: the bone rises out of the soft tissue first; inside a bone the image only
#: falls towards its outer surface).  A pixel is in the band when the bone,
#: it and the step lie on a line (within _OUTER_CORTEX_SLACK_MM).
_OUTER_CORTEX_MIN_MM = 1.5
_OUTER_CORTEX_MAX_MM = 8.0
_OUTER_CORTEX_SLACK_MM = 0.4
#: "That steeply" for a rise: this fraction of the fall's steepness (the
#: rise from medulla into the cortex is gentler than its outer surface).
_OUTER_CORTEX_RISE_FRACTION = 0.6


#: Distances are capped here (pixels) so "no skin in sight" stays finite.
_FAR_PX = 1e4
#: Distance maps that the bone stage only thresholds or averages (the ring
#: around the bone mask, the depth of faint bands, the body's half-width
#: for the floor's blend when it is not the skin depth's map) use OpenCV's 5 x 5
#: chamfer mask: within 2 % of the Euclidean distance, about four times
#: cheaper than the exact transform.  Maps that reach the features (skin
#: depth, joints) stay exact.
_INTERNAL_DISTANCE_MASK = cv2.DIST_MASK_5


@dataclass
class Anatomy:
    """Masks and maps of the anatomy on the working grid.

    Attributes
    ----------
    valid : ndarray of bool
        Exposed image area (not collimation or padding).
    body : ndarray of bool
        Inside the patient (air, text and markers excluded).
    metal : ndarray of bool
        Metal, lead markers and burned-in text (denser than any calcium, or
        saturated), with a margin.
    bone : ndarray of bool
        Bone, medulla filled, plus its blurred halo.
    bone_labels : ndarray of int32
        Connected bones (0 = none).
    bone_orientation : ndarray of float
        Orientation (radians, skimage convention) of each bone label; index 0 unused.
    joint_distance_px : ndarray of float32 or None
        Distance to the nearest joint gap (inf-like large values where none);
        None when it was not computed (:func:`find_anatomy`): then
        :func:`joint_distance_at` reads it off ``joint_gap`` where it is
        needed (the foci only).
    joints_rc : ndarray, shape (n, 2)
        Joint gap centres (working grid).
    skin_depth_px : ndarray of float32
        Distance below the skin line inside the body.
    field_edge_px : ndarray of float32
        Distance to the edge of the exposed field (collimation, padding, the
        image border is not an edge).
    noise : float
        Noise sigma of the working image.
    dense_excess : ndarray of float32
        Density over the bone stage's soft-tissue floor (0 outside the body).
    bone_threshold : float
        The excess above which tissue counted as dense at the bone stage
        (``inf`` when no bone was looked for or none stands out).
    joint_gap : ndarray of bool or None
        The joint-gap pixels (:func:`find_joints`' cues), when
        ``joint_distance_px`` is None.
    """

    valid: np.ndarray
    body: np.ndarray
    metal: np.ndarray
    bone: np.ndarray
    bone_labels: np.ndarray
    bone_orientation: np.ndarray
    joint_distance_px: np.ndarray | None
    joints_rc: np.ndarray
    skin_depth_px: np.ndarray
    field_edge_px: np.ndarray
    noise: float
    dense_excess: np.ndarray
    bone_threshold: float
    joint_gap: np.ndarray | None = None


def _edge_labels(labels: np.ndarray, outside: np.ndarray | None) -> np.ndarray:
    """Labels touching the image border or, if given, the ``outside`` mask (collimation)."""
    found = _border_labels(labels)
    if outside is None or not outside.any():
        return found
    rim = cv2.dilate(outside.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    return np.union1d(found, labels[rim & (labels > 0)])


def _border_labels(labels: np.ndarray) -> np.ndarray:
    """Label values found on the image border."""
    edge = np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])
    return np.unique(edge[edge > 0])


def find_collimation(image: np.ndarray, spacing_mm: float, smooth: np.ndarray | None = None) -> np.ndarray:
    """Unexposed borders and flat padding connected to the image edge.

    Collimation leaves film unexposed: in attenuation terms it is as bright as
    anything in the image and flat, and runs along an edge.  Constant padding
    (black or white bars added when images are squared) is flat too.
    ``smooth``, if given, is :func:`body_smooth` of ``image`` (computed once
    for this and :func:`find_body`).
    """
    if smooth is None:
        smooth = body_smooth(image, spacing_mm)
    lo, hi = percentile(smooth, [0.5, 99.9])
    top = float(smooth.max())
    span = max(float(top - lo), 1e-6)
    candidates = smooth >= hi - _SATURATION_BAND * span
    # flat padding: zero local range
    local_range = cv2.dilate(image, np.ones((3, 3), np.uint8)) - cv2.erode(image, np.ones((3, 3), np.uint8))
    flat = local_range <= 1e-6 * span
    mask = np.zeros(image.shape, bool)
    min_contact = _COLLIMATION_MIN_CONTACT_MM / spacing_mm
    for cand, is_bright in ((candidates, True), (flat, False)):
        labels, n = label_components(cand)  # the numbering is not used
        if n == 0:
            continue
        if is_bright:
            # a collimator blade shades (most of) a whole side; a limb running
            # off the film touches a side only over its own width
            keep = np.zeros(n + 1, bool)
            for side in (labels[0], labels[-1], labels[:, 0], labels[:, -1]):
                keep |= np.bincount(side, minlength=n + 1) >= _COLLIMATION_SIDE_FRACTION * side.size
        else:
            edge = np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])
            keep = np.bincount(edge, minlength=n + 1) >= min_contact
        keep[0] = False
        if is_bright and keep.any():
            idx = np.arange(n + 1)
            std = np.zeros(n + 1)
            std[1:] = ndi.standard_deviation(smooth, labels, idx[1:])
            level = np.full(n + 1, -np.inf)
            level[1:] = label_median(smooth, labels, n)
            # unexposed film sits at the very top of the range, above any
            # tissue (a thick hip's soft tissue fills a side too, lower down)
            keep &= (std <= _COLLIMATION_MAX_STD * span) & (level >= top - _COLLIMATION_TOP_BAND * span)
        mask |= keep[labels]
    mask |= _straight_bands(smooth >= top - _BAND_DEPTH * span)
    mask |= _beyond_blade_edges(smooth, spacing_mm, span, mask)
    return dilate(mask, _COLLIMATION_PENUMBRA_MM / spacing_mm) if mask.any() else mask


def _beyond_blade_edges(smooth: np.ndarray, spacing_mm: float, span: float, known: np.ndarray) -> np.ndarray:
    """Film beyond a collimator blade's straight edge (a wide penumbra ramp).

    A blade casts a straight step, brighter on the outer side, across the
    whole film; behind it the film need not be flat (a wide penumbra ramp
    that the flat-collimation test misses).  From each side, the innermost
    line (column or row) within ``_BLADE_SEARCH_FRACTION`` of the film where
    the image steps up towards the border by ``_BLADE_MIN_STEP`` of ``span``
    over ``_BLADE_STEP_MM`` on at least ``_BLADE_MIN_COVERAGE`` of the
    line's length marks the blade; no anatomical edge is that straight and
    that long.  Everything beyond it is outside, unless ``known``
    collimation already covers ``_BLADE_KNOWN_FRACTION`` of that strip
    (then the strip adds nothing but jitter along a tilted edge).  A step
    right where the search starts is no edge seen from inside.
    """
    k = max(1, int(round(_BLADE_STEP_MM / spacing_mm)))
    out = np.zeros(smooth.shape, bool)
    for turns in range(4):
        img = np.rot90(smooth, turns)  # the side under test is on the right
        beyond = np.rot90(out, turns)  # a view: writing to it writes to ``out``
        width = img.shape[1]
        start = int(width * (1.0 - _BLADE_SEARCH_FRACTION))
        if start < k or width - start <= 2 * k:
            continue
        part = img[:, start - k :]
        step = part[:, 2 * k :] - part[:, : -2 * k]  # at column start + j: right minus left
        coverage = (step >= _BLADE_MIN_STEP * span).mean(axis=0)
        found = np.flatnonzero(coverage >= _BLADE_MIN_COVERAGE)
        if found.size and found[0] > 0:
            edge = start + int(found[0])
            if np.rot90(known, turns)[:, edge:].mean() < _BLADE_KNOWN_FRACTION:
                beyond[:, edge:] = True
    return out


def body_smooth(image: np.ndarray, spacing_mm: float) -> np.ndarray:
    """The smoothed image that collimation and air are thresholded on (Gaussian, ``_BODY_SMOOTH_MM``)."""
    return gaussian(image, _BODY_SMOOTH_MM / spacing_mm)


def _straight_bands(bright: np.ndarray) -> np.ndarray:
    """Bright bands along a whole image side (a collimator blade and its penumbra).

    From each side inwards, columns (or rows) that are bright along at least
    ``_BAND_COVERAGE`` of their length belong to the band; a bone is never
    that long.
    """
    band = np.zeros(bright.shape, bool)
    for axis in (0, 1):
        coverage = bright.mean(axis=axis)
        short = coverage < _BAND_COVERAGE
        n = coverage.size
        first = int(np.argmax(short)) if short.any() else n
        last = int(np.argmax(short[::-1])) if short.any() else n
        if axis == 0:
            band[:, :first] = True
            band[:, n - last:] = True
        else:
            band[:first, :] = True
            band[n - last:, :] = True
    return band


def _air_level(
    smooth: np.ndarray, valid: np.ndarray, field_edge_px: np.ndarray, spacing_mm: float
) -> tuple[np.ndarray, float, float, np.ndarray] | None:
    """Map of the air's brightness, its noise spread, the tissue gap and the air mask, or None.

    Candidate air is the low class of Otsu's threshold (or, if that split
    tissue from bone, of Otsu's threshold within the low class), connected to
    the image edge.  Its level is mapped smoothly, so a heel-effect gradient in
    the air does not leak into the body mask.  Air must stand
    ``_AIR_SEPARATION`` spreads below the tissue.
    """
    values = smooth[valid]
    step = max(1, values.size // 200_000)
    sample = values[::step]
    thresholds = [threshold_otsu(sample)]
    below = sample[sample < thresholds[0]]
    if below.size > 16 and below.min() < below.max():
        thresholds.append(threshold_otsu(below))
    near_field_edge = field_edge_px <= max(_FIELD_EDGE_STRIP_MM / spacing_mm, 1.0)
    outside_penumbra = field_edge_px > _PENUMBRA_BAND_MM / spacing_mm
    for t in thresholds:
        low = valid & (smooth < t)
        labels, n = label_components(low)  # the numbering is not used
        if n == 0:
            continue
        # air reaches the edge of the exposed field (image border or
        # collimation), or comes within a penumbra's width of it
        field_edge = near_field_edge
        edge = np.zeros(n + 1, bool)
        edge[_border_labels(labels)] = True
        edge[labels[field_edge]] = True
        edge[0] = False
        # the air's level is read away from the skin's soft transition
        # (air lies within the edge components: too few of those, too little air)
        at_edge = edge[labels]
        tissue = valid & ~low
        min_px = _MIN_CLASS_FRACTION * valid.sum()
        if at_edge.sum() < min_px or tissue.sum() < min_px:
            continue
        air = farther_than(~tissue, _AIR_CLEARANCE_MM / spacing_mm, only=at_edge)
        if air.sum() < min_px:
            continue
        # a collimator's penumbra ramp is no guide to the air's level
        reference = air & outside_penumbra
        if reference.sum() < _MIN_CLASS_FRACTION * valid.sum():
            reference = air
        # smooth over centimetres: computed on the blur's pyramid level
        level = normalized_gaussian_coarse(smooth, reference.astype(np.float32), _AIR_LEVEL_SCALE_MM / spacing_mm)
        resid = (smooth - level)[reference][::step]
        spread = robust_sigma(resid)
        gap = float(median((smooth - level)[tissue][::step]))
        if gap > _AIR_SEPARATION * spread:
            return level, spread, gap, air
    return None


def _zero_local_range(img: np.ndarray, band_rows: int = 256) -> np.ndarray:
    """Pixels whose 3x3 neighbourhood is constant (max == min), in row bands.

    Bands overlap by one row, so the result is that of the whole image while
    the float temporaries stay a band in size (the input grid is large).
    """
    kernel = np.ones((3, 3), np.uint8)
    h = img.shape[0]
    flat = np.empty(img.shape, bool)
    for a in range(0, h, band_rows):
        b = min(a + band_rows, h)
        lo, hi = max(a - 1, 0), min(b + 1, h)
        band = img[lo:hi]
        same = cv2.dilate(band, kernel) == cv2.erode(band, kernel)
        flat[a:b] = same[a - lo : a - lo + (b - a)]
    return flat


def find_flat_overlays(pixels: np.ndarray) -> np.ndarray:
    """Burned-in text, graphics and clipped areas: runs of identical values.

    Computed on the input grid, where every exposed pixel carries quantum
    noise and only drawn overlays (and saturated, clipped areas) have runs of
    identical values.  A smooth 8-bit film also has small plateaus by chance,
    one or two grey levels off their surroundings; a drawn stroke stands off
    its surroundings by a step of at least ``_OVERLAY_MIN_STEP_FRACTION`` of
    the film's range, and a clipped area sits at the film's extreme value.
    Returns a mask on the input grid (a margin of a few pixels included).
    """
    img = np.asarray(pixels, np.float32)
    flat = _zero_local_range(img)
    if not flat.any():
        return flat
    # one labelling: runs too small to be drawn, then plateaus that do not stand out, are dropped
    labels, n = label_components(flat)
    where = np.flatnonzero(flat)
    lab = labels.reshape(-1)[where]
    drawn = np.bincount(lab, minlength=n + 1) >= _OVERLAY_MIN_PIXELS
    drawn[0] = False
    if drawn.any():
        drawn[1:] &= _plateau_stands_out(img, labels, n, drawn[1:])
    keep = np.zeros(flat.shape, bool)
    keep.reshape(-1)[where[drawn[lab]]] = True
    return cv2.dilate(keep.view(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)


def fill_overlays(image: np.ndarray, overlays: np.ndarray, spacing_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """``image`` with the small drawn overlays replaced by the tissue around them.

    A dust dot or a burned-in letter is far darker or brighter than the
    tissue it lies on.  Left in place, a dark dot pulls a grey opening's
    soft-tissue floor down over a disk around it, and cut out of the tissue
    (with its margin) it punches a hole in a bone under it; either way the
    bone fails the bone tests and its pieces become "foci".  Overlays up to
    ``_OVERLAY_FILL_MAX_MM2`` are filled from their surroundings (a
    normalized Gaussian of ``_OVERLAY_FILL_SIGMA_MM``); larger ones (clipped
    areas, label boxes) have no tissue of their own to fill them with and
    stay out of the anatomy as before.  All stay out of the search for foci.

    Parameters
    ----------
    image : ndarray of float32
        Working-resolution image.
    overlays : ndarray of bool
        :func:`find_flat_overlays`, resampled to the working grid.
    spacing_mm : float

    Returns
    -------
    filled_image : ndarray of float32
        A copy; ``image`` itself when nothing is filled.
    filled : ndarray of bool
        The overlay pixels that were filled.
    """
    labels, n = label_components(overlays, 8)
    if n == 0:
        return image, np.zeros(image.shape, bool)
    small = np.bincount(labels.ravel(), minlength=n + 1) * spacing_mm**2 <= _OVERLAY_FILL_MAX_MM2
    small[0] = False
    filled = small[labels]
    if not filled.any():
        return image, filled
    around = normalized_gaussian(image, (~overlays).astype(np.float32), _OVERLAY_FILL_SIGMA_MM / spacing_mm)
    return np.where(filled, around, image).astype(np.float32, copy=False), filled


def _plateau_stands_out(img: np.ndarray, labels: np.ndarray, n: int, which: np.ndarray | None = None) -> np.ndarray:
    """Per flat component (1..n): a drawn or clipped plateau, not a chance one.

    The plateau (the component's 3x3 neighbourhood, one value) is drawn when
    the ring of ``_OVERLAY_RING_PX`` pixels around it departs from that value
    by at least ``_OVERLAY_MIN_STEP_FRACTION`` of the film's robust range
    somewhere, or clipped when the value is the film's minimum or maximum.
    The largest departure is read from a grey dilation and erosion that
    reach over plateau and ring (the plateau itself departs by nothing),
    computed only on the bands of rows that hold the components tested
    (``which``, index 0..n-1; all by default): overlays sit in a few rows
    of a large input-grid film.  Components not tested are False.
    """
    flat_img = img.ravel()
    test = np.ones(n, bool) if which is None else np.asarray(which, bool)
    wanted = np.concatenate([[False], test])
    h = img.shape[0]
    pad = 1 + _OVERLAY_RING_PX
    reach = np.ones((2 * pad + 1,) * 2, np.uint8)
    value = np.full(n + 1, -np.inf, np.float32)
    highest = np.full(n + 1, -np.inf, np.float32)
    lowest = np.full(n + 1, np.inf, np.float32)
    pixels = np.flatnonzero(labels)  # (sparse: cheaper than a gather over the whole film)
    rows = np.unique(pixels[wanted[labels.reshape(-1)[pixels]]] // img.shape[1])
    # runs of rows holding tested plateaus, each read with the reach above and below
    gap = np.diff(rows) > 2 * pad + 1
    starts = rows[np.concatenate([[True], gap])] if rows.size else rows
    stops = rows[np.concatenate([gap, [True]])] + 1 if rows.size else rows
    for a, b in zip(starts, stops):
        lo_row, hi_row = max(a - pad, 0), min(b + pad, h)
        band = img[lo_row:hi_row]
        band_labels = labels[a:b]
        inside = wanted[band_labels]
        lab = band_labels[inside]
        np.maximum.at(value, lab, img[a:b][inside])
        np.maximum.at(highest, lab, cv2.dilate(band, reach)[a - lo_row : b - lo_row][inside])
        np.minimum.at(lowest, lab, cv2.erode(band, reach)[a - lo_row : b - lo_row][inside])
    # untested components read 0 (their -inf / inf starts would give NaN steps)
    value, highest, lowest = (np.where(test, v[1:], np.float32(0)) for v in (value, highest, lowest))
    lo, hi = percentile(flat_img[:: max(1, img.size // 1_000_000)], [0.5, 99.5])
    clipped = (value <= flat_img.min()) | (value >= flat_img.max())
    max_step = np.maximum(highest - value, value - lowest)
    return test & (clipped | (max_step >= _OVERLAY_MIN_STEP_FRACTION * max(float(hi - lo), 1e-6)))


def find_body(
    image: np.ndarray,
    valid: np.ndarray,
    spacing_mm: float,
    field_edge_px: np.ndarray | None = None,
    smooth: np.ndarray | None = None,
) -> np.ndarray:
    """Inside-the-patient mask: tissue above air, without text or markers.

    Air is found by :func:`_air_level`; where there is none (a thick hip fills
    the film) the whole exposed area is body.  Burned-in text strokes are
    removed by an opening, and parts smaller than a small body part (markers,
    labels) are dropped.  ``smooth``, if given, is :func:`body_smooth` of
    ``image``.
    """
    if smooth is None:
        smooth = body_smooth(image, spacing_mm)
    if valid.sum() < 16:
        return valid.copy()
    if field_edge_px is None:
        field_edge_px = _distance_to(valid)
    found = _air_level(smooth, valid, field_edge_px, spacing_mm)
    body = valid.copy()
    air = np.zeros(valid.shape, bool)
    if found is not None:
        level, spread, gap, air = found
        body = valid & (smooth > level + max(_AIR_MARGIN_SIGMA * spread, _AIR_MARGIN_FRACTION * gap))
    # opening by reconstruction: parts that survive an opening (not text
    # strokes) are kept whole, so the thin skin edge is not eroded
    opened = dilate(erode(body, _BODY_OPENING_MM / spacing_mm), _BODY_OPENING_MM / spacing_mm)
    # a thin bright strip along a collimation edge (penumbra) is no tissue
    # even where it touches the limb
    body &= opened | (field_edge_px > _FIELD_EDGE_STRIP_MM / spacing_mm)
    labels, n = label_components(body)  # the numbering is not used
    if n > 0:
        areas = np.bincount(labels[opened], minlength=n + 1)
        areas[0] = 0
        min_area = max(_MIN_BODY_PART_MM2 / spacing_mm**2, 0.05 * areas.max())
        keep = areas >= min_area
        # a part lying wholly along a collimation edge is its penumbra (or a
        # marker resting on it), not anatomy
        edge_band = field_edge_px <= _PENUMBRA_BAND_MM / spacing_mm
        in_band = np.bincount(labels[edge_band], minlength=n + 1)
        total = np.bincount(labels.ravel(), minlength=n + 1)
        keep &= in_band < _PENUMBRA_PART_FRACTION * total
        keep[0] = False
        body = keep[labels]
    return _fill_enclosed(body, air) & valid


def _fill_enclosed(body: np.ndarray, air: np.ndarray) -> np.ndarray:
    """Fill holes in the body mask, except those that hold air.

    A hole that contains air reaching the field edge is not inside the
    patient, even when a strip along the collimation edge closes it off.
    """
    holes = fill_holes(body) & ~body
    if not (holes & air).any():
        return body | holes
    labels, n = label_components(holes)  # the numbering is not used
    holds_air = np.zeros(n + 1, bool)
    holds_air[np.unique(labels[air & holes])] = True
    holds_air[0] = True
    return body | ~holds_air[labels]


def _disk(radius_px: float) -> np.ndarray:
    r = max(1, int(round(radius_px)))
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


def find_metal(
    image: np.ndarray, excess: np.ndarray, body: np.ndarray, bone: np.ndarray, spacing_mm: float, cfg: Config
) -> np.ndarray:
    """Metal and lead: denser than bone's cortex by a margin, and brighter than any bone.

    ``excess`` is density over soft tissue; the reference is the 95th
    percentile of it inside bone (cortex), and metal must also be brighter in
    ``image`` than the brightest bone, so that a faint or mistaken bone mask
    cannot turn ordinary bone into metal.  With no bone in the image there is
    no reference, and nothing is called metal (markers outside the body are
    already outside the body mask).  The mask gets a margin for the blur and
    the edge-enhancement halo beside metal.

    Parameters
    ----------
    image : ndarray of float32
        Working-resolution image.
    excess : ndarray of float32
        Density over the soft-tissue floor.
    body, bone : ndarray of bool
    spacing_mm : float
    cfg : Config

    Returns
    -------
    ndarray of bool
    """
    if not bone.any():
        return np.zeros(excess.shape, bool)
    cortex = float(percentile(excess[bone], _CORTEX_PERCENTILE))
    if cortex <= 0:
        return np.zeros(excess.shape, bool)
    # metal is also brighter than the brightest bone in the image itself, so a
    # weak cortex reference (a faint or mistaken bone mask) cannot make
    # ordinary bone "metal"
    brightest_bone = float(percentile(image[bone], _BRIGHTEST_BONE_PERCENTILE))
    metal = (excess > cfg.metal_min_relative_density * cortex) & (image > brightest_bone) & body
    return dilate(metal, _METAL_MARGIN_MM / spacing_mm) if metal.any() else metal


def marker_holders(metal: np.ndarray, spacing_mm: float, max_area_mm2: float, margin_mm: float) -> np.ndarray:
    """The holders of lead markers: boxes around the small pieces of metal.

    A lead letter sits in a plastic holder a few millimetres larger than
    the letter, whose straight edges and corners show as faint steps; an
    implant is far larger than a letter.  Each component of ``metal`` of at
    most ``max_area_mm2`` gets its bounding box grown by ``margin_mm`` on
    every side.

    Parameters
    ----------
    metal : ndarray of bool
        Metal mask (with its margin).
    spacing_mm : float
    max_area_mm2 : float
        Larger pieces are implants and get no holder.
    margin_mm : float
        How far the holder reaches beyond the letter's bounding box.

    Returns
    -------
    ndarray of bool
    """
    labels, n = label_components(metal)
    holders = np.zeros(metal.shape, bool)
    if n == 0:
        return holders
    area_mm2 = np.bincount(labels.ravel(), minlength=n + 1)[1:] * spacing_mm**2
    reach = int(np.ceil(margin_mm / spacing_mm))
    h, w = metal.shape
    # one box per marker (a handful per film)
    for k, box in enumerate(ndi.find_objects(labels, n)):
        if box is None or area_mm2[k] > max_area_mm2:
            continue
        rows, cols = box
        holders[max(rows.start - reach, 0) : min(rows.stop + reach, h), max(cols.start - reach, 0) : min(cols.stop + reach, w)] = True
    return holders


def _cortex_peak_ratio(labels: np.ndarray, n: int, inside: np.ndarray, excess: np.ndarray, spacing_mm: float) -> np.ndarray:
    """Per component (index 1..n): its densest edge band's mean excess over its core's.

    The bands are one pixel deep, within ``_CORTEX_PEAK_DEPTH_MM`` of the
    edge.  The cortex is a ring just inside a bone's outline; on a coarse or blurred
    film the outermost band (``_CORTEX_RIM_MM``) straddles the edge and reads
    fainter than the core even where the ring shows.  The ring's own band is
    the densest of the bands 1, 2, ... pixels deep; the core lies deeper than
    ``_CORTEX_PEAK_CORE_MM``.  0 when there is no core (a narrow component).
    """
    depth_px = max(int(np.ceil(_CORTEX_PEAK_DEPTH_MM / spacing_mm)), 2)
    band = np.ceil(inside).astype(np.int32)  # 1 = outermost pixel ring
    in_ring = (band >= 1) & (band <= depth_px)
    key = labels[in_ring].astype(np.int64) * (depth_px + 1) + band[in_ring]
    size = (n + 1) * (depth_px + 1)
    sums = np.bincount(key, weights=excess[in_ring], minlength=size).reshape(n + 1, depth_px + 1)[1:, 1:]
    counts = np.bincount(key, minlength=size).reshape(n + 1, depth_px + 1)[1:, 1:]
    ring_peak = np.where(counts > 0, sums / np.maximum(counts, 1), -np.inf).max(axis=1)
    core = inside >= max(_CORTEX_PEAK_CORE_MM / spacing_mm, depth_px + 1)
    core_mean = label_mean(excess[core], labels[core], n)  # NaN without a core
    return np.where(core_mean > 0, ring_peak / np.maximum(core_mean, 1e-9), 0.0)


def _component_stats(
    labels: np.ndarray,
    n: int,
    excess: np.ndarray,
    spacing_mm: float,
    min_width_mm: float,
    outside: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Per-component size, width, cortex ratio, solidity and elongation (index 1..n).

    Solidity (a convex hull per component) is computed only for components at
    least ``min_width_mm`` wide, the only ones that can be bone; NaN elsewhere.
    A component touching ``outside`` (collimation) counts as touching the border.
    """
    inside = cv2.distanceTransform((labels > 0).astype(np.uint8), cv2.DIST_L2, 3)
    moments = label_moments(labels, n)
    area = moments["area"]  # pixel counts, as float
    width = 2.0 * np.asarray(label_max(inside, labels, n), float)
    rim_px, core_px = _CORTEX_RIM_MM / spacing_mm, _CORTEX_CORE_MM / spacing_mm
    rim = (inside > 0) & (inside <= rim_px)
    core = inside >= core_px
    rim_sum = np.bincount(labels[rim], weights=excess[rim], minlength=n + 1)[1:]
    rim_n = np.bincount(labels[rim], minlength=n + 1)[1:]
    core_sum = np.bincount(labels[core], weights=excess[core], minlength=n + 1)[1:]
    core_n = np.bincount(labels[core], minlength=n + 1)[1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        cortex = np.where(core_n > 0, (rim_sum / np.maximum(rim_n, 1)) / np.maximum(core_sum / np.maximum(core_n, 1), 1e-9), 0.0)
    cortex_peak = _cortex_peak_ratio(labels, n, inside, excess, spacing_mm)
    solidity = label_solidity(labels, width * spacing_mm >= min_width_mm, ndi.find_objects(labels, n))
    major = moments["axis_major_length"]
    minor = moments["axis_minor_length"]
    orientation = moments["orientation"]
    touches = np.zeros(n, bool)
    touches[_edge_labels(labels, outside) - 1] = True
    return {
        "area_mm2": area * spacing_mm**2,
        "width_mm": width * spacing_mm,
        "cortex_ratio": cortex,
        "cortex_peak_ratio": cortex_peak,
        "solidity": solidity,
        "elongation": major / np.maximum(minor, 1.0),
        "orientation": orientation,
        "touches_border": touches,
        "label": np.arange(1, n + 1),
    }


def soft_tissue_floor(
    image: np.ndarray,
    body: np.ndarray,
    spacing_mm: float,
    max_bone_width_mm: float,
    body_depth_px: np.ndarray | None = None,
) -> np.ndarray:
    """Soft-tissue level under bones: an opening wider than the bones there.

    See :func:`calcidetect.background.region_opening`.  Where the body is
    wide, the disk is wider than any bone (``max_bone_width_mm``).  Where it
    is narrow (a finger), such a disk does not fit and would leave the whole
    finger as "dense"; there a disk just wider than a phalanx is used, which
    does fit beside the bone.  The two floors are blended by the local body
    half-width.  Floors and half-width are computed on a coarse grid (they
    are smooth).  ``body_depth_px``, when given, is ``_distance_to(body)``
    already computed by the caller.
    """
    factor = max(1, int(_FLOOR_GRID_MM / spacing_mm))
    # (the floor is read inside the body only)
    wide = region_opening(
        image, body, 0.5 * max_bone_width_mm / spacing_mm, grid_factor=factor, smooth=True, smooth_only_lowers=True,
        inside_only=True,
    )
    if body_depth_px is None:
        # only its local maximum over centimetres is used, to blend two floors
        body_depth_px = _distance_to(body, _INTERNAL_DISTANCE_MASK)
    # the half-width (a local maximum of the depth, from averages and maxima of
    # it) is at least the smallest depth: with that twice the widest narrow
    # half-width (a body filling the film: no depth map at all), no narrow floor
    if float(body_depth_px.min()) * spacing_mm >= 2.0 * (_NARROW_BODY_MM + 0.5 * _NARROW_BLEND_MM):
        return wide
    halfwidth_mm = grey_dilate(body_depth_px, _HALFWIDTH_WINDOW_MM / spacing_mm, grid_factor=factor) * spacing_mm
    narrow_weight = np.clip((_NARROW_BODY_MM - halfwidth_mm) / _NARROW_BLEND_MM + 0.5, 0.0, 1.0)
    if not (narrow_weight > 0).any():
        return wide
    narrow = region_opening(
        image, body, 0.5 * _NARROW_FLOOR_WIDTH_MM / spacing_mm, grid_factor=factor, smooth=True, smooth_only_lowers=True,
        inside_only=True,
    )
    return (narrow_weight * narrow + (1.0 - narrow_weight) * wide).astype(np.float32)


def _gradient_per_mm(smooth: np.ndarray, spacing_mm: float) -> np.ndarray:
    """Gradient magnitude (Sobel, per mm) of a smoothed image."""
    gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    return np.sqrt(gx * gx + gy * gy) / spacing_mm


def _away_from_skin(body: np.ndarray, spacing_mm: float) -> np.ndarray:
    """Body pixels far enough from the skin for an outline there to count as a bone edge."""
    return farther_than(body, _LEVEL_SKIN_CLEARANCE_MM / spacing_mm)  # = _distance_to(body) > clearance


def _steep_outline_fraction(
    labels: np.ndarray, n: int, smooth: np.ndarray, grad_per_mm: np.ndarray, inner: np.ndarray, threshold: float
) -> np.ndarray:
    """Per component (1..n): share of its outline inside the body that is a steep step.

    ``grad_per_mm`` is :func:`_gradient_per_mm` of ``smooth``; ``inner`` is
    :func:`_away_from_skin` of the body: the outline along the skin or the
    film edge does not count, and a component with no other outline gets 1.
    Steep means a rise of the local level (capped at ``threshold``) within
    ``_LEVEL_EDGE_WIDTH_MM`` (a cortex), as in :func:`_edge_supported_levels`.
    """
    region = labels > 0
    boundary = region & ~cv2.erode(region.astype(np.uint8), np.ones((3, 3), np.uint8), borderValue=1).astype(bool) & inner
    # the outline may sit at a lower level than ``threshold`` (edge-supported
    # levels); the step is judged against the level where it is (on the
    # outline's pixels only)
    where = np.flatnonzero(boundary)
    on_outline = labels.ravel()[where]
    level = np.clip(smooth.ravel()[where], 0.0, threshold)
    steep = grad_per_mm.ravel()[where] >= _LEVEL_EDGE_FRACTION * level / _LEVEL_EDGE_WIDTH_MM
    n_boundary = np.bincount(on_outline, minlength=n + 1)[1:]
    n_steep = np.bincount(on_outline[steep], minlength=n + 1)[1:]
    return np.where(n_boundary > 0, n_steep / np.maximum(n_boundary, 1), 1.0)


def _edge_supported_levels(
    smooth: np.ndarray, body: np.ndarray, grad_per_mm: np.ndarray, inner: np.ndarray, threshold: float, spacing_mm: float
) -> np.ndarray:
    """Components below the bone threshold whose outline runs along sharp edges.

    For each level (fractions of ``threshold``), a connected region counts as
    bone when most of its boundary, away from the skin and the film edge
    (``inner``), is a steep step in ``grad_per_mm`` (a cortex against soft
    tissue).  A region whose boundary wanders through smoothly varying soft
    tissue, or follows the skin, does not.
    """
    small = np.ones((3, 3), np.uint8)
    accepted = np.zeros(smooth.shape, bool)
    min_area_px = _LEVEL_MIN_AREA_MM2 / spacing_mm**2
    for fraction in _LEVEL_FRACTIONS:
        level = fraction * threshold
        region = body & (smooth > level)
        labels, n = label_components(region)
        if n == 0:
            continue
        # the film edge is no boundary; the skin is one, but never a bone edge
        boundary = region & (cv2.erode(region.view(np.uint8), small, borderValue=1) == 0)
        # a cortex edge is steep in absolute terms too, unlike the slope of a
        # thick soft-tissue contour at a low level
        edge = _LEVEL_EDGE_FRACTION * max(level, _LEVEL_EDGE_FLOOR * threshold) / _LEVEL_EDGE_WIDTH_MM
        steep = boundary & inner & (grad_per_mm >= edge)
        n_boundary = np.bincount(labels[boundary], minlength=n + 1)
        n_steep = np.bincount(labels[steep], minlength=n + 1)
        outlined = (n_boundary > 0) & (n_steep >= _LEVEL_MIN_SUPPORT * n_boundary)
        outlined[0] = False
        if not outlined.any():
            continue  # the sums below cannot keep anything
        # sums over the region's pixels only (in raster order, as over the
        # whole label image: the background's bin is never kept)
        where = np.flatnonzero(region)
        lab = labels.reshape(-1)[where]
        # only outlined components can be kept: the sums run over their
        # pixels alone (each label's pixels stay in raster order, so its sums
        # are the same; the others' bins stay empty and are not kept)
        outlined_px = outlined[lab]
        where, lab = where[outlined_px], lab[outlined_px]
        area = np.bincount(lab, minlength=n + 1)
        # a bone rises well above the level that outlines it; a stretch of
        # soft tissue cut out of a slope barely does
        mean = np.bincount(lab, weights=smooth.reshape(-1)[where], minlength=n + 1) / np.maximum(area, 1)
        keep = outlined & (area >= min_area_px) & (mean >= _LEVEL_MIN_RISE * level)
        if keep.any():
            accepted.reshape(-1)[where[keep[lab]]] = True
    return accepted


def _fill_bone_holes(dense: np.ndarray, excess: np.ndarray, min_excess: float, soft_level: float = 0.0) -> np.ndarray:
    """Fill medullae and plates: holes, also those closed by the image edge.

    A hole enclosed by bone (or by bone and the image edge, as for a pelvis
    or scapula running off the film) is filled when it is itself denser than
    soft tissue; soft tissue enclosed by bones (a foramen, the space between
    two long bones) stays out.  An enclosed hole (a medulla) must have a
    median excess ``min_excess`` above ``soft_level``, the median excess of
    the soft tissue outside the bones (a foramen holds soft tissue, at that
    level); an edge-closed one (a plate) ``_EDGE_CLOSED_FACTOR`` times
    ``min_excess`` above zero.
    """
    # with the image edge counted as bone every part of the background is a
    # hole: its components (4-connected, as fill_holes) are labelled once
    labels, n, enclosed = _holes(dense)
    if n == 0:
        return dense
    med = np.zeros(n + 1)
    med[1:] = label_median(excess, labels, n)
    # a truly enclosed hole (medulla: it does not reach the image edge) need
    # only be denser than soft tissue; an edge-closed one must be denser still
    accept = np.where(enclosed, med > soft_level + min_excess, med > _EDGE_CLOSED_FACTOR * min_excess)
    accept[0] = False
    return dense | accept[labels]


def find_bone(
    image: np.ndarray,
    body: np.ndarray,
    noise: float,
    spacing_mm: float,
    cfg: Config,
    outside: np.ndarray | None = None,
    return_threshold: bool = False,
    body_depth_px: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, float]:
    """Bone mask (medulla filled, halo included) and dense excess over soft tissue.

    Dense structures are the excess over :func:`soft_tissue_floor`; a dense
    component is bone when it is wide enough and looks like bone: a cortex
    (rim denser than core), a smooth convex outline, a long shaft, or it runs
    off the image or the collimated field (pelvis, scapula, long-bone
    shafts).  Calcified masses are solid and lobulated, so they fail those
    tests.

    Parameters
    ----------
    image : ndarray of float32
        Working-resolution image.
    body : ndarray of bool
        Tissue to search.
    noise : float
        Noise sigma of ``image``.
    spacing_mm : float
    cfg : Config
    outside : ndarray of bool, optional
        Collimation (outside the exposed field); a component touching it
        runs off the field like one touching the image border.
    return_threshold : bool
        Also return the excess threshold that made tissue "dense" (``inf``
        when nothing stands out as bone).
    body_depth_px : ndarray of float32, optional
        The distance (px) of each ``body`` pixel to the nearest non-body
        pixel, the image border not counting (``_distance_to(body)``), when
        the caller has it already; computed here otherwise.

    Returns
    -------
    bone : ndarray of bool
    excess : ndarray of float32
        Image minus the soft-tissue floor.
    threshold : float
        Only with ``return_threshold``.
    """
    floor = soft_tissue_floor(image, body, spacing_mm, cfg.max_bone_width_mm, body_depth_px)
    bone, excess, threshold = _bone_over_floor(image, body, floor, noise, spacing_mm, cfg, outside)
    return (bone, excess, threshold) if return_threshold else (bone, excess)


def _bone_over_floor(
    image: np.ndarray,
    body: np.ndarray,
    floor: np.ndarray,
    noise: float,
    spacing_mm: float,
    cfg: Config,
    outside: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Bone mask, excess and dense threshold for one soft-tissue floor (see :func:`find_bone`)."""
    excess = np.where(body, image - floor, 0).astype(np.float32)
    values = excess[body]
    if values.size == 0:
        return np.zeros(image.shape, bool), excess, np.inf
    contrast, presence = percentile(values, [_BONE_CONTRAST_PERCENTILE, _BONE_PRESENCE_PERCENTILE])
    contrast = float(contrast)
    if presence < _MIN_BONE_CONTRAST_SIGMA * noise:
        return np.zeros(image.shape, bool), excess, np.inf
    smooth = gaussian(excess, _BONE_SMOOTH_MM / spacing_mm)
    step = max(1, values.size // 200_000)
    sample = smooth[body][::step]
    threshold = float(threshold_otsu(np.clip(sample, 0, contrast)))
    # a small population far denser than everything else (a metal plate or
    # prosthesis filling the top percentiles) must not set the split between
    # bone and soft tissue: split below it instead
    below_top = float(threshold_otsu(np.clip(sample, 0, percentile(values, _BONE_LOWER_CLIP_PERCENTILE))))
    if threshold > _METAL_DOMINANCE_RATIO * below_top:
        threshold = below_top
    # bone stands clear of the soft tissue's texture and noise (where bone is
    # faint and sparse, Otsu's split can fall into that texture)
    threshold = max(threshold, _BONE_MIN_THRESHOLD_SIGMA * noise)
    dense = body & (smooth > threshold)
    # fainter bones (plates, ribs, thin shafts) come out at lower levels, as
    # long as their outline still runs along sharp edges
    grad_per_mm = _gradient_per_mm(smooth, spacing_mm)
    inner = _away_from_skin(body, spacing_mm)
    dense |= _edge_supported_levels(smooth, body, grad_per_mm, inner, threshold, spacing_mm)
    if not dense.any():
        return np.zeros(image.shape, bool), excess, threshold
    # close small gaps in a cortex ring, then fill medullae and plates
    dense = cv2.morphologyEx(dense.astype(np.uint8), cv2.MORPH_CLOSE, _disk(_BONE_CLOSING_MM / spacing_mm)).astype(bool)
    # the soft tissue's own level over the floor (not zero where the wide
    # opening sits below a thick thigh's tissue): a foramen holds that much
    soft_level = max(float(median(smooth[body & ~dense][::step])), 0.0)
    dense = _fill_bone_holes(dense, smooth, _PLATE_FRACTION * contrast, soft_level)
    labels, n = label_components(dense)  # the numbering is not used
    if n == 0:
        return np.zeros(image.shape, bool), excess, threshold
    tests = (excess, smooth, grad_per_mm, inner, threshold, spacing_mm, cfg, outside)
    is_bone, short_tubes = _bone_components(labels, n, *tests, return_short_tubes=True)
    bone = is_bone[labels]
    # bones touching at joints (a finger's chain of phalanges) join into one
    # component that fails the tests as a whole: split it at its necks and
    # test the pieces
    rejected_big = ~is_bone & _big_components(labels, n, spacing_mm)
    for split in (_split_at_necks, _split_at_summits):
        pieces, m = split(labels, rejected_big, spacing_mm)
        if m:
            bone |= _bone_pieces(pieces, m, tests)
    if short_tubes.any():
        bone |= _continues_a_bone(labels, n, short_tubes & ~_covered(labels, n, bone), bone, spacing_mm)[labels]
    bone |= _faint_bands(smooth, grad_per_mm, body & ~bone, _FAINT_BONE_FRACTION * threshold, spacing_mm, cfg, outside)
    if bone.any():
        # fainter parts of a bone (trabecular ends, epiphyses) joined to it
        near = dilate(bone, _BONE_GROW_MM / spacing_mm) & body & (smooth > _BONE_GROW_FRACTION * threshold)
        grown, m = label_components(bone | near)  # the numbering is not used
        attached = np.zeros(m + 1, bool)
        attached[grown[bone]] = True
        attached[0] = False
        bone = attached[grown]
        bone |= _outer_cortex_band(image, bone, inner, threshold, spacing_mm, cfg.image_border_margin_mm)
        bone = _fill_medullae(bone, smooth, soft_level + _PLATE_FRACTION * contrast, spacing_mm)
    return bone, excess, threshold


def _fill_medullae(bone: np.ndarray, excess: np.ndarray, min_excess: float, spacing_mm: float) -> np.ndarray:
    """Fill the holes left inside the final bone mask that are medulla.

    Small holes are bone (trabecular regions whose excess the wide floor
    flattened, or left between the mask and its outer cortex); a foramen is
    larger, and holds soft tissue: a larger hole whose median ``excess`` is
    above ``min_excess`` (denser than soft tissue, as :func:`_fill_bone_holes`
    asks) is medulla too (a humeral head closed only by the later passes).
    """
    labels, n, enclosed = _holes(bone)
    if not enclosed.any():
        return bone
    fill = np.bincount(labels.ravel(), minlength=n + 1) * spacing_mm**2 < _MAX_FILLED_HOLE_MM2
    large = enclosed & ~fill
    if large.any():
        # medians of the large holes only (the background outside is large too)
        inside = large[labels]
        sub = np.zeros(n + 1, np.int32)
        sub[large] = np.arange(1, int(large.sum()) + 1)
        fill[large] = np.asarray(label_median(excess[inside], sub[labels[inside]], int(large.sum()))) > min_excess
    fill &= enclosed
    return bone | fill[labels]


def _outer_cortex_band(
    image: np.ndarray, bone: np.ndarray, inner: np.ndarray, threshold: float, spacing_mm: float, border_mm: float
) -> np.ndarray:
    """The band between the bone mask and its outer cortex, when the mask stops short of it.

    Steps are read on ``image`` (not the excess: the floor is what rose
    there), smoothed like the excess, along the direction away from the bone
    (the gradient of the distance to it), only inside ``inner`` (away from
    the skin, whose slope is no cortex) and further than ``border_mm`` from
    the image border (where the filters are unreliable and a film's edge
    can fall off).  See ``_OUTER_CORTEX_MIN_MM``.
    """
    reach = _OUTER_CORTEX_MAX_MM / spacing_mm
    d_bone = cv2.distanceTransform((~bone).astype(np.uint8), cv2.DIST_L2, _INTERNAL_DISTANCE_MASK)
    ring = (d_bone > 0) & (d_bone <= reach) & inner
    border = int(np.ceil(border_mm / spacing_mm))
    if border:
        ring[:border] = ring[-border:] = False
        ring[:, :border] = ring[:, -border:] = False
    if not ring.any():
        return np.zeros(bone.shape, bool)
    smooth = gaussian(image, _BONE_SMOOTH_MM / spacing_mm)
    # the arithmetic on the ring's pixels only (flat indices)
    where = np.flatnonzero(ring)
    uy = cv2.Sobel(d_bone, cv2.CV_32F, 0, 1, ksize=3).reshape(-1)[where]
    ux = cv2.Sobel(d_bone, cv2.CV_32F, 1, 0, ksize=3).reshape(-1)[where]
    gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3).reshape(-1)[where]
    gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3).reshape(-1)[where]
    norm = np.maximum(np.sqrt(ux * ux + uy * uy), 1e-6)
    along = (gx * ux + gy * uy) / (8.0 * norm * spacing_mm)  # change per mm going away from the bone
    depth = d_bone.reshape(-1)[where]
    edge = threshold / _LEVEL_EDGE_WIDTH_MM
    is_fall = (along <= -edge) & (depth >= _OUTER_CORTEX_MIN_MM / spacing_mm)
    if not is_fall.any():
        return np.zeros(bone.shape, bool)
    falls = np.zeros(bone.size, bool)
    falls[where[is_fall]] = True
    falls = falls.reshape(bone.shape)
    # distance to the nearest fall and that fall's distance to the bone
    # (falls are numbered in raster order, as ``where`` is)
    d_fall, pixel = cv2.distanceTransformWithLabels(
        (~falls).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_5, labelType=cv2.DIST_LABEL_PIXEL
    )
    depth_of_fall = depth[is_fall][pixel.reshape(-1)[where] - 1]
    is_between = depth + d_fall.reshape(-1)[where] <= depth_of_fall + _OUTER_CORTEX_SLACK_MM / spacing_mm
    between = np.zeros(bone.size, bool)
    between[where[is_between | is_fall]] = True
    labels, n = label_components(between.reshape(bone.shape))
    if n == 0:
        return np.zeros(bone.shape, bool)
    rises = np.zeros(bone.size, bool)
    rises[where[along >= _OUTER_CORTEX_RISE_FRACTION * edge]] = True
    rises = rises.reshape(bone.shape)
    has_rise = np.bincount(labels[rises], minlength=n + 1) > 0
    next_to_bone = cv2.dilate(bone.view(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    touches_bone = np.bincount(labels[next_to_bone], minlength=n + 1) > 0
    keep = touches_bone & ~has_rise
    keep[0] = False
    return keep[labels]


def _bone_components(
    labels: np.ndarray,
    n: int,
    excess: np.ndarray,
    smooth: np.ndarray,
    grad_per_mm: np.ndarray,
    inner: np.ndarray,
    threshold: float,
    spacing_mm: float,
    cfg: Config,
    outside: np.ndarray | None,
    return_short_tubes: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Which dense components (index 0..n, 0 = background: False) are bone.

    With ``return_short_tubes``, also the components that are not bone by
    these tests but are short tubes (oblong, solidity ``_CHAIN_MIN_SOLIDITY``,
    stepped, at least ``_CHAIN_MIN_AREA_MM2``): bone if they continue a chain
    (:func:`_continues_a_bone`).

    A bone is wide and large, looks bony (a cortex, a convex outline, a long
    shaft, or it runs off the film) and meets soft tissue at a steep step; a
    small round bone (sesamoid) has a cortex and a convex outline.
    """
    st = _component_stats(labels, n, excess, spacing_mm, cfg.min_bone_width_mm, outside)
    wide = st["width_mm"] >= cfg.min_bone_width_mm
    big = wide & (st["area_mm2"] >= cfg.min_bone_area_mm2)
    # a small round bone (sesamoid) has a cortex; a round deposit is solid
    small_round = wide & (st["solidity"] >= _BONE_MIN_SOLIDITY) & (st["cortex_ratio"] >= _CORTEX_MIN_RATIO)
    looks_bony = (
        (st["cortex_ratio"] >= _CORTEX_MIN_RATIO)
        # a convex outline, unless the rim is far fainter than the core and
        # no band near the edge is denser than the core: a calcified mass is
        # densest at its centre, a bone has a cortex
        | ((st["solidity"] >= _BONE_MIN_SOLIDITY) & ((st["cortex_ratio"] >= _BONE_MIN_RIM_RATIO) | (st["cortex_peak_ratio"] >= _CORTEX_PEAK_MIN_RATIO)))
        | st["touches_border"]
        | (st["elongation"] >= _BONE_MIN_ELONGATION)
        # a short tubular bone (a child's phalanx): oblong and nearly convex;
        # a lobulated deposit is neither
        | ((st["elongation"] >= _SHORT_BONE_MIN_ELONGATION) & (st["solidity"] >= _SHORT_BONE_MIN_SOLIDITY))
    )
    # bone meets soft tissue at a cortex, a step; a thick stretch of soft
    # tissue above the floor fades out
    stepped = _steep_outline_fraction(labels, n, smooth, grad_per_mm, inner, threshold) >= _BONE_MIN_STEEP_OUTLINE
    # ... unless it has a clear cortex (a pelvic ring whose outline runs
    # into soft tissue as dense as its edge): soft tissue has none
    stepped |= st["cortex_ratio"] >= _STRONG_CORTEX_RATIO
    is_bone = np.concatenate([[False], (big & looks_bony & stepped) | small_round])
    if not return_short_tubes:
        return is_bone
    short_tube = (
        wide
        & (st["area_mm2"] >= _CHAIN_MIN_AREA_MM2)
        & (st["elongation"] >= _SHORT_BONE_MIN_ELONGATION)
        & (st["solidity"] >= _CHAIN_MIN_SOLIDITY)
        & stepped
    )
    return is_bone, np.concatenate([[False], short_tube]) & ~is_bone


def _covered(labels: np.ndarray, n: int, mask: np.ndarray) -> np.ndarray:
    """Components (index 0..n) of which ``mask`` covers at least half."""
    return np.concatenate([[False], label_mean(mask, labels, n) >= 0.5])


def _local_axis(labels: np.ndarray, label: int, r: int, c: int, radius_px: int) -> tuple[float, float]:
    """Orientation (skimage convention, radians) and elongation of ``label`` within a box around (r, c)."""
    r0, c0 = max(r - radius_px, 0), max(c - radius_px, 0)
    own = (labels[r0 : r + radius_px + 1, c0 : c + radius_px + 1] == label).astype(np.int32)
    if np.count_nonzero(own) < 3:
        return 0.0, 1.0
    m = label_moments(own, 1)
    # a one-pixel-wide line still has a minor axis (of a pixel's spread)
    return float(m["orientation"][0]), float(m["axis_major_length"][0] / max(m["axis_minor_length"][0], 2.0))


def _continues_a_bone(
    labels: np.ndarray, n: int, candidates: np.ndarray, bone: np.ndarray, spacing_mm: float
) -> np.ndarray:
    """Candidate components (index 0..n) that continue a tubular bone along its axis.

    The bones of a finger form a chain: each lies beyond the end of the
    next, along the same axis, across a joint gap.  A child's distal phalanx
    is small, solid and has little cortex to show, so it fails the bone
    tests on its own; in line with the middle phalanx it is bone.  A
    calcified deposit beside a joint or in the pulp of a finger lies off that
    line, or is not a tube (see :func:`_bone_components`).  Points are
    sampled along each candidate's long axis from its ends out to
    ``_CHAIN_GAP_MM``; a candidate is kept when such a point falls on bone
    that, within the candidate's length of that point, is a tube
    (elongation ``_CHAIN_LOCAL_MIN_ELONGATION``) whose axis is within
    ``_CHAIN_MAX_ANGLE_DEG`` of the candidate's own.  (The bone there is read
    locally: the mask often joins a finger's bones to their neighbours.)
    """
    keep = np.zeros(n + 1, bool)
    ids = np.flatnonzero(candidates)
    if ids.size == 0 or not bone.any():
        return keep
    cm = label_moments(labels, n)
    theta = cm["orientation"][ids - 1]
    half = 0.5 * cm["axis_major_length"][ids - 1]
    # (candidate, end, step) sample points beyond each end, in pixels
    steps = np.arange(0.0, _CHAIN_GAP_MM / spacing_mm + 1.0, 0.5)
    reach = (half[:, None, None] + steps[None, None, :]) * np.array([-1.0, 1.0])[None, :, None]
    rows = np.rint(cm["centroid_r"][ids - 1][:, None, None] + reach * np.cos(theta)[:, None, None]).astype(np.intp)
    cols = np.rint(cm["centroid_c"][ids - 1][:, None, None] + reach * np.sin(theta)[:, None, None]).astype(np.intp)
    inside = (rows >= 0) & (rows < bone.shape[0]) & (cols >= 0) & (cols < bone.shape[1])
    bone_labels, _ = label_components(bone)  # the numbering is not used
    hit = np.where(inside, bone_labels[np.clip(rows, 0, bone.shape[0] - 1), np.clip(cols, 0, bone.shape[1] - 1)], 0)
    # one loop over the few candidates: at the first bone point met beyond
    # each end, that bone (its own label only) read locally
    for k in np.flatnonzero((hit > 0).any(axis=(1, 2))):
        for end in range(2):
            met = np.flatnonzero(hit[k, end])
            if met.size == 0:
                continue
            r, c = int(rows[k, end, met[0]]), int(cols[k, end, met[0]])
            axis, elongation = _local_axis(bone_labels, int(hit[k, end, met[0]]), r, c, max(int(round(2 * half[k])), 3))
            turn = abs(float(np.angle(np.exp(2j * (axis - theta[k]))))) / 2.0
            keep[ids[k]] |= elongation >= _CHAIN_LOCAL_MIN_ELONGATION and np.degrees(turn) <= _CHAIN_MAX_ANGLE_DEG
    return keep


def bone_continuations(mask: np.ndarray, bone: np.ndarray, spacing_mm: float, min_width_mm: float) -> np.ndarray:
    """Components of ``mask`` that are the next bone of a chain, beyond a bone's end.

    The last phalanx of a child's finger (thumb, little finger) can be too
    faint and irregular at the bone stage to pass any bone test, and so
    shows up among the soft-tissue candidates as a large dense "focus"
    beyond the end of the next phalanx.  A candidate is such a bone when it
    is as large as the chain rule asks (``_CHAIN_MIN_AREA_MM2``), oblong
    (elongation ``_SHORT_BONE_MIN_ELONGATION``), at least ``min_width_mm``
    across (its minor axis: a tendon-sheath streak is thinner and is left to
    the classifier), and, like a bone component, continues a tubular bone
    along that bone's own axis (:func:`_continues_a_bone`).  A deposit in a
    fingertip's pulp or beside a joint lies off that axis or is round.

    Parameters
    ----------
    mask : ndarray of bool
        Candidate foci (8-connected components).
    bone : ndarray of bool
        Bone mask.
    spacing_mm : float
        Pixel spacing of both.
    min_width_mm : float
        Narrower candidates are never taken for bone.

    Returns
    -------
    ndarray of bool
        The pixels of ``mask`` that belong to such candidates.
    """
    if not (bone.any() and mask.any()):
        return np.zeros(mask.shape, bool)
    labels, n = label_components(mask, 8)
    moments = label_moments(labels, n)
    minor = moments["axis_minor_length"]
    oblong = (
        (moments["area"] * spacing_mm**2 >= _CHAIN_MIN_AREA_MM2)
        & (moments["axis_major_length"] >= _SHORT_BONE_MIN_ELONGATION * np.maximum(minor, 1.0))
        & (minor * spacing_mm >= min_width_mm)
    )
    candidates = np.concatenate([[False], oblong])
    if not candidates.any():
        return np.zeros(mask.shape, bool)
    return _continues_a_bone(labels, n, candidates, bone, spacing_mm)[labels]


def _bone_pieces(pieces: np.ndarray, m: int, tests: tuple) -> np.ndarray:
    """``_bone_components(pieces, m, *tests)[pieces]``, computed on the pieces' bounding box.

    ``tests`` are :func:`_bone_components`' arguments after ``n`` (the maps
    are cropped with the labels).  The box keeps one pixel of background on
    each side that is not the image border, so every piece's distances,
    outline, contact with the border or the collimation, sums and hull are
    those of the whole image (nearest background pixels lie in the box).
    """
    h, w = pieces.shape
    rows, cols = np.flatnonzero(pieces.any(axis=1)), np.flatnonzero(pieces.any(axis=0))
    box = (slice(max(rows[0] - 1, 0), min(rows[-1] + 2, h)), slice(max(cols[0] - 1, 0), min(cols[-1] + 2, w)))
    crop = np.ascontiguousarray(pieces[box])
    cropped = tuple(t[box] if isinstance(t, np.ndarray) else t for t in tests)
    out = np.zeros(pieces.shape, bool)
    out[box] = _bone_components(crop, m, *cropped)[crop]
    return out


def _big_components(labels: np.ndarray, n: int, spacing_mm: float) -> np.ndarray:
    """Components (index 0..n) large enough to hold several bones."""
    area_mm2 = np.bincount(labels.ravel(), minlength=n + 1) * spacing_mm**2
    big = area_mm2 >= _SPLIT_MIN_AREA_MM2
    big[0] = False
    return big


def _split_at_necks(labels: np.ndarray, which: np.ndarray, spacing_mm: float) -> tuple[np.ndarray, int]:
    """Split the chosen components where they narrow to a neck (a joint).

    An opening by a disk of radius ``_SPLIT_NECK_MM`` cuts necks narrower
    than its diameter and leaves one core per bone; see :func:`_split_at_cores`.
    """

    def cores(crop: np.ndarray, depth: np.ndarray) -> tuple[np.ndarray, int]:
        opened = cv2.morphologyEx(crop, cv2.MORPH_OPEN, _disk(_SPLIT_NECK_MM / spacing_mm))
        return label_components(opened.astype(bool))

    return _split_at_cores(labels, which, cores)


def _split_at_summits(labels: np.ndarray, which: np.ndarray, spacing_mm: float) -> tuple[np.ndarray, int]:
    """Split the chosen components around their summits of depth.

    Bones touching over a wide contact (carpals, metacarpal bases) leave no
    neck, but each has its own summit of depth (distance to the component's
    edge) standing at least ``_SPLIT_SUMMIT_MM`` above the contact; see
    :func:`_split_at_cores`.
    """

    def cores(crop: np.ndarray, depth: np.ndarray) -> tuple[np.ndarray, int]:
        return label_components(h_maxima(depth, _SPLIT_SUMMIT_MM / spacing_mm).astype(bool))

    return _split_at_cores(labels, which, cores)


def _split_at_cores(labels: np.ndarray, which: np.ndarray, find_cores) -> tuple[np.ndarray, int]:
    """Tile the chosen components into pieces, one per core.

    ``find_cores(crop, depth)`` labels the cores on the components' bounding
    box (``crop``, uint8, padded by one pixel; ``depth`` its distance to the
    edge); every pixel then goes to the core it reaches first (a watershed
    on the depth).  Returns the piece labels (0 elsewhere) and their number,
    or no pieces when there are fewer than two cores.
    """
    if not which.any():
        return np.zeros(labels.shape, np.int32), 0
    region = which[labels]
    rows, cols = np.flatnonzero(region.any(axis=1)), np.flatnonzero(region.any(axis=0))
    box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    crop = np.pad(region[box], 1).astype(np.uint8)  # the padding keeps the distance honest at the box edge
    depth = cv2.distanceTransform(crop, cv2.DIST_L2, 3)
    cores, m = find_cores(crop, depth)
    if m < 2:
        return np.zeros(labels.shape, np.int32), 0
    pieces = np.zeros(labels.shape, np.int32)
    pieces[box] = watershed(-depth, cores, mask=crop.astype(bool))[1:-1, 1:-1]
    return pieces, m


def _faint_bands(
    smooth: np.ndarray,
    grad_per_mm: np.ndarray,
    region: np.ndarray,
    threshold: float,
    spacing_mm: float,
    cfg: Config,
    outside: np.ndarray | None,
) -> np.ndarray:
    """Faint bones (ribs, thin plates): long wide bands above a lower threshold.

    A band at least ``min_bone_width_mm`` wide and ``_FAINT_BONE_MIN_LENGTH_MM``
    long, clearly elongated (or running off the image), is bone even if it is
    fainter than the image's bone threshold.  Plaques are thinner and
    lobular masses are not elongated, so neither passes.  Small holes in a
    band (a rib's medulla dipping below the low level in noise) are part of
    it: their ragged outlines are no outline of the bone.
    """
    labels, n = label_raster_order(_fill_small_holes(region & (smooth > threshold), spacing_mm) & region)
    if n == 0:
        return np.zeros(region.shape, bool)
    moments = label_moments(labels, n)
    inside = cv2.distanceTransform((labels > 0).astype(np.uint8), cv2.DIST_L2, 3)
    keep = np.zeros(n + 1, bool)
    lab = np.arange(1, n + 1)
    width = 2.0 * np.asarray(label_max(inside, labels, n), float) * spacing_mm
    length = moments["axis_major_length"] * spacing_mm
    elongation = length / np.maximum(moments["axis_minor_length"] * spacing_mm, spacing_mm)
    touches = np.isin(lab, _edge_labels(labels, outside))
    shaped = (
        (width >= cfg.min_bone_width_mm)
        & (length >= _FAINT_BONE_MIN_LENGTH_MM)
        & ((elongation >= _FAINT_BONE_MIN_ELONGATION) | touches)
    )
    if not shaped.any():  # the tests below (a distance transform) cannot keep anything
        return np.zeros(region.shape, bool)
    region_depth_px = _distance_to(region, _INTERNAL_DISTANCE_MASK)
    depth = label_mean(region_depth_px, labels, n) * spacing_mm
    inner = region_depth_px > _LEVEL_SKIN_CLEARANCE_MM / spacing_mm
    stepped = _steep_outline_fraction(labels, n, smooth, grad_per_mm, inner, threshold) >= _BONE_MIN_STEEP_OUTLINE
    candidate = stepped & shaped & (depth >= _FAINT_BONE_MIN_DEPTH_MM)
    if not candidate.any():
        return np.zeros(region.shape, bool)
    # a band stands out of its surroundings (a rib above the chest wall); a
    # thick stretch of soft tissue does not
    inside_mean = label_mean(smooth, labels, n)
    ring_mean = _ring_means(smooth, labels, region, candidate, _FAINT_RING_MM / spacing_mm)
    keep[lab] = candidate & (ring_mean <= _FAINT_RING_RATIO * inside_mean)
    return keep[labels]


def _holes(mask: np.ndarray) -> tuple[np.ndarray, int, np.ndarray]:
    """The holes of ``mask``, labelled once: ``(labels, n, enclosed)``.

    ``labels`` numbers the 4-connected components of the background (as
    :func:`~calcidetect.filters.fill_holes`, 0 on ``mask``); ``enclosed``
    (index 0..n) marks those that do not reach the image border: the holes.
    """
    labels, n = label_components(~mask)
    labels[mask] = 0
    enclosed = np.ones(n + 1, bool)
    enclosed[_border_labels(labels)] = False
    enclosed[0] = False
    return labels, n, enclosed


def _fill_small_holes(mask: np.ndarray, spacing_mm: float) -> np.ndarray:
    """``mask`` with its holes smaller than ``_MAX_FILLED_HOLE_MM2`` filled."""
    labels, n, fill = _holes(mask)
    fill &= np.bincount(labels.ravel(), minlength=n + 1) * spacing_mm**2 < _MAX_FILLED_HOLE_MM2
    return mask | fill[labels]


def _ring_means(
    values: np.ndarray, labels: np.ndarray, region: np.ndarray, which: np.ndarray, radius_px: float
) -> np.ndarray:
    """Mean of ``values`` over each chosen label's ring (inf where it has none).

    The ring of label k is where a grey dilation of the label image by a
    disk of ``radius_px`` (:func:`~calcidetect.filters.disk`) gives k,
    outside every label and inside ``region``.  Each chosen label's dilation
    is done on its bounding box grown by twice the disk's reach, which gives
    the same ring as dilating the whole image.
    """
    reach = _disk(radius_px).shape[0] // 2  # integer radius of the disk
    out = np.full(len(which), np.inf)
    slices = ndi.find_objects(labels, len(which))
    h, w = labels.shape
    for i in np.flatnonzero(which):
        rs, cs = slices[i]
        box = (
            slice(max(rs.start - 2 * reach, 0), min(rs.stop + 2 * reach, h)),
            slice(max(cs.start - 2 * reach, 0), min(cs.stop + 2 * reach, w)),
        )
        crop = labels[box]
        # the grey dilation gives i + 1 where label i + 1 is within reach and
        # no larger label is: two binary dilations (uint8, several times
        # cheaper than one of the float label image), the same pixels
        ring = dilate(crop == i + 1, reach) & (crop == 0) & region[box]
        larger = crop > i + 1
        if larger.any():
            ring &= ~dilate(larger, reach)
        if ring.any():
            # sequential float64 sum in raster order, as scipy.ndimage.mean
            total = np.bincount(np.zeros(int(ring.sum()), np.intp), weights=values[box][ring])[0]
            out[i] = total / ring.sum()
    return out


def find_joints(bone: np.ndarray, spacing_mm: float, cfg: Config) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Joint gaps: narrow spaces between bone ends, up to ``joint_gap_max_mm``.

    Two cues, united: the boundary between two separate bones' zones of
    influence (a Voronoi split of the non-bone pixels by nearest bone) where
    they come within the gap; and the narrow clefts that a closing by half the
    gap fills (two bone ends that touch somewhere, as the bone mask often
    joins them, still leave a cleft between them).  A third cue stands in
    for a partner bone the mask missed: the outline of each long bone's ends
    (:func:`_bone_ends`).

    Returns
    -------
    joint_distance_px, joints_rc, bone_labels, bone_orientation
    """
    gap, joints_rc, bone_labels, orient = joint_gaps(bone, spacing_mm, cfg)
    if not gap.any():
        return np.full(bone.shape, _FAR_PX, np.float32), joints_rc, bone_labels, orient
    joint_distance = cv2.distanceTransform((~gap).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return joint_distance.astype(np.float32), joints_rc, bone_labels, orient


def joint_gaps(bone: np.ndarray, spacing_mm: float, cfg: Config) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`find_joints` without the distance map: the gap pixels instead.

    Returns
    -------
    gap : ndarray of bool
    joints_rc, bone_labels, bone_orientation
        As :func:`find_joints`.
    """
    bone_labels, n = label_raster_order(bone)
    moments = label_moments(bone_labels, n) if n else None
    orient = np.zeros(n + 1)
    if moments is not None:
        orient[1:] = moments["orientation"]
    half_gap = 0.5 * cfg.joint_gap_max_mm / spacing_mm
    gap = np.zeros(bone.shape, bool)
    if n >= 2:
        distance, nearest = _nearest_label(bone_labels)
        boundary = np.zeros(bone.shape, bool)
        boundary[:-1] |= nearest[:-1] != nearest[1:]
        boundary[:, :-1] |= nearest[:, :-1] != nearest[:, 1:]
        rr, cc = np.nonzero(boundary & (bone_labels == 0))
        near = distance[rr, cc] <= half_gap
        gap[rr[near], cc[near]] = True
    if n >= 1:
        closed = erode(dilate(bone, half_gap), half_gap)
        cleft = closed & ~bone
        # a cleft is narrow: drop the fills of shallow concavities (thin slivers)
        gap |= _at_least_from_edge(cleft, _CLEFT_MIN_DEPTH_MM / spacing_mm) if cleft.any() else cleft
    if n >= 1:
        # a long bone's end is a joint surface even when the bone across the
        # joint is missing from the mask (an acetabulum on a faint pelvis)
        gap |= _bone_ends(bone_labels, n, moments, spacing_mm)
    if not gap.any():
        return gap, np.zeros((0, 2)), bone_labels.astype(np.int32), orient
    glabels, m = label_raster_order(dilate(gap, 1.0 / spacing_mm))
    return gap, _gap_centres(gap, glabels, m), bone_labels.astype(np.int32), orient


def joint_distance_at(anatomy: Anatomy, flat_index: np.ndarray) -> np.ndarray:
    """``anatomy.joint_distance_px`` at the given pixels (flat indices into the working grid).

    When the map was not computed (``joint_distance_px`` is None), the
    distances are those to the nearest ``joint_gap`` pixel, from a k-d tree
    of the gap pixels: the exact Euclidean distance in float32, which is
    the map's value (OpenCV's ``DIST_MASK_PRECISE``; that transform is one
    float32 step off at some distances of hundreds of pixels), and
    ``_FAR_PX`` everywhere when there is no gap.  Only the pixels asked
    about cost anything.

    Returns
    -------
    ndarray of float32, shape of ``flat_index``
    """
    if anatomy.joint_distance_px is not None:
        return anatomy.joint_distance_px.reshape(-1)[flat_index]
    gap = anatomy.joint_gap
    if gap is None or flat_index.size == 0 or not gap.any():
        return np.full(flat_index.shape, _FAR_PX, np.float32)
    w = gap.shape[1]
    tree = cKDTree(np.stack(np.divmod(np.flatnonzero(gap), w), axis=1))
    distance, _ = tree.query(np.stack(np.divmod(flat_index, w), axis=1))
    return distance.astype(np.float32)


def _gap_centres(gap: np.ndarray, labels: np.ndarray, n: int) -> np.ndarray:
    """Centre (row, col) of the ``gap`` pixels of each label 1..n, shape (n, 2).

    The numbers of ``scipy.ndimage.center_of_mass(gap, labels, 1..n)``: the
    same sums in the same (raster) order, over the gap pixels only (the
    others add zeros there).
    """
    where = np.flatnonzero(gap)
    lab = labels.reshape(-1)[where]
    rows, cols = np.divmod(where, gap.shape[1])
    count = np.bincount(lab, minlength=n + 1)[1:]
    centre_r = np.bincount(lab, weights=rows.astype(float), minlength=n + 1)[1:] / count
    centre_c = np.bincount(lab, weights=cols.astype(float), minlength=n + 1)[1:] / count
    return np.stack([centre_r, centre_c], axis=1).reshape(-1, 2)


def _bone_ends(bone_labels: np.ndarray, n: int, moments: dict[str, np.ndarray], spacing_mm: float) -> np.ndarray:
    """Outlines of the ends of long bones: the last ``_BONE_END_DEPTH_MM`` along each axis.

    Only bones at least ``_BONE_END_MIN_ELONGATION`` long for their width
    have ends; an end that touches the image border runs off the film and
    is no joint.  Everything is computed on the outlines (a position along
    an axis is extreme on the outline), so the cost follows the perimeter.
    ``moments`` is :func:`~calcidetect.labelstats.label_moments` of the bones.
    """
    long_bone = np.zeros(n + 1, bool)
    long_bone[1:] = moments["axis_major_length"] >= _BONE_END_MIN_ELONGATION * np.maximum(moments["axis_minor_length"], 1.0)
    region = (bone_labels > 0).astype(np.uint8)
    # the outline, including pixels on the image border
    outline = (region > 0) & ~cv2.erode(region, np.ones((3, 3), np.uint8), borderValue=0).astype(bool)
    rr, cc = np.nonzero(outline & long_bone[bone_labels])
    if rr.size == 0:
        return np.zeros(bone_labels.shape, bool)
    lab = bone_labels[rr, cc]
    centre_r = np.zeros(n + 1)
    centre_c = np.zeros(n + 1)
    centre_r[1:], centre_c[1:] = moments["centroid_r"], moments["centroid_c"]
    theta = np.zeros(n + 1)
    theta[1:] = moments["orientation"]
    # position along the major axis (skimage convention: (cos, sin) = (row, col))
    t = (rr - centre_r[lab]) * np.cos(theta[lab]) + (cc - centre_c[lab]) * np.sin(theta[lab])
    t_max = np.zeros(n + 1)
    t_min = np.zeros(n + 1)
    t_max[1:], t_min[1:] = label_max(t, lab, n), label_min(t, lab, n)
    depth = _BONE_END_DEPTH_MM / spacing_mm
    end = np.where(t >= t_max[lab] - depth, 1, np.where(t <= t_min[lab] + depth, 2, 0))
    h, w = bone_labels.shape
    on_border = (rr == 0) | (cc == 0) | (rr == h - 1) | (cc == w - 1)
    key = lab * 3 + end
    runs_off = np.zeros(3 * (n + 1), bool)
    runs_off[key[on_border]] = True
    cap = (end > 0) & ~runs_off[key]
    caps = np.zeros(bone_labels.shape, bool)
    caps[rr[cap], cc[cap]] = True
    return caps


def _nearest_label(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance (px) to the nearest labelled pixel and that pixel's label, for every pixel.

    OpenCV's distance transform with a 5x5 mask (within about 2 % of the
    Euclidean distance) labels each pixel with its nearest zero pixel, numbered
    in raster order; that numbering maps back to the label image.
    """
    distance, pixel = cv2.distanceTransformWithLabels(
        (labels == 0).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_5, labelType=cv2.DIST_LABEL_PIXEL
    )
    flat = labels.reshape(-1)
    owners = flat[np.flatnonzero(flat != 0)]  # (a bool nonzero is faster)
    return distance, owners[pixel - 1]


def _at_least_from_edge(inside: np.ndarray, radius_px: float) -> np.ndarray:
    """``_distance_to(inside) >= radius_px``, as an erosion (:func:`~calcidetect.filters.farther_than`).

    The transform's values are float32 and compared in float32: one at
    least ``radius_px`` is one above the next float32 below it.
    """
    threshold = np.float32(radius_px)
    return farther_than(inside, float(np.nextafter(threshold, np.float32(0.0))))


def _distance_to(inside: np.ndarray, mask_size: int = cv2.DIST_MASK_PRECISE) -> np.ndarray:
    """Distance (px) of each True pixel to the nearest False one; far if none.

    The image border is not a False pixel (the mask is padded with True).
    ``mask_size`` is OpenCV's: exact (the default) or a chamfer mask.
    """
    if inside.all():
        return np.full(inside.shape, _FAR_PX, np.float32)
    padded = np.pad(inside, 1, constant_values=True).astype(np.uint8)
    dist = cv2.distanceTransform(padded, cv2.DIST_L2, mask_size)[1:-1, 1:-1]
    return np.minimum(dist, np.float32(_FAR_PX))  # float32, contiguous


def skin_depth(body: np.ndarray, valid: np.ndarray, distance_px: np.ndarray | None = None) -> np.ndarray:
    """Distance (px) below the skin line; image edges and collimation are not skin.

    ``distance_px`` is ``_distance_to(body | ~valid)`` if the caller has it.
    """
    if distance_px is None:
        distance_px = _distance_to(body | ~valid)
    return np.where(body, distance_px, 0).astype(np.float32, copy=False)


def find_anatomy(
    image: np.ndarray,
    spacing_mm: float,
    cfg: Config,
    overlays: np.ndarray | None = None,
    filled: np.ndarray | None = None,
) -> Anatomy:
    """Run every anatomy step on a working-resolution image.

    Parameters
    ----------
    image : ndarray of float32
        Working-resolution image.
    spacing_mm : float
    cfg : Config
    overlays : ndarray of bool, optional
        Drawn overlays (text) already resampled to the working grid.
    filled : ndarray of bool, optional
        The overlays that :func:`fill_overlays` filled in ``image``: they
        take part in the bone search (the others, with a margin, do not);
        no overlay takes part in the search for foci.

    Returns
    -------
    Anatomy
        Its ``dense_excess`` is the density over the bone stage's soft-tissue floor.
    """
    smooth = body_smooth(image, spacing_mm)
    collimation = find_collimation(image, spacing_mm, smooth)
    valid = ~collimation
    field_edge_px = _distance_to(valid)
    if cfg.breast_body:  # mammograms
        from .microcalc import find_breast

        body = find_breast(image, valid, spacing_mm, cfg.breast_body_fraction)
    else:
        body = find_body(image, valid, spacing_mm, field_edge_px, smooth)
    del smooth
    saturated = np.zeros(image.shape, bool)
    unfilled = saturated
    if overlays is not None and overlays.any():
        saturated = dilate(overlays, _OVERLAY_MARGIN_MM / spacing_mm) & valid
        if filled is not None and filled.any():
            unfilled = dilate(overlays & ~filled, _OVERLAY_MARGIN_MM / spacing_mm) & valid
        else:
            unfilled = saturated
    tissue = body & ~saturated
    noise = noise_sigma(image, tissue if tissue.any() else valid, cfg.noise_scale_mm / spacing_mm)
    # the skin depth's distance transform; the bone stage's floor needs the
    # same transform of its own tissue mask, which is usually the same mask
    # (no collimation, no unfilled overlay on the body): then it is computed
    # once, here, and shared
    skin_mask = body | ~valid
    # filled overlays (a dust dot on a bone) take part in the bone search:
    # cut out, they would punch a hole in the bone; all overlays are kept
    # out of the search for foci below
    bone_body = body & ~unfilled
    skin_distance_px = _distance_to(skin_mask) if cfg.detect_bone and np.array_equal(bone_body, skin_mask) else None
    if cfg.detect_bone:
        bone, excess, bone_threshold = find_bone(
            image,
            bone_body,
            noise,
            spacing_mm,
            cfg,
            outside=~valid,
            return_threshold=True,
            body_depth_px=skin_distance_px,
        )
    else:  # mammograms: no bone, no joints, no cortex to call metal against
        bone, excess, bone_threshold = np.zeros(image.shape, bool), np.zeros(image.shape, np.float32), np.inf
    # bone's reference density is read off the bone proper: a lead marker
    # drawn flat over a bone must not raise it
    metal = find_metal(image, excess, body, bone & ~saturated, spacing_mm, cfg)
    bone &= ~metal
    metal |= saturated
    if cfg.detect_bone and cfg.detect_plates:
        # flat bones wider than the bone floor (scapula, iliac wing)
        bone |= find_plates(image, body, bone, metal, valid, bone_threshold, spacing_mm)
    # the distance to the joints is read off the gaps at the foci only (joint_distance_at)
    gap, joints, bone_labels, orient = joint_gaps(bone, spacing_mm, cfg)
    anatomy = Anatomy(
        valid=valid,
        body=body,
        metal=metal,
        bone=bone,
        bone_labels=bone_labels,
        bone_orientation=orient,
        joint_distance_px=None,
        joints_rc=joints,
        skin_depth_px=skin_depth(body, valid, skin_distance_px),
        field_edge_px=field_edge_px,
        noise=noise,
        dense_excess=excess,
        bone_threshold=float(bone_threshold),
        joint_gap=gap,
    )
    return anatomy
