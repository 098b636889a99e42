"""Augmentation applied to image, mask and electrode points together (albumentations).

The paper augments by scaling, flipping and rotation; ``build_transforms`` gives exactly that
for training and a plain resize for evaluation. Points carry their box side as the keypoint
scale, so a zoom rescales electrode sizes too.
"""

from __future__ import annotations

import albumentations as A
import cv2
import numpy as np


def build_transforms(
    size: int,
    train: bool,
    scale: tuple[float, float] = (0.85, 1.15),
    rotate: float = 15.0,
    flip: float = 0.5,
    p_affine: float = 0.8,
    crop: int = 0,
    intensity: float = 0.0,
    noise: str = "white",
) -> A.Compose:
    """Compose for ``SampleDataset``: resize to ``size`` x ``size``, plus random flip, scale and
    rotation (degrees, +-``rotate``) when ``train``. Keypoints are (x, y, side) in pixels with a
    ``keypoint_index`` label field so the dataset can tell which electrodes survived.

    crop: when ``train`` and 0 < crop < size, a random ``crop`` x ``crop`` window that holds
    catheter pixels when the frame has any (fully convolutional training on patches, as nnU-Net
    does: several times more steps per second; evaluation still sees whole frames).

    intensity: when ``train``, the probability of each group of ``intensity_transforms`` (display
    curves, contrast equalisation, noise, blur/sharpening, resampling and compression artefacts,
    inversion); 0 turns them off. noise: the noise group's kinds (``NOISE_KINDS``)."""
    steps: list[A.BasicTransform] = [A.Resize(size, size, interpolation=cv2.INTER_AREA, p=1.0)]
    if train:
        if flip > 0:
            steps.append(A.HorizontalFlip(p=flip))
        if rotate > 0 or scale != (1.0, 1.0):
            steps.append(
                A.Affine(
                    scale=scale,
                    rotate=(-rotate, rotate),
                    interpolation=cv2.INTER_LINEAR,
                    mask_interpolation=cv2.INTER_NEAREST,
                    border_mode=cv2.BORDER_CONSTANT,
                    fill=0.0,
                    fill_mask=0,
                    p=p_affine,
                )
            )
        if 0 < crop < size:
            steps.append(A.CropNonEmptyMaskIfExists(height=crop, width=crop, p=1.0))
        if intensity > 0:  # after the crop: cheaper on the patch, and nothing here moves a pixel
            steps.extend(intensity_transforms(intensity, noise))
    return A.Compose(
        steps,
        keypoint_params=A.KeypointParams(
            format="xys", label_fields=["keypoint_index"], remove_invisible=True
        ),
    )


# noise group of intensity_transforms: "white" pixel-independent Gaussian or Poisson noise;
# "correlated" adds Gaussian noise drawn at half resolution and upsampled (neighbour correlation
# about 0.75), as quantum noise looks after a detector's blur and a system's spatial filtering;
# "quantum" adds ``QuantumNoise``: stronger where the image is dark (dense), with a grain.
NOISE_KINDS: tuple[str, ...] = ("white", "correlated", "quantum")


def noise_transforms(noise: str) -> list[A.BasicTransform]:
    """Members of the noise group for ``noise`` (one of NOISE_KINDS)."""
    if noise not in NOISE_KINDS:
        raise ValueError(f"unknown noise {noise!r}; choose from {', '.join(NOISE_KINDS)}")
    members: list[A.BasicTransform] = [A.GaussNoise(std_range=(0.01, 0.08)), A.ShotNoise(scale_range=(0.001, 0.01))]
    if noise == "correlated":
        members.append(A.GaussNoise(std_range=(0.03, 0.12), noise_scale_factor=0.5))
    if noise == "quantum":  # OneOf weighs its members by p (0.5 each above): half of the group's draws
        members.append(QuantumNoise(p=1.0))
    return members


def quantum_noise(image: np.ndarray, bright_sigma: float, window: float, grain_px: float,
                  rng: np.random.Generator) -> np.ndarray:
    """``image`` (H, W) or (H, W, 1) float in [0, 1], dense = dark, with noise as X-ray quantum noise
    shows on a display: standard deviation ``bright_sigma`` where the image is white, growing as
    exp(window * (1 - v) / 2) towards black, because the display maps log-attenuation linearly
    over a range ``window`` wide and the photon count falls as exp(-attenuation). ``grain_px``
    (Gaussian sigma, pixels; 0 = white) blurs the noise field as a detector's spread does, keeping
    its standard deviation. Clipped to [0, 1]."""
    value = np.clip(np.asarray(image, np.float32), 0.0, 1.0)
    field = rng.standard_normal(value.shape[:2]).astype(np.float32)
    if grain_px > 0:
        field = cv2.GaussianBlur(field, (0, 0), grain_px)
        field /= max(float(field.std()), 1e-6)
    sigma = bright_sigma * np.exp(window * (1.0 - value.reshape(field.shape)) / 2.0)
    return np.clip(value + (sigma * field).reshape(value.shape), 0.0, 1.0)


class QuantumNoise(A.ImageOnlyTransform):
    """albumentations transform of ``quantum_noise`` with its parameters drawn per image:
    ``bright_sigma`` (0.005-0.03), ``window`` (1-4 log units: darkest pixels 1.6-7.4 times as noisy
    as the brightest), ``grain_px`` (0-1.2). Float images in [0, 1] (SampleDataset's)."""

    def __init__(self, bright_sigma: tuple[float, float] = (0.005, 0.03), window: tuple[float, float] = (1.0, 4.0),
                 grain_px: tuple[float, float] = (0.0, 1.2), p: float = 0.5) -> None:
        super().__init__(p=p)
        self.bright_sigma, self.window, self.grain_px = bright_sigma, window, grain_px

    def get_params(self) -> dict:
        return {"bright_sigma": self.py_random.uniform(*self.bright_sigma), "window": self.py_random.uniform(*self.window),
                "grain_px": self.py_random.uniform(*self.grain_px), "seed": self.py_random.randrange(2**31)}

    def apply(self, img: np.ndarray, bright_sigma: float, window: float, grain_px: float, seed: int,
              **params) -> np.ndarray:
        return quantum_noise(img, bright_sigma, window, grain_px, np.random.default_rng(seed))

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("bright_sigma", "window", "grain_px")


def intensity_transforms(p: float, noise: str = "white", invert: bool = True) -> list[A.BasicTransform]:
    """Pixel-value augmentation for images of unknown origin: what X-ray systems, viewers and
    exports do to an image after acquisition. Each group fires with probability ``p`` (one member
    of it); inversion (only when ``invert``) is rarer. Geometry, masks and keypoints are untouched."""
    steps: list[A.BasicTransform] = [
        A.OneOf([A.RandomGamma(gamma_limit=(60, 160)), A.RandomBrightnessContrast(0.2, 0.35), A.CLAHE(clip_limit=(1, 3))], p=p),
        A.OneOf(noise_transforms(noise), p=p * 0.6),
        A.OneOf([A.GaussianBlur(blur_limit=(3, 5)), A.Sharpen(alpha=(0.1, 0.5)), A.Downscale(scale_range=(0.5, 0.9))], p=p * 0.5),
        A.ImageCompression(quality_range=(40, 95), p=p * 0.25),
    ]
    if invert:
        steps.append(A.InvertImg(p=p * 0.06))
    return steps


def chest_transforms(train: bool, intensity: float = 0.0) -> A.Compose | None:
    """Compose for ``ChestArrayDataset`` (image and packed line mask, already at the cached size):
    mild affine and intensity changes when ``train``, None otherwise. No flips: in a chest
    radiograph left and right matter (a line on the wrong side is a misplaced line).

    intensity: the probability of each group of ``intensity_transforms`` (display curves,
    equalisation, noise, blur / sharpening / resampling, JPEG), added after the mild changes;
    never inversion, since chest radiographs are read with dense = bright. 0 turns them off."""
    if not train:
        return None
    steps: list[A.BasicTransform] = [
        A.Affine(scale=(0.92, 1.08), translate_percent=(-0.04, 0.04), rotate=(-6, 6), p=0.7),
        A.RandomBrightnessContrast(brightness_limit=0.12, contrast_limit=0.15, p=0.7),
        A.RandomGamma(gamma_limit=(85, 118), p=0.4),
    ]
    if intensity > 0:
        steps.extend(intensity_transforms(intensity, "white", invert=False))
    return A.Compose(steps)
