"""Parameter count and FLOPs of a model at a given input size."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


@torch.no_grad()
def count_flops(model: nn.Module, size: int = 256, in_channels: int = 1, batch: int = 1) -> int:
    """Forward FLOPs for one (batch, in_channels, size, size) input, counted by torch's
    FlopCounterMode (a multiply-add counts as 2 FLOPs; convolutions and matmuls only, so
    pooling, activations and bilinear resizing are left out)."""
    was_training = model.training
    model.eval()
    try:
        image = torch.zeros(batch, in_channels, size, size)
        with FlopCounterMode(display=False) as counter:
            model(image)
        return int(counter.get_total_flops())
    finally:
        model.train(was_training)


def complexity_report(model: nn.Module, size: int = 256, in_channels: int = 1) -> dict[str, float]:
    """{"parameters": count, "parameters_m": millions, "gflops": forward GFLOPs at size x size}."""
    params = count_parameters(model)
    flops = count_flops(model, size, in_channels)
    return {"parameters": params, "parameters_m": params / 1e6, "gflops": flops / 1e9, "input_size": size}
