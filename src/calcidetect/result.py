"""Detection results: :class:`Focus`, :class:`Result`, and the pattern names."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["PATTERNS", "Pattern", "Focus", "Result"]

#: The five calcification patterns, in a fixed order (see DESIGN.md).
PATTERNS: tuple[str, ...] = ("punctate", "plaque", "lobular", "periarticular", "linear")


class Pattern(str, enum.Enum):
    """A calcification pattern; compares equal to its string value.

    Examples
    --------
    >>> Pattern("linear") == "linear"
    True
    >>> Pattern.PLAQUE.value
    'plaque'
    """

    PUNCTATE = "punctate"
    PLAQUE = "plaque"
    LOBULAR = "lobular"
    PERIARTICULAR = "periarticular"
    LINEAR = "linear"

    def __str__(self) -> str:
        return self.value


@dataclass
class Focus:
    """One calcified focus.

    Coordinates are in the input image's pixel grid (rows, columns).

    Attributes
    ----------
    id : int
        Label value of this focus in :attr:`Result.labels` (1-based).
    pattern : str
        Primary pattern, one of :data:`PATTERNS`.
    scores : dict
        Score in [0, 1] for every pattern.
    centroid_rc : tuple of float
        Centroid (row, column).
    bbox : tuple of int
        (r0, c0, r1, c1), half-open.
    area_px : int
        Area in input pixels.
    area_mm2 : float
        Area in square millimetres.
    features : dict
        Measured features (physical units in the names) that the rules used.
    """

    id: int
    pattern: str
    scores: dict[str, float]
    centroid_rc: tuple[float, float]
    bbox: tuple[int, int, int, int]
    area_px: int
    area_mm2: float
    features: dict[str, float] = field(default_factory=dict)

    def to_record(self) -> dict[str, Any]:
        """A flat dict (one CSV row): ids, geometry, scores and features."""
        rec: dict[str, Any] = {
            "focus_id": self.id,
            "pattern": str(self.pattern),
            "centroid_row": round(float(self.centroid_rc[0]), 2),
            "centroid_col": round(float(self.centroid_rc[1]), 2),
            "bbox_r0": int(self.bbox[0]),
            "bbox_c0": int(self.bbox[1]),
            "bbox_r1": int(self.bbox[2]),
            "bbox_c1": int(self.bbox[3]),
            "area_px": int(self.area_px),
            "area_mm2": round(float(self.area_mm2), 4),
        }
        for name in PATTERNS:
            rec[f"score_{name}"] = round(float(self.scores.get(name, 0.0)), 4)
        for name in sorted(self.features):
            rec[name] = round(float(self.features[name]), 4)
        return rec


@dataclass
class Result:
    """Everything :func:`calcidetect.detect` found in one image.

    Attributes
    ----------
    foci : list of Focus
    labels : ndarray of int32
        0 = background, k = the focus whose ``id`` is k.  Input grid.
    bone_mask, body_mask : ndarray of bool
        Same shape as the input image.
    summary : dict
        Counts and burden per pattern, distribution and research hints.
    pixel_spacing_mm : tuple of float
        Spacing used for all physical measures.
    spacing_source : str
        Where that spacing came from (``"assumed"`` when it was guessed).
    source : str or None
        Input path, if any.
    """

    foci: list[Focus]
    labels: np.ndarray
    bone_mask: np.ndarray
    body_mask: np.ndarray
    summary: dict[str, Any]
    pixel_spacing_mm: tuple[float, float]
    spacing_source: str
    source: str | None = None
    timings_s: dict[str, float] = field(default_factory=dict)

    def to_records(self) -> list[dict[str, Any]]:
        """One flat dict per focus, in id order (what goes into CSV)."""
        return [f.to_record() for f in sorted(self.foci, key=lambda f: f.id)]

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable view: spacing, summary and every focus."""
        return {
            "source": self.source,
            "image_shape": [int(s) for s in self.labels.shape],
            "pixel_spacing_mm": [float(s) for s in self.pixel_spacing_mm],
            "spacing_source": self.spacing_source,
            "summary": self.summary,
            "foci": [
                {
                    "id": f.id,
                    "pattern": str(f.pattern),
                    "scores": {k: round(float(v), 4) for k, v in f.scores.items()},
                    "centroid_rc": [round(float(v), 2) for v in f.centroid_rc],
                    "bbox": [int(v) for v in f.bbox],
                    "area_px": int(f.area_px),
                    "area_mm2": round(float(f.area_mm2), 4),
                    "features": {k: round(float(v), 4) for k, v in sorted(f.features.items())},
                }
                for f in sorted(self.foci, key=lambda f: f.id)
            ],
        }
