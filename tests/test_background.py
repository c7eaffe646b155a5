"""Soft-tissue floor and noise helpers of calcidetect.background."""

import numpy as np
import pytest

from calcidetect.background import region_opening


def _limb_with_dot(shape=(200, 240)):
    """A smooth limb (a wide ramp inside a body mask) with a small bright dot and noise."""
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    body = np.abs(xx - shape[1] / 2) < 80
    image = np.where(body, 100.0 + 0.2 * yy + 10.0 * np.cos(xx / 40.0), 5.0)
    image[(yy - 100) ** 2 + (xx - 120) ** 2 <= 9] += 40.0
    return (image + rng.normal(0, 1.0, shape)).astype(np.float32), body


@pytest.mark.parametrize("factor", [2, 3])
def test_region_opening_coarse_smoothing_close_to_fine(factor):
    image, body = _limb_with_dot()
    fine = region_opening(image, body, 15.0, smooth=True)
    coarse = region_opening(image, body, 15.0, smooth=True, smooth_grid_factor=factor)
    inner = body & (np.abs(np.mgrid[:200, :240][1] - 120) < 60)  # away from the body's edges
    # within a small fraction of the noise sigma (1.0) inside the body
    assert np.abs(coarse - fine)[inner].max() < 0.1
    # the dot (3 px radius) is removed by either floor
    assert coarse[100, 120] < image[100, 120] - 30


def test_region_opening_smooth_grid_factor_one_is_default():
    image, body = _limb_with_dot()
    np.testing.assert_array_equal(
        region_opening(image, body, 15.0, smooth=True, smooth_grid_factor=1), region_opening(image, body, 15.0, smooth=True)
    )
