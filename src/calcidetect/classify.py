"""Stage 5: transparent rules that score each focus for every pattern.

Each rule is a product of soft ramps over features measured in millimetres
(thresholds in :class:`~calcidetect.config.Config`), so a score says how well
a focus fits the pattern's description in DESIGN.md, and the features say why.
The primary label is the pattern with the highest score.

Rules and their clinical reasons
--------------------------------
punctate
    Small (equivalent diameter up to ``punctate_max_diameter_mm``) and round:
    fine dots of metastatic or dystrophic calcinosis.
plaque
    Thin (``plaque_max_thickness_mm``) sheet, longer than it is thick, lying
    in the skin / subcutaneous layer (``plaque_max_skin_depth_mm``) and nearer
    the skin than the bone: the deposits of calcinosis universalis /
    circumscripta.
lobular
    Large (``lobular_min_diameter_mm``), compact (not a streak), made of
    clustered lobules, away from joints: tumoral calcinosis masses.
periarticular
    Centred within ``periarticular_max_joint_distance_mm`` of a joint gap (or
    of a long bone's free end, whose partner the bone mask may miss) and
    not a tiny dot (or, if small, lying in the gap itself): milk-alkali, tumoral calcinosis about joints, CPPD-like
    periarticular deposits.
linear
    Thin (``linear_max_width_mm``), long (elongation ``linear_min_elongation``)
    and parallel (``linear_max_angle_deg``) to a bone within
    ``linear_max_bone_distance_mm``: tendon-sheath calcification.  With
    ``linear_requires_bone = 0`` (the ``mammo`` profile) thin and long is
    enough: vascular and fine linear calcifications of the breast.
"""

from __future__ import annotations

import numpy as np

from .config import Config
from .result import PATTERNS

__all__ = ["score_patterns", "primary_patterns"]

#: Soft-ramp widths, as multiples of the threshold they soften.
_SOFT = 0.5
#: A deposit centred within this distance (mm) of a joint gap, at least this
#: wide, is periarticular even below the punctate size limit.
_IN_GAP_MM = 2.0
_IN_GAP_MIN_DIAMETER_MM = 1.0


def _rising(x: np.ndarray, threshold: float, width: float | None = None) -> np.ndarray:
    """0 below ``threshold - width/2``, 1 above ``threshold + width/2``, linear between."""
    w = _SOFT * threshold if width is None else width
    w = max(w, 1e-9)
    return np.clip((x - (threshold - w / 2)) / w, 0.0, 1.0)


def _falling(x: np.ndarray, threshold: float, width: float | None = None) -> np.ndarray:
    return 1.0 - _rising(x, threshold, width)


def score_patterns(features: dict[str, np.ndarray], cfg: Config) -> dict[str, np.ndarray]:
    """Score every focus for every pattern (arrays in [0, 1]).

    Parameters
    ----------
    features : dict of str to ndarray
        From :func:`calcidetect.features.measure_foci`.
    cfg : Config

    Returns
    -------
    dict of str to ndarray
        One score array per name in :data:`calcidetect.PATTERNS`.
    """
    f = features
    diameter = f["equivalent_diameter_mm"]
    length = f["major_axis_mm"]
    thickness = f["thickness_mm"]
    elongation = f["elongation"]
    lobules = f["lobule_count"]
    solidity = f["solidity"]
    bone_d = f["distance_to_bone_mm"]
    joint_d = f["distance_to_joint_mm"]
    skin_d = f["skin_depth_mm"]
    angle = f["angle_to_bone_deg"]

    small = _falling(diameter, cfg.punctate_max_diameter_mm)
    round_ = _falling(elongation, 2.5, 1.5)
    punctate = small * round_

    near_joint = _falling(joint_d, cfg.periarticular_max_joint_distance_mm)
    not_tiny = _rising(diameter, cfg.punctate_max_diameter_mm)
    # a deposit in the joint gap itself hugs the joint even when small
    in_gap = _falling(joint_d, _IN_GAP_MM, _IN_GAP_MM) * _rising(diameter, _IN_GAP_MIN_DIAMETER_MM, _IN_GAP_MIN_DIAMETER_MM)
    periarticular = near_joint * np.maximum(not_tiny, in_gap)

    thin_streak = _falling(thickness, cfg.linear_max_width_mm)
    long_ = _rising(elongation, cfg.linear_min_elongation) * _rising(length, cfg.linear_min_length_mm)
    parallel = _falling(angle, cfg.linear_max_angle_deg)
    near_bone = _falling(bone_d, cfg.linear_max_bone_distance_mm)
    bone_side = _rising(skin_d - bone_d, 0.0, 4.0)
    linear = thin_streak * long_ * parallel * near_bone * bone_side
    if not cfg.linear_requires_bone:  # mammograms: vessel / linear calcification
        linear = thin_streak * long_

    sheet = _falling(thickness, cfg.plaque_max_thickness_mm) * _rising(length, 3.0)
    shallow = _falling(skin_d, cfg.plaque_max_skin_depth_mm)
    skin_side = _rising(bone_d - skin_d, 0.0, 4.0)
    plaque = sheet * shallow * np.maximum(skin_side, 0.25) * (1.0 - 0.5 * long_ * parallel * near_bone)

    big = _rising(diameter, cfg.lobular_min_diameter_mm)
    lobulated = np.maximum(_rising(lobules, 2.0, 2.0), _falling(solidity, 0.85, 0.2))
    compact = _falling(elongation, cfg.linear_min_elongation)
    lobular = big * (0.5 + 0.5 * lobulated) * (1.0 - near_joint) * compact

    return {
        "punctate": punctate,
        "plaque": plaque,
        "lobular": lobular,
        "periarticular": periarticular,
        "linear": linear,
    }


#: Below this best score a focus fits no rule and is labelled by size alone.
_MIN_FIT = 0.05


#: Ties go to the pattern a focus's place defines (a dot in a joint gap is
#: periarticular, a streak along a bone linear, a sheet under the skin a
#: plaque) before the patterns of shape alone.
_TIE_ORDER = ("periarticular", "linear", "plaque", "lobular", "punctate")


def primary_patterns(scores: dict[str, np.ndarray], diameter_mm: np.ndarray, cfg: Config) -> list[str]:
    """The highest-scoring pattern of each focus (ties: place before shape, ``_TIE_ORDER``).

    A focus that fits no rule at all (best score below 0.05) gets the pattern
    its size suggests: punctate up to ``punctate_max_diameter_mm``, else
    lobular; its scores stay as measured.
    """
    stack = np.stack([scores[p] for p in _TIE_ORDER], axis=0)
    best = np.argmax(stack, axis=0)  # the first of equal maxima
    unfit = stack.max(axis=0) < _MIN_FIT
    by_size = np.where(diameter_mm <= cfg.punctate_max_diameter_mm, _TIE_ORDER.index("punctate"), _TIE_ORDER.index("lobular"))
    best = np.where(unfit, by_size, best)
    return [_TIE_ORDER[i] for i in best]
