"""Probe: is there sub-pixel electrode position in the shipped network's features that the
log-parabola refinement of the heatmap peak leaves unused?

The shipped `cathx-fluoro` network frozen (bf16); a small head (two 3x3 convolutions of
``--width`` channels, ReLU, a 1x1 to 2 channels) at stride 1 reads the locally normalised image,
the decoder's stride-1 features and the heatmap logits, and regresses each electrode's offset
from its nearest pixel (CenterNet's offset head: L1 at the electrode's pixel). Trained on
`runs/fluoro_types` (cathx synth --n 8000 --seed 18000, training split, the training-time
augmentation). Scored on the card's first 100 frames (seeds from 777,000): the heatmap's peaks
(threshold 0.3) matched one-to-one to the true centres within 3 px, and for the same matches the
error of the integer peak, of the log-parabola refinement cathx uses (cathx.heatmap.decode_peaks)
and of the learned offset: (median px, p90 px, share under 0.5 px, matches).

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/results/fluoro_mask_limits/probe_offset.py \
        --steps 1500 --width 32 --lr 1e-3 --crop 128 --batch 16 > probe_offset.log
"""
from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment
from torch import nn
from torch.utils.data import DataLoader

from cathx.checkpoint import load_model
from cathx.data.datasets import SampleDataset
from cathx.data.formats import open_dataset
from cathx.data.synthetic import SyntheticReader
from cathx.data.transforms import build_transforms
from cathx.heatmap import decode_peaks

CARD_SEED = 777_000


def frozen_outputs(base: nn.Module, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The head's input (B, 1 + 16 + 1, H, W), the heatmap logits (B, 1, H, W), sizes (B, 2, H, W)."""
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        coarse, skips = base.coarse_features(image)
        features = base.decoder.fine(coarse, skips)
        heatmap = base.heads["heatmap"](features)
        size = base.heads["size"](features)
    inputs = torch.cat([skips[0].float(), features.float(), heatmap.float()], 1)
    return inputs, heatmap.float(), size.float()


def summary(errors: list[np.ndarray]) -> tuple[float, float, float, int]:
    e = np.concatenate(errors)
    return (round(float(np.median(e)), 3), round(float(np.percentile(e, 90)), 3),
            round(float((e < 0.5).mean()), 3), len(e))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--crop", type=int, default=128, help="training patches (0: whole 256 px frames)")
    parser.add_argument("--batch", type=int, default=16)
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(2)
    base, _ = load_model("src/cathx/weights/cathx-fluoro.safetensors")
    base.eval()
    for p in base.parameters():
        p.requires_grad_(False)
    head = nn.Sequential(nn.Conv2d(18, args.width, 3, padding=1), nn.ReLU(inplace=True),
                         nn.Conv2d(args.width, args.width, 3, padding=1), nn.ReLU(inplace=True),
                         nn.Conv2d(args.width, 2, 1)).to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(head.parameters(), lr=args.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, args.steps) / args.steps)))
    train = SampleDataset(open_dataset("runs/fluoro_types", split="train"),
                          build_transforms(256, train=True, crop=args.crop, intensity=0.8))
    loader = DataLoader(train, batch_size=args.batch, shuffle=True, num_workers=1, drop_last=True,
                        persistent_workers=True)
    card = SampleDataset(SyntheticReader(100, size=256, seed=CARD_SEED), build_transforms(256, train=False))
    card_batches = [torch.utils.data.default_collate([card[i] for i in range(j, j + 10)]) for j in range(0, 100, 10)]

    def evaluate() -> dict[str, tuple[float, float, float, int]]:
        head.eval()
        errors: dict[str, list[np.ndarray]] = {"integer": [], "quadratic": [], "learned": []}
        with torch.no_grad():
            for batch in card_batches:
                inputs, heatmap, size = frozen_outputs(base, batch["image"])
                offsets = head(inputs)
                quadratic = decode_peaks(heatmap, size, stride=1, threshold=0.3)
                integer = decode_peaks(heatmap, size, stride=1, threshold=0.3, refine="none")
                for i in range(len(quadratic)):
                    truth = batch["electrodes"][i][batch["electrode_valid"][i]].numpy()
                    if not len(truth) or not len(integer[i]):
                        continue
                    peaks = integer[i][:, :2]
                    rows, cols = peaks[:, 1].astype(int), peaks[:, 0].astype(int)
                    learned = peaks + offsets[i, :, rows, cols].T.numpy()
                    d = np.linalg.norm(peaks[:, None] - truth[None], axis=2)
                    pi, ti = linear_sum_assignment(np.where(d < 3, d, 1e6))
                    near = d[pi, ti] < 3
                    pi, ti = pi[near], ti[near]
                    for name, found in (("integer", peaks), ("quadratic", quadratic[i][:, :2]), ("learned", learned)):
                        errors[name].append(np.linalg.norm(found[pi] - truth[ti], axis=1))
        head.train()
        return {name: summary(e) for name, e in errors.items()}

    print("start", evaluate(), flush=True)
    step, start, running = 0, time.time(), 0.0
    while step < args.steps:
        for batch in loader:
            inputs, _, _ = frozen_outputs(base, batch["image"])
            with torch.autocast("cpu", dtype=torch.bfloat16):
                offsets = head(inputs.contiguous(memory_format=torch.channels_last)).float()
            points, valid = batch["electrodes"], batch["electrode_valid"]
            side = inputs.shape[-1]
            inside = (valid & (points[..., 0] >= -0.5) & (points[..., 0] <= side - 0.5)
                      & (points[..., 1] >= -0.5) & (points[..., 1] <= side - 0.5))
            b, m = torch.nonzero(inside, as_tuple=True)
            centre = points[b, m]
            nearest = torch.round(centre).clamp(0, side - 1).long()
            loss = F.l1_loss(offsets[b, :, nearest[:, 1], nearest[:, 0]], centre - nearest.float())
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
