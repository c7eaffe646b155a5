"""Soft-tissue floor and noise helpers of calcidetect.background."""

import numpy as np
import pytest
from scipy import ndimage as ndi

from calcidetect.background import region_line_opening, region_opening


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


def _band_between_bone_and_skin(shape=(120, 160)):
    """Soft tissue 12 px wide between a bone (above) and air (below), thicker towards the bone."""
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    band = (yy >= 50) & (yy < 62)
    image = np.where(band, 100.0 + 3.0 * (62 - yy), 0.0).astype(np.float32)
    return image, band


def test_line_opening_keeps_a_narrow_band_that_a_disk_flattens():
    image, band = _band_between_bone_and_skin()
    inner = band.copy()
    inner[:, :25] = inner[:, -25:] = False  # a line fits along the band here
    line_floor = region_line_opening(image, band, 40.0)
    # (openings run on 16 bits over the band's range: within half a step of the exact values)
    np.testing.assert_allclose(line_floor[inner], image[inner], atol=0.5 * np.ptp(image[band]) / 65535 + 1e-4)
    # the disk does not fit in the band: its floor falls to the skin's value,
    # and the tissue next to the bone would stand out as a "mass"
    disk_floor = region_opening(image, band, 20.0)
    assert (image - disk_floor)[inner].max() > 30.0


@pytest.mark.parametrize("factor", [1, 2])
def test_line_opening_removes_a_mass_shorter_than_the_line(factor):
    yy, xx = np.mgrid[:160, :160]
    body = np.ones((160, 160), bool)
    image = (50.0 + 0.1 * xx).astype(np.float32)
    mass = (yy - 80) ** 2 + (xx - 80) ** 2 <= 12**2  # 24 px across
    image[mass] += 40.0
    floor = region_line_opening(image, body, 40.0, grid_factor=factor)
    excess = image - floor
    assert excess[80, 80] > 35.0  # the mass stands out over its floor
    away = ~mass  # the background elsewhere follows the ramp
    away[:, :10] = away[:, -10:] = False
    away &= (yy - 80) ** 2 + (xx - 80) ** 2 > 16**2
    assert np.abs(excess[away]).max() < 1.0


def test_region_opening_inside_only_is_the_same_inside_the_region():
    rng = np.random.default_rng(5)
    image = ndi.gaussian_filter(rng.normal(size=(300, 360)), 2).astype(np.float32)
    region = np.zeros(image.shape, bool)
    region[40:120, 30:200] = True  # a limb in one corner: most of the film lacks support
    region[250:256, 300:340] = True  # and a thin strip
    for factor in (1, 3):
        full = region_opening(image, region, 15.0, grid_factor=factor, smooth=True, smooth_only_lowers=True)
        part = region_opening(image, region, 15.0, grid_factor=factor, smooth=True, smooth_only_lowers=True, inside_only=True)
        np.testing.assert_array_equal(part[region], full[region])


def test_local_significance_inside_only_is_the_same_inside_the_region():
    from calcidetect.background import local_significance

    rng = np.random.default_rng(6)
    response = rng.normal(size=(400, 420)).astype(np.float32)
    region = np.zeros(response.shape, bool)
    region[20:90, 30:400] = True
    region[300:305, 50:60] = True
    full = local_significance(response, region, 1, 40.0)
    part = local_significance(response, region, 1, 40.0, inside_only=True)
    np.testing.assert_array_equal(part[region], full[region])
