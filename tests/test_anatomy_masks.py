"""Anatomy stage on small hand-made arrays with known answers."""

from __future__ import annotations

import numpy as np

from calcidetect.anatomy import find_anatomy, find_body, find_bone, find_collimation
from calcidetect.background import noise_sigma
from calcidetect.config import Config

from _synth import SPACING_MM, add_streak, add_tube, finish, limb


def _collimated_limb_with_penumbra_strip():
    """A limb in air inside a collimated frame whose inner edge has a bright strip.

    The strip (2 px, as bright as the limb) runs all round the exposed field
    and touches the limb at the top and bottom, so together they enclose the
    air on both sides of the limb.
    """
    img, rng = limb(shape=(400, 400), width_px=160)
    img[:30, :] = img[-30:, :] = 200.0
    img[:, :30] = img[:, -30:] = 200.0
    ring = np.zeros(img.shape, bool)
    ring[30:370, 30:370] = True
    ring[32:368, 32:368] = False
    img[ring] = 60.0
    return finish(img, rng)


def test_air_enclosed_by_a_strip_along_the_collimation_edge_is_not_body():
    img = _collimated_limb_with_penumbra_strip()
    valid = ~find_collimation(img, SPACING_MM)
    body = find_body(img, valid, SPACING_MM)
    # the air beside the limb (columns 60..100 and 300..340) stays out of the body
    assert body[100:300, 60:100].mean() < 0.05
    assert body[100:300, 300:340].mean() < 0.05
    # the limb itself is body
    assert body[100:300, 180:220].mean() > 0.95


def test_bone_running_into_the_collimated_edge_is_bone():
    img, rng = limb(shape=(500, 400), width_px=300)
    img = add_tube(img, 170, 230, 0, 500)
    img[:40, :] = 400.0  # collimation over the top of the film, the tube runs into it
    img = finish(img, rng)
    cfg = Config()
    valid = ~find_collimation(img, SPACING_MM)
    assert not valid[:30].any()
    body = find_body(img, valid, SPACING_MM)
    noise = noise_sigma(img, body, cfg.noise_scale_mm / SPACING_MM)
    bone, _ = find_bone(img, body, noise, SPACING_MM, cfg, outside=~valid)
    # the tube (columns 170..230) is bone along its length; the soft tissue beside it is not
    assert bone[100:450, 180:220].mean() > 0.9
    assert bone[100:450, 60:140].mean() < 0.02
    assert bone[100:450, 260:340].mean() < 0.02


def test_ordinary_bone_is_not_metal_and_a_much_denser_wire_is():
    img, rng = limb(shape=(500, 400), width_px=300)
    img = add_tube(img, 170, 230, 0, 500)
    img[200:300, 100:104] += 400.0  # a wire far denser than the cortex
    img = finish(img, rng)
    anatomy = find_anatomy(img, SPACING_MM, Config())
    assert anatomy.metal[200:300, 100:104].mean() > 0.9
    assert not anatomy.metal[:, 165:235].any()
    assert anatomy.bone[100:450, 180:220].mean() > 0.9


def _anatomy_for(shape, dense_excess, bone, threshold):
    from calcidetect.anatomy import Anatomy

    ones = np.ones(shape, bool)
    far = np.full(shape, 1e4, np.float32)
    return Anatomy(
        valid=ones, body=ones, metal=np.zeros(shape, bool), bone=bone, bone_labels=bone.astype(np.int32),
        bone_orientation=np.zeros(2), joint_distance_px=far, joints_rc=np.zeros((0, 2)), skin_depth_px=far,
        field_edge_px=far, noise=1.0, dense_excess=dense_excess.astype(np.float32), bone_threshold=threshold,
    )


def test_a_speck_on_tissue_as_dense_as_bone_is_dropped_and_one_in_soft_tissue_kept():
    from calcidetect.segment import _drop_specks_on_dense_tissue

    shape = (200, 200)
    dense = np.zeros(shape)
    dense[:, 100:] = 8.0  # an unmasked plate: as dense as the bone threshold (10) nearly
    bone = np.zeros(shape, bool)
    bone[:, :20] = True  # a masked bone elsewhere
    mask = np.zeros(shape, bool)
    mask[50:53, 150:153] = True  # speck on the plate
    mask[50:53, 50:53] = True  # speck in soft tissue
    mask[120:160, 120:160] = True  # a large candidate on the plate: not a speck, kept
    kept = _drop_specks_on_dense_tissue(mask, _anatomy_for(shape, dense, bone, 10.0), SPACING_MM, Config())
    assert not kept[50:53, 150:153].any()
    assert kept[50:53, 50:53].all()
    assert kept[120:160, 120:160].all()
    # without any bone in the image there is no reference: nothing is dropped
    kept = _drop_specks_on_dense_tissue(mask, _anatomy_for(shape, dense, np.zeros(shape, bool), 10.0), SPACING_MM, Config())
    assert (kept == mask).all()


def test_a_wide_penumbra_ramp_along_the_collimation_edge_and_a_marker_on_it_are_not_body():
    img, rng = limb(shape=(400, 400), width_px=180)  # limb centred, air on both sides
    img[:, 370:] = 400.0  # collimation on the right
    ramp = np.linspace(10.0, 200.0, 40)  # a 8 mm penumbra ramp into it
    img[:, 330:370] = np.maximum(img[:, 330:370], ramp[None, :])
    img[200:240, 320:340] = 250.0  # a lead letter resting on the ramp
    img = finish(img, rng)
    valid = ~find_collimation(img, SPACING_MM)
    body = find_body(img, valid, SPACING_MM)
    assert not body[:, 320:370].any()
    assert body[100:300, 180:220].mean() > 0.95


def test_a_metal_plate_on_a_bone_does_not_hide_the_bones():
    img, rng = limb(shape=(600, 500), width_px=420)
    img = add_tube(img, 150, 210, 0, 600)
    img = add_tube(img, 290, 350, 0, 600)
    img[100:500, 290:320] += 250.0  # a plate screwed onto the second bone, far denser than bone
    img = finish(img, rng)
    anatomy = find_anatomy(img, SPACING_MM, Config())
    # both bones are bone along their length, away from the plate
    assert anatomy.bone[50:550, 165:195].mean() > 0.9
    assert anatomy.bone[520:590, 305:335].mean() > 0.9
    assert anatomy.bone[50:550, 40:120].mean() < 0.02


def test_chance_plateaus_of_a_smooth_8bit_film_are_not_overlays_but_drawn_text_is():
    from calcidetect.anatomy import find_flat_overlays

    rng = np.random.default_rng(3)
    rows, cols = np.mgrid[0:300, 0:300]
    # a smooth 8-bit film: soft shading plus half a grey level of noise, so
    # many 3x3 windows are constant by chance
    film = np.round(60 + 120 * np.exp(-((rows - 150) ** 2 + (cols - 150) ** 2) / 2e4) + rng.normal(0, 0.5, rows.shape))
    chance = find_flat_overlays(film)
    # a burned-in label: a flat white bar (a letter stroke) drawn on the film
    film[40:48, 200:260] = 250.0
    drawn = find_flat_overlays(film)
    assert chance.mean() < 0.002
    assert drawn[40:48, 200:260].all()
    assert drawn[150:250, 50:150].mean() < 0.002


def test_bones_joined_at_a_narrow_joint_are_split_into_one_piece_each():
    from calcidetect.anatomy import _split_at_necks

    # two phalanx-like blocks, 8 x 16 mm, end to end with a 1.6 mm wide bridge
    # across a 1.2 mm joint gap; and a lone block with no neck
    labels = np.zeros((300, 200), np.int32)
    labels[20:100, 40:80] = 1
    labels[106:186, 40:80] = 1
    labels[100:106, 56:64] = 1
    labels[200:280, 120:160] = 2
    pieces, n = _split_at_necks(labels, np.array([False, True, True]), SPACING_MM)
    assert n == 3
    top, bottom, lone = pieces[60, 60], pieces[146, 60], pieces[240, 140]
    assert len({top, bottom, lone}) == 3 and 0 not in (top, bottom, lone)
    # each block is one piece, whole
    assert (pieces[20:100, 40:80] == top).mean() > 0.97
    assert (pieces[106:186, 40:80] == bottom).mean() > 0.97
    assert (pieces[200:280, 120:160] == lone).all()
    # nothing outside the chosen components
    assert not pieces[labels == 0].any()


def test_a_wide_penumbra_ramp_beyond_a_straight_blade_edge_is_outside_the_field():
    # a limb in air; on the right a collimator blade: a straight step up at
    # column 330, then a ramp rising over 14 mm to unexposed film
    img, rng = limb(shape=(400, 400), width_px=160)
    ramp = np.clip((np.arange(400) - 330) / 70.0, 0, 1)
    img[:, 330:] = 25.0 + 175.0 * ramp[330:]
    img = finish(img, rng)
    outside = find_collimation(img, SPACING_MM)
    assert outside[:, 335:].mean() > 0.97
    assert not outside[:, 120:280].any()  # the limb
    body = find_body(img, ~outside, SPACING_MM)
    assert not body[:, 335:].any()


def test_the_free_end_of_a_long_bone_is_a_joint_surface_but_not_its_shaft_or_an_end_off_the_film():
    from calcidetect.anatomy import find_joints

    bone = np.zeros((400, 200), bool)
    bone[0:250, 80:120] = True  # a shaft running off the top edge, free end at row 250
    joint_distance, joints, _, _ = find_joints(bone, SPACING_MM, Config())
    mm = joint_distance * SPACING_MM
    assert mm[256, 100] < 2.0  # just beyond the free end
    assert mm[125, 130] > 10.0  # beside the middle of the shaft
    assert mm[2, 130] > 10.0  # beside the end that runs off the film
    assert len(joints) >= 1


def test_a_cleft_between_two_bones_joined_in_the_mask_is_a_joint():
    from calcidetect.anatomy import find_joints

    # two shafts end to end, joined by a 0.8 mm bridge across a 1.2 mm gap
    bone = np.zeros((400, 200), bool)
    bone[0:100, 80:120] = True
    bone[106:206, 80:120] = True
    bone[100:106, 98:102] = True
    joint_distance, _, _, _ = find_joints(bone, SPACING_MM, Config())
    mm = joint_distance * SPACING_MM
    assert mm[103, 84] < 1.0 and mm[103, 116] < 1.0  # in the cleft on either side of the bridge
    assert mm[50, 130] > 5.0  # beside the upper shaft


def test_joint_distance_at_the_foci_equals_the_distance_map():
    from dataclasses import replace

    from calcidetect.anatomy import find_joints, joint_distance_at, joint_gaps

    bone = np.zeros((400, 200), bool)
    bone[0:100, 80:120] = True
    bone[106:206, 80:120] = True  # a joint gap at rows 100-106
    bone[300:340, 20:60] = True  # a lone round bone
    distance_map, joints, labels, orient = find_joints(bone, SPACING_MM, Config())
    gap, joints2, labels2, orient2 = joint_gaps(bone, SPACING_MM, Config())
    np.testing.assert_array_equal(joints, joints2)
    np.testing.assert_array_equal(labels, labels2)
    anatomy = _anatomy_for(bone.shape, np.zeros(bone.shape), bone, 1.0)
    lazy = replace(anatomy, joint_distance_px=None, joint_gap=gap)
    pixels = np.random.default_rng(0).choice(bone.size, 500, replace=False)
    np.testing.assert_array_equal(joint_distance_at(lazy, pixels), distance_map.reshape(-1)[pixels])  # exact, float32
    assert joint_distance_at(replace(anatomy, joint_distance_px=distance_map), pixels).dtype == np.float32
    no_gap = replace(lazy, joint_gap=np.zeros(bone.shape, bool))
    assert (joint_distance_at(no_gap, pixels) == find_joints(np.zeros(bone.shape, bool), SPACING_MM, Config())[0].max()).all()


def test_round_bones_touching_over_a_wide_contact_are_split_one_piece_each():
    from calcidetect.anatomy import _split_at_necks, _split_at_summits

    # two carpal-like discs 10 mm across, centres 8 mm apart: the contact is
    # 6 mm wide, no neck an opening could cut
    rows, cols = np.mgrid[0:200, 0:300]
    labels = (((rows - 100) ** 2 + (cols - 120) ** 2 <= 25**2) | ((rows - 100) ** 2 + (cols - 160) ** 2 <= 25**2)).astype(np.int32)
    which = np.array([False, True])
    assert _split_at_necks(labels, which, SPACING_MM)[1] == 0
    pieces, n = _split_at_summits(labels, which, SPACING_MM)
    assert n == 2
    left, right = pieces[100, 105], pieces[100, 175]
    assert left != right and 0 not in (left, right)
    assert (pieces[labels > 0] > 0).all()


def _bone_of(img):
    cfg = Config()
    body = find_body(img, np.ones(img.shape, bool), SPACING_MM)
    noise = noise_sigma(img, body, cfg.noise_scale_mm / SPACING_MM)
    bone, _ = find_bone(img, body, noise, SPACING_MM, cfg)
    return bone


def test_a_bone_just_under_the_skin_is_bone_out_to_its_outer_cortex():
    # thick soft tissue whose path length falls towards the skin: the floor
    # climbs that slope into the bone's outer part (columns 60..77), which
    # only the step down at its outer cortex (column 60) tells from soft tissue
    img, rng = limb(shape=(400, 400), width_px=300, tissue=100.0)
    img = finish(add_tube(img, 60, 140, 0, 400, density=50.0), rng)
    bone = _bone_of(img)
    assert bone[100:300, 62:76].mean() > 0.9
    # the soft tissue between the bone and the skin (column 46) stays out
    assert bone[100:300, 48:56].mean() < 0.05


def test_a_streak_beside_a_bone_just_under_the_skin_stays_out_of_it():
    # a deposit 1.2 mm wide, 1.4 mm off the bone's outer cortex (column 72):
    # seen from the bone, the image first rises steeply into it
    img, rng = limb(shape=(400, 400), width_px=300, tissue=100.0)
    img = add_tube(img, 72, 152, 0, 400, density=50.0)
    img = finish(add_streak(img, 50, 350, 62, 6, 40.0), rng)
    bone = _bone_of(img)
    assert bone[100:300, 59:65].mean() < 0.05
    assert bone[100:300, 74:80].mean() > 0.9


def test_a_faint_rib_whose_medulla_dips_below_the_faint_level_is_still_a_faint_bone():
    # a rib 10 mm wide and 80 mm long at the faint level 0.5: its cortex
    # (1.0) stands clear, its medulla (0.52) dips below the level in noise,
    # leaving holes whose ragged outlines are no bone edge
    import cv2

    from calcidetect import anatomy

    smooth = np.zeros((500, 500), np.float32)
    smooth[230:280, 50:450] = 1.0
    smooth[238:272, 50:450] = 0.52
    rng = np.random.default_rng(3)
    smooth += cv2.GaussianBlur(rng.normal(0, 0.1, smooth.shape).astype(np.float32), (0, 0), 1.5) * (smooth > 0)
    grad = anatomy._gradient_per_mm(smooth, SPACING_MM)
    faint = anatomy._faint_bands(smooth, grad, np.ones(smooth.shape, bool), 0.5, SPACING_MM, Config(), None)
    assert faint[232:278, 60:440].mean() > 0.99
    assert not faint[:220].any() and not faint[290:].any()


def test_a_large_hole_in_a_bone_is_medulla_when_denser_than_soft_tissue_and_a_foramen_when_not():
    from calcidetect import anatomy

    yy, xx = np.mgrid[:300, :300]
    d = np.hypot(yy - 150, xx - 150)
    bone = (d <= 80) & (d > 60)  # a hole of 450 mm^2, more than a small hole
    for hole_excess, filled in ((10.0, True), (0.0, False)):
        excess = np.where(bone, 40.0, np.where(d <= 60, hole_excess, 0.0)).astype(np.float32)
        out = anatomy._fill_medullae(bone, excess, 4.0, SPACING_MM)
        assert bool(out[150, 150]) is filled
        assert not out[10, 10]


def test_dust_specks_on_a_bone_do_not_cut_it_out_of_the_bone_mask():
    # an 8-bit film: dust dots (flat, far darker than the bone around them)
    # are flat overlays; they stay out of the search for foci but must not
    # punch holes in the bone: a bone cut at them failed the bone tests and
    # its pieces were outlined as calcification (a child's metacarpal)
    import calcidetect as cd

    img, rng = limb(shape=(600, 400), width_px=300)
    img = finish(add_tube(img, 170, 230, 60, 540), rng)
    film = np.clip(np.round(img * 2.0), 0, 255).astype(np.float32)
    for r, c in ((200, 180), (300, 220), (420, 200)):
        film[r : r + 4, c : c + 4] = 5.0  # dust: flat, at the air's level
    res = cd.detect(film, pixel_spacing_mm=SPACING_MM)
    assert res.foci == []
    assert res.bone_mask[100:500, 180:220].mean() > 0.9


def _solid_block(img, rows, cols, density):
    img[rows, cols] += density
    return img


def _finger_bone(*blocks):
    """Bone mask of a finger: a tubular phalanx (rows 40..250, cols 137..162) plus solid (rows, cols) blocks."""
    img, rng = limb(shape=(420, 300), width_px=200)
    img = add_tube(img, 137, 162, 40, 250, density=50.0, cortex_px=12)
    for rows, cols in blocks:
        img = _solid_block(img, rows, cols, 40.0)
    return _bone_of(finish(img, rng))


def test_a_short_bone_in_line_beyond_a_bones_end_is_bone_and_a_block_across_its_shaft_is_not():
    # a finger: a tubular phalanx (rows 40..250) and, across a 3 mm joint gap,
    # a small solid distal phalanx in line with it (34 mm2, too small for the
    # bone tests on its own); a block of the same size lying across the
    # shaft, 1.6 mm beside it, points at the bone but not along it
    bone = _finger_bone((slice(265, 315), slice(139, 160)), (slice(120, 141), slice(170, 220)))
    assert bone[60:240, 142:157].mean() > 0.9
    assert bone[269:311, 143:156].mean() > 0.9
    assert bone[124:137, 175:215].mean() < 0.05


def test_a_small_childs_distal_phalanx_in_line_is_bone():
    # as above with the distal phalanx of a child's little finger: 2.6 x 6.2
    # mm drawn, 23 mm2 as the bone stage measures it (22 mm2 on
    # boneage_hand_4), below the 25 mm2 it once needed; a lone block of that
    # size off the finger's axis stays out
    bone = _finger_bone((slice(265, 296), slice(143, 156)), (slice(330, 343), slice(190, 221)))
    assert bone[269:292, 146:153].mean() > 0.9
    assert bone[333:340, 194:217].mean() < 0.05


def test_plateau_test_on_row_bands_matches_the_whole_image_computation():
    """Plateaus far apart, near the film's edges and beside each other, some drawn, some by chance."""
    import cv2

    from calcidetect.anatomy import _OVERLAY_MIN_STEP_FRACTION, _OVERLAY_RING_PX, _plateau_stands_out, _zero_local_range
    from calcidetect.filters import label_components
    from calcidetect.labelstats import label_max, label_min
    from calcidetect.orderstats import percentile

    rng = np.random.default_rng(7)
    img = np.round(rng.normal(100, 3, (400, 300))).astype(np.float32)
    spots = [(0, 0, 60.0), (2, 150, 100.0), (120, 40, 180.0), (123, 60, 101.0), (397, 296, 20.0), (250, 200, 100.0)]
    for r, c, v in spots:
        img[r : r + 3, c : c + 4] = v
    labels, n = label_components(_zero_local_range(img))
    which = np.ones(n, bool)
    which[::3] = False
    got = _plateau_stands_out(img, labels, n, which)
    # the whole-image computation the band version replaces
    reach = np.ones((2 * (1 + _OVERLAY_RING_PX) + 1,) * 2, np.uint8)
    value = label_max(img, labels, n)
    highest = label_max(cv2.dilate(img, reach), labels, n)
    lowest = label_min(cv2.erode(img, reach), labels, n)
    lo, hi = percentile(img.ravel(), [0.5, 99.5])
    clipped = (value <= img.min()) | (value >= img.max())
    expected = which & (clipped | (np.maximum(highest - value, value - lowest) >= _OVERLAY_MIN_STEP_FRACTION * (hi - lo)))
    np.testing.assert_array_equal(got, expected)
    assert got.any() and not got.all()
    assert not _plateau_stands_out(img, labels, n, np.zeros(n, bool)).any()  # nothing to test: no band


def test_bone_continuations_takes_an_oblong_candidate_in_line_beyond_a_bones_end():
    # masks only: a phalanx (rows 40..250, 5 mm wide) and, one at a time,
    # candidates starting 2.4 mm past its end; only the oblong one in line
    # with the shaft, wide enough not to be a tendon streak, is the next bone
    # of the chain
    from calcidetect.anatomy import bone_continuations

    bone = np.zeros((420, 300), bool)
    bone[40:250, 137:162] = True
    width_mm = Config().linear_max_width_mm
    candidates = {
        "in line": (np.s_[262:302, 141:159], True),  # 8 x 3.6 mm
        "across the joint": (np.s_[262:280, 130:170], False),  # the same block lying across the finger's axis
        "streak in line": (np.s_[262:322, 145:155], False),  # 12 x 2 mm
        "round, in line": (np.s_[262:287, 137:162], False),  # 5 x 5 mm
        "in line, off the finger": (np.s_[262:302, 190:208], False),  # parallel, 6 mm beside the axis
    }
    for name, (part, is_bone) in candidates.items():
        mask = np.zeros(bone.shape, bool)
        mask[part] = True
        found = bone_continuations(mask, bone, SPACING_MM, width_mm)
        assert bool(found[part].all()) is is_bone, name
        assert not (found & ~mask).any()
    # no bone in view: nothing to continue
    assert not bone_continuations(mask, np.zeros_like(bone), SPACING_MM, width_mm).any()


def test_marker_holders_box_small_metal_only():
    from calcidetect.anatomy import marker_holders

    metal = np.zeros((300, 300), bool)
    metal[50:70, 50:60] = True  # a letter: 8 mm2
    metal[150:290, 150:290] = True  # an implant: 784 mm2
    holders = marker_holders(metal, SPACING_MM, 150.0, 3.0)
    reach = 15  # 3 mm
    expected = np.zeros_like(metal)
    expected[50 - reach : 70 + reach, 50 - reach : 60 + reach] = True
    np.testing.assert_array_equal(holders, expected)
    assert not marker_holders(np.zeros_like(metal), SPACING_MM, 150.0, 3.0).any()
