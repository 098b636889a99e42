"""FlipAverage: the mask averaged over the frame and its mirror image, other outputs untouched."""

from __future__ import annotations

import torch
from torch import nn

from cathx.models.tta import FlipAverage


class ColumnWeights(nn.Module):
    """mask = heatmap = image x column weight 0, 1, 2, 3: not mirror-symmetric, so a test can see
    which pass an output came from. output_stride: an attribute callers read through the wrapper."""

    output_stride = 1

    def forward(self, image):
        weighted = image * torch.arange(4.0).reshape(1, 1, 1, 4)
        return {"mask": weighted, "heatmap": weighted.clone()}


def test_mask_is_the_mean_of_both_passes_and_the_heatmap_the_plain_one():
    image = torch.ones(1, 1, 2, 4)
    outputs = FlipAverage(ColumnWeights())(image)
    # plain mask 0, 1, 2, 3; the mirrored pass, flipped back, gives 3, 2, 1, 0: the mean is 1.5
    assert outputs["mask"].flatten().tolist() == [1.5] * 8
    assert outputs["heatmap"][0, 0, 0].tolist() == [0.0, 1.0, 2.0, 3.0]
    assert FlipAverage(ColumnWeights()).output_stride == 1


def test_a_real_network_keeps_its_output_shapes():
    from cathx.models import build_model, model_profile

    torch.manual_seed(0)
    network = build_model(model_profile("demo", latent_channels=16, decoder_channels=(8, 8), head_channels=8)).eval()
    image = torch.rand(1, 1, 32, 32)
    with torch.no_grad():
        plain, averaged = network(image), FlipAverage(network)(image)
    assert {k: v.shape for k, v in plain.items()} == {k: v.shape for k, v in averaged.items()}
    assert torch.equal(plain["heatmap"], averaged["heatmap"])
    assert not torch.equal(plain["mask"], averaged["mask"])
