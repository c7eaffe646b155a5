"""Placeholder: replaced by the detection pipeline (issue 4)."""
from __future__ import annotations


def detect(image, *, pixel_spacing_mm=None, config=None):
    raise NotImplementedError("detect is being written (issue 4)")
