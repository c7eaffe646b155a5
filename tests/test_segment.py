"""Segmentation helpers of calcidetect.segment."""

import numpy as np
import pytest
from scipy import ndimage as ndi

from calcidetect.config import Config
from calcidetect.filters import dilate
from calcidetect.segment import group_lobules


def _group_lobules_reference(lobules, spacing_mm, cfg):
    """Grouping with the renumbering read off a bincount of the whole label image."""
    grouped, _ = ndi.label(dilate(lobules > 0, 0.5 * cfg.lobule_group_distance_mm / spacing_mm))
    labels = np.where(lobules > 0, grouped, 0)
    present = np.bincount(labels.ravel()) > 0
    labels = (np.cumsum(present) - 1).astype(np.int32)[labels]
    if not present[0]:
        labels += 1
    return labels


@pytest.mark.parametrize("density", [0.01, 0.2, 1.0])
def test_group_lobules_numbering(density):
    rng = np.random.default_rng(int(density * 100))
    lobules, n = ndi.label(rng.random((60, 80)) < density, structure=np.ones((3, 3), bool))
    cfg = Config()
    got = group_lobules(lobules, n, 0.2, cfg)
    np.testing.assert_array_equal(got, _group_lobules_reference(lobules, 0.2, cfg))
    assert got.dtype == np.int32


def test_drop_faint_large_keeps_small_or_strong_candidates():
    from calcidetect.segment import _drop_faint_large

    cfg = Config()
    spacing = 0.2
    mask = np.zeros((60, 80), bool)
    mask[5:25, 5:25] = True  # 16 mm^2, large: needs a strong peak
    mask[30:50, 40:60] = True  # large and strong
    mask[52:54, 5:7] = True  # small, faint
    significance = np.full(mask.shape, 3.0, np.float32)
    significance[40, 50] = cfg.large_focus_min_contrast_sigma
    expected = mask.copy()
    expected[5:25, 5:25] = False
    np.testing.assert_array_equal(_drop_faint_large(mask, significance, spacing, cfg), expected)


def test_coarse_channel_leaves_out_a_finger_but_not_a_forearm():
    from calcidetect.anatomy import skin_depth
    from calcidetect.segment import _wide_body

    spacing = 0.2
    body = np.zeros((300, 400), bool)
    body[:, 20:70] = True  # a finger 10 mm wide
    body[:, 150:350] = True  # a forearm 40 mm wide
    wide = _wide_body(skin_depth(body, np.ones(body.shape, bool)), spacing)
    assert not wide[:, 20:70].any()
    assert wide[50:250, 170:330].all()
