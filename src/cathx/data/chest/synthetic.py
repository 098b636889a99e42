"""Synthetic chest radiographs with lines and tubes, written in the RANZCR CLiP layout.

Every study draws a chest-like background (soft tissue, lungs with vessel markings, mediastinum
and heart, trachea and main bronchi, spine, ribs, clavicles, humeral heads, diaphragm domes,
gastric bubble) and then the devices as radiopaque lines. The label of each device follows from
where its tip lies relative to an anatomical landmark, as a radiologist would judge it:

- ETT: tip 7.5-13 % of the image height above the carina is Normal; 1.5-4 % or 17-21 % above it is
  Borderline; in the right main bronchus or high in the neck is Abnormal.
- NGT: tip 9-20 % of the route beyond the diaphragm crossing (in the stomach, by the gastric
  bubble) is Normal; at the gastro-oesophageal junction is Borderline; in the airway or coiled in
  the oesophagus is Abnormal; a tube leaving the bottom of the field is Incompletely Imaged.
- CVC: tip in the lower SVC (carina to cavo-atrial junction) is Normal; upper SVC or upper right
  atrium is Borderline; deep in the atrium, turned up a neck vein or stopped short in the
  subclavian / brachiocephalic vein is Abnormal.
- Swan-Ganz: catheter through the right heart into a pulmonary artery (presence only).

Distances scale with the patient's anatomy. Studies are grouped into patients (1-4 studies each)
sharing anatomy and device habits, so folds must be grouped by PatientID. Output is deterministic
for a given seed, whatever the number of workers.

Geometry is built in normalised coordinates (x right, y down, both 0-1 over the image), mapped to
pixels by one similarity transform per study (small rotation, zoom, shift).

Length (about 780 lines): as for the fluoroscopy scene, the order of random draws defines every
study of a seed, and the label rules above need the anatomy they are measured against; the
sharable geometry (splines, arc length) lives in cathx.geometry.
"""

from __future__ import annotations

import contextlib
import logging
import math
import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from cathx.data.chest.ranzcr import (
    ANNOTATIONS_FILE,
    CSV_FILE,
    IMAGES_DIR,
    LABELS,
    PATIENT_COLUMN,
    UID_COLUMN,
    draw_line_masks,
    format_points,
    label_group,
)
from cathx.errors import ConfigError, DataError
from cathx.fileio import atomic_folder, atomic_write_bytes, atomic_write_text, csv_text
from cathx.geometry import arc_length, catmull_rom
from cathx.structures import Sample
from cathx.system import render_workers

log = logging.getLogger(__name__)

UID_PREFIX = "1.2.826.0.1.3680043.8.498"


@dataclass(frozen=True)
class ChestSynthConfig:
    """Every factor the generator randomises, with its range; each can be switched off.

    Widths are in pixels of a 512 px radiograph (scaled to the written size). Probabilities are
    per study (per line for ``core_prob``, per CVC for ``picc_prob``, per ECG wire for
    ``ecg_cross_prob``). An out-of-range value raises ConfigError naming the field.
    """

    ett_prob: float = 0.45  # studies with an endotracheal tube (scaled by the patient's habit)
    ngt_prob: float = 0.45  # with a nasogastric tube
    cvc_prob: float = 0.75  # with a central venous catheter
    second_cvc_prob: float = 0.12  # a second CVC when there is one
    swan_prob: float = 0.08  # with a Swan-Ganz catheter
    ett_status: tuple[float, float, float] = (0.15, 0.30, 0.55)  # Abnormal, Borderline, Normal
    ngt_status: tuple[float, float, float, float] = (0.15, 0.20, 0.25, 0.40)  # Abn, Border, Incompl, Normal
    cvc_status: tuple[float, float, float] = (0.17, 0.33, 0.50)  # Abnormal, Borderline, Normal
    picc_prob: float = 0.3  # CVCs entering from an arm (PICC) instead of the neck / subclavian
    line_width: tuple[float, float] = (1.5, 4.0)  # radio-opaque line width, px at 512 px (0.5-10)
    line_density: tuple[float, float] = (0.08, 0.36)  # peak added density of a line (0.02-1)
    core_prob: float = 0.35  # lines drawn as a tube: two dense walls with a lighter (radiolucent) core
    core_depth: tuple[float, float] = (0.3, 0.7)  # how much lighter the core is than a solid line (0-1)
    ecg_prob: float = 0.6  # studies with ECG electrodes and wires (unlabelled distractors)
    ecg_leads: tuple[int, int] = (2, 5)  # electrodes per study when present (1-12)
    ecg_cross_prob: float = 0.5  # wires routed across a drawn line (overlapping distractor)
    text_prob: float = 0.7  # burned-in text markers (side marker, PORTABLE, date) in the corners
    noise: float = 0.015  # quantum noise standard deviation (0-0.2)
    jpeg_quality: int = 95  # quality of the written JPEG files (10-100)
    # Variety a line model must not key on (issue 12). Drawn from a random stream of their own, so
    # switching them all off (``VARIETY_OFF``) gives back exactly the studies of the fixed template.
    anatomy_variety: float = 1.0  # 0-1: jitter of rib width / density / spacing, lung darkness, texture
    rib_cortex: tuple[float, float] = (0.0, 0.1)  # density of bright cortical edges on ribs and clavicles
    spine_detail: tuple[float, float] = (0.0, 0.08)  # density of end plates, body cortices, pedicles, spinous processes
    skin_fold_prob: float = 0.3  # 1-2 skin folds: long soft-tissue edges across a hemithorax
    pathology_prob: float = 0.3  # a pleural effusion or patchy consolidation (lines cross dense areas)
    implant_prob: float = 0.2  # pacemaker / ICD generator with 1-2 leads into the heart (unlabelled)
    sternal_wire_prob: float = 0.15  # sternotomy wires along the midline (unlabelled)
    drain_prob: float = 0.1  # a chest drain: wide tube with a radio-opaque stripe (unlabelled)
    edge_enhance_prob: float = 0.5  # unsharp masking, as a viewer's or modality's processing
    edge_enhance: tuple[float, float] = (0.3, 1.5)  # its amount (0-4)
    tone_curve_prob: float = 0.4  # a sigmoid display curve instead of the plain gamma
    noise_grain_prob: float = 0.4  # the noise blurred into a grain (0.6-1.5 px), as after a detector
    # A labelled line on a random course (an astray CVC / PICC: in from any edge, 1-6 smooth bends,
    # tip anywhere but the SVC), so that a line is found by its look and not by where lines
    # usually run. Labelled "CVC - Abnormal": a central line off its course is malpositioned.
    free_line_prob: float = 0.0

    def __post_init__(self) -> None:
        for name in ("ett_prob", "ngt_prob", "cvc_prob", "second_cvc_prob", "swan_prob", "picc_prob",
                     "core_prob", "ecg_prob", "ecg_cross_prob", "text_prob", "anatomy_variety", "skin_fold_prob",
                     "pathology_prob", "implant_prob", "sternal_wire_prob", "drain_prob", "edge_enhance_prob",
                     "tone_curve_prob", "noise_grain_prob", "free_line_prob"):
            _check_range(name, getattr(self, name), 0.0, 1.0)
        for name, count in (("ett_status", 3), ("ngt_status", 4), ("cvc_status", 3)):
            mix = getattr(self, name)
            if len(mix) != count or min(mix) < 0 or abs(sum(mix) - 1.0) > 1e-6:
                raise ConfigError(f"synth.{name}: must be {count} non-negative shares adding up to 1, got {list(mix)}")
        _check_interval("line_width", self.line_width, 0.5, 10.0)
        _check_interval("line_density", self.line_density, 0.02, 1.0)
        _check_interval("core_depth", self.core_depth, 0.0, 1.0)
        _check_interval("ecg_leads", self.ecg_leads, 1, 12)
        _check_range("noise", self.noise, 0.0, 0.2)
        _check_range("jpeg_quality", self.jpeg_quality, 10, 100)
        _check_interval("rib_cortex", self.rib_cortex, 0.0, 0.5)
        _check_interval("spine_detail", self.spine_detail, 0.0, 0.5)
        _check_interval("edge_enhance", self.edge_enhance, 0.0, 4.0)


# The variety factors switched off: the fixed template of the engine before issue 12's variety.
VARIETY_OFF = {"line_density": (0.16, 0.36), "anatomy_variety": 0.0, "rib_cortex": (0.0, 0.0),
               "spine_detail": (0.0, 0.0), "skin_fold_prob": 0.0, "pathology_prob": 0.0,
               "implant_prob": 0.0, "sternal_wire_prob": 0.0, "drain_prob": 0.0, "edge_enhance_prob": 0.0,
               "tone_curve_prob": 0.0, "noise_grain_prob": 0.0, "free_line_prob": 0.0}


def _check_range(name: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise ConfigError(f"synth.{name}: must be between {low:g} and {high:g}, got {value!r}")


def _check_interval(name: str, value: tuple, low: float, high: float) -> None:
    if len(value) != 2 or not low <= value[0] <= value[1] <= high:
        raise ConfigError(f"synth.{name}: must be (min, max) with {low:g} <= min <= max <= {high:g}, "
                          f"got {list(value)}")


ETT_STATUS = ("Abnormal", "Borderline", "Normal")
NGT_STATUS = ("Abnormal", "Borderline", "Incompletely Imaged", "Normal")
CVC_STATUS = ("Abnormal", "Borderline", "Normal")


# --------------------------------------------------------------------------------------------
# Curves


def cut_at_length(path: np.ndarray, length: float) -> np.ndarray:
    """The part of ``path`` from its start up to arc length ``length`` (interpolated end point)."""
    s = arc_length(path)
    if length >= s[-1]:
        return path.copy()
    k = int(np.searchsorted(s, length, side="right"))
    f = (length - s[k - 1]) / max(s[k] - s[k - 1], 1e-12)
    return np.concatenate([path[:k], path[k - 1:k] + f * (path[k:k + 1] - path[k - 1:k])])


def cut_at_y(path: np.ndarray, y: float) -> np.ndarray:
    """The part of ``path`` up to where it first reaches height ``y`` going down from its highest
    point (a PICC climbs the arm before it descends the SVC; only the descent counts)."""
    top = int(np.argmin(path[:, 1]))
    below = np.nonzero(path[top:, 1] >= y)[0] + top
    if len(below) == 0:
        return path.copy()
    k = int(below[0])
    if k == top:  # already below y at its highest point
        return path[:k + 1].copy()
    a, b = path[k - 1], path[k]
    f = (y - a[1]) / max(b[1] - a[1], 1e-12)
    return np.concatenate([path[:k], (a + f * (b - a))[None]])


# --------------------------------------------------------------------------------------------
# Anatomy


@dataclass
class Anatomy:
    """Landmarks of one radiograph in normalised coordinates, plus its pixel transform."""

    cx: float  # midline
    apex: float  # lung apex height
    carina: tuple[float, float]
    diaphragm_r: float  # right hemidiaphragm dome (image left)
    diaphragm_l: float  # left hemidiaphragm dome (image right), usually lower
    lung_half_width: float
    svc_x: float
    caj_y: float  # cavo-atrial junction height
    bubble: tuple[float, float]
    heart: tuple[float, float, float, float, float]  # centre x, y, half axes a, b, angle (deg)
    scale: float  # patient size factor for distances
    angle: float  # degrees
    zoom: float
    shift: tuple[float, float]
    texture_seed: int = 0

    def to_px(self, points: np.ndarray, size: int) -> np.ndarray:
        """(N, 2) normalised -> (N, 2) pixel coordinates of a ``size`` x ``size`` image."""
        p = np.asarray(points, np.float64) - 0.5
        c, s = math.cos(math.radians(self.angle)), math.sin(math.radians(self.angle))
        rot = np.array([[c, -s], [s, c]])
        return ((p @ rot.T) * self.zoom + 0.5 + np.asarray(self.shift)) * size - 0.5


def sample_anatomy(patient_rng: np.random.Generator, study_rng: np.random.Generator) -> Anatomy:
    """Draw a patient's anatomy (from ``patient_rng``) with per-study positioning jitter."""
    r = patient_rng
    scale = r.uniform(0.9, 1.1)
    cx = 0.5 + r.normal(0, 0.012)
    apex = r.uniform(0.09, 0.14)
    carina_y = apex + scale * r.uniform(0.22, 0.26)
    carina_x = cx + r.normal(0, 0.006)
    diaphragm_r = min(carina_y + scale * r.uniform(0.30, 0.38), 0.82)
    diaphragm_l = diaphragm_r + r.uniform(0.0, 0.04)
    half_width = scale * r.uniform(0.33, 0.38)
    heart_a = scale * r.uniform(0.13, 0.17)
    heart_b = scale * r.uniform(0.10, 0.125)
    heart = (cx + r.uniform(0.03, 0.06), diaphragm_r - heart_b * 0.8, heart_a, heart_b, r.uniform(-25, -10))
    svc_x = cx - r.uniform(0.055, 0.07)
    caj_y = carina_y + scale * r.uniform(0.10, 0.13)
    bubble = (cx + r.uniform(0.12, 0.18), diaphragm_l + r.uniform(0.04, 0.06))
    s = study_rng
    return Anatomy(
        cx=cx, apex=apex, carina=(carina_x, carina_y), diaphragm_r=diaphragm_r, diaphragm_l=diaphragm_l,
        lung_half_width=half_width, svc_x=svc_x, caj_y=caj_y, bubble=bubble, heart=heart, scale=scale,
        angle=s.normal(0, 1.5), zoom=s.uniform(0.94, 1.04), shift=(s.normal(0, 0.012), s.normal(0, 0.012)),
        texture_seed=int(s.integers(2**31)),
    )


@dataclass(frozen=True)
class Look:
    """How one study's anatomy is drawn; the defaults are the engine's fixed template."""

    rib_width: float = 0.02  # posterior rib band width, normalised
    rib_density: float = 0.08
    rib_step: float = 0.06  # rib spacing before the patient's scale
    lung_darkness: float = 0.30
    texture: float = 1.0  # multiplier of the lung texture amplitude
    cortex: float = 0.0  # density of the bright cortical edges
    spine: float = 0.0  # density of the vertebrae's edges: end plates, cortices, pedicles, spinous processes


def sample_look(cfg: ChestSynthConfig, rng: np.random.Generator) -> Look:
    """A study's Look: the template jittered by ``cfg.anatomy_variety`` (0 = the template)."""
    v = cfg.anatomy_variety
    draws = rng.uniform(-1.0, 1.0, 5)
    return Look(rib_width=0.02 * (1 + v * 0.35 * draws[0]), rib_density=0.08 * (1 + v * 0.6 * draws[1]),
                rib_step=0.06 * (1 + v * 0.1 * draws[2]), lung_darkness=0.30 * (1 + v * 0.3 * draws[3]),
                texture=1 + v * (0.9 * draws[4] + 0.6), cortex=rng.uniform(*cfg.rib_cortex),
                spine=rng.uniform(*cfg.spine_detail))


class _Canvas:
    """Float image of one study plus helpers that rasterise normalised shapes anti-aliased."""

    def __init__(self, anatomy: Anatomy, size: int) -> None:
        self.anatomy = anatomy
        self.size = size
        self.image = np.zeros((size, size), np.float32)

    def px(self, points: np.ndarray) -> np.ndarray:
        return self.anatomy.to_px(points, self.size)

    def _fixed(self, points: np.ndarray) -> np.ndarray:
        return np.round(self.px(points) * 16).astype(np.int32).reshape(-1, 1, 2)

    def fill_mask(self, polygon: np.ndarray, blur: float = 0.0) -> np.ndarray:
        mask = np.zeros((self.size, self.size), np.uint8)
        cv2.fillPoly(mask, [self._fixed(polygon)], 255, cv2.LINE_AA, 4)
        return self._soft(mask, blur)

    def stroke_mask(self, path: np.ndarray, width: float, blur: float = 0.0) -> np.ndarray:
        """Anti-aliased stroke of normalised ``path``; ``width`` normalised (at least 1 px)."""
        mask = np.zeros((self.size, self.size), np.uint8)
        thickness = max(1, int(round(width * self.size * self.anatomy.zoom)))
        cv2.polylines(mask, [self._fixed(path)], False, 255, thickness, cv2.LINE_AA, 4)
        return self._soft(mask, blur)

    def add_line(self, path: np.ndarray, width: float, density: float, core: float = 0.0) -> None:
        """Add a radio-opaque line along normalised ``path`` to the image.

        ``width`` is the line's projected width in pixels of this image. The profile across it is
        that of a cylinder (chord length 2 sqrt(R^2 - d^2), peak ``density``); ``core`` > 0 hollows
        it into a tube whose inner half-width is 0.55 R, the centre ``core`` x lighter, so two dense
        walls show beside a radiolucent lumen. Rendered 4x supersampled in the line's bounding box
        (distance transform to the centreline, placed to 1/8 px), then area-averaged, so sub-pixel
        widths keep their density x width to within 8 %.
        """
        points = self.px(path)
        radius = max(width, 0.3) / 2.0
        pad = int(math.ceil(radius)) + 2
        x0 = max(0, int(math.floor(points[:, 0].min())) - pad)
        y0 = max(0, int(math.floor(points[:, 1].min())) - pad)
        x1 = min(self.size, int(math.ceil(points[:, 0].max())) + pad + 1)
        y1 = min(self.size, int(math.ceil(points[:, 1].max())) + pad + 1)
        if x1 <= x0 or y1 <= y0:
            return
        factor = 4
        centreline = np.full(((y1 - y0) * factor, (x1 - x0) * factor), 255, np.uint8)
        # Pixel i spans [i - 0.5, i + 0.5]; sub-pixel j of it has its centre at (j + 0.5) / factor - 0.5.
        fine = ((points - (x0, y0)) + 0.5) * factor - 0.5
        cv2.polylines(centreline, [np.round(fine * 16).astype(np.int32).reshape(-1, 1, 2)], False, 0, 1,
                      cv2.LINE_8, 4)
        distance = cv2.distanceTransform(centreline, cv2.DIST_L2, cv2.DIST_MASK_PRECISE) / factor
        profile = np.sqrt(np.maximum(radius**2 - distance**2, 0.0))
        if core > 0:
            inner = 0.55 * radius
            profile -= core * np.sqrt(np.maximum(inner**2 - distance**2, 0.0))
        profile = cv2.resize(profile / radius, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
        self.image[y0:y1, x0:x1] += density * profile

    def _soft(self, mask: np.ndarray, blur: float) -> np.ndarray:
        out = mask.astype(np.float32) / 255.0
        sigma = blur * self.size
        if sigma > 0.3:
            out = cv2.GaussianBlur(out, (0, 0), sigma)
        return out


def _ellipse(cxy: tuple[float, float], a: float, b: float, angle: float = 0.0, n: int = 48) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    x, y = a * np.cos(t), b * np.sin(t)
    return np.stack([cxy[0] + c * x - s * y, cxy[1] + s * x + c * y], axis=1)


def _lung(an: Anatomy, side: int) -> np.ndarray:
    """Closed outline of one lung; side -1 = patient right (image left), +1 = patient left."""
    d, cx, w = side, an.cx, an.lung_half_width
    base = an.diaphragm_r if side < 0 else an.diaphragm_l
    medial_low = 0.085 if side < 0 else 0.06
    control = [
        (cx + d * 0.13, an.apex), (cx + d * 0.8 * w, an.apex + 0.05), (cx + d * w, an.apex + 0.24),
        (cx + d * 0.98 * w, base + 0.01), (cx + d * 0.93 * w, base + 0.075), (cx + d * 0.6 * w, base - 0.01),
        (cx + d * 0.25, base + 0.0), (cx + d * medial_low, base + 0.035), (cx + d * 0.055, an.carina[1]),
        (cx + d * 0.05, an.apex + 0.07),
    ]
    return catmull_rom(control, 10, closed=True)


def _noise_field(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    grid = rng.normal(0, 1, (cells, cells)).astype(np.float32)
    return cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC)


def render_anatomy(an: Anatomy, size: int, rng: np.random.Generator, look: Look = Look()) -> _Canvas:
    """Chest background, dense = bright, roughly in [0, 1] before exposure and noise."""
    cv = _Canvas(an, size)
    cx, (tx, ty) = an.cx, an.carina
    # Soft tissue of the trunk with the shoulders and neck cut out of the air above them.
    shoulder = catmull_rom([(-0.1, 0.2), (0.02, 0.1), (cx - 0.2, 0.055), (cx - 0.1, 0.03), (cx - 0.085, -0.1),
                       (cx + 0.085, -0.1), (cx + 0.1, 0.03), (cx + 0.2, 0.055), (0.98, 0.1), (1.1, 0.2)], 8)
    trunk = np.concatenate([shoulder, [(1.1, 1.1), (-0.1, 1.1)]])
    body = cv.fill_mask(trunk, 0.01)
    img = 0.48 * body
    # Humeral heads and scapulae at the edges.
    for d in (-1, 1):
        img += 0.16 * cv.fill_mask(_ellipse((cx + d * 0.47, 0.13), 0.065, 0.07), 0.006)
        img += 0.05 * cv.fill_mask(np.array([(cx + d * 0.31, 0.12), (cx + d * 0.46, 0.15),
                                             (cx + d * 0.41, 0.42)]), 0.02)
    # Lungs minus the mediastinum and heart, with vessel markings fanning out from the hila.
    lungs = np.maximum(cv.fill_mask(_lung(an, -1)), cv.fill_mask(_lung(an, 1)))
    hx, hy, ha, hb, hang = an.heart
    heart = cv.fill_mask(_ellipse((hx, hy), ha, hb, hang), 0.01)
    knob = cv.fill_mask(_ellipse((cx + 0.065, ty - 0.055), 0.035, 0.03), 0.004)
    mediastinum = cv.fill_mask(np.array([(cx - 0.055, -0.1), (cx + 0.05, -0.1), (cx + 0.06, hy),
                                         (cx - 0.065, hy)]), 0.006)
    central = np.maximum(np.maximum(heart, knob), mediastinum)
    lungs = cv2.GaussianBlur(lungs * (1 - central), (0, 0), 0.006 * size)
    vessels = np.zeros_like(img)
    for d in (-1, 1):
        for _ in range(7):
            angle = math.radians(rng.uniform(-70, 80))
            point = np.array([cx + d * 0.1, ty + 0.05])
            path = [point.copy()]
            for _step in range(6):
                angle += rng.normal(0, 0.25)
                point = point + 0.045 * np.array([d * math.cos(angle), math.sin(angle)])
                path.append(point.copy())
            vessels += cv.stroke_mask(catmull_rom(path, 4), 0.007, 0.002) * rng.uniform(0.5, 1.0)
    texture = look.texture * (0.035 * _noise_field(rng, size, 12) + 0.02 * _noise_field(rng, size, 40))
    img -= lungs * (look.lung_darkness - 0.10 * np.clip(vessels, 0, 1) + texture)
    img += 0.05 * central * (1 - 0.5 * mediastinum)
    # Airway: trachea down to the carina, then the main bronchi (right steeper and shorter).
    trachea = catmull_rom([(cx + 0.002, -0.05), (cx, ty - 0.15), (tx, ty)], 8)
    right_b = catmull_rom([(tx, ty), (tx - 0.035 * an.scale, ty + 0.04), (tx - 0.06 * an.scale, ty + 0.085)], 6)
    left_b = catmull_rom([(tx, ty), (tx + 0.05 * an.scale, ty + 0.035), (tx + 0.09 * an.scale, ty + 0.07)], 6)
    airway = np.maximum(cv.stroke_mask(trachea, 0.026, 0.003),
                        np.maximum(cv.stroke_mask(right_b, 0.018, 0.003), cv.stroke_mask(left_b, 0.016, 0.003)))
    img -= 0.17 * airway
    # Spine: a band with vertebral bodies and darker discs, seen through the mediastinum.
    img += 0.07 * cv.fill_mask(np.array([(cx - 0.038, -0.1), (cx + 0.038, -0.1), (cx + 0.042, 1.1),
                                         (cx - 0.042, 1.1)]), 0.004)
    step = 0.043 * an.scale
    for k in range(int(1.2 / step)):
        y = -0.05 + k * step
        img += 0.035 * cv.fill_mask(np.array([(cx - 0.034, y), (cx + 0.034, y), (cx + 0.036, y + step - 0.009),
                                              (cx - 0.036, y + step - 0.009)]), 0.002)
        if look.spine > 0:  # sharp, line-like bone edges a line model must not take for a line
            bottom = y + step - 0.009
            edges = [np.array([(cx - 0.034, y), (cx + 0.034, y)]), np.array([(cx - 0.036, bottom), (cx + 0.036, bottom)]),
                     np.array([(cx - 0.034, y), (cx - 0.036, bottom)]), np.array([(cx + 0.034, y), (cx + 0.036, bottom)])]
            for d in (-1, 1):
                ring = _ellipse((cx + d * 0.022, y + 0.3 * step), 0.007, 0.01, 0, 20)
                edges.append(ring[[*range(20), 0]])
            spinous = cv.fill_mask(_ellipse((cx, y + 0.65 * step), 0.005, 0.009, 0, 16), 0.001)
            img += look.spine * (sum(cv.stroke_mask(edge, 0.003) for edge in edges) + 0.7 * spinous)
    # Ribs: posterior arcs from the spine, fainter anterior arcs; clavicles on top.
    ribs, edges = np.zeros_like(img), np.zeros_like(img)
    w, half = an.lung_half_width, look.rib_width / 2
    for d in (-1, 1):
        for k in range(10):
            y0 = an.apex - 0.02 + k * look.rib_step * an.scale
            post = catmull_rom([(cx + d * 0.045, y0), (cx + d * 0.12, y0 - 0.03), (cx + d * 0.24, y0 - 0.015),
                           (cx + d * (w - 0.03), y0 + 0.05), (cx + d * (w + 0.015), y0 + 0.15)], 6)
            ribs = np.maximum(ribs, cv.stroke_mask(post, look.rib_width, 0.002))
            if look.cortex > 0:  # the cortex of the upper and lower rib borders, a thin bright line
                for offset in (-half, half):
                    edges = np.maximum(edges, cv.stroke_mask(post + (0.0, offset), 0.003))
            ant = catmull_rom([(cx + d * (w + 0.015), y0 + 0.15), (cx + d * 0.75 * w, y0 + 0.2),
                          (cx + d * 0.4 * w, y0 + 0.28)], 6)
            ribs = np.maximum(ribs, 0.4 * cv.stroke_mask(ant, 0.014, 0.004))
        clavicle = catmull_rom([(cx + d * 0.045, an.apex + 0.06), (cx + d * 0.15, an.apex + 0.045),
                           (cx + d * 0.26, an.apex - 0.005), (cx + d * 0.36, an.apex - 0.02)], 8)
        img += 0.14 * cv.stroke_mask(clavicle, 0.026, 0.003)
        if look.cortex > 0:
            for offset in (-0.012, 0.012):
                edges = np.maximum(edges, cv.stroke_mask(clavicle + (0.0, offset), 0.003))
    img += look.rib_density * ribs * body * (1 - 0.6 * central)
    img += look.cortex * edges * body * (1 - 0.6 * central)
    # Gastric bubble under the left hemidiaphragm.
    img -= 0.2 * cv.fill_mask(_ellipse(an.bubble, 0.05 * an.scale, 0.028 * an.scale), 0.006)
    cv.image = img
    return cv


# --------------------------------------------------------------------------------------------
# Devices: routes in normalised coordinates; the status picks where along the route the tip is.


@dataclass
class Device:
    """One drawn line or tube: its label (a LABELS entry), path (normalised) and tip."""

    label: str
    path: np.ndarray
    kind: str  # ett, ngt, cvc, swan


def ett_path(an: Anatomy, status: str, rng: np.random.Generator) -> np.ndarray:
    """Endotracheal tube down the trachea; the tip height above the carina gives the status."""
    (tx, ty), s = an.carina, an.scale
    route = catmull_rom([(an.cx + rng.normal(0, 0.01), -0.06), (an.cx, ty - 0.2), (tx, ty)], 16)
    if status == "Normal":
        return cut_at_y(route, ty - s * rng.uniform(0.075, 0.13))
    if status == "Borderline":
        above = rng.uniform(0.015, 0.04) if rng.random() < 0.5 else rng.uniform(0.17, 0.21)
        return cut_at_y(route, ty - s * above)
    if rng.random() < 0.65:  # in the right main bronchus
        bronchus = catmull_rom([(tx, ty), (tx - 0.035 * s, ty + 0.04), (tx - 0.06 * s, ty + 0.085)], 8)
        return np.concatenate([route, cut_at_length(bronchus, s * rng.uniform(0.035, 0.07))[1:]])
    return cut_at_y(route, ty - s * rng.uniform(0.27, 0.31))  # high, in the neck


def _oesophagus(an: Anatomy, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Route of a feeding tube into the stomach and the arc length where it crosses the diaphragm."""
    ex = an.cx + 0.015
    bx, by = an.bubble
    route = catmull_rom([(an.cx + rng.normal(0.0, 0.01), -0.06), (ex, an.carina[1]), (ex + 0.01, an.diaphragm_l - 0.06),
                    (an.cx + 0.05, an.diaphragm_l + 0.01), (bx - 0.03, by + 0.045), (bx + 0.05, by + 0.03),
                    (bx + 0.07, by - 0.02)], 16)
    crossing = arc_length(cut_at_y(route, an.diaphragm_l))[-1]
    return route, crossing


def ngt_path(an: Anatomy, status: str, rng: np.random.Generator) -> np.ndarray:
    """Nasogastric tube; tip beyond the diaphragm (Normal), at the junction, astray, or off the field."""
    route, crossing = _oesophagus(an, rng)
    s = an.scale
    if status == "Normal":
        return cut_at_length(route, crossing + s * rng.uniform(0.09, 0.2))
    if status == "Borderline":
        return cut_at_length(route, crossing + s * rng.uniform(-0.04, 0.015))
    if status == "Incompletely Imaged":
        down = cut_at_length(route, crossing + 0.03)
        x_end = down[-1, 0] + rng.uniform(-0.05, 0.08)
        tail = catmull_rom([down[-1], (x_end, down[-1, 1] + 0.15), (x_end + rng.uniform(-0.05, 0.05), 1.25)], 12)
        return np.concatenate([down, tail[1:]])
    (tx, ty) = an.carina
    if rng.random() < 0.55:  # down the airway into the right lower lobe
        airway = catmull_rom([(an.cx + rng.normal(0, 0.01), -0.06), (an.cx, ty - 0.15), (tx, ty),
                         (tx - 0.06 * s, ty + 0.085), (tx - 0.1 * s, ty + rng.uniform(0.17, 0.25) * s)], 12)
        return airway
    # Coiled in the oesophagus, tip turned back up.
    y_coil = ty + rng.uniform(-0.03, 0.12) * s
    down = cut_at_y(route, y_coil)
    x0, y0 = down[-1]
    r = 0.03 * s
    loop = catmull_rom([(x0, y0), (x0 + r, y0 + r), (x0, y0 + 2 * r), (x0 - r, y0 + r), (x0 - 0.005, y0 - 0.01),
                   (x0 - 0.01, y0 - rng.uniform(0.05, 0.1))], 8)
    return np.concatenate([down, loop[1:]])


_CVC_ENTRIES = ("right_ij", "left_ij", "right_subclavian", "left_subclavian")
PICC_ENTRIES = ("right_arm", "left_arm")  # peripherally inserted: basilic / cephalic vein of an arm


def _cvc_route(an: Anatomy, entry: str) -> tuple[np.ndarray, np.ndarray]:
    """(route to the cavo-atrial junction and beyond, the neck/arm part before the SVC)."""
    cx, sx = an.cx, an.svc_x
    start = {
        "right_ij": [(cx - 0.11, -0.06), (cx - 0.095, 0.1), (sx - 0.005, an.apex + 0.12)],
        "left_ij": [(cx + 0.11, -0.06), (cx + 0.1, 0.1), (cx + 0.03, an.apex + 0.095), (sx, an.apex + 0.13)],
        "right_subclavian": [(cx - 0.5, an.apex + 0.09), (cx - 0.28, an.apex + 0.07), (cx - 0.12, an.apex + 0.09),
                             (sx, an.apex + 0.13)],
        "left_subclavian": [(cx + 0.5, an.apex + 0.09), (cx + 0.28, an.apex + 0.07), (cx + 0.08, an.apex + 0.09),
                            (sx, an.apex + 0.14)],
        # Up the arm beside the chest wall (entering at the image edge), through the axilla.
        "right_arm": [(cx - 0.58, an.apex + 0.42), (cx - 0.47, an.apex + 0.25), (cx - 0.4, an.apex + 0.14),
                      (cx - 0.27, an.apex + 0.08), (cx - 0.12, an.apex + 0.09), (sx, an.apex + 0.13)],
        "left_arm": [(cx + 0.58, an.apex + 0.42), (cx + 0.47, an.apex + 0.25), (cx + 0.4, an.apex + 0.14),
                     (cx + 0.27, an.apex + 0.08), (cx + 0.08, an.apex + 0.09), (sx, an.apex + 0.14)],
    }[entry]
    route = catmull_rom([*start, (sx, an.carina[1]), (sx + 0.003, an.caj_y), (sx + 0.01, an.caj_y + 0.1 * an.scale)], 16)
    return route, catmull_rom(start, 16)


def cvc_path(an: Anatomy, status: str, rng: np.random.Generator, entry: str | None = None) -> np.ndarray:
    """Central venous catheter; the tip height along the SVC relative to carina and CAJ gives the status."""
    entry = entry or str(rng.choice(_CVC_ENTRIES, p=(0.45, 0.2, 0.25, 0.1)))
    route, neck = _cvc_route(an, entry)
    ty, caj, s = an.carina[1], an.caj_y, an.scale
    if status == "Normal":
        return cut_at_y(route, rng.uniform(ty - 0.01 * s, caj - 0.005 * s))
    if status == "Borderline":
        high = rng.uniform(ty - 0.12 * s, ty - 0.06 * s)
        if rng.random() < 0.5 and high > an.apex + 0.16:  # upper SVC, below where the neck or arm route joins it
            return cut_at_y(route, high)
        return cut_at_y(route, caj + s * rng.uniform(0.035, 0.065))
    kind = rng.random()
    if kind < 0.4:  # deep in the right atrium, curling towards the ventricle
        deep = cut_at_y(route, caj + 0.08 * s)
        x0, y0 = deep[-1]
        tail = catmull_rom([(x0, y0), (x0 + 0.03, y0 + 0.05 * s), (x0 + rng.uniform(0.07, 0.11), y0 + 0.06 * s)], 8)
        return np.concatenate([deep, tail[1:]])
    if kind < 0.7:  # turned up into a neck vein
        x0, y0 = neck[-1]
        up = catmull_rom([(x0, y0), (x0 - 0.01, y0 - 0.06), (x0 - 0.025, y0 - rng.uniform(0.14, 0.2))], 8)
        return np.concatenate([neck, up[1:]])
    # stopped short, lateral in the subclavian / brachiocephalic vein
    return cut_at_length(neck, arc_length(neck)[-1] * rng.uniform(0.45, 0.7))


def swan_path(an: Anatomy, rng: np.random.Generator) -> np.ndarray:
    """Pulmonary artery catheter: SVC, right atrium, right ventricle, outflow tract, a pulmonary artery."""
    route, _ = _cvc_route(an, "right_ij" if rng.random() < 0.7 else "left_subclavian")
    ra = cut_at_y(route, an.caj_y + 0.05 * an.scale)
    x0, y0 = ra[-1]
    cx, ty, s = an.cx, an.carina[1], an.scale
    if rng.random() < 0.6:
        pa_end = (cx - 0.11 * s, ty + 0.05)
    else:
        pa_end = (cx + 0.16 * s, ty + 0.02)
    heart = catmull_rom([(x0, y0), (x0 + 0.03, y0 + 0.07 * s), (cx + 0.08 * s, an.caj_y + 0.1 * s),
                    (cx + 0.09 * s, an.caj_y - 0.02), (cx + 0.05 * s, ty + 0.0), (cx + 0.0, ty - 0.01),
                    pa_end], 12)
    return np.concatenate([ra, heart[1:]])


def free_line_path(an: Anatomy, rng: np.random.Generator, attempts: int = 8) -> np.ndarray | None:
    """A smooth random course (normalised (N, 2)) in from an image edge, or None when every attempt
    ended with its tip in the lower SVC, where a CVC tip is Normal (the line is labelled Abnormal).

    A random walk: the first point just outside a random edge, heading inwards; steps of 0.06-0.14
    of the image with the heading turning by N(0, 0.45) rad each, 2-7 steps, stopping at the edge;
    courses shorter than 0.2 of the image are drawn again.
    """
    for _ in range(attempts):
        edge = int(rng.integers(4))  # left, right, top, bottom
        along = rng.uniform(0.05, 0.95)
        start, heading = {0: ((-0.03, along), 0.0), 1: ((1.03, along), math.pi),
                          2: ((along, -0.03), math.pi / 2), 3: ((along, 1.03), -math.pi / 2)}[edge]
        heading += rng.uniform(-0.7, 0.7)
        points = [np.array(start)]
        for _ in range(int(rng.integers(2, 8))):
            step = rng.uniform(0.06, 0.14)
            nxt = points[-1] + step * np.array([math.cos(heading), math.sin(heading)])
            if len(points) > 1 and not (0.03 <= nxt[0] <= 0.97 and 0.03 <= nxt[1] <= 0.97):
                break
            points.append(nxt)
            heading += rng.normal(0.0, 0.45)
        if len(points) < 3 or arc_length(np.array(points))[-1] < 0.2:
            continue
        tip = points[-1]
        in_svc = abs(tip[0] - an.svc_x) < 0.05 and an.carina[1] - 0.05 * an.scale < tip[1] < an.caj_y + 0.05 * an.scale
        if not in_svc:
            return catmull_rom(points, 12)
    return None


def _line_style(cfg: ChestSynthConfig, rng: np.random.Generator, size: int) -> tuple[float, float, float]:
    """(width in px of this image, peak density, core depth) of one drawn line."""
    width = rng.uniform(*cfg.line_width) * size / 512.0
    core = rng.uniform(*cfg.core_depth) if rng.random() < cfg.core_prob else 0.0
    return width, rng.uniform(*cfg.line_density), core


def _draw_device(cv: _Canvas, device: Device, cfg: ChestSynthConfig, rng: np.random.Generator) -> None:
    path = device.path
    width, density, core = _line_style(cfg, rng, cv.size)
    if device.kind == "ett":
        cv.image += 0.07 * cv.stroke_mask(path, 0.02, 0.002)  # the plastic tube, faint and wide
        cv.add_line(path + np.array([0.006, 0.0]), width, density, core)  # its radio-opaque stripe
    else:
        cv.add_line(path, width, density, core)
    if device.kind == "swan":
        cv.image += 0.2 * cv.fill_mask(_ellipse(tuple(path[-1]), 0.006, 0.006))  # balloon tip


def _draw_ecg_leads(cv: _Canvas, cfg: ChestSynthConfig, devices: Sequence[Device], rng: np.random.Generator) -> None:
    """Electrode stickers and their wires: line-like distractors that are not lines to classify.

    A wire has the width range of the devices; with ``ecg_cross_prob`` it is routed through a point
    of a drawn device, so the two cross.
    """
    for _ in range(int(rng.integers(cfg.ecg_leads[0], cfg.ecg_leads[1] + 1))):
        centre = np.array([rng.uniform(0.08, 0.92), rng.uniform(0.08, 0.6)])
        cv.image += 0.35 * cv.stroke_mask(_ellipse(tuple(centre), 0.014, 0.014, 0, 24)[[*range(24), 0]], 0.003)
        cv.image += 0.4 * cv.fill_mask(_ellipse(tuple(centre), 0.004, 0.004, 0, 12))
        edge = np.array([rng.choice([-0.1, 1.1]), rng.uniform(0.0, 1.0)])
        mid = (centre + edge) / 2 + rng.normal(0, 0.08, 2)
        if devices and rng.random() < cfg.ecg_cross_prob:
            path = devices[int(rng.integers(len(devices)))].path
            mid = path[int(rng.uniform(0.25, 0.75) * (len(path) - 1))]
        width, density, core = _line_style(cfg, rng, cv.size)
        cv.add_line(catmull_rom([centre, mid, edge], 12), width, 0.6 * density, core)


def _skin_fold(cv: _Canvas, an: Anatomy, rng: np.random.Generator) -> None:
    """A skin fold: a long, gently curved density step across one hemithorax, denser laterally."""
    d = rng.choice([-1, 1])
    x = an.cx + d * rng.uniform(0.12, an.lung_half_width)
    top, bottom = an.apex + rng.uniform(-0.05, 0.2), an.diaphragm_r + rng.uniform(0.0, 0.15)
    ys = np.linspace(top, bottom, 4)
    curve = catmull_rom([(x + rng.normal(0, 0.03) + d * 0.04 * k, y) for k, y in enumerate(ys)], 10)
    outside = [(curve[-1][0] + d * 0.6, bottom), (curve[0][0] + d * 0.6, top)]
    cv.image += rng.uniform(0.03, 0.08) * cv.fill_mask(np.concatenate([curve, outside]), 0.002)


def _pathology(cv: _Canvas, an: Anatomy, rng: np.random.Generator) -> None:
    """A pleural effusion (dense base with a meniscus) or patchy consolidation in one lung."""
    d = rng.choice([-1, 1])
    w = an.lung_half_width
    base = an.diaphragm_r if d < 0 else an.diaphragm_l
    if rng.random() < 0.5:
        level = base - rng.uniform(0.05, 0.3)
        meniscus = catmull_rom([(an.cx + d * 0.05, level + 0.05), (an.cx + d * 0.5 * w, level + 0.02),
                                (an.cx + d * (w + 0.03), level - 0.04)], 10)
        polygon = np.concatenate([meniscus, [(an.cx + d * (w + 0.03), 1.1), (an.cx + d * 0.05, 1.1)]])
        cv.image += rng.uniform(0.1, 0.3) * cv.fill_mask(polygon, rng.uniform(0.01, 0.03))
        return
    centre = (an.cx + d * rng.uniform(0.12, 0.8 * w), rng.uniform(an.apex + 0.1, base - 0.05))
    region = cv.fill_mask(_ellipse(centre, rng.uniform(0.06, 0.14), rng.uniform(0.06, 0.14), rng.uniform(0, 180)),
                          0.02)
    patches = np.clip(_noise_field(rng, cv.size, 10) + 0.5, 0.0, 1.5)
    cv.image += rng.uniform(0.06, 0.16) * region * cv2.GaussianBlur(patches, (0, 0), 0.01 * cv.size)


def _implant(cv: _Canvas, an: Anatomy, cfg: ChestSynthConfig, rng: np.random.Generator) -> None:
    """Pacemaker or ICD: a dense can under a clavicle and 1-2 leads looping into the right heart."""
    d = rng.choice([-1, 1])
    can = np.array([an.cx + d * rng.uniform(0.18, 0.3), an.apex + rng.uniform(0.04, 0.1)])
    cv.image += rng.uniform(0.5, 0.8) * cv.fill_mask(_ellipse(tuple(can), 0.035, 0.026, rng.uniform(-20, 20)), 0.002)
    hx, hy, ha, hb, _ = an.heart
    for lead in range(int(rng.integers(1, 3))):
        target = (hx + ha * rng.uniform(0.2, 0.7), hy + hb * rng.uniform(0.1, 0.6)) if lead == 0 else \
            (an.svc_x + 0.01, an.caj_y + rng.uniform(0.0, 0.04))
        loop = can + (rng.normal(0, 0.03), rng.uniform(0.03, 0.07))
        route = catmull_rom([tuple(can), tuple(loop), (an.svc_x + d * 0.05, an.carina[1] - 0.08),
                             (an.svc_x, an.caj_y - 0.02), target], 14)
        width, density, _ = _line_style(cfg, rng, cv.size)
        cv.add_line(route, width, density)
        if rng.random() < 0.4:  # an ICD's shock coil: a wider, denser stretch in the SVC
            coil = route[int(0.55 * len(route)):int(0.75 * len(route))]
            cv.add_line(coil, 2.5 * width, 1.3 * density)


def _sternal_wires(cv: _Canvas, an: Anatomy, rng: np.random.Generator) -> None:
    """4-6 sternotomy wire loops along the midline, each a small dense ring with a twisted knot."""
    top, bottom = an.carina[1] - 0.12, an.heart[1] + 0.05
    for y in np.linspace(top, bottom, int(rng.integers(4, 7))):
        centre = (an.cx + rng.normal(0, 0.006), y + rng.normal(0, 0.008))
        ring = _ellipse(centre, rng.uniform(0.01, 0.016), rng.uniform(0.004, 0.008), rng.normal(0, 10), 24)
        density = rng.uniform(0.3, 0.6)
        cv.image += density * cv.stroke_mask(ring[[*range(24), 0]], 0.004)
        knot = np.array([(centre[0] + 0.014, centre[1] - 0.004), (centre[0] + 0.022, centre[1] + 0.004)])
        cv.image += density * cv.stroke_mask(knot, 0.006)


def _chest_drain(cv: _Canvas, an: Anatomy, cfg: ChestSynthConfig, rng: np.random.Generator) -> None:
    """A chest drain from the lateral chest wall up towards the apex: a wide faint tube, one stripe."""
    d = rng.choice([-1, 1])
    w = an.lung_half_width
    route = catmull_rom([(an.cx + d * (w + 0.12), rng.uniform(0.65, 0.85)),
                         (an.cx + d * (w - 0.02), rng.uniform(0.5, 0.6)),
                         (an.cx + d * rng.uniform(0.15, 0.3), an.apex + rng.uniform(0.03, 0.12))], 14)
    cv.image += rng.uniform(0.04, 0.08) * cv.stroke_mask(route, 0.022, 0.002)
    width, density, _ = _line_style(cfg, rng, cv.size)
    cv.add_line(route + (0.0, 0.006), width, density)


def draw_variety(cv: _Canvas, an: Anatomy, cfg: ChestSynthConfig, rng: np.random.Generator) -> None:
    """The unlabelled variety of ``cfg``: skin folds, pathology, implants, sternal wires, a drain."""
    if rng.random() < cfg.skin_fold_prob:
        for _ in range(int(rng.integers(1, 3))):
            _skin_fold(cv, an, rng)
    if rng.random() < cfg.pathology_prob:
        _pathology(cv, an, rng)
    if rng.random() < cfg.implant_prob:
        _implant(cv, an, cfg, rng)
    if rng.random() < cfg.sternal_wire_prob:
        _sternal_wires(cv, an, rng)
    if rng.random() < cfg.drain_prob:
        _chest_drain(cv, an, cfg, rng)


_MARKER_TEXTS = ("PORTABLE", "AP", "SUPINE", "ERECT", "SEMI-ERECT", "MOBILE", "ICU", "CHEST AP")


def _burn_in_text(image: np.ndarray, rng: np.random.Generator) -> None:
    """Burned-in annotations written on the processed image: a side marker, a view label, a time."""
    size = image.shape[0]
    texts = [str(rng.choice(["R", "L"])), str(rng.choice(_MARKER_TEXTS)),
             f"{rng.integers(1, 29):02d}/{rng.integers(1, 13):02d} {rng.integers(0, 24):02d}:{rng.integers(0, 60):02d}"]
    corners = rng.permutation(4)
    overlay = np.zeros(image.shape, np.uint8)
    for text, corner in zip(texts[:int(rng.integers(1, 4))], corners):
        scale = size / 512.0 * rng.uniform(0.6, 1.3)
        thickness = max(1, int(round(scale * rng.uniform(1.0, 2.5))))
        (w, h), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        margin = int(size * rng.uniform(0.02, 0.06))
        x = margin if corner % 2 == 0 else max(0, size - margin - w)
        y = margin + h if corner < 2 else size - margin
        cv2.putText(overlay, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, int(rng.integers(200, 256)), thickness,
                    cv2.LINE_AA)
    np.maximum(image, overlay.astype(np.float32) / 255.0, out=image)


# --------------------------------------------------------------------------------------------
# Studies


@dataclass
class ChestStudy:
    """One generated study: image (H, W) float32 in [0, 1] (dense = bright), labels (11,), lines."""

    uid: str
    patient_id: str
    image: np.ndarray
    labels: np.ndarray
    lines: list[tuple[str, np.ndarray]] = field(default_factory=list)  # (label, (N, 2) pixel points)
    landmarks: dict[str, list[float]] = field(default_factory=dict)

    def to_sample(self) -> Sample:
        """The study as a cathx Sample (mask = union of line masks, labels etc. in meta)."""
        masks = draw_line_masks([(label_group(label), pts) for label, pts in self.lines], self.image.shape)
        return Sample(image=self.image, mask=masks.max(axis=0),
                      meta={"uid": self.uid, "patient_id": self.patient_id, "labels": self.labels.copy(),
                            "line_masks": masks, "annotated": True, "landmarks": self.landmarks,
                            "dataset": "synthetic-chest", "polarity": "dense_bright"})


def patient_plan(n: int, seed: int) -> list[tuple[int, int]]:
    """(patient index, study index within patient) for studies 0..n-1: 1-4 studies per patient."""
    rng = np.random.default_rng([seed, 7])
    plan: list[tuple[int, int]] = []
    patient = 0
    while len(plan) < n:
        count = int(rng.choice([1, 2, 3, 4], p=(0.35, 0.3, 0.2, 0.15)))
        plan.extend((patient, k) for k in range(count))
        patient += 1
    return plan[:n]


def patient_id(seed: int, patient: int) -> str:
    return f"{(seed * 1_000_003 + patient) * 2_654_435_761 % 16**9:09x}"


def study_uid(seed: int, index: int) -> str:
    return f"{UID_PREFIX}.{seed}.{index + 1}"


def generate_study(seed: int, index: int, size: int = 256, config: ChestSynthConfig | None = None,
                   plan: tuple[int, int] | None = None) -> ChestStudy:
    """Study ``index`` of the synthetic set with ``seed``: deterministic, independent of other studies."""
    cfg = config or ChestSynthConfig()
    patient, _ = plan if plan is not None else patient_plan(index + 1, seed)[index]
    patient_rng = np.random.default_rng([seed, 1, patient])
    rng = np.random.default_rng([seed, 2, index])
    variety = np.random.default_rng([seed, 3, index])  # issue 12's factors: their own stream
    an = sample_anatomy(patient_rng, rng)
    # Device habits belong to the patient (an intubated patient stays intubated for a while).
    propensity = patient_rng.uniform(0.5, 1.5, 4)
    cv = render_anatomy(an, size, np.random.default_rng(an.texture_seed), sample_look(cfg, variety))
    devices: list[Device] = []
    if rng.random() < min(1.0, cfg.ett_prob * propensity[0]):
        status = str(rng.choice(ETT_STATUS, p=cfg.ett_status))
        devices.append(Device(f"ETT - {status}", ett_path(an, status, rng), "ett"))
    if rng.random() < min(1.0, cfg.ngt_prob * propensity[1]):
        status = str(rng.choice(NGT_STATUS, p=cfg.ngt_status))
        devices.append(Device(f"NGT - {status}", ngt_path(an, status, rng), "ngt"))
    if rng.random() < min(1.0, cfg.cvc_prob * propensity[2]):
        for _ in range(2 if rng.random() < cfg.second_cvc_prob else 1):
            status = str(rng.choice(CVC_STATUS, p=cfg.cvc_status))
            entry = str(rng.choice(PICC_ENTRIES, p=(0.6, 0.4))) if rng.random() < cfg.picc_prob else None
            devices.append(Device(f"CVC - {status}", cvc_path(an, status, rng, entry), "cvc"))
    if rng.random() < min(1.0, cfg.swan_prob * propensity[3]):
        devices.append(Device(LABELS[-1], swan_path(an, rng), "swan"))
    for device in devices:
        _draw_device(cv, device, cfg, rng)
    draw_variety(cv, an, cfg, variety)
    if rng.random() < cfg.ecg_prob:
        _draw_ecg_leads(cv, cfg, devices, rng)
    # After the other draws and from a stream of its own: with the factor off, or for every other
    # study, the study is the one drawn without it.
    free = np.random.default_rng([seed, 4, index])
    if free.random() < cfg.free_line_prob:
        path = free_line_path(an, free)
        if path is not None:
            devices.append(Device("CVC - Abnormal", path, "cvc"))
            _draw_device(cv, devices[-1], cfg, free)
    image = _expose(cv.image, rng, cfg.noise, cfg, variety)
    if rng.random() < cfg.text_prob:
        _burn_in_text(image, rng)
    labels = np.zeros(len(LABELS), np.float32)
    lines = []
    for device in devices:
        labels[LABELS.index(device.label)] = 1.0
        points = _annotation_points(cv.px(device.path), size)
        if len(points):
            lines.append((device.label, points))
    landmarks = {
        "carina": cv.px(np.array([an.carina]))[0].tolist(),
        "cavo_atrial_junction": cv.px(np.array([(an.svc_x, an.caj_y)]))[0].tolist(),
        "diaphragm_left": cv.px(np.array([(an.cx + 0.2, an.diaphragm_l)]))[0].tolist(),
        "gastric_bubble": cv.px(np.array([an.bubble]))[0].tolist(),
    }
    return ChestStudy(study_uid(seed, index), patient_id(seed, patient), image, labels, lines, landmarks)


def tone_curve(image: np.ndarray, centre: float, slope: float) -> np.ndarray:
    """A sigmoid display curve through (0, 0) and (1, 1), steepest at ``centre``."""
    def sigmoid(x):
        return 1.0 / (1.0 + np.exp(-slope * (x - centre)))

    low, high = sigmoid(0.0), sigmoid(1.0)
    return ((sigmoid(image) - low) / (high - low)).astype(np.float32)


def _expose(image: np.ndarray, rng: np.random.Generator, noise: float, cfg: ChestSynthConfig | None = None,
            variety: np.random.Generator | None = None) -> np.ndarray:
    """Detector response: contrast, gamma, low-frequency exposure drift, blur and quantum noise;
    with ``cfg`` and its ``variety`` stream also a grain, a display curve and edge enhancement."""
    size = image.shape[0]
    img = image + 0.03 * _noise_field(rng, size, 3)
    img = np.clip(img * rng.uniform(0.9, 1.15) + rng.uniform(0.02, 0.1), 0.0, 1.0)
    img = img ** rng.uniform(0.8, 1.2)
    img = cv2.GaussianBlur(img, (0, 0), 0.4 + 0.3 * rng.random())
    grain = rng.normal(0, noise * rng.uniform(0.6, 1.4), img.shape).astype(np.float32)
    if cfg is None or variety is None:
        return np.clip(img + grain, 0.0, 1.0).astype(np.float32)
    if variety.random() < cfg.noise_grain_prob:
        sd = float(grain.std())
        grain = cv2.GaussianBlur(grain, (0, 0), variety.uniform(0.6, 1.5))
        grain *= sd / max(float(grain.std()), 1e-9)
    img = np.clip(img + grain, 0.0, 1.0)
    if variety.random() < cfg.tone_curve_prob:
        img = tone_curve(img, variety.uniform(0.35, 0.65), variety.uniform(3.0, 9.0))
    if variety.random() < cfg.edge_enhance_prob:
        amount, sigma = variety.uniform(*cfg.edge_enhance), variety.uniform(0.01, 0.04) * size
        img = img + amount * (img - cv2.GaussianBlur(img, (0, 0), sigma))
    return np.clip(img, 0.0, 1.0).astype(np.float32)


def _annotation_points(points_px: np.ndarray, size: int, spacing: float = 6.0) -> np.ndarray:
    """Resample a pixel polyline every ``spacing`` px (at 256 px) and keep the part inside the image."""
    inside = (points_px >= 0).all(axis=1) & (points_px <= size - 1).all(axis=1)
    points_px = points_px[inside]
    if len(points_px) < 2:
        return points_px
    s = arc_length(points_px)
    step = spacing * size / 256.0
    samples = np.append(np.arange(0.0, s[-1], step), s[-1])
    x = np.interp(samples, s, points_px[:, 0])
    y = np.interp(samples, s, points_px[:, 1])
    return np.stack([x, y], axis=1).astype(np.float32)


class SyntheticChestReader(Sequence[Sample]):
    """In-memory synthetic chest studies generated on the fly (for tests and quick experiments)."""

    def __init__(self, n: int, size: int = 256, seed: int = 0, config: ChestSynthConfig | None = None) -> None:
        self.n, self.size, self.seed, self.config = n, size, seed, config
        self.plan = patient_plan(n, seed)
        self.name = f"synthetic-chest:{seed}"
        self.problems: list[str] = []

    def __len__(self) -> int:
        return self.n

    def study(self, index: int) -> ChestStudy:
        if not 0 <= index < self.n:
            raise IndexError(index)
        return generate_study(self.seed, index, self.size, self.config, self.plan[index])

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self.n))]
        return self.study(index if index >= 0 else self.n + index).to_sample()

    @property
    def labels(self) -> np.ndarray:
        return np.stack([self.study(i).labels for i in range(self.n)])

    @property
    def patient_ids(self) -> list[str]:
        return [patient_id(self.seed, p) for p, _ in self.plan]


# --------------------------------------------------------------------------------------------
# Writer


def _render_job(job: tuple[int, int, int, int, int, ChestSynthConfig, str]) -> tuple[list[str], list[list[str]]]:
    seed, index, patient, within, size, cfg, out = job
    study = generate_study(seed, index, size, cfg, (patient, within))
    ok, encoded = cv2.imencode(".jpg", np.round(study.image * 255).astype(np.uint8),
                               [cv2.IMWRITE_JPEG_QUALITY, cfg.jpeg_quality])
    if not ok:  # pragma: no cover - cv2 only fails on invalid arrays
        raise RuntimeError("JPEG encoding failed")
    atomic_write_bytes(Path(out) / IMAGES_DIR / f"{study.uid}.jpg", encoded.tobytes())
    row = [study.uid, *(str(int(v)) for v in study.labels), study.patient_id]
    annotations = [[study.uid, label, format_points(points)] for label, points in study.lines]
    return row, annotations


SYNTH_CARD = "synthetic_card.json"  # marks a folder this engine wrote (what --overwrite may replace)
TRAINING_CARD = "synthetic.json"  # `cls train`'s card of the set it generated (before SYNTH_CARD existed)


def check_chest_output(out: Path, overwrite: bool) -> None:
    """DataError (one line naming ``out``) unless it is absent, empty, or a synthetic set this
    engine wrote and ``overwrite`` is given."""
    if out.exists() and not out.is_dir():
        raise DataError(f"{out}: is a file, not a folder; choose a new folder")
    if not out.is_dir() or not any(out.iterdir()):
        return
    if not any((out / card).is_file() for card in (SYNTH_CARD, TRAINING_CARD)):
        raise DataError(f"{out}: holds files that are not a cathx synthetic chest set (no {SYNTH_CARD}); "
                        "choose an empty or new folder")
    if not overwrite:
        raise DataError(f"{out}: already holds a synthetic chest set; pass --overwrite to replace it")


def iter_jobs(n: int, size: int, seed: int, cfg: ChestSynthConfig, out: Path) -> Iterator[tuple]:
    for index, (patient, within) in enumerate(patient_plan(n, seed)):
        yield (seed, index, patient, within, size, cfg, str(out))


def write_chest_dataset(out: Path | str, n: int, size: int = 256, seed: int = 0,
                        config: ChestSynthConfig | None = None, overwrite: bool = False,
                        workers: int | None = None, progress: Callable[[int, int], None] | None = None) -> Path:
    """Write ``n`` synthetic studies in the RANZCR CLiP layout under ``out``; returns ``out``.

    Images are rendered by ``workers`` processes (default: up to 2) into a partial folder beside
    ``out`` (``fileio.atomic_folder``), which replaces ``out`` only when every study and the CSV
    files are written: a killed run leaves the earlier set whole and no stale images. ``out``
    must be absent, empty, or (with ``overwrite``) a set this function wrote (its SYNTH_CARD); a
    folder of other files, a real RANZCR set among them, is never written over.
    progress: called as ``progress(studies_written, n)`` after each study.
    """
    import json

    out = Path(out)
    if n < 1 or size < 32:
        raise DataError(f"--n must be >= 1 and --size >= 32 (got n={n}, size={size})")
    check_chest_output(out, overwrite)
    cfg = config or ChestSynthConfig()
    workers = workers if workers is not None else render_workers()
    rows, annotations = [], []
    with atomic_folder(out) as partial:
        (partial / IMAGES_DIR).mkdir(parents=True, exist_ok=True)
        jobs = iter_jobs(n, size, seed, cfg, partial)
        with contextlib.ExitStack() as stack:
            rendered = map(_render_job, jobs)
            if workers > 1 and n > 8:
                # Not fork: forking a process whose torch / OpenCV thread pools hold locks can deadlock the
                # children. The forkserver starts clean and this module imports no torch.
                # concurrent.futures, as the fluoroscopy writer (``synthetic.writer._run``): after a
                # failed job, multiprocessing.Pool's terminate could hang for good.
                from concurrent.futures import ProcessPoolExecutor

                method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
                pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method),
                                           initializer=cv2.setNumThreads, initargs=(1,))
                stack.callback(pool.shutdown, wait=True, cancel_futures=True)
                rendered = pool.map(_render_job, jobs, chunksize=8)
            for row, ann in rendered:
                rows.append(row)
                annotations.extend(ann)
                if progress is not None:
                    progress(len(rows), n)
        atomic_write_text(partial / CSV_FILE, csv_text([UID_COLUMN, *LABELS, PATIENT_COLUMN], rows))
        atomic_write_text(partial / ANNOTATIONS_FILE, csv_text([UID_COLUMN, "label", "data"], annotations))
        atomic_write_text(partial / SYNTH_CARD, json.dumps({"kind": "cathx synthetic chest set", "studies": n,
                                                             "size": size, "seed": seed}) + "\n")
    log.info("wrote %d synthetic chest studies to %s", n, out)
    return out


