"""Flat bones wider than the bone stage's floor: scapula, iliac wing.

The bone stage (:func:`calcidetect.anatomy.find_bone`) finds bone as excess
over a soft-tissue floor, an opening wider than any long bone
(``Config.max_bone_width_mm``).  A flat bone much wider than that opening
(the scapula's body, the iliac wing, 80-200 mm across) lifts the floor
with it: its excess is zero inside, and only its narrow rims come out as
bone.  Its trabecular texture is then searched for foci.

What marks such a plate is its outline: a uniform sheet of bone adds a
constant density inside a sharp step.  Soft tissue varies smoothly except at
the skin (a thick limb's flank is steep, but a ramp centimetres wide, not a
step).  So the steep steps away from the skin, and only those, are
integrated back into an image (a Poisson solve on a coarse grid): the
result is flat over soft tissue and raised by each step's height inside
every region a step encloses.  Its level sets whose outline runs along
those steps (and the image or field edge) are plates; a step from soft
tissue up into a region, not down into a gap between bones, bounds it.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy import fft
from scipy import ndimage as ndi

from .background import robust_sigma
from .filters import dilate, farther_than, gaussian, label_components
from .labelstats import label_max, label_median

__all__ = ["find_plates", "step_image"]

#: Smoothing before the gradient (noise tamed; a cortex step stays steep).
_PLATE_SMOOTH_MM = 0.5
#: A step is steep when its gradient (per mm) reaches this fraction of the
#: bone threshold, and this many noise sigmas of the gradient.
_PLATE_EDGE_FRACTION = 0.15
_PLATE_EDGE_NOISE_SIGMA = 4.0
#: A step, not a ramp: its gradient at ``_PLATE_SMOOTH_MM`` is at least this
#: many times its gradient at ``_PLATE_RAMP_SMOOTH_MM`` (4 for an ideal step,
#: 1 for a ramp wider than both, as a thick limb's flank towards the skin).
_PLATE_RAMP_SMOOTH_MM = 2.0
_PLATE_MIN_STEP_RATIO = 2.0
#: Grid of the integration and of the level sets (plates are centimetres wide).
_PLATE_GRID_MM = 1.0
#: Steps within this distance of the skin are the skin, not a bone's edge.
_PLATE_SKIN_CLEARANCE_MM = 3.0
#: Steps this near metal are the metal's.
_PLATE_METAL_MARGIN_MM = 2.0
#: Level sets tried: these percentiles of the integrated steps over the
#: body outside the bone mask.
_PLATE_LEVEL_PERCENTILES = np.linspace(30.0, 95.0, 10)
#: A level set is a plate when it is this large and this share of its
#: outline (outside the image and field edge) is a steep step.
_PLATE_MIN_AREA_MM2 = 1000.0
_PLATE_MIN_SUPPORT = 0.75
#: A nested level set that is mostly bone already (a long bone inside a
#: plate's level set) does not compete with the plate's own outline.
_PLATE_MAX_CHILD_BONE = 0.5
#: The new part of a plate (outside the bone mask) is cut at necks this wide
#: (half-width); each piece must be this large ...
_PLATE_NECK_MM = 3.0
_PLATE_MIN_PIECE_AREA_MM2 = 1000.0
#: ... have at least this share of its outline against soft tissue (a
#: pocket of soft tissue enclosed by bones has next to none) ...
_PLATE_MIN_SOFT_OUTLINE = 0.2
#: ... and this share of that outline a steep rise into the piece.
_PLATE_MIN_PIECE_SUPPORT = 0.65
#: ... and its level just inside its outline (this band, mm from it) must
#: stand above the soft tissue just outside by as much as the smallest steep
#: slope rises over ``_PLATE_MIN_RISE_MM``: a plate is raised all over, a
#: gap between a bone and a streak beside it (a tendon calcification) only
#: at the streak, beyond the band.
_PLATE_RISE_BAND_MM = (2.0, 5.0)
_PLATE_MIN_RISE_MM = 3.0


def _solve_poisson_neumann(gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
    """The image whose forward differences best match ``(gx, gy)`` (least squares).

    Neumann boundary (nothing flows over the image edge), by the DCT-II;
    the mean is set to zero.
    """
    h, w = gx.shape
    div = np.zeros((h, w), np.float64)
    div[:, 1:] += gx[:, 1:] - gx[:, :-1]
    div[:, 0] += gx[:, 0]
    div[1:, :] += gy[1:, :] - gy[:-1, :]
    div[0, :] += gy[0, :]
    spectrum = fft.dctn(div, type=2, norm="ortho")
    eigen = (2.0 * np.cos(np.pi * np.arange(h) / h) - 2.0)[:, None] + (2.0 * np.cos(np.pi * np.arange(w) / w) - 2.0)[None, :]
    eigen[0, 0] = 1.0
    spectrum /= eigen
    spectrum[0, 0] = 0.0
    return fft.idctn(spectrum, type=2, norm="ortho").astype(np.float32)


def _gradient_per_mm(image: np.ndarray, sigma_px: float, spacing_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """Sobel gradient (x, y; image units per mm) after a Gaussian of ``sigma_px``."""
    smooth = gaussian(image, sigma_px)
    scale = np.float32(1.0 / (8.0 * spacing_mm))
    return cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3) * scale, cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3) * scale


def step_image(
    image: np.ndarray, body: np.ndarray, metal: np.ndarray, spacing_mm: float, min_step_per_mm: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """Integrate the steep steps of ``image`` inside the body on a coarse grid.

    Parameters
    ----------
    image : ndarray of float32
        Working-resolution image.
    body, metal : ndarray of bool
    spacing_mm : float
    min_step_per_mm : float
        Smallest gradient (image units per mm) that counts as a step.

    Returns
    -------
    steps : ndarray of float32
        The integrated steps on the coarse grid (arbitrary offset).
    steep : ndarray of bool
        Coarse cells holding a steep pixel.
    gx, gy : ndarray of float32
        The steep gradient (per coarse cell) the steps were integrated from.
    factor : int
        Working pixels per coarse cell (along each axis).
    """
    gx, gy = _gradient_per_mm(image, _PLATE_SMOOTH_MM / spacing_mm, spacing_mm)
    inner = farther_than(body, _PLATE_SKIN_CLEARANCE_MM / spacing_mm) & ~dilate(metal, _PLATE_METAL_MARGIN_MM / spacing_mm)
    noise = robust_sigma(gx[inner][::13]) if inner.any() else 0.0
    magnitude = cv2.magnitude(gx, gy)
    steep = inner & (magnitude >= max(min_step_per_mm, _PLATE_EDGE_NOISE_SIGMA * noise))
    ramp = cv2.magnitude(*_gradient_per_mm(image, _PLATE_RAMP_SMOOTH_MM / spacing_mm, spacing_mm))
    steep &= magnitude >= _PLATE_MIN_STEP_RATIO * ramp
    gx[~steep] = 0.0
    gy[~steep] = 0.0
    factor = max(1, int(round(_PLATE_GRID_MM / spacing_mm)))
    h, w = image.shape[0] // factor, image.shape[1] // factor
    cell_mm = factor * spacing_mm
    crop = (slice(0, h * factor), slice(0, w * factor))
    # the mean gradient per mm over a cell, times the cell: the step across it
    cgx = cv2.resize(gx[crop], (w, h), interpolation=cv2.INTER_AREA) * np.float32(cell_mm)
    cgy = cv2.resize(gy[crop], (w, h), interpolation=cv2.INTER_AREA) * np.float32(cell_mm)
    cell_steep = cv2.resize(steep[crop].astype(np.float32), (w, h), interpolation=cv2.INTER_AREA) > 0
    return _solve_poisson_neumann(cgx, cgy), cell_steep, cgx, cgy, factor


def _outline(mask: np.ndarray) -> np.ndarray:
    """Pixels of ``mask`` with a neighbour outside it (the image edge not counting)."""
    return mask & (cv2.erode(mask.view(np.uint8), np.ones((3, 3), np.uint8), borderValue=1) == 0)


def _rises_inward(mask: np.ndarray, gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
    """Where the image gradient points into ``mask`` (denser inside than outside)."""
    soft = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), 1.0)
    nx = cv2.Sobel(soft, cv2.CV_32F, 1, 0, ksize=3)
    ny = cv2.Sobel(soft, cv2.CV_32F, 0, 1, ksize=3)
    return cv2.GaussianBlur(gx, (0, 0), 1.0) * nx + cv2.GaussianBlur(gy, (0, 0), 1.0) * ny > 0


def _outlined_levels(
    steps: np.ndarray, body: np.ndarray, bone: np.ndarray, support: np.ndarray, not_outline: np.ndarray, min_area_px: float
) -> np.ndarray:
    """Level sets of ``steps`` whose outline is mostly ``support``.

    From the highest level down, a component is kept when at least
    ``_PLATE_MIN_SUPPORT`` of its outline (``not_outline`` excluded) is
    ``support`` and no large component inside it, at a higher level, is
    better outlined: a region grown past the plate's own step into the
    soft tissue around it keeps the plate's support only in part.  Inner
    components that are mostly ``bone`` already do not count (a long bone
    is outlined better than any plate around it).
    """
    accepted = np.zeros(steps.shape, bool)
    values = steps[body & ~bone]
    if values.size == 0:
        return accepted
    best_inside = np.zeros(steps.shape, np.float32)
    for level in np.percentile(values, _PLATE_LEVEL_PERCENTILES)[::-1]:
        region = body & (steps > level)
        labels, n = label_components(region)
        if n == 0:
            continue
        outline = _outline(region) & ~not_outline
        n_outline = np.bincount(labels[outline], minlength=n + 1)
        n_support = np.bincount(labels[outline & support], minlength=n + 1)
        area = np.bincount(labels.ravel(), minlength=n + 1)
        share = np.where(n_outline > 0, n_support / np.maximum(n_outline, 1), 0.0)
        inside = np.zeros(n + 1)
        inside[1:] = label_max(best_inside, labels, n)
        keep = (share >= _PLATE_MIN_SUPPORT) & (share >= inside) & (area >= min_area_px)
        keep[0] = False
        accepted |= keep[labels]
        share[area < min_area_px] = 0.0
        bone_share = np.bincount(labels.ravel(), weights=bone.ravel(), minlength=n + 1) / np.maximum(area, 1)
        share[bone_share > _PLATE_MAX_CHILD_BONE] = 0.0
        share[0] = 0.0
        np.maximum(best_inside, share[labels].astype(np.float32), out=best_inside)
    return accepted


def _rise_at_outline(pieces: np.ndarray, n: int, level: np.ndarray, soft: np.ndarray, cell_mm: float) -> np.ndarray:
    """Per piece (index 0..n): median level just inside its outline minus just outside it (in soft tissue)."""
    inside = pieces > 0
    near, far = _PLATE_RISE_BAND_MM[0] / cell_mm, _PLATE_RISE_BAND_MM[1] / cell_mm
    depth = cv2.distanceTransform(inside.view(np.uint8), cv2.DIST_L2, 3)
    inner_band = inside & (depth >= near) & (depth <= far)
    distance, (rows, cols) = ndi.distance_transform_edt(~inside, return_indices=True)
    outer_band = soft & ~inside & (distance >= near) & (distance <= far)
    owner = np.where(outer_band, pieces[rows, cols], 0)
    inner_median = label_median(level, np.where(inner_band, pieces, 0), n)
    outer_median = label_median(level, owner, n)
    rise = np.zeros(n + 1)
    rise[1:] = np.nan_to_num(inner_median - outer_median, nan=0.0)
    return rise


def _plate_pieces(
    new: np.ndarray, bone: np.ndarray, steep: np.ndarray, inner: np.ndarray, not_outline: np.ndarray,
    gx: np.ndarray, gy: np.ndarray, cell_mm: float, level: np.ndarray, body: np.ndarray, min_step_per_mm: float,
) -> np.ndarray:
    """The parts of ``new`` (plate outside the bone mask) that are bone themselves.

    ``new`` is cut at necks; a piece is kept when it is large, has its own
    outline against soft tissue, and that outline is mostly a steep rise
    into it.  A pocket of soft tissue between bones (the subacromial
    space, the gap between radius and ulna) is raised a little by the
    integration and can join a plate's level set; it is bounded by bones,
    and where soft tissue bounds it the step falls into it, not out, and
    its level is that of the soft tissue around it (``level``: the image on
    the coarse grid; ``body``: the body there).
    """
    r = max(1, int(round(_PLATE_NECK_MM / cell_mm)))
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    cores, n = label_components(cv2.erode(new.astype(np.uint8), disk).astype(bool))
    if n == 0:
        return np.zeros(new.shape, bool)
    # each pixel of ``new`` near a core joins the nearest core; thin rims along the bone mask join none
    distance, (rows, cols) = ndi.distance_transform_edt(cores == 0, return_indices=True)
    pieces = np.where(new & (distance <= 2 * r + 1), cores[rows, cols], 0)
    # the outer outline only: bones inside a plate (ribs over a scapula) leave holes in it
    outline = (pieces > 0) & _outline(ndi.binary_fill_holes(pieces > 0)) & ~not_outline
    against_soft = outline & ~cv2.dilate(bone.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    rises = against_soft & steep & inner & _rises_inward(pieces > 0, gx, gy)
    n_outline = np.bincount(pieces[outline], minlength=n + 1)
    n_soft = np.bincount(pieces[against_soft], minlength=n + 1)
    n_rises = np.bincount(pieces[rises], minlength=n + 1)
    area = np.bincount(pieces.ravel(), minlength=n + 1)
    rise = _rise_at_outline(pieces, n, level, body & ~bone, cell_mm)
    keep = (
        (n_soft > 0)
        & (n_soft >= _PLATE_MIN_SOFT_OUTLINE * n_outline)
        & (n_rises >= _PLATE_MIN_PIECE_SUPPORT * n_soft)
        & (area * cell_mm**2 >= _PLATE_MIN_PIECE_AREA_MM2)
        & (rise >= _PLATE_MIN_RISE_MM * min_step_per_mm)
    )
    keep[0] = False
    return keep[pieces]


def find_plates(
    image: np.ndarray,
    body: np.ndarray,
    bone: np.ndarray,
    metal: np.ndarray,
    valid: np.ndarray,
    bone_threshold: float,
    spacing_mm: float,
) -> np.ndarray:
    """Flat bones outside ``bone`` that the bone stage's floor hides.

    Parameters
    ----------
    image : ndarray of float32
        Working-resolution image (higher = denser).
    body, bone, metal : ndarray of bool
        From :func:`calcidetect.anatomy.find_anatomy`.
    valid : ndarray of bool
        The exposed field (outside it: collimation).
    bone_threshold : float
        The bone stage's dense threshold (``inf``: no bone, no plates).
    spacing_mm : float

    Returns
    -------
    ndarray of bool
        Plate pixels not in ``bone`` (on the working grid).
    """
    out = np.zeros(image.shape, bool)
    if not np.isfinite(bone_threshold) or not body.any():
        return out
    min_step_per_mm = _PLATE_EDGE_FRACTION * bone_threshold
    steps, steep, gx, gy, factor = step_image(image, body, metal, spacing_mm, min_step_per_mm)
    h, w = steps.shape
    if h < 3 or w < 3:
        return out
    crop = (slice(0, h * factor), slice(0, w * factor))

    def coarse(mask: np.ndarray) -> np.ndarray:
        return cv2.resize(mask[crop].astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)

    cell_mm = factor * spacing_mm
    c_body, c_bone = coarse(body), coarse(bone)
    c_inner = coarse(farther_than(body | ~valid, _PLATE_SKIN_CLEARANCE_MM / spacing_mm))
    # the field edge, like the image edge, is no outline (a plate runs off the film)
    beyond_field = cv2.dilate(coarse(~valid).astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    near_steep = cv2.dilate(steep.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    support = near_steep & c_inner
    levels = _outlined_levels(steps, c_body, c_bone, support, beyond_field, _PLATE_MIN_AREA_MM2 / cell_mm**2)
    c_image = cv2.resize(image[crop], (w, h), interpolation=cv2.INTER_AREA)
    pieces = _plate_pieces(
        levels & ~c_bone, c_bone, near_steep, c_inner, beyond_field, gx, gy, cell_mm, c_image, c_body, min_step_per_mm
    )
    if not pieces.any():
        return out
    out[crop] = cv2.resize(pieces.astype(np.uint8), (w * factor, h * factor), interpolation=cv2.INTER_NEAREST).astype(bool)
    return out & body & ~bone & ~metal
