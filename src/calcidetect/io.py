"""Placeholder: replaced by the loader (issue 2)."""
from __future__ import annotations


def load_image(path, *, max_pixels=None):
    raise NotImplementedError("load_image is being written (issue 2)")
