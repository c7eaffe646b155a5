"""Plain-text tables for the terminal (``calcidetect detect``)."""

from __future__ import annotations

from .result import Result

__all__ = ["format_foci_table"]

_COLUMNS = (
    ("id", ">4"),
    ("pattern", "<13"),
    ("centroid (r, c)", ">17"),
    ("bbox (r0, c0, r1, c1)", ">24"),
    ("area mm2", ">9"),
    ("top score", ">9"),
)


def format_foci_table(result: Result) -> str:
    """A fixed-width table of the foci of ``result``, one line per focus.

    Columns: id, pattern, centroid (row, column), bbox (half-open), area in
    mm^2 and the primary pattern's score.  Below it, one line on the pixel
    spacing and its source ("no foci found" replaces the table when empty).

    Examples
    --------
    >>> import numpy as np
    >>> from calcidetect.result import Focus, Result
    >>> lab = np.zeros((10, 10), np.int32); lab[2:4, 2:4] = 1
    >>> f = Focus(1, "punctate", {"punctate": 0.9}, (2.5, 2.5), (2, 2, 4, 4), 4, 0.16)
    >>> res = Result([f], lab, lab < 0, lab >= 0, {}, (0.2, 0.2), "PixelSpacing")
    >>> print(format_foci_table(res))  # doctest: +NORMALIZE_WHITESPACE
      id pattern        centroid (r, c)    bbox (r0, c0, r1, c1)  area mm2 top score
    ---- ------------- ----------------- ------------------------ --------- ---------
       1 punctate           (2.5, 2.5)             (2, 2, 4, 4)     0.160     0.900
    1 focus; spacing 0.2 x 0.2 mm/px (PixelSpacing)
    """
    sp = result.pixel_spacing_mm
    src = result.spacing_source
    spacing = f"spacing {float(sp[0]):g} x {float(sp[1]):g} mm/px ({src})"
    if src == "assumed":
        spacing += ": the file declares none, so mm values are estimates"
    foci = sorted(result.foci, key=lambda f: f.id)
    if not foci:
        return f"no foci found; {spacing}"
    lines = [
        " ".join(f"{name:{fmt}}" for name, fmt in _COLUMNS),
        " ".join("-" * int(fmt[1:]) for _, fmt in _COLUMNS),
    ]
    for f in foci:
        score = float(f.scores.get(str(f.pattern), max(f.scores.values(), default=0.0)))
        cells = (
            str(f.id),
            str(f.pattern),
            f"({float(f.centroid_rc[0]):.1f}, {float(f.centroid_rc[1]):.1f})",
            "(" + ", ".join(str(int(v)) for v in f.bbox) + ")",
            f"{float(f.area_mm2):.3f}",
            f"{score:.3f}",
        )
        lines.append(" ".join(f"{c:{fmt}}" for c, (_, fmt) in zip(cells, _COLUMNS)))
    n = len(foci)
    lines.append(f"{n} {'focus' if n == 1 else 'foci'}; {spacing}")
    return "\n".join(lines)
