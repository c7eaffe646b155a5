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


def test_drop_bone_attached_removes_what_runs_up_to_the_bone_margin():
    from calcidetect.segment import _drop_bone_attached

    cfg = Config()
    spacing = 0.2
    bone = np.zeros((80, 120), bool)
    bone[:, :40] = True  # a bone's edge at column 40
    margin_px = int(np.ceil(cfg.bone_margin_mm / spacing))  # candidates start beyond this
    mask = np.zeros(bone.shape, bool)
    mask[10:20, 40 + margin_px : 40 + margin_px + 8] = True  # runs right up to the margin
    gap_px = int(np.ceil((cfg.bone_margin_mm + cfg.bone_contact_mm) / spacing)) + 5  # 1 mm of tissue between
    mask[40:50, 40 + gap_px : 40 + gap_px + 8] = True
    kept = _drop_bone_attached(mask, bone, spacing, cfg)
    assert not kept[10:20].any()
    np.testing.assert_array_equal(kept[40:50], mask[40:50])
    # no bone in the image: nothing to touch
    np.testing.assert_array_equal(_drop_bone_attached(mask, np.zeros_like(bone), spacing, cfg), mask)


def test_keep_seeded_drops_pieces_without_a_seed():
    from calcidetect.segment import _keep_seeded

    mask = np.zeros((20, 30), bool)
    mask[2:6, 2:6] = True
    mask[10:14, 10:20] = True
    seeds = np.zeros_like(mask)
    seeds[12, 15] = True
    kept = _keep_seeded(mask, seeds)
    assert not kept[2:6, 2:6].any()
    np.testing.assert_array_equal(kept[10:14, 10:20], mask[10:14, 10:20])


def test_bandpass_channel_finds_dots_in_textured_tissue():
    """Smooth soft-tissue texture raises the fine channel's local noise; the band-pass does not see it."""
    import calcidetect as cd
    from _synth import add_disc, finish, limb

    img, _ = limb(shape=(500, 400), width_px=300)
    texture = ndi.gaussian_filter(np.random.default_rng(5).normal(0, 1, img.shape), 8)
    img = img + (2.0 * texture / texture.std()).astype(np.float32)
    dots = [(150, 200), (250, 150), (350, 250)]
    for r, c in dots:
        add_disc(img, r, c, 2, 7.0)
    img = finish(img, np.random.default_rng(1))
    off = cd.Config(bandpass_high_threshold_sigma=1e3, bandpass_low_threshold_sigma=1e3, bandpass_skin_high_threshold_sigma=1e3)

    def found(cfg):
        foci = cd.detect(img, pixel_spacing_mm=0.2, config=cfg).foci
        hits = [f for f in foci if any(abs(f.centroid_rc[0] - r) < 3 and abs(f.centroid_rc[1] - c) < 3 for r, c in dots)]
        return len(hits), len(foci) - len(hits)

    hits, others = found(cd.Config())
    assert hits >= 1 and others == 0
    assert found(off)[0] < hits


def test_segment_trace_shows_which_filter_dropped_a_candidate():
    """The diagnostics trace: a small dot is in every step; a wide patch is lost at the faint-large filter."""
    from _synth import SPACING_MM, add_disc, finish, limb

    from calcidetect.anatomy import find_anatomy
    from calcidetect.segment import segment

    img, rng = limb(shape=(500, 400), width_px=300)
    add_disc(img, 150, 200, 4, 30.0)  # a dense dot
    yy, xx = np.mgrid[:500, :400]
    img += (6.0 * np.exp(-((yy - 350) ** 2 + (xx - 200) ** 2) / (2 * 12.0**2))).astype(np.float32)  # 5 mm wide
    img = finish(img, rng)
    # every candidate of 4 mm2 or more is "faint": the patch is, the 2 mm2 dot is not
    cfg = Config(large_focus_min_area_mm2=4.0, large_focus_min_contrast_sigma=1e3)
    trace: dict = {}
    seg = segment(img, find_anatomy(img, SPACING_MM, cfg), SPACING_MM, cfg, trace=trace)
    assert list(trace) == [
        "fine", "seeded", "coarse", "confirmed", "bone_attached", "bone_continuation", "faint_large", "dense_surround"
    ]
    assert all(m.shape == img.shape and m.dtype == bool for m in trace.values())
    assert all(m[150, 200] for m in trace.values() if m is not trace["coarse"])
    assert seg.labels[150, 200] > 0
    patch = np.s_[345:356, 195:206]
    assert trace["bone_attached"][patch].any() and not trace["faint_large"][patch].any()
    assert (seg.labels[patch] == 0).all()


def test_group_lobules_bridges_nodules_joined_by_faint_tissue_within_reach():
    """Lobules 2 mm apart are one focus only where faint tissue joins them; 4 mm apart never."""
    spacing = 0.2
    cfg = Config()  # groups at 1 mm, bridges up to 3 mm
    lobules = np.zeros((60, 120), np.int32)
    lobules[25:35, 10:20] = 1
    lobules[25:35, 30:40] = 2  # 10 px = 2 mm from lobule 1
    lobules[25:35, 60:70] = 3  # 20 px = 4 mm from lobule 2
    sheet = np.zeros(lobules.shape, bool)
    sheet[28:32, 10:70] = True  # faint tissue running through all three

    apart = group_lobules(lobules, 3, spacing, cfg)
    assert len(np.unique(apart[lobules > 0])) == 3
    joined = group_lobules(lobules, 3, spacing, cfg, bridge=sheet)
    assert joined[30, 15] == joined[30, 35] != joined[30, 65]
    assert joined.max() == 2
    # the bridge only joins; it adds no pixels to any focus
    np.testing.assert_array_equal(joined > 0, lobules > 0)
    off = Config(lobule_bridge_distance_mm=0.0)
    assert len(np.unique(group_lobules(lobules, 3, spacing, off, bridge=sheet)[lobules > 0])) == 3


def test_nodules_on_a_faint_sheet_are_one_plaque_not_a_row_of_dots():
    """A plaque's nodules, 2.4 mm apart on a sheet too faint to be found alone, form one focus;
    two dots 2.6 mm apart (within the bridge's reach) on plain soft tissue stay two."""
    import calcidetect as cd
    from _synth import add_disc, finish, limb

    img, rng = limb(shape=(500, 400), width_px=300)
    yy, xx = np.mgrid[:500, :400]
    img[(np.abs(xx - 150) <= 4) & (yy >= 100) & (yy <= 200)] += 1.5  # 1.5 noise sigmas
    nodules = [(r, 150) for r in range(110, 200, 12)]
    for r, c in nodules:
        add_disc(img, r, c, 3, 8.0)
    dots = [(350, 220), (350, 240)]  # 4 mm between centres, 2.6 mm between edges
    for r, c in dots:
        add_disc(img, r, c, 3, 8.0)
    img = finish(img, rng)

    def foci_at(res, points):
        return {int(res.labels[r, c]) for r, c in points} - {0}

    res = cd.detect(img, pixel_spacing_mm=0.2)
    assert len(foci_at(res, nodules)) == 1
    assert len(foci_at(res, dots)) == 2
    assert len(res.foci) == 3
    unbridged = cd.detect(img, pixel_spacing_mm=0.2, config=cd.Config(lobule_bridge_distance_mm=0.0))
    assert len(foci_at(unbridged, nodules)) > 1
