"""Per-label statistics agree with scipy.ndimage and scikit-image."""

import numpy as np
import pytest
from scipy import ndimage as ndi
from skimage.measure import regionprops_table

from calcidetect.labelstats import label_max, label_mean, label_median, label_min, label_moments, label_solidity


def _random_labels(seed: int, shape=(60, 80), fill=0.55):
    rng = np.random.default_rng(seed)
    labels, n = ndi.label(rng.random(shape) < fill)
    values = rng.normal(size=shape).astype(np.float32)
    values[rng.random(shape) < 0.2] = 1.0  # ties
    return labels, n, values


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(
    "ours, theirs",
    [(label_max, ndi.maximum), (label_min, ndi.minimum), (label_mean, ndi.mean), (label_median, ndi.median)],
)
def test_statistic_matches_ndimage(seed, ours, theirs):
    labels, n, values = _random_labels(seed)
    expected = np.asarray(theirs(values, labels, np.arange(1, n + 1)))
    np.testing.assert_array_equal(ours(values, labels, n), expected)


def test_empty_label_max_is_zero_like_ndimage():
    labels = np.array([[1, 0], [0, 3]])
    values = np.array([[-2.0, 9.0], [9.0, -1.0]])
    np.testing.assert_array_equal(label_max(values, labels, 3), [-2.0, 0.0, -1.0])
    assert np.isnan(label_mean(values, labels, 3)[1])


@pytest.mark.parametrize("seed", [0, 3])
def test_moments_match_regionprops(seed):
    labels, n, _ = _random_labels(seed, fill=0.6)
    props = regionprops_table(
        labels, properties=("label", "area", "centroid", "axis_major_length", "axis_minor_length", "orientation")
    )
    ours = label_moments(labels, n)
    for key, theirs in [
        ("area", "area"),
        ("centroid_r", "centroid-0"),
        ("centroid_c", "centroid-1"),
        ("axis_major_length", "axis_major_length"),
        ("axis_minor_length", "axis_minor_length"),
    ]:
        np.testing.assert_allclose(ours[key], props[theirs], rtol=1e-9, atol=1e-6)
    # orientation is defined modulo pi for a round blob; compare where it is well defined
    elongated = props["axis_major_length"] > props["axis_minor_length"] + 1e-6
    np.testing.assert_allclose(ours["orientation"][elongated], props["orientation"][elongated], atol=1e-9)


def test_moments_of_large_labels_match_regionprops(monkeypatch):
    """Labels above the crop threshold (OpenCV moments on their box) agree with regionprops and the per-pixel sums."""
    import calcidetect.labelstats as ls

    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[:200, :240]
    labels = np.zeros((200, 240), np.int32)
    labels[(yy - 60) ** 2 / 40.0**2 + (xx - 70) ** 2 / 25.0**2 <= 1] = 1  # an ellipse
    labels[150:190, 10:230] = 2  # a bar (a tie-free orientation)
    labels[(yy - 60) ** 2 + (xx - 180) ** 2 <= 30**2] = 3  # a disk: a == c exactly, the tie rule decides
    labels[(rng.random(labels.shape) < 0.02) & (labels == 0)] = 4  # scattered pixels: a small label
    props = regionprops_table(labels, properties=("area", "centroid", "axis_major_length", "axis_minor_length", "orientation"))
    monkeypatch.setattr(ls, "_CROP_MOMENTS_MIN_PIXELS", 500)  # labels 1-3 on crops, 4 per pixel
    ours = label_moments(labels, 4)
    monkeypatch.setattr(ls, "_CROP_MOMENTS_MIN_PIXELS", 10**9)  # every label per pixel
    sums = label_moments(labels, 4)
    for key, theirs in [("area", "area"), ("centroid_r", "centroid-0"), ("centroid_c", "centroid-1"),
                        ("axis_major_length", "axis_major_length"), ("axis_minor_length", "axis_minor_length")]:
        np.testing.assert_allclose(ours[key], props[theirs], rtol=1e-9, atol=1e-6)
        np.testing.assert_allclose(ours[key], sums[key], rtol=1e-12, atol=0)
    np.testing.assert_allclose(ours["orientation"][:2], props["orientation"][:2], atol=1e-9)
    assert ours["orientation"][2] == sums["orientation"][2] == -np.pi / 4  # the disk's tie: the same rule both ways


def test_solidity_matches_regionprops_for_chosen_labels():
    labels, n, _ = _random_labels(4, fill=0.6)
    which = np.arange(n) % 3 == 0
    ours = label_solidity(labels, which, ndi.find_objects(labels, n))
    props = regionprops_table(labels, properties=("solidity",))
    np.testing.assert_array_equal(ours[which], props["solidity"][which])
    assert np.isnan(ours[~which]).all()


@pytest.mark.parametrize("seed", range(6))
def test_convex_area_matches_skimage_hull(seed):
    from skimage.morphology import convex_hull_image

    from calcidetect.labelstats import convex_area

    rng = np.random.default_rng(seed)
    for _ in range(100):
        h, w = rng.integers(1, 30, 2)
        if rng.random() < 0.5:
            mask = rng.random((h, w)) < 0.3 * rng.random()
        else:
            mask = ndi.gaussian_filter(rng.random((h, w)), 3 * rng.random()) > 0.5
        if mask.any():
            assert convex_area(mask) == int(convex_hull_image(mask).sum())


def test_convex_area_of_empty_mask_is_zero():
    from calcidetect.labelstats import convex_area

    assert convex_area(np.zeros((3, 4), bool)) == 0


def test_unique_half_integer_points_matches_numpy_unique():
    from calcidetect.labelstats import _unique_half_integer_points

    rng = np.random.default_rng(2)
    pts = rng.integers(0, 40, (500, 2)) / 2.0 - 0.5  # half-integers from -0.5
    np.testing.assert_array_equal(_unique_half_integer_points(pts), np.unique(pts, axis=0))


@pytest.mark.parametrize("n_labels", [3, 70_000])
def test_label_median_many_and_few_labels(n_labels):
    rng = np.random.default_rng(4)
    labels = rng.integers(0, n_labels + 1, (300, 400))
    values = rng.normal(size=labels.shape).astype(np.float32)
    n = int(labels.max())
    present = np.bincount(labels.ravel(), minlength=n + 1)[1:] > 0  # empty labels give NaN here, 0 in scipy
    expected = np.asarray(ndi.median(values, labels, np.arange(1, n + 1)), np.float32)
    got = label_median(values, labels, n)
    np.testing.assert_array_equal(got[present], expected[present])
    assert np.isnan(got[~present]).all()
