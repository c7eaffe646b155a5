"""``detect``: the fixed chain normalise -> anatomy -> segment -> features -> classify."""

from __future__ import annotations

import math
import os
import time
from typing import Sequence

import numpy as np
from scipy import ndimage as ndi

from .anatomy import find_anatomy, find_flat_overlays
from .filters import resize_to
from .classify import primary_patterns, score_patterns
from .config import Config
from .errors import CalcidetectError
from .features import FEATURE_NAMES, measure_foci
from .normalise import robust_scale, to_working_resolution
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
        pixels = image.astype(np.float32)
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


def _upsample_labels(labels: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour map of a working-grid label image onto the input grid."""
    if labels.shape == shape:
        return labels.astype(np.int32, copy=False)
    rows = np.minimum((np.arange(shape[0]) + 0.5) * labels.shape[0] / shape[0], labels.shape[0] - 1).astype(np.intp)
    cols = np.minimum((np.arange(shape[1]) + 0.5) * labels.shape[1] / shape[1], labels.shape[1] - 1).astype(np.intp)
    return labels[rows[:, None], cols[None, :]].astype(np.int32, copy=False)


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

    work = to_working_resolution(rad.pixels, spacing, cfg.working_spacing_mm)
    sp = work.spacing_mm
    pixels = robust_scale(work.pixels, None, cfg.body_low_percentile, cfg.body_high_percentile)
    timings["normalise"] = time.perf_counter() - t0

    t = time.perf_counter()
    overlays = find_flat_overlays(rad.pixels)
    if overlays.any():
        overlays = resize_to(overlays.astype(np.float32), pixels.shape) > 0
    anatomy, _ = find_anatomy(pixels, sp, cfg, overlays)
    timings["anatomy"] = time.perf_counter() - t

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
    labels = _upsample_labels(seg.labels, work.input_shape)
    n = int(seg.labels.max())
    foci: list[Focus] = []
    if n:
        idx = np.arange(1, n + 1)
        area_px = np.bincount(labels.ravel(), minlength=n + 1)[1:]
        centroids = ndi.center_of_mass(np.ones_like(labels, dtype=np.uint8), labels, idx)
        slices = ndi.find_objects(labels, max_label=n)
        pixel_area = spacing[0] * spacing[1]
        for i in range(n):
            sl = slices[i]
            if sl is None:  # pragma: no cover - upsampling keeps every label
                continue
            foci.append(
                Focus(
                    id=i + 1,
                    pattern=patterns[i],
                    scores={p: float(scores[p][i]) for p in PATTERNS},
                    centroid_rc=(float(centroids[i][0]), float(centroids[i][1])),
                    bbox=(sl[0].start, sl[1].start, sl[0].stop, sl[1].stop),
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
