"""An independent synthetic chest-radiograph generator, for hold-out testing ONLY.

NEVER use these images for training, tuning or model selection. They exist to measure how a
network trained on cathx's own chest generator transfers to radiographs drawn by a different
author with different design choices; any use beyond evaluation voids that measurement.

Geometry lives in "patient units" (one unit = half the bony thorax width, about 15 cm; x to the
patient's left = image right, y down) and is mapped to pixels by a random similarity transform
(zoom, tilt, off-centre framing, so apices or costophrenic angles are sometimes cropped). The
image is a density (line-integral) map pushed through a simple imaging chain; bright = dense.

What it draws:
  * anatomy: neck, shoulders and arms at the sides (humeral heads and shafts), breast shadows
    sometimes, lungs with apices, costophrenic angles and two diaphragm domes (the left usually
    lower), a gastric bubble sometimes, upper mediastinum with aortic knob, a heart of variable
    size (cardiomegaly sometimes), trachea and main bronchi as air columns, the spine with
    vertebral bodies, discs, end plates, pedicles and spinous processes, posterior and anterior
    ribs with cortical edges, clavicles, scapulae, branching pulmonary vessels tapering from the
    hila, fine lung texture; thin / obese habitus, axial rotation, lordotic projections;
  * pathology sometimes: pleural effusion with a meniscus, patchy consolidation, pneumothorax
    (visceral pleural line, no markings beyond it);
  * labelled lines (1-4, sometimes none): ETT (wide faint tube with a radio-opaque stripe or two
    walls, tip 3-7 cm above the carina, sometimes too high / in the right main bronchus); NGT
    (oesophagus to stomach with side holes and a tip marker; sometimes coiled, bronchial, or its
    tip off the image); CVC (internal jugular, subclavian or PICC along the arm; tip in the
    SVC / cavo-atrial junction / right atrium, sometimes misplaced up a jugular or across to the
    other arm; solid or two-walled, often faint); Swan-Ganz (through the right atrium and
    ventricle into a pulmonary artery);
  * unlabelled distractors: ECG snaps, clips and draped wires, pacemaker / ICD with leads and a
    shock coil, sternal wires and clips, chest drains, oxygen tubing, necklaces, bra wires and
    skin folds;
  * imaging chain: exposure and kV variety, detector blur, scatter haze, signal-dependent and
    spatially correlated noise, optional anti-scatter grid lines, unsharp masking from mild to
    heavy, gamma or sigmoid tone curves, collimation borders (black or white, sometimes rotated),
    burned-in text and side markers, optional JPEG at quality 50-95.

Labels are the centrelines of the labelled lines (entry to tip, <= 1 px spacing), trimmed to the
longest run inside the exposed field of the image.

Usage: python benchmarks/independent_chest.py OUT.png  (3x4 contact sheet of seeds 0-11, then a
self-check that the centrelines lie on the rendered lines)
"""

from __future__ import annotations

import dataclasses
import sys
import time

import cv2
import numpy as np
from scipy.interpolate import CubicSpline
from scipy.spatial import cKDTree

GROUPS = ("ETT", "NGT", "CVC", "Swan")
CM = 1.0 / 15.0  # one centimetre in patient units
COIL = [(0, 0), (0.06, 0.07), (0.1, 0), (0.04, -0.07), (-0.03, 0), (0, 0.1), (0.03, 0.05), (0.02, -0.1)]


@dataclasses.dataclass
class IndependentStudy:
    image: np.ndarray  # (H, W) uint8
    lines: list[tuple[str, np.ndarray]]  # (group, (N, 2) float32 x, y from entry to tip)
    widths: list[float]  # rendered width (px) of each labelled line


# ----------------------------------------------------------------------------------- helpers
def _smooth(x):
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _edge(v, soft):
    """0 -> 1 as v crosses 0, over about `soft` (same units as v)."""
    return _smooth(v / soft + 0.5)


def _gblur(img, sigma):
    """Gaussian blur; large kernels run on a downsampled copy."""
    img = np.asarray(img, np.float32)
    f = int(sigma // 4)
    if f < 2:
        return cv2.GaussianBlur(img, (0, 0), max(sigma, 0.3))
    h, w = img.shape
    small = cv2.resize(img, (max(1, w // f), max(1, h // f)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma / f)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def _field(rng, size, corr_px):
    """Smooth zero-mean unit-variance random field with correlation length ~corr_px."""
    n = max(3, round(size / max(corr_px, 1.0)) + 3)
    big = cv2.resize(
        rng.standard_normal((n, n)).astype(np.float32), (size, size), interpolation=cv2.INTER_CUBIC
    )
    return (big - big.mean()) / (big.std() + 1e-6)


def _curve(ctrl, n=300):
    """Chord-length cubic spline through control points."""
    c = np.asarray(ctrl, float)
    seg = np.hypot(*np.diff(c, axis=0).T)
    c = c[np.concatenate([[True], seg > 1e-6])]
    t = np.concatenate([[0.0], np.cumsum(seg[seg > 1e-6])])
    if len(c) < 3:
        return np.stack([np.interp(np.linspace(0, t[-1], n), t, c[:, i]) for i in (0, 1)], 1)
    return CubicSpline(t, c, bc_type="natural")(np.linspace(0, t[-1], n))


def _resample(pts, step):
    seg = np.hypot(*np.diff(pts, axis=0).T)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    t = np.arange(0.0, s[-1] + 1e-9, step)
    if s[-1] - t[-1] > 1e-6:
        t = np.append(t, s[-1])
    return np.stack([np.interp(t, s, pts[:, 0]), np.interp(t, s, pts[:, 1])], 1)


def _seg_dist(X, Y, a, b):
    ax, ay, bx, by = *a, *b
    vx, vy = bx - ax, by - ay
    t = np.clip(((X - ax) * vx + (Y - ay) * vy) / (vx * vx + vy * vy), 0, 1)
    return np.hypot(X - ax - t * vx, Y - ay - t * vy)


def _turtle(start, heading, segs, step=0.01):
    """Path from `start` (heading in radians, y down) through (length, total turn) segments, each
    turning at a constant rate."""
    pts, p, h = [np.asarray(start, float)], np.asarray(start, float), float(heading)
    for length, turn in segs:
        n = max(1, int(length / step))
        for _ in range(n):
            h += turn / n
            p = p + length / n * np.array([np.cos(h), np.sin(h)])
            pts.append(p)
    return np.array(pts)


class _Frame:
    """Similarity transform patient units -> pixels, plus the patient coordinates of every pixel."""

    def __init__(self, size, scale, angle, centre):
        self.size, self.S = size, float(scale)
        c, s = np.cos(angle), np.sin(angle)
        self.R = np.array([[c, -s], [s, c]])
        self.c = np.asarray(centre, float)
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
        u, v = (xx - self.c[0]) / scale, (yy - self.c[1]) / scale
        self.X, self.Y = (c * u + s * v).astype(np.float32), (-s * u + c * v).astype(np.float32)

    def px(self, p):
        return np.asarray(p, float).reshape(-1, 2) @ (self.S * self.R).T + self.c

    def canvas(self):
        return np.zeros((self.size, self.size), np.uint8)

    def poly(self, cv, pts, width, value=255, closed=False):
        """Anti-aliased polyline of `width` patient units (pts in patient units)."""
        p = np.round(np.clip(self.px(pts), -4 * self.size, 5 * self.size) * 16).astype(np.int32)
        cv2.polylines(cv, [p], closed, int(value), max(1, round(width * self.S)), cv2.LINE_AA, 4)

    def fill(self, cv, pts, value=255):
        p = np.round(np.clip(self.px(pts), -4 * self.size, 5 * self.size) * 16).astype(np.int32)
        cv2.fillPoly(cv, [p], int(value), cv2.LINE_AA, 4)

    def blur(self, cv, sigma_px):
        return _gblur(cv.astype(np.float32) / 255.0, sigma_px)


def _band(pts, half, size):
    """Pixels within `half` px of a pixel-space polyline: rows, cols, signed distance, arclength."""
    cv = np.zeros((size, size), np.uint8)
    p = np.round(np.clip(pts, -4 * size, 5 * size) * 16).astype(np.int32)
    cv2.polylines(cv, [p], False, 1, int(2 * half + 3), cv2.LINE_8, 4)
    ys, xs = np.nonzero(cv)
    dense = _resample(pts, 0.25)
    q = np.stack([xs, ys], 1).astype(np.float64)
    d, idx = cKDTree(dense).query(q)
    tan = np.gradient(dense, axis=0)
    tan /= np.hypot(*tan.T)[:, None] + 1e-9
    v = q - dense[idx]
    sd = tan[idx, 0] * v[:, 1] - tan[idx, 1] * v[:, 0]
    ok = d <= half
    return ys[ok], xs[ok], sd[ok], idx[ok] * 0.25, (len(dense) - 1) * 0.25


def _tube(acc, pts, w, dens, core=0.0, stripe=None, holes=(), tip=None, coil=None):
    """Add a tube to the density map `acc`. pts in px, w = outer width px, core = radiolucent lumen
    (0 solid .. 1 two walls only), stripe = (offset in radii, width px, density), holes = arclengths
    (px from the end) of side holes, tip = (length px, extra density), coil = (s0, s1 px from the end,
    extra density) for a shock coil."""
    r = w / 2
    ys, xs, sd, s, total = _band(pts, r + 1.5, acc.shape[0])
    d = np.abs(sd)
    cover = np.clip(r - d + 0.5, 0, 1)
    val = dens * cover * (1 - core * np.exp(-((d / (0.6 * r + 0.3)) ** 2)))
    from_end = total - s
    if stripe is not None:
        off, sw, sdens = stripe
        val += sdens * np.clip(sw / 2 - np.abs(sd - off * r) + 0.5, 0, 1) * cover
    for h in holes:
        val *= 1 - 0.75 * np.clip(1.2 * r - np.abs(from_end - h) + 0.5, 0, 1) * np.clip(
            0.6 * r - d + 0.5, 0, 1
        )
    if tip is not None:
        val += tip[1] * cover * np.clip(tip[0] - from_end + 0.5, 0, 1)
    if coil is not None:
        c0, c1, cd = coil
        on = np.clip(np.minimum(from_end - c0, c1 - from_end) + 0.5, 0, 1)
        val += cd * on * np.clip(1.4 * r - d + 0.5, 0, 1) * (0.8 + 0.2 * np.cos(from_end * 2.5))
    acc[ys, xs] += val.astype(np.float32)


# ----------------------------------------------------------------------------------- anatomy
def _anatomy(rng, fr):
    X, Y, S, size = fr.X, fr.Y, fr.S, fr.size
    e = 2.0 / S  # edge softness, patient units
    fat = float(rng.beta(1.4, 4.0))
    rot = float(rng.normal(0, 0.035))  # axial rotation: the sternum shifts against the spine
    m, mc = 0.0, rot
    lordotic = rng.random() < 0.12
    bone_k = rng.uniform(0.7, 1.25)  # low kV: more bone contrast
    an = {"m": m, "mc": mc, "fat": fat, "S": S}
    # body: neck, shoulders, chest wall; arms at the sides
    bw = rng.uniform(1.07, 1.16) + 0.3 * fat
    nw = rng.uniform(0.28, 0.36) + 0.1 * fat
    ysh = rng.uniform(-1.08, -0.92)
    bwy = (nw + (bw - nw) * _smooth((Y - ysh + 0.3) / 0.38)) * (1 + 0.05 * np.clip(Y - 0.3, 0, None))
    A = (1.35 + 0.6 * fat) * np.sqrt(np.clip(1 - ((X - m) / bwy) ** 2, 0, 1))
    bone = fr.canvas()
    arms = {}
    for s in (-1, 1):
        if rng.random() < 0.12:
            continue
        aw = rng.uniform(0.14, 0.19) * (1 + 0.5 * fat)
        top = (s * (bw - 0.02), ysh + 0.1)
        bot = (s * (bw + rng.uniform(0.05, 0.2) + aw), 1.8)
        A += (0.55 + 0.3 * fat) * np.sqrt(np.clip(1 - (_seg_dist(X, Y, top, bot) / aw) ** 2, 0, 1))
        arms[s] = (top, bot)
        hc = np.array(top) + (0.02 * s, 0.02)
        fr.poly(bone, [hc, np.array(bot)], 0.07, 150)
        cv2.circle(
            bone, tuple(np.round(fr.px(hc)[0] * 16).astype(int)), int(0.12 * S * 16), 200, -1, cv2.LINE_AA, 4
        )
    an.update(bw=bw, ysh=ysh, arms=arms)
    # lungs: lateral wall, apices, diaphragm domes
    dR = rng.uniform(0.4, 0.62)
    dL = dR + rng.uniform(-0.02, 0.1)
    if rng.random() < 0.07:
        dR, dL = (dR - 0.15, dL) if rng.random() < 0.5 else (dR, dL - 0.12)
    lw = {s: rng.uniform(0.86, 0.95) * (1 + 1.5 * s * rot) for s in (-1, 1)}
    yA = rng.uniform(-0.92, -0.82)

    def lat(s, y):
        return lw[s] * (1 - 0.36 * np.clip((-0.05 - y) / 0.85, 0, 1) ** 1.7)

    def dome(s, x):
        return (dR if s < 0 else dL) + 0.36 * ((x - m - s * 0.44) / 0.52) ** 2

    lungs = {}
    for s in (-1, 1):
        apex = yA + 0.8 * ((s * (X - m) - 0.4) / 0.5) ** 2
        lungs[s] = _edge(lat(s, Y) - s * (X - m), e) * _edge(Y - apex, 2 * e) * _edge(dome(s, X) - Y, e)
        lungs[s] *= _edge(s * (X - m), e)
    below = np.where(X < m, _edge(Y - dome(-1, X), e), _edge(Y - dome(1, X), e))
    an.update(dR=dR, dL=dL, lat=lat, yA=yA)
    # mediastinum: right border (SVC, right atrium), left border (aortic knob, PA, left ventricle)
    yc = rng.uniform(-0.42, -0.3)  # carina
    big = rng.random() < 0.2
    yht = yc + rng.uniform(0.22, 0.32)  # top of the right atrium (cavo-atrial junction)
    ru, lu = rng.uniform(0.13, 0.17), rng.uniform(0.1, 0.13)
    rb = rng.uniform(0.1, 0.16) + (0.06 if big else 0)
    apx = rng.uniform(0.6, 0.72) if big else rng.uniform(0.44, 0.55)
    ky, kb = yc - rng.uniform(0.0, 0.1), rng.uniform(0.06, 0.12)
    t_ra = np.clip((Y - yht) / (dR + 0.2 - yht), 0, 1)
    right = ru + 0.01 * (Y - yc) + rb * np.clip(np.sin(np.pi * t_ra), 0, 1) ** 0.6
    yap = dL - rng.uniform(0.0, 0.06)
    t_lv = np.clip((Y - yc - 0.12) / (yap - yc - 0.12), 0, None)
    lv = np.where(t_lv < 1, np.sin(np.pi / 2 * np.clip(t_lv, 0, 1)) ** 0.6, 1 - 2.5 * (t_lv - 1) ** 2)
    left = lu + kb * np.exp(-(((Y - ky) / 0.055) ** 2)) + 0.06 * np.exp(-(((Y - yc - 0.12) / 0.07) ** 2))
    left = np.maximum(left, lu + (apx - lu) * lv)
    wob = 1 + 0.03 * _field(rng, size, 0.15 * S)
    med = _edge(X - (mc - right * wob), e) * _edge(mc + left * wob - X, e) * _edge(Y + 2.2, 0.1)
    heart = med * _edge(Y - yht, 0.12)
    an.update(
        yc=yc, big=big, heart=(mc + (apx - ru - rb) / 2, (yht + dL) / 2, (apx + ru + rb) / 2, (dL - yht) / 2)
    )
    lung = lungs[-1] + lungs[1]
    depth = _gblur(lung, 0.05 * S)
    depth = np.sqrt(depth / (depth.max() + 1e-6)) * lung
    air = (1 - 0.92 * med + 0.2 * heart) * (0.6 * depth + 0.4 * _gblur(lung, 0.15 * S))
    # pathology: effusion, consolidation, pneumothorax
    vis = lung * (1 - 0.7 * med)  # where vessels are seen
    path = {}
    if rng.random() < 0.14:
        s, h = int(rng.choice([-1, 1])), rng.uniform(0.04, 0.45)
        level = dome(s, X) - h - 0.15 * h * ((s * (X - m)) / 0.9) ** 2 * 4
        eff = _edge(Y - level, 0.12) * (s * (X - m) > 0)
        air *= 1 - 0.92 * eff
        vis *= 1 - eff
        path["effusion"] = s
    if rng.random() < 0.18:
        s = int(rng.choice([-1, 1]))
        cy_, cx_ = rng.uniform(-0.5, 0.4), s * rng.uniform(0.35, 0.7)
        env = np.exp(-(((X - cx_) / 0.25) ** 2 + ((Y - cy_) / 0.25) ** 2))
        blob = _smooth((_field(rng, size, 0.08 * S) + 1.6 * env - 1.0) / 0.8) * env
        air *= 1 - rng.uniform(0.4, 0.8) * blob
        path["consolidation"] = s
    ptx_line = np.zeros_like(X)
    if rng.random() < 0.08:
        s = int(rng.choice([-1, 1]))
        g = rng.uniform(0.06, 0.22) * np.clip(0.6 - Y, 0.2, 1.2)
        r = s * (X - m) / lat(s, Y)
        ptx = lungs[s] * _edge(r - (1 - g), 0.01)
        vis *= 1 - ptx
        air += 0.25 * ptx
        ptx_line = lungs[s] * np.exp(-(((r - (1 - g)) * lat(s, Y) * S / 0.9) ** 2)) * _edge(0.3 - Y, 0.2)
        path["pneumothorax"] = s
    A -= rng.uniform(0.8, 1.05) * air
    A += 0.18 * ptx_line
    # trachea and main bronchi
    trachea = [(mc, -2.0), (mc - 0.005, -1.2), (mc - 0.025, -0.72), (mc - 0.01, yc)]
    rbr = [(mc - 0.01, yc), (mc - 0.1, yc + 0.1), (mc - 0.17, yc + 0.22), (mc - 0.26, yc + 0.5)]
    lbr = [(mc - 0.01, yc), (mc + 0.13, yc + 0.09), (mc + 0.22, yc + 0.2), (mc + 0.3, yc + 0.4)]
    aw_cv = fr.canvas()
    tw = rng.uniform(0.1, 0.13)
    fr.poly(aw_cv, _curve(trachea), tw, 255)
    fr.poly(aw_cv, _curve(rbr), 0.7 * tw, 200)
    fr.poly(aw_cv, _curve(lbr), 0.6 * tw, 200)
    A -= rng.uniform(0.3, 0.5) * fr.blur(aw_cv, 0.01 * S)
    an.update(trachea=trachea, rbr=rbr, tw=tw)
    # spine: bodies, discs, end plates, cortices, pedicles, spinous processes
    P = rng.uniform(0.125, 0.15)
    y0 = rng.uniform(0, P)
    xs = m + (0.03 * np.sin(1.8 * Y + rng.uniform(0, 6.3)) if rng.random() < 0.3 else 0)
    frac = ((Y - y0) / P) % 1.0
    vw = 0.072 + 0.022 * np.clip((Y + 1) / 1.7, 0, 1.3)
    dx = np.abs(X - xs)
    body = _edge(vw * (1 - 0.07 * np.sin(np.pi * frac) ** 2) - dx, e)
    disc = _edge(0.15 - frac, 0.05)
    plate = np.exp(-(((frac - 0.16) * P * S / 1.3) ** 2)) + np.exp(-(((1 - frac) * P * S / 1.3) ** 2))
    cortex = np.exp(-(((dx - vw) * S / 1.6) ** 2))
    A += bone_k * (body * (0.16 - 0.08 * disc + 0.06 * plate) + 0.07 * cortex * (1 - disc))
    ped = fr.canvas()
    for j in range(-12, 22):
        yv = y0 + j * P
        if not -2.0 < yv < 1.6:
            continue
        w_ = 0.072 + 0.022 * np.clip((yv + 1) / 1.7, 0, 1.3)
        ang, th = np.degrees(np.arctan2(fr.R[1, 0], fr.R[0, 0])), max(1, int(0.01 * S))
        for c_, ax_ in [
            ((0.68 * w_, 0.45), (0.022, 0.032)),
            ((-0.68 * w_, 0.45), (0.022, 0.032)),
            ((0, 0.75), (0.012, 0.035)),
        ]:
            cc = tuple(np.round(fr.px((m + c_[0], yv + c_[1] * P))[0] * 16).astype(int))
            axes = (int(ax_[0] * S * 16), int(ax_[1] * S * 16))
            cv2.ellipse(ped, cc, axes, ang, 0, 360, 255, th, cv2.LINE_AA, 4)  # pedicles, spinous process
    A += bone_k * 0.08 * fr.blur(ped, 0.6)
    # ribs: posterior and anterior arcs, each a fill plus a denser cortical rim
    pf, pi_, af, ai = fr.canvas(), fr.canvas(), fr.canvas(), fr.canvas()
    wr, cx_w = rng.uniform(0.05, 0.065), rng.uniform(0.012, 0.018)
    flat = 0.6 if lordotic else 1.0
    for k in range(12):
        yk = yA - 0.04 + (k + 0.4) * P + rng.normal(0, 0.006 * (1 + k))
        for s in (-1, 1):
            L = 0.5 if k == 0 else lat(s, yk + 0.2) + 0.04
            rho = (0.09 if k == 0 else 0.13) * (1.3 if lordotic else 1.0)  # radius of the lateral turn
            h_ant = np.pi - (0.2 + 0.035 * k) * flat  # anterior arcs run down and medially
            lp = max(0.1, L - 0.05 - rho * np.sin(0.45))
            turn = (rho * (h_ant - 0.65), h_ant - 0.65 + 0.2 * (1 - flat))
            segs = [(lp, 0.2 + 0.65 * flat), turn, (max(0.15, L - rho - 0.28), 0.08)]
            path = _turtle((m + s * 0.05, yk), -0.2 * flat, segs)
            path[:, 0] = m + s * (path[:, 0] - m)
            n_post = int((lp + 0.5 * segs[1][0]) / 0.01)
            cp, ca = path[: n_post + 1], path[n_post:]
            fr.poly(pf, cp, wr)
            fr.poly(pi_, cp, wr - 2 * cx_w)
            fr.poly(af, ca, 1.25 * wr)
            fr.poly(ai, ca, 1.25 * wr - 2 * cx_w)
    pf, pi_, af, ai = (fr.blur(c, 0.5) for c in (pf, pi_, af, ai))
    ribs = 0.09 * pf + 0.09 * (pf - pi_) + 0.05 * af + 0.04 * (af - ai)
    A += bone_k * ribs * (1 - 0.5 * med) * (1 - 0.75 * below)
    # clavicles, scapulae, humeral heads
    cf, ci = fr.canvas(), fr.canvas()
    yclav = rng.uniform(-0.84, -0.74) - (0.2 if lordotic else 0.0)
    for s in (-1, 1):
        up = -0.04 if lordotic else 1.0
        cl = [(mc + s * 0.06, yclav + 0.03), (mc + s * 0.3, yclav - 0.01), (s * 0.6, yclav - 0.05 * up)]
        cl = _curve(cl + [(s * 0.82, yclav - 0.13 * up), (s * (bw - 0.12), yclav - 0.16 * up)], 80)
        fr.poly(cf, cl, 0.075)
        fr.poly(ci, cl, 0.075 - 2 * cx_w)
        sc = fr.canvas()
        tip_ = (s * rng.uniform(0.6, 0.85), rng.uniform(-0.35, -0.1))
        scap = [(s * 0.58, ysh - 0.02), (s * (0.5 + 0.5 * abs(tip_[0])), 0.5 * (ysh + tip_[1])), tip_]
        scap += [(s * (bw - 0.12), ysh + 0.2), (s * (bw - 0.04), ysh), (s * 0.58, ysh - 0.02)]
        fr.fill(sc, _curve(scap, 80))
        scf = fr.blur(sc, 1.5)
        A += bone_k * (0.04 * scf + 0.2 * np.clip(scf - fr.blur(sc, 0.015 * S), 0, None))
    cf, ci = fr.blur(cf, 0.6), fr.blur(ci, 0.6)
    A += bone_k * (0.22 * cf + 0.14 * (cf - ci)) + bone_k * 0.3 * fr.blur(bone, 0.7)
    an.update(yclav=yclav)
    # pulmonary vessels: branching trees from the hila
    ves = fr.canvas()

    def branch(p, h, length, w, depth):
        q = p + length * np.array([np.cos(h), np.sin(h)])
        mid = (p + q) / 2 + rng.normal(0, 0.1 * length, 2)
        t = np.linspace(0, 1, 8)[:, None]
        fr.poly(ves, (1 - t) ** 2 * p + 2 * t * (1 - t) * mid + t**2 * q, w, min(255, 8000 * w))
        if depth < 5:
            for sgn in (-1, 1):
                branch(
                    q, h + sgn * rng.uniform(0.2, 0.55), length * rng.uniform(0.68, 0.85), w * 0.7, depth + 1
                )

    hila = {}
    for s in (-1, 1):
        hil = np.array(
            [mc + s * rng.uniform(0.17, 0.23), yc + rng.uniform(0.13, 0.25) - (0.05 if s > 0 else 0)]
        )
        hila[s] = hil
        for h in np.linspace(-1.35, 1.2, 6) + rng.normal(0, 0.1, 6):
            branch(hil, h if s > 0 else np.pi - h, rng.uniform(0.12, 0.18), rng.uniform(0.026, 0.036), 0)
    vk = rng.uniform(0.28, 0.5)
    A += vk * fr.blur(ves, 0.9) * vis
    for s in (-1, 1):
        A += 0.12 * np.exp(-(((X - hila[s][0]) ** 2 + (Y - hila[s][1]) ** 2) / 0.08**2)) * (0.3 + 0.7 * lung)
    A += (0.015 * _field(rng, size, 0.013 * S) + 0.03 * _field(rng, size, 0.05 * S)) * lung
    # breast shadows, gastric bubble
    if rng.random() < 0.3 + 0.3 * fat:
        br = rng.uniform(0.35, 0.5)
        for s in (-1, 1):
            bc = (s * rng.uniform(0.45, 0.7), rng.uniform(0.25, 0.55) + 0.5 * (dR + dL) - 0.5)
            A += (0.12 + 0.2 * fat) * _edge(br - np.hypot(X - bc[0], Y - bc[1]), 0.06) * _edge(Y - bc[1], 0.6)
    if rng.random() < 0.6:
        gx, gy = mc + rng.uniform(0.3, 0.5), dL + rng.uniform(0.1, 0.16)
        a_, b_ = rng.uniform(0.08, 0.15), rng.uniform(0.05, 0.08)
        bub = _edge(1 - np.hypot((X - gx) / a_, (Y - gy) / b_), 0.15) * _edge(gy + 0.3 * b_ - Y, e)
        A -= rng.uniform(0.3, 0.6) * bub
    an.update(hila=hila, path=path, lungs=lungs, med=med)
    return np.maximum(A, 0).astype(np.float32), an


# ----------------------------------------------------------------------------------- labelled lines
def _jit(rng, pts, sd=0.012):
    return [tuple(np.asarray(p) + rng.normal(0, sd, 2)) for p in pts]


def _venous(rng, an, entry):
    """Control points from an entry site to the top of the SVC (patient units)."""
    mc, yclav, bw, ysh = an["mc"], an["yclav"], an["bw"], an["ysh"]
    brachio = [(mc + 0.1, yclav + 0.05), (mc - 0.04, yclav + 0.1), (mc - 0.12, yclav + 0.16)]
    kind, s = entry
    if kind == "IJ":
        pts = [(mc + s * 0.25, -2.1), (mc + s * 0.23, -1.3), (mc + s * 0.18, yclav - 0.05)]
    elif kind == "SC":
        pts = [(s * rng.uniform(0.65, 0.8), yclav + rng.uniform(0.08, 0.16)), (s * 0.45, yclav + 0.05)]
        pts += [(mc + s * 0.2, yclav + 0.05)]
    else:  # PICC up the arm vein, across the axilla and under the clavicle
        top, bot = an["arms"].get(s, ((s * (bw + 0.02), ysh + 0.1), (s * (bw + 0.2), 1.8)))
        t = rng.uniform(-0.06, 0.06)
        pts = [
            (bot[0] + t, 1.8),
            ((top[0] + bot[0]) / 2 + t, (top[1] + bot[1]) / 2),
            (top[0] + 0.04 * s, ysh + 0.3),
        ]
        pts += [(s * (bw - 0.1), ysh + 0.2), (s * 0.6, yclav + 0.08), (mc + s * 0.2, yclav + 0.05)]
    return pts + (brachio if s > 0 else [(mc - 0.13, yclav + 0.12)])


def _lines(rng, an):
    """Labelled lines: list of (group, control points, width px @512, style)."""
    mc, yc, dL = an["mc"], an["yc"], an["dL"]
    hcx, hcy, ha, hb = an["heart"]
    yclav = an["yclav"]
    n = int(rng.choice([0, 1, 2, 3, 4], p=[0.1, 0.3, 0.3, 0.2, 0.1]))
    groups = list(rng.choice(GROUPS, n, replace=False, p=[0.32, 0.3, 0.3, 0.08]))
    if n and rng.random() < 0.15:
        groups.append("CVC")  # a second venous line
    svc_x = mc - rng.uniform(0.11, 0.15)
    ra = (svc_x - 0.03, hcy - hb + 0.15)
    out = []
    for g in groups:
        if g == "ETT":
            r = rng.random()
            if r < 0.72:
                tip = [(mc - 0.01, yc - rng.uniform(3, 7) * CM)]
            elif r < 0.85:
                tip = [(mc - 0.01, yc - rng.uniform(8, 12) * CM)]
            else:
                tip = [(mc - 0.05, yc + 0.05), (mc - 0.12, yc + rng.uniform(0.1, 0.2))]
            pts = [(mc + rng.uniform(-0.2, 0.2), -2.3), (mc + rng.uniform(-0.03, 0.03), -1.4)]
            pts += [p for p in an["trachea"][2:] if p[1] < tip[0][1] - 0.1] + tip
            w = rng.uniform(5, 8)
            if rng.random() < 0.7:
                style = {
                    "dens": rng.uniform(0.08, 0.2),
                    "core": 0.5,
                    "stripe": (rng.uniform(-0.55, 0.55), rng.uniform(1.5, 2.5), rng.uniform(0.7, 1.5)),
                }
            else:
                style = {"dens": rng.uniform(0.25, 0.5), "core": 0.85}
        elif g == "NGT":
            ox = mc + rng.uniform(0.025, 0.06)
            oeso = [(ox + rng.uniform(-0.1, 0.1), -2.3), (ox, -1.3), (ox, yc), (ox + 0.02, 0.05)]
            oeso += [(ox + 0.07, dL - 0.1), (ox + 0.13, dL + 0.04)]
            r = rng.random()
            if r < 0.78:
                stom = [
                    tuple(q)
                    for q in np.add(
                        (mc, dL), [(0.3, 0.14), (0.45, 0.2), (0.5, 0.32), (0.38, 0.42), (0.15, 0.45)]
                    )
                ]
                k = int(rng.integers(1, len(stom) + 1))
                pts = oeso + stom[:k] + ([(mc + 0.05, dL + 0.7)] if rng.random() < 0.1 else [])
            elif r < 0.9:  # coiled in the oesophagus
                yk = rng.uniform(-0.7, 0.1)
                pts = [p for p in oeso if p[1] < yk] + [tuple(q) for q in np.add((ox, yk), COIL)]
            else:  # down the right main bronchus
                pts = an["trachea"][:3] + an["rbr"] + [(mc - 0.32, yc + rng.uniform(0.6, 0.8))]
            w = rng.uniform(2.5, 4.0)
            style = {
                "dens": rng.uniform(0.25, 0.7),
                "core": rng.choice([0.0, 0.5]),
                "holes": [h * CM for h in (2.0, 4.5, 7.0)],
                "tip": (rng.uniform(0.4, 0.8) * CM, 0.4),
            }
        elif g == "CVC":
            kind = str(rng.choice(["IJ", "SC", "PICC"], p=[0.45, 0.25, 0.3]))
            s = int(rng.choice([-1, 1], p=[0.65, 0.35]))
            pts = _venous(rng, an, (kind, s))
            r = rng.random()
            if r < 0.85:
                ht = hcy - hb  # SVC, cavo-atrial junction or right atrium
                tips = [
                    rng.uniform(yclav + 0.3, ht - 0.1),
                    rng.uniform(ht - 0.1, ht + 0.02),
                    rng.uniform(ht + 0.02, ht + 0.2),
                ]
                ytip = rng.choice(tips, p=[0.5, 0.3, 0.2])
                pts += [(svc_x, yclav + 0.28)] if ytip > yclav + 0.3 else []
                pts += [(svc_x - (0.04 if ytip > hcy - hb else 0), ytip)]
            elif r < 0.93 and kind != "IJ":  # up the ipsilateral internal jugular
                pts = pts[: pts.index((mc + s * 0.2, yclav + 0.05)) + 1]
                pts += [(mc + s * 0.19, yclav - 0.15), (mc + s * 0.22, rng.uniform(-1.6, -1.1))]
            else:  # across to the contralateral arm vein
                pts += [(mc - 0.1 * s, yclav + 0.07), (-s * 0.45, yclav + 0.05)]
                pts += [(-s * rng.uniform(0.6, 1.0), yclav + 0.1)]
            w = rng.uniform(1.5, 2.5) if kind == "PICC" else rng.uniform(2.0, 3.8)
            style = {
                "dens": rng.uniform(0.08, 0.5) if kind == "PICC" else rng.uniform(0.15, 0.6),
                "core": float(rng.choice([0.0, 0.7], p=[0.7, 0.3])) if w > 2.4 else 0.0,
                "tip": (0.4 * CM, 0.2) if rng.random() < 0.3 else None,
            }
        else:  # Swan-Ganz through the right heart into a pulmonary artery
            entries = [("IJ", -1), ("SC", 1), ("SC", -1), ("IJ", 1)]
            entry = entries[int(rng.choice(4, p=[0.55, 0.2, 0.1, 0.15]))]
            pts = _venous(rng, an, entry) + [(svc_x, yclav + 0.3), (svc_x - 0.02, hcy - hb)]
            rx = min(0.3, ha * 0.6)
            pts += [(svc_x - 0.07, ra[1] + 0.08), (svc_x - 0.02, ra[1] + 0.2), (hcx - 0.05, hcy + 0.08)]  # RA
            pts += [
                (hcx + rx * 0.5, hcy),
                (hcx + rx * 0.3, hcy - hb * 0.6),
                (mc + 0.06, yc + 0.14),
            ]  # RV, MPA
            if rng.random() < 0.65:  # right or left pulmonary artery
                pts += [(mc - 0.06, yc + 0.1), (mc - 0.18, yc + 0.15)]
                pts += [(mc - rng.uniform(0.25, 0.4), yc + rng.uniform(0.18, 0.35))]
            else:
                pts += [(mc + 0.16, yc + 0.06), (mc + 0.27, yc + 0.09)]
                pts += [(mc + rng.uniform(0.32, 0.42), yc + rng.uniform(0.12, 0.25))]
            w = rng.uniform(2.5, 3.8)
            style = {"dens": rng.uniform(0.3, 0.7), "core": 0.0, "tip": (0.3 * CM, 0.3)}
        out.append((g, _jit(rng, pts[:1], 0.03) + _jit(rng, pts[1:-1]) + pts[-1:], w, style))
    return out


# ----------------------------------------------------------------------------------- distractors
def _wire(rng, start, heading, length, turn=0.6):
    """A draped wire: random walk of control points (patient units)."""
    pts, p, h = [np.asarray(start, float)], np.asarray(start, float), heading
    for _ in range(int(length / 0.15) + 1):
        h += rng.normal(0, turn)
        p = p + 0.15 * np.array([np.cos(h), np.sin(h)])
        pts.append(p)
    return _curve(pts, 200)


def _distractors(rng, an, fr, dev):
    """Render unlabelled look-alikes straight into the density map `dev`."""
    mc, yclav, bw, k = an["mc"], an["yclav"], an["bw"], fr.size / 512
    S = fr.S
    shapes = fr.canvas()
    n_ecg = int(rng.choice([0, 2, 3, 4, 5], p=[0.3, 0.2, 0.2, 0.2, 0.1]))
    sites = [(-0.75, -0.75), (0.75, -0.75), (-0.8, 0.55), (0.8, 0.6), (0.2, 0.3), (-0.3, 0.1), (0.5, 0.1)]
    for i in rng.choice(len(sites), n_ecg, replace=False):
        c = np.array(sites[i]) + rng.normal(0, 0.1, 2)
        cc = tuple(np.round(fr.px(c)[0] * 16).astype(int))
        cv2.circle(shapes, cc, int(0.018 * S * 16), 255, -1, cv2.LINE_AA, 4)
        if rng.random() < 0.5:
            cv2.circle(shapes, cc, int(0.07 * S * 16), 60, 1, cv2.LINE_AA, 4)
        h = rng.uniform(0, 2 * np.pi) if rng.random() < 0.5 else np.arctan2(-c[1] - 1.5, np.sign(c[0]) * 1.0)
        wire = _wire(rng, c, h, rng.uniform(0.8, 2.5), 0.35)
        if rng.random() < 0.5:
            a = fr.px(wire[:2])
            d = (a[1] - a[0]) / (np.hypot(*(a[1] - a[0])) + 1e-9)
            q = fr.px(c)[0] + d * 0.04 * S
            clip = [tuple(np.round(v * 16).astype(int)) for v in (fr.px(c)[0], q)]  # the lead's clip
            cv2.line(shapes, *clip, 200, max(2, int(0.025 * S)), cv2.LINE_AA, 4)
        w_, d_ = rng.uniform(1.2, 2.4) * k, rng.uniform(0.12, 0.5)
        _tube(dev, fr.px(wire), w_, d_, core=rng.choice([0.0, 0.5]))
    if rng.random() < 0.12:  # pacemaker / ICD generator with leads
        s = int(rng.choice([-1, 1], p=[0.25, 0.75]))
        g = np.array([s * rng.uniform(0.45, 0.7), yclav + rng.uniform(0.15, 0.3)])
        gw, gh, ga = rng.uniform(0.12, 0.16), rng.uniform(0.1, 0.14), rng.uniform(-0.5, 0.5)
        t = np.linspace(0, 2 * np.pi, 60)
        ct, st = np.cos(t), np.sin(t)
        box = np.stack([np.sign(ct) * np.abs(ct) ** 0.6 * gw, np.sign(st) * np.abs(st) ** 0.6 * gh], 1)
        R = np.array([[np.cos(ga), -np.sin(ga)], [np.sin(ga), np.cos(ga)]])
        gen = fr.canvas()
        fr.fill(gen, g + box @ R.T)
        dev += 2.2 * fr.blur(gen, 0.6)
        icd = rng.random() < 0.35
        for j in range(int(rng.choice([1, 2, 3], p=[0.35, 0.5, 0.15]))):
            hy, ht = an["heart"][1], an["heart"][1] - an["heart"][3]  # heart centre and top
            tip = [(mc + 0.25, hy + 0.15), (mc - 0.2, ht + 0.1), (mc + 0.35, hy)][j]  # RV apex, RA, CS
            hook = (tip[0] + 0.03, tip[1] - 0.08) if j == 1 else (tip[0] - 0.05, tip[1] - 0.05)
            loop = [
                g + R @ v
                for v in [(0, -gh), (gw * 1.4, -gh * 0.5), (gw * 0.8, gh * 1.3), (-gw * 1.3, gh * 0.3)]
            ]
            pts = loop + [(s * 0.5, yclav + 0.06), (mc + s * 0.2, yclav + 0.05), (mc - 0.13, yclav + 0.15)]
            pts += [(mc - 0.14, ht), hook, tip]
            coil = (0.05 * S, 0.35 * S, 0.5) if (icd and j == 0) else None
            lead = fr.px(_curve(_jit(rng, pts, 0.015), 400))
            _tube(dev, lead, rng.uniform(2.2, 3.2) * k, 0.5, tip=(0.02 * S, 0.6), coil=coil)
    if rng.random() < 0.08:  # sternal wires and surgical clips
        y = rng.uniform(-0.7, -0.55)
        for _ in range(int(rng.integers(4, 8))):
            t = np.linspace(0, 2 * np.pi, 40)
            loop = np.stack([mc + 0.04 * np.cos(t) + rng.normal(0, 0.01), y + 0.018 * np.sin(t)], 1)
            fr.poly(shapes, loop, 0.008, 255, closed=True)
            fr.poly(shapes, [(mc + 0.04, y), (mc + 0.07, y - 0.02), (mc + 0.06, y + 0.02)], 0.01, 255)
            y += rng.uniform(0.1, 0.15)
        for _ in range(int(rng.integers(0, 6))):
            c = np.array([mc + rng.uniform(-0.3, 0.3), rng.uniform(-0.3, 0.3)])
            fr.poly(shapes, [c, c + rng.normal(0, 0.025, 2)], 0.012, 220)
    if rng.random() < 0.1:  # chest drain
        s = int(rng.choice([-1, 1]))
        pts = [(s * (bw + 0.6), rng.uniform(0.1, 0.8)), (s * (bw - 0.05), rng.uniform(0.1, 0.4))]
        pts += [(s * 0.7, rng.uniform(-0.1, 0.2)), (s * rng.uniform(0.35, 0.6), rng.uniform(-0.75, -0.3))]
        drain, w_ = fr.px(_curve(_jit(rng, pts, 0.03))), rng.uniform(5, 8) * k
        stripe, holes = (rng.uniform(-0.5, 0.5), 1.8 * k, 0.6), [rng.uniform(0.05, 0.15) * S]
        _tube(dev, drain, w_, 0.06, core=0.5, stripe=stripe, holes=holes)
    for _ in range(int(rng.choice([0, 1, 2], p=[0.65, 0.25, 0.1]))):  # oxygen tubing / bedding
        start = (rng.choice([-1, 1]) * rng.uniform(0.3, 1.6), rng.uniform(-1.6, 1.0))
        tubing = fr.px(_wire(rng, start, rng.uniform(0, 6.3), rng.uniform(1.0, 3.0), 0.3))
        _tube(dev, tubing, rng.uniform(6, 12) * k, rng.uniform(0.05, 0.15), core=0.8)
    if rng.random() < 0.07:  # necklace
        t = np.linspace(-1, 1, int(rng.integers(25, 60)))
        pts = np.stack([mc + 0.3 * t, yclav - 0.15 + rng.uniform(0.15, 0.35) * (1 - t**2)], 1)
        for p in pts:
            bead = tuple(np.round(fr.px(p)[0] * 16).astype(int))
            cv2.circle(shapes, bead, int(0.008 * S * 16) + 8, 230, -1, cv2.LINE_AA, 4)
    if rng.random() < 0.06:  # bra underwires
        yb = an["dR"] + rng.uniform(-0.2, 0.05)
        for s in (-1, 1):
            t = np.linspace(0.2, np.pi - 0.2, 40)
            arc = np.stack([s * 0.55 + 0.25 * np.cos(t), yb + 0.12 * np.sin(t)], 1)
            fr.poly(shapes, arc, 0.012, 230)
    for _ in range(int(rng.choice([0, 1, 2], p=[0.8, 0.15, 0.05]))):  # skin fold: a one-sided edge
        s = int(rng.choice([-1, 1]))
        x0 = s * rng.uniform(0.6, 0.95)
        pts = fr.px(_curve([(x0, -0.7), (x0 + rng.normal(0, 0.08), 0.0), (x0 + rng.normal(0, 0.1), 0.7)]))
        ys, xs, sd, _, _ = _band(pts, 0.08 * S, fr.size)
        prof = np.clip(sd * s * -1 + 0.5, 0, 1) * np.exp(-np.abs(sd) / (0.03 * S))
        dev[ys, xs] += rng.uniform(0.08, 0.2) * prof.astype(np.float32)
    dev += 1.6 * fr.blur(shapes, 0.5)


# ----------------------------------------------------------------------------------- imaging chain
def _text(rng, img):
    size = img.shape[0]
    sc = size / 512
    font = int(rng.choice([cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_PLAIN, cv2.FONT_HERSHEY_DUPLEX]))
    fs = rng.uniform(0.35, 0.6) * sc * (1.6 if font == cv2.FONT_HERSHEY_PLAIN else 1)
    shade = int(rng.choice([255, 235, 0], p=[0.6, 0.25, 0.15]))
    words = ["PORTABLE", "AP SUPINE", "AP ERECT", "SEMI-ERECT", "MOBILE", "CHEST", "ICU", "SITTING"]
    words += [f"{rng.integers(1, 29):02d}/{rng.integers(1, 13):02d}/{rng.integers(2008, 2024)}"]
    words += [f"{rng.integers(0, 24):02d}:{rng.integers(0, 60):02d}", "PA", "AP", "SUPINE"]
    for j, w in enumerate(rng.choice(words, int(rng.integers(0, 4)), replace=False)):
        x = int(rng.uniform(0.03, 0.55) * size)
        y = int((rng.uniform(0.05, 0.12) if j % 2 == 0 else rng.uniform(0.9, 0.97)) * size)
        cv2.putText(img, str(w), (x, y), font, fs, shade, max(1, int(sc)), cv2.LINE_AA)
    if rng.random() < 0.85:  # lead side marker, usually on the patient's left (image right)
        letter = "L" if rng.random() < 0.75 else "R"
        x = (rng.uniform(0.75, 0.9) if letter == "L" else rng.uniform(0.05, 0.2)) * size
        y = rng.uniform(0.08, 0.3) * size
        big = fs * rng.uniform(1.5, 2.5)
        x, y = int(x), int(y)
        cv2.putText(
            img, letter, (x, y), cv2.FONT_HERSHEY_SIMPLEX, big, shade, max(1, int(2 * sc)), cv2.LINE_AA
        )
        if rng.random() < 0.4:
            b = int(22 * big)
            cv2.rectangle(img, (x - 4, y - b - 2), (x + b - 2, y + 6), shade, max(1, int(sc)))


def _chain(rng, A, size):
    """Density map -> display uint8 (bright = dense) and the exposed-field mask."""
    sc = size / 512
    Y, X = np.mgrid[0:size, 0:size].astype(np.float32)
    mu = rng.uniform(0.75, 1.25)
    T = np.exp(-mu * A)
    T = cv2.GaussianBlur(T, (0, 0), rng.uniform(0.5, 1.1) * sc)  # detector blur
    T = T + rng.uniform(0.05, 0.6) * _gblur(T, 0.12 * size)  # scatter haze
    T *= 1 + 0.15 * rng.uniform(-1, 1) * (X / size - 0.5)  # heel effect
    dose = float(np.exp(rng.uniform(np.log(1500), np.log(40000))))
    nrng = rng.spawn(1)[0]  # own stream for the size-dependent draws: one scene at every size
    n = cv2.GaussianBlur(
        nrng.standard_normal((size, size)).astype(np.float32), (0, 0), rng.uniform(0.4, 1.2) * sc
    )
    n /= n.std() + 1e-6
    T = T + np.sqrt(T / dose) * n + rng.uniform(0, 0.002) * _field(nrng, size, 3)
    L = -np.log(np.clip(T, 1e-4, None))
    if rng.random() < 0.2:  # anti-scatter grid lines
        per, a = rng.uniform(2.2, 8.0) * sc, rng.uniform(0.004, 0.02)
        L += a * np.sin(2 * np.pi * ((Y if rng.random() < 0.3 else X) / per))
    lo, hi = np.percentile(L, [0.5, rng.uniform(99, 99.9)])
    lo += rng.uniform(-0.1, 0.25) * (hi - lo)
    x = (L - lo) / (hi - lo + 1e-6)
    if rng.random() < 0.8:  # equalisation: compress the large-scale range, keep the detail
        b = _gblur(x, rng.uniform(0.03, 0.1) * size)
        x = x - rng.uniform(0.2, 0.7) * (b - b.mean())
    if rng.random() < 0.5:  # unsharp masking, mild to heavy
        sig = rng.uniform(0.006, 0.03) * size
        x = x + rng.uniform(0.2, 1.5) * (x - _gblur(x, sig))
    lo, hi = np.percentile(x, [0.5, 99.7])
    x = (x - lo) / (hi - lo + 1e-6)
    if rng.random() < 0.3:
        x = x + rng.uniform(0.2, 0.8) * (x - cv2.GaussianBlur(x, (0, 0), rng.uniform(1.0, 2.5) * sc))
    x = np.clip(x + rng.uniform(-0.12, 0.12), 0, 1)
    if rng.random() < 0.5:
        x = x ** rng.uniform(0.6, 1.6)
    else:
        g, c = rng.uniform(4, 9), rng.uniform(0.35, 0.65)
        f0, f1 = 1 / (1 + np.exp(g * c)), 1 / (1 + np.exp(-g * (1 - c)))
        x = (1 / (1 + np.exp(-g * (x - c))) - f0) / (f1 - f0)
    img = np.round(np.clip(x, 0, 1) * 255).astype(np.uint8)
    # collimation: black or white borders, sometimes a rotated edge
    field = np.ones((size, size), np.float32)
    for side in range(4):
        if rng.random() < 0.3:
            wdt = rng.uniform(0.01, 0.07) * size
            dist = [X, Y, size - 1 - X, size - 1 - Y][side]
            field *= dist > wdt
    if rng.random() < 0.15:
        a = rng.uniform(0, 2 * np.pi)
        cx, cy = size / 2 + 0.47 * size * np.cos(a), size / 2 + 0.47 * size * np.sin(a)
        b = a + rng.uniform(-0.3, 0.3)
        field *= ((X - cx) * np.cos(b) + (Y - cy) * np.sin(b)) < 0
    if field.min() == 0:
        v = 0 if rng.random() < 0.5 else int(rng.uniform(200, 255))
        fb = cv2.GaussianBlur(field, (0, 0), 0.7 * sc)
        img = np.round(img * fb + v * (1 - fb)).astype(np.uint8)
    _text(rng, img)
    if rng.random() < 0.5:
        _, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(50, 96))])
        img = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    return img, field


# ----------------------------------------------------------------------------------- assembly
def _longest_run(ok):
    best, start = (0, 0), None
    for i, v in enumerate(np.append(ok, False)):
        if v and start is None:
            start = i
        elif not v and start is not None:
            if i - start > best[1] - best[0]:
                best = (start, i)
            start = None
    return best


def _make(seed, size, draw_lines=True):
    rng = np.random.default_rng(seed)
    scene_rng, line_rng, dist_rng, chain_rng = rng.spawn(4)
    r = scene_rng
    scale = size * r.uniform(0.36, 0.5)  # zoom; off-centre framing sometimes crops apices or bases
    fr = _Frame(size, scale, r.normal(0, 0.04), (size * r.uniform(0.43, 0.57), size * r.uniform(0.4, 0.6)))
    A, an = _anatomy(r, fr)
    k = size / 512
    dev = np.zeros_like(A)
    _distractors(dist_rng, an, fr, dev)
    lines, widths = [], []
    for g, ctrl, w, st in _lines(line_rng, an):
        path = fr.px(_curve(ctrl, 600))
        wpx = w * k
        if draw_lines:
            tip = st.get("tip")
            _tube(
                dev,
                path,
                wpx,
                st["dens"],
                core=st.get("core", 0.0),
                stripe=st.get("stripe"),
                holes=[h * fr.S for h in st.get("holes", [])],
                tip=None if tip is None else (tip[0] * fr.S, tip[1]),
            )
        lines.append((g, path))
        widths.append(float(wpx))
    img, field = _chain(chain_rng, A + dev, size)
    out_lines, out_w = [], []
    for (g, path), w in zip(lines, widths):
        p = _resample(path, 0.5)
        ins = (p[:, 0] >= 0) & (p[:, 0] <= size - 1) & (p[:, 1] >= 0) & (p[:, 1] <= size - 1)
        ix, iy = (
            np.clip(np.round(p[:, 0]), 0, size - 1).astype(int),
            np.clip(np.round(p[:, 1]), 0, size - 1).astype(int),
        )
        a, b = _longest_run(ins & (field[iy, ix] > 0.5))
        if (b - a) * 0.5 < 0.03 * size:  # (almost) nothing of it is visible
            continue
        out_lines.append((str(g), p[a:b].astype(np.float32)))
        out_w.append(w)
    return IndependentStudy(image=img, lines=out_lines, widths=out_w)


def make_study(seed: int, size: int = 512) -> IndependentStudy:
    """One synthetic chest radiograph with its labelled lines; deterministic from `seed`."""
    return _make(seed, size)


# ----------------------------------------------------------------------------------- review
COLOURS = {"ETT": (0, 255, 0), "NGT": (0, 220, 255), "CVC": (255, 200, 0), "Swan": (255, 0, 255)}


def _overlay(st):
    rgb = cv2.cvtColor(st.image, cv2.COLOR_GRAY2BGR)
    for j, (g, p) in enumerate(st.lines):
        cv2.polylines(rgb, [np.round(p * 16).astype(np.int32)], False, COLOURS[g], 1, cv2.LINE_AA, 4)
        cv2.circle(rgb, tuple(np.round(p[-1]).astype(int)), 4, COLOURS[g], 1, cv2.LINE_AA)
        cv2.putText(rgb, g, (6, 16 + 14 * j), cv2.FONT_HERSHEY_SIMPLEX, 0.45, COLOURS[g], 1, cv2.LINE_AA)
    return rgb


def contact_sheet(path, seeds=range(12), size=512):
    tiles = []
    for sd in seeds:
        st = make_study(sd, size)
        tiles.append(np.hstack([cv2.cvtColor(st.image, cv2.COLOR_GRAY2BGR), _overlay(st)]))
    rows = [np.hstack(tiles[i : i + 4]) for i in range(0, len(tiles), 4)]
    cv2.imwrite(path, np.vstack(rows))


def self_check(n=40, size=512):
    """Centrelines inside the image, <= 1 px spacing, and on the rendered lines (the image differs
    from the same study rendered without its labelled lines, and is brighter on them than beside)."""
    t0, hits, contrast, count = time.perf_counter(), [], [], 0
    for sd in range(n):
        st = make_study(sd, size)
        bare = _make(sd, size, draw_lines=False).image.astype(np.float32)
        img = st.image.astype(np.float32)
        assert st.image.shape == (size, size) and st.image.dtype == np.uint8
        assert len(st.lines) == len(st.widths)
        for (g, p), w in zip(st.lines, st.widths):
            count += 1
            assert g in GROUPS and p.dtype == np.float32 and p.ndim == 2 and p.shape[1] == 2
            assert p.min() >= 0 and p.max() <= size - 1, "centreline outside the image"
            assert np.hypot(*np.diff(p, axis=0).T).max() <= 1.0 + 1e-4, "spacing > 1 px"
            ix, iy = np.round(p[:, 0]).astype(int), np.round(p[:, 1]).astype(int)
            hits.append(np.mean(np.abs(img[iy, ix] - bare[iy, ix]) >= 2))
            tan = np.gradient(p, axis=0)
            nrm = np.stack([-tan[:, 1], tan[:, 0]], 1) / (np.hypot(*tan.T)[:, None] + 1e-9)
            side = []
            for sgn in (-1, 1):
                q = np.clip(np.round(p + sgn * (w / 2 + 3) * nrm), 0, size - 1).astype(int)
                side.append(img[q[:, 1], q[:, 0]])
            contrast.append(np.mean(img[iy, ix] - 0.5 * (side[0] + side[1])))
    dt = (time.perf_counter() - t0) / (2 * n)
    hits, contrast = np.array(hits), np.array(contrast)
    print(f"{count} lines in {n} studies, {dt * 1000:.0f} ms per render at {size} px")
    print(f"centreline points changed by the line: median {np.median(hits):.2f}, min {hits.min():.2f}")
    print(
        f"on-line minus beside-line grey: mean {contrast.mean():.1f}, positive for {np.mean(contrast > 0):.0%}"
    )
    assert np.median(hits) > 0.8 and contrast.mean() > 0 and np.mean(contrast > 0) > 0.75


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "/tmp/independent_chest_sheet.png"
    contact_sheet(out)
    print("wrote", out)
    self_check()
