"""Named detector profiles: ready-made :class:`~calcidetect.config.Config` variants.

A profile is a named set of overrides of the :class:`Config` defaults.

``msk``
    Musculoskeletal radiographs (hands, feet, hips, shoulders, limbs): the
    defaults, ``Config()``.
``mammo``
    Mammograms.  Outside the musculoskeletal focus of calcidetect, but the
    micro-calcifications of the breast are the clearest real calcifications
    there are.  The profile skips bone and joints, takes the body to be the
    breast (everything brighter than the air by a small fraction of the
    air-to-tissue range), works on a 0.1 mm grid, and finds candidates with
    :mod:`calcidetect.microcalc` (a 0.5 mm top-hat in units of the local
    texture sigma, which parenchyma raises) instead of the soft-tissue
    channels.  Streaks are ``linear`` without a bone nearby (vessel
    calcification, linear calcifications).

    Assumed pixel spacing (when the file declares none): 0.1 mm.  Digitised
    film is scanned at 0.04-0.05 mm (DDSM) to 0.2 mm (mini-MIAS), full-field
    digital detectors have 0.05-0.1 mm; 0.1 mm is the middle of that range on
    a log scale.  A wrong assumption scales every size: pass the real spacing
    (``pixel_spacing_mm=`` or ``--assumed-spacing-mm``) when it is known.

Examples
--------
>>> from calcidetect.profiles import config_for, PROFILE_NAMES
>>> PROFILE_NAMES
('msk', 'mammo')
>>> config_for("msk") == config_for("msk").__class__()
True
>>> config_for("mammo").microcalc_channel
1
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Mapping

from .config import Config
from .errors import ConfigError

__all__ = ["PROFILES", "PROFILE_NAMES", "DEFAULT_PROFILE", "config_for", "describe_profile"]

#: The profile used when none is named.
DEFAULT_PROFILE = "msk"

_MAMMO: dict[str, Any] = {
    "assumed_pixel_spacing_mm": 0.1,
    "working_spacing_mm": 0.1,
    "detect_bone": 0,
    "breast_body": 1,
    "microcalc_channel": 1,
    "linear_requires_bone": 0,
    "linear_min_length_mm": 1.5,
    "linear_min_elongation": 3.0,
    # a 0.2 mm dot on a 0.1 mm grid covers ~3 pixels
    "min_area_mm2": 0.02,
    # each calcification is its own focus (fragments of one streak join)
    "lobule_group_distance_mm": 0.3,
    # micro-calcifications cluster within about a centimetre (BI-RADS: a
    # cluster is >= 5 calcifications within 1 cm^3)
    "cluster_radius_mm": 5.0,
}

#: Profile name -> overrides of the Config defaults (read-only).
PROFILES: Mapping[str, Mapping[str, Any]] = MappingProxyType(
    {"msk": MappingProxyType({}), "mammo": MappingProxyType(_MAMMO)}
)
#: Valid profile names, default first.
PROFILE_NAMES: tuple[str, ...] = tuple(PROFILES)


def config_for(name: str, **overrides: Any) -> Config:
    """The :class:`Config` of a named profile, optionally with more overrides.

    Parameters
    ----------
    name : str
        One of :data:`PROFILE_NAMES` (case-insensitive).
    **overrides
        Config parameters that take precedence over the profile's.

    Returns
    -------
    Config

    Raises
    ------
    ConfigError
        Unknown profile (the message lists the valid ones) or parameter.

    Examples
    --------
    >>> config_for("mammo", assumed_pixel_spacing_mm=0.07).assumed_pixel_spacing_mm
    0.07
    """
    key = str(name).strip().lower()
    if key not in PROFILES:
        raise ConfigError(f"unknown profile {name!r}; valid profiles: {', '.join(PROFILE_NAMES)}")
    return Config.from_dict({**PROFILES[key], **overrides}, source=f"profile {key!r}")


def describe_profile(cfg: Config) -> str:
    """The profile ``cfg`` comes from, and the parameters it changes.

    The nearest profile is the one with the fewest differing parameters
    (ties: the default).  Used for the comment line of
    :meth:`Config.to_toml`, so a batch's ``config.toml`` says which profile
    it ran with while its keys stay numeric.

    Examples
    --------
    >>> describe_profile(config_for("mammo"))
    'mammo'
    >>> describe_profile(config_for("mammo", min_area_mm2=0.05))
    'mammo, with min_area_mm2 changed'
    """
    values = cfg.to_dict()
    best, best_diff = DEFAULT_PROFILE, None
    for name in PROFILE_NAMES:
        ref = config_for(name).to_dict()
        diff = [k for k in values if values[k] != ref[k]]
        if best_diff is None or len(diff) < len(best_diff):
            best, best_diff = name, diff
    assert best_diff is not None
    return best if not best_diff else f"{best}, with {', '.join(best_diff)} changed"
