"""Fast whole-array filters shared by the pipeline stages (OpenCV-backed).

All sizes here are in pixels; callers convert from millimetres.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage as ndi

__all__ = [
    "gaussian",
    "normalized_gaussian",
    "normalized_gaussian_coarse",
    "disk",
    "dilate",
    "erode",
    "grey_dilate",
    "dilate_labels",
    "grey_morphology",
    "distance_inside",
    "farther_than",
    "within_chamfer_distance",
    "fill_holes",
    "label_components",
    "label_raster_order",
    "keep_labels",
    "hysteresis_threshold",
    "drop_small_components",
    "resize_to",
]

#: Below this weight a normalized convolution is not trusted and the next
#: coarser scale fills in.
_MIN_SUPPORT = 0.05
#: Each coarser fallback scale is this many times the previous one.
_FALLBACK_FACTOR = 3.0
#: Number of fallback scales tried after the requested one.
_FALLBACK_LEVELS = 3
#: Cells of a coarse grid within this many cells of a needed pixel's cell
#: are needed too: a linear enlargement reads the neighbouring cells.
_NEEDED_REACH = 2
#: Above this share of thinly supported pixels the fallback scales are
#: blended over whole arrays instead of on gathered pixels (measured faster).
_WHOLE_ARRAY_BLEND_SHARE = 0.25
#: OpenCV's straight step of the 3x3 chamfer approximation of the L2 distance.
_CHAMFER_STRAIGHT_STEP = 0.955
#: From this disk radius (px) on, a grey erosion or dilation runs as a cascade
#: of rectangles (measured faster than OpenCV's general kernel from here).
_CASCADE_FROM_RADIUS_PX = 8
#: Rows per band of a float image's cascade (its working set stays in cache).
_BAND_ROWS = 256
#: A mask is labelled on its bounding box when the box is at most this share
#: of the image (see :func:`_label_on_box`).
_LABEL_BOX_MAX_SHARE = 0.5


def _pyramid_factor(sigma_px: float, shape: tuple[int, ...]) -> int:
    """Power-of-two shrink factor at which a blur of ``sigma_px`` is done."""
    factor = 1
    while sigma_px / factor > 8 and min(shape) // (factor * 2) >= 16:
        factor *= 2
    return factor


def gaussian(image: np.ndarray, sigma_px: float) -> np.ndarray:
    """Gaussian blur (float32) with reflecting borders; large sigmas via a pyramid.

    For ``sigma_px`` above 8 the image is shrunk by a power of two first,
    blurred with the reduced sigma and enlarged back: the result is smooth at
    that scale anyway, and the cost stops growing with sigma.
    """
    img = np.asarray(image, dtype=np.float32)
    if sigma_px <= 0:
        return img.copy()
    factor = _pyramid_factor(sigma_px, img.shape)
    if factor == 1:
        return cv2.GaussianBlur(img, (0, 0), sigma_px, borderType=cv2.BORDER_REFLECT)
    h, w = img.shape
    small = cv2.resize(img, (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma_px / factor, borderType=cv2.BORDER_REFLECT)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def normalized_gaussian(
    image: np.ndarray, weight: np.ndarray, sigma_px: float, *, needed: np.ndarray | None = None
) -> np.ndarray:
    """Weighted Gaussian mean: ``G*(w x) / G*(w)``, filled where support is thin.

    Where the weight in reach of ``sigma_px`` is below a small fraction, the
    value comes from coarser scales, so holes as large as a bone or a mass are
    filled smoothly from their surroundings (normalized convolution, Knutsson
    and Westin 1993).

    Parameters
    ----------
    image : ndarray
        Values to average.
    weight : ndarray
        Non-negative weights (0 = ignore the pixel), same shape.
    sigma_px : float
        Gaussian sigma in pixels of the finest scale.
    needed : ndarray of bool, optional
        The pixels whose values are wanted: only they are filled from the
        coarser scales (the same values as without it); elsewhere the finest
        scale's ratio is left as it is.  The coarser scales are not computed
        at all when no needed pixel lacks support.

    Returns
    -------
    ndarray of float32
    """
    img = np.asarray(image, dtype=np.float32)
    w = np.asarray(weight, dtype=np.float32)
    weighted = img * w
    num = gaussian(weighted, sigma_px)
    den = gaussian(w, sigma_px)
    out = num / np.maximum(den, 1e-6)
    # the coarser scales fill in where the support is thin; support only
    # grows from scale to scale, so each scale's missing pixels are a subset
    # of the previous scale's.  While they are a large share of the image
    # the blending runs on whole arrays, kept only where a pixel is missing
    # (np.copyto with where); once they are few, on their gathered flat
    # indices.  Both do the same float32 operations on each missing pixel,
    # so the values are the same; gathers and scatters cost more than the
    # whole-array arithmetic once the missing pixels are a large share.
    flat_out = out.reshape(-1)
    missing = den < _MIN_SUPPORT  # bool image, or flat indices once few
    if needed is not None:
        missing &= needed
    support = den
    sigma = sigma_px
    for _ in range(_FALLBACK_LEVELS):
        if missing.dtype == bool and np.count_nonzero(missing) <= _WHOLE_ARRAY_BLEND_SHARE * missing.size:
            missing = np.flatnonzero(missing)
            support = support.reshape(-1)[missing]
        if missing.dtype != bool and missing.size == 0:
            break
        sigma *= _FALLBACK_FACTOR
        if missing.dtype == bool:
            # the expressions of the branch below, in place (no temporaries)
            den_c = gaussian(w, sigma)
            coarse = gaussian(weighted, sigma)
            np.divide(coarse, np.maximum(den_c, 1e-6), out=coarse)
            alpha = np.divide(support, _MIN_SUPPORT)
            np.clip(alpha, 0.0, 1.0, out=alpha)
            blend = np.multiply(alpha, out)
            np.subtract(1, alpha, out=alpha)
            np.multiply(alpha, coarse, out=coarse)
            np.copyto(out, np.add(blend, coarse, out=blend), where=missing)
            support = np.maximum(support, den_c, out=den_c)
            missing &= support < _MIN_SUPPORT
        else:
            den_c = gaussian(w, sigma).reshape(-1)[missing]
            coarse = gaussian(weighted, sigma).reshape(-1)[missing] / np.maximum(den_c, 1e-6)
            # blend smoothly: trust the fine scale in proportion to its support
            alpha = np.clip(support / _MIN_SUPPORT, 0.0, 1.0)
            flat_out[missing] = alpha * flat_out[missing] + (1 - alpha) * coarse
            support = np.maximum(support, den_c)
            still = support < _MIN_SUPPORT
            missing, support = missing[still], support[still]
    if missing.dtype == bool:
        missing = np.flatnonzero(missing)
    if missing.size:
        total = float(w.sum())
        fill = float(weighted.sum() / total) if total > 0 else float(np.median(img))
        flat_out[missing] = fill
    return out.astype(np.float32, copy=False)


def normalized_gaussian_coarse(
    image: np.ndarray,
    weight: np.ndarray,
    sigma_px: float,
    *,
    factor: int | None = None,
    needed: np.ndarray | None = None,
) -> np.ndarray:
    """:func:`normalized_gaussian` computed on the blur's pyramid level, enlarged once.

    For wide, smooth maps (a local noise level over centimetres): values and
    weights are area-averaged to the grid :func:`gaussian` would blur on, the
    whole normalized convolution (fallback scales included) runs there, and
    only the result is enlarged.  It differs from :func:`normalized_gaussian`
    by interpolating the ratio instead of numerator and denominator.

    Parameters
    ----------
    image, weight : ndarray
        Values and non-negative weights, same shape.
    sigma_px : float
        Gaussian sigma in pixels of ``image``.
    factor : int, optional
        Shrink factor of the grid; by default the pyramid level of
        :func:`gaussian` (1, i.e. no shrinking, for sigmas up to 8 px).
    needed : ndarray of bool, optional
        As for :func:`normalized_gaussian`: on the coarse grid the cells
        that hold a needed pixel and their neighbours out to
        ``_NEEDED_REACH`` cells (those the enlargement reads) are needed.

    Returns
    -------
    ndarray of float32, same shape as ``image``.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.full((256, 256), 2.0, np.float32); w = np.ones_like(img); w[:, :100] = 0
    >>> bool(np.allclose(normalized_gaussian_coarse(img, w, 40.0), 2.0))
    True
    """
    img = np.asarray(image, dtype=np.float32)
    w = np.asarray(weight, dtype=np.float32)
    if factor is None:
        factor = _pyramid_factor(sigma_px, img.shape)
    if factor <= 1:
        return normalized_gaussian(img, w, sigma_px, needed=needed)
    h, width = img.shape
    size = (max(1, width // factor), max(1, h // factor))
    small_w = cv2.resize(w, size, interpolation=cv2.INTER_AREA)
    small_num = cv2.resize(img * w, size, interpolation=cv2.INTER_AREA)
    small = np.divide(small_num, small_w, out=np.zeros_like(small_num), where=small_w > 0)
    small_needed = None if needed is None else cells_read(needed, (size[1], size[0]))
    small = normalized_gaussian(small, small_w, sigma_px / factor, needed=small_needed)
    return cv2.resize(small, (width, h), interpolation=cv2.INTER_LINEAR)


def disk(radius_px: float) -> np.ndarray:
    """An elliptical (disk) structuring element of the given radius, uint8."""
    r = max(0, int(round(radius_px)))
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


def dilate(mask: np.ndarray, radius_px: float) -> np.ndarray:
    """Binary dilation of a bool mask by a disk (OpenCV)."""
    if radius_px < 0.5:
        return mask.copy()
    return grey_morphology(mask.astype(np.uint8), radius_px, "dilate").astype(bool)


def erode(mask: np.ndarray, radius_px: float) -> np.ndarray:
    """Binary erosion of a bool mask by a disk (OpenCV)."""
    if radius_px < 0.5:
        return mask.copy()
    # the outside is ignored, as with border value 1
    return grey_morphology(mask.astype(np.uint8), radius_px, "erode").astype(bool)


def _disk_rectangles(kernel: np.ndarray) -> list[tuple[int, int]]:
    """Half-heights and half-widths of the rectangles whose union is ``kernel``.

    One rectangle per step of the (symmetric) disk's staircase outline.
    """
    r = kernel.shape[0] // 2
    lower = kernel[r:] != 0  # rows dy = 0..r; each holds its centre column at least
    half = (kernel.shape[1] - 1 - np.argmax(lower[:, ::-1], axis=1)) - r  # last set column, from the centre
    steps = np.flatnonzero(np.append(half[1:] < half[:-1], True))
    return [(int(dy), int(half[dy])) for dy in steps]


def cells_read(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Cells of a coarser grid of ``shape`` whose values a linear enlargement reads for ``mask``.

    The cells holding a pixel of ``mask`` (an area shrink) and their
    neighbours out to ``_NEEDED_REACH`` cells.
    """
    touched = cv2.resize(np.asarray(mask, np.float32), shape[::-1], interpolation=cv2.INTER_AREA) > 0
    reach = np.ones((2 * _NEEDED_REACH + 1,) * 2, np.uint8)
    return cv2.dilate(touched.view(np.uint8), reach).view(bool)


def grey_morphology(image: np.ndarray, radius_px: float, op: str, border_type: int = cv2.BORDER_CONSTANT) -> np.ndarray:
    """Grey erosion or dilation by a disk (OpenCV's ellipse), at a cost linear in the radius.

    The disk is the union of the rectangles of its staircase outline, so the
    erosion is the minimum of the rectangles' erosions; rectangles are
    separable, and the row (column) erosions of consecutive rectangles
    differ by short runs, so one sweep from the narrowest rectangle to the
    widest grows the row erosion and the column erosion step by step:
    ``E = C[h1](min(R[w1], C[h2 - h1](min(R[w2], ...))))``.  Clipped-window
    border modes (``BORDER_REPLICATE``, or ``BORDER_CONSTANT`` with OpenCV's
    default value) compose the same way, so the result is identical to
    ``cv2.erode`` / ``cv2.dilate`` with :func:`disk`.

    Parameters
    ----------
    image : ndarray of float32 or uint8
    radius_px : float
        Disk radius in pixels.
    op : {"erode", "dilate"}
    border_type : int
        ``cv2.BORDER_CONSTANT`` (the outside is ignored) or ``cv2.BORDER_REPLICATE``.

    Returns
    -------
    ndarray, same dtype as ``image``

    Examples
    --------
    >>> import numpy as np
    >>> img = np.zeros((50, 50), np.float32); img[25, 25] = 1
    >>> bool((grey_morphology(img, 21, "dilate") == cv2.dilate(img, disk(21))).all())
    True
    """
    return _morphology_by_kernel(image, disk(radius_px), op, border_type)


def _morphology_by_kernel(image: np.ndarray, kernel: np.ndarray, op: str, border_type: int) -> np.ndarray:
    """Erosion or dilation by a symmetric disk-like kernel (see :func:`grey_morphology`).

    A float or 16-bit image taller than two bands of ``_BAND_ROWS`` runs band by band
    (each with the kernel's reach of rows above and below), so the cascade's
    many passes stay in cache: the same result (a window that reaches no
    band edge is not clipped by it), about twice as fast.
    """
    func = {"erode": cv2.erode, "dilate": cv2.dilate}[op]
    if kernel.shape[0] // 2 < _CASCADE_FROM_RADIUS_PX:
        return func(image, kernel, borderType=border_type)
    if image.dtype.itemsize >= 2 and image.shape[0] > 2 * _BAND_ROWS:
        return _in_row_bands(image, kernel, op, border_type)
    return _cascade(image, kernel, op, border_type)


def _in_row_bands(image: np.ndarray, kernel: np.ndarray, op: str, border_type: int) -> np.ndarray:
    """:func:`_cascade` band by band: rows ``[a, b)`` from rows ``[a - reach, b + reach)``."""
    reach = kernel.shape[0] // 2
    h = image.shape[0]
    out = np.empty_like(image)
    for a in range(0, h, _BAND_ROWS):
        b = min(a + _BAND_ROWS, h)
        lo, hi = max(a - reach, 0), min(b + reach, h)
        out[a:b] = _cascade(image[lo:hi], kernel, op, border_type)[a - lo : b - lo]
    return out


def _cascade(image: np.ndarray, kernel: np.ndarray, op: str, border_type: int) -> np.ndarray:
    """Erosion or dilation by the rectangles of a disk-like kernel, narrowest first (see :func:`grey_morphology`)."""
    func = {"erode": cv2.erode, "dilate": cv2.dilate}[op]
    combine = np.minimum if op == "erode" else np.maximum

    def run(img: np.ndarray, rows: int, cols: int) -> np.ndarray:
        return func(img, np.ones((2 * rows + 1, 2 * cols + 1), np.uint8), borderType=border_type)

    steps = _disk_rectangles(kernel)[::-1]  # narrowest (tallest) first
    h_prev, w_prev = steps[0]
    along_rows = run(image, 0, w_prev)
    out = along_rows.copy()
    for h, w in steps[1:]:
        along_rows = run(along_rows, 0, w - w_prev)
        out = combine(run(out, h_prev - h, 0), along_rows, out=out)
        h_prev, w_prev = h, w
    return run(out, h_prev, 0) if h_prev > 0 else out


def dilate_labels(labels: np.ndarray, radius_px: float) -> np.ndarray:
    """Grey dilation of a sparse label image by a disk: each pixel takes the largest label within reach.

    The same result as ``cv2.dilate(labels.astype(np.float32), disk(radius_px))``
    (labels below 2**24), computed on each label's bounding box grown by the
    disk's reach, so the cost follows the labels' area, not the image's (a
    few specks on a large film).  Every non-zero pixel's reach lies inside its
    own label's grown box, and a maximum can be taken box by box.  When the
    boxes together are larger than the image, the whole image is dilated.

    Parameters
    ----------
    labels : ndarray of int, 2-D
        0 = background, objects 1..n (n below 2**24).
    radius_px : float
        Disk radius in pixels (OpenCV's ellipse, as :func:`disk`).

    Returns
    -------
    ndarray of int32

    Examples
    --------
    >>> import numpy as np
    >>> lab = np.zeros((7, 9), int); lab[3, 2] = 1; lab[3, 4] = 2   # both reach column 3
    >>> dilate_labels(lab, 1)[3]
    array([0, 1, 1, 2, 2, 2, 0, 0, 0], dtype=int32)
    """
    lab = np.asarray(labels)
    out = np.zeros(lab.shape, np.int32)
    n = int(lab.max()) if lab.size else 0
    if n <= 0:
        return out
    if n >= 2**24:
        raise ValueError(f"dilate_labels: {n} labels do not fit float32 exactly")
    kernel = disk(radius_px)
    reach = kernel.shape[0] // 2
    h, w = lab.shape
    boxes = [
        (slice(max(rs.start - reach, 0), min(rs.stop + reach, h)), slice(max(cs.start - reach, 0), min(cs.stop + reach, w)))
        for rs, cs in (sl for sl in ndi.find_objects(lab) if sl is not None)
    ]
    if sum((b[0].stop - b[0].start) * (b[1].stop - b[1].start) for b in boxes) >= lab.size:
        return grey_morphology(lab.astype(np.float32), radius_px, "dilate").astype(np.int32)
    for box in boxes:
        grown = cv2.dilate(lab[box].astype(np.float32), kernel).astype(np.int32)
        np.maximum(out[box], grown, out=out[box])
    return out


def farther_than(inside: np.ndarray, radius_px: float, *, only: np.ndarray | None = None) -> np.ndarray:
    """Pixels of ``inside`` whose nearest outside pixel is farther than ``radius_px`` (Euclidean).

    The same mask as thresholding OpenCV's exact distance transform
    (``cv2.distanceTransform(inside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE) >
    radius_px``, the image border not counting as outside), as an erosion
    by the pixels that transform puts within ``radius_px`` of a point (read
    off the transform of one point, so its rounding is the same): a short
    cascade of rectangles instead of a whole-image transform.

    Parameters
    ----------
    inside : ndarray of bool
    radius_px : float
    only : ndarray of bool, optional
        The pixels whose answer is wanted: the erosion runs on their
        bounding box grown by the disk's reach (each of their disks lies in
        it or meets the image border, as on the whole image); the result is
        False elsewhere.

    Returns
    -------
    ndarray of bool

    Examples
    --------
    >>> import numpy as np
    >>> m = np.ones((7, 9), bool); m[3, 0] = False
    >>> farther_than(m, 2.0)[3].astype(int)
    array([0, 0, 0, 1, 1, 1, 1, 1, 1])
    >>> wanted = np.zeros((7, 9), bool); wanted[3, 6:] = True
    >>> farther_than(m, 2.0, only=wanted)[3].astype(int)
    array([0, 0, 0, 0, 0, 0, 1, 1, 1])
    """
    reach = int(np.floor(radius_px)) + 1
    point = np.ones((2 * reach + 1, 2 * reach + 1), np.uint8)
    point[reach, reach] = 0
    kernel = (cv2.distanceTransform(point, cv2.DIST_L2, cv2.DIST_MASK_PRECISE) <= radius_px).astype(np.uint8)
    rows = np.flatnonzero(kernel.any(axis=1))
    kernel = kernel[rows[0] : rows[-1] + 1, rows[0] : rows[-1] + 1]  # symmetric: the same span both ways
    if only is not None:
        box = _grown_box(only, kernel.shape[0] // 2)
        out = np.zeros(inside.shape, bool)
        if box is not None:
            out[box] = farther_than(inside[box], radius_px) & only[box]
        return out
    eroded = _morphology_by_kernel(np.ascontiguousarray(inside, bool).view(np.uint8), kernel, "erode", cv2.BORDER_CONSTANT)
    return eroded.astype(bool)


def _grown_box(mask: np.ndarray, reach: int) -> tuple[slice, slice] | None:
    """Bounding box of ``mask`` grown by ``reach`` pixels on every side (clipped to the image); None if empty."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask[rows[0] : rows[-1] + 1].any(axis=0))
    h, w = mask.shape
    return (
        slice(max(int(rows[0]) - reach, 0), min(int(rows[-1]) + 1 + reach, h)),
        slice(max(int(cols[0]) - reach, 0), min(int(cols[-1]) + 1 + reach, w)),
    )


def within_chamfer_distance(mask: np.ndarray, radius_px: float) -> np.ndarray:
    """Pixels within ``radius_px`` of ``mask`` by OpenCV's 3x3 chamfer distance.

    The same mask as ``cv2.distanceTransform((~mask).astype(np.uint8),
    cv2.DIST_L2, 3) <= radius_px``: that transform is the shortest path of
    fixed-point straight and diagonal steps, a function of the offset alone,
    so it is a dilation of ``mask`` by the offsets it puts within
    ``radius_px`` of a point (read off the transform of one point), run as a
    short cascade of rectangles.

    Examples
    --------
    >>> import numpy as np
    >>> m = np.zeros((5, 9), bool); m[2, 0] = True
    >>> within_chamfer_distance(m, 2.0)[2].astype(int)
    array([1, 1, 1, 0, 0, 0, 0, 0, 0])
    """
    reach = int(np.floor(radius_px / _CHAMFER_STRAIGHT_STEP)) + 1
    point = np.ones((2 * reach + 1, 2 * reach + 1), np.uint8)
    point[reach, reach] = 0
    kernel = (cv2.distanceTransform(point, cv2.DIST_L2, 3) <= radius_px).astype(np.uint8)
    rows = np.flatnonzero(kernel.any(axis=1))
    kernel = kernel[rows[0] : rows[-1] + 1, rows[0] : rows[-1] + 1]  # symmetric: the same span both ways
    grown = _morphology_by_kernel(np.ascontiguousarray(mask, bool).view(np.uint8), kernel, "dilate", cv2.BORDER_CONSTANT)
    return grown.astype(bool)


def grey_dilate(image: np.ndarray, radius_px: float, *, grid_factor: int = 1) -> np.ndarray:
    """Grey dilation (local maximum) of a float image over a disk.

    Parameters
    ----------
    image : ndarray of float32
    radius_px : float
        Disk radius in pixels of ``image``.
    grid_factor : int
        Work on a grid this many times coarser (area-averaged), then enlarge
        linearly: for smooth inputs such as distance maps, whose maximum over
        a wide disk barely changes, at a fraction of the cost (a disk's cost
        grows with its area).

    Returns
    -------
    ndarray of float32, same shape as ``image``.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.zeros((9, 9), np.float32); img[4, 4] = 1
    >>> int(grey_dilate(img, 2).sum())  # OpenCV's 5 x 5 ellipse has 17 pixels
    17
    """
    img = np.asarray(image, dtype=np.float32)
    h, w = img.shape
    if grid_factor <= 1:
        return grey_morphology(img, radius_px, "dilate")
    small = cv2.resize(img, (max(1, w // grid_factor), max(1, h // grid_factor)), interpolation=cv2.INTER_AREA)
    small = grey_morphology(small, radius_px * small.shape[0] / h, "dilate")
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def distance_inside(mask: np.ndarray) -> np.ndarray:
    """Euclidean distance (px) of each True pixel to the nearest False pixel."""
    return cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """Fill the holes of a 2-D bool mask (background not 4-connected to the border).

    The same result as :func:`scipy.ndimage.binary_fill_holes` with its
    default structure, from one OpenCV labelling of the background instead
    of an iterated dilation.

    Examples
    --------
    >>> import numpy as np
    >>> ring = np.zeros((5, 5), bool); ring[1:4, 1:4] = True; ring[2, 2] = False
    >>> bool(fill_holes(ring)[2, 2])
    True
    """
    background = (~np.asarray(mask, bool)).astype(np.uint8)
    n, labels = cv2.connectedComponents(background, connectivity=4, ltype=cv2.CV_32S)
    if n <= 1:
        return np.asarray(mask, bool).copy()
    outside = np.zeros(n, bool)
    for side in (labels[0], labels[-1], labels[:, 0], labels[:, -1]):
        outside[side] = True
    outside[0] = True  # the mask itself
    return ~outside[labels] | np.asarray(mask, bool)


def _label_on_box(mask: np.ndarray, label) -> tuple[np.ndarray, int]:
    """``label(uint8 mask) -> (count, labels)`` run on the mask's bounding box only, as ``(labels, n)``.

    The labelling of a mask is that of its bounding box pasted into zeros
    (the same components, numbered in the same raster order); an empty mask
    has none.  Candidate masks are often a few specks on a large film, where
    labelling the whole film costs far more than finding the box.  A box
    of more than ``_LABEL_BOX_MAX_SHARE`` of the image is not cut out.
    """
    mask = np.ascontiguousarray(mask, dtype=bool)
    box = _grown_box(mask, 0)
    if box is None:
        return np.zeros(mask.shape, np.int32), 0
    rs, cs = box
    if (rs.stop - rs.start) * (cs.stop - cs.start) > _LABEL_BOX_MAX_SHARE * mask.size:
        n, labels = label(mask.view(np.uint8))
        return labels, n - 1
    n, crop = label(np.ascontiguousarray(mask[box]).view(np.uint8))
    labels = np.zeros(mask.shape, np.int32)
    labels[box] = crop
    return labels, n - 1


def label_components(mask: np.ndarray, connectivity: int = 4) -> tuple[np.ndarray, int]:
    """Connected components of a bool mask (OpenCV), as ``(labels, n)``.

    The same components as :func:`scipy.ndimage.label` (4-connectivity, its
    default, or 8), about twice as fast, but numbered in another order: use
    it where only the grouping matters (per-component tests mapped back to a
    mask), not for labels that are reported.

    Examples
    --------
    >>> import numpy as np
    >>> m = np.array([[1, 0, 1], [0, 1, 0]], bool)
    >>> label_components(m)[1], label_components(m, 8)[1]
    (3, 1)
    """
    return _label_on_box(mask, lambda m: cv2.connectedComponents(m, connectivity=connectivity, ltype=cv2.CV_32S))


def label_raster_order(mask: np.ndarray, connectivity: int = 4) -> tuple[np.ndarray, int]:
    """Connected components numbered exactly as :func:`scipy.ndimage.label` numbers them.

    ``scipy.ndimage.label`` numbers components by their first pixel in
    raster order.  OpenCV's SAUF labelling (Wu et al.) scans pixel by pixel
    in raster order, gives each component's first pixel a new provisional
    label (no earlier pixel of it is adjacent), merges equivalences towards
    the smaller label, and renumbers the roots in increasing order: the same
    numbers, about twice as fast (also with OpenCV's parallel scan, whose
    stripes hold increasing label ranges).  The block-based default
    algorithm of OpenCV numbers 8-connected components in another order.

    Parameters
    ----------
    mask : ndarray of bool, 2-D
    connectivity : {4, 8}
        4 (``scipy.ndimage.label``'s default structure) or 8 (a 3 x 3 block).

    Returns
    -------
    labels : ndarray of int32
    n : int

    Examples
    --------
    >>> import numpy as np
    >>> m = np.array([[0, 0, 1], [1, 0, 0], [0, 1, 0]], bool)
    >>> label_raster_order(m, 8)[0]
    array([[0, 0, 1],
           [2, 0, 0],
           [0, 2, 0]], dtype=int32)
    """
    return _label_on_box(mask, lambda m: cv2.connectedComponentsWithAlgorithm(m, connectivity, cv2.CV_32S, cv2.CCL_SAUF))


def keep_labels(labels: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, int]:
    """The labels with ``keep[label]`` set, renumbered 1..m in their order.

    Equal to relabelling ``keep[labels]`` with :func:`label_raster_order`
    (or ``scipy.ndimage.label``) at the connectivity ``labels`` was made
    with: whole components are kept or dropped, so the kept ones are the
    components of the new mask, and their first pixels keep their raster
    order, which is the order of their old numbers; the rank among the kept
    labels is that new number.

    Parameters
    ----------
    labels : ndarray of int
        Labels 0..n numbered in raster order (0 = background).
    keep : ndarray of bool, shape (n + 1,)
        Which labels to keep (``keep[0]`` must be False).

    Returns
    -------
    labels : ndarray of int32
    m : int

    Examples
    --------
    >>> import numpy as np
    >>> keep_labels(np.array([[1, 0, 2, 3]]), np.array([False, True, False, True]))
    (array([[1, 0, 0, 2]], dtype=int32), 2)
    """
    rank = np.cumsum(keep, dtype=np.int32)
    rank[~keep] = 0
    return rank[labels], int(np.count_nonzero(keep))


def drop_small_components(mask: np.ndarray, min_pixels: int) -> np.ndarray:
    """A copy of ``mask`` without its 4-connected components of fewer than ``min_pixels`` pixels.

    Sizes are counted over the mask's own pixels only (no pass over the
    whole label image after the labelling): for large, sparse input-grid
    masks.

    Examples
    --------
    >>> import numpy as np
    >>> m = np.array([[1, 1, 1, 0, 1], [0, 0, 0, 0, 1], [1, 0, 0, 0, 0]], bool)
    >>> drop_small_components(m, 3).astype(int)
    array([[1, 1, 1, 0, 0],
           [0, 0, 0, 0, 0],
           [0, 0, 0, 0, 0]])
    """
    out = np.array(mask, dtype=bool, order="C")
    labels, _ = label_components(out)
    where = np.flatnonzero(out)
    lab = labels.reshape(-1)[where]
    small = np.bincount(lab) < min_pixels
    out.reshape(-1)[where[small[lab]]] = False
    return out


def hysteresis_threshold(image: np.ndarray, low: float, high: float) -> np.ndarray:
    """Pixels above ``low`` connected (4-connectivity) to a pixel above ``high``.

    The same mask as :func:`skimage.filters.apply_hysteresis_threshold`, with
    one OpenCV labelling and no per-label sums over the image.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[0, 2, 2, 0, 2], [0, 0, 5, 0, 2]], np.float32)
    >>> hysteresis_threshold(x, 1, 4).astype(int)
    array([[0, 1, 1, 0, 0],
           [0, 0, 1, 0, 0]])
    """
    low = min(low, high)
    labels, n = label_components(image > low)
    strong = np.zeros(n + 1, bool)
    strong[labels[image > high]] = True
    strong[0] = False
    return strong[labels]


def resize_to(image: np.ndarray, shape: tuple[int, int], *, nearest: bool = False) -> np.ndarray:
    """Resize a 2-D array to ``shape`` (rows, cols); area-averaging when shrinking."""
    h, w = shape
    if image.shape == (h, w):
        return image
    if nearest:
        interp = cv2.INTER_NEAREST
    elif h < image.shape[0]:
        interp = cv2.INTER_AREA
    else:
        interp = cv2.INTER_LINEAR
    return cv2.resize(image, (w, h), interpolation=interp)
