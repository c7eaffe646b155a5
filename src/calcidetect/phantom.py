"""Synthetic radiographs with exact ground truth (the project's yardstick).

:func:`generate` builds one phantom; :func:`write_dataset` writes a folder of
DICOM (MONOCHROME1 and MONOCHROME2) and 16-bit PNG images, each with a
``<stem>.truth.json`` beside it (format: :mod:`calcidetect.truth`).

Physics, vectorised over whole arrays
-------------------------------------
1. Anatomy (:mod:`.phantom_anatomy`): soft-tissue path lengths (total and
   muscle; the difference is subcutaneous fat) and the excess line integral
   of bone (hollow tubes, ellipsoids, plates with trabecular texture).
2. Distractors (:mod:`.phantom_distractors`): metal, lead marker, skin fold,
   collimation field; text is burned into the final values.
3. Calcifications (:mod:`.phantom_lesions`): five patterns, each with a
   drawn contrast-to-noise ratio (10-15 % faint, 3-5 sigma).
4. Image formation: primary ``I0 * heel * exp(-mu_eff * L)``, scatter as a
   heavily blurred fraction of the energy removed by the body (scaled to a
   scatter-to-primary ratio), signal-dependent quantum noise added to the
   quanta, then detector blur (Gaussian, 0.1-0.2 mm), a little electronic
   noise, and a log transform to detector values (higher = more attenuating),
   clipped to 10-14 bits.  Collimated borders are set to near the maximum
   value with a penumbra.

Everything is drawn from ``np.random.default_rng(seed)``: the same arguments
give byte-identical pixels, truth and files.

Examples
--------
>>> ph = generate(3, "hand", size_scale=0.25)
>>> ph.pixels.dtype, ph.truth["body_part"]
(dtype('uint16'), 'hand')
"""

from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import cv2
import numpy as np

from .atomic import atomic_write_bytes
from .phantom_anatomy import BODY_PARTS, FIELD_MM, Canvas, build_anatomy, smooth_noise
from .phantom_distractors import add_marker, add_metal, add_skinfold, burn_text, collimation_field
from .phantom_lesions import PATTERN_WEIGHTS, LesionContext, place_foci
from .result import PATTERNS
from .truth import TRUTH_FORMAT, rle_encode, truth_path_for, write_truth

__all__ = ["Phantom", "generate", "write_dataset", "write_image", "BODY_PARTS", "FORMATS"]

#: Output formats understood by :func:`write_dataset`.
FORMATS: tuple[str, ...] = ("dcm-mono1", "dcm-mono2", "png")

#: Soft-tissue attenuation at a hand-film effective energy (1/mm).
MU_MUSCLE = 0.026
MU_FAT = 0.020
#: Per body part: energy scaling of all mu (harder beams for thick parts),
#: per-pixel log-noise sigma range, scatter-to-primary ratio range.
_PART = {
    "hand": dict(energy=1.0, noise=(0.006, 0.014), spr=(0.08, 0.25), angle=10.0),
    "forearm": dict(energy=0.9, noise=(0.007, 0.016), spr=(0.12, 0.35), angle=8.0),
    "shoulder": dict(energy=0.75, noise=(0.010, 0.024), spr=(0.3, 0.7), angle=6.0),
    "hip": dict(energy=0.7, noise=(0.012, 0.03), spr=(0.35, 0.9), angle=6.0),
}


@dataclass
class Phantom:
    """One synthetic radiograph and its truth.

    Attributes
    ----------
    pixels : ndarray of uint16
        Detector values, higher = more attenuating (MONOCHROME2 sense).
    truth : dict
        ``calcidetect-truth/1`` mapping; ``image`` and ``photometric`` are
        filled in when the image is written.
    pixel_spacing_mm : float
    bits_stored : int
    labels : ndarray of int32
        Focus label image (value = focus id).
    bone_mask, body_mask : ndarray of bool
    """

    pixels: np.ndarray
    truth: dict[str, Any]
    pixel_spacing_mm: float
    bits_stored: int
    labels: np.ndarray
    bone_mask: np.ndarray
    body_mask: np.ndarray

    @property
    def body_part(self) -> str:
        return str(self.truth["body_part"])

    @property
    def seed(self) -> int:
        return int(self.truth["seed"])


def _geometry(rng, part: str, size_scale: float) -> tuple[tuple[int, int], float]:
    fov = np.array(FIELD_MM[part]) * rng.uniform(0.92, 1.08, 2)
    sp = rng.uniform(0.1, 0.2)
    px = fov / sp
    if px.max() > 3000:
        sp = fov.max() / 3000
    if (fov / sp).min() < 1500:
        sp = fov.min() / 1500
    shape = np.maximum(np.round(fov / sp * size_scale), 32).astype(int)
    return (int(shape[0]), int(shape[1])), float(sp / size_scale)


def _dist_mm(mask: np.ndarray, spacing: float, border_inside: bool) -> np.ndarray:
    """Distance (mm) of every True pixel to the nearest False one."""
    pad = 1
    m = cv2.copyMakeBorder(mask.astype(np.uint8), pad, pad, pad, pad,
                           cv2.BORDER_REPLICATE if border_inside else cv2.BORDER_CONSTANT, value=0)
    d = cv2.distanceTransform(m, cv2.DIST_L2, 5)[pad:-pad, pad:-pad]
    return d * np.float32(spacing)


def _blur(a: np.ndarray, sigma_px: float) -> np.ndarray:
    if sigma_px <= 0.05:
        return a
    return cv2.GaussianBlur(a, (0, 0), sigma_px, borderType=cv2.BORDER_REPLICATE)


def _big_blur(a: np.ndarray, sigma_px: float) -> np.ndarray:
    """Gaussian blur with a large sigma, done on a downsampled copy."""
    f = max(1, int(sigma_px / 8))
    h, w = a.shape
    small = cv2.resize(a, (max(w // f, 2), max(h // f, 2)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma_px / f, borderType=cv2.BORDER_REPLICATE)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def _themes(rng, part: str, first: str | None) -> list[str]:
    w = PATTERN_WEIGHTS[part]
    names = list(w)
    p = np.array([w[k] for k in names])
    n = int(rng.integers(1, 6))
    themes = [str(x) for x in rng.choice(names, size=n, p=p / p.sum())]
    if first is not None:
        themes[0] = first
    return themes


def generate(
    seed: int,
    body_part: str | None = None,
    *,
    normal: bool | None = None,
    first_pattern: str | None = None,
    size_scale: float = 1.0,
) -> Phantom:
    """Generate one synthetic radiograph with ground truth.

    Parameters
    ----------
    seed : int
        Seed of ``np.random.default_rng``; everything follows from it and the
        other arguments.
    body_part : {"hand", "hip", "shoulder", "forearm"}, optional
        Drawn from the seed when None.
    normal : bool, optional
        True for an image without calcification; drawn (15 %) when None.
    first_pattern : str, optional
        Force the pattern of the first group of foci (abnormal images).
    size_scale : float
        Scales the pixel count per side (1.0: 1500-3000 px at 0.1-0.2 mm);
        the anatomy keeps its physical size, so spacing grows as 1/size_scale.

    Returns
    -------
    Phantom
    """
    rng = np.random.default_rng(seed)
    part = body_part or BODY_PARTS[int(rng.integers(len(BODY_PARTS)))]
    if part not in BODY_PARTS:
        raise ValueError(f"body_part must be one of {BODY_PARTS}, got {part!r}")
    if first_pattern is not None and first_pattern not in PATTERNS:
        raise ValueError(f"first_pattern must be one of {PATTERNS}, got {first_pattern!r}")
    normal = bool(rng.random() < 0.15) if normal is None else bool(normal)
    cfg = _PART[part]
    shape, sp = _geometry(rng, part, size_scale)
    h, w = shape
    centre = np.array([h / 2, w / 2]) + rng.normal(0, 0.03, 2) * np.array(shape)
    cv = Canvas(shape, sp, centre, math.radians(rng.normal(0, cfg["angle"])), bool(rng.random() < 0.5),
                rng.uniform(0.9, 1.1), rng)
    build_anatomy(cv, part)
    T, M = cv.soft_paths()
    distractors: list[dict] = []

    # soft-tissue heterogeneity and skin folds
    body_phys = T > 0.5
    dist_skin = _dist_mm(body_phys, sp, border_inside=True)
    if rng.random() < 0.25:
        distractors += add_skinfold(rng, T, dist_skin, sp)
    n_mid = smooth_noise(rng, shape, 3.0 / sp)
    tex_fine = smooth_noise(rng, shape, max(0.35 / sp, 0.6))
    field, coll = collimation_field(rng, shape, sp)
    distractors += coll
    exposed = field > 0.5

    # dense look-alikes
    dense = np.zeros(shape, np.float32)
    if rng.random() < 0.3:
        distractors += add_metal(rng, dense, cv.axes, sp, part)
    if rng.random() < 0.7:
        distractors += add_marker(rng, dense, body_phys & exposed, sp)
    for c in cv.sesamoids:
        r = 3.2 / sp
        distractors.append({"kind": "sesamoid", "bbox": [int(max(c[0] - r, 0)), int(max(c[1] - r, 0)),
                                                         int(min(c[0] + r, h)), int(min(c[1] + r, w))]})

    # attenuation and exposure
    e = cfg["energy"]
    L_soft = e * (MU_FAT * (T - M) + MU_MUSCLE * M + (MU_MUSCLE - MU_FAT) * np.minimum(M, 8.0) * 0.25 * n_mid)
    L0 = L_soft + e * (cv.bone + dense)
    axis = rng.uniform(0, 2 * math.pi)
    rr = (np.arange(h, dtype=np.float32)[:, None] / h - 0.5)
    cc = (np.arange(w, dtype=np.float32)[None, :] / w - 0.5)
    heel = 1.0 + rng.uniform(0.08, 0.2) * 2 * (rr * math.sin(axis) + cc * math.cos(axis))
    vign = 1.0 - rng.uniform(0.02, 0.08) * 4 * (rr * rr + cc * cc)
    I0 = (heel * vign).astype(np.float32) * (1.0 + 0.004 * smooth_noise(rng, shape, 20.0 / sp))
    leak = rng.uniform(0.003, 0.02)
    Pexp = I0 * (leak + (1 - leak) * field)
    P0 = Pexp * np.exp(-L0)
    body_t = body_phys & exposed
    sub = (slice(None, None, 4), slice(None, None, 4))
    bsub = body_t[sub] if body_t[sub].any() else np.ones_like(body_t[sub])
    src = _big_blur(Pexp * (1.0 - np.exp(-L_soft)), rng.uniform(25, 60) / sp)
    spr = rng.uniform(*cfg["spr"])
    S = src * np.float32(spr * np.median(P0[sub][bsub]) / max(float(np.median(src[sub][bsub])), 1e-9))
    blur_px = rng.uniform(0.1, 0.2) / sp
    k1 = cv2.getGaussianKernel(2 * int(4 * blur_px + 1) + 1, blur_px) if blur_px > 0.05 else np.ones((1, 1))
    rf = float((k1 ** 2).sum() ** 2)
    sigma_t = rng.uniform(*cfg["noise"])
    Ib = P0 + S
    N0 = rf / sigma_t ** 2 / float(np.median(Ib[sub][bsub]))
    elec = math.sqrt(0.03 * rf * N0 * float(np.median(Ib[sub][bsub])))
    bits = int(rng.choice([12, 14]))
    maxv = 2 ** bits - 1
    i0max = float(I0.max())
    lnb = -np.log(np.maximum(Ib[sub][bsub], 1e-12) / i0max)
    off = 0.04 * maxv + 0.3 * maxv / 8
    g = (0.97 * maxv - off) / (float(np.percentile(lnb, 99.5)) + rng.uniform(1.8, 3.0))
    gain = (g * P0 / Ib).astype(np.float32)
    sigma_dn = (g * np.sqrt(Ib * N0 * rf + elec ** 2) / (Ib * N0)).astype(np.float32)

    # calcifications
    margin = max(1, int(3.0 / sp))
    safe = np.zeros(shape, bool)
    safe[margin:-margin, margin:-margin] = True
    safe &= cv2.erode((field > 0.99).astype(np.uint8), np.ones((2 * margin + 1,) * 2, np.uint8)).astype(bool)
    forbidden = cv2.dilate((dense > 0).astype(np.uint8), np.ones((2 * margin + 1,) * 2, np.uint8)).astype(bool)
    bone_p99 = float(np.percentile(cv.bone[cv.bone_mask], 99)) if cv.bone_mask.any() else 0.5
    ctx = LesionContext(
        rng=rng, spacing=sp, body_part=part, body=body_phys & safe, bone=cv.bone_mask,
        dist_bone_mm=_dist_mm(~cv.bone_mask, sp, border_inside=True), dist_skin_mm=dist_skin,
        forbidden=forbidden, joints=np.array(cv.joints, float).reshape(-1, 2), axes=cv.axes,
        sigma_dn=sigma_dn, gain_dn=gain, blur_px=blur_px, max_amp=0.7 * e * bone_p99,
        tex_fine=tex_fine, tex_mid=n_mid,
    )
    if not normal:
        place_foci(ctx, _themes(rng, part, first_pattern), max_foci=int(rng.integers(1, 13)))

    # image formation
    P = P0 * np.exp(-ctx.calc) if ctx.foci else P0
    Q = (P + S) * np.float32(N0)
    z = rng.standard_normal(shape, dtype=np.float32)
    Qn = _blur(Q + np.sqrt(Q) * z, blur_px) + np.float32(elec) * rng.standard_normal(shape, dtype=np.float32)
    lnref = math.log(N0 * i0max)
    D = off + g * (lnref - np.log(np.maximum(Qn, 1.0)))
    col_val = maxv * (1.0 - rng.uniform(0.0, 0.02))
    if (field < 1).any():
        D = field * D + (1 - field) * (col_val + 0.3 * float(np.median(sigma_dn[sub][bsub])) * z)
    pixels = np.clip(np.round(D), 0, maxv).astype(np.uint16)
    if rng.random() < 0.6:
        distractors += burn_text(rng, pixels, int(maxv * rng.uniform(0.85, 1.0)), sp, seed)

    foci = _focus_records(ctx, P0, S, N0, g, blur_px, sigma_dn, sp)
    truth: dict[str, Any] = {
        "format": TRUTH_FORMAT,
        "image": "",
        "shape": [h, w],
        "pixel_spacing_mm": [round(sp, 6), round(sp, 6)],
        "body_part": part,
        "seed": int(seed),
        "photometric": "",
        "foci": foci,
        "bone_mask_rle": rle_encode(cv.bone_mask & exposed),
        "body_mask_rle": rle_encode(body_t),
        "joints_rc": [[round(float(j[0]), 1), round(float(j[1]), 1)] for j in cv.joints
                      if 0 <= j[0] < h and 0 <= j[1] < w],
        "distractors": distractors,
        "generator": {"normal": normal, "first_pattern": first_pattern, "size_scale": size_scale,
                      "bits_stored": bits, "noise_sigma_ln": round(sigma_t, 5), "scatter_to_primary": round(spr, 3),
                      "blur_sigma_mm": round(blur_px * sp, 4)},
    }
    return Phantom(pixels, truth, sp, bits, ctx.labels, cv.bone_mask & exposed, body_t)


def _focus_records(ctx, P0, S, N0, g, blur_px, sigma_dn, sp) -> list[dict]:
    if not ctx.foci:
        return []
    from scipy import ndimage

    labels = ctx.labels
    n = len(ctx.foci)
    objs = ndimage.find_objects(labels, max_label=n)
    r0 = min(o[0].start for o in objs if o)
    r1 = max(o[0].stop for o in objs if o)
    c0 = min(o[1].start for o in objs if o)
    c1 = max(o[1].stop for o in objs if o)
    pad = int(4 * blur_px) + 2
    sl = (slice(max(r0 - pad, 0), r1 + pad), slice(max(c0 - pad, 0), c1 + pad))
    base = _blur(P0[sl] + S[sl], blur_px)
    withc = _blur(P0[sl] * np.exp(-ctx.calc[sl]) + S[sl], blur_px)
    dD = g * (np.log(base) - np.log(withc))
    lab = labels[sl].ravel()
    cnt = np.bincount(lab, minlength=n + 1)
    mean_dd = np.bincount(lab, dD.ravel(), minlength=n + 1) / np.maximum(cnt, 1)
    mean_sig = np.bincount(lab, sigma_dn[sl].ravel(), minlength=n + 1) / np.maximum(cnt, 1)
    rr, cc = np.indices(labels[sl].shape)
    cr = np.bincount(lab, rr.ravel(), minlength=n + 1) / np.maximum(cnt, 1) + sl[0].start
    ccn = np.bincount(lab, cc.ravel(), minlength=n + 1) / np.maximum(cnt, 1) + sl[1].start
    W = labels.shape[1]
    out = []
    for f in ctx.foci:
        i = f["id"]
        o = objs[i - 1]
        sub = labels[o] == i
        loc = np.flatnonzero(sub.ravel())
        gi = (loc // sub.shape[1] + o[0].start) * W + loc % sub.shape[1] + o[1].start
        brk = np.flatnonzero(np.diff(gi) != 1)
        starts = np.concatenate([[gi[0]], gi[brk + 1]])
        ends = np.concatenate([gi[brk], [gi[-1]]]) + 1
        out.append({
            "id": i,
            "pattern": f["pattern"],
            "centroid_rc": [round(float(cr[i]), 2), round(float(ccn[i]), 2)],
            "bbox": [int(o[0].start), int(o[1].start), int(o[0].stop), int(o[1].stop)],
            "area_mm2": round(float(cnt[i]) * sp * sp, 4),
            "contrast_sigma": round(float(mean_dd[i] / max(mean_sig[i], 1e-9)), 2),
            "target_sigma": round(float(f["target_cnr"]), 2),
            "mask_rle": np.stack([starts, ends - starts], 1).tolist(),
        })
    return out


# ---------------------------------------------------------------------------
# writers
# ---------------------------------------------------------------------------

_DICOM_PART = {"hand": "HAND", "hip": "HIP", "shoulder": "SHOULDER", "forearm": "ARM"}


def _dicom_bytes(ph: Phantom, name: str, mono1: bool, rng: np.random.Generator) -> bytes:
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    seed = ph.seed
    maxv = 2 ** ph.bits_stored - 1
    dx = rng.random() < 0.5
    sop_class = "1.2.840.10008.5.1.4.1.1.1.1" if dx else "1.2.840.10008.5.1.4.1.1.1"
    uid = lambda k: generate_uid(entropy_srcs=["calcidetect-phantom", str(seed), name, k])  # noqa: E731
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = uid("sop")
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = pydicom.uid.PYDICOM_IMPLEMENTATION_UID
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = uid("study")
    ds.SeriesInstanceUID = uid("series")
    ds.Modality = "DX" if dx else "CR"
    ds.PatientName = f"PHANTOM^{seed}"
    ds.PatientID = f"PHANTOM-{seed}"
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = "20240101"
    ds.StudyTime = ds.ContentTime = "120000"
    ds.Manufacturer = "calcidetect phantom"
    ds.BodyPartExamined = _DICOM_PART[ph.body_part]
    ds.ViewPosition = "AP" if ph.body_part in ("hip", "shoulder") else "PA"
    ds.ImageType = ["DERIVED", "PRIMARY"]
    if dx:
        ds.PresentationIntentType = "FOR PRESENTATION"
    sp = f"{ph.pixel_spacing_mm:.6g}"
    if rng.random() < 0.5:
        ds.PixelSpacing = [sp, sp]
    else:
        ds.ImagerPixelSpacing = [sp, sp]
    slope, intercept = [(1.0, 0.0), (1.0, 0.0), (0.5, 0.0), (1.0, -1000.0), (2.0, 100.0)][int(rng.integers(5))]
    ds.RescaleSlope = f"{slope:g}"
    ds.RescaleIntercept = f"{intercept:g}"
    ds.RescaleType = "US"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME1" if mono1 else "MONOCHROME2"
    ds.Rows, ds.Columns = ph.pixels.shape
    ds.BitsAllocated = 16
    ds.BitsStored = ph.bits_stored
    ds.HighBit = ph.bits_stored - 1
    ds.PixelRepresentation = 0
    stored = (maxv - ph.pixels).astype(np.uint16) if mono1 else ph.pixels
    body = ph.pixels[ph.body_mask] if ph.body_mask.any() else ph.pixels.ravel()
    lo, hi = np.percentile(body, [0.5, 99.5])
    if mono1:
        lo, hi = maxv - hi, maxv - lo
    ds.WindowCenter = f"{(lo + hi) / 2 * slope + intercept:.1f}"
    ds.WindowWidth = f"{max(hi - lo, 1) * slope:.1f}"
    ds.PixelData = stored.tobytes()
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def write_image(ph: Phantom, path: str | os.PathLike[str], fmt: str) -> tuple[Path, Path]:
    """Write a phantom as ``fmt`` (one of :data:`FORMATS`) plus its truth JSON.

    Returns (image path, truth path).  The truth's ``image`` and
    ``photometric`` keys are set here.
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    target = Path(path)
    rng = np.random.default_rng([ph.seed, FORMATS.index(fmt)])
    if fmt == "png":
        ok, enc = cv2.imencode(".png", ph.pixels)
        if not ok:  # pragma: no cover
            raise RuntimeError(f"PNG encoding failed for {target}")
        data, photometric = enc.tobytes(), "PNG"
    else:
        mono1 = fmt == "dcm-mono1"
        data = _dicom_bytes(ph, target.name, mono1, rng)
        photometric = "MONOCHROME1" if mono1 else "MONOCHROME2"
    atomic_write_bytes(target, data)
    truth = dict(ph.truth)
    truth["image"] = target.name
    truth["photometric"] = photometric
    tpath = write_truth(truth_path_for(target), truth)
    return target, tpath


def write_dataset(
    out_dir: str | os.PathLike[str],
    n: int,
    seed: int,
    *,
    formats: Sequence[str] = FORMATS,
    size_scale: float = 1.0,
    normal_fraction: float = 0.15,
) -> list[Path]:
    """Write ``n`` phantoms (+ truth JSON) into ``out_dir``; returns the image paths.

    Body parts cycle hand, hip, shoulder, forearm; formats cycle through
    ``formats``; about ``normal_fraction`` of the images are normal (at least
    one when ``n >= 4``); abnormal images cycle the pattern of their first
    group of foci through all five patterns, so any batch of 6 or more images
    holds every pattern.  Image ``i`` is ``phantom_<i:04d>_<part>.<ext>``.
    """
    if n < 0:
        raise ValueError("n must be >= 0")
    for f in formats:
        if f not in FORMATS:
            raise ValueError(f"unknown format {f!r}; choose from {FORMATS}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, 0x5EED])
    n_normal = max(1, int(round(normal_fraction * n))) if n >= 4 and normal_fraction > 0 else 0
    normals = set(rng.choice(n, size=n_normal, replace=False).tolist()) if n_normal else set()
    seeds = np.random.SeedSequence(seed).generate_state(max(n, 1), dtype=np.uint32)
    paths = []
    k = 0
    for i in range(n):
        part = BODY_PARTS[i % len(BODY_PARTS)]
        fmt = formats[i % len(formats)]
        normal = i in normals
        first = None if normal else PATTERNS[k % len(PATTERNS)]
        k += 0 if normal else 1
        ph = generate(int(seeds[i]), part, normal=normal, first_pattern=first, size_scale=size_scale)
        ext = ".png" if fmt == "png" else ".dcm"
        img, _ = write_image(ph, out / f"phantom_{i:04d}_{part}{ext}", fmt)
        paths.append(img)
    return paths
