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
    #: Foci are not looked for this close to a collimation edge.
    field_edge_margin_mm: float = 3.0
    #: Metal: excess density above this multiple of bone cortex's density.
    metal_min_relative_density: float = 1.8
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
    #: Coarse channel for large masses: opening radius, thresholds (in per-pixel
    #: noise sigma), minimum area.
    coarse_background_radius_mm: float = 20.0
    coarse_high_threshold_sigma: float = 4.0
    coarse_low_threshold_sigma: float = 2.0
    coarse_min_area_mm2: float = 12.0
    #: Scale of the high-pass used to estimate noise.
    noise_scale_mm: float = 0.6
    #: Hysteresis thresholds on excess density, in noise sigma.
    high_threshold_sigma: float = 5.0
    low_threshold_sigma: float = 2.5
    #: A focus extends to where its excess reaches this fraction of its peak.
    relative_extent: float = 0.35
    #: Foci smaller than this are discarded.
    min_area_mm2: float = 0.08
    #: Lobules closer than this are grouped into one focus.
    lobule_group_distance_mm: float = 1.0
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
    def from_toml(cls, path: str | os.PathLike[str]) -> "Config":
        """Read a Config from a TOML file.

        Keys may sit at the top level or under a ``[calcidetect]`` table.
        Unknown keys raise :class:`~calcidetect.errors.ConfigError` naming the
        key and the file.
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
        return cls.from_dict(data, source=path)

    def to_dict(self) -> dict[str, Any]:
        """Every parameter as a plain dict (JSON-serialisable)."""
        return dataclasses.asdict(self)

    def to_toml(self) -> str:
        """The configuration as TOML text, one ``key = value`` per line."""
        lines = ["# calcidetect configuration (units are in the key names)", "[calcidetect]"]
        for key, value in self.to_dict().items():
            lines.append(f"{key} = {value!r}")
        return "\n".join(lines) + "\n"

    def replace(self, **changes: Any) -> "Config":
        """A copy with some parameters changed (unknown names are an error)."""
        return type(self).from_dict({**self.to_dict(), **changes}, source="Config.replace")
