"""CathMTL: encoder -> projection -> attention -> decoder -> declared heads, outputs a dict."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cathx.models.attention import CBAM
from cathx.models.decoder import Decoder, Projection
from cathx.models.encoders import Encoder
from cathx.models.heads import Head, TypeHead, heatmap_bias
from cathx.structures import TYPE_HEAD_CLASSES

OUTPUT_STRIDE = 4  # the paper's; ModelConfig.output_stride can lower it to 2 or 1

# Output name -> number of channels, per task.
TASK_HEADS: dict[str, dict[str, int]] = {
    "segmentation": {"mask": 1},
    "detection": {"heatmap": 1, "size": 2},
}


class CathMTL(nn.Module):
    """Multi-task catheter network.

    forward(image (B, in_channels, H, W), H and W multiples of 16) returns a dict with the
    declared heads (s = ``output_stride``, 4 by default as in the paper):
        "mask":    (B, 1, H, W) segmentation logits (stride-s logits upsampled bilinearly),
        "heatmap": (B, 1, H/s, W/s) electrode centre logits,
        "size":    (B, 2, H/s, W/s) electrode box width and height in input pixels,
        "type":    (B, 5, H/8, W/8) catheter type logits (TYPE_HEAD_CLASSES order) on catheter
                   cells, only with ``type_head`` (it reads the other outputs, see type_input).
    """

    def __init__(
        self,
        encoder: Encoder,
        heads: dict[str, int],
        latent_channels: int = 512,
        decoder_channels: tuple[int, int] = (256, 128),
        head_channels: int = 64,
        attention: bool = True,
        output_stride: int = OUTPUT_STRIDE,
        fine_channels: int = 32,
        in_channels: int = 1,
        type_head: bool = False,
        input_norm: nn.Module | None = None,
    ) -> None:
        super().__init__()
        if not heads:
            raise ValueError("CathMTL needs at least one head")
        # what the input goes through first (cathx.models.input_norm); every path below sees its output
        self.input_norm = input_norm if input_norm is not None else nn.Identity()
        self.encoder = encoder
        self.projection = Projection(encoder.out_channels[-1], latent_channels)
        self.attention = CBAM(latent_channels) if attention else nn.Identity()
        skip_channels = (in_channels, *encoder.out_channels[:3])
        self.decoder = Decoder(latent_channels, skip_channels, (decoder_channels[0], decoder_channels[1]),
                               output_stride, fine_channels)
        self.heads = nn.ModuleDict(
            {
                name: Head(self.decoder.out_channels, channels, head_channels,
                           bias_init=heatmap_bias() if name == "heatmap" else 0.0)
                for name, channels in heads.items()
            }
        )
        # Reads the stride-8 decoder stage (coarse enough to see a catheter's electrode row) and the
        # network's own mask and electrode maps folded into it (type_input).
        self.type_head = None
        if type_head:
            folded = (64 if "mask" in heads else 0) + ((8 // output_stride) ** 2 if "heatmap" in heads else 0)
            self.type_head = TypeHead(decoder_channels[0] + folded, len(TYPE_HEAD_CLASSES))
        self.output_stride = output_stride

    def forward(self, image: Tensor) -> dict[str, Tensor]:
        height, width = image.shape[-2:]
        if height % 16 or width % 16:
            raise ValueError(f"input height and width must be multiples of 16, got {height}x{width}")
        coarse, outputs = self.trunk(image)
        if self.type_head is not None:
            outputs["type"] = self.type_head(self.type_input(coarse, outputs))
        return outputs

    def trunk(self, image: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """Everything but the type head: (stride-8 features, the task heads' outputs)."""
        height, width = image.shape[-2:]
        coarse, skips = self.coarse_features(image)
        features = self.decoder.fine(coarse, skips)
        outputs = {name: head(features) for name, head in self.heads.items()}
        if "mask" in outputs and outputs["mask"].shape[-2:] != (height, width):
            outputs["mask"] = F.interpolate(outputs["mask"], size=(height, width), mode="bilinear",
                                            align_corners=False)
        return coarse, outputs

    def type_input(self, coarse: Tensor, outputs: dict[str, Tensor]) -> Tensor:
        """The type head's input: the stride-8 features (B, C, H/8, W/8) with the mask and
        electrode-heatmap probabilities folded into channels (pixel_unshuffle: every pixel of a
        cell kept, so the exact ring spacing survives; 64 channels for the full-size mask, (8/s)^2
        for a stride-s heatmap)."""
        parts = [coarse]
        # fixed factors (not read from shapes, which ONNX export would trace as tensors)
        for name, factor in (("mask", 8), ("heatmap", 8 // self.output_stride)):
            if name in outputs:
                parts.append(F.pixel_unshuffle(torch.sigmoid(outputs[name].to(coarse.dtype)), factor))
        return torch.cat(parts, dim=1)

    def coarse_features(self, image: Tensor) -> tuple[Tensor, list[Tensor]]:
        """The decoder's stride-8 features (B, decoder_channels[0], H/8, W/8) and the skips
        [image, stride 2, 4, 8] the finer stages need: all the catheter-type head reads."""
        image = self.input_norm(image)
        stride2, stride4, stride8, stride16 = self.encoder(image)
        latent = self.attention(self.projection(stride16))
        skips = [image, stride2, stride4, stride8]
        return self.decoder.coarse(latent, skips), skips
