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

from cathx.data.synthetic.config import SynthConfig
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
    rib_jitter: tuple[float, ...] = ()
    dome_wobble: float = 0.0
    vignette: float = 0.0
    markings: float = 0.0
    endplate: float = 0.0  # cortical end plates of the vertebral bodies (sharp horizontal edges)
    clavicle: float = 0.0  # 0 = out of the field
    clavicle_y: float = -160.0
    scapula: float = 0.0
    scapula_x: float = 120.0
    arm: float = 0.0  # soft tissue of an arm at one side of the frame
    arm_side: float = 1.0
    arm_x: float = 170.0


def sample_anatomy(rng: np.random.Generator, heart_scale: float, config: SynthConfig | None = None) -> Anatomy:
    """Draw the anatomy; ``config`` switches the optional bone and soft-tissue edges."""
    s = heart_scale
    base = _sample_chest(rng, s)
    if config is None:
        return base
    base.endplate = float(rng.uniform(*config.endplate))
    base.clavicle = float(rng.uniform(0.15, 0.4)) if rng.random() < config.clavicle_probability else 0.0
    base.clavicle_y = float(rng.uniform(-190.0, -120.0))
    base.scapula = float(rng.uniform(0.08, 0.25)) if rng.random() < config.scapula_probability else 0.0
    base.scapula_x = float(rng.uniform(95.0, 140.0))
    base.arm = float(rng.uniform(0.3, 0.9)) if rng.random() < config.arm_probability else 0.0
    base.arm_side = float(rng.choice([-1.0, 1.0]))
    base.arm_x = float(rng.uniform(120.0, 190.0))
    return base


def _sample_chest(rng: np.random.Generator, s: float) -> Anatomy:
    return Anatomy(
        body=rng.uniform(2.6, 3.8),
        gradient=(rng.uniform(-0.15, 0.15), rng.uniform(-0.15, 0.15)),
        lung=rng.uniform(0.5, 1.0),
        lung_shapes=(
            (-78.0 + rng.normal(0, 6), -45.0 + rng.normal(0, 8), 55.0 + rng.normal(0, 5), 115.0),
            (82.0 + rng.normal(0, 6), -50.0 + rng.normal(0, 8), 52.0 + rng.normal(0, 5), 105.0),
        ),
        heart=rng.uniform(0.1, 0.3),
        heart_shape=(
            15.0 * s + rng.normal(0, 5),
            28.0 + rng.normal(0, 6),
            82.0 * s,
            60.0 * s,
            rng.uniform(-35.0, -15.0),
        ),
        mediastinum=rng.uniform(0.15, 0.35),
        spine=rng.uniform(0.25, 0.55),
        spine_x=-12.0 + rng.normal(0, 6),
        spine_width=rng.uniform(38.0, 50.0),
        vertebra_pitch=rng.uniform(26.0, 32.0),
        vertebra_phase=rng.uniform(0.0, 1.0),
        ribs=rng.uniform(0.1, 0.3),
        rib_phase=rng.uniform(0.0, 1.0),
        rib_pitch=rng.uniform(24.0, 32.0),
        diaphragm=rng.uniform(0.7, 1.3),
        domes=(
            (-70.0 + rng.normal(0, 10), 55.0 + rng.normal(0, 18), rng.uniform(0.004, 0.014)),
            (72.0 + rng.normal(0, 10), 72.0 + rng.normal(0, 18), rng.uniform(0.004, 0.014)),
        ),
        texture=rng.uniform(0.03, 0.08),
        texture_seed=int(rng.integers(2**31)),
        rib_jitter=tuple(rng.normal(0, 1, 48).tolist()),
        dome_wobble=rng.uniform(0.0, 5.0),
        vignette=rng.uniform(0.0, 0.5) if rng.random() < 0.5 else 0.0,
        markings=rng.uniform(0.06, 0.18),
    )


def _soft(distance: np.ndarray, width: float) -> np.ndarray:
    """Smooth step: 1 inside (distance < 0), 0 outside, transition ``width`` mm."""
    return 1.0 / (1.0 + np.exp(np.clip(distance / max(width, 1e-3), -30, 30)))


def render_anatomy(
    anatomy: Anatomy, view: View, size: int, breath_mm: float = 0.0, beat: float = 0.0
) -> np.ndarray:
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
    hx, hy, ax, ay, angle = a.heart_shape
    contraction = 1.0 - 0.04 * beat
    theta = np.radians(angle)
    dx, dy = x - hx, y - hy - 0.6 * breath_mm
    u = (dx * np.cos(theta) + dy * np.sin(theta)) / (ax * contraction)
    v = (-dx * np.sin(theta) + dy * np.cos(theta)) / (ay * contraction)
    heart = _soft((np.sqrt(u * u + v * v) - 1.0) * min(ax, ay), 4.0)
    # The heart and mediastinum displace the lungs: their border against air is the visible edge.
    lungs = lungs * (1.0 - 0.5 * heart)
    total = total - a.lung * lungs + a.heart * heart

    mediastinum = _soft(np.abs(x - (spine_shift + 5.0)) - 32.0, 8.0) * _soft(y - 40.0, 30.0)
    total = total + a.mediastinum * mediastinum

    sx = x - spine_shift
    spine_band = _soft(np.abs(sx) - a.spine_width / 2, 3.0)
    phase = ((y + a.vertebra_phase * a.vertebra_pitch) / a.vertebra_pitch) % 1.0
    body = _soft(np.abs(phase - 0.5) * a.vertebra_pitch - 0.4 * a.vertebra_pitch, 1.5)
    pedicles = np.zeros_like(x)
    for side in (-1.0, 1.0):
        pd = np.sqrt(
            ((sx - side * a.spine_width * 0.33) / 5.0) ** 2 + (((phase - 0.35) * a.vertebra_pitch) / 7.0) ** 2
        )
        pedicles = np.maximum(pedicles, _soft((pd - 1.0) * 5.0, 1.2) - 0.6 * _soft((pd - 0.6) * 5.0, 1.0))
    spinous = _soft(np.sqrt((sx / 4.0) ** 2 + (((phase - 0.7) * a.vertebra_pitch) / 6.0) ** 2) - 1.0, 0.3)
    total = total + a.spine * spine_band * (0.75 + 0.25 * body) + 0.12 * pedicles + 0.08 * spinous
    if a.endplate > 0:  # dense cortical rims where each vertebral body meets its discs
        rim = np.abs(np.abs(phase - 0.5) * a.vertebra_pitch - 0.4 * a.vertebra_pitch)
        total = total + a.endplate * spine_band * np.exp(-((rim / 0.9) ** 2))
    total = total + _shoulder_girdle(a, x, y, spine_shift, breath_mm)

    ribs = _rib_cage(a, res, view, scale, spine_shift, breath_mm)
    total = total + a.ribs * ribs * (0.35 + 0.65 * lungs)

    dome = np.full_like(x, 1e9)
    for dxa, dya, curvature in a.domes:
        dome = np.minimum(dome, dya + breath_mm + curvature * (x - dxa) ** 2)
    wobble = a.dome_wobble * np.sin(x / 23.0 + a.rib_phase * 6.0)
    total = total + a.diaphragm * _soft(dome + wobble - y, 4.0)
    if a.vignette > 0:  # image-intensifier style fall-off towards the corners
        r2 = ((px - size / 2) ** 2 + (py - size / 2) ** 2) / (size / 2) ** 2
        total = total + a.vignette * r2

    texture_rng = np.random.default_rng(a.texture_seed)
    texture = (
        smooth_noise(texture_rng, (res, res), 12.0 * k / scale) * 0.5
        + smooth_noise(texture_rng, (res, res), 2.5 * k / scale) * 0.5
    )
    total = total + a.texture * texture * (0.4 + lungs)
    total = total + a.markings * _lung_markings(texture_rng, res, view, scale, spine_shift, breath_mm) * lungs

    return cv2.resize(total.astype(np.float32), (size, size), interpolation=cv2.INTER_LINEAR)


def _shoulder_girdle(a: Anatomy, x: np.ndarray, y: np.ndarray, spine_shift: float, breath_mm: float) -> np.ndarray:
    """Clavicles (S-shaped bones with a cortical rim), the scapulae's medial borders and an arm's
    soft tissue: long straight-ish edges that are neither catheters nor ribs."""
    out = np.zeros_like(x)
    for side in (-1.0, 1.0):
        if a.clavicle > 0:
            u = side * (x - spine_shift)  # lateral distance from the midline
            centre = a.clavicle_y - 0.2 * breath_mm + 0.12 * (u - 20.0) - 12.0 * np.sin((u - 20.0) / 45.0)
            along = _soft(20.0 - u, 4.0) * _soft(u - 160.0, 6.0)
            distance = np.abs(y - centre)
            shaft = _soft(distance - 8.0, 1.2)
            cortex = np.exp(-(((distance - 7.5) / 1.3) ** 2))
            out += a.clavicle * along * (0.6 * shaft + 0.8 * cortex)
        if a.scapula > 0:
            u = side * (x - spine_shift)
            border = a.scapula_x + 0.15 * (y + 120.0)
            region = _soft(border - u, 1.5) * _soft(y + 40.0, 15.0) * _soft(-200.0 - y, 10.0)
            out += a.scapula * region
    if a.arm > 0:
        u = a.arm_side * x
        out += a.arm * _soft(a.arm_x + 0.1 * y - u, 2.0)
    return out


def _rib_cage(
    a: Anatomy, res: int, view: View, scale: float, spine_shift: float, breath_mm: float
) -> np.ndarray:
    """Posterior ribs (arcs leaving the spine, curving down laterally) and fainter anterior ribs,
    drawn as thick polylines with a denser cortical rim, at the anatomy resolution."""
    k = view.px_per_mm / scale  # anatomy-grid pixels per mm
    cx, cy = view.centre[0] / scale, view.centre[1] / scale
    shaft = np.zeros((res, res), np.float32)
    rim = np.zeros((res, res), np.float32)
    jitter = a.rib_jitter or (0.0,) * 48
    width = max(round(9.0 * k), 2)
    lateral = np.linspace(0.0, 150.0, 40)
    for side in (-1.0, 1.0):
        for i in range(12):
            j = jitter[(i + (0 if side < 0 else 12)) % len(jitter)]
            y0 = -200.0 + (i + a.rib_phase) * a.rib_pitch + 4.0 * j - 0.35 * breath_mm
            # rises a little next to the spine, then sweeps down as it wraps round the chest
            drop = (0.0042 + 0.0008 * j) * lateral**2 - (0.3 + 0.05 * j) * lateral
            xs = spine_shift + side * (a.spine_width / 2 - 6.0 + lateral)
            ys = y0 + drop
            pts = np.stack([cx + xs * k, cy + ys * k], axis=1)
            poly = np.round(pts * 8).astype(np.int32).reshape(-1, 1, 2)
            cv2.polylines(shaft, [poly], False, 1.0, width, cv2.LINE_AA, 3)
            cv2.polylines(rim, [poly], False, 1.0, width + 2, cv2.LINE_AA, 3)
            # anterior rib: from the lateral chest wall down towards the sternum, fainter
            ys_front = (
                y0 + 10.0 + 0.55 * (150.0 - lateral) - 0.002 * (150.0 - lateral) ** 2 - 0.35 * breath_mm
            )
            xs_front = spine_shift + side * (25.0 + lateral)
            pts = np.stack([cx + xs_front * k, cy + ys_front * k], axis=1)
            poly = np.round(pts[8:] * 8).astype(np.int32).reshape(-1, 1, 2)
            cv2.polylines(shaft, [poly], False, 0.35, max(width - 1, 2), cv2.LINE_AA, 3)
    cortex = np.clip(rim - shaft, 0.0, 1.0)
    ribs = 0.7 * np.clip(shaft, 0.0, 1.0) + 0.6 * cortex
    return cv2.GaussianBlur(ribs, (0, 0), max(0.8 * k, 0.5))


def _lung_markings(
    rng: np.random.Generator, res: int, view: View, scale: float, spine_shift: float, breath_mm: float
) -> np.ndarray:
    """Pulmonary vessels: tapering random branches fanning out from each hilum."""
    k = view.px_per_mm / scale
    cx, cy = view.centre[0] / scale, view.centre[1] / scale
    segments: dict[int, list[np.ndarray]] = {}
    origin = np.array([cx, cy])
    for side in (-1.0, 1.0):
        hilum = np.array([spine_shift + side * 45.0, -25.0 + 0.3 * breath_mm])
        for _ in range(14):
            angle = np.radians(rng.uniform(-80, 80)) + (0.0 if side > 0 else np.pi)
            position, width = hilum + rng.normal(0, 6, 2), rng.uniform(2.5, 4.5)
            for _ in range(int(rng.integers(5, 9))):
                angle += rng.normal(0, 0.35)
                step = rng.uniform(8, 16)
                nxt = position + step * np.array([np.cos(angle), np.sin(angle)])
                segment = np.round((origin + np.stack([position, nxt]) * k) * 8).astype(np.int32)
                segments.setdefault(max(round(width * k), 1), []).append(segment.reshape(-1, 1, 2))
                position, width = nxt, width * 0.8
    layer = np.zeros((res, res), np.float32)
    for thickness, lines in segments.items():  # one call per width instead of one per segment
        cv2.polylines(layer, lines, False, 1.0, thickness, cv2.LINE_AA, 3)
    return cv2.GaussianBlur(layer, (0, 0), max(1.0 * k, 0.6))
