"""Ground truth of synthetic radiographs: the ``calcidetect-truth/1`` JSON format.

For every image ``<stem>.dcm`` / ``<stem>.png`` the phantom generator writes
``<stem>.truth.json`` beside it.  The file is JSON only, so a batch run over
the folder (which picks up DICOM, PNG, TIFF and JPEG) never mistakes it for
an image.

Format (keys of the top-level object)::

    format            "calcidetect-truth/1"
    image             file name of the image, e.g. "phantom_0003_hip.dcm"
    shape             [H, W]
    pixel_spacing_mm  [row, col] in mm (also for PNGs, which carry none)
    body_part         "hand" | "hip" | "shoulder" | "forearm"
    seed              integer seed that regenerates the image exactly
    photometric       "MONOCHROME1" | "MONOCHROME2" | "PNG"
    foci              [{"id", "pattern", "centroid_rc", "bbox" (r0, c0, r1, c1,
                        half-open), "area_mm2", "contrast_sigma", "mask_rle"}]
    bone_mask_rle     RLE of the bone mask (sesamoids included)
    body_mask_rle     RLE of the exposed body (soft tissue) mask
    joints_rc         [[r, c], ...] joint-gap centres
    distractors       [{"kind": "metal|text|marker|sesamoid|collimation|skinfold",
                        "bbox": [r0, c0, r1, c1]}]

RLE: runs of True over the row-major flattened full-image mask, as
``[start, length]`` pairs (0-based starts).

Examples
--------
>>> import numpy as np
>>> m = np.zeros((3, 4), bool); m[0, 1:3] = True; m[2, 3] = True
>>> rle_encode(m)
[[1, 2], [11, 1]]
>>> bool((rle_decode(rle_encode(m), m.shape) == m).all())
True
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import atomic_write_text
from .errors import CalcidetectError

__all__ = [
    "TRUTH_FORMAT",
    "TRUTH_SUFFIX",
    "TruthImage",
    "rle_encode",
    "rle_decode",
    "rle_labels",
    "truth_path_for",
    "is_truth_file",
    "write_truth",
    "read_truth",
]

#: Value of the ``format`` key.
TRUTH_FORMAT = "calcidetect-truth/1"
#: Suffix that replaces an image's extension.
TRUTH_SUFFIX = ".truth.json"


def rle_encode(mask: np.ndarray) -> list[list[int]]:
    """Run-length encode a boolean mask (row-major) as ``[[start, length], ...]``.

    Parameters
    ----------
    mask : ndarray of bool, any shape
        Flattened in C order.

    Returns
    -------
    list of [int, int]
        Runs of True, in increasing order of ``start``.

    Examples
    --------
    >>> rle_encode(np.array([[0, 1, 1], [1, 0, 0]], bool))
    [[1, 3]]
    """
    flat = np.ascontiguousarray(mask, dtype=bool).ravel()
    if flat.size == 0:
        return []
    padded = np.zeros(flat.size + 2, np.int8)
    padded[1:-1] = flat
    d = np.diff(padded)
    starts = np.flatnonzero(d == 1)
    ends = np.flatnonzero(d == -1)
    return np.stack([starts, ends - starts], axis=1).tolist()


def _runs(rle: Sequence[Sequence[int]] | np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    arr = np.asarray(rle, dtype=np.int64).reshape(-1, 2)
    starts, lengths = arr[:, 0], arr[:, 1]
    if arr.size and (starts.min() < 0 or lengths.min() < 0 or (starts + lengths).max() > size):
        raise CalcidetectError(f"RLE runs fall outside an image of {size} pixels")
    return starts, starts + lengths


def rle_decode(rle: Sequence[Sequence[int]] | np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """Decode :func:`rle_encode` runs into a boolean array of ``shape``.

    Vectorised: a +1/-1 difference array and one cumulative sum.

    Examples
    --------
    >>> rle_decode([[1, 2]], (2, 2)).astype(int).tolist()
    [[0, 1], [1, 0]]
    """
    size = int(np.prod(shape))
    starts, ends = _runs(rle, size)
    diff = np.zeros(size + 1, np.int32)
    np.add.at(diff, starts, 1)
    np.add.at(diff, ends, -1)
    return (np.cumsum(diff[:-1]) > 0).reshape(tuple(shape))


def rle_labels(rles: Sequence[Sequence[Sequence[int]]], ids: Sequence[int], shape: Sequence[int]) -> np.ndarray:
    """Paint several RLE masks into one int32 label image (later ids win overlaps)."""
    size = int(np.prod(shape))
    labels = np.zeros(size, np.int32)
    for rle, ident in zip(rles, ids):
        starts, ends = _runs(rle, size)
        if starts.size == 0:
            continue
        diff = np.zeros(size + 1, np.int32)
        np.add.at(diff, starts, 1)
        np.add.at(diff, ends, -1)
        labels[np.cumsum(diff[:-1]) > 0] = int(ident)
    return labels.reshape(tuple(shape))


def truth_path_for(image_path: str | os.PathLike[str]) -> Path:
    """``<dir>/<stem>.truth.json`` for ``<dir>/<stem>.<ext>``.

    Examples
    --------
    >>> truth_path_for("a/phantom_0001_hand.dcm").as_posix()
    'a/phantom_0001_hand.truth.json'
    """
    p = Path(image_path)
    return p.with_name(p.stem + TRUTH_SUFFIX)


def is_truth_file(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` names a ground-truth JSON file."""
    return Path(path).name.lower().endswith(TRUTH_SUFFIX)


@dataclass
class TruthImage:
    """Decoded ground truth of one image.

    Attributes
    ----------
    image : str
        File name of the image.
    shape : tuple of int
    spacing : tuple of float
        (row, col) pixel spacing in mm.
    labels : ndarray of int32
        0 = background, k = focus with id k.
    patterns : dict
        focus id -> pattern name.
    areas_mm2, contrast_sigma : dict
        focus id -> value.
    bone_mask, body_mask : ndarray of bool
    joints_rc : ndarray, shape (n, 2)
    body_part, photometric : str
    seed : int
    distractors : list of dict
    foci : list of dict
        The raw focus records (RLE included).
    path : Path or None
    """

    image: str
    shape: tuple[int, int]
    spacing: tuple[float, float]
    labels: np.ndarray
    patterns: dict[int, str]
    bone_mask: np.ndarray
    body_mask: np.ndarray
    joints_rc: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    areas_mm2: dict[int, float] = field(default_factory=dict)
    contrast_sigma: dict[int, float] = field(default_factory=dict)
    body_part: str = ""
    photometric: str = ""
    seed: int | None = None
    distractors: list[dict[str, Any]] = field(default_factory=list)
    foci: list[dict[str, Any]] = field(default_factory=list)
    path: Path | None = None

    @property
    def is_normal(self) -> bool:
        """True when the image has no calcified focus."""
        return not self.patterns

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], path: Path | None = None) -> "TruthImage":
        """Decode a ``calcidetect-truth/1`` mapping."""
        if d.get("format") != TRUTH_FORMAT:
            raise CalcidetectError(
                f"{path or 'truth'}: format is {d.get('format')!r}, expected {TRUTH_FORMAT!r}"
            )
        shape = (int(d["shape"][0]), int(d["shape"][1]))
        foci = list(d.get("foci", []))
        ids = [int(f["id"]) for f in foci]
        labels = rle_labels([f["mask_rle"] for f in foci], ids, shape)
        sp = d.get("pixel_spacing_mm") or [1.0, 1.0]
        joints = np.asarray(d.get("joints_rc", []), dtype=float).reshape(-1, 2)
        return cls(
            image=str(d.get("image", "")),
            shape=shape,
            spacing=(float(sp[0]), float(sp[1])),
            labels=labels,
            patterns={i: str(f["pattern"]) for i, f in zip(ids, foci)},
            bone_mask=rle_decode(d.get("bone_mask_rle", []), shape),
            body_mask=rle_decode(d.get("body_mask_rle", []), shape),
            joints_rc=joints,
            areas_mm2={i: float(f.get("area_mm2", np.nan)) for i, f in zip(ids, foci)},
            contrast_sigma={i: float(f.get("contrast_sigma", np.nan)) for i, f in zip(ids, foci)},
            body_part=str(d.get("body_part", "")),
            photometric=str(d.get("photometric", "")),
            seed=d.get("seed"),
            distractors=list(d.get("distractors", [])),
            foci=foci,
            path=path,
        )


def _dumps(truth: Mapping[str, Any]) -> str:
    # One top-level key per line, one focus per line: diff-able, still compact.
    compact = {"separators": (",", ":")}
    lines = []
    for key, value in truth.items():
        if key in ("foci", "distractors") and value:
            inner = ",\n  ".join(json.dumps(v, **compact) for v in value)
            lines.append(f' {json.dumps(key)}: [\n  {inner}]')
        else:
            lines.append(f" {json.dumps(key)}: {json.dumps(value, **compact)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def write_truth(path: str | os.PathLike[str], truth: Mapping[str, Any]) -> Path:
    """Write a ``calcidetect-truth/1`` mapping as JSON, atomically.

    Parameters
    ----------
    path : path-like
        Target, normally :func:`truth_path_for` of the image.
    truth : mapping
        Must have ``format == TRUTH_FORMAT``; values must be JSON-serialisable.

    Returns
    -------
    Path
    """
    if truth.get("format") != TRUTH_FORMAT:
        raise CalcidetectError(f"truth for {path} lacks format {TRUTH_FORMAT!r}")
    target = Path(path)
    if not is_truth_file(target):
        raise CalcidetectError(f"{target}: truth files must end in {TRUTH_SUFFIX}")
    atomic_write_text(target, _dumps(truth))
    return target


def read_truth(path: str | os.PathLike[str]) -> TruthImage:
    """Read and decode a ground-truth JSON file.

    Raises
    ------
    CalcidetectError
        When the file is not valid ``calcidetect-truth/1`` JSON.
    """
    p = Path(path)
    try:
        d = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CalcidetectError(f"{p}: cannot read ground truth ({exc})") from exc
    try:
        return TruthImage.from_dict(d, path=p)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise CalcidetectError(f"{p}: malformed ground truth ({exc!r})") from exc
