"""Backbones from timm ``features_only``: the stem (stride 2) and the stride 4, 8 and 16 stages.

``ENCODERS[name]`` maps a name to the timm model and the feature indices of strides 2, 4, 8 and
16 (stem, res2, res3, res4 for ResNets); deeper stages are not built where timm allows (ResNet,
VGG, MobileNet, EfficientNet truncate after the last requested stage; HRNet computes all
branches). The stride-2 map costs nothing extra (the stem runs anyway) and is only used by
decoders with an output stride below 4.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import timm
import torch
from torch import Tensor, nn

from cathx.errors import CathxError

logger = logging.getLogger(__name__)

STRIDES: tuple[int, ...] = (2, 4, 8, 16)


@dataclass(frozen=True)
class EncoderSpec:
    timm_name: str
    out_indices: tuple[int, ...]
    kwargs: tuple[tuple[str, object], ...] = ()


ENCODERS: dict[str, EncoderSpec] = {
    "resnet18": EncoderSpec("resnet18", (0, 1, 2, 3)),
    "resnet34": EncoderSpec("resnet34", (0, 1, 2, 3)),
    "vgg16_bn": EncoderSpec("vgg16_bn", (1, 2, 3, 4)),
    "hrnet_w18": EncoderSpec("hrnet_w18", (0, 1, 2, 3)),
    "hrnet_w32": EncoderSpec("hrnet_w32", (0, 1, 2, 3)),
    "mobilenetv3_large_100": EncoderSpec("mobilenetv3_large_100", (0, 1, 2, 3)),
    "efficientnet_b0": EncoderSpec("efficientnet_b0", (0, 1, 2, 3)),
}


def encoder_spec(name: str) -> EncoderSpec:
    try:
        return ENCODERS[name]
    except KeyError:
        raise CathxError(f"unknown encoder {name!r}; choose from {', '.join(sorted(ENCODERS))}") from None


class Encoder(nn.Module):
    """timm feature extractor returning features at strides 2, 4, 8 and 16.

    forward: (B, in_channels, H, W) -> [(B, C2, H/2, W/2), (B, C4, H/4, W/4), (B, C8, H/8, W/8),
    (B, C16, H/16, W/16)]. ``out_channels`` and ``strides`` describe those four maps.
    """

    def __init__(self, name: str, in_channels: int = 1, weights: str | Path | None = None) -> None:
        super().__init__()
        spec = encoder_spec(name)
        self.name = name
        self.body = timm.create_model(
            spec.timm_name,
            pretrained=False,
            features_only=True,
            out_indices=spec.out_indices,
            in_chans=in_channels,
            **dict(spec.kwargs),
        )
        strides = tuple(int(r) for r in self.body.feature_info.reduction())
        if strides != STRIDES:
            raise RuntimeError(f"encoder {name}: expected strides {STRIDES}, timm gives {strides}")
        self.out_channels: tuple[int, ...] = tuple(int(c) for c in self.body.feature_info.channels())
        self.strides: tuple[int, ...] = strides
        if weights is not None:
            load_encoder_weights(self.body, weights, in_channels)

    def forward(self, image: Tensor) -> list[Tensor]:
        return list(self.body(image))


def load_encoder_weights(body: nn.Module, path: str | Path, in_channels: int) -> None:
    """Load a local backbone state dict (classifier keys ignored; an RGB stem summed to ``in_channels``).

    Every layer of the encoder must be in the file with its shape: a file of another backbone
    (resnet18 weights for a resnet34) would otherwise leave the layers it lacks at random values.
    """
    path = Path(path)
    if not path.is_file():
        raise CathxError(f"{path}: encoder weights file not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for a bad file
        raise CathxError(f"{path}: cannot read encoder weights ({type(exc).__name__})") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise CathxError(f"{path}: expected a state dict of tensors")
    own = body.state_dict()
    loaded = {}
    for key, value in state.items():
        if key not in own:  # timm's feature wrapper flattens a top-level module path: features.0 -> features_0
            key = key.replace(".", "_", 1)
        if key not in own or not isinstance(value, Tensor):
            continue
        target = own[key]
        # Only an RGB stem is adapted (timm sums or repeats its kernels); any other channel mismatch
        # is another backbone's layer.
        if (value.ndim == 4 and target.ndim == 4 and value.shape[1] == 3 and target.shape[1] == in_channels
                and value.shape[0] == target.shape[0] and in_channels != 3):
            value = timm.models.adapt_input_conv(in_channels, value)
        if value.shape == target.shape:
            loaded[key] = value
    if not loaded:
        raise CathxError(f"{path}: no tensor matches the encoder's layers (wrong backbone?)")
    missing = [key for key in own if key not in loaded and not key.endswith("num_batches_tracked")]
    if missing:
        raise CathxError(f"{path}: {len(missing)} of the encoder's {len(own)} tensors are missing or of another "
                         f"shape (e.g. {missing[0]}): weights of another backbone?")
    body.load_state_dict(loaded, strict=False)
    logger.info("loaded %d/%d encoder tensors from %s", len(loaded), len(own), path)
