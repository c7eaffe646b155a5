"""Exact medians and percentiles agree with numpy's, number and dtype."""

import numpy as np
import pytest

from calcidetect.labelstats import label_median
from calcidetect.orderstats import median, percentile


def _sample(seed: int, n: int, dtype, ties: bool) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n) * 100
    if ties:
        x = np.round(x / 25)
    return x.astype(dtype)


def _same(ours, theirs) -> bool:
    return type(ours) is type(theirs) and np.asarray(ours).dtype == np.asarray(theirs).dtype and np.array_equal(
        ours, theirs
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.uint16])
@pytest.mark.parametrize("n", [1, 2, 3, 10, 101, 5000])
@pytest.mark.parametrize("ties", [False, True])
def test_median_matches_numpy(dtype, n, ties):
    x = _sample(n, n, dtype, ties)
    assert _same(median(x), np.median(x))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
@pytest.mark.parametrize("n", [1, 2, 7, 1000, 4099])
@pytest.mark.parametrize("q", [0, 0.5, 1, 37.3, 90, 95.0, 99.5, 100, [0.5, 99.9], [97, 99.5], [1.0, 50.0, 99.5]])
def test_percentile_matches_numpy(dtype, n, q):
    x = _sample(n + 1, n, dtype, ties=n > 100)
    assert _same(percentile(x, q), np.percentile(x, q))


def test_nan_and_empty_fall_back_to_numpy():
    x = np.array([1.0, np.nan, 3.0], np.float32)
    with np.errstate(invalid="ignore"):
        assert np.isnan(median(x)) and np.isnan(percentile(x, 50))
    with pytest.warns(RuntimeWarning):
        assert np.isnan(median(np.zeros(0, np.float32)))


def test_input_not_modified():
    x = _sample(0, 1001, np.float32, ties=False)
    before = x.copy()
    median(x), percentile(x, [5, 95])
    np.testing.assert_array_equal(x, before)


def test_label_median_with_a_dominant_label_matches_numpy():
    rng = np.random.default_rng(4)
    labels = np.ones((50, 60), int)
    labels[rng.random(labels.shape) < 0.1] = 2  # label 1 holds most pixels
    labels[:5, :5] = 3
    labels[10, 10] = 0
    values = rng.normal(size=labels.shape).astype(np.float32)
    expected = [np.median(values[labels == k]) for k in (1, 2, 3)]
    np.testing.assert_array_equal(label_median(values, labels, 4)[:3], expected)
    assert np.isnan(label_median(values, labels, 4)[3])


@pytest.mark.parametrize("zero_share", [0.02, 0.3, 0.6, 1.0])
@pytest.mark.parametrize("q", [1.0, 50, [25, 75], [97, 99.5]])
def test_large_blocks_of_equal_values_match_numpy(zero_share, q):
    rng = np.random.default_rng(7)
    x = rng.normal(size=20_000).astype(np.float32)
    x[rng.random(x.size) < zero_share] = 0  # a mask's zeros: split off by counting
    x[rng.random(x.size) < 0.1] = 2.5
    assert _same(median(x), np.median(x))
    assert _same(percentile(x, q), np.percentile(x, q))
