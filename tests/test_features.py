"""Feature helpers agree with the whole-image computations they replace."""

import numpy as np
from scipy import ndimage as ndi

from calcidetect.features import _max_inside_distance


def _foci(seed: int):
    rng = np.random.default_rng(seed)
    labels, n = ndi.label(ndi.gaussian_filter(rng.random((90, 120)), 2) > 0.56, structure=np.ones((3, 3), bool))
    bone = ndi.gaussian_filter(rng.random((90, 120)), 4) > 0.53
    return labels, n, bone & (labels == 0)


def test_max_inside_distance_matches_whole_image_edt():
    labels, n, _ = _foci(2)
    inside = ndi.distance_transform_edt(labels > 0)
    expected = ndi.maximum(inside, labels, np.arange(1, n + 1))
    np.testing.assert_array_equal(_max_inside_distance(labels, ndi.find_objects(labels, n)), expected)


import pytest


@pytest.mark.parametrize("seed", range(6))
def test_nearest_bone_matches_the_exact_feature_transform(seed):
    """Each focus's distance to bone, and the bone pixel nearest its centre, are the exact
    Euclidean ones (scipy's feature transform), near bone or far from it."""
    from calcidetect.features import _nearest_bone

    rng = np.random.default_rng(seed)
    labels = np.zeros((300, 400), np.int32)
    for k in range(1, 4):  # a few small foci, far apart: the crop path
        r, c = rng.integers(10, 290), rng.integers(10, 390)
        labels[r : r + 3, c : c + 4] = k
    labels, n = ndi.label(labels > 0, structure=np.ones((3, 3), bool))
    bone = np.zeros(labels.shape, bool)
    if seed % 2:
        bone[rng.integers(0, 300, 5), rng.integers(0, 400, 5)] = True  # a few scattered bone pixels
    else:
        bone[:, :20] = True  # one bone at the side: most foci far from it
    bone &= labels == 0
    centres = ndi.center_of_mass(labels > 0, labels, np.arange(1, n + 1))
    r = np.array([int(round(a)) for a, _ in centres])
    c = np.array([int(round(b)) for _, b in centres])
    dist, near_r, near_c = _nearest_bone(bone, labels, n, r, c)
    full, (ri, ci) = ndi.distance_transform_edt(~bone, return_indices=True)
    np.testing.assert_allclose(dist, ndi.minimum(full, labels, np.arange(1, n + 1)), rtol=1e-6)
    # the bone pixel found from each centre is one of its nearest (ties may pick another)
    np.testing.assert_allclose(np.hypot(near_r - r, near_c - c), full[r, c], rtol=1e-6)
    assert bone[near_r, near_c].all()


def test_nearest_bone_with_many_foci_among_many_bones():
    from calcidetect.features import _nearest_bone

    labels, n, bone = _foci(1)
    full = ndi.distance_transform_edt(~bone)
    centres = ndi.center_of_mass(labels > 0, labels, np.arange(1, n + 1))
    r = np.array([int(round(a)) for a, _ in centres])
    c = np.array([int(round(b)) for _, b in centres])
    dist, near_r, near_c = _nearest_bone(bone, labels, n, r, c)
    np.testing.assert_allclose(dist, ndi.minimum(full, labels, np.arange(1, n + 1)), rtol=1e-6)
    np.testing.assert_allclose(np.hypot(near_r - r, near_c - c), full[r, c], rtol=1e-6)
    assert bone[near_r, near_c].all()


def test_distances_with_nothing_in_view_read_far():
    """No skin, bone or joint on the film (tissue fills it): every distance is the documented 1000 mm."""
    import calcidetect as cd

    rng = np.random.default_rng(0)
    img = rng.normal(100, 1, (400, 400)).astype(np.float32)
    yy, xx = np.mgrid[:400, :400]
    img[(yy - 200) ** 2 + (xx - 200) ** 2 <= 16] += 30
    (focus,) = cd.detect(img, pixel_spacing_mm=0.15).foci
    assert focus.features["skin_depth_mm"] == 1000.0
    assert focus.features["distance_to_bone_mm"] == 1000.0
    assert focus.features["distance_to_joint_mm"] == 1000.0
