"""Pattern rules on hand-made feature vectors (one focus per column)."""

from __future__ import annotations

import numpy as np

import calcidetect as cd
from calcidetect.classify import primary_patterns, score_patterns
from calcidetect.config import Config

FAR = 1000.0
# columns: punctate dot, plaque under the skin, lobular mass, periarticular
# deposit at a joint, linear streak along a bone
FEATURES = {
    "equivalent_diameter_mm": np.array([1.0, 4.0, 20.0, 6.0, 3.0]),
    "major_axis_mm": np.array([1.1, 12.0, 25.0, 7.0, 20.0]),
    "minor_axis_mm": np.array([0.9, 1.5, 18.0, 5.0, 1.0]),
    "thickness_mm": np.array([1.0, 1.5, 15.0, 5.0, 1.0]),
    "elongation": np.array([1.2, 8.0, 1.4, 1.4, 20.0]),
    "solidity": np.array([1.0, 0.8, 0.7, 0.9, 0.9]),
    "lobule_count": np.array([1.0, 1.0, 5.0, 1.0, 1.0]),
    "distance_to_bone_mm": np.array([20.0, 15.0, 40.0, 3.0, 6.0]),
    "distance_to_joint_mm": np.array([FAR, FAR, 60.0, 2.0, 30.0]),
    "skin_depth_mm": np.array([10.0, 2.0, 30.0, 12.0, 15.0]),
    "angle_to_bone_deg": np.array([60.0, 70.0, 45.0, 30.0, 5.0]),
}


def test_each_description_gets_its_pattern():
    scores = score_patterns(FEATURES, Config())
    labels = primary_patterns(scores, FEATURES["equivalent_diameter_mm"], Config())
    assert labels == ["punctate", "plaque", "lobular", "periarticular", "linear"]
    for name in cd.PATTERNS:
        assert np.all((scores[name] >= 0) & (scores[name] <= 1))


def test_streak_across_the_bone_is_not_linear():
    feats = {k: v.copy() for k, v in FEATURES.items()}
    feats["angle_to_bone_deg"][4] = 80.0
    scores = score_patterns(feats, Config())
    assert scores["linear"][4] < 0.1


def test_thresholds_come_from_config():
    # a 1 mm dot is punctate by default, and not when dots must be below 0.5 mm
    strict = Config(punctate_max_diameter_mm=0.5)
    assert score_patterns(FEATURES, strict)["punctate"][0] < score_patterns(FEATURES, Config())["punctate"][0]


def test_a_focus_that_fits_no_rule_is_labelled_by_size():
    feats = {k: v[:1].copy() for k, v in FEATURES.items()}
    feats["equivalent_diameter_mm"][:] = 4.0
    feats["elongation"][:] = 2.0
    feats["thickness_mm"][:] = 5.0
    scores = score_patterns(feats, Config())
    assert max(float(s[0]) for s in scores.values()) < 0.05
    assert primary_patterns(scores, feats["equivalent_diameter_mm"], Config()) == ["lobular"]


def test_a_tie_goes_to_the_pattern_of_place_not_of_shape():
    # a 1.7 mm dot centred in a joint gap fits "punctate" and "periarticular" fully
    scores = {p: np.zeros(2) for p in ("punctate", "plaque", "lobular", "periarticular", "linear")}
    scores["punctate"][:] = 1.0
    scores["periarticular"][0] = 1.0  # the first lies in the gap, the second away from any joint
    assert primary_patterns(scores, np.array([1.7, 1.7]), Config()) == ["periarticular", "punctate"]
