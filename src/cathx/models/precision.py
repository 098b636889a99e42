"""Inference in bfloat16: the network run under autocast, its outputs handed back as float32.

On CPUs that compute in bfloat16 (AVX-512 BF16, AMX) oneDNN runs the convolutions in bfloat16 and
the network takes about 0.6x the float32 time; the outputs go back to float32 so that everything
after the network (thresholds, peak decoding, ONNX comparisons) sees the same dtype as before.
Which precision to use is ``cathx.system.inference_precision``'s decision.
"""

from __future__ import annotations

import logging

import torch
from torch import Tensor, nn

from cathx.errors import CathxError

log = logging.getLogger(__name__)


def resolve_precision(precision: str, device: str = "cpu") -> str:
    """A precision option ("auto", "fp32", "bf16") -> what the network runs in on ``device``
    (``cathx.system.inference_precision``); CathxError listing the choices for another name; a
    fallback to fp32 is logged with its reason."""
    from cathx.system import inference_precision

    try:
        resolved, why = inference_precision(precision, device)
    except ValueError as exc:
        raise CathxError(str(exc)) from None
    if why:
        log.warning(why)
    return resolved


class BFloat16Autocast(nn.Module):
    """Wraps a network returning a dict of tensors: ``forward(x)`` is ``net(x)`` computed under
    ``torch.autocast(device, bfloat16)``, each floating output cast back to float32 (same shapes)."""

    def __init__(self, network: nn.Module, device_type: str = "cpu") -> None:
        super().__init__()
        self.network = network
        self.device_type = device_type

    def forward(self, image: Tensor) -> dict[str, Tensor]:
        with torch.autocast(self.device_type, dtype=torch.bfloat16):
            outputs = self.network(image)
        return {name: value.float() if value.is_floating_point() else value for name, value in outputs.items()}

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:  # config attributes of the wrapped network (output_stride, tasks, ...)
            return getattr(super().__getattr__("network"), name)


def with_precision(network: nn.Module, precision: str, device: str = "cpu") -> nn.Module:
    """``network`` for precision "fp32", wrapped in BFloat16Autocast for "bf16" (a resolved
    precision: ``cathx.system.inference_precision`` turns "auto" into one of the two)."""
    if precision == "fp32":
        return network
    if precision == "bf16":
        return BFloat16Autocast(network, "cuda" if str(device).startswith("cuda") else "cpu")
    raise ValueError(f"precision {precision!r}: choose from fp32, bf16")
