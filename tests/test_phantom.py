"""Invariants of the phantom generator and the truth format."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pydicom
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from calcidetect import phantom
from calcidetect.evaluate import evaluate_image, summarise
from calcidetect.result import PATTERNS
from calcidetect.truth import (
    TRUTH_SUFFIX,
    is_truth_file,
    read_truth,
    rle_decode,
    rle_encode,
    truth_path_for,
)

SCALE = 0.2  # ~300-450 px a side: fast


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("phantoms")
    return out, phantom.write_dataset(out, n=8, seed=11, size_scale=SCALE)


def _regenerate(truth):
    g = truth["generator"]
    return phantom.generate(truth["seed"], truth["body_part"], normal=g["normal"],
                            first_pattern=g["first_pattern"], size_scale=g["size_scale"])


@pytest.mark.parametrize("part", phantom.BODY_PARTS)
def test_deterministic(part):
    a = phantom.generate(123, part, normal=False, size_scale=SCALE)
    b = phantom.generate(123, part, normal=False, size_scale=SCALE)
    assert np.array_equal(a.pixels, b.pixels)
    assert json.dumps(a.truth) == json.dumps(b.truth)
    c = phantom.generate(124, part, normal=False, size_scale=SCALE)
    assert not np.array_equal(a.pixels[:50, :50], c.pixels[:50, :50]) or a.pixels.shape != c.pixels.shape


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("part", phantom.BODY_PARTS)
def test_foci_in_body_outside_bone(part, seed):
    ph = phantom.generate(seed, part, normal=False, size_scale=SCALE)
    lab = ph.labels > 0
    assert not (lab & ph.bone_mask).any()
    assert ph.body_mask[lab].all()
    ids = [f["id"] for f in ph.truth["foci"]]
    assert ids == list(range(1, len(ids) + 1)) and len(ids) <= 12
    assert set(np.unique(ph.labels)) - {0} == set(ids)
    assert ph.pixels.dtype == np.uint16
    assert ph.pixels.max() <= 2 ** ph.bits_stored - 1
    for f in ph.truth["foci"]:
        assert f["pattern"] in PATTERNS and f["contrast_sigma"] > 0


def test_normal_images_have_no_foci():
    ph = phantom.generate(5, "hip", normal=True, size_scale=SCALE)
    assert ph.truth["foci"] == [] and ph.labels.max() == 0


def test_physics_sanity():
    ph = phantom.generate(3, "hand", normal=False, size_scale=0.3)
    px = ph.pixels.astype(float)
    soft = ph.body_mask & ~ph.bone_mask
    # bone denser than soft tissue, soft tissue denser than air; background is noisy
    assert np.median(px[ph.bone_mask]) > np.median(px[soft])
    air = ~ph.body_mask & (px < np.percentile(px, 50))
    assert np.median(px[soft]) > np.median(px[air])
    assert px[air].std() > 0.5
    # calcifications are not flat
    lab = ph.labels == 1
    if lab.sum() > 20:
        assert px[lab].std() > 0


def test_batch_covers_patterns_formats_parts(dataset):
    out, paths = dataset
    assert len(paths) == 8
    pats, parts, photos, normals = set(), set(), set(), 0
    for p in paths:
        t = read_truth(truth_path_for(p))
        pats |= set(t.patterns.values())
        parts.add(t.body_part)
        photos.add(t.photometric)
        normals += t.is_normal
    assert pats == set(PATTERNS)
    assert parts == set(phantom.BODY_PARTS)
    assert photos == {"MONOCHROME1", "MONOCHROME2", "PNG"}
    assert normals >= 1


def test_truth_files_are_not_images(dataset):
    out, paths = dataset
    image_ext = {".dcm", ".png", ".tif", ".tiff", ".jpg", ".jpeg"}
    truths = sorted(out.glob("*" + TRUTH_SUFFIX))
    assert len(truths) == len(paths)
    for t in truths:
        assert t.suffix == ".json" and t.suffix not in image_ext and is_truth_file(t)
        assert not any(s.lower() in image_ext for s in t.suffixes)
    assert not any(is_truth_file(p) for p in paths)
    files = {p.name for p in out.iterdir()}
    assert files == {p.name for p in paths} | {t.name for t in truths}


def test_dicom_and_png_round_trip(dataset):
    out, paths = dataset
    seen = set()
    for p in paths:
        t = json.loads(truth_path_for(p).read_text())
        ph = _regenerate(t)
        maxv = 2 ** ph.bits_stored - 1
        if p.suffix == ".png":
            arr = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
            assert arr.dtype == np.uint16
            assert np.array_equal(arr, ph.pixels)
        else:
            ds = pydicom.dcmread(p)
            assert ds.BitsStored in (12, 14) and ds.BitsStored == ph.bits_stored
            assert str(ds.PatientName).startswith("PHANTOM^")
            sp = ds.get("PixelSpacing") or ds.get("ImagerPixelSpacing")
            assert float(sp[0]) == pytest.approx(t["pixel_spacing_mm"][0], rel=1e-5)
            slope, intercept = float(ds.RescaleSlope), float(ds.RescaleIntercept)
            stored = ds.pixel_array.astype(np.int64)
            # undo the modality LUT, then the MONOCHROME1 inversion, ourselves
            values = stored * slope + intercept
            raw = np.round((values - intercept) / slope).astype(np.int64)
            if ds.PhotometricInterpretation == "MONOCHROME1":
                raw = maxv - raw
            assert np.array_equal(raw, ph.pixels)
        seen.add(t["photometric"])
        truth = read_truth(truth_path_for(p))
        assert np.array_equal(truth.labels, ph.labels)
        assert np.array_equal(truth.bone_mask, ph.bone_mask)
        assert np.array_equal(truth.body_mask, ph.body_mask)
    assert seen == {"MONOCHROME1", "MONOCHROME2", "PNG"}


def test_files_byte_identical(tmp_path):
    a = phantom.write_dataset(tmp_path / "a", n=3, seed=4, size_scale=0.12)
    b = phantom.write_dataset(tmp_path / "b", n=3, seed=4, size_scale=0.12)
    for x, y in zip(a, b):
        assert x.read_bytes() == y.read_bytes()
        assert truth_path_for(x).read_bytes() == truth_path_for(y).read_bytes()


def test_own_truth_scores_perfectly(dataset):
    out, paths = dataset
    evals = []
    for p in paths:
        t = read_truth(truth_path_for(p))
        evals.append(evaluate_image(t.labels, dict(t.patterns), t))
    r = summarise(evals)
    assert r["detection"]["overall"]["f1"] == 1.0 and r["pattern"]["macro_f1"] == 1.0


@settings(max_examples=60, deadline=None)
@given(arrays(np.bool_, st.tuples(st.integers(0, 12), st.integers(0, 12))))
def test_rle_round_trip(mask):
    rle = rle_encode(mask)
    assert np.array_equal(rle_decode(rle, mask.shape), mask)
    assert all(length > 0 for _, length in rle)
    assert int(sum(length for _, length in rle)) == int(mask.sum())


def test_rle_rejects_out_of_range():
    with pytest.raises(Exception):
        rle_decode([[10, 5]], (3, 4))


def test_bad_arguments():
    with pytest.raises(ValueError):
        phantom.generate(0, "knee")
    with pytest.raises(ValueError):
        phantom.write_dataset(Path("/tmp/never"), n=1, seed=0, formats=("jpeg",))
