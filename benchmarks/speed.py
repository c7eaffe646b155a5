"""Speed and memory of ``calcidetect.detect`` at about 2, 5 and 16 megapixels (issue 6).

What it measures
----------------
Input: ONE hip phantom (:func:`calcidetect.phantom.generate`, seed
``--seed``, abnormal, first pattern lobular) generated at exactly
``--spacing-mm`` (default 0.1 mm, a common DR/CR detector pitch and the
finest spacing the generator uses at full size) through its ``size_scale``,
cached in ``bench_out/speed/``.  At 0.1 mm that film is about 3200 x 3400
px (its field of view is the hip's, ~32-35 cm).  The test images are square,
1414^2 (2.0 MP), 2236^2 (5.0 MP) and 4000^2 (16.0 MP) px, all at the same
spacing: along each axis the film is centre-cropped when it is larger and
padded by mirror reflection of its own border (``cv2.BORDER_REFLECT_101``,
no seam) when it is smaller; so 2 and 5 MP are centred crops (14 and 22 cm
fields: pelvis, femur and soft tissue), and 16 MP (a 40 cm field, as on a
large 0.1 mm detector) is the whole film plus mirrored margins of its own
edge content (the table says how many px were mirrored).  The pixel count
thus grows with the field of view at constant spacing, the situation in
which cost should be linear in pixels.  No resampling is done.  (Spacing
matters: ``detect`` works at ``Config.working_spacing_mm``, so finer inputs
cost less per input pixel; compare runs only at the same ``--spacing-mm``.)

For each size, in this one process, with ``cv2.setNumThreads(1)`` and one
thread for BLAS/OpenMP:

* ``detect``: one warm-up call, then ``--repeats`` (>= 5) timed calls on a
  ``Radiograph`` (float32 pixels, true spacing, ``spacing_source=
  "PixelSpacing"``).  Reported: the median (and minimum) of each stage in
  ``Result.timings_s`` and of the end-to-end wall time of the call, and
  ms per megapixel of the end-to-end median.
* peak memory, two ways:
  - ``rss``: a fresh subprocess imports calcidetect, runs a tiny warm-up
    detect, loads the crop as float32, resets the RSS high-water mark
    (``/proc/self/clear_refs``), runs ONE detect and reads ``VmHWM``.
    ``detect`` = (peak RSS during detect - RSS with the input loaded) /
    pixels: what detect needs on top of the caller's float32 input (OpenCV,
    numpy, scipy, everything).  ``+input`` also counts the float32 input
    (4 B/px).  (Linux only; ``ru_maxrss`` is not used because Linux carries
    the parent's high-water mark over fork+exec.)
  - ``tracemalloc``: peak of traced allocations during one detect in this
    process / pixels.  Traces numpy (and Python) allocations only, not
    OpenCV-internal buffers, so it is a lower bound; the rss figure is the
    one to compare with the target.
* reference 1, decoding: the crop is written as an uncompressed DICOM
  (Explicit VR Little Endian, MONOCHROME2, 16-bit) with pydicom to a
  temporary folder; ``calcidetect.load_image`` is timed (warm-up, then the
  median of ``--repeats`` calls; the file is in the page cache).
* reference 2, the baseline a user would write with scikit-image, on the
  same float32 array: ``white_tophat(img, disk(r))`` with r = round(3 mm /
  spacing) px, threshold at mean + 3 std of the top-hat, ``label``,
  ``regionprops`` (area and centroid of every region read).  Timed ONCE per
  size (it takes tens of seconds to minutes).  Sizes up to
  ``--baseline-always-mp`` (5) are always measured; above that, where the
  time predicted from the previous size (linear in pixels: the footprint is
  the same number of pixels at every size) exceeds ``--baseline-limit-s``
  (default 120 s), it is not run but extrapolated, and marked so.

Outputs: a table on the terminal and in ``benchmarks/results/speed.txt``,
everything as JSON in ``benchmarks/results/speed.json``.

Run from the repository root (takes a few minutes; run it on an otherwise
idle machine, numbers from a shared machine are marked by a large min/median
spread)::

    python benchmarks/speed.py
    python benchmarks/speed.py --sizes 2 5 --repeats 7 --no-baseline

This is a script, not a test: it never fails on the numbers.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import datetime as _dt  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from pathlib import Path  # noqa: E402

from _common import git_commit  # noqa: E402  (benchmarks/ is on sys.path when run as a script)
from typing import Any  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / "bench_out" / "speed"
STAGES = ("normalise", "anatomy", "segment", "features", "classify")

#: issue 6 targets
TARGET_MS_PER_MP = 60.0
TARGET_SPEEDUP = 50.0
TARGET_RATIO_16_5 = 3.5
TARGET_BYTES_PER_PX = 40.0


# ---------------------------------------------------------------------------
# input
# ---------------------------------------------------------------------------

def source_film(seed: int, spacing_mm: float) -> tuple[np.ndarray, float, int, dict]:
    """The cached hip phantom at ``spacing_mm``: (uint16 pixels, spacing, bits stored, metadata)."""
    from calcidetect.phantom import generate

    CACHE.mkdir(parents=True, exist_ok=True)
    stem = CACHE / f"hip_seed{seed}_sp{spacing_mm:g}"
    if stem.with_suffix(".npy").is_file() and stem.with_suffix(".json").is_file():
        meta = json.loads(stem.with_suffix(".json").read_text())
        return np.load(stem.with_suffix(".npy")), float(meta["spacing_mm"]), int(meta["bits_stored"]), meta
    # the generator's own spacing does not depend on size_scale: spacing = native / size_scale
    probe = generate(seed, "hip", normal=False, first_pattern="lobular", size_scale=0.1)
    scale = probe.pixel_spacing_mm * 0.1 / spacing_mm
    t = time.perf_counter()
    ph = generate(seed, "hip", normal=False, first_pattern="lobular", size_scale=scale)
    print(f"generated source film {ph.pixels.shape[1]}x{ph.pixels.shape[0]} @ {ph.pixel_spacing_mm:.4f} mm "
          f"in {time.perf_counter() - t:.1f} s", flush=True)
    meta = {"seed": seed, "size_scale": scale, "spacing_mm": ph.pixel_spacing_mm, "bits_stored": ph.bits_stored,
            "shape": list(ph.pixels.shape), "n_foci": len(ph.truth["foci"]),
            "distractors": sorted({d["kind"] for d in ph.truth["distractors"]})}
    np.save(stem.with_suffix(".npy"), ph.pixels)
    stem.with_suffix(".json").write_text(json.dumps(meta) + "\n")
    return ph.pixels, ph.pixel_spacing_mm, ph.bits_stored, meta


def fit_square(a: np.ndarray, side: int) -> tuple[np.ndarray, int]:
    """Centre-crop or mirror-pad ``a`` to ``side`` x ``side``; returns (image, pixels mirrored)."""
    out = a
    pads = [0, 0, 0, 0]
    for axis in (0, 1):
        n = out.shape[axis]
        if n >= side:
            k = (n - side) // 2
            out = out[k:k + side] if axis == 0 else out[:, k:k + side]
        else:
            pads[2 * axis] = (side - n) // 2
            pads[2 * axis + 1] = side - n - (side - n) // 2
    if any(pads):
        out = cv2.copyMakeBorder(np.ascontiguousarray(out), pads[0], pads[1], pads[2], pads[3],
                                 cv2.BORDER_REFLECT_101)
    out = np.ascontiguousarray(out)
    mirrored = side * side - (side - pads[0] - pads[1]) * (side - pads[2] - pads[3])
    return out, int(mirrored)


# ---------------------------------------------------------------------------
# measurements
# ---------------------------------------------------------------------------

def time_detect(pixels: np.ndarray, sp: float, repeats: int) -> dict[str, Any]:
    import calcidetect as cd

    rad = cd.Radiograph(pixels=pixels, pixel_spacing_mm=(sp, sp), spacing_source="PixelSpacing")
    res = cd.detect(rad)  # warm-up
    n_foci = len(res.foci)
    stages: dict[str, list[float]] = {}
    wall = []
    for _ in range(repeats):
        t = time.perf_counter()
        res = cd.detect(rad)
        wall.append(time.perf_counter() - t)
        for k, v in res.timings_s.items():
            stages.setdefault(k, []).append(float(v))
    return {"wall_s": wall, "stages_s": stages, "n_foci": n_foci,
            "median_s": statistics.median(wall), "min_s": min(wall),
            "stage_median_s": {k: statistics.median(v) for k, v in stages.items()},
            "stage_min_s": {k: min(v) for k, v in stages.items()}}


def tracemalloc_peak(pixels: np.ndarray, sp: float) -> int:
    import calcidetect as cd

    rad = cd.Radiograph(pixels=pixels, pixel_spacing_mm=(sp, sp), spacing_source="PixelSpacing")
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        res = cd.detect(rad)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    del res
    return int(peak)


def _status_bytes(key: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/self/status has no {key}")


def _rss_probe(path: str, sp: float) -> None:
    """Subprocess entry: print JSON with RSS before and the RSS high-water mark during one detect (bytes).

    The high-water mark is the process's ``VmHWM`` (Linux), reset just before
    the detect call by writing 5 to ``/proc/self/clear_refs``.  (``ru_maxrss``
    is not used: Linux carries the parent's high-water mark over fork+exec.)
    """
    cv2.setNumThreads(1)
    import calcidetect as cd

    rng = np.random.default_rng(0)
    cd.detect(rng.normal(100, 1, (256, 256)).astype(np.float32), pixel_spacing_mm=sp)  # imports, caches
    rss_empty = _status_bytes("VmRSS")
    pixels = np.load(path).astype(np.float32)
    rad = cd.Radiograph(pixels=pixels, pixel_spacing_mm=(sp, sp), spacing_source="PixelSpacing")
    rss_before = _status_bytes("VmRSS")
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        reset = True
    except OSError:
        reset = False
    res = cd.detect(rad)
    hwm = _status_bytes("VmHWM")
    print(json.dumps({"rss_empty": rss_empty, "rss_before": rss_before, "hwm_after": hwm, "hwm_reset": reset,
                      "n_foci": len(res.foci), "pixels": int(pixels.size)}))


def rss_peak(pixels_u16: np.ndarray, sp: float, tmp: Path) -> dict[str, Any]:
    path = tmp / "rss_input.npy"
    np.save(path, pixels_u16)
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--_rss-probe", str(path), repr(sp)],
                         capture_output=True, text=True, cwd=REPO, env=dict(os.environ))
    path.unlink(missing_ok=True)
    if out.returncode != 0:
        raise RuntimeError(f"rss probe failed:\n{out.stderr}")
    d = json.loads(out.stdout.strip().splitlines()[-1])
    n = d["pixels"]
    d["detect_bytes_per_px"] = (d["hwm_after"] - d["rss_before"]) / n
    d["with_input_bytes_per_px"] = (d["hwm_after"] - d["rss_empty"]) / n
    return d


def write_dicom(pixels: np.ndarray, sp: float, bits: int, path: Path) -> None:
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
    meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=["calcidetect-speed", str(pixels.shape)])
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = pydicom.uid.PYDICOM_IMPLEMENTATION_UID
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = generate_uid(entropy_srcs=["calcidetect-speed-study"])
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=["calcidetect-speed-series"])
    ds.Modality = "DX"
    ds.PatientName = "SPEED^BENCHMARK"
    ds.PatientID = "SPEED"
    ds.PixelSpacing = [f"{sp:.6g}", f"{sp:.6g}"]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated = 16
    ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 0
    ds.PixelData = np.ascontiguousarray(pixels, dtype=np.uint16).tobytes()
    ds.save_as(path, enforce_file_format=True)


def time_decode(path: Path, expected: np.ndarray, repeats: int) -> dict[str, Any]:
    import calcidetect as cd

    img = cd.load_image(path)  # warm-up (and exactness check)
    exact = bool(np.array_equal(img.pixels, expected.astype(np.float32)))
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        cd.load_image(path)
        ts.append(time.perf_counter() - t)
    return {"median_s": statistics.median(ts), "min_s": min(ts), "runs_s": ts, "exact": exact,
            "file_bytes": path.stat().st_size}


def skimage_baseline(pixels: np.ndarray, sp: float) -> dict[str, Any]:
    """The straightforward scikit-image pipeline, timed once (per step)."""
    from skimage.measure import label, regionprops
    from skimage.morphology import disk, white_tophat

    r = max(1, int(round(3.0 / sp)))
    t0 = time.perf_counter()
    th = white_tophat(pixels, disk(r))
    t1 = time.perf_counter()
    mask = th > th.mean() + 3 * th.std()
    lab = label(mask)
    t2 = time.perf_counter()
    props = [(p.area, p.centroid) for p in regionprops(lab)]
    t3 = time.perf_counter()
    return {"total_s": t3 - t0, "tophat_s": t1 - t0, "threshold_label_s": t2 - t1, "regionprops_s": t3 - t2,
            "disk_radius_px": r, "n_regions": len(props), "measured": True}


# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Speed and memory of calcidetect.detect at ~2, 5 and 16 megapixels.")
    ap.add_argument("--sizes", type=float, nargs="+", default=[2.0, 5.0, 16.0], help="megapixels (default 2 5 16)")
    ap.add_argument("--repeats", type=int, default=5, help="timed runs after the warm-up (default 5, min 5)")
    ap.add_argument("--seed", type=int, default=2024, help="seed of the hip phantom (default 2024)")
    ap.add_argument("--spacing-mm", type=float, default=0.1, help="pixel spacing of every test image (default 0.1)")
    ap.add_argument("--baseline-limit-s", type=float, default=120.0,
                    help="run the scikit-image baseline only where it is predicted to take less (default 120)")
    ap.add_argument("--baseline-always-mp", type=float, default=5.0,
                    help="always run the baseline up to this size, whatever the prediction (default 5)")
    ap.add_argument("--no-baseline", action="store_true", help="skip the scikit-image baseline")
    ap.add_argument("--no-memory", action="store_true", help="skip the tracemalloc and rss measurements")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results"), help="folder for speed.txt / speed.json")
    ap.add_argument("--_rss-probe", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    cv2.setNumThreads(1)
    if args._rss_probe:
        _rss_probe(args._rss_probe[0], float(args._rss_probe[1]))
        return 0
    if args.repeats < 5:
        ap.error("--repeats must be >= 5")

    import calcidetect as cd
    from calcidetect.atomic import atomic_write_text

    sizes = sorted(args.sizes)
    sides = [int(round(math.sqrt(mp * 1e6))) for mp in sizes]
    t_start = time.perf_counter()
    film, sp, bits, src_meta = source_film(args.seed, args.spacing_mm)
    rows: list[dict[str, Any]] = []
    prev_baseline: tuple[int, float] | None = None
    with tempfile.TemporaryDirectory(prefix="calcidetect-speed-") as tmpd:
        tmp = Path(tmpd)
        for mp, side in zip(sizes, sides):
            u16, mirrored = fit_square(film, side)
            px = u16.astype(np.float32)
            npx = px.size
            print(f"\n{npx / 1e6:.2f} MP ({side}x{side} @ {sp:.4f} mm, {mirrored / npx:.0%} mirrored margin):",
                  flush=True)
            row: dict[str, Any] = {"target_mp": mp, "shape": [side, side], "mpixel": npx / 1e6, "spacing_mm": sp,
                                   "mirrored_px": mirrored}

            row["detect"] = time_detect(px, sp, args.repeats)
            d = row["detect"]
            print(f"  detect median {d['median_s'] * 1e3:.0f} ms (min {d['min_s'] * 1e3:.0f}), "
                  + ", ".join(f"{k} {v * 1e3:.0f}" for k, v in d["stage_median_s"].items()) + " ms", flush=True)

            dcm = tmp / f"speed_{side}.dcm"
            write_dicom(u16, sp, bits, dcm)
            row["decode"] = time_decode(dcm, u16, args.repeats)
            dcm.unlink()
            print(f"  DICOM decode median {row['decode']['median_s'] * 1e3:.1f} ms "
                  f"(exact: {row['decode']['exact']})", flush=True)

            if not args.no_memory:
                row["tracemalloc_peak_bytes"] = tracemalloc_peak(px, sp)
                row["tracemalloc_bytes_per_px"] = row["tracemalloc_peak_bytes"] / npx
                row["rss"] = rss_peak(u16, sp, tmp)
                print(f"  memory: rss {row['rss']['detect_bytes_per_px']:.1f} B/px "
                      f"(+input {row['rss']['with_input_bytes_per_px']:.1f}), tracemalloc "
                      f"{row['tracemalloc_bytes_per_px']:.1f} B/px", flush=True)

            if not args.no_baseline:
                predicted = prev_baseline[1] * npx / prev_baseline[0] if prev_baseline else None
                if predicted is not None and predicted > args.baseline_limit_s and mp > args.baseline_always_mp:
                    row["baseline"] = {"total_s": predicted, "measured": False,
                                       "note": f"extrapolated linearly in pixels from {prev_baseline[0] / 1e6:.1f} MP "
                                               f"(predicted > {args.baseline_limit_s:.0f} s)"}
                    print(f"  skimage baseline: not run, extrapolated {predicted:.0f} s", flush=True)
                else:
                    row["baseline"] = skimage_baseline(px, sp)
                    prev_baseline = (npx, row["baseline"]["total_s"])
                    print(f"  skimage baseline {row['baseline']['total_s']:.1f} s (tophat "
                          f"{row['baseline']['tophat_s']:.1f} s, disk r={row['baseline']['disk_radius_px']} px, "
                          f"{row['baseline']['n_regions']} regions)", flush=True)
            rows.append(row)
    wall_s = time.perf_counter() - t_start

    # ---- report --------------------------------------------------------------
    lines = [
        "calcidetect detect speed (benchmarks/speed.py)",
        f"date: {_dt.datetime.now().isoformat(timespec='seconds')}  calcidetect {cd.__version__}  "
        f"commit: {git_commit()}",
        f"machine: {platform.machine()}, {os.cpu_count()} logical CPUs, Python {platform.python_version()}, "
        f"OpenCV {cv2.__version__} (setNumThreads(1)), numpy {np.__version__}",
        f"input: one hip phantom (seed {args.seed}, {src_meta['shape'][1]}x{src_meta['shape'][0]} px @ {sp:.4f} mm, "
        f"{bits}-bit, {src_meta['n_foci']} foci, distractors: {', '.join(src_meta['distractors']) or '-'}), "
        f"centre-cropped or mirror-padded to each square size; spacing identical at every size; "
        f"Config() defaults (working spacing {cd.Config().working_spacing_mm} mm)",
        f"detect: warm-up + {args.repeats} runs, median (min) in ms, one process; wall time of this script "
        f"{wall_s:.0f} s",
        "",
    ]
    hdr = f"{'MP':>6} {'side':>5} {'mirr':>5} " + "".join(f"{s[:9]:>10}" for s in STAGES) + \
        f"{'total':>9} {'(min)':>7} {'ms/MP':>7} {'decode':>8} {'dec/MP':>7} {'skimage':>10} {'speed-up':>9}"
    lines.append("per-stage and end-to-end time (ms)")
    lines.append(hdr)
    for r in rows:
        d = r["detect"]
        st = d["stage_median_s"]
        b = r.get("baseline")
        bs = "-" if not b else (f"{b['total_s']:.1f} s" + ("" if b["measured"] else "*"))
        su = "-" if not b else f"{b['total_s'] / d['median_s']:.1f}x" + ("" if b["measured"] else "*")
        lines.append(
            f"{r['mpixel']:>6.2f} {r['shape'][0]:>5} {r['mirrored_px'] / (r['mpixel'] * 1e6):>5.0%} "
            + "".join(f"{st.get(s, float('nan')) * 1e3:>10.0f}" for s in STAGES)
            + f"{d['median_s'] * 1e3:>9.0f} {d['min_s'] * 1e3:>7.0f} {d['median_s'] * 1e3 / r['mpixel']:>7.1f}"
            f" {r['decode']['median_s'] * 1e3:>8.1f} {r['decode']['median_s'] * 1e3 / r['mpixel']:>7.1f}"
            f" {bs:>10} {su:>9}")
    lines.append("  mirr = share of the image that is mirrored film border (padding to the size); "
                 "total = wall time of the detect call (timings_s['total'] + input checks); decode = "
                 "calcidetect.load_image of an uncompressed DICOM; skimage = white_tophat(disk 3 mm) + "
                 "threshold + label + regionprops, run once; speed-up = skimage / detect median"
                 + ("; * = extrapolated, not run" if any(r.get("baseline") and not r["baseline"]["measured"]
                                                        for r in rows) else ""))
    if not args.no_memory:
        lines.append("")
        lines.append("peak memory (bytes per input pixel)")
        lines.append(f"{'MP':>6}  {'rss: detect':>12}  {'rss: +input':>12}  {'tracemalloc':>12}  {'peak rss MB':>12}")
        for r in rows:
            rs = r["rss"]
            lines.append(f"{r['mpixel']:>6.2f}  {rs['detect_bytes_per_px']:>12.1f}  {rs['with_input_bytes_per_px']:>12.1f}"
                         f"  {r['tracemalloc_bytes_per_px']:>12.1f}  {rs['hwm_after'] / 2**20:>12.0f}")
        lines.append("  rss: detect = (peak RSS (VmHWM, reset before the call) during one detect - RSS with the float32 "
                     "input loaded) / pixels, in a fresh subprocess after a small warm-up; +input also counts the "
                     "float32 input (4 B/px); "
                     "tracemalloc = traced (numpy/Python) peak during one detect, excludes OpenCV-internal buffers")

    # ratios and targets
    by_mp = {round(r["target_mp"]): r for r in rows}
    lines.append("")
    lines.append("ratios and issue-6 targets")
    targets = []

    def target(label: str, value: float | None, op: str, limit: float, extra: str = "") -> None:
        ok = value is not None and (value <= limit if op == "<=" else value >= limit)
        targets.append({"target": label, "value": value, "op": op, "limit": limit, "pass": bool(ok), "note": extra})
        v = "-" if value is None else f"{value:.2f}"
        lines.append(f"  {label:<44} {v:>9}  {op} {limit:<6g} {'PASS' if ok else 'FAIL'}  {extra}")

    for r in rows:
        target(f"ms per MP at {r['mpixel']:.1f} MP (end to end)", r["detect"]["median_s"] * 1e3 / r["mpixel"], "<=",
               TARGET_MS_PER_MP)
    for r in rows:
        b = r.get("baseline")
        if b:
            target(f"speed-up vs scikit-image at {r['mpixel']:.1f} MP", b["total_s"] / r["detect"]["median_s"], ">=",
                   TARGET_SPEEDUP, "" if b["measured"] else "(baseline extrapolated)")
    if 16 in by_mp and 5 in by_mp:
        t16, t5 = by_mp[16]["detect"]["median_s"], by_mp[5]["detect"]["median_s"]
        target("t(16 MP) / t(5 MP)", t16 / t5, "<=", TARGET_RATIO_16_5,
               f"(pixel ratio {by_mp[16]['mpixel'] / by_mp[5]['mpixel']:.2f})")
    if not args.no_memory:
        for r in rows:
            target(f"peak memory at {r['mpixel']:.1f} MP (rss: detect, B/px)", r["rss"]["detect_bytes_per_px"], "<=",
                   TARGET_BYTES_PER_PX, f"(+input {r['rss']['with_input_bytes_per_px']:.1f})")
    for r in rows:
        lines.append(f"  detect / DICOM decode at {r['mpixel']:.1f} MP: "
                     f"{r['detect']['median_s'] / r['decode']['median_s']:.1f}x")
    lines.append("")
    lines.append("Numbers depend on the machine and on other load; min vs median shows how disturbed the run was.")
    text = "\n".join(lines) + "\n"
    print("\n" + text)

    out = Path(args.out)
    doc = {"meta": {"date": _dt.datetime.now().isoformat(timespec="seconds"), "calcidetect_version": cd.__version__,
                    "git_commit": git_commit(), "python": platform.python_version(), "cpus": os.cpu_count(),
                    "opencv": cv2.__version__, "numpy": np.__version__, "repeats": args.repeats, "seed": args.seed,
                    "source_film": src_meta, "wall_s": round(wall_s, 1), "config": cd.Config().to_dict()},
           "sizes": rows, "targets": targets}
    atomic_write_text(out / "speed.json", json.dumps(doc, indent=1, default=float) + "\n")
    atomic_write_text(out / "speed.txt", text)
    print(f"wrote {out / 'speed.txt'} and {out / 'speed.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
