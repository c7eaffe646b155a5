"""Tests of calcidetect.evaluate on hand-made label images with known answers."""

from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest

from calcidetect import evaluate as ev
from calcidetect.truth import TRUTH_FORMAT, TruthImage, rle_encode, write_truth

SP = 0.5  # mm per pixel


def _truth(shape=(60, 80)):
    """Three foci (punctate, plaque, lobular); bone in rows 0-9, body rows 0-44."""
    lab = np.zeros(shape, np.int32)
    lab[20:23, 10:13] = 1  # punctate, 9 px
    lab[30:32, 30:45] = 2  # plaque, 30 px
    lab[15:25, 55:65] = 3  # lobular, 100 px
    bone = np.zeros(shape, bool)
    bone[0:10, :] = True
    body = np.zeros(shape, bool)
    body[0:45, :] = True
    pats = {1: "punctate", 2: "plaque", 3: "lobular"}
    return TruthImage("img.png", shape, (SP, SP), lab, pats, bone, body)


def _normal_truth(shape=(60, 80)):
    t = _truth(shape)
    return TruthImage("n.png", shape, (SP, SP), np.zeros(shape, np.int32), {}, t.bone_mask, t.body_mask)


def test_perfect():
    t = _truth()
    e = ev.evaluate_image(t.labels, dict(t.patterns), t)
    r = ev.summarise([e])
    assert r["detection"]["overall"] == {"tp": 3, "fp": 0, "fn": 0, "precision": 1.0, "recall": 1.0, "f1": 1.0}
    assert r["pattern"]["macro_f1"] == 1.0
    assert r["area_agreement_mm2"]["bland_altman"]["bias"] == 0.0
    assert r["area_agreement_mm2"]["lins_ccc"] == 1.0
    assert r["pattern"]["confusion"]["plaque"]["plaque"] == 1


def test_all_missed():
    t = _truth()
    r = ev.summarise([ev.evaluate_image(np.zeros(t.shape, np.int32), {}, t)])
    o = r["detection"]["overall"]
    assert (o["tp"], o["fp"], o["fn"], o["recall"], o["f1"]) == (0, 0, 3, 0.0, 0.0)
    assert o["precision"] is None  # undefined, written as null
    assert r["pattern"]["confusion"]["lobular"]["missed"] == 1


def test_all_false_located():
    t = _truth()
    pred = np.zeros(t.shape, np.int32)
    pred[3:6, 3:6] = 1  # on bone
    pred[38:41, 20:23] = 2  # soft tissue
    pred[50:53, 70:73] = 3  # outside the body
    pats = {1: "punctate", 2: "linear", 3: "punctate"}
    r = ev.summarise([ev.evaluate_image(pred, pats, t)])
    assert r["detection"]["overall"]["fp"] == 3
    assert r["detection"]["overall"]["tp"] == 0
    assert r["false_positives"]["per_image"] == {"bone": 1.0, "soft_tissue": 1.0, "outside": 1.0}
    assert r["detection"]["per_pattern"]["punctate"]["fp"] == 2


def test_mislabelled_detection_right_pattern_wrong():
    t = _truth()
    wrong = {1: "plaque", 2: "lobular", 3: "punctate"}
    r = ev.summarise([ev.evaluate_image(t.labels, wrong, t)])
    assert r["detection"]["overall"]["f1"] == 1.0
    assert r["pattern"]["macro_f1"] == 0.0
    assert r["pattern"]["confusion"]["punctate"]["plaque"] == 1


def test_match_within_one_mm_but_not_beyond():
    t = _truth()
    pred = np.zeros(t.shape, np.int32)
    pred[20:23, 14:15] = 1  # 2 px = 1 mm right of focus 1: inside its zone
    pred[20:23, 16:17] = 2  # 4 px = 2 mm away: false positive
    e = ev.evaluate_image(pred, {1: "punctate", 2: "punctate"}, t)
    assert [x["matched"] for x in e.truth] == [True, False, False]
    assert len(e.false_positives) == 1 and e.false_positives[0]["location"] == "soft_tissue"


def test_majority_rule():
    t = _truth()
    pred = np.zeros(t.shape, np.int32)
    pred[30:32, 30:33] = 1  # 6 px on focus 2 ...
    pred[36:40, 30:33] = 1  # ... and 12 px far away: not > 50 % near, so false
    e = ev.evaluate_image(pred, {1: "plaque"}, t)
    assert not e.truth[1]["matched"] and len(e.false_positives) == 1


def test_fragmentation_counts_one_tp():
    t = _truth()
    pred = np.zeros(t.shape, np.int32)
    pred[15:25, 55:59] = 1
    pred[15:25, 60:65] = 2
    pred[15:20, 59:60] = 3
    e = ev.evaluate_image(pred, {1: "lobular", 2: "punctate", 3: "lobular"}, t)
    r = ev.summarise([e])
    assert r["detection"]["overall"]["tp"] == 1 and r["detection"]["overall"]["fp"] == 0
    assert r["detection"]["fragments"] == 2
    # the largest overlapping detection (id 2, 50 px) decides the pattern
    assert e.truth[2]["pred_pattern"] == "punctate"
    assert e.truth[2]["area_pred_mm2"] == pytest.approx(95 * SP * SP)


def test_fp_on_normal_images():
    n = _normal_truth()
    pred = np.zeros(n.shape, np.int32)
    pred[38:41, 20:23] = 1
    pred[3:5, 3:5] = 2
    r = ev.summarise([ev.evaluate_image(pred, {1: "punctate", 2: "plaque"}, n),
                      ev.evaluate_image(_truth().labels, dict(_truth().patterns), _truth())])
    assert r["false_positives"]["per_normal_image"] == 2.0
    assert r["false_positives"]["per_image_all"] == 1.0
    assert r["n_normal_images"] == 1


def test_lins_ccc_and_bland_altman_known_numbers():
    x = [1.0, 2.0, 3.0, 4.0]
    y = [1.5, 2.5, 3.5, 4.5]
    # var 1.25 each, cov 1.25, mean diff 0.5: 2.5 / (2.5 + 0.25)
    assert ev.lins_ccc(x, y) == pytest.approx(2.5 / 2.75)
    ba = ev.bland_altman(x, y)
    assert ba["bias"] == pytest.approx(0.5) and ba["sd"] == pytest.approx(0.0)
    ba = ev.bland_altman([0, 0, 0], [1, 2, 3])
    assert ba["bias"] == pytest.approx(2.0) and ba["sd"] == pytest.approx(1.0)
    assert (ba["loa_low"], ba["loa_high"]) == pytest.approx((2 - 1.96, 2 + 1.96))
    assert math.isnan(ev.lins_ccc([1.0], [2.0]))


def test_shape_mismatch_is_an_error():
    t = _truth()
    with pytest.raises(Exception, match="does not match"):
        ev.evaluate_image(np.zeros((5, 5), np.int32), {}, t)


def _write_case(tmp_path, t: TruthImage, name: str):
    truth = {"format": TRUTH_FORMAT, "image": name, "shape": list(t.shape), "pixel_spacing_mm": [SP, SP],
             "body_part": "hand", "seed": 0, "photometric": "PNG",
             "foci": [{"id": i, "pattern": p, "centroid_rc": [0, 0], "bbox": [0, 0, 1, 1], "area_mm2": 1.0,
                       "contrast_sigma": 5.0, "mask_rle": rle_encode(t.labels == i)} for i, p in t.patterns.items()],
             "bone_mask_rle": rle_encode(t.bone_mask), "body_mask_rle": rle_encode(t.body_mask),
             "joints_rc": [], "distractors": []}
    stem = name.rsplit(".", 1)[0]
    write_truth(tmp_path / "truth" / "sub" / f"{stem}.truth.json", truth)


def test_evaluate_dirs_reads_batch_layout_and_lists_missing(tmp_path):
    t = _truth()
    _write_case(tmp_path, t, "a.dcm")
    _write_case(tmp_path, t, "b.png")
    res = tmp_path / "res"
    (res / "json" / "sub").mkdir(parents=True)
    (res / "labels" / "sub").mkdir(parents=True)
    doc = {"foci": [{"id": i, "pattern": p} for i, p in t.patterns.items()]}
    (res / "json" / "sub" / "a.dcm.json").write_text(json.dumps(doc))
    cv2.imwrite(str(res / "labels" / "sub" / "a.dcm.png"), t.labels.astype(np.uint16))
    r = ev.evaluate_dirs(res, tmp_path / "truth")
    assert r["n_images"] == 2 and r["n_evaluated"] == 1
    assert r["detection"]["overall"]["tp"] == 3 and r["detection"]["overall"]["fn"] == 3
    assert [m["image"] for m in r["missing_results"]] == ["sub/b.png"]
    text = ev.format_report(r)
    assert "macro-F1" in text and "sub/b.png" in text
    json.dumps(r, allow_nan=False)  # strict JSON
