"""``detect``: the fixed chain normalise -> anatomy -> segment -> features -> classify."""

from __future__ import annotations

import math
import os
import time
from typing import Sequence

import numpy as np
from scipy import ndimage as ndi

from .anatomy import Anatomy, fill_overlays, find_anatomy, find_flat_overlays
from .filters import resize_to
from .classify import primary_patterns, score_patterns
from .config import Config
from .errors import CalcidetectError
from .features import FEATURE_NAMES, measure_foci
from .normalise import WorkingImage, robust_scale, to_working_resolution
from .radiograph import Radiograph
from .result import PATTERNS, Focus, Result
from .segment import segment
from .summary import summarise

__all__ = ["detect"]

def _as_spacing(value: float | Sequence[float], what: str) -> tuple[float, float]:
    if np.isscalar(value):
        pair = (float(value), float(value))  # type: ignore[arg-type]
    else:
        seq = list(value)  # type: ignore[arg-type]
        if len(seq) != 2:
            raise CalcidetectError(f"{what} must be a number or a (row, col) pair, got {value!r}")
        pair = (float(seq[0]), float(seq[1]))
    if not all(math.isfinite(v) and v > 0 for v in pair):
        raise CalcidetectError(f"{what} must be positive and finite, got {value!r}")
    return pair


def _to_radiograph(image, pixel_spacing_mm, cfg: Config) -> Radiograph:
    if isinstance(image, Radiograph):
        rad = image
    elif isinstance(image, (str, os.PathLike)):
        from .io import load_image

        rad = load_image(image, max_pixels=cfg.max_pixels)
    elif isinstance(image, np.ndarray):
        if image.ndim != 2:
            raise CalcidetectError(f"detect expects a 2-D greyscale array, got shape {image.shape}")
        if image.size < 4 or min(image.shape) < 2:
            raise CalcidetectError(f"image of shape {image.shape} is too small to analyse")
        if not np.issubdtype(image.dtype, np.number) or np.iscomplexobj(image):
            raise CalcidetectError(f"detect expects a real numeric array, got dtype {image.dtype}")
        pixels = image.astype(np.float32, copy=False)  # detect never writes into its input
        if not np.isfinite(pixels).all():
            raise CalcidetectError("image contains NaN or infinite values")
        rad = Radiograph(pixels=pixels)
    else:
        raise CalcidetectError(f"detect expects a Radiograph, an ndarray or a path, got {type(image).__name__}")
    if pixel_spacing_mm is not None:
        spacing, source = _as_spacing(pixel_spacing_mm, "pixel_spacing_mm"), "caller"
    elif rad.pixel_spacing_mm is not None:
        spacing, source = _as_spacing(rad.pixel_spacing_mm, "Radiograph.pixel_spacing_mm"), rad.spacing_source
    else:
        spacing, source = (cfg.assumed_pixel_spacing_mm,) * 2, "assumed"
    return Radiograph(pixels=rad.pixels, pixel_spacing_mm=spacing, spacing_source=source, source=rad.source, meta=rad.meta)


def _nearest_index(n_in: int, n_work: int) -> np.ndarray:
    """Working-grid row (or column) that each input row (or column) maps to."""
    return np.minimum((np.arange(n_in) + 0.5) * n_work / n_in, n_work - 1).astype(np.intp)


def _upsample_labels(labels: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Nearest-neighbour map of a working-grid label image onto the input grid."""
    if labels.shape == (rows.size, cols.size):
        return labels.astype(np.int32, copy=False)
    # two one-axis gathers: about twice as fast as one two-axis fancy index
    return labels.take(rows, axis=0).take(cols, axis=1).astype(np.int32, copy=False)


def _input_grid_geometry(
    labels: np.ndarray, n: int, rows: np.ndarray, cols: np.ndarray
) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int, int, int]]]:
    """Area, centroid and box of each label once mapped to the input grid.

    Computed on the working grid: a working pixel (i, j) becomes the block of
    input rows mapping to i times input columns mapping to j, so areas and
    coordinate sums are exact integer sums (the same numbers as
    ``np.bincount`` and ``scipy.ndimage.center_of_mass`` on the upsampled
    labels, without touching the input grid).

    Returns
    -------
    area_px : ndarray of int64, shape (n,)
    centroids : ndarray of float64, shape (n, 2)
        (row, col) on the input grid.
    boxes : list of (r0, c0, r1, c1), half-open
    """
    h, w = labels.shape
    n_rows = np.bincount(rows, minlength=h)  # input rows per working row
    n_cols = np.bincount(cols, minlength=w)
    sum_rows = np.bincount(rows, weights=np.arange(rows.size), minlength=h)  # their index sums
    sum_cols = np.bincount(cols, weights=np.arange(cols.size), minlength=w)
    flat = labels.ravel()
    where = np.flatnonzero(flat != 0)  # (a bool nonzero is faster)
    lab = flat[where]
    i, j = np.divmod(where, w)
    area = np.bincount(lab, weights=n_rows[i] * n_cols[j], minlength=n + 1)[1:]
    centroid_r = np.bincount(lab, weights=sum_rows[i] * n_cols[j], minlength=n + 1)[1:] / area
    centroid_c = np.bincount(lab, weights=n_rows[i] * sum_cols[j], minlength=n + 1)[1:] / area
    boxes = []
    for sl in ndi.find_objects(labels, max_label=n):
        # rows/cols are non-decreasing: the input rows of working rows [a, b)
        r0, r1 = np.searchsorted(rows, sl[0].start, "left"), np.searchsorted(rows, sl[0].stop - 1, "right")
        c0, c1 = np.searchsorted(cols, sl[1].start, "left"), np.searchsorted(cols, sl[1].stop - 1, "right")
        boxes.append((int(r0), int(c0), int(r1), int(c1)))
    return area.astype(np.int64), np.stack([centroid_r, centroid_c], axis=1), boxes


def _working_image_and_anatomy(
    rad: Radiograph, cfg: Config, timings: dict[str, float]
) -> tuple[WorkingImage, np.ndarray, Anatomy]:
    """Stages 1 and 2 of :func:`detect`: the normalised working image and its anatomy.

    ``rad`` has its spacing set.  Stage times go into ``timings``.  Shared
    with the diagnostics in ``benchmarks/misses.py``.
    """
    t0 = time.perf_counter()
    assert rad.pixel_spacing_mm is not None
    work = to_working_resolution(rad.pixels, rad.pixel_spacing_mm, cfg.working_spacing_mm)
    pixels = robust_scale(work.pixels, None, cfg.body_low_percentile, cfg.body_high_percentile)
    timings["normalise"] = time.perf_counter() - t0
    t = time.perf_counter()
    overlays = find_flat_overlays(rad.pixels)
    # to the working grid at once: no input-grid mask is kept alive
    overlays = resize_to(overlays.astype(np.float32), pixels.shape) > 0 if overlays.any() else None
    filled = None
    if overlays is not None:
        pixels, filled = fill_overlays(pixels, overlays, work.spacing_mm)
    anatomy = find_anatomy(pixels, work.spacing_mm, cfg, overlays, filled)
    timings["anatomy"] = time.perf_counter() - t
    return work, pixels, anatomy


def detect(
    image: "Radiograph | np.ndarray | str | os.PathLike[str]",
    *,
    pixel_spacing_mm: float | Sequence[float] | None = None,
    config: Config | None = None,
) -> Result:
    """Find soft-tissue calcifications and label each by pattern.

    Parameters
    ----------
    image : Radiograph, ndarray or path
        A loaded radiograph, a 2-D array (higher = denser), or a file path
        (read with :func:`calcidetect.load_image`).
    pixel_spacing_mm : float or (float, float), optional
        Overrides the image's spacing.  When neither gives one,
        ``config.assumed_pixel_spacing_mm`` is used and the result says
        ``spacing_source="assumed"``.
    config : Config, optional
        Thresholds; defaults to ``Config()``.

    Returns
    -------
    Result
        Foci, label image, bone and body masks (input grid) and a summary.

    Examples
    --------
    >>> import numpy as np, calcidetect as cd
    >>> rng = np.random.default_rng(0)
    >>> img = rng.normal(100, 1, (400, 400)).astype(np.float32)
    >>> yy, xx = np.mgrid[:400, :400]
    >>> img[(yy - 200) ** 2 + (xx - 200) ** 2 <= 16] += 30    # a 1.2 mm dot
    >>> res = cd.detect(img, pixel_spacing_mm=0.15)
    >>> [f.pattern for f in res.foci]
    ['punctate']
    """
    cfg = config if config is not None else Config()
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    rad = _to_radiograph(image, pixel_spacing_mm, cfg)
    spacing = rad.pixel_spacing_mm
    assert spacing is not None

    work, pixels, anatomy = _working_image_and_anatomy(rad, cfg, timings)
    sp = work.spacing_mm

    t = time.perf_counter()
    if cfg.microcalc_channel:
        from .microcalc import segment_microcalcs

        seg = segment_microcalcs(pixels, anatomy, sp, cfg)
    else:
        seg = segment(pixels, anatomy, sp, cfg)
    timings["segment"] = time.perf_counter() - t

    t = time.perf_counter()
    feats = measure_foci(seg, anatomy, sp, cfg)
    timings["features"] = time.perf_counter() - t

    t = time.perf_counter()
    scores = score_patterns(feats, cfg)
    patterns = primary_patterns(scores, feats["equivalent_diameter_mm"], cfg)
    timings["classify"] = time.perf_counter() - t

    # back to the input grid: labels, centroids, boxes, areas
    t = time.perf_counter()
    rows = _nearest_index(work.input_shape[0], seg.labels.shape[0])
    cols = _nearest_index(work.input_shape[1], seg.labels.shape[1])
    labels = _upsample_labels(seg.labels, rows, cols)
    n = int(seg.labels.max())
    foci: list[Focus] = []
    if n:
        area_px, centroids, boxes = _input_grid_geometry(seg.labels, n, rows, cols)
        pixel_area = spacing[0] * spacing[1]
        for i in range(n):
            foci.append(
                Focus(
                    id=i + 1,
                    pattern=patterns[i],
                    scores={p: float(scores[p][i]) for p in PATTERNS},
                    centroid_rc=(float(centroids[i][0]), float(centroids[i][1])),
                    bbox=boxes[i],
                    area_px=int(area_px[i]),
                    area_mm2=float(area_px[i] * pixel_area),
                    features={name: float(feats[name][i]) for name in FEATURE_NAMES},
                )
            )
    timings["to_input_grid"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t0
    return Result(
        foci=foci,
        labels=labels,
        bone_mask=work.to_input(anatomy.bone),
        body_mask=work.to_input(anatomy.body),
        summary=summarise(foci, spacing, rad.spacing_source, cfg),
        pixel_spacing_mm=spacing,
        spacing_source=rad.spacing_source,
        source=rad.source,
        timings_s=timings,
    )
