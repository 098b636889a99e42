"""CathMTL: encoder -> projection -> attention -> decoder -> declared heads, outputs a dict."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from cathx.models.attention import CBAM
from cathx.models.decoder import Decoder, Projection
from cathx.models.encoders import Encoder
from cathx.models.heads import Head, heatmap_bias

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
        "size":    (B, 2, H/s, W/s) electrode box width and height in input pixels.
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
    ) -> None:
        super().__init__()
        if not heads:
            raise ValueError("CathMTL needs at least one head")
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
        self.output_stride = output_stride

    def forward(self, image: Tensor) -> dict[str, Tensor]:
        height, width = image.shape[-2:]
        if height % 16 or width % 16:
            raise ValueError(f"input height and width must be multiples of 16, got {height}x{width}")
        stride2, stride4, stride8, stride16 = self.encoder(image)
        latent = self.attention(self.projection(stride16))
        features = self.decoder(latent, [image, stride2, stride4, stride8])
        outputs = {name: head(features) for name, head in self.heads.items()}
        if "mask" in outputs and outputs["mask"].shape[-2:] != (height, width):
            outputs["mask"] = F.interpolate(outputs["mask"], size=(height, width), mode="bilinear",
                                            align_corners=False)
        return outputs
