"""Stage 4: features of every focus, in physical units, from one labelled pass.

All measurements are vectorised over foci (``np.bincount`` label statistics
from :mod:`calcidetect.labelstats`); per-focus work (convex hull, thickness)
stays on the focus's bounding box.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage as ndi
from scipy.spatial import cKDTree

from .anatomy import Anatomy, joint_distance_at
from .config import Config
from .labelstats import label_max, label_mean, label_min, label_moments, label_solidity
from .orderstats import percentile
from .segment import Segmentation

__all__ = ["FEATURE_NAMES", "measure_foci"]

#: Names of the features in :attr:`calcidetect.Focus.features`, in order.
FEATURE_NAMES = (
    "equivalent_diameter_mm",
    "major_axis_mm",
    "minor_axis_mm",
    "thickness_mm",
    "elongation",
    "solidity",
    "lobule_count",
    "contrast_sigma",
    "mean_contrast_sigma",
    "relative_density",
    "distance_to_bone_mm",
    "distance_to_joint_mm",
    "skin_depth_mm",
    "angle_to_bone_deg",
    "cluster_count",
)

#: Distances beyond this are reported as this (mm): "far".
_FAR_MM = 1000.0


def _max_inside_distance(labels: np.ndarray, slices: list) -> np.ndarray:
    """Largest Euclidean distance (px) from each focus's pixels to the outside.

    Foci are never 8-adjacent, so the nearest pixel outside a focus is
    background: the distance transform of each focus alone on its bounding
    box (plus a one-pixel ring) equals that of all foci on the whole image.
    """
    h, w = labels.shape
    out = np.zeros(len(slices))
    for i, (rs, cs) in enumerate(slices):
        box = (slice(max(rs.start - 1, 0), min(rs.stop + 1, h)), slice(max(cs.start - 1, 0), min(cs.stop + 1, w)))
        out[i] = ndi.distance_transform_edt(labels[box] == i + 1).max()
    return out


def _outline(mask: np.ndarray) -> np.ndarray:
    """Pixels of ``mask`` with a 4-neighbour outside it (beyond the image counts as inside)."""
    cross = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
    interior = cv2.erode(mask.view(np.uint8), cross, borderType=cv2.BORDER_CONSTANT, borderValue=1).view(bool)
    return mask & ~interior


def _nearest_bone(
    bone: np.ndarray, labels: np.ndarray, n: int, r: np.ndarray, c: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per focus: the smallest distance (px) from its pixels to bone, and a bone pixel nearest to (r, c).

    Exact Euclidean distances without a whole-image transform: the bone
    pixel nearest to a pixel outside bone always lies on the bone's outline
    (a bone pixel with a non-bone 4-neighbour: otherwise its neighbour
    towards that pixel would be bone and nearer), and for the same reason
    a focus's pixel nearest to bone lies on the focus's outline; so a k-d
    tree of the bone's outline pixels is queried with the foci's outline
    pixels and the centres.
    """
    w = bone.shape[1]
    outline = np.flatnonzero(_outline(bone))
    tree = cKDTree(np.stack(np.divmod(outline, w), axis=1))
    flat = labels.ravel()
    where = np.flatnonzero(_outline(labels != 0))
    d, _ = tree.query(np.stack(np.divmod(where, w), axis=1))
    dist = np.full(n + 1, np.inf)
    np.minimum.at(dist, flat[where], d)
    _, k = tree.query(np.stack([r, c], axis=1))
    near_r, near_c = np.divmod(outline[k], w)
    on_bone = bone[r, c]  # a centre on bone is its own nearest bone pixel
    near_r, near_c = np.where(on_bone, r, near_r), np.where(on_bone, c, near_c)
    return dist[1:], near_r, near_c


def _joint_distance(anatomy: Anatomy, labels: np.ndarray, n: int, slices: list) -> np.ndarray:
    """Per focus (1..n): the smallest ``anatomy.joint_distance_px`` over its pixels.

    Without a map (:func:`~calcidetect.anatomy.joint_distance_at` reads it
    off the gaps), only the pixels that can hold the minimum are asked
    about, on each focus's bounding box (``slices``): its outline (from any
    other pixel a step towards the nearest gap pixel stays in the focus and
    comes closer) and its gap pixels (distance 0).
    """
    if anatomy.joint_distance_px is not None:
        return label_min(anatomy.joint_distance_px, labels, n)
    w = labels.shape[1]
    square = np.ones((3, 3), np.uint8)
    asked = []
    for i, (rs, cs) in enumerate(slices):
        own = (labels[rs, cs] == i + 1).view(np.uint8)
        ask = own > cv2.erode(own, square, borderType=cv2.BORDER_CONSTANT, borderValue=0)
        if anatomy.joint_gap is not None:
            ask |= anatomy.joint_gap[rs, cs] & own.view(bool)
        r, c = np.nonzero(ask)
        asked.append((r + rs.start) * w + (c + cs.start))
    where = np.concatenate(asked)
    lab = np.repeat(np.arange(1, n + 1), [a.size for a in asked])
    return label_min(joint_distance_at(anatomy, where), lab, n)


def measure_foci(seg: Segmentation, anatomy: Anatomy, spacing_mm: float, cfg: Config) -> dict[str, np.ndarray]:
    """Measure every focus of ``seg.labels``.

    Returns
    -------
    dict of str to ndarray
        One array per feature (index i = label i + 1), plus ``label``,
        ``centroid_r``, ``centroid_c`` (working grid) and ``area_mm2``.
    """
    labels = seg.labels
    n = int(labels.max())
    if n == 0:
        return {name: np.zeros(0) for name in ("label", "centroid_r", "centroid_c", "area_mm2", *FEATURE_NAMES)}
    idx = np.arange(1, n + 1)
    moments = label_moments(labels, n)
    slices = ndi.find_objects(labels, n)
    area_px = moments["area"]
    # a one-pixel-wide object has minor axis 0 in moments: add the pixel's own width
    major = moments["axis_major_length"] + 1.0
    minor = moments["axis_minor_length"] + 1.0
    orientation = moments["orientation"]
    cr, cc = moments["centroid_r"], moments["centroid_c"]
    solidity = label_solidity(labels, np.ones(n, bool), slices)
    thickness = 2.0 * _max_inside_distance(labels, slices)

    lob = seg.lobule_labels
    in_lobule = lob > 0
    pairs = np.unique(labels[in_lobule].astype(np.int64) * (int(lob.max()) + 1) + lob[in_lobule])
    lobule_count = np.bincount(pairs // (int(lob.max()) + 1), minlength=n + 1)[1:].astype(float)

    sig = seg.significance
    contrast = np.asarray(label_max(sig, labels, n), float)
    mean_contrast = label_mean(sig, labels, n)
    peak_excess = np.asarray(label_max(seg.excess, labels, n), float)
    bone_ref = float(percentile(seg.excess[anatomy.bone], 90)) if anatomy.bone.any() else np.nan
    # 0 when the image has no bone to compare with (never NaN in outputs)
    relative_density = peak_excess / bone_ref if np.isfinite(bone_ref) and bone_ref > 0 else np.zeros(n)

    if anatomy.bone.any():
        r = np.clip(np.round(cr).astype(int), 0, labels.shape[0] - 1)
        c = np.clip(np.round(cc).astype(int), 0, labels.shape[1] - 1)
        dist_px, near_r, near_c = _nearest_bone(anatomy.bone, labels, n, r, c)
        dist_bone = dist_px * spacing_mm
        # the nearest bone's edge runs across the line from the focus to its
        # nearest bone pixel; a local direction survives bones merged in the mask
        normal_r = (r - near_r).astype(float)
        normal_c = (c - near_c).astype(float)
        norm = np.hypot(normal_r, normal_c)
        axis_r, axis_c = np.cos(orientation), np.sin(orientation)  # skimage: (row, col) of the major axis
        towards = np.abs(axis_r * normal_r + axis_c * normal_c) / np.maximum(norm, 1e-9)
        angle = np.where(norm > 0, np.degrees(np.arcsin(np.clip(towards, 0.0, 1.0))), 90.0)
    else:
        dist_bone = np.full(n, _FAR_MM)
        angle = np.full(n, 90.0)
    dist_joint = np.minimum(np.asarray(_joint_distance(anatomy, labels, n, slices), float) * spacing_mm, _FAR_MM)
    # no skin in view (a thigh filling the film): "far", like the other distances
    skin = np.minimum(label_mean(anatomy.skin_depth_px, labels, n) * spacing_mm, _FAR_MM)

    centres = np.stack([cr, cc], axis=1) * spacing_mm
    tree = cKDTree(centres)
    cluster = np.asarray(tree.query_ball_point(centres, cfg.cluster_radius_mm, return_length=True), float) - 1.0

    return {
        "label": idx,
        "centroid_r": cr,
        "centroid_c": cc,
        "area_mm2": area_px * spacing_mm**2,
        "equivalent_diameter_mm": 2.0 * np.sqrt(area_px / np.pi) * spacing_mm,
        "major_axis_mm": major * spacing_mm,
        "minor_axis_mm": minor * spacing_mm,
        "thickness_mm": np.maximum(thickness, 1.0) * spacing_mm,
        "elongation": major / np.maximum(minor, 1.0),
        "solidity": solidity,
        "lobule_count": lobule_count,
        "contrast_sigma": contrast,
        "mean_contrast_sigma": mean_contrast,
        "relative_density": relative_density,
        "distance_to_bone_mm": dist_bone,
        "distance_to_joint_mm": dist_joint,
        "skin_depth_mm": skin,
        "angle_to_bone_deg": angle,
        "cluster_count": cluster,
    }
