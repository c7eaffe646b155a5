"""Image-level summary: counts, burden, distribution and research hints.

Hints map the pattern mix to the differential in DESIGN.md and are always
phrased "pattern consistent with ...": calcidetect does not diagnose.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .config import Config
from .result import PATTERNS, Focus

__all__ = ["summarise"]

#: Regions for the distribution test: foci farther apart than this (mm) are
#: in different regions.
_REGION_LINK_MM = 30.0


def _distribution(foci: Sequence[Focus], spacing_mm: tuple[float, float], cfg: Config) -> str:
    """``none``, ``localized`` (one region) or ``diffuse`` (many separate regions)."""
    if not foci:
        return "none"
    pts = np.array([f.centroid_rc for f in foci]) * np.asarray(spacing_mm)
    if len(pts) == 1:
        return "localized"
    # single-linkage regions at _REGION_LINK_MM
    from scipy.cluster.hierarchy import fcluster, linkage

    regions = fcluster(linkage(pts, method="single"), t=_REGION_LINK_MM, criterion="distance")
    return "diffuse" if len(np.unique(regions)) >= cfg.diffuse_min_regions else "localized"


def _hints(counts: dict[str, int], burden: dict[str, float], distribution: str) -> list[str]:
    hints: list[str] = []
    total = sum(counts.values())
    if total == 0:
        return hints
    if counts["lobular"] and burden["lobular"] >= 0.5 * sum(burden.values()):
        hints.append("pattern consistent with tumoral calcinosis (large lobulated soft-tissue mass)")
    if counts["periarticular"]:
        hints.append(
            "pattern consistent with periarticular calcinosis (tumoral calcinosis, milk-alkali syndrome, "
            "or crystal deposition about joints)"
        )
    if counts["plaque"] and distribution == "diffuse":
        hints.append("pattern consistent with calcinosis universalis (diffuse plaque-like deposits; dermatomyositis, scleroderma)")
    elif counts["plaque"]:
        hints.append("pattern consistent with calcinosis circumscripta (localized thin deposits; scleroderma, dermatomyositis, Raynaud)")
    if counts["punctate"] >= 3 and distribution == "diffuse":
        hints.append("pattern consistent with metastatic calcification (fine punctate deposits; high calcium-phosphate product)")
    elif counts["punctate"]:
        hints.append("pattern consistent with dystrophic calcification (punctate deposits)")
    if counts["linear"]:
        hints.append("pattern consistent with tendon-sheath calcification (linear deposits along bone)")
    return hints


def summarise(foci: Sequence[Focus], spacing_mm: tuple[float, float], spacing_source: str, cfg: Config) -> dict[str, Any]:
    """Counts and burden (mm^2) per pattern, distribution and hints."""
    counts = {p: 0 for p in PATTERNS}
    burden = {p: 0.0 for p in PATTERNS}
    for f in foci:
        counts[str(f.pattern)] += 1
        burden[str(f.pattern)] += float(f.area_mm2)
    distribution = _distribution(foci, spacing_mm, cfg)
    return {
        "n_foci": len(foci),
        "counts": counts,
        "burden_mm2": {k: round(v, 3) for k, v in burden.items()},
        "total_burden_mm2": round(sum(burden.values()), 3),
        "distribution": distribution,
        "hints": _hints(counts, burden, distribution),
        "spacing_assumed": spacing_source == "assumed",
        "disclaimer": "Research use only; not a diagnostic device.",
    }
