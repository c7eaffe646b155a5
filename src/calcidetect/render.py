"""Overlay images: the radiograph with every focus outlined in its pattern's colour.

The display window is robust (percentiles of the pixels inside the body
mask), contours are found per focus inside its bounding box (cost follows the
foci, not the image size), colours come from the Okabe-Ito palette (readable
with the common colour-vision deficiencies), and every overlay large enough to
read carries a legend with counts, focus ids and the footer line
"research use only - not a diagnostic device" (plus the spacing when it was
assumed).  Renders smaller than :data:`MIN_ANNOTATED_SIDE_PX` (thumbnails)
carry the contours only.
"""

from __future__ import annotations

import os
from typing import Any

import cv2
import numpy as np

from .atomic import atomic_write_bytes
from .radiograph import Radiograph
from .result import PATTERNS, Result

__all__ = ["PATTERN_COLORS", "render_overlay", "write_overlay", "encode_png", "encode_jpeg"]

#: Okabe & Ito (2008) "Color Universal Design" colours, RGB, one per pattern.
PATTERN_COLORS: dict[str, tuple[int, int, int]] = {
    "punctate": (230, 159, 0),  # orange
    "plaque": (86, 180, 233),  # sky blue
    "lobular": (213, 94, 0),  # vermillion
    "periarticular": (0, 158, 115),  # bluish green
    "linear": (240, 228, 66),  # yellow
}
_FALLBACK_COLOR = (204, 121, 167)  # reddish purple, for an unknown label

#: Renders whose longer side is below this get contours only (no text).
MIN_ANNOTATED_SIDE_PX = 400
#: Display window percentiles inside the body mask.
WINDOW_PERCENTILES = (0.5, 99.5)
_FOOTER = "research use only - not a diagnostic device"
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def _display_window(pixels: np.ndarray, body_mask: np.ndarray | None) -> np.ndarray:
    """Map pixels to uint8 with percentiles taken inside the body (subsampled)."""
    step = max(1, int(np.sqrt(pixels.size / 1_000_000)))
    sample = pixels[::step, ::step]
    if body_mask is not None and body_mask.shape == pixels.shape:
        m = body_mask[::step, ::step]
        if np.count_nonzero(m) >= 100:
            sample = sample[m]
    sample = np.asarray(sample, dtype=np.float64).ravel()
    sample = sample[np.isfinite(sample)]
    if sample.size == 0:
        return np.zeros(pixels.shape, np.uint8)
    lo, hi = np.percentile(sample, WINDOW_PERCENTILES)
    if not hi > lo:
        lo, hi = float(sample.min()), float(sample.max())
        if not hi > lo:
            return np.full(pixels.shape, 128, np.uint8)
    out = (np.asarray(pixels, dtype=np.float32) - np.float32(lo)) * np.float32(255.0 / (hi - lo))
    np.clip(out, 0, 255, out=out)
    return out.astype(np.uint8)


def _text(img: np.ndarray, s: str, org: tuple[int, int], scale: float, color, thick: int) -> None:
    """Text with a dark outline, readable on any background."""
    cv2.putText(img, s, org, _FONT, scale, (0, 0, 0), thick + 2, cv2.LINE_AA)
    cv2.putText(img, s, org, _FONT, scale, color, thick, cv2.LINE_AA)


def _shade(img: np.ndarray, r0: int, c0: int, r1: int, c1: int, alpha: float = 0.6) -> None:
    """Darken a rectangle in place (semi-transparent panel)."""
    r0, c0 = max(r0, 0), max(c0, 0)
    r1, c1 = min(r1, img.shape[0]), min(c1, img.shape[1])
    if r1 > r0 and c1 > c0:
        img[r0:r1, c0:c1] = (img[r0:r1, c0:c1] * (1.0 - alpha)).astype(np.uint8)


def render_overlay(
    image: Radiograph | np.ndarray,
    result: Result,
    *,
    max_side_px: int | None = None,
) -> np.ndarray:
    """Draw the foci of ``result`` over ``image``.

    Parameters
    ----------
    image : Radiograph or ndarray (H, W)
        The analysed radiograph (higher = denser, shown bright).
    result : Result
        What :func:`calcidetect.detect` returned for it (same grid).
    max_side_px : int, optional
        Downscale so that the longer side is at most this (thumbnails).
        Contours are traced at full resolution (on the focus mask dilated
        by about 2 output pixels, so the outline does not hide the focus)
        and scaled, so small foci stay visible (foci smaller than a few
        output pixels get a ring).

    Returns
    -------
    ndarray (h, w, 3) of uint8, RGB
        ``(h, w) == (H, W)`` unless ``max_side_px`` shrinks it.

    Notes
    -----
    Colours: :data:`PATTERN_COLORS`.  Line width is 1 px below 1000 px of
    output and 2 px above.  Renders whose longer side is at least
    :data:`MIN_ANNOTATED_SIDE_PX` also get the focus ids, a legend with the
    count per pattern and a footer (disclaimer; spacing when assumed).

    Examples
    --------
    >>> import numpy as np
    >>> from calcidetect.result import Result
    >>> lab = np.zeros((40, 50), np.int32)
    >>> res = Result([], lab, lab > 0, lab == 0, {}, (0.2, 0.2), "assumed")
    >>> render_overlay(np.zeros((40, 50), np.float32), res).shape
    (40, 50, 3)
    """
    pixels = image.pixels if isinstance(image, Radiograph) else np.asarray(image)
    if pixels.ndim != 2:
        raise ValueError(f"render_overlay expects a 2-D image, got shape {pixels.shape}")
    labels = result.labels
    if labels.shape != pixels.shape:
        raise ValueError(f"labels shape {labels.shape} differs from image shape {pixels.shape}")
    h, w = pixels.shape
    scale = 1.0
    if max_side_px is not None and max(h, w) > max_side_px:
        scale = max_side_px / max(h, w)
    gray = _display_window(pixels, result.body_mask)
    if scale != 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
    canvas = np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
    oh, ow = canvas.shape[:2]
    side = max(oh, ow)
    thick = 1 if side < 1000 else 2
    annotate = side >= MIN_ANNOTATED_SIDE_PX
    font_scale = max(0.35, side / 2400.0)
    font_thick = 1 if side < 2000 else 2

    # contour drawn `gap` input pixels outside the focus (about 2 output pixels)
    gap = max(1, round(2 / scale))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * gap + 1, 2 * gap + 1))
    counts = {p: 0 for p in PATTERNS}
    labels_drawn: list[tuple[str, tuple[int, int], tuple[int, int, int]]] = []
    for focus in sorted(result.foci, key=lambda f: f.id):
        pattern = str(focus.pattern)
        if pattern in counts:
            counts[pattern] += 1
        color = PATTERN_COLORS.get(pattern, _FALLBACK_COLOR)
        r0, c0, r1, c1 = (int(v) for v in focus.bbox)
        r0p, c0p = max(r0 - gap - 1, 0), max(c0 - gap - 1, 0)
        r1p, c1p = min(r1 + gap + 1, h), min(c1 + gap + 1, w)
        sub = (labels[r0p:r1p, c0p:c1p] == focus.id).astype(np.uint8)
        sub = cv2.dilate(sub, kernel)  # ring just outside the focus: the focus stays visible
        contours, _ = cv2.findContours(sub, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        pts_list = []
        for cnt in contours:
            pts = cnt.astype(np.float64)
            pts[:, 0, 0] += c0p
            pts[:, 0, 1] += r0p
            pts_list.append(np.round(pts * scale).astype(np.int32))
        extent = (max(r1 - r0, c1 - c0) + 2 * gap) * scale
        if pts_list:
            cv2.drawContours(canvas, pts_list, -1, color, thick, cv2.LINE_AA if thick > 1 else 8)
        if extent < 4:  # too small to see as a contour: add a ring around it
            cy = round(float(focus.centroid_rc[0]) * scale)
            cx = round(float(focus.centroid_rc[1]) * scale)
            radius = max(3, round(side / 200))
            cv2.circle(canvas, (cx, cy), radius, color, thick, cv2.LINE_AA)
        if annotate:
            org = (min(round((c1 + gap) * scale) + 2, ow - 1), max(round((r0 - gap) * scale), 0))
            labels_drawn.append((str(focus.id), org, color))

    if annotate:
        # ids after all contours, so no contour crosses a number
        (_, th), _ = cv2.getTextSize("0", _FONT, font_scale * 0.8, font_thick)
        for s, (x, y), color in labels_drawn:
            _text(canvas, s, (x, max(y + th, th + 1)), font_scale * 0.8, color, font_thick)
        _draw_legend(canvas, counts, font_scale, font_thick)
        _draw_footer(canvas, result, font_scale, font_thick)
    return canvas


def _draw_legend(canvas: np.ndarray, counts: dict[str, int], scale: float, thick: int) -> None:
    entries = [(p, f"{p}: {counts[p]}") for p in PATTERNS]
    sizes = [cv2.getTextSize(t, _FONT, scale, thick)[0] for _, t in entries]
    line_h = max(s[1] for s in sizes) * 2
    pad = max(4, line_h // 3)
    swatch = line_h - pad
    width = pad * 3 + swatch + max(s[0] for s in sizes)
    height = pad * 2 + line_h * len(entries)
    _shade(canvas, 0, 0, height, width, 0.65)
    for i, (p, t) in enumerate(entries):
        y0 = pad + i * line_h
        color = PATTERN_COLORS[p]
        cv2.rectangle(canvas, (pad, y0 + pad // 2), (pad + swatch, y0 + pad // 2 + swatch), color, -1)
        text_y = y0 + (line_h + sizes[i][1]) // 2
        cv2.putText(canvas, t, (pad * 2 + swatch, text_y), _FONT, scale, (255, 255, 255), thick, cv2.LINE_AA)


def _draw_footer(canvas: np.ndarray, result: Result, scale: float, thick: int) -> None:
    text = _FOOTER
    if result.spacing_source == "assumed":
        sp = result.pixel_spacing_mm
        text += f" | spacing assumed: {float(sp[0]):g} x {float(sp[1]):g} mm/px"
    fs = scale * 0.8
    (tw, th), base = cv2.getTextSize(text, _FONT, fs, thick)
    oh, ow = canvas.shape[:2]
    if tw + 8 > ow:  # shrink to fit narrow images
        fs *= (ow - 8) / (tw + 8)
        (tw, th), base = cv2.getTextSize(text, _FONT, fs, thick)
    band = th + base + 8
    _shade(canvas, oh - band, 0, oh, ow, 0.6)
    cv2.putText(canvas, text, (4, oh - base - 4), _FONT, fs, (255, 255, 255), thick, cv2.LINE_AA)


def encode_png(rgb: np.ndarray) -> bytes:
    """PNG bytes of an RGB (H, W, 3) or grayscale / uint16 (H, W) array."""
    arr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR) if rgb.ndim == 3 else rgb
    ok, buf = cv2.imencode(".png", arr, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    if not ok:  # pragma: no cover - cv2 only fails on unsupported dtypes
        raise ValueError("PNG encoding failed")
    return buf.tobytes()


def encode_jpeg(rgb: np.ndarray, quality: int = 85) -> bytes:
    """JPEG bytes of an RGB (H, W, 3) array (for thumbnails)."""
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()


def write_overlay(
    image: Radiograph | np.ndarray,
    result: Result,
    path: str | os.PathLike[str],
    **kwargs: Any,
) -> None:
    """Render with :func:`render_overlay` and write a PNG atomically to ``path``."""
    atomic_write_bytes(path, encode_png(render_overlay(image, result, **kwargs)))
