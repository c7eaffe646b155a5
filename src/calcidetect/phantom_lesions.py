"""Calcified foci of the phantom generator (the five patterns of DESIGN.md).

Each focus is an excess attenuation map (calcium minus the soft tissue it
displaces, in units of mu x mm) built on a small crop: a thickness profile
made of spheres, cylinders or blobs, modulated by a smooth random texture
(density is never flat), tapered to zero within ``BONE_MARGIN_MM`` of bone
and at the skin.  The mask is where the profile exceeds ``MASK_FRACTION`` of
its peak.  The amplitude is set so that the focus reaches a drawn
contrast-to-noise ratio, using the local noise and gain of the image; the
generator measures the achieved CNR afterwards and records that.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from .phantom_anatomy import BoneAxis

__all__ = ["LesionContext", "place_foci", "PATTERN_WEIGHTS", "BONE_MARGIN_MM", "MASK_FRACTION"]

#: Foci stay this far from bone (their profile tapers to zero there).
BONE_MARGIN_MM = 0.8
#: A pixel belongs to a focus where its thickness exceeds this fraction of the peak.
MASK_FRACTION = 0.2

#: Relative frequency of each pattern as the theme of a group, per body part.
PATTERN_WEIGHTS = {
    "hand": {"punctate": 0.3, "plaque": 0.3, "lobular": 0.08, "periarticular": 0.2, "linear": 0.12},
    "forearm": {"punctate": 0.2, "plaque": 0.25, "lobular": 0.15, "periarticular": 0.15, "linear": 0.25},
    "hip": {"punctate": 0.12, "plaque": 0.13, "lobular": 0.3, "periarticular": 0.3, "linear": 0.15},
    "shoulder": {"punctate": 0.12, "plaque": 0.13, "lobular": 0.25, "periarticular": 0.35, "linear": 0.15},
}


@dataclass
class LesionContext:
    """What the placement needs to know about the image."""

    rng: np.random.Generator
    spacing: float
    body_part: str
    body: np.ndarray  # exposed soft tissue
    bone: np.ndarray
    dist_bone_mm: np.ndarray
    dist_skin_mm: np.ndarray
    forbidden: np.ndarray
    joints: np.ndarray  # (n, 2) px
    axes: list
    sigma_dn: np.ndarray  # noise sigma in detector units
    gain_dn: np.ndarray  # d(detector value) / d(line integral)
    blur_px: float
    max_amp: float  # cap on the excess line integral of calcium
    tex_fine: np.ndarray
    tex_mid: np.ndarray
    occupied: np.ndarray = field(init=False)
    calc: np.ndarray = field(init=False)
    labels: np.ndarray = field(init=False)
    foci: list = field(default_factory=list)

    def __post_init__(self) -> None:
        self.occupied = self.forbidden.copy()
        self.calc = np.zeros(self.body.shape, np.float32)
        self.labels = np.zeros(self.body.shape, np.int32)


def _smooth01(x):
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def _draw_cnr(rng, pattern: str) -> float:
    if rng.random() < 0.12:
        return float(rng.uniform(3.0, 5.0))
    lo, hi = {"plaque": (5, 16), "lobular": (12, 40), "periarticular": (8, 35)}.get(pattern, (6, 28))
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _try_add(ctx: LesionContext, centre, half_mm: float, profile_fn, pattern: str, cnr: float,
             ss: int = 1) -> bool:
    """Render ``profile_fn(dy_mm, dx_mm)`` around ``centre``; add it if it fits."""
    sp = ctx.spacing
    h, w = ctx.body.shape
    half = int(math.ceil(half_mm / sp)) + 3
    r, c = int(round(centre[0])), int(round(centre[1]))
    r0, r1, c0, c1 = max(r - half, 0), min(r + half + 1, h), max(c - half, 0), min(c + half + 1, w)
    if r1 - r0 < 3 or c1 - c0 < 3:
        return False
    off = (np.arange(ss) + 0.5) / ss - 0.5
    rr = ((np.arange(r0, r1)[:, None] + off[None, :]).ravel() - centre[0]) * sp
    cc = ((np.arange(c0, c1)[:, None] + off[None, :]).ravel() - centre[1]) * sp
    prof = profile_fn(rr[:, None].astype(np.float32), cc[None, :].astype(np.float32)).astype(np.float32)
    if ss > 1:
        prof = prof.reshape(r1 - r0, ss, c1 - c0, ss).mean(axis=(1, 3))
    sl = (slice(r0, r1), slice(c0, c1))
    prof *= _smooth01((ctx.dist_bone_mm[sl] - BONE_MARGIN_MM) / 1.0)
    prof *= _smooth01(ctx.dist_skin_mm[sl] / 0.6)
    peak = float(prof.max())
    if not np.isfinite(peak) or peak <= 0:
        return False
    prof /= peak
    mask = prof > MASK_FRACTION
    if not mask.any() or (mask & ctx.occupied[sl]).any() or not ctx.body[sl][mask].all():
        return False
    # amplitude for the target CNR: mean blurred excess over the mask = cnr * sigma
    blurred = cv2.GaussianBlur(prof, (0, 0), max(ctx.blur_px, 0.3)) if ctx.blur_px > 0 else prof
    shape_f = float(blurred[mask].mean())
    sigma = float(ctx.sigma_dn[sl][mask].mean())
    gain = float(ctx.gain_dn[sl][mask].mean())
    amp = min(cnr * sigma / max(gain * shape_f, 1e-9), ctx.max_amp)
    ctx.calc[sl] += amp * prof
    fid = len(ctx.foci) + 1
    ctx.labels[sl][mask] = fid
    grow = max(1, int(round(1.5 / sp)))
    ctx.occupied[sl] |= cv2.dilate(mask.astype(np.uint8), np.ones((2 * grow + 1,) * 2, np.uint8)).astype(bool)
    ctx.foci.append({"id": fid, "pattern": pattern, "target_cnr": cnr, "amp": amp})
    return True


def _candidates(ctx: LesionContext, extra=None, step_mm: float = 1.0) -> np.ndarray:
    k = max(1, int(round(step_mm / ctx.spacing)))
    ok = ctx.body[::k, ::k] & ~ctx.occupied[::k, ::k] & (ctx.dist_bone_mm[::k, ::k] > BONE_MARGIN_MM + 0.5)
    ok &= ctx.dist_skin_mm[::k, ::k] > 0.5
    if extra is not None:
        ok &= extra[::k, ::k]
    return np.argwhere(ok).astype(float) * k


def _pick(ctx, cands):
    return cands[ctx.rng.integers(len(cands))] if len(cands) else None


def _edge_distance(ctx, p, direction, max_mm=40.0):
    """mm from ``p`` along ``direction`` until outside bone (+margin); inf if never."""
    t = np.arange(0.0, max_mm, 0.25)
    pts = p[None, :] + t[:, None] * direction[None, :] / ctx.spacing
    h, w = ctx.body.shape
    ri = np.clip(np.round(pts[:, 0]).astype(int), 0, h - 1)
    ci = np.clip(np.round(pts[:, 1]).astype(int), 0, w - 1)
    out = ctx.dist_bone_mm[ri, ci] > BONE_MARGIN_MM + 0.3
    idx = np.flatnonzero(out)
    return float(t[idx[0]]) if idx.size else math.inf


# -- shapes (all take dy, dx in mm relative to the centre) ---------------------

def _sphere(dy, dx, r):
    return 2.0 * np.sqrt(np.maximum(r * r - dy * dy - dx * dx, 0.0))


def _tex_crop(ctx, field_, centre, dy, dx):
    h, w = field_.shape
    ri = np.clip(np.round(centre[0] + dy / ctx.spacing).astype(int), 0, h - 1)
    ci = np.clip(np.round(centre[1] + dx / ctx.spacing).astype(int), 0, w - 1)
    return field_[ri, ci]


def _punctate(ctx, rng, n_left):
    cands = _candidates(ctx)
    c = _pick(ctx, cands)
    if c is None:
        return 0
    n = 1 if rng.random() < 0.4 else int(rng.integers(3, 10))
    n = min(n, n_left)
    spread = rng.uniform(3, 15)
    done = 0
    for _ in range(n * 6):
        if done >= n:
            break
        off = rng.normal(0, spread / 2, 2) / ctx.spacing if done or n > 1 else np.zeros(2)
        r = rng.uniform(0.15, 1.0)
        e = rng.uniform(0.75, 1.0)
        ss = 4 if r / ctx.spacing < 4 else 1
        cnr = _draw_cnr(rng, "punctate")
        if _try_add(ctx, c + off, r + 1.0, lambda dy, dx: _sphere(dy, dx * e, r), "punctate", cnr, ss):
            done += 1
    return done


def _plaque(ctx, rng, n_left):
    cands = _candidates(ctx, (ctx.dist_skin_mm > 0.6) & (ctx.dist_skin_mm < 3.5))
    c = _pick(ctx, cands)
    if c is None:
        return 0
    r, cc = int(c[0]), int(c[1])
    win = ctx.dist_skin_mm[max(r - 3, 0):r + 4, max(cc - 3, 0):cc + 4]
    gy, gx = np.gradient(win.astype(float))
    th = math.atan2(float(gx.mean()), -float(gy.mean())) if win.size > 4 else rng.uniform(0, math.pi)
    # th: angle of the inward normal measured so that the tangent is (cos th, sin th) in (x, y)
    L = rng.uniform(3, 25)
    wdt = rng.uniform(0.8, min(5.0, max(1.0, L / 2.5)))
    harm = [(k, rng.normal(0, 0.12 / math.sqrt(k)), rng.uniform(0, 2 * math.pi)) for k in range(2, 8)]
    bend = rng.normal(0, 0.02)

    def prof(dy, dx):
        u = dx * math.cos(th) + dy * math.sin(th)
        v = -dx * math.sin(th) + dy * math.cos(th) - bend * u * u
        a, b = L / 2, wdt / 2
        phi = np.arctan2(v / b, u / a)
        rad = np.sqrt((u / a) ** 2 + (v / b) ** 2)
        mod = 1.0 + sum(amp * np.cos(k * phi + ph) for k, amp, ph in harm)
        x = rad / np.maximum(mod, 0.4)
        base = np.sqrt(np.clip(1.0 - x ** 4, 0.0, None))
        return base * np.clip(1.0 + 0.4 * _tex_crop(ctx, ctx.tex_fine, c, dy, dx), 0.15, None)

    cnr = _draw_cnr(rng, "plaque")
    return int(_try_add(ctx, c, L / 2 + 2, prof, "plaque", cnr))


def _joint_dist(ctx, pts):
    if len(ctx.joints) == 0:
        return np.full(len(pts), np.inf)
    d = np.hypot(pts[:, None, 0] - ctx.joints[None, :, 0], pts[:, None, 1] - ctx.joints[None, :, 1])
    return d.min(1) * ctx.spacing


def _lobular(ctx, rng, n_left):
    dmax = 25.0 if ctx.body_part == "hand" else 60.0
    D = rng.uniform(8, dmax)
    for _ in range(6):
        cands = _candidates(ctx, (ctx.dist_bone_mm > D / 4 + 1) & (ctx.dist_skin_mm > min(D / 4 + 2, 12)), step_mm=2.0)
        if len(cands):
            cands = cands[_joint_dist(ctx, cands) > 15 + D / 3]
        c = _pick(ctx, cands)
        if c is None:
            D *= 0.75
            if D < 8:
                return 0
            continue
        nl = int(rng.integers(4, 15))
        rl = np.clip(rng.uniform(0.12, 0.3, nl) * D, 1.5, None)
        ang = rng.uniform(0, 2 * math.pi, nl)
        rad = np.sqrt(rng.uniform(0, 1, nl)) * np.maximum(D / 2 - rl, 0)
        cy, cx = rad * np.sin(ang), rad * np.cos(ang)
        dens = rng.uniform(0.6, 1.2, nl)
        rim = rng.random(nl) < 0.3

        def prof(dy, dx):
            out = np.zeros(np.broadcast(dy, dx).shape, np.float32)
            for i in range(nl):
                s = _sphere(dy - cy[i], dx - cx[i], rl[i])
                if rim[i]:
                    s = s - 0.6 * _sphere(dy - cy[i], dx - cx[i], rl[i] * 0.75)
                out += dens[i] * s
            return out * np.clip(1.0 + 0.25 * _tex_crop(ctx, ctx.tex_mid, c, dy, dx), 0.3, None)

        if _try_add(ctx, c, D / 2 + 2, prof, "lobular", _draw_cnr(rng, "lobular")):
            return 1
        D *= 0.8
        if D < 8:
            return 0
    return 0


def _periarticular(ctx, rng, n_left):
    if len(ctx.joints) == 0:
        return 0
    size_max = 15.0 if ctx.body_part == "hand" else 40.0
    for _ in range(8):
        j = ctx.joints[rng.integers(len(ctx.joints))]
        size = rng.uniform(3, size_max)
        dirs = [np.array([math.sin(a), math.cos(a)]) for a in np.linspace(0, 2 * math.pi, 12, endpoint=False)]
        edges = np.array([_edge_distance(ctx, j, d) for d in dirs])
        order = np.argsort(edges)[:3]
        k = order[rng.integers(len(order))]
        if not np.isfinite(edges[k]):
            continue
        u = dirs[k]
        c = j + u * (edges[k] + rng.uniform(0.5, 3.0) + 0.25 * size) / ctx.spacing
        c = c + np.array([-u[1], u[0]]) * rng.uniform(-2, 2) / ctx.spacing
        nb = int(rng.integers(3, 9))
        by, bx = rng.normal(0, size / 5, nb), rng.normal(0, size / 5, nb)
        bs = rng.uniform(0.1, 0.22, nb) * size + 0.4
        ba = rng.uniform(0.5, 1.0, nb)

        def prof(dy, dx):
            f = np.zeros(np.broadcast(dy, dx).shape, np.float32)
            for i in range(nb):
                f += ba[i] * np.exp(-((dy - by[i]) ** 2 + (dx - bx[i]) ** 2) / (2 * bs[i] ** 2))
            f *= np.clip(1.0 + 0.45 * _tex_crop(ctx, ctx.tex_mid, c, dy, dx)
                         + 0.2 * _tex_crop(ctx, ctx.tex_fine, c, dy, dx), 0.1, None)
            return np.clip(f - 0.2 * f.max(), 0, None)

        if _try_add(ctx, c, size / 2 + 3 * float(bs.max()), prof, "periarticular", _draw_cnr(rng, "periarticular")):
            return 1
    return 0


def _linear(ctx, rng, n_left):
    axes = [a for a in ctx.axes if np.hypot(*(a.p1 - a.p0)) * ctx.spacing > 25]
    if not axes:
        return 0
    for _ in range(8):
        ax: BoneAxis = axes[rng.integers(len(axes))]
        v = ax.p1 - ax.p0
        lb = float(np.hypot(*v)) * ctx.spacing
        u = v / np.hypot(*v)
        n = np.array([-u[1], u[0]]) * (1 if rng.random() < 0.5 else -1)
        p = ax.p0 + v * rng.uniform(0.2, 0.8)
        e = _edge_distance(ctx, p, n)
        if not np.isfinite(e):
            continue
        c = p + n * (e + rng.uniform(2.5, 10.0)) / ctx.spacing
        L = min(rng.uniform(5, 40), 0.7 * lb)
        wdt = rng.uniform(0.5, 2.0)
        amp, lam, ph = rng.uniform(0.1, 0.8), rng.uniform(8, 25), rng.uniform(0, 2 * math.pi)
        th = math.atan2(u[0], u[1]) + math.radians(rng.normal(0, 3))

        def prof(dy, dx):
            a = dx * math.cos(th) + dy * math.sin(th)
            b = -dx * math.sin(th) + dy * math.cos(th) - amp * np.sin(2 * math.pi * a / lam + ph)
            x = np.clip(np.abs(a) / (L / 2), 0, 1)
            r = wdt / 2 * np.sqrt(np.clip(1 - x ** 6, 0, None))
            r = r * np.clip(1.0 + 0.12 * _tex_crop(ctx, ctx.tex_fine, c, dy, dx), 0.6, None)
            return 2.0 * np.sqrt(np.maximum(r * r - b * b, 0.0))

        ss = 3 if wdt / ctx.spacing < 6 else 1
        if _try_add(ctx, c, L / 2 + 2, prof, "linear", _draw_cnr(rng, "linear"), ss=ss):
            return 1
    return 0


_MAKERS = {"punctate": _punctate, "plaque": _plaque, "lobular": _lobular, "periarticular": _periarticular,
           "linear": _linear}


def place_foci(ctx: LesionContext, themes: list[str], max_foci: int = 12) -> None:
    """Place groups of foci, one group per theme pattern, up to ``max_foci`` in all.

    Results are left in ``ctx.calc`` (excess line integral), ``ctx.labels``
    and ``ctx.foci``.  A theme that cannot be placed is retried a few times,
    then skipped.
    """
    for pattern in themes:
        left = max_foci - len(ctx.foci)
        if left <= 0:
            break
        for _ in range(3):
            if _MAKERS[pattern](ctx, ctx.rng, left):
                break
