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
