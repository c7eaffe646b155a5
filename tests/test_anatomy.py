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


def test_nearest_label_agrees_with_exact_voronoi_away_from_ties():
    from scipy import ndimage as ndi

    from calcidetect.anatomy import _nearest_label

    labels = np.zeros((120, 160), np.int32)
    labels[20:50, 30:60] = 1
    labels[70:100, 40:70] = 2
    labels[30:90, 120:130] = 3
    distance, nearest = _nearest_label(labels)
    exact, (ri, ci) = ndi.distance_transform_edt(labels == 0, return_indices=True)
    # every labelled pixel is its own nearest
    np.testing.assert_array_equal(nearest[labels > 0], labels[labels > 0])
    assert np.all(distance[labels > 0] == 0)
    # within 2.5 % of the Euclidean distance
    assert np.all(np.abs(distance - exact) <= 0.025 * exact + 1e-6)
    # the same owner wherever the second-nearest label is clearly farther
    second = np.full(labels.shape, np.inf)
    for k in (1, 2, 3):
        d_k = ndi.distance_transform_edt(labels != k)
        second = np.where(labels[ri, ci] == k, second, np.minimum(second, d_k))
    clear = second > 1.05 * exact + 1.0
    np.testing.assert_array_equal(nearest[clear], labels[ri, ci][clear])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fill_bone_holes_matches_hole_filling_definition(seed):
    from scipy import ndimage as ndi

    from calcidetect.anatomy import _EDGE_CLOSED_FACTOR, _fill_bone_holes

    rng = np.random.default_rng(seed)
    dense = ndi.gaussian_filter(rng.random((80, 100)), 2) > 0.52
    excess = rng.normal(0.5, 1.0, dense.shape).astype(np.float32)
    min_excess = 0.3
    # the definition: holes of the mask padded with bone; enclosed ones are holes of the mask itself
    holes = ndi.binary_fill_holes(np.pad(dense, 1, constant_values=True))[1:-1, 1:-1] & ~dense
    labels, n = ndi.label(holes)
    med = np.zeros(n + 1)
    med[1:] = ndi.median(excess, labels, np.arange(1, n + 1))
    enclosed = np.zeros(n + 1, bool)
    enclosed[labels[ndi.binary_fill_holes(dense) & ~dense]] = True
    accept = np.where(enclosed, med > min_excess, med > _EDGE_CLOSED_FACTOR * min_excess)
    accept[0] = False
    np.testing.assert_array_equal(_fill_bone_holes(dense, excess, min_excess), dense | accept[labels])
    # against a soft-tissue level: enclosed holes must rise above it, edge-closed ones as before
    soft_level = 0.4
    accept = np.where(enclosed, med > soft_level + min_excess, med > _EDGE_CLOSED_FACTOR * min_excess)
    accept[0] = False
    np.testing.assert_array_equal(_fill_bone_holes(dense, excess, min_excess, soft_level), dense | accept[labels])


def test_a_foramen_at_the_soft_tissues_level_is_not_filled_a_denser_medulla_is():
    # two bone rings; around them soft tissue whose excess over the wide
    # floor is 1.0 (a thick thigh under a floor that sits below it), the
    # plate threshold 0.8: one ring holds soft tissue at that level (a
    # foramen, where phleboliths are sought), the other a medulla at 2.5
    from calcidetect.anatomy import _fill_bone_holes

    yy, xx = np.mgrid[:120, :240]
    d1, d2 = np.hypot(yy - 60, xx - 60), np.hypot(yy - 60, xx - 180)
    dense = ((d1 > 30) & (d1 <= 40)) | ((d2 > 30) & (d2 <= 40))
    excess = np.where(dense, 10.0, 1.0).astype(np.float32)
    excess[d2 <= 30] = 2.5
    filled = _fill_bone_holes(dense, excess, 0.8, soft_level=1.0)
    assert not filled[d1 <= 28].any()
    assert filled[d2 <= 30].all()
    # measured against zero instead, the foramen looked dense and was filled
    assert _fill_bone_holes(dense, excess, 0.8)[d1 <= 28].all()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gap_centres_match_center_of_mass(seed):
    from scipy import ndimage as ndi

    from calcidetect.anatomy import _gap_centres

    rng = np.random.default_rng(seed)
    gap = cv2.GaussianBlur(rng.random((90, 130)).astype(np.float32), (0, 0), 3) > 0.53
    labels, n = ndi.label(cv2.dilate(gap.view(np.uint8), np.ones((5, 5), np.uint8)).astype(bool))
    expected = np.array(ndi.center_of_mass(gap, labels, np.arange(1, n + 1))).reshape(-1, 2)
    np.testing.assert_array_equal(_gap_centres(gap, labels, n), expected)


@pytest.mark.parametrize("radius", [1.0, 2.0, 2.5, 3.0, 7.0])
@pytest.mark.parametrize("seed", [0, 1])
def test_at_least_from_edge_matches_distance_threshold(radius, seed):
    from calcidetect.anatomy import _at_least_from_edge, _distance_to

    rng = np.random.default_rng(seed)
    mask = cv2.GaussianBlur(rng.random((80, 110)).astype(np.float32), (0, 0), 4) > 0.5
    np.testing.assert_array_equal(_at_least_from_edge(mask, radius), _distance_to(mask) >= radius)
    np.testing.assert_array_equal(_at_least_from_edge(np.ones((9, 9), bool), radius), np.ones((9, 9), bool))


def test_cortex_peak_ratio_sees_a_ring_inside_a_blurred_edge_and_none_in_a_ball():
    import cv2

    from calcidetect.anatomy import _cortex_peak_ratio

    # two discs of radius 14 px at 0.36 mm: a bone whose cortex ring (3-5 px
    # deep) is denser than its core but whose outermost pixels are blurred
    # (as on a coarse film), and a homogeneous ball (a deposit without cortex)
    rows, cols = np.mgrid[0:40, 0:80]
    d_bone = np.hypot(rows - 20, cols - 20)
    d_ball = np.hypot(rows - 20, cols - 60)
    labels = np.where(d_bone <= 14, 1, np.where(d_ball <= 14, 2, 0)).astype(np.int32)
    depth_bone = 14 - d_bone
    bone = np.where(depth_bone < 2, 0.3, np.where(depth_bone < 5, 1.3, 1.0))
    ball = np.sqrt(np.clip(14.5**2 - d_ball**2, 0, None)) / 14.5
    excess = np.where(labels == 1, bone, np.where(labels == 2, ball, 0.0)).astype(np.float32)
    inside = cv2.distanceTransform((labels > 0).astype(np.uint8), cv2.DIST_L2, 3)
    ratio = _cortex_peak_ratio(labels, 2, inside, excess, 0.36)
    assert ratio[0] > 1.2  # the ring band, not the faint outer pixels
    assert ratio[1] < 1.0  # a ball is densest at its centre
