"""Baseline segmentation networks from segmentation-models-pytorch, wrapped to CathMTL's outputs.

Every baseline returns the same dict as CathMTL so one trainer, one loss and one evaluation serve
all methods (the paper trains every compared method "with the same dataset and the same training
strategy"):

- ``"mask"``: (B, 1, H, W) segmentation logits, from smp's own segmentation head;
- ``"heatmap"``: (B, 1, H/4, W/4) electrode-centre logits and ``"size"``: (B, 2, H/4, W/4) box
  width and height in input pixels, from two heads on the decoder's last feature map, resampled to
  stride 4 (average pooling from a finer map, bilinear upsampling from a coarser one).

Keys of tasks that are switched off are absent. Encoders start from random weights
(``encoder_weights=None``; nothing is downloaded) and take one input channel.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor, nn

from cathx.models.heads import Head, heatmap_bias

TASKS = ("segmentation", "detection")
# The encoders a baseline config may name (ModelConfig checks it) and the tests cover: the paper's
# ResNet34 and the seed's efficientnet-b2. build_baseline itself takes any smp encoder name.
ENCODERS = ("resnet34", "efficientnet-b2")
OUTPUT_STRIDE = 4  # stride of the heatmap and size outputs, as in CathMTL


@dataclass(frozen=True)
class BaselineSpec:
    """One named baseline: an smp architecture, its default encoder and how it is meant to be trained.

    ``min_size``: smallest square input the architecture accepts (pyramid pooling needs room).
    ``input_size``, ``segmentation_loss``, ``tasks``: what a faithful run of this baseline uses
    (None = whatever the experiment says), as a record: the benchmark suites
    (cathx.benchmarking.suites) write the same values into their variants, and a test checks
    that they agree.
    """

    architecture: str
    encoder: str = "resnet34"
    description: str = ""
    min_size: int = 64
    input_size: int | None = None
    segmentation_loss: str | None = None
    tasks: str | None = None


BASELINES: dict[str, BaselineSpec] = {
    "unet": BaselineSpec("Unet", description="U-Net (Ronneberger et al. 2015)"),
    "unetplusplus": BaselineSpec("UnetPlusPlus", description="U-Net++ (Zhou et al. 2018)"),
    "fpn": BaselineSpec("FPN", description="Feature Pyramid Network (Lin et al. 2017)"),
    "deeplabv3": BaselineSpec("DeepLabV3", description="DeepLabV3 (Chen et al. 2017)"),
    "deeplabv3plus": BaselineSpec("DeepLabV3Plus", description="DeepLabV3+ (Chen et al. 2018)"),
    "manet": BaselineSpec("MAnet", description="Multi-scale attention net (Fan et al. 2020)"),
    "linknet": BaselineSpec("Linknet", description="LinkNet (Chaurasia and Culurciello 2017)"),
    "pan": BaselineSpec("PAN", description="Pyramid Attention Network (Li et al. 2018)", min_size=128),
    "upernet": BaselineSpec("UPerNet", description="UPerNet (Xiao et al. 2018)"),
    "segformer": BaselineSpec("Segformer", description="SegFormer decoder (Xie et al. 2021) on a CNN encoder"),
    # The catheter segmentation seed: Keras U-Net with an efficientnet-b2 backbone, 256x256 inputs
    # divided by 255 (our images are already in [0, 1]), Dice loss, segmentation only.
    "seed_unet_effb2": BaselineSpec(
        "Unet",
        encoder="efficientnet-b2",
        description="seed: U-Net, efficientnet-b2, 256x256, inputs /255, Dice loss",
        input_size=256,
        segmentation_loss="dice",
        tasks="segmentation",
    ),
}


def _lookup(name: str) -> BaselineSpec:
    try:
        return BASELINES[name]
    except KeyError:
        raise ValueError(f"unknown baseline {name!r}; choose from {', '.join(sorted(BASELINES))}") from None


def normalize_tasks(tasks: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """``"multitask"`` / ``"segmentation"`` / ``("segmentation", "detection")`` -> sorted task tuple."""
    if isinstance(tasks, str):
        tasks = TASKS if tasks in ("multitask", "multi-task", "both") else (tasks,)
    unknown = sorted(set(tasks) - set(TASKS))
    if unknown or not tasks:
        raise ValueError(f"unknown task {unknown[0] if unknown else '(none)'!r}; choose from {', '.join(TASKS)}")
    return tuple(t for t in TASKS if t in tasks)


def to_stride(features: Tensor, height: int, width: int) -> Tensor:
    """Resample (B, C, h, w) decoder features to (B, C, height, width): mean-pool down, bilinear up."""
    h, w = features.shape[-2:]
    if (h, w) == (height, width):
        return features
    if h >= height and w >= width:
        return F.adaptive_avg_pool2d(features, (height, width))
    return F.interpolate(features, size=(height, width), mode="bilinear", align_corners=False)


class SmpBaseline(nn.Module):
    """An smp encoder-decoder with detection heads on its decoder output.

    forward(image (B, in_channels, H, W) in [0, 1]) -> dict with "mask" (B, 1, H, W) logits,
    "heatmap" (B, 1, H/4, W/4) logits and "size" (B, 2, H/4, W/4) pixels (per enabled task).
    H and W must be multiples of 32.
    """

    def __init__(
        self,
        architecture: str,
        encoder: str = "resnet34",
        tasks: str | tuple[str, ...] = TASKS,
        in_channels: int = 1,
        head_width: int = 64,
    ) -> None:
        super().__init__()
        import segmentation_models_pytorch as smp

        if architecture not in smp.MODEL_ARCHITECTURES_MAPPING.values() and not hasattr(smp, architecture):
            raise ValueError(f"unknown smp architecture {architecture!r}")
        self.tasks = normalize_tasks(tasks)
        self.output_stride = OUTPUT_STRIDE  # of "heatmap" and "size", as CathMTL declares it
        self.architecture = architecture
        self.encoder_name = encoder
        self.net = _build_smp(architecture, encoder, in_channels)
        decoder_channels = self.net.segmentation_head[0].in_channels
        self.heads = nn.ModuleDict()
        if "detection" in self.tasks:
            # CathMTL's head design: two 3x3 convolutions of head_width channels and a 1x1 output.
            self.heads["heatmap"] = Head(decoder_channels, 1, head_width, bias_init=heatmap_bias())
            self.heads["size"] = Head(decoder_channels, 2, head_width)
        if "segmentation" not in self.tasks:
            # Unused parameters would upset DDP and inflate the parameter count of a detection-only model.
            self.net.segmentation_head = nn.Identity()

    @property
    def decoder(self) -> nn.Module:
        """smp's decoder: the last layers shared by all tasks (GradNorm weighs gradients there)."""
        return self.net.decoder

    def forward(self, image: Tensor) -> dict[str, Tensor]:
        height, width = image.shape[-2:]
        # smp's own forward checks the size; calling its parts directly must too (an 80 px input
        # would otherwise fail deep in a decoder with a tensor-size mismatch).
        self.net.check_input_shape(image)
        features = self.net.encoder(image)
        decoded = self.net.decoder(features)
        outputs: dict[str, Tensor] = {}
        if "segmentation" in self.tasks:
            outputs["mask"] = self.net.segmentation_head(decoded)
        if "detection" in self.tasks:
            coarse = to_stride(decoded, height // OUTPUT_STRIDE, width // OUTPUT_STRIDE)
            outputs["heatmap"] = self.heads["heatmap"](coarse)
            outputs["size"] = self.heads["size"](coarse)
        return outputs


def _build_smp(architecture: str, encoder: str, in_channels: int) -> nn.Module:
    import segmentation_models_pytorch as smp

    known = smp.encoders.get_encoder_names()
    if encoder not in known:
        raise ValueError(
            f"unknown encoder {encoder!r} for smp baselines; tested: {', '.join(ENCODERS)} "
            f"(any of segmentation_models_pytorch.encoders.get_encoder_names() also works)"
        )
    cls = getattr(smp, architecture)
    return cls(encoder_name=encoder, encoder_weights=None, in_channels=in_channels, classes=1)


def build_baseline(
    name: str,
    encoder: str | None = None,
    tasks: str | tuple[str, ...] = TASKS,
    in_channels: int = 1,
    head_width: int = 64,
) -> SmpBaseline:
    """Build baseline ``name`` (a key of BASELINES); ``encoder`` None takes the baseline's default."""
    spec = _lookup(name)
    return SmpBaseline(
        spec.architecture,
        encoder=encoder or spec.encoder,
        tasks=tasks,
        in_channels=in_channels,
        head_width=head_width,
    )
