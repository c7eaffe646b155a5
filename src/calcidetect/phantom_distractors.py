"""Look-alikes of the phantom generator: metal, lead markers, burned-in text,
collimation, skin folds.  Sesamoids are bone and live in the anatomy.

Metal and lead are excess line integrals far above bone (steel ~1.5/mm, lead
letters saturate); burned-in text is painted on the final detector values;
collimation is an exposure field whose outside is set to (near) the maximum
detector value, with a penumbra.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from .phantom_anatomy import BoneAxis

__all__ = ["add_metal", "add_marker", "collimation_field", "add_skinfold", "burn_text"]

#: Linear attenuation of steel / titanium-like implants (1/mm).
MU_METAL = 1.4


def _bbox(mask: np.ndarray, sl) -> list[int]:
    rows = np.flatnonzero(mask.any(1))
    cols = np.flatnonzero(mask.any(0))
    if rows.size == 0:
        return [0, 0, 0, 0]
    return [int(sl[0].start + rows[0]), int(sl[1].start + cols[0]), int(sl[0].start + rows[-1] + 1),
            int(sl[1].start + cols[-1] + 1)]


def _frame(shape, centre, theta, half_px):
    h, w = shape
    r0, r1 = max(int(centre[0] - half_px), 0), min(int(centre[0] + half_px) + 1, h)
    c0, c1 = max(int(centre[1] - half_px), 0), min(int(centre[1] + half_px) + 1, w)
    if r1 <= r0 or c1 <= c0:
        return None
    rr = np.arange(r0, r1, dtype=np.float32)[:, None] - centre[0]
    cc = np.arange(c0, c1, dtype=np.float32)[None, :] - centre[1]
    u = cc * math.cos(theta) + rr * math.sin(theta)
    v = -cc * math.sin(theta) + rr * math.cos(theta)
    return (slice(r0, r1), slice(c0, c1)), u, v


def add_metal(rng, dense: np.ndarray, axes: list[BoneAxis], spacing: float, body_part: str) -> list[dict]:
    """Add one implant or piece of jewellery on a bone; returns distractor records."""
    if not axes:
        return []
    ax = axes[rng.integers(len(axes))]
    v = ax.p1 - ax.p0
    blen = float(np.hypot(*v))
    u = v / blen
    theta = math.atan2(u[0], u[1])
    small = body_part == "hand"
    kinds = ["screw", "plate", "wire"] + (["ring"] if small and ax.name.startswith("ph") else [])
    kind = kinds[rng.integers(len(kinds))]
    centre = ax.p0 + v * rng.uniform(0.3, 0.7)
    mm = 1.0 / spacing
    if kind == "screw":
        L = rng.uniform(8, 15) if small else rng.uniform(20, 45)
        r = rng.uniform(0.8, 1.2) if small else rng.uniform(1.8, 2.5)
        th = theta + math.radians(rng.uniform(40, 90) * rng.choice([-1, 1]))
        got = _frame(dense.shape, centre, th, (L / 2 + 3 * r) * mm)
        if got is None:
            return []
        sl, uu, vv = got
        uu, vv = uu / mm, vv / mm
        pitch = rng.uniform(0.8, 1.5) if not small else 0.5
        thread = 1.0 - 0.18 * np.abs(((uu / pitch) % 1.0) - 0.5) * 2
        rad = np.where(uu < -L / 2 + 0.2 * L / 2, 1.6 * r, r * thread)
        rad = np.where(np.abs(uu) <= L / 2, rad, 0)
        chord = 2 * np.sqrt(np.maximum(rad * rad - vv * vv, 0))
    elif kind == "plate":
        L = rng.uniform(20, 40) if small else rng.uniform(50, 120)
        W = rng.uniform(4, 6) if small else rng.uniform(9, 13)
        t = rng.uniform(1.0, 1.5) if small else rng.uniform(2.5, 4.0)
        got = _frame(dense.shape, centre, theta, (L / 2 + W) * mm)
        if got is None:
            return []
        sl, uu, vv = got
        uu, vv = uu / mm, vv / mm
        inside = (np.abs(uu) < L / 2) & (np.abs(vv) < W / 2)
        chord = np.where(inside, t, 0.0).astype(np.float32)
        pitch = rng.uniform(7, 12) if not small else rng.uniform(4, 6)
        hu = (np.round(uu / pitch) * pitch)
        hole = (np.hypot(uu - hu, vv) < W * 0.22) & (np.abs(hu) < L / 2 - W * 0.3)
        chord = np.where(hole, W * 2.5, chord)
    elif kind == "wire":
        L = rng.uniform(30, 80) if not small else rng.uniform(20, 40)
        r = rng.uniform(0.6, 1.0)
        th = theta + math.radians(rng.normal(0, 20))
        got = _frame(dense.shape, centre, th, (L / 2 + 2) * mm)
        if got is None:
            return []
        sl, uu, vv = got
        uu, vv = uu / mm, vv / mm
        rad = np.where(np.abs(uu) < L / 2, r, 0)
        chord = 2 * np.sqrt(np.maximum(rad * rad - vv * vv, 0))
    else:  # ring around a finger, seen as a band with bright edges
        R = ax.radius_mm * 2.3
        bw, t = rng.uniform(2, 6), rng.uniform(1.2, 2.0)
        got = _frame(dense.shape, centre, theta, (R + bw) * mm)
        if got is None:
            return []
        sl, uu, vv = got
        uu, vv = uu / mm, vv / mm
        shell = np.sqrt(np.maximum(R * R - vv * vv, 0)) - np.sqrt(np.maximum((R - t) ** 2 - vv * vv, 0))
        chord = np.where(np.abs(uu) < bw / 2, 2 * shell, 0)
    chord = chord.astype(np.float32)
    dense[sl] += MU_METAL * chord
    return [{"kind": "metal", "bbox": _bbox(chord > 0, sl), "what": kind}]


def add_marker(rng, dense: np.ndarray, body: np.ndarray, spacing: float) -> list[dict]:
    """A lead L/R letter in a plastic square, over air near a corner if possible."""
    h, w = dense.shape
    side = rng.uniform(10, 16) / spacing
    margin = 0.12
    corners = [(h * margin, w * margin), (h * margin, w * (1 - margin)), (h * (1 - margin), w * margin),
               (h * (1 - margin), w * (1 - margin))]
    order = rng.permutation(4)
    k = int(side) + 1
    for i in order:
        r, c = corners[i]
        r0, c0 = int(r - side / 2), int(c - side / 2)
        if not body[r0:r0 + k, c0:c0 + k].any():
            break
    sl = (slice(r0, r0 + k), slice(c0, c0 + k))
    box = np.zeros((k, k), np.float32)
    cv2.rectangle(box, (1, 1), (k - 2, k - 2), 1.0, max(1, int(0.6 / spacing)))
    letter = np.zeros((k, k), np.uint8)
    scale = cv2.getFontScaleFromHeight(cv2.FONT_HERSHEY_SIMPLEX, int(k * 0.62), max(1, int(k / 9)))
    txt = "L" if rng.random() < 0.5 else "R"
    (tw, th), _ = cv2.getTextSize(txt, cv2.FONT_HERSHEY_SIMPLEX, scale, max(1, int(k / 9)))
    cv2.putText(letter, txt, ((k - tw) // 2, (k + th) // 2), cv2.FONT_HERSHEY_SIMPLEX, scale, 1,
                max(1, int(k / 9)), cv2.LINE_AA)
    val = 0.12 + 0.15 * box + 9.0 * (letter > 0)
    dense[sl] += val[: dense[sl].shape[0], : dense[sl].shape[1]]
    return [{"kind": "marker", "bbox": [r0, c0, r0 + k, c0 + k], "text": txt}]


def collimation_field(rng, shape, spacing) -> tuple[np.ndarray, list[dict]]:
    """Soft exposure field in [0, 1] (1 = exposed) and the collimated borders."""
    h, w = shape
    field = np.ones(shape, np.float32)
    recs = []
    if rng.random() < 0.3:
        return field, recs
    rr = np.arange(h, dtype=np.float32)[:, None]
    cc = np.arange(w, dtype=np.float32)[None, :]
    pen = rng.uniform(0.3, 2.0) / spacing
    for side in range(4):
        if rng.random() < 0.35:
            continue
        depth = rng.uniform(0.02, 0.09) * (h if side < 2 else w)
        tilt = math.tan(math.radians(rng.normal(0, 1.2)))
        if side == 0:
            dist = rr - depth - tilt * (cc - w / 2)
            bbox = [0, 0, int(depth + abs(tilt) * w / 2) + 1, w]
        elif side == 1:
            dist = (h - 1 - rr) - depth - tilt * (cc - w / 2)
            bbox = [int(h - depth - abs(tilt) * w / 2), 0, h, w]
        elif side == 2:
            dist = cc - depth - tilt * (rr - h / 2)
            bbox = [0, 0, h, int(depth + abs(tilt) * h / 2) + 1]
        else:
            dist = (w - 1 - cc) - depth - tilt * (rr - h / 2)
            bbox = [0, int(w - depth - abs(tilt) * h / 2), h, w]
        field = np.minimum(field, np.clip(0.5 + dist / pen, 0, 1))
        recs.append({"kind": "collimation", "bbox": [max(0, bbox[0]), max(0, bbox[1]), min(h, bbox[2]), min(w, bbox[3])]})
    return field, recs


def add_skinfold(rng, T: np.ndarray, dist_skin_mm: np.ndarray, spacing: float) -> list[dict]:
    """A soft-tissue edge line: a step of extra tissue along a curve inside the body."""
    k = max(1, int(2 / spacing))
    cand = np.argwhere((dist_skin_mm[::k, ::k] > 4) & (dist_skin_mm[::k, ::k] < 20)) * k
    if len(cand) == 0:
        return []
    c = cand[rng.integers(len(cand))].astype(float)
    L = rng.uniform(25, 70)
    theta = rng.uniform(0, math.pi)
    got = _frame(T.shape, c, theta, (L / 2 + 15) / spacing)
    if got is None:
        return []
    sl, uu, vv = got
    uu, vv = uu * spacing, vv * spacing
    curv = rng.normal(0, 0.01)
    vv = vv - curv * uu * uu
    h = rng.uniform(1.5, 5)
    decay = rng.uniform(4, 12)
    step = 1 / (1 + np.exp(-vv / 0.25)) * np.exp(-np.maximum(vv, 0) / decay)
    env = np.clip(1 - (np.abs(uu) / (L / 2)) ** 4, 0, 1)
    add = (h * step * env * (T[sl] > 1)).astype(np.float32)
    T[sl] += add
    return [{"kind": "skinfold", "bbox": _bbox(add > 0.2, sl)}]


def burn_text(rng, img: np.ndarray, value: int, spacing: float, seed: int) -> list[dict]:
    """Constant-value annotation text in a corner of the final image."""
    h, w = img.shape
    lines = [rng.choice(["PA", "AP", "LAT", "OBL"]) + " " + rng.choice(["STANDING", "SUPINE", "", "ERECT"]),
             f"ID {seed % 1000000:06d}", rng.choice(["CR 12.4", "DX", "PORTABLE", "kVp 55 mAs 4"])]
    n = int(rng.integers(1, 4))
    hgt = max(6, int(rng.uniform(3, 6) / spacing))
    thick = max(1, hgt // 8)
    scale = cv2.getFontScaleFromHeight(cv2.FONT_HERSHEY_SIMPLEX, hgt, thick)
    corner = int(rng.integers(4))
    recs = []
    ink = np.zeros(img.shape, np.uint8)
    y = int(0.02 * h) + hgt if corner < 2 else int(0.98 * h) - (n - 1) * int(hgt * 1.6)
    for line in lines[:n]:
        (tw, th), _ = cv2.getTextSize(line, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
        x = int(0.02 * w) if corner % 2 == 0 else max(0, int(0.98 * w) - tw)
        cv2.putText(ink, str(line), (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, 1, thick, cv2.LINE_8)
        recs.append({"kind": "text", "bbox": [max(0, y - th - 2), x, min(h, y + thick + 4), min(w, x + tw)],
                     "text": line})
        y += int(hgt * 1.6)
    img[ink > 0] = value
    return recs
