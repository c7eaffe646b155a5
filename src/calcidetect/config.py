"""Detector configuration: every threshold in physical units.

:class:`Config` is a frozen dataclass.  Lengths are in millimetres (``_mm``),
areas in square millimetres (``_mm2``), angles in degrees (``_deg``) and
contrasts in units of the image's own noise sigma (``_sigma``).  There is
exactly one default for each parameter: the one declared here.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
from dataclasses import dataclass, fields
from typing import Any

from .errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["Config"]

#: 0/1 switch fields (validated as such).
_SWITCHES = ("detect_bone", "detect_plates", "breast_body", "microcalc_channel", "linear_requires_bone")


@dataclass(frozen=True)
class Config:
    """All tunable parameters of loading and detection.

    Parameters are grouped by pipeline stage.  Construct with keyword
    arguments, from a TOML file with :meth:`from_toml`, or derive a variant
    with :meth:`replace`.

    Examples
    --------
    >>> cfg = Config()
    >>> cfg.assumed_pixel_spacing_mm
    0.15
    >>> Config(min_area_mm2=0.5).min_area_mm2
    0.5
    """

    # -- loading ---------------------------------------------------------
    #: Refuse images with more pixels than this before allocating them.
    max_pixels: int = 100_000_000
    #: Pixel spacing used when the file declares none (most PNGs).
    assumed_pixel_spacing_mm: float = 0.15

    # -- normalise -------------------------------------------------------
    #: Internal working resolution; finer inputs are downsampled to it.
    working_spacing_mm: float = 0.2
    #: Robust scaling percentiles inside the body.
    body_low_percentile: float = 1.0
    body_high_percentile: float = 99.5

    # -- anatomy ---------------------------------------------------------
    #: Foci are not looked for this close to a collimation edge ...
    field_edge_margin_mm: float = 3.0
    #: ... nor this close to the image border.
    image_border_margin_mm: float = 1.0
    #: Metal: excess density above this multiple of bone cortex's density.
    metal_min_relative_density: float = 1.8
    #: A piece of metal this small is a lead marker (a letter) or a character
    #: of text, not an implant; foci are not looked for in its holder: its
    #: bounding box grown by ``marker_holder_margin_mm`` (the holder's
    #: straight edges and corners stand out like thin plaques).
    marker_max_area_mm2: float = 150.0
    marker_holder_margin_mm: float = 3.0
    #: Widest bone expected (an adult femur); wider dense areas are tissue.
    max_bone_width_mm: float = 36.0
    #: Structures thinner than this are not bone (mm).
    min_bone_width_mm: float = 3.0
    #: Smallest area of a bone component.
    min_bone_area_mm2: float = 60.0
    #: Two bones closer than this form a joint.
    joint_gap_max_mm: float = 6.0

    # -- segment ---------------------------------------------------------
    #: Radius of the soft-tissue background estimate (must exceed a mass).
    background_radius_mm: float = 3.0
    #: Coarse channel for large masses: half the length of its line openings
    #: (a mass up to twice this across is removed from its floor), thresholds
    #: (in per-pixel noise sigma), minimum area.
    coarse_background_radius_mm: float = 20.0
    coarse_high_threshold_sigma: float = 4.0
    coarse_low_threshold_sigma: float = 2.0
    coarse_min_area_mm2: float = 12.0
    #: Scale of the high-pass used to estimate noise.
    noise_scale_mm: float = 0.6
    #: Hysteresis thresholds on excess density, in noise sigma.
    high_threshold_sigma: float = 5.0
    low_threshold_sigma: float = 2.5
    #: Band-pass channel for dots and thin sheets: excess smoothed at the
    #: inner scale minus excess smoothed at the outer scale (Gaussian sigmas),
    #: and its hysteresis thresholds in local noise sigma.
    bandpass_inner_mm: float = 0.2
    bandpass_outer_mm: float = 1.0
    bandpass_high_threshold_sigma: float = 6.0
    bandpass_low_threshold_sigma: float = 3.0
    #: Within this depth below the skin line the band-pass channel's high
    #: threshold is this (the low one is raised in proportion).
    bandpass_skin_margin_mm: float = 2.5
    bandpass_skin_high_threshold_sigma: float = 7.5
    #: A focus extends to where its excess reaches this fraction of its peak.
    relative_extent: float = 0.35
    #: Foci smaller than this are discarded.
    min_area_mm2: float = 0.08
    #: Lobules closer than this are grouped into one focus.
    lobule_group_distance_mm: float = 1.0
    #: Lobules up to this far apart are one focus when tissue at least
    #: ``lobule_bridge_min_sigma`` above the noise joins them: the nodules of
    #: a plaque on their fainter sheet, the lobules of a mass.  A value not
    #: above ``lobule_group_distance_mm`` disables it.
    lobule_bridge_distance_mm: float = 3.0
    lobule_bridge_min_sigma: float = 1.5
    #: Candidates with more than this fraction of their area within this
    #: distance of bone are bone edges, not deposits.
    bone_hug_distance_mm: float = 1.5
    bone_hug_max_fraction: float = 1.0
    #: Candidates this large need a peak this many sigma high (a broad faint
    #: patch is unmasked bone texture or a plate edge, not a dense deposit).
    large_focus_min_area_mm2: float = 8.0
    large_focus_min_contrast_sigma: float = 10.0
    #: Exclusion band around bone edges.
    bone_margin_mm: float = 0.6
    #: Candidates reaching within this distance of that band (no soft tissue
    #: between them and the bone) are parts of the bone the mask missed.
    bone_contact_mm: float = 0.3
    #: A speck (up to punctate size) whose surroundings out to this distance
    #: are, on median, denser than this fraction of the bone threshold lies on
    #: bone the mask missed (trabecular texture), not in soft tissue.
    dense_surround_ring_mm: float = 3.0
    dense_surround_max_fraction: float = 0.45

    # -- classify ----------------------------------------------------------
    punctate_max_diameter_mm: float = 2.5
    linear_min_elongation: float = 3.5
    linear_max_width_mm: float = 2.5
    linear_max_angle_deg: float = 25.0
    linear_max_bone_distance_mm: float = 15.0
    periarticular_max_joint_distance_mm: float = 6.0
    plaque_max_thickness_mm: float = 3.0
    plaque_max_skin_depth_mm: float = 8.0
    lobular_min_diameter_mm: float = 6.0
    cluster_radius_mm: float = 10.0
    diffuse_min_regions: int = 3

    # -- profile switches and the micro-calcification channel ---------------
    # Off (msk) by default; ``calcidetect.profiles`` turns them on for
    # mammograms.  Switches are 0/1 integers (Config holds numbers only).
    #: 1: look for bone, joints and metal (musculoskeletal films); 0: skip.
    detect_bone: int = 1
    #: 1: also find flat bones wider than ``max_bone_width_mm`` (scapula,
    #: iliac wing) by the steps of their outline (:mod:`calcidetect.plates`).
    detect_plates: int = 1
    #: 1: body = largest region brighter than air by ``breast_body_fraction``
    #: of the air-to-tissue range (a breast fades into air; the musculoskeletal
    #: air test splits fat from gland on processed digital mammograms).
    breast_body: int = 0
    breast_body_fraction: float = 0.08
    #: 1: candidates come from :mod:`calcidetect.microcalc` (small top-hat in
    #: local texture sigma) instead of the fine + coarse soft-tissue channels.
    microcalc_channel: int = 0
    #: Pre-smoothing and opening radius of the micro-calcification top-hat.
    microcalc_smooth_mm: float = 0.05
    microcalc_background_radius_mm: float = 0.5
    #: Window of the local texture/noise sigma (parenchyma raises it).
    microcalc_noise_window_mm: float = 4.0
    #: Hysteresis on the top-hat, in local sigma.
    microcalc_high_threshold_sigma: float = 8.0
    microcalc_low_threshold_sigma: float = 4.0
    #: No candidates within this distance of the skin line.
    microcalc_skin_margin_mm: float = 3.0
    #: Elongated candidates (strands of parenchyma, or vessel calcification)
    #: must peak this high to be kept.
    microcalc_strand_min_elongation: float = 3.0
    microcalc_strand_min_contrast_sigma: float = 10.0
    #: Candidates larger than this are not micro-calcifications (mm^2).
    microcalc_max_area_mm2: float = 25.0
    #: 0: linear = thin, long streak wherever it lies (vessel calcification);
    #: 1: it must also run parallel to a nearby bone (tendon sheath).
    linear_requires_bone: int = 1
    #: A linear focus is at least this long.
    linear_min_length_mm: float = 5.0

    # ------------------------------------------------------------------
    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"Config.{f.name} must be a number, got {value!r}")
            if not math.isfinite(value):
                raise ConfigError(f"Config.{f.name} must be finite, got {value!r}")
            if value < 0:
                raise ConfigError(f"Config.{f.name} must be >= 0, got {value!r}")
        if self.low_threshold_sigma > self.high_threshold_sigma:
            raise ConfigError("Config.low_threshold_sigma must be <= high_threshold_sigma")
        if self.assumed_pixel_spacing_mm <= 0 or self.working_spacing_mm <= 0:
            raise ConfigError("pixel spacings in Config must be > 0")
        if self.bandpass_low_threshold_sigma > self.bandpass_high_threshold_sigma:
            raise ConfigError("Config.bandpass_low_threshold_sigma must be <= bandpass_high_threshold_sigma")
        if self.bandpass_high_threshold_sigma <= 0 or self.bandpass_skin_high_threshold_sigma <= 0:
            raise ConfigError("Config.bandpass_high_threshold_sigma and bandpass_skin_high_threshold_sigma must be > 0")
        if self.bandpass_inner_mm >= self.bandpass_outer_mm:
            raise ConfigError("Config.bandpass_inner_mm must be < bandpass_outer_mm")
        if self.microcalc_low_threshold_sigma > self.microcalc_high_threshold_sigma:
            raise ConfigError("Config.microcalc_low_threshold_sigma must be <= microcalc_high_threshold_sigma")
        for name in _SWITCHES:
            if getattr(self, name) not in (0, 1):
                raise ConfigError(f"Config.{name} is a switch: 0 or 1, got {getattr(self, name)!r}")

    @classmethod
    def from_dict(cls, values: dict[str, Any], *, source: str = "config") -> "Config":
        """Build a Config from a mapping; unknown keys are an error naming the key."""
        known = {f.name: f for f in fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, value in values.items():
            if key not in known:
                raise ConfigError(f"{source}: unknown configuration key {key!r}")
            typ = known[key].type
            if typ in ("int", int):
                if isinstance(value, bool) or not isinstance(value, int):
                    raise ConfigError(f"{source}: {key!r} must be an integer, got {value!r}")
            elif isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"{source}: {key!r} must be a number, got {value!r}")
            kwargs[key] = float(value) if typ in ("float", float) else value
        return cls(**kwargs)

    @classmethod
    def for_profile(cls, name: str) -> "Config":
        """The Config of a named profile (``"msk"``, the default, or ``"mammo"``).

        See :mod:`calcidetect.profiles`.  Unknown names raise
        :class:`~calcidetect.errors.ConfigError` listing the valid ones.

        Examples
        --------
        >>> Config.for_profile("msk") == Config()
        True
        """
        from .profiles import config_for

        return config_for(name)

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str], *, base: "Config | None" = None) -> "Config":
        """Read a Config from a TOML file.

        Keys may sit at the top level or under a ``[calcidetect]`` table.
        Unknown keys raise :class:`~calcidetect.errors.ConfigError` naming the
        key and the file.  Keys the file does not set come from ``base``
        (default: the ``Config()`` defaults), e.g. a profile's Config.
        """
        path = os.fspath(path)
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read config file ({exc.strerror})") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc})") from None
        if set(data) == {"calcidetect"} and isinstance(data["calcidetect"], dict):
            data = data["calcidetect"]
        if base is not None:
            cls.from_dict(data, source=path)  # errors name the file's own keys
            data = {**base.to_dict(), **data}
        return cls.from_dict(data, source=path)

    def to_dict(self) -> dict[str, Any]:
        """Every parameter as a plain dict (JSON-serialisable)."""
        return dataclasses.asdict(self)

    def to_toml(self) -> str:
        """The configuration as TOML text, one ``key = value`` per line."""
        lines = ["# calcidetect configuration (units are in the key names)"]
        from .profiles import describe_profile

        lines.append(f"# profile: {describe_profile(self)}")
        lines.append("[calcidetect]")
        for key, value in self.to_dict().items():
            lines.append(f"{key} = {value!r}")
        return "\n".join(lines) + "\n"

    def replace(self, **changes: Any) -> "Config":
        """A copy with some parameters changed (unknown names are an error)."""
        return type(self).from_dict({**self.to_dict(), **changes}, source="Config.replace")
