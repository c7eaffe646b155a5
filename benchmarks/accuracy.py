"""Detection and pattern accuracy of ``calcidetect.detect`` on a fixed phantom set (issues 3 and 4).

What it measures
----------------
A fixed set of ``--n`` (default 40) full-size synthetic radiographs from
:mod:`calcidetect.phantom`, chosen exactly as ``calcidetect phantom OUT -n N
--seed S`` / :func:`calcidetect.phantom.write_dataset` chooses them: image
``i`` has body part ``BODY_PARTS[i % 4]`` (hand, hip, shoulder, forearm), its
seed is ``SeedSequence(S).generate_state(N)[i]``, about 15 % of the images are
normal, and the abnormal ones cycle the pattern of their first group of foci
through all five patterns; distractors (collimation, burned-in text, lead
markers, metal, sesamoids, skin folds) are drawn per seed.  With the defaults
(``--n 40 --seed 1000``) that is 10 images per body part, 6 normal images and
every pattern several times.

The phantoms are generated once (in ``--workers`` processes) and cached under
``bench_out/phantoms/n<N>_seed<S>/`` at the repository root (git-ignored):
one ``.npy`` (uint16 pixels) plus one ``calcidetect-truth/1`` JSON per image
and a ``manifest.json`` that records a hash of the generator's source.  When
the generator changes, the cache is rebuilt; otherwise re-runs only detect and
evaluate.

Each image is given to :func:`calcidetect.detect` as a ``Radiograph`` with its
true spacing (``spacing_source="PixelSpacing"``), scored with
:func:`calcidetect.evaluate.evaluate_image` (object-level matching, see that
module), and the images are summarised with
:func:`calcidetect.evaluate.summarise` / ``format_report``.  The script also
prints the issue-4 targets with PASS/FAIL, a breakdown by body part, where the
false positives fall (bone / soft tissue / outside, and which distractor's box
holds them), recall by truth size and contrast (the detection limit), how well the detector's body and bone masks agree with the
truth's (IoU), and the median per-stage time.

Outputs (``--out``, default ``benchmarks/results``): ``accuracy.txt`` (the
printed report with date, calcidetect version, git commit, N, seed and wall
time) and ``accuracy.json`` (the ``summarise`` report plus run metadata,
targets, per-body-part scores and one compact row per image).  Every
false positive, missed focus and mislabel with its features goes to
``bench_out/accuracy_details.json`` (not committed), and to the terminal with
``--per-image``.

Run from the repository root::

    python benchmarks/accuracy.py                      # 40 images, seed 1000, 2 workers
    python benchmarks/accuracy.py --per-image          # + one block per image (for tuning)
    python benchmarks/accuracy.py --config my.toml --out /tmp/acc   # a candidate Config
    python benchmarks/accuracy.py --only 5 21 --per-image  # a few images (results to bench_out/subset)
    python benchmarks/accuracy.py --parts hip shoulder     # some body parts (results to bench_out/subset)

This is a script, not a test: it never fails on the numbers.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import datetime as _dt
import hashlib
import json
import multiprocessing as mp
import os
import platform
import statistics
import sys
import time
from pathlib import Path

from _common import git_commit  # benchmarks/ is on sys.path when run as a script
from typing import Any

# one thread per worker process for every numeric library (set before numpy is imported)
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CACHE_ROOT = REPO / "bench_out" / "phantoms"
DETAILS = REPO / "bench_out" / "accuracy_details.json"
GENERATOR_SOURCES = ("phantom.py", "phantom_anatomy.py", "phantom_distractors.py", "phantom_lesions.py", "truth.py")

#: issue 4, "What it must show": (label, key path into the summarise report, comparison, limit)
TARGETS = (
    ("detection F1", ("detection", "overall", "f1"), ">=", 0.90),
    ("pattern macro-F1", ("pattern", "macro_f1"), ">=", 0.80),
    ("FP on bone per image", ("false_positives", "per_image", "bone"), "<=", 0.2),
    ("FP per normal image", ("false_positives", "per_normal_image"), "<=", 0.5),
)

#: Focus features copied into the per-image details (when the detector provides them).
FP_FEATURES = ("contrast_sigma", "equivalent_diameter_mm", "elongation", "thickness_mm", "distance_to_bone_mm",
               "distance_to_joint_mm", "skin_depth_mm", "relative_density")


# ---------------------------------------------------------------------------
# the fixed set and its cache
# ---------------------------------------------------------------------------

def plan(n: int, seed: int) -> list[dict[str, Any]]:
    """The images of the set, chosen exactly like :func:`calcidetect.phantom.write_dataset`."""
    from calcidetect.phantom import BODY_PARTS
    from calcidetect.result import PATTERNS

    rng = np.random.default_rng([seed, 0x5EED])
    n_normal = max(1, int(round(0.15 * n))) if n >= 4 else 0
    normals = set(rng.choice(n, size=n_normal, replace=False).tolist()) if n_normal else set()
    seeds = np.random.SeedSequence(seed).generate_state(max(n, 1), dtype=np.uint32)
    out, k = [], 0
    for i in range(n):
        part = BODY_PARTS[i % len(BODY_PARTS)]
        normal = i in normals
        first = None if normal else PATTERNS[k % len(PATTERNS)]
        k += 0 if normal else 1
        out.append({"index": i, "seed": int(seeds[i]), "body_part": part, "normal": normal, "first_pattern": first,
                    "stem": f"phantom_{i:04d}_{part}"})
    return out


def generator_hash() -> str:
    import calcidetect

    src = Path(calcidetect.__file__).resolve().parent
    h = hashlib.sha256()
    for name in GENERATOR_SOURCES:
        p = src / name
        h.update(name.encode())
        h.update(p.read_bytes() if p.is_file() else b"")
    return h.hexdigest()[:16]


def _init_worker() -> None:
    import cv2

    cv2.setNumThreads(1)


def _generate_one(item: dict[str, Any], folder: str) -> tuple[str, float, tuple[int, int]]:
    from calcidetect.phantom import generate
    from calcidetect.truth import write_truth

    t = time.perf_counter()
    ph = generate(item["seed"], item["body_part"], normal=item["normal"], first_pattern=item["first_pattern"])
    d = Path(folder)
    np.save(d / f".{item['stem']}.tmp.npy", ph.pixels)
    os.replace(d / f".{item['stem']}.tmp.npy", d / f"{item['stem']}.npy")
    truth = dict(ph.truth)
    truth["image"] = f"{item['stem']}.npy"
    truth["photometric"] = "MONOCHROME2"
    write_truth(d / f"{item['stem']}.truth.json", truth)
    return item["stem"], time.perf_counter() - t, ph.pixels.shape


def ensure_cache(items: list[dict[str, Any]], n: int, seed: int, workers: int, regenerate: bool) -> tuple[Path, float]:
    """Generate the phantoms that are not cached yet; return (folder, seconds spent generating)."""
    from calcidetect.atomic import atomic_write_text

    folder = CACHE_ROOT / f"n{n}_seed{seed}"
    folder.mkdir(parents=True, exist_ok=True)
    manifest_path = folder / "manifest.json"
    ghash = generator_hash()
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    stale = regenerate or manifest.get("generator_hash") != ghash
    if stale and manifest:
        print(f"phantom cache {folder.relative_to(REPO)}: generator changed or --regenerate; rebuilding", flush=True)
    todo = [it for it in items if stale or not (folder / f"{it['stem']}.npy").is_file()
            or not (folder / f"{it['stem']}.truth.json").is_file()]
    if stale:
        manifest_path.unlink(missing_ok=True)
    t0 = time.perf_counter()
    if todo:
        print(f"generating {len(todo)} phantom(s) into {folder.relative_to(REPO)} with {workers} worker(s) ...",
              flush=True)
        with _pool(workers) as pool:
            futs = [pool.submit(_generate_one, it, str(folder)) for it in todo]
            for f in cf.as_completed(futs):
                stem, s, shape = f.result()
                print(f"  {stem}  {shape[1]}x{shape[0]}  {s:.1f} s", flush=True)
    gen_s = time.perf_counter() - t0
    atomic_write_text(manifest_path, json.dumps({"n": n, "seed": seed, "generator_hash": ghash, "images": items},
                                                indent=1) + "\n")
    return folder, gen_s


def _pool(workers: int) -> cf.ProcessPoolExecutor:
    # spawn: no fork of a parent that may hold OpenCV / BLAS threads
    return cf.ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"), initializer=_init_worker)


# ---------------------------------------------------------------------------
# detect + evaluate one image (in a worker)
# ---------------------------------------------------------------------------

def _boxes_at(distractors: list[dict], r: float, c: float, margin_px: float) -> list[str]:
    kinds = []
    for d in distractors:
        if d.get("kind") == "collimation":
            continue
        r0, c0, r1, c1 = d["bbox"]
        if r0 - margin_px <= r < r1 + margin_px and c0 - margin_px <= c < c1 + margin_px:
            k = d["kind"] + (f":{d['what']}" if d.get("what") else "")
            if k not in kinds:
                kinds.append(k)
    return kinds


def _evaluate_one(item: dict[str, Any], folder: str, config_path: str | None) -> dict[str, Any]:
    import cv2

    import calcidetect as cd
    from calcidetect.evaluate import evaluate_image
    from calcidetect.truth import read_truth

    d = Path(folder)
    cfg = cd.Config.from_toml(config_path) if config_path else cd.Config()
    pixels = np.load(d / f"{item['stem']}.npy")
    truth = read_truth(d / f"{item['stem']}.truth.json")
    sp = truth.spacing
    t = time.perf_counter()
    res = cd.detect(cd.Radiograph(pixels=pixels.astype(np.float32), pixel_spacing_mm=sp,
                                  spacing_source="PixelSpacing"), config=cfg)
    wall = time.perf_counter() - t
    patterns = {f.id: str(f.pattern) for f in res.foci}
    ev = evaluate_image(res.labels, patterns, truth, image=item["stem"])

    # ---- diagnostics for tuning ------------------------------------------------
    foci = {f.id: f for f in res.foci}
    bone = truth.bone_mask.astype(np.uint8)
    body = truth.body_mask.astype(np.uint8)
    d_to_bone = cv2.distanceTransform(1 - bone, cv2.DIST_L2, 5)   # outside bone: distance to bone
    d_in_bone = cv2.distanceTransform(bone, cv2.DIST_L2, 5)       # inside bone: depth below its edge
    d_in_body = cv2.distanceTransform(body, cv2.DIST_L2, 5)       # inside body: depth below the skin
    d_to_body = cv2.distanceTransform(1 - body, cv2.DIST_L2, 5)   # outside body: distance to the skin
    joints = truth.joints_rc
    s = float(sp[0])
    fps = []
    for fp in ev.false_positives:
        r, c = fp["centroid_rc"]
        ri, ci = min(max(int(round(r)), 0), pixels.shape[0] - 1), min(max(int(round(c)), 0), pixels.shape[1] - 1)
        feat = foci[fp["id"]].features if fp["id"] in foci else {}
        rec = {"id": fp["id"], "location": fp["location"], "pattern": fp["pattern"], "centroid_rc": [r, c],
               "area_mm2": round(fp["area_mm2"], 3),
               # from the truth masks (independent of the detector's own anatomy)
               "truth_bone_mm": round(float(-d_in_bone[ri, ci] if bone[ri, ci] else d_to_bone[ri, ci]) * s, 2),
               "truth_skin_mm": round(float(d_in_body[ri, ci] if body[ri, ci] else -d_to_body[ri, ci]) * s, 2),
               "truth_joint_mm": (round(float(np.hypot(joints[:, 0] - r, joints[:, 1] - c).min()) * s, 1)
                                  if len(joints) else None),
               "distractor": _boxes_at(truth.distractors, r, c, 2.0 / s)}
        rec.update({k: round(float(feat[k]), 2) for k in FP_FEATURES if k in feat})
        fps.append(rec)
    truth_by_id = {int(f["id"]): f for f in truth.foci}
    missed, mislabels = [], []
    for t_rec in ev.truth:
        tf = truth_by_id.get(t_rec["id"], {})
        base = {"id": t_rec["id"], "pattern": t_rec["pattern"], "area_mm2": round(t_rec["area_truth_mm2"], 2),
                "contrast_sigma": tf.get("contrast_sigma"), "centroid_rc": tf.get("centroid_rc")}
        if not t_rec["matched"]:
            # detections touching the focus: found but merged into something larger, or not found at all?
            r0, c0, r1, c1 = tf["bbox"]
            under = res.labels[r0:r1, c0:c1][truth.labels[r0:r1, c0:c1] == t_rec["id"]]
            under = under[under > 0]
            ids, cnt = np.unique(under, return_counts=True)
            base["touching"] = [{"id": int(k), "pattern": patterns.get(int(k), "?"),
                                 "area_mm2": round(float(foci[int(k)].area_mm2), 2) if int(k) in foci else None,
                                 "share_on_focus": round(float(n) / foci[int(k)].area_px, 3)
                                 if int(k) in foci and foci[int(k)].area_px else None}
                                for k, n in sorted(zip(ids, cnt), key=lambda kv: -kv[1])[:3]]
            missed.append(base)
        elif t_rec["pred_pattern"] != t_rec["pattern"]:
            # the detection with most pixels on the truth mask (close to evaluate's "lead" detection)
            r0, c0, r1, c1 = tf["bbox"]
            under = res.labels[r0:r1, c0:c1][truth.labels[r0:r1, c0:c1] == t_rec["id"]]
            under = under[under > 0]
            lead = int(np.bincount(under).argmax()) if under.size else 0
            feat = foci[lead].features if lead in foci else {}
            base.update({"pred_pattern": t_rec["pred_pattern"], "pred_area_mm2": round(t_rec["area_pred_mm2"], 2),
                         "pred_scores": ({k: round(v, 2) for k, v in foci[lead].scores.items()}
                                         if lead in foci else {})})
            base.update({k: round(float(feat[k]), 2) for k in FP_FEATURES if k in feat and k != "contrast_sigma"})
            mislabels.append(base)
    # the detector's masks against the truth's (a failed body or bone mask explains whole images)
    masks = {}
    for name, det_m, tru_m in (("body", res.body_mask, truth.body_mask), ("bone", res.bone_mask, truth.bone_mask)):
        inter = int(np.count_nonzero(det_m & tru_m))
        union = int(np.count_nonzero(det_m | tru_m))
        n_true = int(np.count_nonzero(tru_m))
        masks[name] = {"iou": round(inter / union, 3) if union else None,
                       "truth_covered": round(inter / n_true, 3) if n_true else None,
                       "det_outside_truth": round((int(np.count_nonzero(det_m)) - inter) / max(n_true, 1), 3)}
    return {
        "item": item,
        "eval": ev,
        "masks": masks,
        "shape": list(pixels.shape),
        "spacing_mm": s,
        "timings_s": {k: float(v) for k, v in (res.timings_s or {}).items()},
        "wall_s": wall,
        "false_positives": fps,
        "missed": missed,
        "truth_foci": [{"area_mm2": t_rec["area_truth_mm2"],
                        "contrast_sigma": truth_by_id.get(t_rec["id"], {}).get("contrast_sigma"),
                        "matched": t_rec["matched"]} for t_rec in ev.truth],
        "mislabels": mislabels,
        "distractor_kinds": sorted({dd["kind"] for dd in truth.distractors}),
    }


# ---------------------------------------------------------------------------
# reporting
# ---------------------------------------------------------------------------

def _get(report: dict, path: tuple[str, ...]):
    x: Any = report
    for k in path:
        x = x.get(k) if isinstance(x, dict) else None
    return x


def _fmt(x, nd=3) -> str:
    return "-" if x is None else (f"{x:.{nd}f}" if isinstance(x, float) else str(x))


def targets_block(report: dict) -> tuple[list[str], list[dict]]:
    lines = ["issue-4 targets"]
    rows = []
    for label, path, op, limit in TARGETS:
        v = _get(report, path)
        ok = v is not None and (v >= limit if op == ">=" else v <= limit)
        rows.append({"target": label, "value": v, "op": op, "limit": limit, "pass": bool(ok)})
        lines.append(f"  {label:<24} {_fmt(v):>7}  {op} {limit:<5}  {'PASS' if ok else 'FAIL'}")
    return lines, rows


def part_block(results: list[dict]) -> tuple[list[str], dict]:
    from calcidetect.evaluate import summarise

    parts = []
    for r in results:
        if r["item"]["body_part"] not in parts:
            parts.append(r["item"]["body_part"])
    lines = ["by body part       images normal  truth  TP   FP  det-F1  macro-F1  FP/img: bone  soft  outside"
             "  FP/normal  median detect s"]
    out = {}
    for part in parts:
        sub = [r for r in results if r["item"]["body_part"] == part]
        rep = summarise([r["eval"] for r in sub])
        det = rep["detection"]["overall"]
        fpi = rep["false_positives"]["per_image"]
        med = statistics.median(r["timings_s"].get("total", r["wall_s"]) for r in sub)
        out[part] = {"images": len(sub), "normal": rep["n_normal_images"], "truth_foci": rep["n_truth_foci"],
                     "tp": det["tp"], "fp": det["fp"], "detection_f1": det["f1"],
                     "pattern_macro_f1": rep["pattern"]["macro_f1"], "fp_per_image": fpi,
                     "fp_per_normal_image": rep["false_positives"]["per_normal_image"], "median_detect_s": med}
        lines.append(f"  {part:<16} {len(sub):>6} {rep['n_normal_images']:>6} {rep['n_truth_foci']:>6} "
                     f"{det['tp']:>3} {det['fp']:>4}  {_fmt(det['f1']):>6}  {_fmt(rep['pattern']['macro_f1']):>8}"
                     f"  {_fmt(fpi['bone'], 2):>12} {_fmt(fpi['soft_tissue'], 2):>5} {_fmt(fpi['outside'], 2):>8}"
                     f"  {_fmt(rep['false_positives']['per_normal_image'], 2):>9}  {med:>15.2f}")
    lines.append("detector masks vs truth, median IoU per body part (min): " + "; ".join(
        f"{part} body {_median_min([r['masks']['body']['iou'] for r in results if r['item']['body_part'] == part])}"
        f" bone {_median_min([r['masks']['bone']['iou'] for r in results if r['item']['body_part'] == part])}"
        for part in parts))
    for part in parts:
        out[part]["mask_iou"] = {k: [r["masks"][k]["iou"] for r in results if r["item"]["body_part"] == part]
                                 for k in ("body", "bone")}
    return lines, out


def _median_min(vals: list) -> str:
    v = [x for x in vals if x is not None]
    return f"{statistics.median(v):.2f} ({min(v):.2f})" if v else "-"


#: Bins of the detection-limit table: truth area (mm^2) and the truth's mean
#: contrast over the focus in per-pixel noise sigma (the generator's
#: ``contrast_sigma``); each bin holds values >= its edge and < the next.
AREA_BINS_MM2 = (0.0, 0.5, 2.0, 10.0, 50.0)
CONTRAST_BINS_SIGMA = (0.0, 4.0, 8.0, 16.0)


def _bin_names(edges: tuple[float, ...], unit: str) -> list[str]:
    names = [f"{a:g}-{b:g}" for a, b in zip(edges[:-1], edges[1:])]
    return names + [f">={edges[-1]:g}{unit}"]


def recall_grid(results: list[dict]) -> tuple[list[str], dict]:
    """Detection limit: found / all truth foci by area and by mean contrast.

    A researcher reads off which deposits the detector can be relied on to
    find (and which it cannot) instead of one recall figure over a mix.
    """
    rows = [t for r in results for t in r.get("truth_foci", [])]
    a_names = _bin_names(AREA_BINS_MM2, " mm2")
    c_names = _bin_names(CONTRAST_BINS_SIGMA, " sd")
    found = np.zeros((len(a_names), len(c_names)), int)
    total = np.zeros_like(found)
    for t in rows:
        c = t["contrast_sigma"]
        if c is None or not np.isfinite(c):
            continue
        i = int(np.searchsorted(AREA_BINS_MM2, t["area_mm2"], side="right")) - 1
        j = int(np.searchsorted(CONTRAST_BINS_SIGMA, c, side="right")) - 1
        total[max(i, 0), max(j, 0)] += 1
        found[max(i, 0), max(j, 0)] += bool(t["matched"])

    def cell(f: int, n: int) -> str:
        return f"{f}/{n}" if n else "-"

    corner = "area mm2 / mean contrast"
    head = f"  {corner:<26}" + "".join(f"{n:>10}" for n in c_names) + f"{'all':>10}{'recall':>8}"
    lines = ["recall by truth size and contrast (found/all; contrast = mean excess over the focus in "
             "per-pixel noise sd):", head]
    for i, name in enumerate(a_names):
        n, f = int(total[i].sum()), int(found[i].sum())
        lines.append(f"  {name:<26}" + "".join(f"{cell(found[i, j], total[i, j]):>10}" for j in range(len(c_names)))
                     + f"{cell(f, n):>10}{(f'{f / n:.2f}' if n else '-'):>8}")
    col_f, col_n = found.sum(0), total.sum(0)
    lines.append(f"  {'all':<26}" + "".join(f"{cell(col_f[j], col_n[j]):>10}" for j in range(len(c_names)))
                 + f"{cell(int(found.sum()), int(total.sum())):>10}")
    lines.append(f"  {'recall':<26}" + "".join(f"{(f'{col_f[j] / col_n[j]:.2f}' if col_n[j] else '-'):>10}"
                                              for j in range(len(c_names))))
    return lines, {"area_bins_mm2": list(AREA_BINS_MM2), "contrast_bins_sigma": list(CONTRAST_BINS_SIGMA),
                   "found": found.tolist(), "total": total.tolist()}


def fp_breakdown(results: list[dict]) -> tuple[list[str], dict]:
    by_pattern: dict[str, int] = {}
    by_tag: dict[str, int] = {}
    for r in results:
        for fp in r["false_positives"]:
            by_pattern[fp["pattern"]] = by_pattern.get(fp["pattern"], 0) + 1
            if fp["distractor"]:
                tags = fp["distractor"]
            elif fp["location"] == "bone":
                tags = ["bone edge (<1.5 mm inside)" if fp["truth_bone_mm"] > -1.5 else "bone interior"]
            elif fp["location"] == "soft_tissue":
                tags = ["soft tissue, <3 mm under skin" if fp["truth_skin_mm"] < 3 else
                        ("soft tissue, <2 mm from bone" if fp["truth_bone_mm"] < 2 else "soft tissue, elsewhere")]
            else:
                tags = ["outside body, <3 mm from skin" if fp["truth_skin_mm"] > -3 else "outside body, elsewhere"]
            for t in tags:
                by_tag[t] = by_tag.get(t, 0) + 1
    lines = ["false positives by predicted pattern: " +
             (", ".join(f"{k} {v}" for k, v in sorted(by_pattern.items(), key=lambda kv: -kv[1])) or "none"),
             "false positives by where they fall (distractor box within 2 mm, else truth masks):"]
    for k, v in sorted(by_tag.items(), key=lambda kv: -kv[1]):
        lines.append(f"  {k:<34} {v:>5}")
    return lines, {"by_pattern": by_pattern, "by_place": by_tag}


def stage_block(results: list[dict]) -> tuple[list[str], dict]:
    keys = []
    for r in results:
        for k in r["timings_s"]:
            if k not in keys:
                keys.append(k)
    med = {k: statistics.median(r["timings_s"][k] for r in results if k in r["timings_s"]) for k in keys}
    mpix = statistics.median(r["shape"][0] * r["shape"][1] / 1e6 for r in results)
    line = "median detect time per image (s): " + ", ".join(f"{k} {v:.2f}" for k, v in med.items()) + \
           f"  (median image {mpix:.1f} Mpixel; {{workers}} workers in parallel)"
    return [line], med


def per_image_lines(r: dict, max_lines: int, details: Path = DETAILS) -> list[str]:
    it, ev = r["item"], r["eval"]
    fps = r["false_positives"]
    loc = {k: sum(1 for f in fps if f["location"] == k) for k in ("bone", "soft_tissue", "outside")}
    tp = sum(t["matched"] for t in ev.truth)
    kind = "normal" if it["normal"] else f"first={it['first_pattern']}"
    h, w = r["shape"]
    out = [f"[{it['index']:02d}] seed {it['seed']} {it['body_part']:<8} {w}x{h} @{r['spacing_mm']:.3f}mm {kind:<19} "
           f"truth {len(ev.truth):>2} TP {tp:>2} miss {len(r['missed']):>2} mislabel {len(r['mislabels']):>2} "
           f"FP {len(fps):>3} (bone {loc['bone']}, soft {loc['soft_tissue']}, out {loc['outside']}) "
           f"frag {ev.fragments}  {r['timings_s'].get('total', r['wall_s']):.1f}s  "
           f"distractors: {','.join(r['distractor_kinds']) or '-'}",
           "    masks vs truth: " + "; ".join(
               f"{k} IoU {_fmt(v['iou'], 2)} (covers {_fmt(v['truth_covered'], 2)} of truth, extra "
               f"{_fmt(v['det_outside_truth'], 2)})" for k, v in r["masks"].items())]
    lines = []
    for m in r["missed"]:
        c = m["centroid_rc"] or ["?", "?"]
        touch = "; ".join(f"{t['pattern']} {_fmt(t['area_mm2'], 1)} mm2 ({_fmt(t['share_on_focus'], 2)} of it on "
                          f"the focus)" for t in m.get("touching", []))
        lines.append(f"    MISS {m['pattern']:<13} {m['area_mm2']:>8.2f} mm2  {_fmt(m['contrast_sigma'], 1):>5} sigma"
                     f"  at ({c[0]:.0f},{c[1]:.0f})  "
                     + (f"touched by: {touch}" if touch else "no detection touches it"))
    for m in r["mislabels"]:
        lines.append(f"    LABEL {m['pattern']}->{m['pred_pattern']:<13} {m['area_mm2']:>7.2f} mm2 (pred "
                     f"{m['pred_area_mm2']:.2f})  diam {_fmt(m.get('equivalent_diameter_mm'), 1)} elong "
                     f"{_fmt(m.get('elongation'), 1)} thick {_fmt(m.get('thickness_mm'), 1)} bone "
                     f"{_fmt(m.get('distance_to_bone_mm'), 1)} joint {_fmt(m.get('distance_to_joint_mm'), 1)} skin "
                     f"{_fmt(m.get('skin_depth_mm'), 1)}  scores {m.get('pred_scores')}")
    order = sorted(fps, key=lambda f: ({"bone": 0, "soft_tissue": 1, "outside": 2}[f["location"]], -f["area_mm2"]))
    for f in order:
        lines.append(f"    FP {f['location']:<11} {f['pattern']:<13} ({f['centroid_rc'][0]:.0f},{f['centroid_rc'][1]:.0f})"
                     f" {f['area_mm2']:>7.2f} mm2 {_fmt(f.get('contrast_sigma'), 1):>5} sigma"
                     f"  truth: bone {f['truth_bone_mm']:+.1f} skin {f['truth_skin_mm']:+.1f} joint "
                     f"{_fmt(f['truth_joint_mm'], 1)} mm"
                     f"  det: bone {_fmt(f.get('distance_to_bone_mm'), 1)} skin {_fmt(f.get('skin_depth_mm'), 1)}"
                     f" elong {_fmt(f.get('elongation'), 1)}"
                     + (f"  [{', '.join(f['distractor'])}]" if f["distractor"] else ""))
    if max_lines and len(lines) > max_lines:
        rest = len(lines) - max_lines
        lines = lines[:max_lines] + [f"    ... {rest} more lines (all in {details.relative_to(REPO)})"]
    return out + lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Accuracy of calcidetect.detect on a fixed, cached phantom set.")
    ap.add_argument("--n", type=int, default=40, help="number of phantoms (default 40)")
    ap.add_argument("--seed", type=int, default=1000, help="seed of the set (default 1000)")
    ap.add_argument("--workers", type=int, default=2, help="processes for generation and detection (default 2)")
    ap.add_argument("--config", default=None, help="TOML file for calcidetect.Config (default: Config())")
    ap.add_argument("--out", default=None,
                    help="folder for accuracy.txt / accuracy.json (default benchmarks/results; bench_out/subset "
                         "with --only / --parts)")
    ap.add_argument("--per-image", action="store_true",
                    help="print one block per image: counts, missed foci, mislabels, false positives with features")
    ap.add_argument("--max-lines", type=int, default=40,
                    help="with --per-image, at most this many detail lines per image (0 = all; default 40)")
    ap.add_argument("--only", type=int, nargs="+", metavar="INDEX",
                    help="detect only these images of the set (indices as in --per-image); results go to bench_out/")
    ap.add_argument("--parts", nargs="+", choices=("hand", "hip", "shoulder", "forearm"),
                    help="detect only these body parts; results go to bench_out/")
    ap.add_argument("--regenerate", action="store_true", help="rebuild the phantom cache")
    args = ap.parse_args(argv)
    if args.n < 1 or args.workers < 1:
        ap.error("--n and --workers must be >= 1")

    import calcidetect as cd
    from calcidetect.atomic import atomic_write_text
    from calcidetect.evaluate import format_report, summarise

    cfg = cd.Config.from_toml(args.config) if args.config else cd.Config()  # fail early on a bad file
    config_path = str(Path(args.config).resolve()) if args.config else None
    t_start = time.perf_counter()
    items = plan(args.n, args.seed)
    folder, gen_s = ensure_cache(items, args.n, args.seed, args.workers, args.regenerate)
    subset = bool(args.only or args.parts)
    if args.only:
        items = [it for it in items if it["index"] in set(args.only)]
    if args.parts:
        items = [it for it in items if it["body_part"] in set(args.parts)]
    if not items:
        ap.error("--only / --parts select no image")
    if args.out is None:
        args.out = str(REPO / "bench_out" / "subset") if subset else str(REPO / "benchmarks" / "results")

    print(f"detecting {len(items)} images with {args.workers} worker(s) ...", flush=True)
    t_det = time.perf_counter()
    results: list[dict] = []
    with _pool(args.workers) as pool:
        futs = [pool.submit(_evaluate_one, it, str(folder), config_path) for it in items]
        for i, f in enumerate(cf.as_completed(futs), 1):
            r = f.result()
            results.append(r)
            print(f"  {i:>3}/{len(items)} {r['item']['stem']}: {len(r['false_positives'])} FP, "
                  f"{len(r['missed'])} missed, {r['timings_s'].get('total', r['wall_s']):.1f} s", flush=True)
    det_s = time.perf_counter() - t_det
    results.sort(key=lambda r: r["item"]["index"])
    wall_s = time.perf_counter() - t_start

    report = summarise([r["eval"] for r in results])
    t_lines, t_rows = targets_block(report)
    p_lines, p_out = part_block(results)
    f_lines, f_out = fp_breakdown(results)
    g_lines, g_out = recall_grid(results)
    s_lines, s_med = stage_block(results)
    s_lines = [s.replace("{workers}", str(args.workers)) for s in s_lines]

    mpix = sum(r["shape"][0] * r["shape"][1] for r in results) / 1e6
    n_parts = {p: sum(1 for it in items if it["body_part"] == p) for p in dict.fromkeys(it["body_part"] for it in items)}
    header = [
        "calcidetect accuracy on the phantom benchmark (benchmarks/accuracy.py)",
        f"date: {_dt.datetime.now().isoformat(timespec='seconds')}  calcidetect {cd.__version__}  "
        f"commit: {git_commit()}",
        f"machine: {platform.machine()}, {os.cpu_count()} logical CPUs, Python {platform.python_version()}",
        (f"SUBSET of the set: {len(items)} image(s): " + " ".join(str(it["index"]) for it in items) + "\n"
         if subset else "") +
        f"set: N={args.n} seed={args.seed} (full size, {mpix:.0f} Mpixel in all; "
        + ", ".join(f"{k} {v}" for k, v in n_parts.items())
        + f"; {sum(it['normal'] for it in items)} normal), cache {folder.relative_to(REPO)}",
        f"config: {args.config or 'Config() defaults'}",
        f"wall time: {wall_s:.1f} s (generation {gen_s:.1f} s, detect + evaluate {det_s:.1f} s, "
        f"{args.workers} worker(s))",
        "",
    ]
    details_path = DETAILS.with_name("accuracy_details_subset.json") if subset else DETAILS
    text_lines = header + [format_report(report), ""] + t_lines + [""] + p_lines + [""] + f_lines + [""] + g_lines + [""] + s_lines
    if args.per_image:
        print("\nper image (MISS: truth focus not found; LABEL: truth->predicted; FP: location, predicted pattern, "
              "centroid (row,col), area, contrast; truth: signed mm to bone edge (- inside) / below skin (- outside)"
              " / to nearest joint; det: the detector's own features)")
        for r in results:
            print("\n".join(per_image_lines(r, args.max_lines, details_path)))
        print()
    text = "\n".join(text_lines) + "\n"
    print(text)

    out = Path(args.out)
    meta = {"date": _dt.datetime.now().isoformat(timespec="seconds"), "calcidetect_version": cd.__version__,
            "git_commit": git_commit(), "n": args.n, "seed": args.seed, "workers": args.workers,
            "subset": [it["index"] for it in items] if subset else None,
            "config": args.config, "config_values": cfg.to_dict(), "wall_s": round(wall_s, 2),
            "generation_s": round(gen_s, 2), "detect_evaluate_s": round(det_s, 2), "mpixel_total": round(mpix, 2),
            "cache": str(folder.relative_to(REPO)), "generator_hash": generator_hash(),
            "python": platform.python_version(), "cpus": os.cpu_count()}
    images = []
    for r in results:
        ev, it = r["eval"], r["item"]
        images.append({"index": it["index"], "stem": it["stem"], "seed": it["seed"], "body_part": it["body_part"],
                       "normal": it["normal"], "first_pattern": it["first_pattern"], "shape": r["shape"],
                       "n_truth": len(ev.truth), "tp": sum(t["matched"] for t in ev.truth),
                       "missed": len(r["missed"]), "mislabels": len(r["mislabels"]),
                       "fp": {k: sum(1 for f in r["false_positives"] if f["location"] == k)
                              for k in ("bone", "soft_tissue", "outside")},
                       "fragments": ev.fragments, "mask_iou": {k: v["iou"] for k, v in r["masks"].items()},
                       "detect_s": round(r["timings_s"].get("total", r["wall_s"]), 3)})
    doc = {"meta": meta, "targets": t_rows, "by_body_part": p_out, "false_positive_places": f_out,
           "recall_by_size_contrast": g_out,
           "median_stage_s": s_med, "report": report, "per_image": images}
    atomic_write_text(out / "accuracy.json", json.dumps(doc, indent=1, default=float) + "\n")
    atomic_write_text(out / "accuracy.txt", text)
    details = [{"item": r["item"], "shape": r["shape"], "spacing_mm": r["spacing_mm"], "timings_s": r["timings_s"],
                "masks": r["masks"], "missed": r["missed"], "mislabels": r["mislabels"], "false_positives": r["false_positives"]}
               for r in results]
    atomic_write_text(details_path, json.dumps({"meta": meta, "images": details}, default=float) + "\n")
    print(f"wrote {out / 'accuracy.txt'}, {out / 'accuracy.json'} and {details_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
