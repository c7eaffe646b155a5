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


@pytest.mark.parametrize("radius", [3, 7.6, 8, 12.5, 15, 27.4, 45])
@pytest.mark.parametrize("op", ["erode", "dilate"])
@pytest.mark.parametrize("border", ["constant", "replicate"])
def test_grey_morphology_matches_opencv_disk(radius, op, border):
    import cv2

    from calcidetect.filters import disk, grey_morphology

    border_type = {"constant": cv2.BORDER_CONSTANT, "replicate": cv2.BORDER_REPLICATE}[border]
    rng = np.random.default_rng(3)
    func = cv2.erode if op == "erode" else cv2.dilate
    for img in (rng.normal(size=(120, 150)).astype(np.float32), (rng.random((120, 150)) < 0.02).astype(np.uint8)):
        expected = func(img, disk(radius), borderType=border_type)
        np.testing.assert_array_equal(grey_morphology(img, radius, op, border_type), expected)


@pytest.mark.parametrize("connectivity, structure", [(4, None), (8, np.ones((3, 3), bool))])
def test_label_components_same_partition_as_ndimage(connectivity, structure):
    from calcidetect.filters import label_components

    mask = np.random.default_rng(5).random((80, 90)) < 0.5
    ours, n = label_components(mask, connectivity)
    theirs, m = ndi.label(mask, structure=structure)
    assert n == m
    # a one-to-one map between the two numberings
    pairs = np.unique(np.stack([ours[mask], theirs[mask]]), axis=1)
    assert pairs.shape[1] == n
    np.testing.assert_array_equal(ours > 0, mask)


@pytest.mark.parametrize("connectivity, structure", [(4, None), (8, np.ones((3, 3), bool))])
def test_sparse_and_empty_masks_are_labelled_on_their_box(connectivity, structure):
    from calcidetect.filters import label_components, label_raster_order

    rng = np.random.default_rng(11)
    mask = np.zeros((300, 400), bool)
    mask[40:90, 250:330] = rng.random((50, 80)) < 0.5  # specks in one corner of the film: labelled on their box
    mask[0, 399] = mask[89, 250] = True  # one speck on the film's corner, one on the box's edge
    theirs, m = ndi.label(mask, structure=structure)
    ours, n = label_raster_order(mask, connectivity)
    assert n == m and ours.shape == mask.shape and ours.dtype == np.int32
    np.testing.assert_array_equal(ours, theirs)
    grouped, k = label_components(mask, connectivity)
    assert k == m and np.unique(np.stack([grouped[mask], theirs[mask]]), axis=1).shape[1] == m
    np.testing.assert_array_equal(grouped > 0, mask)
    for label in (label_components, label_raster_order):
        empty, none = label(np.zeros((30, 40), bool), connectivity)
        assert none == 0 and empty.shape == (30, 40) and empty.dtype == np.int32 and not empty.any()


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("connectivity, structure", [(4, None), (8, np.ones((3, 3), bool))])
@pytest.mark.parametrize("density", [0.3, 0.5, 0.6])
def test_label_raster_order_numbers_as_ndimage(connectivity, structure, density, threads):
    import cv2

    from calcidetect.filters import keep_labels, label_raster_order

    previous = cv2.getNumThreads()
    cv2.setNumThreads(threads)
    try:
        rng = np.random.default_rng(int(10 * density) + connectivity)
        for mask in (rng.random((301, 257)) < density, ndi.gaussian_filter(rng.random((400, 380)), 3) > 0.5):
            ours, n = label_raster_order(mask, connectivity)
            theirs, m = ndi.label(mask, structure=structure)
            assert n == m and ours.dtype == theirs.dtype == np.int32
            np.testing.assert_array_equal(ours, theirs)
            # dropping whole components and renumbering = labelling what is left
            keep = np.zeros(n + 1, bool)
            keep[1:] = rng.random(n) < 0.5
            kept, k = keep_labels(ours, keep)
            again, j = ndi.label(keep[ours], structure=structure)
            assert k == j
            np.testing.assert_array_equal(kept, again)
    finally:
        cv2.setNumThreads(previous)


@pytest.mark.parametrize("seed", [0, 1])
def test_hysteresis_threshold_matches_skimage(seed):
    from skimage.filters import apply_hysteresis_threshold

    from calcidetect.filters import hysteresis_threshold

    image = ndi.gaussian_filter(np.random.default_rng(seed).normal(size=(90, 110)), 1.5).astype(np.float32)
    for low, high in [(0.05, 0.2), (0.1, 0.1), (0.3, 0.1)]:
        np.testing.assert_array_equal(hysteresis_threshold(image, low, high), apply_hysteresis_threshold(image, low, high))


def _normalized_gaussian_reference(image, weight, sigma_px):
    """The whole-image form of the fallback blending (before only thin-support pixels were touched)."""
    from calcidetect import filters

    img = np.asarray(image, np.float32)
    w = np.asarray(weight, np.float32)
    weighted = img * w
    den = filters.gaussian(w, sigma_px)
    out = filters.gaussian(weighted, sigma_px) / np.maximum(den, 1e-6)
    missing = den < filters._MIN_SUPPORT
    sigma = sigma_px
    for _ in range(filters._FALLBACK_LEVELS):
        if not missing.any():
            break
        sigma *= filters._FALLBACK_FACTOR
        den_c = filters.gaussian(w, sigma)
        coarse = filters.gaussian(weighted, sigma) / np.maximum(den_c, 1e-6)
        alpha = np.clip(den / filters._MIN_SUPPORT, 0.0, 1.0)
        np.copyto(out, alpha * out + (1 - alpha) * coarse, where=missing)
        np.maximum(den, den_c, out=den)
        missing = den < filters._MIN_SUPPORT
    if missing.any():
        total = float(w.sum())
        out[missing] = float(weighted.sum() / total) if total > 0 else float(np.median(img))
    return out


@pytest.mark.parametrize("covered", [0.0, 0.02, 0.3, 1.0])
@pytest.mark.parametrize("sigma", [2.0, 7.5])
def test_normalized_gaussian_matches_whole_image_blending(covered, sigma):
    from calcidetect.filters import normalized_gaussian

    rng = np.random.default_rng(11)
    img = rng.normal(size=(160, 200)).astype(np.float32)
    weight = np.zeros(img.shape, np.float32)
    weight[: int(round(covered * img.shape[0])), 60:] = 1.0
    np.testing.assert_array_equal(normalized_gaussian(img, weight, sigma), _normalized_gaussian_reference(img, weight, sigma))


@pytest.mark.parametrize("covered", [0.02, 0.3, 1.0])
@pytest.mark.parametrize("sigma", [2.0, 7.5, 40.0])
def test_normalized_gaussian_needed_pixels_are_unchanged(covered, sigma):
    """With ``needed``, the needed pixels keep their values (fine and pyramid versions); the rest stay finite."""
    from calcidetect.filters import normalized_gaussian, normalized_gaussian_coarse

    rng = np.random.default_rng(12)
    img = rng.normal(size=(260, 300)).astype(np.float32)
    weight = np.zeros(img.shape, np.float32)
    weight[: int(round(covered * img.shape[0])), 60:] = 1.0
    weight[200:203, 10:14] = 1.0  # a small island far from the rest
    needed = weight > 0
    for smooth in (normalized_gaussian, normalized_gaussian_coarse):
        full = smooth(img, weight, sigma)
        part = smooth(img, weight, sigma, needed=needed)
        np.testing.assert_array_equal(part[needed], full[needed])
        assert np.isfinite(part).all()


@pytest.mark.parametrize("density", [0.0, 0.002, 0.05, 0.5])
@pytest.mark.parametrize("radius", [1, 4, 9.5])
def test_dilate_labels_matches_opencv(density, radius):
    import cv2

    from calcidetect.filters import dilate_labels, disk

    rng = np.random.default_rng(int(density * 1000) + int(radius))
    labels, _ = ndi.label(rng.random((90, 120)) < density)
    expected = cv2.dilate(labels.astype(np.float32), disk(radius)).astype(np.int32)
    np.testing.assert_array_equal(dilate_labels(labels, radius), expected)


@pytest.mark.parametrize("min_pixels", [1, 2, 3, 6])
@pytest.mark.parametrize("density", [0.05, 0.3, 0.55])
def test_drop_small_components_matches_bincount(min_pixels, density):
    from calcidetect.filters import drop_small_components

    mask = np.random.default_rng(int(density * 100) + min_pixels).random((70, 90)) < density
    labels, n = ndi.label(mask)
    keep = np.bincount(labels.ravel(), minlength=n + 1) >= min_pixels
    keep[0] = False
    np.testing.assert_array_equal(drop_small_components(mask, min_pixels), keep[labels])


@pytest.mark.parametrize("radius", [0.5, 1.0, 2.0, 2.5, 7.0, 10.0, 13.333333333333334, 20.0])
def test_farther_than_matches_thresholded_distance_transform(radius):
    import cv2

    from calcidetect.filters import farther_than

    rng = np.random.default_rng(int(radius * 10))
    for cut in (0.45, 0.5, 0.56):
        inside = ndi.gaussian_filter(rng.random((150, 170)), 3) > cut
        padded = np.pad(inside, 1, constant_values=True).astype(np.uint8)  # the border is not outside
        dist = cv2.distanceTransform(padded, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[1:-1, 1:-1]
        np.testing.assert_array_equal(farther_than(inside, radius), dist > radius)
        # asked about a few pixels only (one blob near a corner, one inside): the same answers there, False elsewhere
        only = np.zeros(inside.shape, bool)
        only[2:30, 140:168] = rng.random((28, 28)) < 0.3
        only[70:75, 80:90] = True
        np.testing.assert_array_equal(farther_than(inside, radius, only=only), (dist > radius) & only)
        assert not farther_than(inside, radius, only=np.zeros(inside.shape, bool)).any()


@pytest.mark.parametrize("radius", [0.5, 1.0, 2.0, 7.5, 12.0, 30.0])
def test_within_chamfer_distance_matches_thresholded_transform(radius):
    import cv2

    from calcidetect.filters import within_chamfer_distance

    rng = np.random.default_rng(int(radius * 10) + 1)
    for cut in (0.5, 0.58):
        mask = ndi.gaussian_filter(rng.random((140, 180)), 3) > cut
        expected = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 3) <= radius
        np.testing.assert_array_equal(within_chamfer_distance(mask, radius), expected)


@pytest.mark.parametrize("shape", [(513, 40), (700, 31), (1030, 257)])
@pytest.mark.parametrize("radius", [8, 15, 30])
@pytest.mark.parametrize("op", ["erode", "dilate"])
@pytest.mark.parametrize("border", ["constant", "replicate"])
def test_grey_morphology_in_row_bands_matches_opencv(shape, radius, op, border):
    import cv2

    from calcidetect.filters import disk, grey_morphology

    border = {"constant": cv2.BORDER_CONSTANT, "replicate": cv2.BORDER_REPLICATE}[border]
    img = cv2.GaussianBlur(np.random.default_rng(radius).random(shape).astype(np.float32), (0, 0), 2)
    func = cv2.erode if op == "erode" else cv2.dilate
    expected = func(img, disk(radius), borderType=border)
    np.testing.assert_array_equal(grey_morphology(img, radius, op, border), expected)
