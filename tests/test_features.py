"""Feature helpers agree with the whole-image computations they replace."""

import numpy as np
from scipy import ndimage as ndi

from calcidetect.features import _max_inside_distance, _min_feature_distance
from calcidetect.filters import feature_distance


def _foci(seed: int):
    rng = np.random.default_rng(seed)
    labels, n = ndi.label(ndi.gaussian_filter(rng.random((90, 120)), 2) > 0.56, structure=np.ones((3, 3), bool))
    bone = ndi.gaussian_filter(rng.random((90, 120)), 4) > 0.53
    return labels, n, bone & (labels == 0)


def test_feature_distance_matches_edt():
    _, _, bone = _foci(0)
    dist, (ri, ci) = ndi.distance_transform_edt(~bone, return_indices=True)
    rows, cols = np.nonzero(np.ones(bone.shape, bool))
    np.testing.assert_array_equal(feature_distance(ri, ci, rows, cols), dist[rows, cols])


def test_min_feature_distance_matches_label_minimum():
    labels, n, bone = _foci(1)
    dist, (ri, ci) = ndi.distance_transform_edt(~bone, return_indices=True)
    expected = ndi.minimum(dist, labels, np.arange(1, n + 1))
    np.testing.assert_array_equal(_min_feature_distance(labels, n, ri, ci), expected)


def test_max_inside_distance_matches_whole_image_edt():
    labels, n, _ = _foci(2)
    inside = ndi.distance_transform_edt(labels > 0)
    expected = ndi.maximum(inside, labels, np.arange(1, n + 1))
    np.testing.assert_array_equal(_max_inside_distance(labels, ndi.find_objects(labels, n)), expected)
