"""Tests of the overlay renderer, the HTML report helpers and the text table."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from calcidetect import render
from calcidetect.radiograph import Radiograph
from calcidetect.report_html import bar_chart_svg
from calcidetect.report_text import format_foci_table
from calcidetect.result import PATTERNS, Focus, Result


def _result(shape=(600, 800), spacing_source="PixelSpacing"):
    """Three square foci, one per pattern, on a flat body."""
    labels = np.zeros(shape, np.int32)
    foci = []
    for i, (pattern, (r, c, s)) in enumerate(
        zip(("punctate", "lobular", "linear"), ((100, 400, 6), (300, 200, 40), (450, 600, 20))), start=1
    ):
        labels[r : r + s, c : c + s] = i
        foci.append(
            Focus(i, pattern, {p: float(p == pattern) for p in PATTERNS}, (r + s / 2, c + s / 2),
                  (r, c, r + s, c + s), s * s, s * s * 0.01, {"diameter_mm": s * 0.1})
        )
    body = np.zeros(shape, bool)
    body[50:-50, 50:-50] = True
    return Result(foci, labels, np.zeros(shape, bool), body, {}, (0.1, 0.1), spacing_source)


def _pixels(shape=(600, 800)):
    rng = np.random.default_rng(0)
    px = np.full(shape, 100.0, np.float32) + rng.normal(0, 5, shape).astype(np.float32)
    px[50:-50, 50:-50] += 200
    return px


def test_overlay_shape_and_contour_colours():
    res = _result()
    img = render.render_overlay(Radiograph(_pixels()), res)
    assert img.shape == (600, 800, 3) and img.dtype == np.uint8
    # the lobular square (rows 300-340, cols 200-240) gets a vermillion ring just outside it
    ring = img[296:344, 196:244].reshape(-1, 3)
    assert (np.abs(ring.astype(int) - render.PATTERN_COLORS["lobular"]).sum(axis=1) < 40).sum() > 40
    inside = img[305:335, 205:235]
    assert (inside[..., 0] == inside[..., 1]).all()  # the focus itself stays grey
    # the legend shows every pattern's colour
    legend = img[:150, :250].reshape(-1, 3).astype(int)
    for p in PATTERNS:
        assert (np.abs(legend - render.PATTERN_COLORS[p]).sum(axis=1) < 10).any(), p


def test_display_window_is_robust_to_outliers():
    px = _pixels()
    px[10, 10] = 1e6  # a metal pixel outside the body
    px[300, 300] = -1e6
    img = render.render_overlay(px, _result())
    body = img[200:250, 500:550, 0]
    assert 100 < body.mean() < 255  # not crushed to black by the outlier
    assert body.std() > 1


def test_thumbnail_keeps_small_foci_visible():
    res = _result()
    thumb = render.render_overlay(_pixels(), res, max_side_px=256)
    assert max(thumb.shape[:2]) == 256 and thumb.shape[2] == 3
    colour = np.array(render.PATTERN_COLORS["punctate"])
    # the 6-px punctate focus is ~2 px in the thumbnail: it gets a ring in its colour
    near = thumb[20:45, 115:145].reshape(-1, 3).astype(int)
    assert (np.abs(near - colour).sum(axis=1) < 60).any()


def test_contours_work_per_focus_bbox(monkeypatch):
    seen = []
    original = cv2.findContours

    def spy(mask, *args):
        seen.append(mask.shape)
        return original(mask, *args)

    monkeypatch.setattr(cv2, "findContours", spy)
    render.render_overlay(_pixels(), _result())
    assert len(seen) == 3 and all(h * w < 100 * 100 for h, w in seen)


def test_empty_result_and_assumed_spacing(tmp_path):
    labels = np.zeros((120, 90), np.int32)
    res = Result([], labels, labels > 0, labels == 0, {}, (0.15, 0.15), "assumed")
    img = render.render_overlay(np.zeros((120, 90), np.float32), res)  # flat image: no crash
    assert img.shape == (120, 90, 3)
    path = tmp_path / "sub/o.png"
    render.write_overlay(_pixels(), _result(spacing_source="assumed"), path)
    back = cv2.imread(str(path))
    assert back.shape == (600, 800, 3)
    assert back[-5:, :300].mean() < back[300:310, 300:310].mean()  # footer band at the bottom


def test_render_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="shape"):
        render.render_overlay(np.zeros((10, 10)), _result())
    with pytest.raises(ValueError, match="2-D"):
        render.render_overlay(np.zeros((600, 800, 3)), _result())


def test_palette_is_distinct():
    colours = set(render.PATTERN_COLORS.values())
    assert len(colours) == len(PATTERNS) and set(render.PATTERN_COLORS) == set(PATTERNS)


def test_bar_chart_svg():
    svg = bar_chart_svg("Burden", {p: float(i) for i, p in enumerate(PATTERNS)}, unit=" mm")
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert all(p in svg for p in PATTERNS)
    assert "nan" not in bar_chart_svg("zeros", {p: 0 for p in PATTERNS})


def test_format_foci_table():
    res = _result()
    text = format_foci_table(res)
    lines = text.splitlines()
    assert lines[0].split()[:2] == ["id", "pattern"]
    assert len(lines) == 2 + 3 + 1
    assert "lobular" in lines[3] and "(300, 200, 340, 240)" in lines[3] and "16.000" in lines[3]
    assert lines[-1].startswith("3 foci; spacing 0.1 x 0.1 mm/px (PixelSpacing)")
    labels = np.zeros((5, 5), np.int32)
    empty = Result([], labels, labels > 0, labels == 0, {}, (0.15, 0.15), "assumed")
    out = format_foci_table(empty)
    assert out.startswith("no foci found") and "assumed" in out
