"""Anatomy-like background as a line-integral (attenuation) map.

Built at half resolution from smooth shapes in millimetres around the heart centre, then
resized: lungs (air, low attenuation), mediastinum, heart shadow, spine with vertebral bodies and
pedicles, posterior and anterior ribs, hemidiaphragms with the abdomen below, and smooth texture.
Respiration shifts the diaphragm, heart and ribs; the heartbeat scales the heart shadow.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from cathx.data.synthetic.geometry import View
from cathx.data.synthetic.render import smooth_noise


@dataclass
class Anatomy:
    """Scene-level anatomy parameters (sampled once per frame or per sequence)."""

    body: float
    gradient: tuple[float, float]
    lung: float
    lung_shapes: tuple[tuple[float, float, float, float], ...]  # (cx, cy, ax, ay) mm
    heart: float
    heart_shape: tuple[float, float, float, float, float]  # cx, cy, ax, ay, angle deg
    mediastinum: float
    spine: float
    spine_x: float
    spine_width: float
    vertebra_pitch: float
    vertebra_phase: float
    ribs: float
    rib_phase: float
    rib_pitch: float
    diaphragm: float
    domes: tuple[tuple[float, float, float], tuple[float, float, float]]  # (x, y apex, curvature)
    texture: float
    texture_seed: int


def sample_anatomy(rng: np.random.Generator, heart_scale: float) -> Anatomy:
    s = heart_scale
    return Anatomy(
        body=rng.uniform(2.6, 3.8),
        gradient=(rng.uniform(-0.15, 0.15), rng.uniform(-0.15, 0.15)),
        lung=rng.uniform(0.5, 1.0),
        lung_shapes=((-78.0 + rng.normal(0, 6), -45.0 + rng.normal(0, 8), 55.0 + rng.normal(0, 5), 115.0),
                     (82.0 + rng.normal(0, 6), -50.0 + rng.normal(0, 8), 52.0 + rng.normal(0, 5), 105.0)),
        heart=rng.uniform(0.3, 0.6),
        heart_shape=(12.0 * s + rng.normal(0, 4), 12.0 + rng.normal(0, 4), 72.0 * s, 58.0 * s,
                     rng.uniform(-30.0, -10.0)),
        mediastinum=rng.uniform(0.15, 0.35),
        spine=rng.uniform(0.25, 0.55),
        spine_x=-12.0 + rng.normal(0, 6),
        spine_width=rng.uniform(38.0, 50.0),
        vertebra_pitch=rng.uniform(26.0, 32.0),
        vertebra_phase=rng.uniform(0.0, 1.0),
        ribs=rng.uniform(0.08, 0.2),
        rib_phase=rng.uniform(0.0, 1.0),
        rib_pitch=rng.uniform(24.0, 32.0),
        diaphragm=rng.uniform(0.7, 1.3),
        domes=((-70.0 + rng.normal(0, 8), 62.0 + rng.normal(0, 12), rng.uniform(0.006, 0.012)),
               (72.0 + rng.normal(0, 8), 78.0 + rng.normal(0, 12), rng.uniform(0.006, 0.012))),
        texture=rng.uniform(0.03, 0.08),
        texture_seed=int(rng.integers(2**31)),
    )


def _soft(distance: np.ndarray, width: float) -> np.ndarray:
    """Smooth step: 1 inside (distance < 0), 0 outside, transition ``width`` mm."""
    return 1.0 / (1.0 + np.exp(np.clip(distance / max(width, 1e-3), -30, 30)))


def render_anatomy(anatomy: Anatomy, view: View, size: int, breath_mm: float = 0.0,
                   beat: float = 0.0) -> np.ndarray:
    """(size, size) float32 line-integral map of the anatomy.

    breath_mm: cranio-caudal shift of diaphragm and heart (positive = inspiration, down).
    beat: 0..1 cardiac contraction (shrinks the heart shadow a few percent).
    """
    res = max(size // 2, 48)
    scale = size / res
    grid = (np.arange(res, dtype=np.float32) + 0.5) * scale - 0.5
    px, py = np.meshgrid(grid, grid)
    k = view.px_per_mm
    x = (px - view.centre[0]) / k
    y = (py - view.centre[1]) / k
    # The spine lies ~80 mm behind the heart: LAO/RAO rotation moves it sideways in the image.
    spine_shift = float((view.rotation @ np.array([anatomy.spine_x, 0.0, 80.0]))[0])
    a = anatomy
    total = a.body + a.gradient[0] * x / 100.0 + a.gradient[1] * y / 100.0

    lungs = np.zeros_like(x)
    for cx, cy, ax, ay in a.lung_shapes:
        d = np.sqrt(((x - cx) / ax) ** 2 + ((y - cy - 0.3 * breath_mm) / ay) ** 2) - 1.0
        lungs = np.maximum(lungs, _soft(d * min(ax, ay), 12.0))
    total = total - a.lung * lungs

    mediastinum = _soft(np.abs(x - (spine_shift + 5.0)) - 32.0, 8.0) * _soft(y - 40.0, 30.0)
    total = total + a.mediastinum * mediastinum

    hx, hy, ax, ay, angle = a.heart_shape
    contraction = 1.0 - 0.04 * beat
    theta = np.radians(angle)
    dx, dy = x - hx, y - hy - 0.6 * breath_mm
    u = (dx * np.cos(theta) + dy * np.sin(theta)) / (ax * contraction)
    v = (-dx * np.sin(theta) + dy * np.cos(theta)) / (ay * contraction)
    heart = _soft((np.sqrt(u * u + v * v) - 1.0) * min(ax, ay), 6.0)
    total = total + a.heart * heart

    sx = x - spine_shift
    spine_band = _soft(np.abs(sx) - a.spine_width / 2, 3.0)
    phase = ((y + a.vertebra_phase * a.vertebra_pitch) / a.vertebra_pitch) % 1.0
    body = _soft(np.abs(phase - 0.5) * a.vertebra_pitch - 0.4 * a.vertebra_pitch, 1.5)
    pedicles = np.zeros_like(x)
    for side in (-1.0, 1.0):
        pd = np.sqrt(((sx - side * a.spine_width * 0.33) / 5.0) ** 2
                     + (((phase - 0.35) * a.vertebra_pitch) / 7.0) ** 2)
        pedicles = np.maximum(pedicles, _soft((pd - 1.0) * 5.0, 1.2) - 0.6 * _soft((pd - 0.6) * 5.0, 1.0))
    spinous = _soft(np.sqrt((sx / 4.0) ** 2 + (((phase - 0.7) * a.vertebra_pitch) / 6.0) ** 2) - 1.0, 0.3)
    total = total + a.spine * spine_band * (0.75 + 0.25 * body) + 0.12 * pedicles + 0.08 * spinous

    ribs = np.zeros_like(x)
    rib_width = 9.0
    for side in (-1.0, 1.0):
        lateral = np.clip(side * sx - a.spine_width / 2, 0, None)
        # posterior ribs leave the spine and curve down laterally
        yy = y + 0.35 * breath_mm - 0.004 * lateral ** 2 - 0.15 * lateral
        ph = ((yy / a.rib_pitch) + a.rib_phase) % 1.0
        dist = np.abs(ph - 0.5) * a.rib_pitch
        rib = _soft(dist - rib_width / 2, 1.0)
        cortex = _soft(np.abs(dist - rib_width / 2) - 1.0, 0.6)
        ribs = ribs + (side * sx > a.spine_width / 2 - 4) * (rib * 0.8 + cortex * 0.5)
        # anterior ribs run down towards the midline, fainter
        yy = y + 0.35 * breath_mm + 0.35 * lateral
        ph = ((yy / (a.rib_pitch * 1.3)) + a.rib_phase * 0.7) % 1.0
        dist = np.abs(ph - 0.5) * a.rib_pitch * 1.3
        ribs = ribs + 0.4 * (lateral > 25) * _soft(dist - rib_width * 0.6, 1.5)
    total = total + a.ribs * ribs * (0.4 + 0.6 * lungs)

    dome = np.full_like(x, 1e9)
    for dxa, dya, curvature in a.domes:
        dome = np.minimum(dome, dya + breath_mm + curvature * (x - dxa) ** 2)
    total = total + a.diaphragm * _soft(dome - y, 4.0)

    texture_rng = np.random.default_rng(a.texture_seed)
    texture = smooth_noise(texture_rng, (res, res), 6.0 * k / scale) * 0.6 + smooth_noise(
        texture_rng, (res, res), 2.0 * k / scale) * 0.4
    total = total + a.texture * texture * (0.5 + lungs)

    return cv2.resize(total.astype(np.float32), (size, size), interpolation=cv2.INTER_LINEAR)
