"""Line and tube position classifiers for chest radiographs (RANZCR CLiP labels).

Three variants over a timm backbone, all returning ``{"logits": (B, 11)}`` in LABELS order:

- ``single``: global average pool and one linear layer of 11 sigmoid outputs.
- ``multi``: one head per device group (ETT 3, NGT 4, CVC 3, Swan-Ganz 1), each with its own
  1x1 convolution and average + max pooling, concatenated back into LABELS order.
- ``seg_aided``: a light U-Net-style decoder on the backbone's feature pyramid predicts one line
  mask per device group (``"mask"``: (B, 4, H/4, W/4) logits), trained on the annotations as an
  auxiliary target; the classifier pools the deepest features together with decoder features
  weighted by each predicted mask, so it looks where the lines are.

Every variant passes the map it pools through ``cam_layer`` (an identity), the hook point for
Grad-CAM. Backbones come from the four families of the seed, spelled as timm spells them today:
``rexnet_*``, ``seresnext*`` / ``legacy_seresnet*``, ``efficientnet_*`` and ``resnest*``; weights
are random (``pretrained=False``: no downloads). This module imports neither data nor training.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import timm
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cathx.config import choices

NUM_LABELS = 11
GROUP_SIZES: tuple[int, ...] = (3, 4, 3, 1)  # ETT, NGT, CVC, Swan-Ganz in LABELS order
BACKBONE_FAMILIES: tuple[str, ...] = ("rexnet_", "rexnetr_", "seresnext", "legacy_seresnet", "efficientnet_",
                                      "resnest")


@dataclass(frozen=True)
class ClassifierConfig:
    """Which classifier to build; saved inside every checkpoint."""

    kind: str = field(default="single", metadata=choices("single", "multi", "seg_aided"))
    backbone: str = "rexnet_100"
    in_chans: int = 1
    num_labels: int = NUM_LABELS
    group_sizes: tuple[int, ...] = GROUP_SIZES
    drop_rate: float = 0.2
    head_width: int = 128  # hidden channels of each multi-head branch
    decoder_width: int = 32  # channels of the seg-aided decoder
    # Extra keyword arguments for timm.create_model, e.g. {"width_mult": 0.75} for a slimmer ReXNet.
    backbone_args: dict[str, Any] = field(default_factory=dict)


def check_backbone(name: str) -> str:
    """Return ``name`` if timm has it and it is of a seed family; else ValueError listing choices."""
    if not name.startswith(BACKBONE_FAMILIES):
        raise ValueError(f"unknown backbone {name!r}; choose a timm model of the families "
                         f"{', '.join(f + '*' for f in BACKBONE_FAMILIES)} (e.g. rexnet_100, efficientnet_b0, "
                         f"resnest14d, legacy_seresnet18, seresnext26d_32x4d)")
    if name not in timm.list_models(name):
        similar = sorted(m for m in timm.list_models(name.split("_")[0] + "*"))[:8]
        raise ValueError(f"unknown backbone {name!r}; timm {timm.__version__} has e.g. {', '.join(similar)}")
    return name


def _encoder(cfg: ClassifierConfig, features_only: bool) -> nn.Module:
    check_backbone(cfg.backbone)
    kwargs = {**cfg.backbone_args, "pretrained": False, "in_chans": cfg.in_chans}
    if features_only:
        return timm.create_model(cfg.backbone, features_only=True, **kwargs)
    return timm.create_model(cfg.backbone, num_classes=0, global_pool="", **kwargs)


def _group_slices(sizes: tuple[int, ...]) -> list[slice]:
    starts = [sum(sizes[:i]) for i in range(len(sizes))]
    return [slice(s, s + n) for s, n in zip(starts, sizes)]


class SingleHeadClassifier(nn.Module):
    """Backbone, global average pool, dropout, Linear(C, 11)."""

    def __init__(self, cfg: ClassifierConfig) -> None:
        super().__init__()
        self.config = cfg
        self.encoder = _encoder(cfg, features_only=False)
        self.cam_layer = nn.Identity()
        self.dropout = nn.Dropout(cfg.drop_rate)
        self.head = nn.Linear(self.encoder.num_features, cfg.num_labels)

    def forward(self, image: Tensor) -> dict[str, Tensor]:
        """image: (B, in_chans, H, W) -> {"logits": (B, num_labels)}."""
        features = self.cam_layer(self.encoder.forward_features(image))
        pooled = features.mean(dim=(2, 3))
        return {"logits": self.head(self.dropout(pooled))}


class GroupHead(nn.Module):
    """One device group's head: 1x1 conv, BN, SiLU, average + max pooling, Linear."""

    def __init__(self, in_channels: int, width: int, outputs: int, drop_rate: float) -> None:
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(in_channels, width, 1, bias=False), nn.BatchNorm2d(width), nn.SiLU())
        self.dropout = nn.Dropout(drop_rate)
        self.fc = nn.Linear(2 * width, outputs)

    def forward(self, features: Tensor) -> Tensor:
        x = self.conv(features)
        pooled = torch.cat([x.mean(dim=(2, 3)), x.amax(dim=(2, 3))], dim=1)
        return self.fc(self.dropout(pooled))


class MultiHeadClassifier(nn.Module):
    """Shared backbone, one GroupHead per device group, logits concatenated in LABELS order."""

    def __init__(self, cfg: ClassifierConfig) -> None:
        super().__init__()
        if sum(cfg.group_sizes) != cfg.num_labels:
            raise ValueError(f"group_sizes {cfg.group_sizes} do not add up to num_labels {cfg.num_labels}")
        self.config = cfg
        self.encoder = _encoder(cfg, features_only=False)
        self.cam_layer = nn.Identity()
        self.heads = nn.ModuleList(GroupHead(self.encoder.num_features, cfg.head_width, n, cfg.drop_rate)
                                   for n in cfg.group_sizes)

    def forward(self, image: Tensor) -> dict[str, Tensor]:
        """image: (B, in_chans, H, W) -> {"logits": (B, num_labels)}."""
        features = self.cam_layer(self.encoder.forward_features(image))
        return {"logits": torch.cat([head(features) for head in self.heads], dim=1)}


class _UpBlock(nn.Module):
    def __init__(self, in_channels: int, skip_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(in_channels + skip_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="nearest")
        return self.conv(torch.cat([x, skip], dim=1))


class SegAidedClassifier(nn.Module):
    """Backbone pyramid + light U-Net decoder to stride 4 predicting line masks per device group.

    Classification pools the deepest features (average) and, for each mask channel, the decoder
    features weighted by that channel's predicted probability (mask attention).
    """

    def __init__(self, cfg: ClassifierConfig) -> None:
        super().__init__()
        self.config = cfg
        self.encoder = _encoder(cfg, features_only=True)
        info = self.encoder.feature_info
        reductions, channels = info.reduction(), info.channels()
        # The pyramid from stride 4 (or the first level beyond it) to the deepest level.
        keep = [i for i, r in enumerate(reductions) if r >= 4]
        self.levels = keep
        chans = [channels[i] for i in keep]
        width = cfg.decoder_width
        self.lateral = nn.Conv2d(chans[-1], width * 2, 1)
        blocks, in_ch = [], width * 2
        for skip in reversed(chans[:-1]):
            blocks.append(_UpBlock(in_ch, skip, width))
            in_ch = width
        self.decoder = nn.ModuleList(blocks)
        self.mask_head = nn.Conv2d(in_ch, len(cfg.group_sizes), 1)
        self.cam_layer = nn.Identity()
        self.dropout = nn.Dropout(cfg.drop_rate)
        self.head = nn.Linear(chans[-1] + in_ch * len(cfg.group_sizes), cfg.num_labels)
        self.decoder_channels = in_ch

    def forward(self, image: Tensor) -> dict[str, Tensor]:
        """image: (B, in_chans, H, W) -> {"logits": (B, num_labels), "mask": (B, groups, H/4, W/4) logits}."""
        pyramid = self.encoder(image)
        feats = [pyramid[i] for i in self.levels]
        deep = self.cam_layer(feats[-1])
        x = self.lateral(deep)
        for block, skip in zip(self.decoder, reversed(feats[:-1])):
            x = block(x, skip)
        mask = self.mask_head(x)
        if mask.shape[-1] * 4 != image.shape[-1] or mask.shape[-2] * 4 != image.shape[-2]:
            mask = F.interpolate(mask, size=(image.shape[-2] // 4, image.shape[-1] // 4), mode="bilinear",
                                 align_corners=False)
            x = F.interpolate(x, size=mask.shape[-2:], mode="bilinear", align_corners=False)
        attention = torch.sigmoid(mask)  # (B, G, h, w)
        weights = attention / (attention.sum(dim=(2, 3), keepdim=True) + 1e-6)
        attended = torch.einsum("bghw,bchw->bgc", weights, x).flatten(1)  # (B, G * C)
        pooled = torch.cat([deep.mean(dim=(2, 3)), attended], dim=1)
        return {"logits": self.head(self.dropout(pooled)), "mask": mask}


CLASSIFIERS: dict[str, type[nn.Module]] = {
    "single": SingleHeadClassifier,
    "multi": MultiHeadClassifier,
    "seg_aided": SegAidedClassifier,
}


def build_classifier(cfg: ClassifierConfig) -> nn.Module:
    """Build the classifier ``cfg.kind`` (ValueError listing the kinds on a miss)."""
    if cfg.kind not in CLASSIFIERS:
        raise ValueError(f"unknown classifier {cfg.kind!r}; choose from {', '.join(sorted(CLASSIFIERS))}")
    return CLASSIFIERS[cfg.kind](cfg)
