"""Per-label statistics of a label image, from one pass over its foreground.

:mod:`scipy.ndimage`'s ``maximum``, ``minimum`` and ``median`` sort the whole
image (``argsort``) for every call, and :func:`skimage.measure.regionprops`
computes moments and convex hulls region by region in Python.  The functions
here give the same numbers from the labelled pixels only: ``np.maximum.at``,
``np.bincount`` and one sort of the foreground, vectorised over labels.

Every function takes ``labels`` (integers, 0 = background, objects 1..n) and
``n``, and returns an array of length ``n`` whose element ``i`` belongs to
label ``i + 1``.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.spatial import ConvexHull

from .orderstats import median

#: Label images with fewer labels than this are grouped by a 16-bit radix sort.
_RADIX_MAX_LABELS = 2**16
#: In :func:`label_moments`, labels of at least this many pixels (bones,
#: broad dense regions) get their moments from OpenCV on their bounding box
#: instead of per-pixel sums; for smaller ones (foci) the box's band of rows
#: costs more than their pixels do.
_CROP_MOMENTS_MIN_PIXELS = 65536
#: In :func:`label_median`, labels with at least this share of the labelled
#: pixels are each selected by a mask instead of taking part in the sort.
_MASKED_MEDIAN_SHARE = 0.125

__all__ = ["label_max", "label_min", "label_mean", "label_median", "label_moments", "label_solidity", "convex_area"]


def _foreground(values: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Labels and values of the labelled pixels, in raster order."""
    flat = labels.ravel()
    where = np.flatnonzero(flat != 0)  # (a bool nonzero is faster)
    return flat[where], np.asarray(values).ravel()[where]


def _extreme(values: np.ndarray, labels: np.ndarray, n: int, ufunc: np.ufunc, start: float) -> np.ndarray:
    lab, val = _foreground(values, labels)
    out = np.full(n + 1, start, dtype=val.dtype)
    ufunc.at(out, lab, val)
    out[np.bincount(lab, minlength=n + 1) == 0] = 0  # as scipy.ndimage: empty labels give 0
    return out[1 : n + 1]


def label_max(values: np.ndarray, labels: np.ndarray, n: int) -> np.ndarray:
    """Maximum of ``values`` over each label (0 for an empty label).

    Parameters
    ----------
    values : ndarray
        Numbers, same shape as ``labels``.
    labels : ndarray of int
        0 = background, objects 1..n.
    n : int
        Number of labels.

    Returns
    -------
    ndarray, shape (n,), dtype of ``values``
        Same as ``scipy.ndimage.maximum(values, labels, range(1, n + 1))``.

    Examples
    --------
    >>> import numpy as np
    >>> label_max(np.array([[1.0, 5.0], [3.0, 2.0]]), np.array([[1, 1], [2, 0]]), 2)
    array([5., 3.])
    """
    return _extreme(values, labels, n, np.maximum, -np.inf)


def label_min(values: np.ndarray, labels: np.ndarray, n: int) -> np.ndarray:
    """Minimum of ``values`` over each label (0 for an empty label).

    Same as ``scipy.ndimage.minimum(values, labels, range(1, n + 1))``; see
    :func:`label_max` for the parameters.
    """
    return _extreme(values, labels, n, np.minimum, np.inf)


def label_mean(values: np.ndarray, labels: np.ndarray, n: int) -> np.ndarray:
    """Mean of ``values`` over each label, in float64 (NaN for an empty label).

    Sums in raster order as ``scipy.ndimage.mean`` does, so the results are
    identical; see :func:`label_max` for the parameters.
    """
    lab, val = _foreground(values, labels)
    sums = np.bincount(lab, weights=val, minlength=n + 1)[1 : n + 1]
    counts = np.bincount(lab, minlength=n + 1)[1 : n + 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts


def label_median(values: np.ndarray, labels: np.ndarray, n: int) -> np.ndarray:
    """Median of ``values`` over each label.

    The mean of the two middle values for an even count, computed in the
    dtype of ``values``: the same numbers as ``scipy.ndimage.median``.  The
    labelled pixels are grouped by label with one integer sort (a label
    holding ``_MASKED_MEDIAN_SHARE`` of them is picked out by a mask
    instead) and each group's median found by partition (linear time,
    :func:`calcidetect.orderstats.median`), instead of sorting the whole
    image by value.  Empty labels give NaN.  See :func:`label_max` for
    the parameters.
    """
    lab, val = _foreground(values, labels)
    counts = np.bincount(lab, minlength=n + 1)[1 : n + 1]
    out = np.full(n, np.nan, dtype=np.result_type(val.dtype, np.float32))
    # a label holding a large share of the pixels (the outer background of a
    # hole labelling) is read through a mask, the rest grouped by one sort
    large = np.flatnonzero(counts >= _MASKED_MEDIAN_SHARE * lab.size)
    if large.size:
        for i in large:
            out[i] = median(val[lab == i + 1])
        is_large = np.zeros(n + 1, bool)
        is_large[large + 1] = True
        rest = ~is_large[lab]
        lab, val = lab[rest], val[rest]
        counts[large] = 0
    # a stable sort keeps each label's values in raster order; on 16-bit keys
    # numpy sorts by radix (linear time)
    keys = lab.astype(np.uint16) if lab.size and 0 <= lab.min() and lab.max() < _RADIX_MAX_LABELS else lab
    val = val[np.argsort(keys, kind="stable")]
    ends = np.cumsum(counts)
    for i in np.flatnonzero(counts):
        out[i] = median(val[ends[i] - counts[i] : ends[i]])
    return out


def label_moments(labels: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """Area, centroid and second-moment ellipse of each label.

    The ellipse follows :func:`skimage.measure.regionprops` (``axis_major_length``,
    ``axis_minor_length``, ``orientation`` in its convention), computed from
    per-label sums with :func:`numpy.bincount` instead of region by region.
    Results agree with scikit-image to floating-point rounding.

    Parameters
    ----------
    labels : ndarray of int, 2-D
        0 = background, objects 1..n.
    n : int
        Number of labels.

    Returns
    -------
    dict of str to ndarray, each of shape (n,)
        ``area``, ``centroid_r``, ``centroid_c``, ``axis_major_length``,
        ``axis_minor_length``, ``orientation`` (radians).  Empty labels give
        NaN for everything but the area.

    Examples
    --------
    >>> import numpy as np
    >>> lab = np.zeros((5, 7), int); lab[2, 1:6] = 1
    >>> m = label_moments(lab, 1)
    >>> float(m["area"][0]), float(m["centroid_c"][0]), round(float(m["axis_major_length"][0]), 3)
    (5.0, 3.0, 5.657)
    """
    flat = labels.ravel()
    where = np.flatnonzero(flat != 0)  # (a bool nonzero is faster)
    lab = flat[where]
    area = np.bincount(lab, minlength=n + 1).astype(float)
    # large labels (bones, the body's soft tissue) from OpenCV's moments of
    # their bounding box, the rest from per-label sums over their own pixels
    large = np.flatnonzero(area >= _CROP_MOMENTS_MIN_PIXELS)
    large = large[large > 0]
    if large.size:
        crops = list(_crops(labels, n, where, lab, large))
        small = np.ones(n + 1, bool)
        small[large] = False
        keep = small[lab]
        where, lab = where[keep], lab[keep]
    rows, cols = _row_col(where, labels.shape)
    # coordinates relative to each label's bounding box, as regionprops: the
    # sums stay exact integers, so symmetric shapes give exactly equal moments
    r0 = np.full(n + 1, labels.shape[0], dtype=rows.dtype)
    c0 = np.full(n + 1, labels.shape[1], dtype=cols.dtype)
    np.minimum.at(r0, lab, rows)
    np.minimum.at(c0, lab, cols)
    # float64 once (the sums below would convert them each time; same values)
    rows = (rows - r0[lab]).astype(np.float64)
    cols = (cols - c0[lab]).astype(np.float64)
    # the coordinate sums are exact integers (below 2**53) in float64, so the
    # image-frame sums are the box-frame sums plus the box corner times the area
    sum_r = np.bincount(lab, weights=rows, minlength=n + 1)
    sum_c = np.bincount(lab, weights=cols, minlength=n + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cr = sum_r / area
        cc = sum_c / area
        dr = rows - cr[lab]
        dc = cols - cc[lab]
        # inertia tensor [[a, b], [b, c]] as skimage.measure.inertia_tensor
        a = np.bincount(lab, weights=dc * dc, minlength=n + 1) / area
        b = -np.bincount(lab, weights=dr * dc, minlength=n + 1) / area
        c = np.bincount(lab, weights=dr * dr, minlength=n + 1) / area
    if large.size:
        for k, top, left, crop in crops:
            r0[k], c0[k] = top, left
            sum_r[k], sum_c[k], a[k], b[k], c[k] = _crop_moments(crop.view(np.uint8))
    with np.errstate(invalid="ignore", divide="ignore"):
        centroid_r = (sum_r + r0 * area) / area
        centroid_c = (sum_c + c0 * area) / area
    half_sum, half_diff = 0.5 * (a + c), 0.5 * (a - c)
    root = np.sqrt(half_diff * half_diff + b * b)
    l1 = np.clip(half_sum + root, 0, None)
    l2 = np.clip(half_sum - root, 0, None)
    tie = np.where(b < 0, np.pi / 4.0, -np.pi / 4.0)
    orientation = np.where(a - c == 0, tie, 0.5 * np.arctan2(-2 * b, c - a))
    return {
        "area": area[1:],
        "centroid_r": centroid_r[1:],
        "centroid_c": centroid_c[1:],
        "axis_major_length": 4 * np.sqrt(l1[1:]),
        "axis_minor_length": 4 * np.sqrt(l2[1:]),
        "orientation": orientation[1:],
    }


def _crops(labels: np.ndarray, n: int, where: np.ndarray, lab: np.ndarray, which: np.ndarray):
    """Yield ``(label, r0, c0, mask)`` for each label of ``which``: its bounding box's corner and its pixels there.

    ``where`` and ``lab`` are the flat indices (raster order) and labels of
    the labelled pixels; a label's first and last pixel give its rows, the
    band of those rows its columns.
    """
    pos = np.arange(lab.size)
    first = np.full(n + 1, lab.size, dtype=pos.dtype)
    last = np.full(first.size, -1, dtype=pos.dtype)
    np.minimum.at(first, lab, pos)
    np.maximum.at(last, lab, pos)
    width = labels.shape[1]
    for k in which:
        r0, r1 = int(where[first[k]] // width), int(where[last[k]] // width)
        hit = labels[r0 : r1 + 1] == k
        cols = np.flatnonzero(hit.any(axis=0))
        yield k, r0, int(cols[0]), np.ascontiguousarray(hit[:, cols[0] : cols[-1] + 1])


def _crop_moments(mask: np.ndarray) -> tuple[float, float, float, float, float]:
    """Box-frame coordinate sums and inertia tensor of a binary crop: ``(sum_r, sum_c, a, b, c)``.

    As :func:`label_moments` computes them from per-pixel sums: OpenCV's raw
    moments of a binary 8-bit image are exact integers (below 2**53), and
    the central moments are formed from them in exact integer arithmetic
    (``area**2 * mu = area * m2 - m1**2``) with one rounding at the end, so
    symmetric shapes still give exactly equal moments.
    """
    m = cv2.moments(mask, binaryImage=True)
    area = int(m["m00"])
    m10, m01 = int(m["m10"]), int(m["m01"])  # sums of columns, of rows
    m20, m11, m02 = int(m["m20"]), int(m["m11"]), int(m["m02"])
    den = area * area
    return (
        float(m01),
        float(m10),
        (area * m20 - m10 * m10) / den,
        -((area * m11 - m10 * m01) / den),  # (-0.0 for 0, as the per-pixel sums give)
        (area * m02 - m01 * m01) / den,
    )


def _row_col(where: np.ndarray, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of flat indices into a 2-D array of ``shape``, in 32-bit integers when they fit.

    (A 32-bit division is several times faster than a 64-bit one; the values
    are the same.)
    """
    if shape[0] * shape[1] < 2**31:
        return np.divmod(where.astype(np.int32), np.int32(shape[1]))
    return np.divmod(where, shape[1])


def label_solidity(labels: np.ndarray, which: np.ndarray, slices: list) -> np.ndarray:
    """Solidity (area / convex-hull area) of the chosen labels; NaN for the others.

    Each chosen label's convex hull is taken on its bounding box only, as
    :func:`skimage.measure.regionprops` does, and counted with
    :func:`convex_area`, so the values are identical; labels that no later
    test needs are skipped.

    Parameters
    ----------
    labels : ndarray of int, 2-D
        0 = background, objects 1..n.
    which : ndarray of bool, shape (n,)
        Labels whose solidity is wanted (element ``i`` is label ``i + 1``).
    slices : list of tuple of slice
        Bounding boxes, as from ``scipy.ndimage.find_objects(labels, n)``.

    Returns
    -------
    ndarray of float, shape (n,)

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import ndimage as ndi
    >>> lab = np.zeros((6, 6), int); lab[1:5, 1:5] = 1; lab[2:4, 3:5] = 0
    >>> float(label_solidity(lab, np.array([True]), ndi.find_objects(lab))[0])
    0.75
    """
    out = np.full(len(which), np.nan)
    for i in np.flatnonzero(which):
        crop = labels[slices[i]] == i + 1
        out[i] = crop.sum() / convex_area(crop)
    return out


def convex_area(mask: np.ndarray) -> int:
    """Pixel count of :func:`skimage.morphology.convex_hull_image` of a 2-D mask.

    The hull is scikit-image's (the pixels' edge midpoints, Qhull); its pixel
    centres inside or on the boundary are counted row by row from the hull's
    edges instead of testing every pixel of the box.  Vertices are
    half-integers, so the crossings are exact where they matter: a crossing
    that is an integer is computed exactly, any other lies at least
    ``1 / (2 * height)`` from one.

    Examples
    --------
    >>> import numpy as np
    >>> m = np.zeros((5, 5), bool); m[0, 0] = m[4, 4] = m[0, 4] = True
    >>> convex_area(m)
    15
    """
    mask = np.ascontiguousarray(mask, dtype=bool)
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return 0
    # the first and last pixel of every row and column hold the hull; each is
    # an argmax along contiguous rows (of the mask, its transpose and their
    # mirror images: a strided argmax is slow)
    by_row = mask.view(np.uint8)
    by_col = cv2.transpose(by_row)
    first_c = by_row.argmax(axis=1)[rows]
    last_c = mask.shape[1] - 1 - cv2.flip(by_row, 1).argmax(axis=1)[rows]
    first_r = by_col.argmax(axis=1)[cols]
    last_r = mask.shape[0] - 1 - cv2.flip(by_col, 1).argmax(axis=1)[cols]
    pts = np.concatenate(
        [
            np.stack([rows, first_c], 1),
            np.stack([rows, last_c], 1),
            np.stack([first_r, cols], 1),
            np.stack([last_r, cols], 1),
        ]
    ).astype(float)
    diamond = np.array([[-0.5, 0.0], [0.5, 0.0], [0.0, -0.5], [0.0, 0.5]])
    pts = _unique_half_integer_points((pts[:, None, :] + diamond).reshape(-1, 2))
    verts = pts[ConvexHull(pts).vertices]
    r1, c1 = verts[:, 0], verts[:, 1]
    r2, c2 = np.roll(r1, -1), np.roll(c1, -1)
    grid_r = np.arange(np.ceil(r1.min()), np.floor(r1.max()) + 1)
    lo_r, hi_r = np.minimum(r1, r2), np.maximum(r1, r2)
    spans = (grid_r[:, None] >= lo_r) & (grid_r[:, None] <= hi_r)
    with np.errstate(invalid="ignore", divide="ignore"):
        at = c1 + (grid_r[:, None] - r1) * (c2 - c1) / (r2 - r1)
    flat_edge = r1 == r2  # a horizontal edge contributes both its ends
    left = np.where(flat_edge, np.minimum(c1, c2), at)
    right = np.where(flat_edge, np.maximum(c1, c2), at)
    c_min = np.where(spans, left, np.inf).min(axis=1)
    c_max = np.where(spans, right, -np.inf).max(axis=1)
    return int(np.maximum(np.floor(c_max) - np.ceil(c_min) + 1, 0).sum())


def _unique_half_integer_points(pts: np.ndarray) -> np.ndarray:
    """``np.unique(pts, axis=0)`` for (row, col) points on a half-integer grid at or above -0.5.

    Each point is encoded as one integer key (twice the coordinate plus one),
    so the sort is one-dimensional; keys sort as the rows of ``pts`` do
    (row first), and decode to the same floats.
    """
    twice = np.rint(2.0 * pts).astype(np.int64) + 1
    span = int(twice[:, 1].max()) + 1
    keys = np.sort(twice[:, 0] * span + twice[:, 1])
    keys = keys[np.append(True, keys[1:] != keys[:-1])]  # np.unique, by one sort
    rows, cols = np.divmod(keys, span)
    return np.stack([(rows - 1) / 2.0, (cols - 1) / 2.0], axis=1)

