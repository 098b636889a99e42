"""Probes on the frozen shipped network: is there more in its features than its last layers make
of them? (README.md, section 4.)

``refine``: would more capacity at full resolution sharpen the mask's edges? A small residual
refiner at stride 1 reads the locally normalised image, the decoder's stride-1 features (16
channels) and the mask and electrode-heatmap logits, and adds a correction to the mask logits;
its output convolution starts at zero, so step 0 is the shipped mask exactly. Trained with the
shipped loss (BCE + soft IoU per frame); mean J (threshold 0.5) of the frozen and the refined
mask on the card's first 100 frames, paired.

``offset``: is there sub-pixel electrode position in the features that the log-parabola
refinement of the heatmap peak leaves unused? A head (two 3x3 convolutions of ``--width``
channels, ReLU, a 1x1 to 2 channels) regresses each electrode's offset from its nearest pixel
(CenterNet's offset head: L1 at the electrode's pixel). Scored on the card's first 100 frames:
the heatmap's peaks (threshold 0.3) matched one-to-one to the true centres within 3 px, and for
the same matches the error of the integer peak, of the refinement cathx uses
(cathx.heatmap.decode_peaks) and of the learned offset: (median px, p90 px, share under 0.5 px,
matches).

Both: the shipped network in bf16, frozen; trained on `runs/fluoro_types` (cathx synth --n 8000
--seed 18000, training split, the training-time augmentation), AdamW, cosine from ``--lr``,
scores every 500 steps. The runs of README.md:

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/results/fluoro_mask_limits/probes.py refine \
        --steps 1000 --width 24 --layers 3 --lr 1e-3 --crop 0 --batch 8 > probe_refine.log
    ... probes.py refine --steps 2000 --crop 128 --batch 16 > probe_refine_crops.log  (stopped at 1,050)
    ... probes.py offset --steps 1500 --width 32 --lr 1e-3 --crop 128 --batch 16 > probe_offset.log
"""
from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment
from score import CARD_SEED  # this folder's score.py: the card's frames
from torch import nn
from torch.utils.data import DataLoader

from cathx.checkpoint import load_model
from cathx.data.datasets import SampleDataset
from cathx.data.formats import open_dataset
from cathx.data.synthetic import SyntheticReader
from cathx.data.transforms import build_transforms
from cathx.heatmap import decode_peaks
from cathx.losses.segmentation import bce_loss, soft_iou_loss
from cathx.metrics.segmentation import batch_iou


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


def frozen_shipped() -> nn.Module:
    base, _ = load_model("src/cathx/weights/cathx-fluoro.safetensors")
    base.eval()
    for p in base.parameters():
        p.requires_grad_(False)
    return base


def frozen_outputs(base: nn.Module, image: torch.Tensor) -> dict[str, torch.Tensor]:
    """The network's normalised image, stride-1 features and heads, float32, no gradient."""
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        coarse, skips = base.coarse_features(image)
        features = base.decoder.fine(coarse, skips)
        outputs = {name: base.heads[name](features) for name in ("mask", "heatmap", "size")}
    return {"image": skips[0].float(), "features": features.float(), **{k: v.float() for k, v in outputs.items()}}


def train(module: nn.Module, loss_of: Callable[[dict], torch.Tensor], evaluate: Callable[[], object],
          args: argparse.Namespace) -> None:
    """Fit ``module`` on `runs/fluoro_types` batches with ``loss_of(batch)``; print the running loss
    every 50 steps and ``evaluate()`` at the start, every 500 steps and at the end."""
    opt = torch.optim.AdamW(module.parameters(), lr=args.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, args.steps) / args.steps)))
    dataset = SampleDataset(open_dataset("runs/fluoro_types", split="train"),
                            build_transforms(256, train=True, crop=args.crop, intensity=0.8))
    loader = DataLoader(dataset, batch_size=args.batch, shuffle=True, num_workers=1, drop_last=True,
                        persistent_workers=True)
    print("start", evaluate(), flush=True)
    step, start, running = 0, time.time(), 0.0
    while step < args.steps:
        for batch in loader:
            loss = loss_of(batch)
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


def probe_refine(base: nn.Module, card: list[dict], args: argparse.Namespace) -> None:
    refiner = Refiner(1 + 16 + 2, args.width, args.layers).to(memory_format=torch.channels_last)

    def inputs(out: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.cat([out["image"], out["features"], out["mask"], out["heatmap"]], 1)

    def evaluate() -> tuple[float, float]:
        refiner.eval()
        frozen, refined = [], []
        with torch.no_grad():
            for batch in card:
                out = frozen_outputs(base, batch["image"])
                truth = batch["mask"] > 0.5
                frozen.append(batch_iou(out["mask"] > 0, truth))
                refined.append(batch_iou(out["mask"] + refiner(inputs(out)) > 0, truth))
        refiner.train()
        return torch.cat(frozen).mean().item(), torch.cat(refined).mean().item()

    def loss_of(batch: dict) -> torch.Tensor:
        out = frozen_outputs(base, batch["image"])
        with torch.autocast("cpu", dtype=torch.bfloat16):
            delta = refiner(inputs(out).contiguous(memory_format=torch.channels_last))
        logits = out["mask"] + delta.float()
        return (bce_loss(logits, batch["mask"]) + soft_iou_loss(logits, batch["mask"])).mean()

    train(refiner, loss_of, evaluate, args)


def error_summary(errors: list[np.ndarray]) -> tuple[float, float, float, int]:
    e = np.concatenate(errors)
    return (round(float(np.median(e)), 3), round(float(np.percentile(e, 90)), 3),
            round(float((e < 0.5).mean()), 3), len(e))


def probe_offset(base: nn.Module, card: list[dict], args: argparse.Namespace) -> None:
    head = nn.Sequential(nn.Conv2d(18, args.width, 3, padding=1), nn.ReLU(inplace=True),
                         nn.Conv2d(args.width, args.width, 3, padding=1), nn.ReLU(inplace=True),
                         nn.Conv2d(args.width, 2, 1)).to(memory_format=torch.channels_last)

    def inputs(out: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.cat([out["image"], out["features"], out["heatmap"]], 1)

    def evaluate() -> dict[str, tuple[float, float, float, int]]:
        head.eval()
        errors: dict[str, list[np.ndarray]] = {"integer": [], "quadratic": [], "learned": []}
        with torch.no_grad():
            for batch in card:
                out = frozen_outputs(base, batch["image"])
                offsets = head(inputs(out))
                quadratic = decode_peaks(out["heatmap"], out["size"], stride=1, threshold=0.3)
                integer = decode_peaks(out["heatmap"], out["size"], stride=1, threshold=0.3, refine="none")
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
        return {name: error_summary(e) for name, e in errors.items()}

    def loss_of(batch: dict) -> torch.Tensor:
        out = frozen_outputs(base, batch["image"])
        with torch.autocast("cpu", dtype=torch.bfloat16):
            offsets = head(inputs(out).contiguous(memory_format=torch.channels_last)).float()
        points, valid = batch["electrodes"], batch["electrode_valid"]
        side = offsets.shape[-1]
        inside = (valid & (points[..., 0] >= -0.5) & (points[..., 0] <= side - 0.5)
                  & (points[..., 1] >= -0.5) & (points[..., 1] <= side - 0.5))
        b, m = torch.nonzero(inside, as_tuple=True)
        centre = points[b, m]
        nearest = torch.round(centre).clamp(0, side - 1).long()
        return F.l1_loss(offsets[b, :, nearest[:, 1], nearest[:, 0]], centre - nearest.float())

    train(head, loss_of, evaluate, args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("probe", choices=("refine", "offset"))
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--width", type=int, default=24)
    parser.add_argument("--layers", type=int, default=3, help="refine only")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--crop", type=int, default=0, help="training patches (0: whole 256 px frames)")
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(2)
    base = frozen_shipped()
    frames = SampleDataset(SyntheticReader(100, size=256, seed=CARD_SEED), build_transforms(256, train=False))
    card = [torch.utils.data.default_collate([frames[i] for i in range(j, j + 10)]) for j in range(0, 100, 10)]
    (probe_refine if args.probe == "refine" else probe_offset)(base, card, args)


if __name__ == "__main__":
    main()
