"""Local contrast normalisation (cathx.models.input_norm) and the ``model.input_norm`` option."""

import pytest
import torch

from cathx.errors import ConfigError
from cathx.models import build_model
from cathx.models.config import ModelConfig
from cathx.models.input_norm import LocalContrastNorm, box_mean, local_contrast_norm
from cathx.training.config import train_config_from_dict

SMALL = {"encoder": "resnet18", "latent_channels": 16, "decoder_channels": (16, 8), "head_channels": 8,
         "output_stride": 1, "fine_channels": 8}


def test_box_mean_averages_only_pixels_inside_the_image():
    image = torch.tensor([[[[0.0, 3.0, 6.0]]]])  # one row: the 3x3 box is cut to the row
    assert box_mean(image, 3).flatten().tolist() == pytest.approx([1.5, 3.0, 4.5])


def test_stripes_of_0_and_1_become_plus_and_minus_one():
    # every 4x4 cell holds two 0-columns and two 1-columns: mean 0.5, variance 0.25 everywhere,
    # so each pixel becomes (x - 0.5) / sqrt(0.25 + 0.02^2) = +-0.5 / 0.5004
    image = torch.zeros(1, 1, 16, 16)
    image[..., 1::2] = 1.0
    out = local_contrast_norm(image, window=3)
    expected = 0.5 / (0.25 + 0.02**2) ** 0.5
    assert out[..., 1::2] == pytest.approx(torch.full((1, 1, 16, 8), expected), abs=1e-5)
    assert out[..., 0::2] == pytest.approx(torch.full((1, 1, 16, 8), -expected), abs=1e-5)


def test_a_flat_image_becomes_zero_and_noise_in_it_is_not_blown_up():
    assert local_contrast_norm(torch.full((1, 1, 32, 32), 0.7), 31).abs().max() < 1e-4  # float rounding
    faint = 0.5 + 0.002 * torch.randn(1, 1, 64, 64, generator=torch.Generator().manual_seed(0))
    assert local_contrast_norm(faint, 31).std() < 0.2  # the floor (0.02) keeps it 10x below unit size


def test_a_display_window_change_barely_moves_the_output():
    image = torch.rand(1, 1, 64, 64, generator=torch.Generator().manual_seed(1))
    windowed = 0.2 + 0.6 * image  # brighter and lower contrast
    difference = (local_contrast_norm(image, 31) - local_contrast_norm(windowed, 31)).abs().max()
    raw_difference = (image - windowed).abs().max()
    assert difference < 0.05 < raw_difference


def test_bfloat16_input_is_normalised_in_float32_and_returned_in_bfloat16():
    image = 0.5 + 0.1 * torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(2))
    out = local_contrast_norm(image.bfloat16(), 15)
    assert out.dtype == torch.bfloat16
    assert (out.float() - local_contrast_norm(image.bfloat16().float(), 15)).abs().max() < 0.05


def test_the_module_rejects_an_even_window():
    with pytest.raises(ValueError, match="odd"):
        LocalContrastNorm(30)


def test_a_network_with_it_has_the_same_weights_and_outputs():
    plain = build_model(ModelConfig(**SMALL)).eval()
    normalised = build_model(ModelConfig(**SMALL, input_norm="local")).eval()
    assert list(plain.state_dict()) == list(normalised.state_dict())  # checkpoints stay compatible
    normalised.load_state_dict(plain.state_dict())
    image = torch.rand(1, 1, 32, 32)
    with torch.no_grad():
        a, b = plain(image), normalised(image)
        c = plain(local_contrast_norm(image, 31))
    assert a.keys() == b.keys() and not torch.allclose(a["mask"], b["mask"])
    assert torch.allclose(b["mask"], c["mask"], atol=1e-5)  # the same network after the normalisation


def test_config_errors_name_the_field():
    with pytest.raises(ConfigError, match="model.input_norm: only CathMTL"):
        ModelConfig(name="unet", encoder="resnet34", input_norm="local")
    with pytest.raises(ConfigError, match="model.input_norm_window: must be odd"):
        ModelConfig(input_norm="local", input_norm_window=30)
    with pytest.raises(ConfigError, match="input_norm.*local"):
        train_config_from_dict({"model": {"input_norm": "global"}})
