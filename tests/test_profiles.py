"""Detector profiles (``msk``, ``mammo``), their CLI switch, and the mammography channel."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from scipy import ndimage as ndi

import calcidetect as cd
from calcidetect import cli
from calcidetect.classify import primary_patterns, score_patterns
from calcidetect.config import Config
from calcidetect.profiles import PROFILE_NAMES, config_for, describe_profile

REALDATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "realdata"
DEBARBA = REALDATA / "png" / "mammo_microcalc_debarba_src.png"
BAC = REALDATA / "png" / "mammo_bac_testImage.png"

#: Synthetic mammogram: 0.1 mm pixels, dots of 0.2-0.4 mm at these (row, col).
MAMMO_SPACING_MM = 0.1
DOTS_RC = [(150, 120), (170, 260), (230, 180), (280, 250), (320, 110)]
DOT_RADII_PX = [1.0, 1.5, 2.0, 1.0, 1.5]


def mammo_patch(seed: int = 0, dots: bool = True) -> np.ndarray:
    """A breast-like patch: air on the right, textured parenchyma, optional dots.

    Fibroglandular tissue is smoothed noise (1-3 mm blobs) plus bright
    strands (0.5-0.9 mm wide, soft-edged, 5-20 mm long); quantum noise on top.  The dots
    are as bright above their surroundings as the brightest strands' peaks
    plus a margin typical of calcium, and much smaller.
    """
    rng = np.random.default_rng(seed)
    h, w = 420, 420
    yy, xx = np.mgrid[:h, :w]
    breast = ((yy - h / 2) / (0.48 * h)) ** 2 + (xx / (0.85 * w)) ** 2 <= 1.0
    thickness = np.sqrt(np.clip(1 - ((yy - h / 2) / (0.48 * h)) ** 2 - (xx / (0.85 * w)) ** 2, 0, None))
    img = 0.05 + 0.45 * np.minimum(thickness * 3, 1.0)
    blobs = ndi.gaussian_filter(rng.normal(0, 1, (h, w)), 15) * 4.0 + ndi.gaussian_filter(rng.normal(0, 1, (h, w)), 6) * 1.5
    strands = np.zeros((h, w), np.float32)
    for _ in range(60):
        r, c = rng.uniform(0, h), rng.uniform(0, w)
        angle, length = rng.uniform(0, np.pi), rng.uniform(50, 200)
        dr, dc = np.sin(angle) * length / 2, np.cos(angle) * length / 2
        cv2.line(strands, (int(c - dc), int(r - dr)), (int(c + dc), int(r + dr)), float(rng.uniform(0.04, 0.1)), int(rng.integers(5, 9)))
    strands = ndi.gaussian_filter(strands, 2.5)
    img = img + breast * (0.12 * blobs + strands)
    if dots:
        for (r, c), rad in zip(DOTS_RC, DOT_RADII_PX):
            img = img + 0.3 * ((yy - r) ** 2 + (xx - c) ** 2 <= rad**2)
    img = ndi.gaussian_filter(img, 0.6)  # detector blur
    img = img + rng.normal(0, 0.004, (h, w))
    return img.astype(np.float32)


# -- profile selection ------------------------------------------------------------------------


def test_msk_is_the_default_config():
    assert PROFILE_NAMES[0] == "msk"
    assert config_for("msk") == Config() == Config.for_profile("msk")
    assert (Config().detect_bone, Config().breast_body, Config().microcalc_channel, Config().linear_requires_bone) == (1, 0, 0, 1)


def test_mammo_profile_switches():
    cfg = Config.for_profile("mammo")
    assert cfg == config_for("MAMMO")
    assert (cfg.detect_bone, cfg.breast_body, cfg.microcalc_channel, cfg.linear_requires_bone) == (0, 1, 1, 0)
    assert cfg.assumed_pixel_spacing_mm == pytest.approx(0.1)
    assert config_for("mammo", min_area_mm2=0.05).min_area_mm2 == 0.05


def test_unknown_profile_names_it_and_lists_valid():
    with pytest.raises(cd.ConfigError, match=r"'breast'.*msk, mammo"):
        config_for("breast")
    with pytest.raises(cd.ConfigError, match="nonsense"):
        config_for("mammo", nonsense=1)


@pytest.mark.parametrize("name", ["detect_bone", "breast_body", "microcalc_channel", "linear_requires_bone"])
def test_switches_are_0_or_1(name):
    with pytest.raises(cd.ConfigError, match=name):
        Config(**{name: 2})


def test_toml_records_profile_and_round_trips(tmp_path):
    cfg = config_for("mammo", microcalc_high_threshold_sigma=9.0)
    text = cfg.to_toml()
    assert "# profile: mammo, with microcalc_high_threshold_sigma changed" in text
    path = tmp_path / "c.toml"
    path.write_text(text)
    assert Config.from_toml(path) == cfg
    assert describe_profile(Config()) == "msk"


def test_from_toml_base_keeps_unset_keys(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[calcidetect]\nmin_area_mm2 = 0.5\n")
    cfg = Config.from_toml(path, base=config_for("mammo"))
    assert cfg == config_for("mammo", min_area_mm2=0.5)
    path.write_text("min_area_mm = 0.5\n")
    with pytest.raises(cd.ConfigError, match=r"c\.toml.*min_area_mm"):
        Config.from_toml(path, base=config_for("mammo"))


def test_linear_without_bone_only_when_switched_off():
    # a 4 mm, 0.4 mm wide streak far from any bone (a calcified vessel wall)
    feats = {
        "equivalent_diameter_mm": np.array([1.4]),
        "major_axis_mm": np.array([4.0]),
        "minor_axis_mm": np.array([0.4]),
        "thickness_mm": np.array([0.4]),
        "elongation": np.array([10.0]),
        "solidity": np.array([0.9]),
        "lobule_count": np.array([1.0]),
        "distance_to_bone_mm": np.array([1000.0]),
        "distance_to_joint_mm": np.array([1000.0]),
        "skin_depth_mm": np.array([30.0]),
        "angle_to_bone_deg": np.array([90.0]),
    }
    for cfg, expected in ((Config(), "linear"), (config_for("mammo"), "linear")):
        scores = score_patterns(feats, cfg)
        label = primary_patterns(scores, feats["equivalent_diameter_mm"], cfg)[0]
        if cfg.linear_requires_bone:
            assert scores["linear"][0] == 0.0 and label != "linear"
        else:
            assert label == expected


# -- command line -----------------------------------------------------------------------------


@pytest.fixture()
def patch_dir(tmp_path):
    root = tmp_path / "in"
    root.mkdir()
    img = mammo_patch()
    assert cv2.imwrite(str(root / "patch.png"), np.clip(img * 50000, 0, 65535).astype(np.uint16))
    return root


def test_cli_unknown_profile_exit_2(tmp_path, patch_dir, capsys):
    assert cli.main(["detect", str(patch_dir / "patch.png"), "--profile", "breast"]) == 2
    err = capsys.readouterr().err
    assert "'breast'" in err and "msk, mammo" in err
    assert cli.main(["batch", str(patch_dir), str(tmp_path / "out"), "--profile", "breast", "--quiet"]) == 2
    assert "'breast'" in capsys.readouterr().err


def test_cli_batch_profile_and_config_override(tmp_path, patch_dir):
    cfg_file = tmp_path / "c.toml"
    cfg_file.write_text("[calcidetect]\nmicrocalc_high_threshold_sigma = 9.0\n")
    out = tmp_path / "out"
    args = ["batch", str(patch_dir), str(out), "--profile", "mammo", "--config", str(cfg_file), "--quiet", "--workers", "1", "--no-overlays"]
    assert cli.main(args) == 0
    written = out / "config.toml"
    assert Config.from_toml(written) == config_for("mammo", microcalc_high_threshold_sigma=9.0)
    assert "# profile: mammo, with microcalc_high_threshold_sigma changed" in written.read_text()


def test_cli_detect_profile_mammo(tmp_path, patch_dir, capsys):
    overlay = tmp_path / "o.png"
    assert cli.main(["detect", str(patch_dir / "patch.png"), "--profile", "mammo", "--overlay", str(overlay)]) == 0
    assert overlay.is_file()
    assert "assumed" in capsys.readouterr().out


# -- the micro-calcification channel on a synthetic mammogram ---------------------------------


@pytest.mark.parametrize("seed", [0, 1])
def test_mammo_finds_dots_not_texture(seed):
    res = cd.detect(mammo_patch(seed), pixel_spacing_mm=MAMMO_SPACING_MM, config=config_for("mammo"))
    centres = np.array([f.centroid_rc for f in res.foci]).reshape(-1, 2)
    for r, c in DOTS_RC:
        assert centres.size and np.hypot(*(centres - (r, c)).T).min() <= 2.0, (r, c)
    assert len(res.foci) <= len(DOTS_RC) + 1
    assert all(f.pattern == "punctate" for f in res.foci if np.hypot(*(np.array(f.centroid_rc) - DOTS_RC[0])) < 3)
    assert not res.bone_mask.any()


@pytest.mark.parametrize("seed", [0, 1])
def test_mammo_texture_alone_gives_few_weak_foci(seed):
    cfg = config_for("mammo")
    with_dots = cd.detect(mammo_patch(seed), pixel_spacing_mm=MAMMO_SPACING_MM, config=cfg)
    weakest_dot = min(
        f.features["contrast_sigma"] for f in with_dots.foci if min(np.hypot(f.centroid_rc[0] - r, f.centroid_rc[1] - c) for r, c in DOTS_RC) <= 2.0
    )
    res = cd.detect(mammo_patch(seed, dots=False), pixel_spacing_mm=MAMMO_SPACING_MM, config=cfg)
    # strand crossings may just pass the bar, far below any dot
    assert len(res.foci) <= 2
    assert all(f.features["contrast_sigma"] < 0.5 * weakest_dot for f in res.foci)


# -- real mammograms (skipped when ../shared/realdata is absent) ------------------------------


def _independent_cnr(pixels: np.ndarray, res: cd.Result) -> np.ndarray:
    """Per focus: its brightest raw pixel over the median of a 31-pixel window, in robust sigmas.

    Measured on the raw input pixels, not on the detector's own significance.
    """
    out = []
    for f in res.foci:
        r0, c0, r1, c1 = f.bbox
        peak = pixels[r0:r1, c0:c1][res.labels[r0:r1, c0:c1] == f.id].max()
        r, c = int(f.centroid_rc[0]), int(f.centroid_rc[1])
        win = pixels[max(0, r - 15) : r + 16, max(0, c - 15) : c + 16]
        med = np.median(win)
        mad = 1.4826 * np.median(np.abs(win - med))
        out.append((peak - med) / max(mad, 1.0))  # 8-bit films: at least one grey level
    return np.asarray(out)


@pytest.mark.skipif(not DEBARBA.is_file(), reason="../shared/realdata not present")
def test_debarba_microcalcifications():
    img = cd.load_image(DEBARBA)
    res = cd.detect(img, config=config_for("mammo"))
    n = len(res.foci)
    # about 50 foci seen on the overlay, most on the visible calcifications
    assert 15 <= n <= 150
    rows = np.array([f.centroid_rc[0] for f in res.foci])
    assert all(res.body_mask[int(f.centroid_rc[0]), int(f.centroid_rc[1])] for f in res.foci)
    # the calcifications are in the lower half of the film
    assert (rows > img.pixels.shape[0] / 2).mean() >= 0.6
    assert (_independent_cnr(img.pixels, res) > 3.0).mean() >= 0.6
    assert res.spacing_source == "assumed" and not res.bone_mask.any()


@pytest.mark.skipif(not BAC.is_file(), reason="../shared/realdata not present")
def test_bac_vessel_calcification():
    img = cd.load_image(BAC)  # RGB with identical channels: loads as grey
    res = cd.detect(img, config=config_for("mammo"))
    rows = np.array([f.centroid_rc[0] for f in res.foci])
    cols = np.array([f.centroid_rc[1] for f in res.foci])
    # the calcified artery crosses the mid-breast between rows ~1000 and ~1250
    band = (rows > 1000) & (rows < 1250)
    assert band.sum() >= 8
    assert cols[band].max() - cols[band].min() >= 500
    assert any(f.pattern == "linear" for f, b in zip(res.foci, band) if b)
    # nothing on the white frame or the burned-in label (outside the breast)
    assert all(res.body_mask[int(r), int(c)] for r, c in zip(rows, cols))
    assert (_independent_cnr(img.pixels, res) > 3.0).mean() >= 0.6


def test_breast_excludes_a_band_along_the_film_edge_and_the_label_it_reaches():
    from calcidetect.microcalc import find_breast

    rng = np.random.default_rng(5)
    img = np.full((400, 300), 0.1, np.float32)
    rows, cols = np.mgrid[0:400, 0:300]
    breast = (rows - 200) ** 2 / 180.0**2 + cols**2 / 150.0**2 <= 1
    img[breast] = 1.0
    img[392:, :] = 0.6  # a thin bright strip along the bottom edge ...
    img[:, 260:] = 0.6  # ... joined to a band along the right edge
    img[30:60, 200:240] = 0.9  # a burned-in label touching that band
    img[30:60, 240:260] = 0.9
    img += rng.normal(0, 0.01, img.shape).astype(np.float32)
    mask = find_breast(img, np.ones(img.shape, bool), 0.2, 0.1)
    assert mask[breast].mean() > 0.97
    assert not mask[30:60, 200:260].any()  # the label
    assert mask[:, 265:].mean() < 0.02  # the band
