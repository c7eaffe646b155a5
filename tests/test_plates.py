"""Flat bones wider than the bone floor (calcidetect.plates)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import calcidetect as cd
from calcidetect import plates
from calcidetect.anatomy import find_anatomy

from _synth import SPACING_MM, add_disc, add_tube, finish, limb


def _shoulder_like(seed: int = 0) -> tuple[np.ndarray, np.ndarray, tuple[slice, slice]]:
    """A wide body with a long bone, a textured 55 x 85 mm plate and a 10 mm deposit beside it."""
    img, rng = limb((800, 800), 760, np.random.default_rng(seed), tissue=60.0)
    add_tube(img, 100, 220, 0, 800, density=60.0)
    plate = np.zeros(img.shape, np.uint8)
    cv2.fillPoly(plate, [np.array([[420, 150], [700, 200], [690, 560], [450, 620]], np.int32)], 1)
    texture = cv2.GaussianBlur(rng.normal(0, 1, img.shape).astype(np.float32), (0, 0), 3) * 8
    img += cv2.GaussianBlur(plate.astype(np.float32), (0, 0), 1.0) * (12.0 + texture)
    add_disc(img, 700, 320, 25, 25.0)
    return finish(img, rng), plate.astype(bool), (slice(680, 721), slice(300, 341))


def test_poisson_solve_recovers_an_image_from_its_differences():
    rng = np.random.default_rng(3)
    image = cv2.GaussianBlur(rng.normal(0, 1, (60, 80)).astype(np.float32), (0, 0), 2)
    gx = np.zeros_like(image)
    gy = np.zeros_like(image)
    gx[:, :-1] = image[:, 1:] - image[:, :-1]  # forward differences; none across the edge
    gy[:-1, :] = image[1:, :] - image[:-1, :]
    out = plates._solve_poisson_neumann(gx, gy)
    np.testing.assert_allclose(out, image - image.mean(), atol=1e-4)


def test_a_plate_wider_than_the_bone_floor_becomes_bone_and_the_deposit_beside_it_does_not():
    image, plate, deposit = _shoulder_like()
    without = find_anatomy(image, SPACING_MM, cd.Config(detect_plates=0))
    assert without.bone[plate].mean() < 0.2  # the floor hides it: the reason for the plate stage
    anatomy = find_anatomy(image, SPACING_MM, cd.Config())
    assert anatomy.bone[plate].mean() > 0.85
    # beyond the plate's outline by more than its 1 mm grid, and away from the long bone, nothing
    soft = anatomy.body & ~cv2.dilate(plate.astype(np.uint8), np.ones((13, 13), np.uint8)).astype(bool)
    soft[:, :300] = False
    assert anatomy.bone[soft].mean() < 0.001
    assert not anatomy.bone[deposit].any()


def test_soft_tissue_between_two_bones_is_no_plate():
    img, rng = limb((800, 600), 560, np.random.default_rng(1), tissue=60.0)
    add_tube(img, 150, 270, 0, 800, density=60.0)
    add_tube(img, 330, 440, 0, 800, density=60.0)
    anatomy = find_anatomy(finish(img, rng), SPACING_MM, cd.Config())
    assert anatomy.bone[:, 170:250].mean() > 0.95 and anatomy.bone[:, 350:420].mean() > 0.95
    assert anatomy.bone[:, 285:316].mean() < 0.01  # the gap between them


def test_soft_tissue_alone_has_no_plates():
    img, rng = limb((600, 800), 760, np.random.default_rng(2), tissue=60.0)
    image = finish(img, rng)
    body = image > 30
    found = plates.find_plates(image, body, np.zeros_like(body), np.zeros_like(body), np.ones_like(body), 12.0, SPACING_MM)
    assert not found.any()


@pytest.mark.parametrize("threshold", [np.inf, np.nan])
def test_no_bone_threshold_means_no_plates(threshold):
    image, _, _ = _shoulder_like()
    body = np.ones(image.shape, bool)
    found = plates.find_plates(image, body, np.zeros_like(body), np.zeros_like(body), body, threshold, SPACING_MM)
    assert found.shape == image.shape and not found.any()


def test_a_streak_beside_a_bone_does_not_make_the_gap_a_plate():
    # the integrated steps raise the gap between the bone and the streak a
    # little; the gap stays soft tissue and the streak stays a focus (linear)
    img, rng = limb()
    add_tube(img, 170, 230, 0, 600)
    img[150:350, 273:277] += 12.0
    anatomy = find_anatomy(finish(img, rng), SPACING_MM, cd.Config())
    assert not anatomy.bone[150:350, 245:285].any()
