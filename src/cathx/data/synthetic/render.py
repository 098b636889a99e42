"""Rasterisation of tubes (Beer-Lambert line integrals) and the X-ray imaging chain.

Devices are drawn on a canvas ``SUPERSAMPLE`` times finer than the image and averaged down, so a
2 px catheter gets soft, partial-volume edges. Attenuation values are line integrals of the linear
attenuation coefficient (-log transmission), so overlapping devices simply add.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from cathx.geometry import arc_length

SUPERSAMPLE = 2


def to_canvas(xy: np.ndarray, factor: int = SUPERSAMPLE) -> np.ndarray:
    """Image pixel coordinates -> supersampled canvas coordinates (pixel centres stay centres)."""
    return (np.asarray(xy, np.float64) + 0.5) * factor - 0.5


def downsample(canvas: np.ndarray, factor: int = SUPERSAMPLE) -> np.ndarray:
    """Area-average a (fH, fW) canvas to (H, W)."""
    h, w = canvas.shape[0] // factor, canvas.shape[1] // factor
    # INTER_AREA with an integer factor is the exact block mean, and much faster than numpy's.
    return cv2.resize(np.asarray(canvas, np.float32), (w, h), interpolation=cv2.INTER_AREA)


def _dense(points: np.ndarray, step: float) -> np.ndarray:
    arc = arc_length(points)
    if arc[-1] <= step:
        return points
    targets = np.arange(0.0, arc[-1] + 1e-9, step)
    return np.stack([np.interp(targets, arc, points[:, 0]), np.interp(targets, arc, points[:, 1])], axis=1)


@functools.lru_cache(maxsize=64)
def _chord_kernel(radius: float) -> np.ndarray:
    """Anti-aliased disc of ``radius`` (canvas px) divided by its diameter.

    A polyline splatted with unit density per unit length and convolved with this kernel gives
    ``sqrt(1 - (d / radius)^2)`` at distance d from the axis: the normalised chord through a
    cylinder (the line integral of a uniform disc is the chord length 2 sqrt(r^2 - d^2)).
    """
    half = int(np.ceil(radius)) + 1
    fine = 8
    axis = (np.arange(-half * fine, (half + 1) * fine) + 0.5) / fine - 0.5
    xx, yy = np.meshgrid(axis, axis)
    inside = (xx * xx + yy * yy <= radius * radius).astype(np.float32)
    size = 2 * half + 1
    cover = inside[: size * fine, : size * fine].reshape(size, fine, size, fine).mean(axis=(1, 3))
    return (cover / (2.0 * radius)).astype(np.float32)


def draw_tube(
    attenuation: np.ndarray, coverage: np.ndarray | None, points: np.ndarray, radius: float, peak: float
) -> None:
    """Add a tube along canvas polyline ``points`` (M, 2) with ``radius`` (canvas px).

    The line integral at distance d from the axis is ``peak * sqrt(1 - (d / radius)^2)`` (the
    chord through a cylinder, normalised so the axis gets ``peak``); where a tube crosses itself
    or another tube the integrals add. ``coverage`` (bool canvas) is set where the tube covers a
    canvas pixel. Both canvases are modified in place.
    """
    h, w = attenuation.shape
    points = np.asarray(points, np.float64)
    if len(points) == 0:
        return
    kernel = _chord_kernel(float(round(radius * 8) / 8))
    half = kernel.shape[0] // 2
    margin = half + 2
    x0, y0 = np.floor(points.min(axis=0) - margin).astype(int)
    x1, y1 = np.ceil(points.max(axis=0) + margin).astype(int)
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w - 1), min(y1, h - 1)
    if x1 < x0 or y1 < y0:
        return
    ch, cw = y1 - y0 + 1, x1 - x0 + 1
    step = 0.25
    dense = _dense(points, step) - [x0, y0]
    weight = step if len(points) > 1 else 1.0
    # Bilinear splat of the centreline as a line density (unit mass per unit length).
    fx, fy = np.floor(dense[:, 0]), np.floor(dense[:, 1])
    ax, ay = dense[:, 0] - fx, dense[:, 1] - fy
    fx, fy = fx.astype(np.int64), fy.astype(np.int64)
    index, mass = [], []
    for dx, dy, wgt in (
        (0, 0, (1 - ax) * (1 - ay)),
        (1, 0, ax * (1 - ay)),
        (0, 1, (1 - ax) * ay),
        (1, 1, ax * ay),
    ):
        cx, cy = fx + dx, fy + dy
        ok = (cx >= 0) & (cx < cw) & (cy >= 0) & (cy < ch)
        index.append(cy[ok] * cw + cx[ok])
        mass.append(wgt[ok] * weight)
    density = np.bincount(np.concatenate(index), np.concatenate(mass), minlength=ch * cw)
    density = density.reshape(ch, cw).astype(np.float32)
    profile = cv2.filter2D(density, -1, kernel, borderType=cv2.BORDER_CONSTANT)
    attenuation[y0 : y1 + 1, x0 : x1 + 1] += peak * profile
    if coverage is not None:
        coverage[y0 : y1 + 1, x0 : x1 + 1] |= profile >= 0.2


def draw_capsule(
    attenuation: np.ndarray,
    coverage: np.ndarray | None,
    a: np.ndarray,
    b: np.ndarray,
    radius: float,
    peak: float,
) -> None:
    """Add a short solid cylinder with rounded ends from ``a`` to ``b`` (canvas px): an electrode."""
    h, w = attenuation.shape
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    x0 = max(int(np.floor(min(a[0], b[0]) - radius - 1)), 0)
    y0 = max(int(np.floor(min(a[1], b[1]) - radius - 1)), 0)
    x1 = min(int(np.ceil(max(a[0], b[0]) + radius + 1)), w - 1)
    y1 = min(int(np.ceil(max(a[1], b[1]) + radius + 1)), h - 1)
    if x1 < x0 or y1 < y0:
        return
    ys, xs = np.mgrid[y0 : y1 + 1, x0 : x1 + 1]
    p = np.stack([xs, ys], axis=-1).astype(np.float64)
    ab = b - a
    denom = float(ab @ ab)
    t = np.clip(((p - a) @ ab) / denom, 0.0, 1.0) if denom > 1e-12 else np.zeros(p.shape[:2])
    distance = np.linalg.norm(p - (a + t[..., None] * ab), axis=-1)
    profile = np.sqrt(np.clip(1.0 - (distance / radius) ** 2, 0.0, 1.0))
    attenuation[y0 : y1 + 1, x0 : x1 + 1] += (peak * profile).astype(attenuation.dtype)
    if coverage is not None:
        coverage[y0 : y1 + 1, x0 : x1 + 1] |= distance < radius


def draw_disc(
    attenuation: np.ndarray,
    centre: np.ndarray,
    radius: float,
    peak: float,
    sphere: bool = True,
    coverage: np.ndarray | None = None,
) -> None:
    """Add a sphere (chord profile) or a flat disc with a soft 1-px rim at ``centre`` (canvas px)."""
    h, w = attenuation.shape
    x0, y0 = max(int(centre[0] - radius - 2), 0), max(int(centre[1] - radius - 2), 0)
    x1, y1 = min(int(centre[0] + radius + 2), w - 1), min(int(centre[1] + radius + 2), h - 1)
    if x1 < x0 or y1 < y0:
        return
    ys, xs = np.mgrid[y0 : y1 + 1, x0 : x1 + 1]
    distance = np.hypot(xs - centre[0], ys - centre[1])
    if sphere:
        profile = np.sqrt(np.clip(1.0 - (distance / radius) ** 2, 0.0, 1.0))
    else:
        profile = np.clip(radius - distance + 0.5, 0.0, 1.0)
    attenuation[y0 : y1 + 1, x0 : x1 + 1] += (peak * profile).astype(attenuation.dtype)
    if coverage is not None:
        coverage[y0 : y1 + 1, x0 : x1 + 1] |= distance < radius


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], scale: float) -> np.ndarray:
    """Zero-mean, unit-std smooth random field with correlation length ``scale`` pixels."""
    h, w = shape
    step = max(scale / 2.0, 1.0)
    gh, gw = int(np.ceil(h / step)) + 3, int(np.ceil(w / step)) + 3
    coarse = rng.standard_normal((gh, gw)).astype(np.float32)
    field = cv2.resize(coarse, (int(gw * step), int(gh * step)), interpolation=cv2.INTER_CUBIC)[:h, :w]
    field = cv2.GaussianBlur(field, (0, 0), max(scale / 4.0, 0.5))
    return (field - field.mean()) / (field.std() + 1e-6)


def imaging_chain(
    attenuation: np.ndarray,
    rng: np.random.Generator,
    *,
    dose: float,
    electronic_noise: float,
    focal_blur: float,
    scatter_fraction: float,
    detector_blur: float = 0.0,
) -> np.ndarray:
    """Detected line integral: blur, scatter, Poisson quantum noise, detector spread (which
    correlates the noise into grain), read noise, log transform.

    attenuation: (H, W) total -log transmission. dose: mean photons per pixel with no object.
    Returns (H, W) float32 estimated -log transmission (noisy), dense = high.
    """
    transmission = np.exp(-attenuation.astype(np.float32))
    if focal_blur > 0:
        transmission = cv2.GaussianBlur(transmission, (0, 0), focal_blur)
    if scatter_fraction > 0:  # scatter: a heavily blurred copy of the primary, lowering contrast
        small = cv2.resize(transmission, (32, 32), interpolation=cv2.INTER_AREA)
        small = cv2.GaussianBlur(small, (0, 0), 4.0)
        scatter = cv2.resize(small, transmission.shape[::-1], interpolation=cv2.INTER_LINEAR)
        transmission = (1.0 - scatter_fraction) * transmission + scatter_fraction * scatter
    counts = rng.poisson(np.maximum(transmission * dose, 0.0)).astype(np.float32)
    if detector_blur > 0:  # light spread in the scintillator acts after the quantum noise
        counts = cv2.GaussianBlur(counts, (0, 0), detector_blur)
    counts += rng.normal(0.0, electronic_noise, counts.shape).astype(np.float32)
    return -np.log(np.maximum(counts, 0.5) / dose).astype(np.float32)


def display(
    line_integral: np.ndarray,
    field: np.ndarray,
    rng: np.random.Generator,
    *,
    edge_enhance: float,
    window: tuple[float, float] | None = None,
    gamma: float = 1.0,
) -> tuple[np.ndarray, tuple[float, float]]:
    """Window/level to [0, 1] with dense = dark, optional gamma and unsharp-mask edge enhancement.

    ``field``: bool (H, W) open (uncollimated) area used to pick the window. Returns the image and
    the window used (so a sequence can keep it steady).
    """
    if window is None:
        values = line_integral[field] if field.any() else line_integral.ravel()
        low, high = np.percentile(values[:: max(len(values) // 8192, 1)], [0.5, 99.5])
        span = max(high - low, 1e-3)
        low -= span * rng.uniform(0.0, 0.2)
        high += span * rng.uniform(0.0, 0.4)
        window = (float(low), float(high))
    low, high = window
    image = (high - line_integral) / max(high - low, 1e-6)
    image = np.clip(image, 0.0, 1.0)
    if gamma != 1.0:
        image = image**gamma
    if edge_enhance > 0:
        blurred = cv2.GaussianBlur(image, (0, 0), 2.0)
        image = image + edge_enhance * (image - blurred)
    return np.clip(image, 0.0, 1.0).astype(np.float32), window


def gain_bands(seed: int, size: int) -> np.ndarray:
    """(size, size) float32 detector gain non-uniformity in the log domain: smooth row and column
    bands (readout electronics) plus a fine tile seam grid, zero-mean, unit-scale."""
    rng = np.random.default_rng(seed)
    rows = smooth_noise(rng, (size, 1), size / 64.0)[:, :1]
    cols = smooth_noise(rng, (1, size), size / 64.0)[:1, :]
    bands = 0.5 * rows + 0.5 * cols
    seams = np.zeros((size, size), np.float32)
    pitch = int(rng.integers(size // 4, size // 2 + 1))
    seams[:, ::pitch] += 1.0
    seams[::pitch, :] += 1.0
    return (bands + 0.5 * seams).astype(np.float32)


BURN_IN_TEXT = ("LAO 30", "RAO 20", "CRA 10", "FPS 15", "7.5 p/s", "LOW", "kV 72", "mA 9.8", "EP LAB", "FL",
                "Acq 3", "00:14:32", "DAP 1.2", "Zoom 2", "ANON", "Series 4")


def display_processing(
    image: np.ndarray, *, lut_slope: float = 0.0, invert: bool = False, text_seed: int | None = None
) -> np.ndarray:
    """What a viewer does after windowing: an S-shaped LUT (``lut_slope`` > 0: logistic curve of
    that slope), inverted display, and burned-in annotation (text in the corners, a side marker,
    a ruler), deterministic by ``text_seed``. (H, W) float32 in [0, 1] -> same."""
    out = np.asarray(image, np.float32)
    if lut_slope > 0:
        low, high = 1.0 / (1.0 + np.exp(lut_slope * 0.5)), 1.0 / (1.0 + np.exp(-lut_slope * 0.5))
        out = (1.0 / (1.0 + np.exp(-lut_slope * (out - 0.5))) - low) / (high - low)
    if invert:
        out = 1.0 - out
    if text_seed is not None:
        rng = np.random.default_rng(text_seed)
        h, w = out.shape
        scale = h / 640.0 * rng.uniform(0.8, 1.4)
        value = float(rng.uniform(0.85, 1.0)) if rng.random() < 0.8 else float(rng.uniform(0.0, 0.1))
        layer = np.zeros((h, w), np.uint8)  # cv2 draws text on 8-bit images only: draw a coverage layer
        thickness = max(int(round(h / 300)), 1)
        for corner in rng.permutation(4)[: int(rng.integers(1, 5))]:
            lines = [BURN_IN_TEXT[i] for i in rng.choice(len(BURN_IN_TEXT), int(rng.integers(1, 4)), replace=False)]
            for row, text in enumerate(lines):
                y = int((0.06 + 0.05 * row) * h) if corner < 2 else int((0.94 - 0.05 * row) * h)
                x = int(0.03 * w) if corner % 2 == 0 else int(0.72 * w)
                cv2.putText(layer, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, 255, thickness, cv2.LINE_AA)
        if rng.random() < 0.6:  # side marker
            x, y = int(rng.uniform(0.05, 0.9) * w), int(rng.uniform(0.1, 0.3) * h)
            cv2.putText(layer, "L" if rng.random() < 0.5 else "R", (x, y), cv2.FONT_HERSHEY_DUPLEX, 2 * scale, 255,
                        thickness + 1, cv2.LINE_AA)
        if rng.random() < 0.4:  # a ruler with ticks along one edge
            x = int(rng.uniform(0.9, 0.96) * w)
            y0, y1 = int(0.3 * h), int(0.7 * h)
            cv2.line(layer, (x, y0), (x, y1), 255, thickness, cv2.LINE_AA)
            for y in range(y0, y1 + 1, max(h // 40, 3)):
                cv2.line(layer, (x, y), (x + max(w // 60, 2), y), 255, thickness, cv2.LINE_AA)
        alpha = layer.astype(np.float32) / 255.0
        out = out * (1.0 - alpha) + value * alpha
    return np.clip(out, 0.0, 1.0).astype(np.float32)
