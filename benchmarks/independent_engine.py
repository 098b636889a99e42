"""An independent synthetic cardiac EP fluoroscopy frame generator, for hold-out testing ONLY.

NEVER use these frames for training, tuning or model selection. They exist to measure how a
network trained on cathx's own synthetic engine transfers to frames drawn by a different author
with different design choices; any use beyond evaluation voids that measurement.

What it draws (everything composed directly in display space, bright = open field):
  * anatomy: heart shadow with a wobbly outline, spine with vertebral bodies, disc spaces,
    end plates and pedicles, posterior ribs with cortical edges, two diaphragm domes, lung
    texture at three scales plus hilar vessel streaks, soft-tissue gradients and vignetting;
  * labelled catheters (1-4, occasionally none): CS decapolar along the AV groove, ablation with
    a deflected tip, lasso loop seen as an ellipse, quadripolar (RVA / His / HRA), pacing lead;
    each traced by a curvature "turtle" from the distal tip until it leaves the frame;
  * unlabelled distractors: ECG skin electrodes with wires, sternal wire loops, a J guidewire,
    thin leads, a transseptal sheath, an oesophageal temperature probe, an implant can;
  * imaging chain: optional device motion smear, shutters or an iris, detector blur, Poisson
    noise on a power-law pseudo-intensity, optional unsharp masking, window/gamma, burned-in
    text, optional JPEG at quality 60-95.

Devices are alpha-blended towards a device grey level (not attenuated along a line integral), so a
device over the spine is less conspicuous than over lung, as on many real displays.

Usage: python benchmarks/independent_engine.py OUT.png  (writes a 4x4 contact sheet)
"""

from __future__ import annotations

import collections.abc
import sys

import cv2
import numpy as np
from scipy.spatial import cKDTree

from cathx.structures import Sample

STEP = 0.5  # turtle step, px
TWO_PI = 2.0 * np.pi


def _smooth(x):
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _field(rng, size, corr_px):
    """Smooth zero-mean unit-variance random field with correlation length ~corr_px."""
    n = max(3, round(size / max(corr_px, 1.0)) + 3)
    small = rng.standard_normal((n, n)).astype(np.float32)
    big = cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC)
    return (big - big.mean()) / (big.std() + 1e-6)


def _resample(pts, step):
    seg = np.hypot(*np.diff(pts, axis=0).T)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    t = np.arange(0.0, s[-1] + 1e-9, step)
    return np.stack([np.interp(t, s, pts[:, 0]), np.interp(t, s, pts[:, 1])], 1)


def _inside(p, size):
    return -0.5 <= p[0] <= size - 0.5 and -0.5 <= p[1] <= size - 0.5


def _walk(rng, size, start, heading, segments, goal, kmax, wander=0.002, prefix=None):
    """Trace a device from its distal end: fixed-curvature segments (length px, curvature 1/px),
    then steer towards heading `goal` (radians, y down) until the path leaves the frame."""
    pts = [] if prefix is None else list(prefix)
    p = np.array(start, float)
    h = float(heading)
    pts.append(p.copy())
    ks = [np.full(max(1, int(length / STEP)), k) for length, k in segments]
    ks = np.concatenate(ks) if ks else np.zeros(0)
    limit = len(ks) + int(8 * size / STEP)
    jitter = (
        rng.spawn(1)[0].standard_normal(limit) * wander * 256 / size
    )  # own stream: scene is size-invariant
    w = 0.0
    for i in range(limit):
        w = 0.96 * w + jitter[i]
        if i < len(ks):
            k = ks[i] + w
        else:
            err = (goal - h + np.pi) % TWO_PI - np.pi
            k = float(np.clip(0.05 * err, -kmax, kmax)) + w
        h += k * STEP
        p = p + STEP * np.array([np.cos(h), np.sin(h)])
        pts.append(p.copy())
        if not _inside(p, size):
            break
    pts = np.array(pts)
    ok = np.array([_inside(q, size) for q in pts])
    bad = np.nonzero(~ok)[0]
    return pts if len(bad) == 0 else pts[: bad[0] + 1]


def _device(pts, r, alpha, grey, core=0.2, elecs=(), kind=None):
    """elecs: (s_centre px from tip, length px, radius px, alpha, grey)."""
    return {
        "pts": pts,
        "r": r,
        "alpha": alpha,
        "grey": grey,
        "core": core,
        "elecs": list(elecs),
        "kind": kind,
    }


def _render(D, dev):
    """Composite a device into D in place; return (ys, xs) of its labelled pixels."""
    size = D.shape[0]
    pts = dev["pts"]
    dense = _resample(pts, STEP / 2) if len(pts) > 1 else pts
    r = dev["r"]
    band = max([r] + [e[2] for e in dev["elecs"]]) + 1.5
    canvas = np.zeros((size, size), np.uint8)
    cv2.polylines(
        canvas, [np.round(pts * 16).astype(np.int32)], False, 1, int(2 * np.ceil(band)) + 1, cv2.LINE_8, 4
    )
    ys, xs = np.nonzero(canvas)
    d, idx = cKDTree(dense).query(np.stack([xs, ys], 1).astype(float), distance_upper_bound=band + 1)
    ok = np.isfinite(d)
    ys, xs, d, s = ys[ok], xs[ok], d[ok], idx[ok] * (STEP / 2)
    edge = np.clip((r - d) / 0.8 + 0.5, 0.0, 1.0)
    chord = np.sqrt(np.clip(1.0 - (d / r) ** 2, 0.0, 1.0))
    a = np.clip(
        dev["alpha"] * edge * (0.7 + 0.3 * chord + dev["core"] * np.exp(-((d / (0.45 * r)) ** 2))), 0, 0.97
    )
    v = D[ys, xs] * (1 - a) + a * dev["grey"]
    label = d <= r + 0.2
    for sc, length, re, ae, ge in dev["elecs"]:
        ws = np.clip((max(length, 1.1) / 2 - np.abs(s - sc)) / 0.7 + 0.5, 0.0, 1.0)
        a = ae * ws * np.clip((re - d) / 0.7 + 0.5, 0.0, 1.0)
        v = v * (1 - a) + a * ge
        label |= (np.abs(s - sc) <= max(length / 2, 0.5)) & (d <= re + 0.2)
    D[ys, xs] = v
    return ys[label], xs[label]


# ----------------------------------------------------------------------------------- anatomy
def _background(rng, size, ppm, meta):
    W = size
    Y, X = np.mgrid[0:W, 0:W].astype(np.float32)
    D = np.full((W, W), rng.uniform(0.78, 0.95), np.float32)
    gx, gy = rng.uniform(-0.15, 0.15, 2)
    D *= 1 + gx * (X / W - 0.5) + gy * (Y / W - 0.5)
    D *= 1 - rng.uniform(0.0, 0.2) * (((X - W / 2) ** 2 + (Y - W / 2) ** 2) / (W / 2) ** 2)
    # heart: rotated ellipse with a few Fourier wobbles on its outline
    cx, cy = rng.uniform(0.42, 0.62) * W, rng.uniform(0.45, 0.62) * W
    rx, ry = rng.uniform(55, 75) * ppm, rng.uniform(48, 65) * ppm
    ang = rng.uniform(-0.6, 0.2)
    xr = (X - cx) * np.cos(ang) + (Y - cy) * np.sin(ang)
    yr = -(X - cx) * np.sin(ang) + (Y - cy) * np.cos(ang)
    rn = np.sqrt((xr / rx) ** 2 + (yr / ry) ** 2)
    th = np.arctan2(yr / ry, xr / rx)
    bound = 1.0 + sum(rng.uniform(0, 0.06) * np.cos(k * th + rng.uniform(0, TWO_PI)) for k in (2, 3, 4))
    heart = _smooth((bound - rn) / 0.15 + 0.5)
    D *= 1 - rng.uniform(0.15, 0.35) * heart * (0.75 + 0.25 * np.clip(1 - rn**2, 0, 1))
    # two diaphragm domes, meeting in a cusp under the heart
    y1, y2 = rng.uniform(0.7, 1.05) * W, rng.uniform(0.75, 1.1) * W
    x1, x2 = cx - rng.uniform(0.2, 0.35) * W, cx + rng.uniform(0.15, 0.3) * W
    k1, k2 = rng.uniform(1.0, 2.5, 2) / W
    yd = np.minimum(y1 + k1 * (X - x1) ** 2, y2 + k2 * (X - x2) ** 2)
    below = _smooth((Y - yd) / (8 * ppm) + 0.5)
    D *= 1 - rng.uniform(0.15, 0.35) * below
    lung = (1 - heart) * (1 - below)
    # spine with vertebral bodies, discs, end plates and pedicles
    sx, tilt, hw = rng.uniform(0.35, 0.62) * W, rng.uniform(-0.08, 0.08), rng.uniform(17, 25) * ppm
    xs = sx + tilt * (Y - W / 2)
    period, phase = rng.uniform(24, 32) * ppm, rng.uniform(0, 1)
    frac = ((Y / period) + phase) % 1.0
    dfrac = 6 * ppm / period
    disc = _smooth((dfrac - frac) / 0.08 + 0.5)
    plate = np.exp(-(((frac - dfrac) * period / (1.3 * ppm)) ** 2)) + np.exp(
        -(((frac - 1) * period / (1.3 * ppm)) ** 2)
    )
    dx = np.abs(X - xs) / (1 - 0.08 * np.sin(np.pi * frac) ** 2)  # bodies have a concave waist
    band = _smooth((hw - dx) / (9 * ppm) + 0.5)
    cortex = np.exp(-(((dx - hw) / (2.5 * ppm)) ** 2)) * rng.uniform(0.0, 0.3)
    a_sp = rng.uniform(0.15, 0.4)
    D *= 1 - a_sp * (band * (0.9 - rng.uniform(0.1, 0.3) * disc + rng.uniform(0.05, 0.25) * plate) + cortex)
    layer = np.zeros((W, W), np.float32)
    y = (-phase) * period + dfrac * period
    while y < W + period:
        for side in (-1, 1):
            c = (int(16 * (sx + tilt * (y - W / 2) + side * 0.6 * hw)), int(16 * (y + 0.35 * period)))
            ax = (int(16 * 3.5 * ppm), int(16 * 5 * ppm))
            cv2.ellipse(layer, c, ax, 0, 0, 360, 1.0, max(1, int(1.5 * ppm)), cv2.LINE_AA, 4)
        y += period
    D *= 1 - rng.uniform(0.05, 0.15) * cv2.GaussianBlur(layer, (0, 0), 0.8 * ppm)
    # posterior ribs (fill + denser cortical edges), clearest over lung
    fill, outer = np.zeros((W, W), np.float32), np.zeros((W, W), np.float32)
    gap, wr = rng.uniform(24, 34) * ppm, rng.uniform(8, 12) * ppm
    t = np.linspace(0, 1, 40)
    for y0 in np.arange(rng.uniform(-1, 0) * gap - 0.2 * W, 1.1 * W, gap):
        for side in (-1, 1):
            length = rng.uniform(100, 160) * ppm
            px = sx + tilt * (y0 - W / 2) + side * (hw + t * length)
            py = y0 + (-0.12 * t + 0.55 * t * t) * length
            poly = [np.round(np.stack([px, py], 1) * 16).astype(np.int32)]
            cv2.polylines(outer, poly, False, 1.0, int(wr), cv2.LINE_AA, 4)
            cv2.polylines(fill, poly, False, 1.0, max(1, int(wr - 3 * ppm)), cv2.LINE_AA, 4)
    ribs = rng.uniform(0.0, 0.05) * fill + rng.uniform(0.02, 0.1) * (outer - fill)
    D *= 1 - cv2.GaussianBlur(ribs, (0, 0), 1.2 * ppm) * (0.35 + 0.65 * lung)
    # lung texture at three scales and hilar vessel streaks
    tex = sum(wt * _field(rng, W, sc * ppm) for wt, sc in zip(rng.dirichlet([2, 2, 1]), (3, 9, 25)))
    D *= 1 + rng.uniform(0.01, 0.04) * tex * (0.3 + 0.7 * lung)
    ves = np.zeros((W, W), np.float32)
    for hx in (cx - 0.7 * rx, cx + 0.6 * rx):
        for _ in range(int(rng.integers(6, 14))):
            n = int(rng.uniform(30, 80) * ppm)
            h = rng.uniform(0, TWO_PI) + np.cumsum(rng.normal(0, 0.05, n))
            p = np.array([hx, cy - 0.4 * ry]) + np.cumsum(np.stack([np.cos(h), np.sin(h)], 1), 0)
            cv2.polylines(
                ves, [np.round(p * 16).astype(np.int32)], False, 1.0, max(1, int(1.5 * ppm)), cv2.LINE_AA, 4
            )
    D *= 1 - rng.uniform(0.02, 0.07) * cv2.GaussianBlur(ves, (0, 0), 0.7 * ppm) * lung
    meta.update(heart_centre=(float(cx), float(cy)), spine_x=float(sx))
    return D, (cx, cy, 0.5 * (rx + ry), sx)


# ----------------------------------------------------------------------------------- catheters
QUAD_SITES = {  # RV apex, His bundle, high right atrium
    "rva": ((-0.1, 0.3, 0.3, 0.6), (-2.6, -1.9), (20, 40)),
    "his": ((-0.3, 0.0, -0.2, 0.1), (2.0, 2.8), (10, 20)),
    "hra": ((-0.7, -0.4, -0.7, -0.4), (1.2, 1.9), (10, 30)),
}
PACE_RA = ((-0.5, -0.2, -0.7, -0.5), (-2.0, -0.8))


def _catheter(rng, size, ppm, kind, anat, k_contrast):
    cx, cy, R, _ = anat
    mm = ppm
    r = rng.uniform(2.0, 2.3) / 2 * mm
    alpha = rng.uniform(0.3, 0.65) * k_contrast
    grey = rng.uniform(0.02, 0.25)
    ae, ge = min(0.97, rng.uniform(0.65, 0.95) * (0.5 + 0.5 * k_contrast)), rng.uniform(0.0, 0.1)
    re = r * rng.uniform(1.05, 1.2)
    down = np.pi / 2 + rng.uniform(-0.35, 0.35)
    s_list = []  # (s_centre mm, length mm, radius px)
    if kind == "cs_decapolar":
        rc = rng.uniform(25, 45) * mm
        c = np.array([cx + rng.uniform(-0.1, 0.15) * R, cy + rng.uniform(-0.05, 0.2) * R])
        tt = rng.uniform(-1.0, 0.2)
        tip = c + rc * np.array([np.cos(tt), np.sin(tt)])
        goal = down if rng.random() < 0.65 else -np.pi / 2 + rng.uniform(-0.4, 0.2)
        pts = _walk(rng, size, tip, tt + np.pi / 2, [(rng.uniform(45, 90) * mm, 1 / rc)], goal, 1 / (12 * mm))
        length, inner, outer = rng.choice([1.0, 2.0]), rng.uniform(2.0, 2.5), rng.uniform(5, 8)
        s = length / 2
        for i in range(10):
            s_list.append((s, length, re))
            s += (inner if i % 2 == 0 else outer) + (length if i % 2 == 0 else 0)
    elif kind == "ablation":
        tip = np.array([cx + rng.uniform(-0.3, 0.5) * R, cy + rng.uniform(-0.6, 0.1) * R])
        turn, rad = rng.uniform(0.3, 3.0), rng.uniform(8, 20) * mm
        segs = [(rng.uniform(5, 15) * mm, 0.0), (turn * rad, rng.choice([-1, 1]) / rad)]
        pts = _walk(rng, size, tip, rng.uniform(0, TWO_PI), segs, down, 1 / (15 * mm))
        lt = rng.choice([3.5, 4.0, 8.0], p=[0.4, 0.45, 0.15])
        gaps = [1, 7, 4] if rng.random() < 0.5 else [2, 5, 2]
        s_list.append((lt / 2, lt, r * rng.uniform(1.15, 1.3)))
        s = lt
        for g in gaps:
            s_list.append((s + g + 0.5, 1.0, re))
            s += g + 1.0
    elif kind == "lasso":
        c = np.array([cx + rng.uniform(0.0, 0.6) * R, cy + rng.uniform(-0.7, -0.1) * R])
        rad = rng.uniform(15, 25) / 2 * mm
        ratio, rot = rng.uniform(0.25, 1.0), rng.uniform(0, np.pi)
        t0, sweep = rng.uniform(0, TWO_PI), rng.uniform(5.2, 5.9)
        t = t0 + rng.choice([-1, 1]) * np.linspace(0, sweep, 400)
        e = np.stack([rad * np.cos(t), rad * ratio * np.sin(t)], 1)
        loop = c + e @ np.array([[np.cos(rot), np.sin(rot)], [-np.sin(rot), np.cos(rot)]])
        loop = _resample(loop, STEP)
        h = np.arctan2(*(loop[-1] - loop[-3])[::-1])
        bend = rng.uniform(4, 8) * mm
        segs = [(rng.uniform(0.5, 1.5) * bend, rng.choice([-1, 1]) / bend)]
        pts = _walk(rng, size, loop[-1], h, segs, down, 1 / (15 * mm), prefix=loop[:-1])
        n = int(rng.choice([10, 20]))
        loop_len = (len(loop) - 1) * STEP / mm
        for s in np.linspace(1.0, loop_len - 2.0, n):
            s_list.append((s, 1.0, re))
        r *= 0.85  # the loop is thinner than an ablation shaft
    elif kind == "quadripolar":
        site = QUAD_SITES[str(rng.choice(list(QUAD_SITES)))]  # tip box (x, y in R), heading, straight mm
        (x0, x1, y0, y1), heading, straight = site
        tip = (cx + rng.uniform(x0, x1) * R, cy + rng.uniform(y0, y1) * R)
        h0, straight = rng.uniform(*heading), rng.uniform(*straight)
        pts = _walk(rng, size, tip, h0, [(straight * mm, 0.0)], down, 1 / (20 * mm))
        spacing = rng.choice([5.0, 10.0]) + rng.uniform(-0.5, 0.5)
        s_list = [(1.0 + i * spacing, 2.0, re) for i in range(4)]
    else:  # pacing lead, up to a pectoral can
        (x0, x1, y0, y1), heading = ((-0.3, 0.2, 0.3, 0.7), (-2.4, -1.2)) if rng.random() < 0.6 else PACE_RA
        tip, h0 = (cx + rng.uniform(x0, x1) * R, cy + rng.uniform(y0, y1) * R), rng.uniform(*heading)
        slack = rng.uniform(30, 60) * mm
        segs = [(rng.uniform(40, 80) * mm, rng.choice([-1, 1]) / slack)]
        pts = _walk(rng, size, tip, h0, segs, -np.pi / 2 + rng.uniform(0.0, 0.6), 1 / (25 * mm))
        alpha, grey = min(0.9, alpha * 1.3), grey * 0.6
        lt = rng.uniform(1.5, 2.0)
        lr = rng.uniform(2, 3)
        s_list = [(lt / 2, lt, re), (lt + rng.uniform(10, 20) + lr / 2, lr, re)]
    elecs = [(s * mm, L * mm, er, ae, ge) for s, L, er in s_list]
    return _device(pts, r, alpha, grey, rng.uniform(0.0, 0.4), elecs, kind)


def _distractors(rng, size, ppm, anat, k_contrast, names):
    cx, cy, R, sx = anat
    mm, W, out = ppm, size, []
    for _ in range(int(rng.choice([0, 1, 2, 3], p=[0.25, 0.3, 0.3, 0.15]))):  # ECG skin electrodes
        names.append("ecg")
        p = rng.uniform(0.05, 0.95, 2) * W
        rad = rng.uniform(8, 12) * mm
        t = np.linspace(0, TWO_PI, 90)
        out.append(_device(p + rad * np.stack([np.cos(t), np.sin(t)], 1), 0.6 * rad, 0.08, 0.3, 0.0))
        t = np.linspace(0, TWO_PI, 30)
        out.append(_device(p + 1.5 * mm * np.stack([np.cos(t), np.sin(t)], 1), 0.9 * mm, 0.85, 0.05, 0.0))
        h0, run, goal = rng.uniform(0, TWO_PI), rng.uniform(10, 40) * mm, rng.uniform(0, TWO_PI)
        wire = _walk(rng, size, p, h0, [(run, 0.0)], goal, 1 / (20 * mm), 0.004)
        out.append(_device(wire, rng.uniform(0.4, 0.6) * mm, rng.uniform(0.25, 0.6), 0.1, 0.0))
    if rng.random() < 0.3:  # sternal wire loops on the midline
        names.append("sternal_wires")
        x0, y = sx + rng.uniform(-15, 15) * mm, rng.uniform(-0.1, 0.3) * W
        for _ in range(int(rng.integers(3, 7))):
            w2, h2 = rng.uniform(5, 8) * mm, rng.uniform(1.5, 3.5) * mm
            t = np.linspace(0, TWO_PI, 80)
            loop = np.stack([x0 + w2 * np.cos(t), y + h2 * np.sin(t)], 1)
            knot = np.array([[x0 + w2, y]]) + mm * np.array(
                [[0, 0], [3, -1.5], [1, 1.5], [4, 0]]
            )  # the twist
            for poly in (loop, _resample(knot, 0.5)):
                out.append(_device(poly, rng.uniform(0.5, 0.7) * mm, 0.9, 0.02, 0.3))
            y += rng.uniform(18, 28) * mm
            x0 += rng.uniform(-3, 3) * mm
    if rng.random() < 0.25:  # J-tipped guidewire from below
        names.append("guidewire")
        tip = (cx + rng.uniform(-0.6, 0.6) * R, cy + rng.uniform(-0.6, 0.4) * R)
        j = 3 * mm
        gw = _walk(rng, size, tip, rng.uniform(0, TWO_PI), [(np.pi * j, 1 / j)], np.pi / 2, 1 / (30 * mm))
        out.append(_device(gw, 0.45 * mm, rng.uniform(0.5, 0.8) * k_contrast, 0.05, 0.0))
    for _ in range(int(rng.choice([0, 1, 2], p=[0.6, 0.3, 0.1]))):  # thin leads crossing the field
        names.append("lead")
        p = rng.uniform(0.2, 0.8, 2) * W
        h0, bend, goal = rng.uniform(0, TWO_PI), rng.normal(0, 0.02), rng.uniform(0, TWO_PI)
        lead = _walk(rng, size, p, h0, [(20 * mm, bend)], goal, 1 / (40 * mm), 0.003)
        out.append(_device(lead, rng.uniform(0.4, 0.8) * mm, rng.uniform(0.3, 0.7), 0.1, 0.2))
    if rng.random() < 0.3:  # transseptal sheath with a marker band at its tip
        names.append("sheath")
        tip = (cx + rng.uniform(-0.2, 0.3) * R, cy + rng.uniform(-0.3, 0.3) * R)
        sh = _walk(rng, size, tip, rng.uniform(1.5, 2.5), [(15 * mm, 0.0)], np.pi / 2, 1 / (30 * mm))
        r_sh, a_sh = rng.uniform(1.4, 1.8) * mm, rng.uniform(0.12, 0.3) * k_contrast
        out.append(_device(sh, r_sh, a_sh, 0.2, 0.0, [(1.0 * mm, 1.5 * mm, 1.7 * mm, 0.7, 0.05)]))
    if rng.random() < 0.2:  # oesophageal temperature probe with unlabelled bands
        names.append("temperature_probe")
        tip = (sx + rng.uniform(-10, 10) * mm, cy + rng.uniform(-0.3, 0.4) * R)
        pr = _walk(rng, size, tip, -np.pi / 2 + rng.uniform(-0.2, 0.2), [], -np.pi / 2, 1 / (60 * mm))
        bands = [
            (s * mm, 2.0 * mm, 1.8 * mm, 0.8, 0.05)
            for s in (1.0, 6.0 + rng.uniform(0, 4), 16.0 + rng.uniform(0, 6))
        ]
        out.append(_device(pr, 1.5 * mm, 0.25 * k_contrast, 0.2, 0.0, bands))
    return out


def _can(rng, D, ppm):
    """Pacemaker / ICD can near an upper corner, partly out of the frame."""
    W = D.shape[0]
    layer = np.zeros_like(D)
    c = np.array([rng.choice([0.05, 0.95]) * W, rng.uniform(-0.05, 0.15) * W])
    ax = (int(16 * 25 * ppm), int(16 * 22 * ppm))
    cv2.ellipse(
        layer, (int(16 * c[0]), int(16 * c[1])), ax, rng.uniform(0, 180), 0, 360, 1.0, -1, cv2.LINE_AA, 4
    )
    layer = cv2.GaussianBlur(layer, (0, 0), 1.0 * ppm)
    D *= 1 - rng.uniform(0.7, 0.9) * layer


# ----------------------------------------------------------------------------------- assembly
TYPES = ("cs_decapolar", "quadripolar", "ablation", "lasso", "pacing")


def make_sample(seed: int, size: int = 256) -> Sample:
    rng = np.random.default_rng(seed)
    mm_per_px = rng.uniform(0.8, 1.2) * 256 / size
    ppm, scale = 1.0 / mm_per_px, size / 256
    meta = {"source": "independent", "seed": int(seed), "mm_per_px": float(mm_per_px)}
    bg_rng, chain_rng = rng.spawn(2)  # separate streams, so one scene looks alike at every size
    D, anat = _background(bg_rng, size, ppm, meta)
    n_cath = int(rng.choice([0, 1, 2, 3, 4], p=[0.04, 0.26, 0.32, 0.24, 0.14]))
    kinds = [str(k) for k in rng.choice(TYPES, n_cath, replace=False, p=[0.3, 0.2, 0.25, 0.15, 0.1])]
    k_contrast = rng.uniform(0.45, 1.0)
    devices = [_catheter(rng, size, ppm, k, anat, k_contrast) for k in kinds]
    meta["distractors"] = []
    devices += _distractors(rng, size, ppm, anat, k_contrast, meta["distractors"])
    if rng.random() < 0.12:
        meta["distractors"].append("can")
        _can(rng, D, ppm)
    D_bg = D.copy()
    rng = chain_rng
    mask = np.zeros((size, size), np.uint8)
    for i in rng.permutation(len(devices)):
        ys, xs = _render(D, devices[i])
        if devices[i]["kind"]:
            mask[ys, xs] = 1
    if rng.random() < 0.3:  # recursive filtering smears moving devices along their motion
        n = max(3, int(rng.uniform(2, 5) * scale) | 1)
        k = np.zeros((n, n), np.float32)
        a = rng.uniform(0, np.pi)
        dx, dy = n / 2 * np.cos(a), n / 2 * np.sin(a)
        cv2.line(k, (int(n / 2 - dx), int(n / 2 - dy)), (int(n / 2 + dx), int(n / 2 + dy)), 1.0, 1)
        D = D_bg + cv2.filter2D(D - D_bg, -1, k / k.sum())
    # collimation: straight shutters or a circular iris, semi-transparent
    Y, X = np.mgrid[0:size, 0:size].astype(np.float32)
    coll = rng.choice(["none", "shutters", "iris"], p=[0.5, 0.35, 0.15])
    if coll == "shutters":
        field = np.ones_like(D)
        for side in rng.choice(4, int(rng.integers(1, 5)), replace=False):
            a = side * np.pi / 2 + rng.uniform(-0.08, 0.08)
            dist = (X - size / 2) * np.cos(a) + (Y - size / 2) * np.sin(a)
            field *= 1 - _smooth((dist - rng.uniform(0.3, 0.48) * size) / (1.5 * scale) + 0.5)
        floor = rng.uniform(0.25, 0.5)
        D *= floor + (1 - floor) * field
    elif coll == "iris":
        rad = rng.uniform(0.5, 0.7) * size
        field = 1 - _smooth((np.hypot(X - size / 2, Y - size / 2) - rad) / (2 * scale) + 0.5)
        floor = rng.uniform(0.2, 0.45)
        D *= floor + (1 - floor) * field
    meta["collimation"] = str(coll)
    # detector blur, quantum noise on a power-law pseudo-intensity, unsharp mask
    blur = rng.uniform(0.35, 0.9) * scale
    D = cv2.GaussianBlur(np.clip(D, 1e-4, 1).astype(np.float32), (0, 0), blur)
    dose, power = float(np.exp(rng.uniform(np.log(80), np.log(2000)))), rng.uniform(1.5, 2.5)
    D = (rng.spawn(1)[0].poisson(dose * D.astype(np.float64) ** power) / dose) ** (1 / power)
    D = D.astype(np.float32)
    if rng.random() < 0.5:
        D = cv2.GaussianBlur(D, (0, 0), 0.5 * scale)
    sharpen = rng.uniform(0.2, 1.2) if rng.random() < 0.6 else 0.0
    if sharpen:
        D = D + sharpen * (D - cv2.GaussianBlur(D, (0, 0), rng.uniform(1.5, 4) * scale))
    lo, hi, gamma = rng.uniform(0.0, 0.15), rng.uniform(0.85, 1.05), rng.uniform(0.7, 1.4)
    D = np.clip((D - lo) / (hi - lo), 0, 1) ** gamma
    if rng.random() < 0.4:  # burned-in annotations
        font = int(rng.choice([cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_PLAIN]))
        shade = float(rng.choice([1.0, 0.9, 0.05]))
        text = np.zeros((size, size), np.uint8)
        clock = f"00:0{rng.integers(10)}:{rng.integers(60):02d}"
        words = ["LAO 30", "RAO 25", "FL 7.5p/s", "15 fps", clock, "mA 12.4", "kV 78", "L"]
        words.append(f"F{rng.integers(1000):03d}")
        for j, word in enumerate(rng.choice(words, int(rng.integers(1, 4)), replace=False)):
            org = (int(rng.uniform(0.02, 0.6) * size), int((0.07 + 0.88 * (j % 2)) * size))
            cv2.putText(text, str(word), org, font, 0.35 * scale * (1.6 if font else 1), 255, 1, cv2.LINE_AA)
        if rng.random() < 0.5:
            x0, y0 = int(rng.uniform(0.8, 0.9) * size), int(rng.uniform(0.3, 0.7) * size)
            for tick in range(6):
                y = y0 + tick * int(10 * ppm)  # a 1 cm ruler
                cv2.line(text, (x0, y), (x0 + int((4 if tick % 5 else 8) * scale), y), 255, 1)
        a = text.astype(np.float32) / 255.0
        D = D * (1 - a) + a * shade
    quality = int(rng.integers(60, 96)) if rng.random() < 0.5 else None
    if quality:
        _, buf = cv2.imencode(".jpg", np.round(D * 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, quality])
        D = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255.0
    meta.update(dose=dose, noise_power=float(power), blur_px=float(blur), sharpen=float(sharpen))
    meta.update(gamma=float(gamma), jpeg_quality=quality, device_contrast=float(k_contrast))
    # labels
    electrodes, sizes, ids, centrelines = [], [], [], []
    for ci, dev in enumerate(devices[:n_cath]):
        pts = dev["pts"]
        line = pts[::2] if (len(pts) - 1) % 2 == 0 else np.vstack([pts[::2], pts[-1:]])
        centrelines.append(np.clip(line, 0, size - 1).astype(np.float32))
        for sc, length, re, _, _ in dev["elecs"]:
            i = round(sc / STEP)
            if i >= len(pts) - 1:
                continue
            p = pts[i]
            if not (0 <= p[0] <= size - 1 and 0 <= p[1] <= size - 1):
                continue
            tx, ty = pts[min(i + 1, len(pts) - 1)] - pts[max(i - 1, 0)]
            th = np.arctan2(ty, tx)
            span = max(length, 1.1)
            w = abs(span * np.cos(th)) + 2 * re * abs(np.sin(th))
            h = abs(span * np.sin(th)) + 2 * re * abs(np.cos(th))
            electrodes.append(p)
            sizes.append((max(3.0, w), max(3.0, h)))
            ids.append(ci)
    return Sample(
        image=np.clip(D, 0, 1).astype(np.float32),
        mask=mask,
        electrodes=np.array(electrodes, np.float32).reshape(-1, 2),
        electrode_sizes=np.array(sizes, np.float32).reshape(-1, 2),
        electrode_catheter_ids=np.array(ids, np.int64),
        catheter_types=kinds,
        centrelines=centrelines,
        meta=meta,
    )


class IndependentReader(collections.abc.Sequence):
    """`count` frames from this engine; item i is make_sample(seed * 100_003 + i, size)."""

    def __init__(self, count: int, size: int = 256, seed: int = 0):
        self.count, self.size, self.seed = int(count), int(size), int(seed)
        self.name = f"independent(seed={seed})"
        self.problems: list[str] = []

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self.count))]
        i = int(index)
        if i < 0:
            i += self.count
        if not 0 <= i < self.count:
            raise IndexError(f"index {index} out of range for {self.count} frames")
        sample = make_sample(self.seed * 100_003 + i, self.size)
        sample.meta["index"] = i
        return sample


def _overlay(sample: Sample) -> np.ndarray:
    rgb = cv2.cvtColor((sample.image * 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)
    rgb[sample.mask > 0] = (0.4 * rgb[sample.mask > 0] + (0, 0, 150)).astype(np.uint8)
    colours = [(0, 255, 0), (255, 200, 0), (0, 200, 255), (255, 0, 255)]
    for (x, y), (w, h), c in zip(sample.electrodes, sample.electrode_sizes, sample.electrode_catheter_ids):
        corner0, corner1 = (round(x - w / 2), round(y - h / 2)), (round(x + w / 2), round(y + h / 2))
        cv2.rectangle(rgb, corner0, corner1, colours[c % 4], 1)
    for j, kind in enumerate(sample.catheter_types):
        cv2.putText(rgb, kind, (4, 12 + 12 * j), cv2.FONT_HERSHEY_PLAIN, 0.8, colours[j % 4], 1)
    return rgb


def contact_sheet(path: str, count: int = 16, size: int = 256, seed: int = 0) -> None:
    reader = IndependentReader(count, size, seed)
    tiles = []
    for s in reader:
        tiles.append(
            np.hstack([cv2.cvtColor((s.image * 255).astype(np.uint8), cv2.COLOR_GRAY2BGR), _overlay(s)])
        )
    rows = [np.hstack(tiles[r * 4 : r * 4 + 4]) for r in range(count // 4)]
    cv2.imwrite(path, np.vstack(rows))


if __name__ == "__main__":
    contact_sheet(sys.argv[1] if len(sys.argv) > 1 else "independent_sheet.png")
