"""Probe: would more capacity at full resolution sharpen the shipped network's mask edges?

The shipped `cathx-fluoro` network frozen (bf16); a small residual refiner at stride 1 reads the
locally normalised image, the decoder's stride-1 features (16 channels) and the mask and
electrode-heatmap logits, and adds a correction to the mask logits. Its output convolution
starts at zero, so step 0 is the shipped mask exactly. Trained with the shipped loss (BCE + soft
IoU per frame) on `runs/fluoro_types` (cathx synth --n 8000 --seed 18000, training split, the
training-time augmentation), scored as mean J (threshold 0.5) on the card's first 100 frames
(seeds from 777,000), paired: frozen mask against refined mask, every 500 steps.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/results/fluoro_mask_limits/probe_refine.py \
        --steps 1000 --width 24 --layers 3 --lr 1e-3 --crop 0 --batch 8 > probe_refine.log
"""
from __future__ import annotations

import argparse
import math
import time

import torch
from torch import nn
from torch.utils.data import DataLoader

from cathx.checkpoint import load_model
from cathx.data.datasets import SampleDataset
from cathx.data.formats import open_dataset
from cathx.data.synthetic import SyntheticReader
from cathx.data.transforms import build_transforms
from cathx.losses.segmentation import bce_loss, soft_iou_loss

CARD_SEED = 777_000


class Refiner(nn.Module):
    """(B, C, H, W) -> (B, 1, H, W) correction of the mask logits; ``layers`` 3x3 conv-BN-ReLU,
    then a zero-initialised 3x3 convolution."""

    def __init__(self, in_channels: int, width: int, layers: int) -> None:
        super().__init__()
        body: list[nn.Module] = []
        channels = in_channels
        for _ in range(layers):
            body += [nn.Conv2d(channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
            channels = width
        self.body = nn.Sequential(*body)
        self.out = nn.Conv2d(channels, 1, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(x))


def frozen_outputs(base: nn.Module, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The refiner's input (B, 1 + 16 + 2, H, W) and the shipped mask logits (B, 1, H, W)."""
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        coarse, skips = base.coarse_features(image)
        features = base.decoder.fine(coarse, skips)
        mask = base.heads["mask"](features)
        heatmap = base.heads["heatmap"](features)
    inputs = torch.cat([skips[0].float(), features.float(), mask.float(), heatmap.float()], 1)
    return inputs, mask.float()


def per_image_iou(pred: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    inter = (pred & truth).flatten(1).sum(1).float()
    union = (pred | truth).flatten(1).sum(1).float()
    return torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(union))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--width", type=int, default=24)
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--crop", type=int, default=0, help="training patches (0: whole 256 px frames)")
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(2)
    base, _ = load_model("src/cathx/weights/cathx-fluoro.safetensors")
    base.eval()
    for p in base.parameters():
        p.requires_grad_(False)
    refiner = Refiner(1 + 16 + 2, args.width, args.layers).to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(refiner.parameters(), lr=args.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, args.steps) / args.steps)))
    train = SampleDataset(open_dataset("runs/fluoro_types", split="train"),
                          build_transforms(256, train=True, crop=args.crop, intensity=0.8))
    loader = DataLoader(train, batch_size=args.batch, shuffle=True, num_workers=1, drop_last=True,
                        persistent_workers=True)
    card = SampleDataset(SyntheticReader(100, size=256, seed=CARD_SEED), build_transforms(256, train=False))
    card_batches = [torch.utils.data.default_collate([card[i] for i in range(j, j + 10)]) for j in range(0, 100, 10)]

    def evaluate() -> tuple[float, float]:
        refiner.eval()
        frozen, refined = [], []
        with torch.no_grad():
            for batch in card_batches:
                inputs, mask = frozen_outputs(base, batch["image"])
                truth = batch["mask"] > 0.5
                frozen.append(per_image_iou(mask > 0, truth))
                refined.append(per_image_iou(mask + refiner(inputs) > 0, truth))
        refiner.train()
        return torch.cat(frozen).mean().item(), torch.cat(refined).mean().item()

    print("start", evaluate(), flush=True)
    step, start, running = 0, time.time(), 0.0
    while step < args.steps:
        for batch in loader:
            inputs, mask = frozen_outputs(base, batch["image"])
            with torch.autocast("cpu", dtype=torch.bfloat16):
                delta = refiner(inputs.contiguous(memory_format=torch.channels_last))
            logits = mask + delta.float()
            loss = (bce_loss(logits, batch["mask"]) + soft_iou_loss(logits, batch["mask"])).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            running = 0.98 * running + 0.02 * loss.item() if step > 1 else loss.item()
            if step % 50 == 0:
                print(f"step {step} loss {running:.4f} {time.time() - start:.0f}s", flush=True)
            if step % 500 == 0 or step == args.steps:
                print("eval", step, evaluate(), flush=True)
            if step >= args.steps:
                break


if __name__ == "__main__":
    main()
