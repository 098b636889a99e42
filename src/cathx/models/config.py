"""ModelConfig: the few values that define a CathMTL network; saved inside every checkpoint."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from cathx.config import check_choice, choices
from cathx.errors import ConfigError
from cathx.models.baselines import BASELINES, BaselineSpec
from cathx.models.baselines import ENCODERS as BASELINE_ENCODERS

# Kept in step with cathx.models.encoders.ENCODERS (a test checks the two agree); listed here so
# the config stays a leaf module that builds nothing.
ENCODER_NAMES: tuple[str, ...] = (
    "resnet18",
    "resnet34",
    "vgg16_bn",
    "hrnet_w18",
    "hrnet_w32",
    "mobilenetv3_large_100",
    "efficientnet_b0",
)
TASKS: tuple[str, ...] = ("segmentation", "detection")
OUTPUT_STRIDES: tuple[int, ...] = (4, 2, 1)
INPUT_NORMS: tuple[str, ...] = ("none", "local")  # cathx.models.input_norm


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of a CathMTL network (or of an smp baseline, see below).

    name: "cathmtl", or a key of cathx.models.baselines.BASELINES: an smp segmentation network
        wrapped to the same output dict (encoder, tasks, in_channels and head_channels apply;
        output_stride must stay 4).

    encoder: timm backbone; its stride 4, 8 and 16 stages are used (res2-res4), res5 is dropped.
    encoder_weights: optional local file with backbone weights (timm or torchvision state dict);
        nothing is ever downloaded.
    latent_channels: width of the 3x3 projection after the stride-16 stage (512 in the paper).
    decoder_channels: widths of the decoder blocks at stride 8 and stride 4.
    head_channels: width of the two 3x3 convolutions of every head (64 in the paper).
    output_stride: stride of the feature map the heads run on: 4 as in the paper, or 2 / 1 with
        extra decoder stages (``fine_channels`` wide) fusing the stride-2 stem features and the
        image. Electrodes closer than one stride merge into one heatmap peak, so small, closely
        spaced electrodes need 2 or 1 (see docs/model.md).
    attention: "cbam" (channel then spatial attention, residual) or "none".
    tasks: "segmentation" adds the "mask" head, "detection" the "heatmap" and "size" heads.
    type_head: add the catheter-type head ("type" output, stride 8), fitted on the frozen network
        by cathx.training.type_head; post-processing then types catheters from it.
    input_norm: what the network does to its input first (CathMTL only): "none", or "local":
        each pixel minus the mean of the ``input_norm_window`` x ``input_norm_window`` box around
        it, over that box's standard deviation (cathx.models.input_norm). A smooth monotonic
        display curve (gamma, LUT, window/level) is locally linear, so a catheter's local contrast
        survives it; part of the network, so export and every reader get it.
    input_norm_window: side of that box in input pixels (odd).
    """

    name: str = field(default="cathmtl", metadata=choices("cathmtl", *BASELINES))
    encoder: str = field(default="resnet34", metadata=choices(*dict.fromkeys((*ENCODER_NAMES, *BASELINE_ENCODERS))))
    encoder_weights: str | None = None
    in_channels: int = 1
    latent_channels: int = 512
    decoder_channels: tuple[int, ...] = (256, 128)
    head_channels: int = 64
    attention: str = field(default="cbam", metadata=choices("cbam", "none"))
    tasks: tuple[str, ...] = field(default=TASKS, metadata=choices(*TASKS))
    output_stride: int = 4
    fine_channels: int = 32
    type_head: bool = False
    input_norm: str = field(default="none", metadata=choices(*INPUT_NORMS))
    input_norm_window: int = 31

    def __post_init__(self) -> None:
        # The YAML path checks choices too (cathx.config.from_dict); a config built in code
        # (ModelConfig(attention="CBAM"), model_profile(...)) must not build something else silently.
        for spec in fields(self):
            if "choices" in spec.metadata:
                check_choice(f"model.{spec.name}", getattr(self, spec.name), spec.metadata["choices"])
        if self.name == "cathmtl" and self.encoder not in ENCODER_NAMES:
            raise ConfigError(f"model.encoder: CathMTL takes {', '.join(ENCODER_NAMES)}; got {self.encoder!r}")
        if self.name != "cathmtl":
            if self.encoder not in BASELINE_ENCODERS:
                raise ConfigError(f"model.encoder: the smp baselines take {', '.join(BASELINE_ENCODERS)}; "
                                  f"got {self.encoder!r}")
            fixed = BASELINES[self.name].encoder
            if fixed != BaselineSpec.encoder and self.encoder != fixed:  # a spec that fixes its encoder
                raise ConfigError(f"model.encoder: {self.name} is built on {fixed}, got {self.encoder!r} "
                                  f"(set encoder: {fixed}, or name: unet for another encoder)")
            if self.encoder_weights is not None:
                raise ConfigError(f"model.encoder_weights: only CathMTL loads encoder weights; the smp baseline "
                                  f"{self.name!r} starts from random weights")
        if len(self.decoder_channels) != 2:
            raise ConfigError(
                f"model.decoder_channels: expected 2 widths (stride 8, stride 4), got {list(self.decoder_channels)}"
            )
        if self.output_stride not in OUTPUT_STRIDES:
            raise ConfigError(
                f"model.output_stride: invalid value {self.output_stride!r}; "
                f"choose from {', '.join(map(str, OUTPUT_STRIDES))}"
            )
        if self.name != "cathmtl" and self.output_stride != 4:
            raise ConfigError(f"model.output_stride: baseline {self.name!r} only supports 4, got {self.output_stride}")
        if self.input_norm != "none" and self.name != "cathmtl":
            raise ConfigError(f"model.input_norm: only CathMTL normalises its input, not {self.name!r}")
        if self.input_norm_window < 3 or self.input_norm_window % 2 == 0:
            raise ConfigError(f"model.input_norm_window: must be odd and >= 3, got {self.input_norm_window}")
        if self.type_head and self.name != "cathmtl":
            raise ConfigError(f"model.type_head: only CathMTL has a catheter-type head, not {self.name!r}")
        if not self.tasks or len(set(self.tasks)) != len(self.tasks):
            raise ConfigError(f"model.tasks: expected one or both of {', '.join(TASKS)}, got {list(self.tasks)}")
        for name, value in (("in_channels", self.in_channels), ("latent_channels", self.latent_channels),
                            ("head_channels", self.head_channels),
                            ("fine_channels", self.fine_channels),
                            *(("decoder_channels", c) for c in self.decoder_channels)):
            if value < 1:
                raise ConfigError(f"model.{name}: must be positive, got {value}")
