"""The detection-limit table of benchmarks/accuracy.py counts each truth focus in its size and contrast bin."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import accuracy  # noqa: E402


def _focus(area: float, contrast: float | None, matched: bool) -> dict:
    return {"area_mm2": area, "contrast_sigma": contrast, "matched": matched}


def test_recall_grid_bins_foci_by_area_and_contrast():
    results = [
        {"truth_foci": [_focus(0.2, 3.0, False), _focus(0.3, 5.0, True), _focus(60.0, 20.0, True)]},
        {"truth_foci": [_focus(60.0, 20.0, False), _focus(5.0, None, True)]},  # no contrast: not counted
        {},  # an image without the field (an old result) counts nothing
    ]
    lines, table = accuracy.recall_grid(results)
    found, total = table["found"], table["total"]
    # rows: area bins 0-0.5, 0.5-2, 2-10, 10-50, >=50; columns: contrast 0-4, 4-8, 8-16, >=16
    assert total[0][0] == 1 and found[0][0] == 0
    assert total[0][1] == 1 and found[0][1] == 1
    assert total[4][3] == 2 and found[4][3] == 1
    assert sum(map(sum, total)) == 4 and sum(map(sum, found)) == 2
    text = "\n".join(lines)
    assert "1/2" in text  # the >= 50 mm2 row and the >= 16 sd column
    assert lines[2].split()[-1] == "0.50"  # recall of the smallest-area row: 1 of 2
