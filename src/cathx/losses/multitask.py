"""Per-task, per-sample, unweighted losses of a CathMTL batch; the weighting lives elsewhere."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from cathx.heatmap import DEFAULT_MIN_SIGMA, encode_targets, heatmap_stride
from cathx.losses.detection import FOCAL_NORMALISATIONS, centernet_focal_loss, size_l1_loss
from cathx.losses.segmentation import bce_loss, soft_dice_loss, soft_iou_loss

# "bce-iou": the paper's Eq. 8; "dice": soft Dice alone, as the catheter-segmentation seed trains its U-Net
SEGMENTATION_LOSSES: tuple[str, ...] = ("bce-iou", "dice")


@dataclass
class LossParts:
    """losses: task -> (B,) loss, 0 where the sample has no label for the task (delta = 0).
    available: task -> (B,) bool, the paper's delta availability.
    components: named (B,) terms ("focal", "size", "bce", "iou"), also 0 where unavailable.
    """

    losses: dict[str, Tensor]
    available: dict[str, Tensor]
    components: dict[str, Tensor]


def task_availability(batch: dict[str, Tensor],
                      tasks: tuple[str, ...] = ("segmentation", "detection")) -> dict[str, Tensor]:
    """(B,) bool per task: "segmentation" from batch["has_mask"], "detection" from batch["has_electrodes"]."""
    keys = {"segmentation": "has_mask", "detection": "has_electrodes"}
    return {task: batch[keys[task]].bool().reshape(-1) for task in tasks}


class MultiTaskCriterion(nn.Module):
    """criterion(outputs, batch) -> {"segmentation": (B,), "detection": (B,)} per-sample unweighted losses.

    Tasks follow the model's outputs: "segmentation" when "mask" is present, "detection" when "heatmap" is.
    seg = BCE + soft IoU (``segmentation_loss`` "bce-iou", the paper) or soft Dice ("dice");
    det = focal + size_weight * L1(size) (lambda = 1 in the paper); ``focal_normalisation`` "batch"
    divides the focal sums by the batch's positives as CenterNet does, "image" by each image's own
    (see cathx.losses.detection.centernet_focal_loss; training's config default is "batch").
    ``batch`` is a collated cathx.data.datasets.SampleDataset batch (image, mask, has_mask,
    electrodes, electrode_sizes, electrode_valid, has_electrodes). Samples without a label for a
    task get loss 0 for it, with no NaN in values or gradients. ``stride`` of the heatmap: None
    reads it from the shapes (image height / heatmap height).
    """

    def __init__(self, size_weight: float = 1.0, stride: int | None = None, min_sigma: float = DEFAULT_MIN_SIGMA,
                 segmentation_loss: str = "bce-iou", focal_normalisation: str = "image") -> None:
        super().__init__()
        if segmentation_loss not in SEGMENTATION_LOSSES:
            raise ValueError(f"segmentation_loss {segmentation_loss!r}: choose from {', '.join(SEGMENTATION_LOSSES)}")
        if focal_normalisation not in FOCAL_NORMALISATIONS:
            raise ValueError(f"focal_normalisation {focal_normalisation!r}: choose from {', '.join(FOCAL_NORMALISATIONS)}")
        self.focal_normalisation = focal_normalisation
        self.segmentation_loss = segmentation_loss
        self.size_weight = size_weight
        self.stride = stride
        self.min_sigma = min_sigma

    def forward(self, outputs: dict[str, Tensor], batch: dict[str, Tensor]) -> dict[str, Tensor]:
        return self.compute(outputs, batch).losses

    def compute(self, outputs: dict[str, Tensor], batch: dict[str, Tensor]) -> LossParts:
        losses: dict[str, Tensor] = {}
        available: dict[str, Tensor] = {}
        components: dict[str, Tensor] = {}
        if "mask" in outputs:
            logits = outputs["mask"]
            avail = task_availability(batch, ("segmentation",))["segmentation"].to(logits.device)
            target = batch["mask"].to(logits.device)
            bce = _masked(bce_loss(logits, target), avail)
            if self.segmentation_loss == "dice":
                dice = _masked(soft_dice_loss(logits, target), avail)
                losses["segmentation"] = dice
                components.update(bce=bce, dice=dice)  # bce kept for the loss-based KPI
            else:
                iou = _masked(soft_iou_loss(logits, target), avail)
                losses["segmentation"] = bce + iou
                components.update(bce=bce, iou=iou)
            available["segmentation"] = avail
        if "heatmap" in outputs:
            heatmap = outputs["heatmap"]
            avail = task_availability(batch, ("detection",))["detection"].to(heatmap.device)
            image_size = tuple(batch["image"].shape[-2:])
            stride = self.stride or heatmap_stride(image_size, tuple(heatmap.shape[-2:]))
            targets = self.targets(batch, image_size=image_size, device=heatmap.device, stride=stride)
            # an unlabelled image's centres must not count among the batch's positives
            positive = targets["positive"] & avail.reshape(-1, 1, 1, 1)
            focal = _masked(centernet_focal_loss(heatmap, targets["heatmap"], positive,
                                                 normalisation=self.focal_normalisation), avail)
            terms = focal
            if "size" in outputs:
                size = _masked(size_l1_loss(outputs["size"], targets["size"], targets["positive"]), avail)
                components["size"] = size
                terms = focal + self.size_weight * size
            losses["detection"], available["detection"] = terms, avail
            components["focal"] = focal
        if not losses:
            raise ValueError("outputs hold neither 'mask' nor 'heatmap'")
        return LossParts(losses, available, components)

    def targets(self, batch: dict[str, Tensor], image_size: tuple[int, int], device: torch.device | None = None,
                stride: int | None = None) -> dict[str, Tensor]:
        """Heatmap, positive and size targets of a batch (see cathx.heatmap.encode_targets)."""
        electrodes = batch["electrodes"].to(device)
        return encode_targets(electrodes, batch["electrode_sizes"].to(device), batch["electrode_valid"].to(device),
                              image_size, stride=stride or self.stride or 4, min_sigma=self.min_sigma)


def _masked(values: Tensor, available: Tensor) -> Tensor:
    """Zero where unavailable (torch.where also gives those rows a zero gradient)."""
    return torch.where(available, values, torch.zeros_like(values))
