import dataclasses

import pytest
import torch

from cathx.config import from_dict
from cathx.errors import CathxError, ConfigError
from cathx.models import ENCODER_NAMES, ENCODERS, MODEL_PROFILES, ModelConfig, build_model, model_profile
from cathx.models.attention import CBAM
from cathx.models.encoders import Encoder

TINY = dict(latent_channels=32, decoder_channels=(16, 16), head_channels=8)


def test_encoder_names_match_registry():
    assert set(ENCODER_NAMES) == set(ENCODERS)


@pytest.mark.parametrize("name", ENCODER_NAMES)
def test_every_encoder_forward_backward_64(name):
    torch.manual_seed(0)
    model = build_model(ModelConfig(encoder=name, **TINY))
    assert model.encoder.strides == (2, 4, 8, 16)
    outputs = model(torch.rand(1, 1, 64, 64))
    assert outputs["mask"].shape == (1, 1, 64, 64)
    assert outputs["heatmap"].shape == (1, 1, 16, 16)
    assert outputs["size"].shape == (1, 2, 16, 16)
    sum(value.mean() for value in outputs.values()).backward()
    assert model.encoder.body.parameters().__next__().grad is not None


def test_encoder_drops_res5():
    encoder = Encoder("resnet34")
    assert not any(name.startswith("layer4") for name, _ in encoder.body.named_parameters())
    assert encoder.out_channels == (64, 64, 128, 256)
    features = encoder(torch.rand(2, 1, 64, 96))
    assert [tuple(f.shape[-2:]) for f in features] == [(32, 48), (16, 24), (8, 12), (4, 6)]


@pytest.mark.parametrize(
    ("tasks", "keys"),
    [(("segmentation",), {"mask"}), (("detection",), {"heatmap", "size"}), (("detection", "segmentation"), {"mask", "heatmap", "size"})],
)
def test_single_task_variants(tasks, keys):
    model = build_model(ModelConfig(encoder="resnet18", tasks=tasks, **TINY))
    assert set(model(torch.rand(2, 1, 32, 32))) == keys


@pytest.mark.parametrize("stride", [4, 2, 1])
def test_output_stride(stride):
    model = build_model(ModelConfig(encoder="resnet18", output_stride=stride, fine_channels=8, **TINY))
    outputs = model(torch.rand(1, 1, 32, 64))
    assert model.output_stride == stride
    assert outputs["mask"].shape == (1, 1, 32, 64)
    assert outputs["heatmap"].shape == (1, 1, 32 // stride, 64 // stride)
    assert outputs["size"].shape == (1, 2, 32 // stride, 64 // stride)
    sum(value.mean() for value in outputs.values()).backward()


def test_models_package_imports_no_data_losses_training():
    import ast
    from pathlib import Path

    import cathx.models

    forbidden = ("cathx.data", "cathx.losses", "cathx.training", "cathx.cli")
    for path in Path(cathx.models.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                assert not name.startswith(forbidden), f"{path.name} imports {name}"


def test_state_dict_independent_of_task_order():
    a = build_model(ModelConfig(encoder="resnet18", tasks=("segmentation", "detection"), **TINY))
    b = build_model(ModelConfig(encoder="resnet18", tasks=("detection", "segmentation"), **TINY))
    assert list(a.state_dict()) == list(b.state_dict())


def test_channels_last_matches_default():
    torch.manual_seed(0)
    model = build_model(ModelConfig(encoder="resnet18", **TINY)).eval()
    image = torch.rand(2, 1, 64, 64)
    with torch.no_grad():
        reference = model(image)
        model = model.to(memory_format=torch.channels_last)
        fast = model(image.to(memory_format=torch.channels_last))
    for key in reference:
        torch.testing.assert_close(fast[key], reference[key], atol=1e-4, rtol=1e-4)


def test_input_must_be_multiple_of_16():
    model = build_model(ModelConfig(encoder="resnet18", **TINY))
    with pytest.raises(ValueError, match="multiples of 16"):
        model(torch.rand(1, 1, 40, 64))


def test_heatmap_head_starts_at_prior():
    model = build_model(ModelConfig(encoder="resnet18", **TINY)).eval()
    with torch.no_grad():
        heat = torch.sigmoid(model(torch.zeros(1, 1, 32, 32))["heatmap"])
    assert 0.01 < heat.mean().item() < 0.5


def test_cbam_keeps_shape_and_is_residual():
    block = CBAM(32)
    x = torch.rand(2, 32, 8, 8)
    y = block(x)
    assert y.shape == x.shape
    assert torch.all(y >= x)  # x >= 0 and gates in [0, 1]: the residual only adds


def test_profiles_build_and_paper_is_resnet34_512():
    paper = MODEL_PROFILES["paper"]
    assert paper.encoder == "resnet34" and paper.latent_channels == 512 and paper.head_channels == 64
    assert model_profile("demo", encoder="resnet34").encoder == "resnet34"
    with pytest.raises(CathxError, match="unknown model profile 'nope'; choose from paper"):
        model_profile("nope")


def test_config_round_trip_and_errors():
    cfg = ModelConfig(encoder="resnet18", tasks=("segmentation",))
    assert from_dict(ModelConfig, dataclasses.asdict(cfg)) == cfg
    with pytest.raises(ConfigError, match="invalid value 'resnet9'; choose from resnet18, resnet34"):
        from_dict(ModelConfig, {"encoder": "resnet9"})
    with pytest.raises(ConfigError, match="invalid value 'pose'"):
        from_dict(ModelConfig, {"tasks": ["pose"]})
    with pytest.raises(ConfigError, match="decoder_channels"):
        ModelConfig(decoder_channels=(64,))
    with pytest.raises(ConfigError, match="output_stride: invalid value 3; choose from 4, 2, 1"):
        from_dict(ModelConfig, {"output_stride": 3})


def test_unknown_encoder_weights_file(tmp_path):
    with pytest.raises(CathxError, match="encoder weights file not found"):
        build_model(ModelConfig(encoder="resnet18", encoder_weights=str(tmp_path / "none.pth"), **TINY))


def test_local_encoder_weights_rgb_stem_adapted(tmp_path):
    import timm

    reference = timm.create_model("resnet18", pretrained=False, in_chans=3)
    path = tmp_path / "resnet18.pth"
    torch.save(reference.state_dict(), path)
    model = build_model(ModelConfig(encoder="resnet18", encoder_weights=str(path), **TINY))
    loaded = model.encoder.body.state_dict()
    torch.testing.assert_close(loaded["layer1.0.conv1.weight"], reference.state_dict()["layer1.0.conv1.weight"])
    assert loaded["conv1.weight"].shape[1] == 1


def test_local_vgg_weights_load_into_its_feature_wrapper(tmp_path):
    import timm

    reference = timm.create_model("vgg16_bn", pretrained=False).state_dict()  # keys features.N.*
    path = tmp_path / "vgg16_bn.pth"
    torch.save(reference, path)
    model = build_model(ModelConfig(encoder="vgg16_bn", encoder_weights=str(path), **TINY))
    torch.testing.assert_close(model.encoder.body.state_dict()["features_3.weight"], reference["features.3.weight"])


@pytest.mark.parametrize("other", ["resnet18", "resnet50"])
def test_encoder_weights_of_another_backbone_are_refused_not_half_loaded(tmp_path, other):
    import timm

    path = tmp_path / f"{other}.pth"
    torch.save(timm.create_model(other, pretrained=False).state_dict(), path)
    with pytest.raises(CathxError, match=r"resnet\d+\.pth: \d+ of the encoder's \d+ tensors are missing"):
        build_model(ModelConfig(encoder="resnet34", encoder_weights=str(path), **TINY))


def test_wrong_encoder_weights_file(tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"foo.weight": torch.zeros(3)}, path)
    with pytest.raises(CathxError, match="no tensor matches"):
        build_model(ModelConfig(encoder="resnet18", encoder_weights=str(path), **TINY))


def test_build_model_dispatches_baselines():
    from cathx.models.baselines import SmpBaseline

    cfg = from_dict(ModelConfig, {"name": "unet", "encoder": "resnet34", "head_channels": 8})
    model = build_model(cfg)
    assert isinstance(model, SmpBaseline)
    outputs = model(torch.rand(1, 1, 64, 64))
    assert outputs["heatmap"].shape == (1, 1, 16, 16)
    with pytest.raises(ConfigError, match="baseline 'unet' only supports 4"):
        ModelConfig(name="unet", output_stride=2)
    with pytest.raises(CathxError, match="CathMTL takes resnet18, .*; got 'efficientnet-b2'"):
        build_model(ModelConfig(encoder="efficientnet-b2", **TINY))


def test_type_head_output_and_config_checks():
    model = build_model(ModelConfig(encoder="resnet18", type_head=True, **TINY)).eval()
    with torch.inference_mode():
        outputs = model(torch.rand(2, 1, 64, 96))
    assert outputs["type"].shape == (2, 5, 8, 12)  # TYPE_HEAD_CLASSES at stride 8
    assert "type" not in build_model(ModelConfig(encoder="resnet18", **TINY))(torch.rand(1, 1, 64, 64))
    with pytest.raises(ConfigError, match="only CathMTL has a catheter-type head, not 'unet'"):
        ModelConfig(name="unet", type_head=True)


@pytest.mark.parametrize(("changes", "message"), [
    ({"attention": "CBAM"}, "model.attention: invalid value 'CBAM'; choose from cbam, none"),
    ({"tasks": ("segmentation", "detections")}, "model.tasks: invalid value 'detections'"),
    ({"name": "unet", "encoder": "hrnet_w18"}, "model.encoder: the smp baselines take resnet34, efficientnet-b2; got 'hrnet_w18'"),
    ({"encoder": "efficientnet-b2"}, "model.encoder: CathMTL takes resnet18"),
    ({"name": "seed_unet_effb2"}, "model.encoder: seed_unet_effb2 is built on efficientnet-b2, got 'resnet34'"),
    ({"name": "unet", "encoder_weights": "x.pth"}, "model.encoder_weights: only CathMTL loads encoder weights"),
])
def test_model_config_built_in_code_is_checked_like_yaml(changes, message):
    with pytest.raises(ConfigError) as info:
        ModelConfig(**changes)
    assert message in str(info.value)


def test_every_baseline_encoder_a_config_may_name_is_an_smp_encoder():
    import segmentation_models_pytorch as smp

    from cathx.models.baselines import ENCODERS

    assert set(ENCODERS) <= set(smp.encoders.get_encoder_names())


def test_seed_baseline_config_builds_its_efficientnet():
    model = build_model(ModelConfig(name="seed_unet_effb2", encoder="efficientnet-b2", tasks=("segmentation",)))
    assert model.encoder_name == "efficientnet-b2"


def test_baseline_input_not_divisible_by_32_is_a_clear_error():
    from cathx.models.baselines import build_baseline

    with pytest.raises(RuntimeError, match="divisible by 32"):
        build_baseline("fpn", head_width=8)(torch.rand(1, 1, 80, 80))
