"""Config: physical units, one default per parameter, TOML in and out."""

from __future__ import annotations

import pytest

import calcidetect as cd
from calcidetect.config import Config


def test_defaults_and_replace():
    cfg = Config()
    assert cfg.assumed_pixel_spacing_mm > 0
    new = cfg.replace(min_area_mm2=0.5)
    assert new.min_area_mm2 == 0.5 and cfg.min_area_mm2 != 0.5
    with pytest.raises(cd.ConfigError, match="nonsense"):
        cfg.replace(nonsense=1)


def test_toml_round_trip(tmp_path):
    cfg = Config(high_threshold_sigma=6.5, diffuse_min_regions=4)
    path = tmp_path / "c.toml"
    path.write_text(cfg.to_toml())
    assert Config.from_toml(path) == cfg


def test_unknown_key_in_toml_names_the_key_and_file(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[calcidetect]\nmin_area_mm = 1.0\n")
    with pytest.raises(cd.ConfigError, match=r"min_area_mm.*|c\.toml"):
        Config.from_toml(path)


@pytest.mark.parametrize(
    "text, match",
    [
        ("min_area_mm2 = 'big'", "min_area_mm2"),
        ("diffuse_min_regions = 2.5", "diffuse_min_regions"),
        ("min_area_mm2 = -1.0", "min_area_mm2"),
        ("this is not toml", "TOML"),
    ],
)
def test_bad_values_are_refused(tmp_path, text, match):
    path = tmp_path / "c.toml"
    path.write_text(text + "\n")
    with pytest.raises(cd.ConfigError, match=match):
        Config.from_toml(path)


def test_thresholds_must_be_ordered():
    with pytest.raises(cd.ConfigError, match="low_threshold_sigma"):
        Config(low_threshold_sigma=9.0, high_threshold_sigma=5.0)


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(cd.ConfigError, match="cannot read"):
        Config.from_toml(tmp_path / "nope.toml")
