"""Anatomy helpers that replace whole-image computations."""

import cv2
import numpy as np
import pytest

from calcidetect.anatomy import _zero_local_range


@pytest.mark.parametrize("shape", [(600, 40), (257, 30), (3, 5), (1, 7)])
@pytest.mark.parametrize("band_rows", [1, 2, 7, 256])
def test_zero_local_range_in_bands_matches_whole_image(shape, band_rows):
    img = np.random.default_rng(0).integers(0, 3, shape).astype(np.float32)
    kernel = np.ones((3, 3), np.uint8)
    expected = (cv2.dilate(img, kernel) - cv2.erode(img, kernel)) == 0
    np.testing.assert_array_equal(_zero_local_range(img, band_rows), expected)
