"""Fast filters agree with the scipy.ndimage / OpenCV definitions they replace."""

import numpy as np
import pytest
from scipy import ndimage as ndi

from calcidetect.filters import fill_holes


@pytest.mark.parametrize("fill", [0.3, 0.5, 0.6, 0.75])
def test_fill_holes_matches_ndimage(fill):
    mask = np.random.default_rng(7).random((70, 90)) < fill
    np.testing.assert_array_equal(fill_holes(mask), ndi.binary_fill_holes(mask))


@pytest.mark.parametrize("value", [False, True])
def test_fill_holes_uniform(value):
    mask = np.full((5, 6), value)
    np.testing.assert_array_equal(fill_holes(mask), mask)


@pytest.mark.parametrize("radius", [3, 19, 20, 27.4, 45])
@pytest.mark.parametrize("op", ["erode", "dilate"])
@pytest.mark.parametrize("border", ["constant", "replicate"])
def test_grey_morphology_matches_opencv_disk(radius, op, border):
    import cv2

    from calcidetect.filters import disk, grey_morphology

    border_type = {"constant": cv2.BORDER_CONSTANT, "replicate": cv2.BORDER_REPLICATE}[border]
    img = np.random.default_rng(3).normal(size=(120, 150)).astype(np.float32)
    func = cv2.erode if op == "erode" else cv2.dilate
    expected = func(img, disk(radius), borderType=border_type)
    np.testing.assert_array_equal(grey_morphology(img, radius, op, border_type), expected)
