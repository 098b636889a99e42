import pytest
import torch

from cathx.models import build_model, model_profile
from cathx.models.precision import BFloat16Autocast, with_precision


@pytest.fixture(scope="module")
def tiny_network():
    torch.manual_seed(0)
    cfg = model_profile("demo", latent_channels=32, decoder_channels=(16, 16), head_channels=8)
    return build_model(cfg).eval()


def test_bfloat16_autocast_returns_float32_outputs_close_to_float32(tiny_network):
    image = torch.rand(2, 1, 64, 64)
    with torch.inference_mode():
        reference = tiny_network(image)
        outputs = BFloat16Autocast(tiny_network)(image)
    assert set(outputs) == set(reference)
    for name, value in outputs.items():
        assert value.dtype == torch.float32 and value.shape == reference[name].shape
        # bfloat16 keeps 8 bits of mantissa: close, not equal
        scale = reference[name].abs().max().item() + 1e-6
        assert (value - reference[name]).abs().max().item() <= 0.05 * scale, name


def test_wrapper_passes_the_network_attributes_through(tiny_network):
    wrapped = BFloat16Autocast(tiny_network)
    assert wrapped.output_stride == tiny_network.output_stride


def test_with_precision_wraps_only_for_bf16(tiny_network):
    assert with_precision(tiny_network, "fp32") is tiny_network
    wrapped = with_precision(tiny_network, "bf16", "cuda:0")
    assert isinstance(wrapped, BFloat16Autocast) and wrapped.device_type == "cuda"
    with pytest.raises(ValueError, match="precision 'auto': choose from fp32, bf16"):
        with_precision(tiny_network, "auto")  # resolve "auto" first (cathx.system.inference_precision)
