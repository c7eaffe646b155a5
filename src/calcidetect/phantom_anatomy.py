"""Anatomy of the phantom generator: projected soft tissue and bone.

Everything is expressed as X-ray path lengths through tissue (mm), built from
a few analytic primitives evaluated over whole pixel crops:

* tubes (long bones, fingers, limbs): the chord through a cylinder of radius
  R at perpendicular offset d is ``2 sqrt(R^2 - d^2)``; a hollow bone gives a
  cortex chord (outer minus inner), longest at the edges, and a medulla chord;
* ellipsoids (carpals, femoral / humeral heads, sesamoids);
* plates (pelvis, scapula, acromion): a slab with a rounded rim, whose
  cortex chord peaks at the rim, from a distance transform of a polygon.

Soft tissue is a union (smooth maximum) of rounded shapes, each with a
subcutaneous fat shell.  Coordinates of the anatomy are in mm, x to the
right and y downwards, origin at the image centre; :class:`Canvas` maps them
to pixels through a random rotation, flip and zoom.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

__all__ = ["Canvas", "BoneAxis", "build_anatomy", "BODY_PARTS", "smooth_noise"]

BODY_PARTS: tuple[str, ...] = ("hand", "hip", "shoulder", "forearm")

#: Smooth-maximum exponent used to merge soft-tissue shapes.
_UNION_P = 6.0


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma_px: float) -> np.ndarray:
    """Gaussian random field of unit standard deviation and correlation ~sigma_px.

    Generated on a grid coarsened by ``sigma_px / 2`` and resized, so the cost
    does not grow with the smoothing scale.
    """
    h, w = shape
    f = max(1.0, sigma_px / 2.0)
    sh, sw = max(2, int(math.ceil(h / f)) + 2), max(2, int(math.ceil(w / f)) + 2)
    z = rng.standard_normal((sh, sw), dtype=np.float32)
    s = sigma_px / f
    z = cv2.GaussianBlur(z, (0, 0), s, borderType=cv2.BORDER_REFLECT)
    z = (z - float(z.mean())) / (float(z.std()) or 1.0)
    return cv2.resize(z, (int(round(sw * f)), int(round(sh * f))), interpolation=cv2.INTER_LINEAR)[:h, :w]


@dataclass
class BoneAxis:
    """A long bone's axis in pixels, for placing linear deposits and metal."""

    p0: np.ndarray  # (row, col)
    p1: np.ndarray
    radius_mm: float
    name: str


@dataclass
class Canvas:
    """Accumulators of projected tissue for one image."""

    shape: tuple[int, int]
    spacing: float
    centre: np.ndarray  # px (row, col)
    angle: float  # radians
    flip: bool
    zoom: float
    rng: np.random.Generator
    mu_cortex: float = 0.06  # excess over soft tissue, 1/mm
    mu_medulla: float = 0.013
    bone: np.ndarray = field(init=False)
    bone_mask: np.ndarray = field(init=False)
    soft_tp: np.ndarray = field(init=False)
    soft_mp: np.ndarray = field(init=False)
    tex: np.ndarray = field(init=False)
    joints: list = field(default_factory=list)
    axes: list = field(default_factory=list)
    sesamoids: list = field(default_factory=list)

    def __post_init__(self) -> None:
        h, w = self.shape
        self.bone = np.zeros(self.shape, np.float32)
        self.bone_mask = np.zeros(self.shape, bool)
        self.soft_tp = np.zeros(self.shape, np.float32)
        self.soft_mp = np.zeros(self.shape, np.float32)
        # trabecular texture: band-pass noise, ~0.4-1.5 mm structures
        s1 = 0.35 / self.spacing
        fine = smooth_noise(self.rng, self.shape, max(s1, 0.7))
        coarse = smooth_noise(self.rng, self.shape, 1.6 / self.spacing)
        self.tex = (0.55 * fine + 0.6 * coarse).astype(np.float32)
        c, s = math.cos(self.angle), math.sin(self.angle)
        self._m = np.array([[c, -s], [s, c]]) * (self.zoom / self.spacing)

    # -- geometry -----------------------------------------------------------
    def px(self, pts_mm) -> np.ndarray:
        """Anatomy mm (x, y) -> pixel (row, col); accepts (2,) or (n, 2)."""
        p = np.asarray(pts_mm, dtype=float)
        one = p.ndim == 1
        p = p.reshape(-1, 2).copy()
        if self.flip:
            p[:, 0] = -p[:, 0]
        xy = p @ self._m.T
        rc = np.stack([self.centre[0] + xy[:, 1], self.centre[1] + xy[:, 0]], axis=1)
        return rc[0] if one else rc

    def mm(self, length_mm: float) -> float:
        """Physical length after zoom (mm)."""
        return length_mm * self.zoom

    def crop(self, lo, hi, pad_px: float = 2.0):
        """Slices and (row, col) coordinate grids of a clipped bbox, or None."""
        h, w = self.shape
        r0 = max(int(math.floor(min(lo[0], hi[0]) - pad_px)), 0)
        c0 = max(int(math.floor(min(lo[1], hi[1]) - pad_px)), 0)
        r1 = min(int(math.ceil(max(lo[0], hi[0]) + pad_px)) + 1, h)
        c1 = min(int(math.ceil(max(lo[1], hi[1]) + pad_px)) + 1, w)
        if r1 <= r0 or c1 <= c0:
            return None
        rr = np.arange(r0, r1, dtype=np.float32)[:, None]
        cc = np.arange(c0, c1, dtype=np.float32)[None, :]
        return (slice(r0, r1), slice(c0, c1)), rr, cc

    def _frame(self, a, b, rr, cc):
        """Along-axis s and signed offset d (both mm) of pixels w.r.t. segment a->b."""
        v = b - a
        length = float(np.hypot(*v)) or 1e-6
        u = v / length
        dr, dc = rr - a[0], cc - a[1]
        s = (dr * u[0] + dc * u[1]) * self.spacing
        d = (-dr * u[1] + dc * u[0]) * self.spacing
        return s, d, length * self.spacing

    # -- bones --------------------------------------------------------------
    def tube(self, a_mm, b_mm, radius, *, flare=(0.3, 0.3), cortex=0.3, cortex_end=0.08,
             bend=0.0, depth=1.0, name="", axis=True, density=1.0, flat=2.5) -> None:
        """A hollow long bone from ``a_mm`` to ``b_mm`` (rounded, flared ends)."""
        a, b = self.px(a_mm), self.px(b_mm)
        r_mm = self.mm(radius)
        rmax = r_mm * (1 + max(flare)) + abs(self.mm(bend))
        got = self.crop(np.minimum(a, b), np.maximum(a, b), rmax / self.spacing + 3)
        if got is None:
            return
        sl, rr, cc = got
        s, d, L = self._frame(a, b, rr, cc)
        t = np.clip(s / L, 0.0, 1.0)
        d = d - self.mm(bend) * 4.0 * t * (1.0 - t)
        e = 0.16 * L
        b0 = np.exp(-((np.maximum(s, 0) / e) ** 2))
        b1 = np.exp(-((np.maximum(L - s, 0) / e) ** 2))
        R = r_mm * (1.0 + flare[0] * b0 + flare[1] * b1)
        tc = r_mm * (cortex_end + (cortex - cortex_end) * (1.0 - np.maximum(b0, b1)))
        c0 = min(r_mm * (1 + flare[0]) * 0.7, L / 3)
        c1 = min(r_mm * (1 + flare[1]) * 0.7, L / 3)

        def capped(rad, inset):
            x = np.maximum(np.maximum((c0 + inset - s) / c0, (s - (L - inset - c1)) / c1), 0.0)
            f = np.where(x < 1.0, (1.0 - np.minimum(x, 1.0) ** flat) ** (1.0 / flat), 0.0)
            return rad * f

        ro = capped(R, 0.0)
        ri = capped(np.maximum(R - tc, 0.0), float(r_mm * cortex_end))
        outer = 2.0 * depth * np.sqrt(np.maximum(ro * ro - d * d, 0.0))
        inner = 2.0 * depth * np.sqrt(np.maximum(ri * ri - d * d, 0.0))
        med = 0.35 + 0.65 * np.maximum(b0, b1)
        self._add_bone(sl, outer - inner, inner * med, outer > 0, density)
        if axis:
            self.axes.append(BoneAxis(a, b, r_mm, name))

    def ellipsoid(self, c_mm, a, b, angle_deg=0.0, *, depth=None, cortex=0.8, density=1.0) -> np.ndarray:
        """A hollow ellipsoid (carpal, head, sesamoid); returns its pixel centre."""
        c = self.px(c_mm)
        a, b = self.mm(a), self.mm(b)
        depth = self.mm(depth) if depth is not None else min(a, b)
        t = self.mm(cortex)
        rad = max(a, b) / self.spacing + 3
        got = self.crop(c - rad, c + rad, 0)
        if got is None:
            return c
        sl, rr, cc = got
        th = math.radians(-angle_deg if self.flip else angle_deg) + self.angle
        dx, dy = (cc - c[1]) * self.spacing, (rr - c[0]) * self.spacing
        u = dx * math.cos(th) + dy * math.sin(th)
        v = -dx * math.sin(th) + dy * math.cos(th)
        q = 1.0 - (u / a) ** 2 - (v / b) ** 2
        ai, bi, di = max(a - t, 0.1), max(b - t, 0.1), max(depth - t, 0.1)
        qi = 1.0 - (u / ai) ** 2 - (v / bi) ** 2
        outer = 2.0 * depth * np.sqrt(np.maximum(q, 0.0))
        inner = 2.0 * di * np.sqrt(np.maximum(qi, 0.0))
        self._add_bone(sl, outer - inner, inner, q > 0, density)
        return c

    def plate(self, poly_mm, thickness, *, cortex=1.2, holes=(), density=1.0) -> None:
        """A flat bone (pelvis, scapula): a slab with rounded, cortex-rich rim."""
        poly = self.px(smooth_poly(poly_mm))
        rim = self.mm(thickness) / 2.0
        got = self.crop(poly.min(0), poly.max(0), rim / self.spacing + 4)
        if got is None:
            return
        sl, rr, cc = got
        r0, c0 = sl[0].start, sl[1].start
        pad = int(rim / self.spacing) + 4
        h, w = rr.shape[0] + 2 * pad, cc.shape[1] + 2 * pad
        m = np.zeros((h, w), np.uint8)
        off = np.array([r0 - pad, c0 - pad])
        cv2.fillPoly(m, [np.round((poly - off)[:, ::-1] * 4).astype(np.int32)], 1, cv2.LINE_8, 2)
        for hole in holes:
            hp = self.px(smooth_poly(hole))
            cv2.fillPoly(m, [np.round((hp - off)[:, ::-1] * 4).astype(np.int32)], 0, cv2.LINE_8, 2)
        dist = cv2.distanceTransform(m, cv2.DIST_L2, 5)[pad:-pad, pad:-pad] * self.spacing
        t = self.mm(cortex)
        outer = 2.0 * np.sqrt(np.maximum(2 * rim * np.minimum(dist, rim) - np.minimum(dist, rim) ** 2, 0))
        ri = max(rim - t, 0.1)
        di = np.clip(dist - t, 0, ri)
        inner = 2.0 * np.sqrt(np.maximum(2 * ri * di - di * di, 0))
        self._add_bone(sl, outer - inner, inner, dist > 0, density)

    def _add_bone(self, sl, cortex_chord, medulla_chord, mask, density) -> None:
        tex = self.tex[sl]
        val = self.mu_cortex * cortex_chord * (1.0 + 0.04 * tex)
        val += self.mu_medulla * medulla_chord * np.clip(1.0 + 0.25 * tex, 0.2, None)
        self.bone[sl] += (density * val).astype(np.float32)
        self.bone_mask[sl] |= mask

    def joint(self, end_a_mm, start_b_mm) -> None:
        """Record the centre of the gap between two bone ends (mm points)."""
        self.joints.append((self.px(end_a_mm) + self.px(start_b_mm)) / 2.0)

    # -- soft tissue --------------------------------------------------------
    def soft_tube(self, a_mm, b_mm, r0, r1, *, depth=0.9, fat=3.0) -> None:
        """Tapered, round-ended limb segment (elliptical cross-section)."""
        a, b = self.px(a_mm), self.px(b_mm)
        R = self.mm(max(r0, r1))
        got = self.crop(np.minimum(a, b), np.maximum(a, b), R / self.spacing + 2)
        if got is None:
            return
        sl, rr, cc = got
        s, d, L = self._frame(a, b, rr, cc)
        t = np.clip(s / L, 0.0, 1.0)
        r = self.mm(r0) + (self.mm(r1) - self.mm(r0)) * t
        de = np.sqrt(d * d + (s - np.clip(s, 0, L)) ** 2)
        q = np.maximum(1.0 - (de / r) ** 2, 0.0)
        T = 2.0 * depth * r * np.sqrt(q)
        f = self.mm(fat)
        rm = np.maximum(r - f, 0.5)
        qm = np.maximum(1.0 - (de / rm) ** 2, 0.0)
        M = 2.0 * np.maximum(depth * r - f, 0.5) * np.sqrt(qm)
        self._add_soft(sl, T, M)

    def soft_slab(self, poly_mm, thickness, *, fat=4.0, rim=None) -> None:
        """Flat soft-tissue region (palm, trunk, hip) with a rounded edge."""
        poly = self.px(smooth_poly(poly_mm))
        half = self.mm(thickness) / 2.0
        rim = self.mm(rim) if rim is not None else half
        pad = int(rim / self.spacing) + 4
        got = self.crop(poly.min(0), poly.max(0), 0)
        if got is None:
            return
        sl, rr, cc = got
        r0, c0 = sl[0].start, sl[1].start
        h, w = rr.shape[0] + 2 * pad, cc.shape[1] + 2 * pad
        m = np.zeros((h, w), np.uint8)
        off = np.array([r0 - pad, c0 - pad])
        cv2.fillPoly(m, [np.round((poly - off)[:, ::-1] * 4).astype(np.int32)], 1, cv2.LINE_8, 2)
        dist = cv2.distanceTransform(m, cv2.DIST_L2, 5)[pad:pad + rr.shape[0], pad:pad + cc.shape[1]] * self.spacing
        x = np.minimum(dist / rim, 1.0)
        T = 2.0 * half * np.sqrt(np.maximum(1.0 - (1.0 - x) ** 2, 0.0))
        f = self.mm(fat)
        xm = np.clip((dist - f) / max(rim - f, 1.0), 0.0, 1.0)
        M = 2.0 * max(half - f, 0.5) * np.sqrt(np.maximum(1.0 - (1.0 - xm) ** 2, 0.0)) * (dist > f)
        self._add_soft(sl, T, M)

    def _add_soft(self, sl, T, M) -> None:
        self.soft_tp[sl] += (T ** _UNION_P).astype(np.float32)
        self.soft_mp[sl] += (M ** _UNION_P).astype(np.float32)

    def soft_paths(self) -> tuple[np.ndarray, np.ndarray]:
        """(total, muscle) soft-tissue path lengths in mm."""
        T = np.power(self.soft_tp, 1.0 / _UNION_P, dtype=np.float32)
        M = np.minimum(np.power(self.soft_mp, 1.0 / _UNION_P, dtype=np.float32), T)
        return T, M


# ---------------------------------------------------------------------------
# body parts (mm, x right, y down, origin at image centre)
# ---------------------------------------------------------------------------

def smooth_poly(pts, iters: int = 3) -> np.ndarray:
    """Chaikin corner cutting: a closed polygon with rounded corners."""
    p = np.asarray(pts, float)
    for _ in range(iters):
        q = np.roll(p, -1, axis=0)
        p = np.stack([0.75 * p + 0.25 * q, 0.25 * p + 0.75 * q], axis=1).reshape(-1, 2)
    return p


def _rot(v, deg):
    t = math.radians(deg)
    return np.array([v[0] * math.cos(t) - v[1] * math.sin(t), v[0] * math.sin(t) + v[1] * math.cos(t)])


def _carpals(cv: Canvas, rng, y0: float, x0: float = 0.0, rows=(True, True)) -> None:
    j = lambda s=0.6: rng.normal(0, s)  # noqa: E731
    proximal = [(-14, 0, 7.2, 4.8, 40), (-2, 2, 6.0, 5.5, 0), (9, 0, 5.5, 4.8, -20), (14, -4, 4.0, 3.8, 0)]
    distal = [(-22, -14, 6.5, 5.5, 30), (-12, -14, 5.0, 4.8, 10), (-2, -17, 6.0, 8.5, 0), (9, -15, 6.2, 7.5, -10)]
    for use, row in zip(rows, (proximal, distal)):
        if not use:
            continue
        for x, y, a, b, ang in row:
            k = 1.12 * (1 + j(0.04))
            cv.ellipsoid((x0 + 1.1 * x + j(), y0 + 1.1 * y + j()), a * k, b * k, ang + j(5),
                         depth=min(a, b) * 1.2, cortex=0.7)


def _hand(cv: Canvas, rng) -> None:
    g = lambda: rng.uniform(1.5, 3.0)  # noqa: E731  joint gaps (mm)
    wy = 95.0 + rng.normal(0, 3)
    # forearm and wrist soft tissue, palm
    cv.soft_tube((0, wy - 10), (2, 260), 29, 34, depth=0.75, fat=4)
    # distal radius and ulna
    cv.tube((-9, wy + 8), (-11, 240), 6.5, flare=(1.9, 0.2), cortex=0.32, name="radius")
    cv.tube((13, wy + 12), (15, 240), 5.3, flare=(1.1, 0.2), cortex=0.32, name="ulna")
    cv.joint((-9, wy + 8), (-4, wy + 3))
    _carpals(cv, rng, wy - 5)
    spread = rng.uniform(-4, 8)
    # rays: (base x, base y, angle deg, mc length, mc radius, phalanx lengths, radii)
    rays = [
        (-13, 28, -5, 64, 4.3, (41, 24, 17), (4.0, 3.3, 3.0)),
        (-2, 27, 0, 62, 4.5, (45, 28, 19), (4.2, 3.5, 3.1)),
        (8, 29, 5, 56, 4.0, (42, 26, 18), (3.9, 3.3, 2.9)),
        (16, 32, 11, 50, 3.7, (33, 19, 16), (3.5, 2.9, 2.6)),
    ]
    palm_pts = []
    for k, (x, y, ang, lmc, rmc, lph, rph) in enumerate(rays):
        ang = ang + (k - 1.5) * spread * 0.5 + rng.normal(0, 1.5)
        u = _rot((0, -1), ang)
        base = np.array([x, y + wy - 62]) + rng.normal(0, 0.7, 2)
        s = 1 + rng.normal(0, 0.03)
        head = base + u * lmc * s
        cv.tube(base, head, rmc * s, flare=(0.35, 0.45), cortex=0.33, name=f"mc{k + 2}", bend=rng.normal(0, 0.8))
        palm_pts += [base, head + u * 4]
        p = head + u * g()
        cv.joint(head, p)
        tip = p
        for i, (lp, rp) in enumerate(zip(lph, rph)):
            ang2 = rng.normal(0, 2.5)
            u = _rot(u, ang2)
            q = p + u * lp * s
            cv.tube(p, q, rp * s, flare=(0.45, 0.3 if i < 2 else 0.45), cortex=0.3 if i < 2 else 0.22,
                    name=f"ph{k + 2}{i + 1}", axis=i < 2)
            tip = q
            if i < 2:
                p2 = q + u * g()
                cv.joint(q, p2)
                p = p2
        fr = rph[0] * 2.25 * (1 + rng.normal(0, 0.05))
        cv.soft_tube(head - u * 5, tip + u * 5.5, fr, fr * 0.82, depth=0.85, fat=2.5)
        if k in (0, 3) and rng.random() < 0.35:  # occasional 2nd/5th MCP sesamoid
            side = -1 if k == 0 else 1
            c = head + _rot(u, 90 * side) * rmc * 0.6
            cv.sesamoids.append(cv.ellipsoid(c, 1.7, 2.1, rng.uniform(0, 180), cortex=0.45))
    # thumb
    tb = np.array([-25.0, wy - 27])
    ut = _rot((0, -1), -38 + rng.normal(0, 5))
    th = tb + ut * 44
    cv.tube(tb, th, 4.6, flare=(0.4, 0.4), cortex=0.33, name="mc1")
    p = th + ut * g()
    cv.joint(th, p)
    for i, (lp, rp) in enumerate(((31, 4.3), (23, 3.6))):
        ut = _rot(ut, rng.normal(8, 4))
        q = p + ut * lp
        cv.tube(p, q, rp, flare=(0.45, 0.45), cortex=0.3, name=f"ph1{i + 1}", axis=i == 0)
        if i == 0:
            p2 = q + ut * g()
            cv.joint(q, p2)
            p = p2
    for side in (-1, 1):  # the two thumb MCP sesamoids (over the metacarpal head)
        c = th - ut * 2 + _rot(ut, 90) * side * 3.2
        cv.sesamoids.append(cv.ellipsoid(c, 2.0, 2.6, rng.uniform(0, 180), cortex=0.5))
    cv.soft_tube(tb + ut * 10, q + ut * 6, 12.5, 9.5, depth=0.85, fat=3)
    palm = np.vstack(palm_pts + [tb, [-27, wy + 2], [26, wy + 2]])
    hull = cv2.convexHull(np.round(palm * 10).astype(np.int32)).reshape(-1, 2) / 10.0
    cen = hull.mean(0)
    out = (hull - cen) / np.maximum(np.hypot(*(hull - cen).T)[:, None], 1e-6)
    cv.soft_slab(hull + out * 7.0, rng.uniform(26, 33), fat=4, rim=11)
    cv.soft_tube(tb - ut * 6, th, 15, 11, depth=0.75, fat=4)  # thenar eminence


def _forearm(cv: Canvas, rng) -> None:
    gap = rng.uniform(2.5, 4.0)
    ye = -128.0  # elbow
    cv.soft_tube((0, -320), (0, 200), 47, 29, depth=0.8, fat=rng.uniform(4, 9))
    cv.tube((-3, -320), (0, ye), 11.5, flare=(0.2, 1.7), cortex=0.33, name="humerus", bend=rng.normal(0, 1))
    cv.tube((-15, ye + gap), (-15, 128), 5.6, flare=(0.55, 1.9), cortex=0.33, bend=rng.uniform(-3, 3), name="radius")
    cv.tube((11, ye - 8), (14, 132), 5.6, flare=(1.0, 0.3), cortex=0.33, bend=rng.uniform(-2, 2), name="ulna")
    cv.joint((-15, ye), (-15, ye + gap))
    cv.joint((11, ye - 3), (4, ye - 2))
    cv.joint((-15, 128), (-13, 128 + gap + 3))
    _carpals(cv, rng, 142, x0=-3, rows=(True, False))


def _hip(cv: Canvas, rng) -> None:
    rh = rng.uniform(22, 26)
    gap = rng.uniform(3.0, 5.0)
    hc = np.array([-25.0, -45.0])
    # trunk / thigh soft tissue: everything medial of a lateral skin contour
    lat = rng.uniform(105, 140)
    contour = [(-400, -400), (lat - 10, -400), (lat + 15, -120), (lat + 20, -30), (lat + 5, 80), (lat - 20, 400), (-400, 400)]
    cv.soft_slab(contour, rng.uniform(170, 230), fat=rng.uniform(12, 30), rim=90)
    # pelvis: ilium (off the top), pubis / ischium ring around the obturator foramen
    roof = hc + _rot((0, -1), -35) * (rh + gap)
    ilium = [(-400, -400), (55, -400), (62, -200), (40, -120), (roof[0] + 12, roof[1] - 4), (hc[0] - 6, hc[1] - rh - gap - 2),
             (hc[0] - 30, hc[1] - 10), (-60, 10), (-400, 40)]
    cv.plate(ilium, rng.uniform(9, 13), cortex=1.4)
    ring = [(hc[0] - 18, hc[1] + 10), (-20, 40), (-30, 90), (-80, 105), (-160, 90), (-400, 60), (-400, -10), (-80, -5)]
    hole = [(-40, 30), (-40, 60), (-60, 78), (-95, 75), (-110, 45), (-80, 22)]
    cv.plate(ring, rng.uniform(12, 16), cortex=1.5, holes=[hole])
    cv.tube((hc[0] + 30, hc[1] - rh - gap - 4), (hc[0] - 45, hc[1] - 5), 3.5, bend=-9, cortex=0.5, axis=False)  # sourcil
    # femur
    neck_end = np.array([28.0, 12.0])
    cv.ellipsoid(hc, rh, rh, depth=rh, cortex=1.4)
    cv.tube(hc + _rot((1, 1), 0) * 3, neck_end, 16, flare=(0.15, 0.3), cortex=0.2, name="femoral neck")
    shaft_top = np.array([38.0, -2.0])
    cv.tube(shaft_top, (58, 330), 14.5, flare=(1.0, 0.0), cortex=0.38, bend=rng.normal(0, 3), name="femur")
    cv.ellipsoid((55, -8), 17, 24, 10, depth=18, cortex=1.0)  # greater trochanter
    cv.ellipsoid((28, 46), 8, 6, 30, depth=8, cortex=1.0)  # lesser trochanter
    for ang in (-60, -30, 0):
        cv.joints.append(cv.px(hc + _rot((0, -1), ang) * (rh + gap / 2)))


def _shoulder(cv: Canvas, rng) -> None:
    rh = rng.uniform(21, 25)
    gap = rng.uniform(3.0, 5.0)
    hc = np.array([28.0, -38.0])
    top = rng.uniform(-140, -115)
    contour = [(-400, top - 15), (-60, top), (40, top + 20), (80, -80), (95, -20), (90, 100), (85, 400), (-400, 400)]
    cv.soft_slab(contour, rng.uniform(120, 170), fat=rng.uniform(6, 18), rim=55)
    # ribs (faint arcs medially)
    for k in range(4):
        y = -55 + 38 * k + rng.normal(0, 4)
        cv.tube((-260, y - 40), (-40 - 10 * k, y + 25), 5.0, bend=-18, cortex=0.3, flare=(0, 0.3),
                axis=False, density=0.7)
    # scapula plate with glenoid, acromion, coracoid
    gx = hc[0] - rh - gap
    scap = [(gx - 2, hc[1] - 20), (gx - 1, hc[1] + 18), (gx - 12, hc[1] + 40), (-70, 140), (-400, 180), (-400, -110), (-40, -95)]
    cv.plate(scap, rng.uniform(5, 8), cortex=1.0)
    cv.ellipsoid((gx - 4, hc[1]), 5, 19, 0, depth=16, cortex=1.2)
    acro = [(-15, -104), (hc[0] + 30, -98), (hc[0] + 32, -84), (-5, -86)]
    cv.plate(acro, rng.uniform(7, 10), cortex=1.2)
    cv.ellipsoid((gx + 6, -78), 9, 6, 20, depth=8, cortex=0.9)  # coracoid
    acg = rng.uniform(3, 5)
    cl_end = np.array([-15 - acg, -100.0])
    cv.tube((-300, -80), cl_end, 7.0, flare=(0.2, 0.6), cortex=0.3, bend=rng.uniform(-10, -4), name="clavicle")
    cv.joint(cl_end, (-15, -96))
    # humerus
    cv.ellipsoid(hc, rh, rh, depth=rh, cortex=1.2)
    cv.ellipsoid(hc + np.array([rh * 0.7, 2]), 10, 15, 0, depth=12, cortex=0.8)  # greater tuberosity
    cv.tube(hc + np.array([4, 5]), (42, 340), 12.5, flare=(1.1, 0.0), cortex=0.36, bend=rng.normal(0, 2), name="humerus")
    for dy in (-8, 0, 8):
        cv.joints.append(cv.px((gx + gap / 2 + abs(dy) * 0.12, hc[1] + dy)))


_BUILDERS = {"hand": _hand, "forearm": _forearm, "hip": _hip, "shoulder": _shoulder}

#: Physical field of view (rows, cols) in mm and a zoom range per body part.
FIELD_MM = {"hand": (250.0, 200.0), "forearm": (330.0, 200.0), "hip": (330.0, 330.0), "shoulder": (310.0, 310.0)}


def build_anatomy(cv: Canvas, body_part: str) -> None:
    """Fill ``cv`` with the anatomy of ``body_part``."""
    _BUILDERS[body_part](cv, cv.rng)
