"""Score detections against phantom ground truth.

Matching rule (object level)
----------------------------
* A *detection* is one non-zero value of the predicted label image (the
  focus id); its pixels need not be connected.
* Every pixel within ``MATCH_DISTANCE_MM`` (1 mm, Euclidean, in physical
  units) of a truth focus belongs to that focus's *zone*; where zones of two
  foci meet, each pixel goes to the nearest focus (nearest-label propagation
  with ``scipy.ndimage.distance_transform_edt(..., return_indices=True)``).
* A detection *counts for* truth focus t when more than half of its pixels
  lie in t's zone.  (Zones do not overlap, so a detection counts for at most
  one focus.)
* A truth focus is *matched* (one true positive) when at least one detection
  counts for it.  Extra detections on the same focus are *fragments*: neither
  TP nor FP, reported as ``fragments``.
* A detection that counts for no focus is a *false positive*; it is located
  by the truth masks at its centroid (rounded): ``bone``, else
  ``soft_tissue`` (inside the body mask), else ``outside`` (air, collimation,
  text, markers).
* The *predicted pattern* of a matched focus is the pattern of the detection
  that counts for it with the most pixels in its zone.  Its *predicted area*
  is the summed area of all detections that count for it.

Scores
------
* Detection (pattern-agnostic): precision = TP / (TP + FP), recall =
  TP / (number of truth foci), F1.  Per pattern: TP and FN by the truth
  pattern, FP by the predicted pattern of the false detection.
* Pattern-aware: a TP for pattern p needs truth p matched *and* predicted p;
  a matched focus with the wrong label is an FN for its truth pattern and an
  FP for the predicted one.  Macro-F1 averages the per-pattern F1 over the
  patterns present in truth or prediction.
* Confusion matrix of matched foci: truth pattern x predicted pattern, plus
  a ``missed`` column.
* False positives per image by location, and per normal image.
* Area agreement of matched foci (mm^2): Lin's concordance correlation
  coefficient (Lin 1989, Biometrics 45:255) and Bland-Altman bias with 95 %
  limits of agreement (bias +- 1.96 SD of predicted - truth; Bland & Altman
  1986, Lancet 327:307).

Examples
--------
>>> import numpy as np
>>> from calcidetect.truth import TruthImage
>>> lab = np.zeros((20, 20), np.int32); lab[5:8, 5:8] = 1
>>> t = TruthImage("x.png", (20, 20), (0.5, 0.5), lab, {1: "punctate"},
...                np.zeros((20, 20), bool), np.ones((20, 20), bool))
>>> ev = evaluate_image(lab, {1: "punctate"}, t)
>>> summarise([ev])["detection"]["overall"]["f1"]
1.0
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from scipy import ndimage

from .errors import CalcidetectError
from .result import PATTERNS
from .truth import TRUTH_SUFFIX, TruthImage, read_truth

__all__ = [
    "MATCH_DISTANCE_MM",
    "FP_LOCATIONS",
    "ImageEval",
    "evaluate_image",
    "summarise",
    "format_report",
    "evaluate_dirs",
    "lins_ccc",
    "bland_altman",
]

#: A detection pixel this close (mm) to a truth focus lies in its zone.
MATCH_DISTANCE_MM = 1.0
#: Where a false positive's centroid can fall.
FP_LOCATIONS = ("bone", "soft_tissue", "outside")


@dataclass
class ImageEval:
    """Per-image matching outcome (see the module docstring for the rules).

    Attributes
    ----------
    image : str
    truth : list of dict
        One per truth focus: id, pattern, matched, pred_pattern,
        n_detections, area_truth_mm2, area_pred_mm2.
    false_positives : list of dict
        One per unmatched detection: id, pattern, location, area_mm2.
    n_detections : int
    normal : bool
        The truth has no focus.
    missing : str or None
        Why no result was available (then every truth focus is missed).
    """

    image: str
    truth: list[dict[str, Any]] = field(default_factory=list)
    false_positives: list[dict[str, Any]] = field(default_factory=list)
    n_detections: int = 0
    normal: bool = False
    missing: str | None = None

    @property
    def fragments(self) -> int:
        """Extra detections on already matched foci."""
        return int(sum(max(t["n_detections"] - 1, 0) for t in self.truth))


def evaluate_image(pred_labels: np.ndarray, pred_patterns: Mapping[int, str], truth: TruthImage,
                   *, image: str | None = None) -> ImageEval:
    """Match one image's detections to its truth.

    Parameters
    ----------
    pred_labels : ndarray of int, shape = truth.shape
        0 = background, k = detection k.
    pred_patterns : dict
        Detection id -> pattern (missing ids get ``"unknown"``).
    truth : TruthImage

    Returns
    -------
    ImageEval
    """
    name = image or truth.image
    pred = np.asarray(pred_labels)
    if pred.shape != tuple(truth.shape):
        raise CalcidetectError(f"{name}: label image {pred.shape} does not match truth {tuple(truth.shape)}")
    pred = pred.astype(np.int64, copy=False)
    tl = truth.labels
    sy, sx = truth.spacing
    n_pred = int(pred.max()) if pred.size else 0
    n_true = int(tl.max()) if tl.size else 0

    # zones: nearest truth focus within MATCH_DISTANCE_MM, computed in the
    # bounding box of all truth foci (+ margin): outside it no zone reaches
    zone = np.zeros(pred.shape, np.int64)
    if n_true:
        rows = np.flatnonzero(tl.any(1))
        cols = np.flatnonzero(tl.any(0))
        mr, mc = int(math.ceil(MATCH_DISTANCE_MM / sy)) + 1, int(math.ceil(MATCH_DISTANCE_MM / sx)) + 1
        sl = (slice(max(rows[0] - mr, 0), rows[-1] + mr + 1), slice(max(cols[0] - mc, 0), cols[-1] + mc + 1))
        sub = tl[sl]
        dist, (ir, ic) = ndimage.distance_transform_edt(sub == 0, sampling=(sy, sx), return_indices=True)
        zone[sl] = np.where(dist <= MATCH_DISTANCE_MM + 1e-9, sub[ir, ic], 0)

    flat_p = pred.ravel()
    size_p = np.bincount(flat_p, minlength=n_pred + 1)
    pair = np.bincount(flat_p * (n_true + 1) + zone.ravel(), minlength=(n_pred + 1) * (n_true + 1))
    pair = pair.reshape(n_pred + 1, n_true + 1)
    present = np.flatnonzero(size_p[1:] > 0) + 1  # detection ids actually in the image
    best_t = pair[:, 1:].argmax(axis=1) + 1 if n_true else np.zeros(n_pred + 1, int)
    best_n = pair[np.arange(n_pred + 1), best_t] if n_true else np.zeros(n_pred + 1, int)
    counts_for = np.where((best_n * 2 > size_p) & (best_n > 0), best_t, 0)  # per detection id
    px_area = sy * sx

    truth_rows = []
    t_ids = sorted(truth.patterns)
    size_t = np.bincount(tl.ravel(), minlength=n_true + 1)
    for t in t_ids:
        dets = present[counts_for[present] == t]
        rec = {"id": int(t), "pattern": truth.patterns[t], "matched": bool(dets.size),
               "pred_pattern": None, "n_detections": int(dets.size),
               "area_truth_mm2": float(size_t[t] * px_area) if t <= n_true else 0.0,
               "area_pred_mm2": float(size_p[dets].sum() * px_area)}
        if dets.size:
            lead = int(dets[np.argmax(pair[dets, t])])
            rec["pred_pattern"] = str(pred_patterns.get(lead, "unknown"))
        truth_rows.append(rec)

    fps = []
    false_ids = present[counts_for[present] == 0]
    if false_ids.size:
        rr, cc = np.indices(pred.shape)
        cr = np.bincount(flat_p, rr.ravel(), minlength=n_pred + 1)[false_ids] / size_p[false_ids]
        ccn = np.bincount(flat_p, cc.ravel(), minlength=n_pred + 1)[false_ids] / size_p[false_ids]
        ri = np.clip(np.round(cr).astype(int), 0, pred.shape[0] - 1)
        ci = np.clip(np.round(ccn).astype(int), 0, pred.shape[1] - 1)
        on_bone = truth.bone_mask[ri, ci]
        in_body = truth.body_mask[ri, ci]
        for k, d in enumerate(false_ids):
            loc = "bone" if on_bone[k] else ("soft_tissue" if in_body[k] else "outside")
            fps.append({"id": int(d), "pattern": str(pred_patterns.get(int(d), "unknown")), "location": loc,
                        "area_mm2": float(size_p[d] * px_area), "centroid_rc": [round(float(cr[k]), 1),
                                                                                 round(float(ccn[k]), 1)]})
    return ImageEval(image=name, truth=truth_rows, false_positives=fps, n_detections=int(present.size),
                     normal=not t_ids)


def _missing_eval(truth: TruthImage, name: str, why: str) -> ImageEval:
    rows = [{"id": int(t), "pattern": p, "matched": False, "pred_pattern": None, "n_detections": 0,
             "area_truth_mm2": float(truth.areas_mm2.get(t, float("nan"))), "area_pred_mm2": 0.0}
            for t, p in sorted(truth.patterns.items())]
    return ImageEval(image=name, truth=rows, normal=not rows, missing=why)


def lins_ccc(x: Sequence[float], y: Sequence[float]) -> float:
    """Lin's concordance correlation coefficient (population moments).

    ``2 s_xy / (s_x^2 + s_y^2 + (mean_x - mean_y)^2)``; NaN for fewer than 2
    pairs or zero total variance.

    Examples
    --------
    >>> lins_ccc([1, 2, 3], [1, 2, 3])
    1.0
    >>> round(lins_ccc([1, 2, 3], [2, 3, 4]), 4)
    0.5714
    """
    a, b = np.asarray(x, float), np.asarray(y, float)
    if a.size < 2:
        return float("nan")
    ma, mb = a.mean(), b.mean()
    va, vb = a.var(), b.var()
    cov = ((a - ma) * (b - mb)).mean()
    den = va + vb + (ma - mb) ** 2
    return float(2 * cov / den) if den > 0 else float("nan")


def bland_altman(truth: Sequence[float], pred: Sequence[float]) -> dict[str, float]:
    """Bias (mean of pred - truth), SD of the differences and 95 % limits.

    Examples
    --------
    >>> bland_altman([1, 2, 3], [2, 3, 4])["bias"]
    1.0
    """
    a, b = np.asarray(truth, float), np.asarray(pred, float)
    d = b - a
    if d.size == 0:
        nan = float("nan")
        return {"n": 0, "bias": nan, "sd": nan, "loa_low": nan, "loa_high": nan}
    sd = float(d.std(ddof=1)) if d.size > 1 else float("nan")
    bias = float(d.mean())
    return {"n": int(d.size), "bias": bias, "sd": sd, "loa_low": bias - 1.96 * sd, "loa_high": bias + 1.96 * sd}


def _prf(tp: int, fp: int, fn: int) -> dict[str, Any]:
    p = tp / (tp + fp) if tp + fp else float("nan")
    r = tp / (tp + fn) if tp + fn else float("nan")
    f = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan")
    return {"tp": tp, "fp": fp, "fn": fn, "precision": p, "recall": r, "f1": f}


def _clean(x):
    """NaN -> None, recursively, so the report is strict JSON."""
    if isinstance(x, float):
        return None if math.isnan(x) else round(x, 6)
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    return x


def summarise(evals: Sequence[ImageEval]) -> dict[str, Any]:
    """Aggregate :class:`ImageEval` objects into a JSON-ready report."""
    pats = list(PATTERNS)
    extra = sorted({t["pred_pattern"] for e in evals for t in e.truth if t["pred_pattern"]} |
                   {f["pattern"] for e in evals for f in e.false_positives} | {t["pattern"] for e in evals for t in e.truth}
                   - set(pats))
    names = pats + [p for p in extra if p not in pats]
    det = {p: [0, 0, 0] for p in names}  # tp, fp, fn (detection, pattern-agnostic)
    pat = {p: [0, 0, 0] for p in names}  # tp, fp, fn (pattern-aware)
    conf = {p: {q: 0 for q in names + ["missed"]} for p in names}
    fp_loc = dict.fromkeys(FP_LOCATIONS, 0)
    fp_normal = 0
    frag = 0
    areas_t, areas_p = [], []
    evaluated = [e for e in evals if e.missing is None]
    for e in evals:
        frag += e.fragments
        for t in e.truth:
            p = t["pattern"]
            if t["matched"]:
                det[p][0] += 1
                q = t["pred_pattern"] or "unknown"
                if q not in conf[p]:
                    for row in conf.values():
                        row.setdefault(q, 0)
                    pat.setdefault(q, [0, 0, 0])
                conf[p][q] += 1
                if q == p:
                    pat[p][0] += 1
                else:
                    pat[p][2] += 1
                    pat[q][1] += 1
                areas_t.append(t["area_truth_mm2"])
                areas_p.append(t["area_pred_mm2"])
            else:
                det[p][2] += 1
                pat[p][2] += 1
                conf[p]["missed"] += 1
        for f in e.false_positives:
            q = f["pattern"]
            det.setdefault(q, [0, 0, 0])[1] += 1
            pat.setdefault(q, [0, 0, 0])[1] += 1
            fp_loc[f["location"]] += 1
            if e.normal:
                fp_normal += 1
    tot = [sum(v[i] for v in det.values()) for i in range(3)]
    per_det = {p: _prf(*v) for p, v in det.items() if any(v)}
    per_pat = {p: _prf(*v) for p, v in pat.items() if any(v)}
    f1s = [v["f1"] for v in per_pat.values()]
    n_eval = len(evaluated)
    n_normal = sum(1 for e in evaluated if e.normal)
    report = {
        "n_images": len(evals),
        "n_evaluated": n_eval,
        "n_normal_images": n_normal,
        "n_truth_foci": sum(len(e.truth) for e in evals),
        "n_detections": sum(e.n_detections for e in evals),
        "missing_results": [{"image": e.image, "reason": e.missing} for e in evals if e.missing],
        "match_distance_mm": MATCH_DISTANCE_MM,
        "detection": {"overall": _prf(*tot), "per_pattern": per_det, "fragments": frag},
        "pattern": {"per_pattern": per_pat, "macro_f1": float(np.mean(f1s)) if f1s else float("nan"),
                    "confusion": {p: row for p, row in conf.items() if any(row.values())}},
        "false_positives": {
            "total": sum(fp_loc.values()),
            "per_image": {k: (v / n_eval if n_eval else float("nan")) for k, v in fp_loc.items()},
            "per_image_all": sum(fp_loc.values()) / n_eval if n_eval else float("nan"),
            "per_normal_image": fp_normal / n_normal if n_normal else float("nan"),
        },
        "area_agreement_mm2": {"n": len(areas_t), "lins_ccc": lins_ccc(areas_t, areas_p),
                               "bland_altman": bland_altman(areas_t, areas_p)},
        "images": [{"image": e.image, "n_truth": len(e.truth), "n_matched": sum(t["matched"] for t in e.truth),
                    "n_detections": e.n_detections, "n_false_positives": len(e.false_positives),
                    "fragments": e.fragments, "normal": e.normal, "missing": e.missing} for e in evals],
    }
    return _clean(report)


def _f(x, nd=3) -> str:
    return "-" if x is None else (f"{x:.{nd}f}" if isinstance(x, float) else str(x))


def format_report(report: Mapping[str, Any]) -> str:
    """A readable text table of a :func:`summarise` report."""
    out = []
    out.append(f"images: {report['n_images']} ({report['n_evaluated']} with results, "
               f"{report['n_normal_images']} normal); truth foci: {report['n_truth_foci']}; "
               f"detections: {report['n_detections']}; match: >50% of a detection within "
               f"{report['match_distance_mm']} mm of a truth focus")
    out.append("")
    out.append("detection (pattern-agnostic)      TP    FP    FN  precision  recall     F1")
    d = report["detection"]
    for name, v in list(d["per_pattern"].items()) + [("overall", d["overall"])]:
        out.append(f"  {name:<30} {v['tp']:>4}  {v['fp']:>4}  {v['fn']:>4}  {_f(v['precision']):>9}  "
                   f"{_f(v['recall']):>6}  {_f(v['f1']):>5}")
    out.append(f"  fragments (extra detections on matched foci): {d['fragments']}")
    out.append("")
    p = report["pattern"]
    out.append("pattern (TP needs the right label) TP    FP    FN  precision  recall     F1")
    for name, v in p["per_pattern"].items():
        out.append(f"  {name:<30} {v['tp']:>4}  {v['fp']:>4}  {v['fn']:>4}  {_f(v['precision']):>9}  "
                   f"{_f(v['recall']):>6}  {_f(v['f1']):>5}")
    out.append(f"  macro-F1: {_f(p['macro_f1'])}")
    out.append("")
    conf = p["confusion"]
    if conf:
        cols = [c for c in next(iter(conf.values())) if any(row.get(c, 0) for row in conf.values())]
        out.append("confusion (rows truth, columns predicted)")
        out.append("  " + " " * 14 + "".join(f"{c[:13]:>14}" for c in cols))
        for name, row in conf.items():
            out.append(f"  {name:<14}" + "".join(f"{row.get(c, 0):>14}" for c in cols))
        out.append("")
    fp = report["false_positives"]
    out.append("false positives per image: " + ", ".join(f"{k} {_f(v, 2)}" for k, v in fp["per_image"].items())
               + f"; all {_f(fp['per_image_all'], 2)}; on normal images {_f(fp['per_normal_image'], 2)}")
    a = report["area_agreement_mm2"]
    ba = a["bland_altman"]
    out.append(f"area agreement of matched foci (n={a['n']}): Lin's CCC {_f(a['lins_ccc'])}; "
               f"Bland-Altman bias {_f(ba['bias'], 2)} mm^2, 95% limits [{_f(ba['loa_low'], 2)}, "
               f"{_f(ba['loa_high'], 2)}]")
    if report["missing_results"]:
        out.append("")
        out.append(f"missing results ({len(report['missing_results'])}, every focus counted as missed):")
        for m in report["missing_results"]:
            out.append(f"  {m['image']}: {m['reason']}")
    out.append("")
    out.append("Research use only; not a diagnostic device.")
    return "\n".join(out)


def _read_labels(path: Path) -> np.ndarray:
    import cv2

    arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if arr is None:
        raise CalcidetectError(f"{path}: cannot read label image")
    if arr.ndim != 2:
        raise CalcidetectError(f"{path}: label image is not single-channel")
    return arr


def evaluate_dirs(results_dir: str | os.PathLike[str], truth_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Evaluate a batch output folder against a folder of truth files.

    For every ``<truth_dir>/**/<stem>.truth.json`` (image file name ``name``
    in the truth, relative folder ``rel``), reads
    ``<results_dir>/json/<rel>/<name>.json`` (foci ids and patterns) and
    ``<results_dir>/labels/<rel>/<name>.png`` (uint16 label image).  A missing
    or unreadable result counts every truth focus as missed and is listed
    under ``missing_results``.
    """
    res, tdir = Path(results_dir), Path(truth_dir)
    if not tdir.is_dir():
        raise FileNotFoundError(f"truth folder not found: {tdir}")
    if not res.is_dir():
        raise FileNotFoundError(f"results folder not found: {res}")
    files = sorted(tdir.rglob(f"*{TRUTH_SUFFIX}"))
    if not files:
        raise CalcidetectError(f"{tdir}: no *{TRUTH_SUFFIX} files")
    evals = []
    for tf in files:
        truth = read_truth(tf)
        rel = tf.parent.relative_to(tdir) / (truth.image or tf.name[: -len(TRUTH_SUFFIX)])
        name = rel.as_posix()
        jpath = res / "json" / f"{name}.json"
        lpath = res / "labels" / f"{name}.png"
        if not jpath.is_file() or not lpath.is_file():
            missing = [str(p.relative_to(res)) for p in (jpath, lpath) if not p.is_file()]
            evals.append(_missing_eval(truth, name, "no " + " and no ".join(missing)))
            continue
        try:
            doc = json.loads(jpath.read_text(encoding="utf-8"))
            patterns = {int(f["id"]): str(f["pattern"]) for f in doc.get("foci", [])}
            labels = _read_labels(lpath)
            evals.append(evaluate_image(labels, patterns, truth, image=name))
        except (ValueError, KeyError, TypeError, CalcidetectError) as exc:
            evals.append(_missing_eval(truth, name, f"unreadable result: {exc}"))
    return summarise(evals)
