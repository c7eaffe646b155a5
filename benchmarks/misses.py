"""Why each truth focus of the phantom benchmark is missed (diagnostics for issue 4).

For every truth focus that no detection matches, on the cached phantom set
of ``benchmarks/accuracy.py`` (same ``--n`` / ``--seed``, generated there if
missing), it prints where the focus was lost:

* ``outside body``: most of it lies outside the detector's body mask;
* ``in bone``: most of it lies in the bone mask or its margin
  (``Config.bone_margin_mm``) or in metal / overlays: the focus was never
  searched for;
* ``below threshold``: its peak significance (sigma) never reached the
  high threshold of any channel;
* ``coarse mass unconfirmed``: only the coarse channel found it, and no
  fine candidate lies in that mass;
* ``extent trim / seed``: the fine channel found it, but the trim to 35 %
  of the peak or the seed test removed it;
* otherwise the first filter of :func:`calcidetect.segment.segment` that
  dropped it (``bone_attached``, ``bone_continuation``, ``faint_large``,
  ``dense_surround``), or
  ``grouping / min area`` when the last mask still covers it.

Each line also gives the truth pattern, area, the share of the focus in the
body and in the excluded zone, and its peak significance.  With
``--oracle-bone`` the detector's bone mask is replaced by the truth's (joints
recomputed), which separates bone-mask errors from segmentation errors.

Run from the repository root::

    python benchmarks/misses.py                 # 40 images, seed 1000
    python benchmarks/misses.py --oracle-bone   # with the truth's bone mask
    python benchmarks/misses.py --config my.toml --only 5 21

It prints to the terminal only (a diagnostic, not a result to commit).
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures as cf
import multiprocessing as mp
import os
import sys
from pathlib import Path
from typing import Any

# one thread per worker process for every numeric library (set before numpy is imported)
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from accuracy import ensure_cache, plan  # noqa: E402

#: Filters of ``segment`` after the channels are united, in order (``segment(trace=...)`` steps).
FILTERS = ("bone_attached", "bone_continuation", "faint_large", "dense_surround")
#: A focus is "outside" / "in bone" when at least this share of it is.
MOSTLY = 0.5


def _init_worker() -> None:
    import cv2

    cv2.setNumThreads(1)


def diagnose(stem: str, folder: str, config_path: str | None, oracle_bone: bool) -> list[dict[str, Any]]:
    """Run detect's stages on one cached phantom; one row per missed truth focus."""
    import calcidetect as cd
    from calcidetect.anatomy import find_joints
    from calcidetect.classify import primary_patterns, score_patterns
    from calcidetect.evaluate import evaluate_image
    from calcidetect.features import measure_foci
    from calcidetect.filters import dilate, resize_to
    from calcidetect.pipeline import _nearest_index, _upsample_labels, _working_image_and_anatomy
    from calcidetect.segment import segment
    from calcidetect.truth import read_truth

    d = Path(folder)
    truth = read_truth(d / f"{stem}.truth.json")
    cfg = cd.Config.from_toml(config_path) if config_path else cd.Config()
    rad = cd.Radiograph(pixels=np.load(d / f"{stem}.npy").astype(np.float32), pixel_spacing_mm=truth.spacing,
                        spacing_source="PixelSpacing")
    work, pixels, anatomy = _working_image_and_anatomy(rad, cfg, {})
    sp = work.spacing_mm
    shape = pixels.shape
    if oracle_bone:
        anatomy.bone = resize_to(truth.bone_mask.astype(np.uint8), shape, nearest=True).astype(bool) & ~anatomy.metal
        anatomy.joint_distance_px, anatomy.joints_rc, anatomy.bone_labels, anatomy.bone_orientation = find_joints(
            anatomy.bone, sp, cfg)
    trace: dict[str, np.ndarray] = {}
    seg = segment(pixels, anatomy, sp, cfg, trace=trace)
    feats = measure_foci(seg, anatomy, sp, cfg)
    patterns = primary_patterns(score_patterns(feats, cfg), feats["equivalent_diameter_mm"], cfg)
    rows, cols = _nearest_index(rad.pixels.shape[0], shape[0]), _nearest_index(rad.pixels.shape[1], shape[1])
    labels = _upsample_labels(seg.labels, rows, cols)
    ev = evaluate_image(labels, {i + 1: p for i, p in enumerate(patterns)}, truth, image=stem)

    truth_work = resize_to(truth.labels.astype(np.float32), shape, nearest=True).astype(np.int64)
    excluded = dilate(anatomy.bone, cfg.bone_margin_mm / sp) | anatomy.metal
    out = []
    for t in ev.truth:
        if t["matched"]:
            continue
        where = truth_work == t["id"]
        row = {"image": stem, "pattern": t["pattern"], "area_mm2": float(t["area_truth_mm2"])}
        if not where.any():
            out.append({**row, "body": 0.0, "excluded": 0.0, "peak_sigma": float("nan"), "lost": "smaller than a working pixel"})
            continue
        body, excl = float(anatomy.body[where].mean()), float(excluded[where].mean())
        peak = float(seg.significance[where].max())
        if body < MOSTLY:
            lost = "outside body"
        elif excl >= MOSTLY:
            lost = "in bone"
        elif not trace["fine"][where].any() and not trace["coarse"][where].any():
            lost = "below threshold"
        elif not trace["confirmed"][where].any():
            lost = "coarse mass unconfirmed" if trace["coarse"][where].any() else "extent trim / seed"
        else:
            lost = next((s for s in FILTERS if not trace[s][where].any()), "grouping / min area")
        out.append({**row, "body": body, "excluded": excl, "peak_sigma": peak, "lost": lost})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=40, help="number of phantoms (default 40)")
    ap.add_argument("--seed", type=int, default=1000, help="seed of the set (default 1000)")
    ap.add_argument("--workers", type=int, default=2, help="processes (default 2)")
    ap.add_argument("--config", help="TOML file for calcidetect.Config (default: Config())")
    ap.add_argument("--only", type=int, nargs="+", metavar="INDEX", help="only these images of the set")
    ap.add_argument("--oracle-bone", action="store_true", help="use the truth's bone mask instead of the detector's")
    args = ap.parse_args(argv)

    items = plan(args.n, args.seed)
    folder, _ = ensure_cache(items, args.n, args.seed, args.workers, regenerate=False)
    if args.only:
        items = [it for it in items if it["index"] in set(args.only)]
    with cf.ProcessPoolExecutor(args.workers, mp_context=mp.get_context("spawn"), initializer=_init_worker) as pool:
        futs = [pool.submit(diagnose, it["stem"], str(folder), args.config, args.oracle_bone) for it in items]
        rows = [r for f in futs for r in f.result()]

    print(f"missed truth foci: {len(rows)} on {len(items)} image(s)" + (" (truth bone mask)" if args.oracle_bone else ""))
    print(f"{'image':24s} {'pattern':14s} {'area mm2':>9s} {'body':>5s} {'excl':>5s} {'peak':>6s}  lost at")
    for r in rows:
        print(f"{r['image']:24s} {r['pattern']:14s} {r['area_mm2']:9.1f} {r['body']:5.2f} {r['excluded']:5.2f} "
              f"{r['peak_sigma']:6.1f}  {r['lost']}")
    print("\nby cause:")
    for cause, k in collections.Counter(r["lost"] for r in rows).most_common():
        by_pattern = collections.Counter(r["pattern"] for r in rows if r["lost"] == cause)
        print(f"  {cause:22s} {k:3d}   " + ", ".join(f"{p} {m}" for p, m in sorted(by_pattern.items())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
