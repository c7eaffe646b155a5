"""Small hand-made radiograph-like arrays with known answers (for detector tests).

A limb is a soft-tissue slab whose path length follows an ellipse across its
width, in air; bones are projected hollow tubes (bright cortex, fainter
medulla); deposits are added on top.  Values are attenuation-like (higher =
denser) with Gaussian noise.  Spacing 0.2 mm unless said.
"""

from __future__ import annotations

import numpy as np

SPACING_MM = 0.2
NOISE = 1.0


def limb(shape=(600, 400), width_px=300, rng=None, tissue=60.0, air=10.0):
    """Air with a vertical limb of soft tissue centred in the image."""
    rng = np.random.default_rng(0) if rng is None else rng
    h, w = shape
    x = np.arange(w) - (w - 1) / 2
    half = width_px / 2
    profile = np.sqrt(np.clip(1 - (x / half) ** 2, 0, None))
    img = air + (tissue - air) * np.broadcast_to(profile, shape)
    img = img + np.where(np.abs(x) <= half, 4.0, 0.0)[None, :]  # skin step
    return img.astype(np.float32), rng


def add_tube(img, c0, c1, r0, r1, density=60.0, cortex_px=5):
    """A vertical hollow bone between columns c0..c1, rows r0..r1 (projected)."""
    half = (c1 - c0) / 2
    centre = (c0 + c1) / 2
    x = np.arange(img.shape[1]) - centre
    outer = np.sqrt(np.clip(half**2 - x**2, 0, None))
    inner_r = max(half - cortex_px, 1)
    inner = np.sqrt(np.clip(inner_r**2 - x**2, 0, None))
    chord = (outer - 0.6 * inner) / half  # cortex path longer than medulla
    img[r0:r1, :] += (density * chord)[None, :]
    return img


def add_disc(img, r, c, radius_px, contrast):
    yy, xx = np.ogrid[: img.shape[0], : img.shape[1]]
    d2 = (yy - r) ** 2 + (xx - c) ** 2
    img += contrast * np.clip(1 - np.sqrt(d2) / (radius_px + 0.5), 0, 1) ** 0.3 * (d2 <= (radius_px + 0.5) ** 2)
    return img


def add_streak(img, r0, r1, c, width_px, contrast):
    img[r0:r1, c - width_px // 2 : c - width_px // 2 + width_px] += contrast
    return img


def finish(img, rng, noise=NOISE):
    return (img + rng.normal(0, noise, img.shape)).astype(np.float32)
