"""Augmentation applied to image, mask and electrode points together (albumentations).

The paper augments by scaling, flipping and rotation; ``build_transforms`` gives exactly that
for training and a plain resize for evaluation. Points carry their box side as the keypoint
scale, so a zoom rescales electrode sizes too.
"""

from __future__ import annotations

import albumentations as A
import cv2


def build_transforms(
    size: int,
    train: bool,
    scale: tuple[float, float] = (0.85, 1.15),
    rotate: float = 15.0,
    flip: float = 0.5,
    p_affine: float = 0.8,
    crop: int = 0,
) -> A.Compose:
    """Compose for ``SampleDataset``: resize to ``size`` x ``size``, plus random flip, scale and
    rotation (degrees, +-``rotate``) when ``train``. Keypoints are (x, y, side) in pixels with a
    ``keypoint_index`` label field so the dataset can tell which electrodes survived.

    crop: when ``train`` and 0 < crop < size, a random ``crop`` x ``crop`` window that holds
    catheter pixels when the frame has any (fully convolutional training on patches, as nnU-Net
    does: several times more steps per second; evaluation still sees whole frames)."""
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
    return A.Compose(
        steps,
        keypoint_params=A.KeypointParams(
            format="xys", label_fields=["keypoint_index"], remove_invisible=True
        ),
    )
