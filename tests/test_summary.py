"""Image summary: counts, burden, distribution, and hints that never diagnose."""

from __future__ import annotations

from calcidetect.config import Config
from calcidetect.result import Focus
from calcidetect.summary import summarise


def _focus(i, pattern, rc, area):
    return Focus(id=i, pattern=pattern, scores={}, centroid_rc=rc, bbox=(0, 0, 1, 1), area_px=1, area_mm2=area)


def test_counts_burden_and_localized():
    foci = [_focus(1, "plaque", (10, 10), 5.0), _focus(2, "plaque", (20, 20), 3.0)]
    s = summarise(foci, (0.2, 0.2), "PixelSpacing", Config())
    assert s["counts"]["plaque"] == 2 and s["burden_mm2"]["plaque"] == 8.0
    assert s["total_burden_mm2"] == 8.0
    assert s["distribution"] == "localized"
    assert any("circumscripta" in h for h in s["hints"])


def test_diffuse_plaques_hint_universalis_and_never_diagnose():
    # three plaques 100 mm apart: three regions
    foci = [_focus(i + 1, "plaque", (i * 500, 0), 4.0) for i in range(3)]
    s = summarise(foci, (0.2, 0.2), "assumed", Config())
    assert s["distribution"] == "diffuse"
    assert s["spacing_assumed"] is True
    assert any("universalis" in h for h in s["hints"])
    assert all(h.startswith("pattern consistent with") for h in s["hints"])
    assert "not a diagnostic device" in s["disclaimer"]


def test_no_foci():
    s = summarise([], (0.2, 0.2), "PixelSpacing", Config())
    assert s["n_foci"] == 0 and s["distribution"] == "none" and s["hints"] == []
