"""CathMTL networks: ``build_model(ModelConfig)`` and named profiles.

This package imports nothing from cathx.data, cathx.losses or cathx.training, so a model can be
built and exported on its own.
"""

from __future__ import annotations

from dataclasses import replace

from torch import nn

from cathx.errors import CathxError
from cathx.models.baselines import BASELINES, build_baseline
from cathx.models.cathmtl import OUTPUT_STRIDE, TASK_HEADS, CathMTL
from cathx.models.config import ENCODER_NAMES, OUTPUT_STRIDES, TASKS, ModelConfig
from cathx.models.encoders import ENCODERS, Encoder
from cathx.models.input_norm import LocalContrastNorm

# Named architectures. "paper" follows the paper's text (ResNet34, latent 512, 64-channel heads);
# the others trade width for speed on a CPU.
MODEL_PROFILES: dict[str, ModelConfig] = {
    "paper": ModelConfig(encoder="resnet34", latent_channels=512, decoder_channels=(256, 128), head_channels=64),
    "realtime": ModelConfig(encoder="resnet18", latent_channels=256, decoder_channels=(128, 64), head_channels=32),
    "demo": ModelConfig(encoder="resnet18", latent_channels=128, decoder_channels=(64, 32), head_channels=32),
    "mobile": ModelConfig(encoder="mobilenetv3_large_100", latent_channels=128, decoder_channels=(64, 32),
                          head_channels=32),
}


def model_profile(name: str, **overrides) -> ModelConfig:
    """The ModelConfig of profile ``name``, with optional field overrides."""
    try:
        cfg = MODEL_PROFILES[name]
    except KeyError:
        raise CathxError(f"unknown model profile {name!r}; choose from {', '.join(MODEL_PROFILES)}") from None
    return replace(cfg, **overrides) if overrides else cfg


def build_model(cfg: ModelConfig) -> nn.Module:
    """Build the network described by ``cfg`` (weights random, or the encoder's from a local file).

    ``cfg.name`` "cathmtl" builds CathMTL; a baseline name builds that smp network wrapped to the
    same output dict (cathx.models.baselines).
    """
    if cfg.name in BASELINES:
        return build_baseline(cfg.name, cfg.encoder, tuple(cfg.tasks), cfg.in_channels, cfg.head_channels)
    if cfg.name != "cathmtl":
        raise CathxError(f"unknown model {cfg.name!r}; choose from cathmtl, {', '.join(BASELINES)}")
    heads: dict[str, int] = {}
    for task in TASKS:  # fixed order so state dicts do not depend on the order in the config
        if task in cfg.tasks:
            heads.update(TASK_HEADS[task])
    encoder = Encoder(cfg.encoder, in_channels=cfg.in_channels, weights=cfg.encoder_weights)
    return CathMTL(
        encoder,
        heads,
        latent_channels=cfg.latent_channels,
        decoder_channels=(cfg.decoder_channels[0], cfg.decoder_channels[1]),
        head_channels=cfg.head_channels,
        attention=cfg.attention == "cbam",
        output_stride=cfg.output_stride,
        fine_channels=cfg.fine_channels,
        in_channels=cfg.in_channels,
        type_head=cfg.type_head,
        input_norm=LocalContrastNorm(cfg.input_norm_window) if cfg.input_norm == "local" else None,
    )


__all__ = [
    "ENCODERS",
    "ENCODER_NAMES",
    "MODEL_PROFILES",
    "OUTPUT_STRIDE",
    "OUTPUT_STRIDES",
    "TASKS",
    "CathMTL",
    "ModelConfig",
    "build_model",
    "model_profile",
]
