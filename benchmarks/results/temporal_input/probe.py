"""Probe (issue 14, item 3): do the previous frames as more input channels help the network?

Arms fine-tuned identically from the shipped `cathx-fluoro` network on the same sequence frames
(sequences.py): "one" sees the current frame only (the shipped architecture); "two" sees the current
and the previous frame, the first encoder convolution and the stride-1 decoder fusion each given a
second input channel whose weights start at zero, so that step 0 is the shipped network; "three"
sees the current and the two previous frames the same way (two zero channels). ``--from-frame 2``
trains and scores every arm on frames 2..T-1 only, so that "three" and its "one" control see the
same frames. All: whole 256 px frames, batch 8, the training transform's flip and affine applied
alike to all frames (no intensity augmentation: its noise would be drawn once for all frames), BCE +
soft IoU plus the focal heatmap and size losses (size weight 3, per-image focal normalisation, the
shipped parts' settings) with equal task weights, AdamW, cosine from ``--lr``, bfloat16 autocast,
weight EMA 0.998 (the average is scored). Scored on the held-out sequences' frames (the same
``--from-frame``) every 600 steps (cathx.metrics.evaluation.Evaluator, threshold 0.3; AP from
detections above 0.05 as `cathx val` does). The augmentation draws from albumentations' own unseeded
generator, so a repeated run differs by a little.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/results/temporal_input/probe.py --arm one \
        --steps 1800 --lr 2e-4 --train /tmp/proto/train_pairs.npz --held /tmp/proto/eval_pairs.npz \
        --out benchmarks/results/temporal_input/one.json
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import time

import albumentations as A
import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from cathx.checkpoint import load_model
from cathx.heatmap import decode_peaks
from cathx.losses.multitask import MultiTaskCriterion
from cathx.metrics.evaluation import Evaluator
from cathx.models import build_model

MAX_ELECTRODES = 64


def widened(shipped: dict[str, torch.Tensor], own: dict[str, torch.Tensor], extra: int = 1
            ) -> dict[str, torch.Tensor]:
    """The shipped tensors for a network with ``extra`` more input channels: a 4-d weight that many
    inputs wider gets the shipped weights in its first channels and zeros in the rest (the previous
    frames)."""
    moved = {}
    for key, value in shipped.items():
        if key not in own:
            continue
        if own[key].shape == value.shape:
            moved[key] = value
        elif own[key].ndim == 4 and own[key].shape[0] == value.shape[0] and own[key].shape[1] == value.shape[1] + extra:
            weight = torch.zeros_like(own[key])
            weight[:, : value.shape[1]] = value
            moved[key] = weight
    return moved


class Pairs(Dataset):
    """Frame t (t >= first) of every sequence of a sequences.py file with the frames before it:
    image (C, H, W) [current, t - 1, t - 2][:C] (C = 1, 2 or 3), and the current frame's labels."""

    def __init__(self, path: str, train: bool, channels: int, first: int = 1) -> None:
        data = np.load(path)
        self.images, self.masks = data["images"], data["masks"]
        self.electrodes, self.sizes, self.counts = data["electrodes"], data["sizes"], data["counts"]
        self.channels = channels
        sequences, frames = self.counts.shape
        if first < channels - 1:
            raise ValueError(f"frame {first} has no {channels - 1} frames before it")
        self.items = [(i, t) for i in range(sequences) for t in range(first, frames)]
        self.augment = A.Compose(
            [A.HorizontalFlip(p=0.5),
             A.Affine(scale=(0.85, 1.15), rotate=(-15, 15), interpolation=cv2.INTER_LINEAR,
                      mask_interpolation=cv2.INTER_NEAREST, border_mode=cv2.BORDER_CONSTANT,
                      fill=0.0, fill_mask=0, p=0.8)],
            keypoint_params=A.KeypointParams(format="xy", label_fields=["index"], remove_invisible=True),
            additional_targets={"previous": "image", "before": "image"}) if train else None

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, k: int) -> dict[str, torch.Tensor]:
        i, t = self.items[k]
        current = self.images[i, t].astype(np.float32)
        previous = self.images[i, t - 1].astype(np.float32)
        before = self.images[i, max(t - 2, 0)].astype(np.float32)
        mask = self.masks[i, t]
        count = int(self.counts[i, t])
        points, sizes = self.electrodes[i, t, :count], self.sizes[i, t, :count]
        if self.augment is not None:
            out = self.augment(image=current, previous=previous, before=before, mask=mask, keypoints=points,
                               index=np.arange(count))
            current, previous, before, mask = out["image"], out["previous"], out["before"], out["mask"]
            kept = np.asarray(out["index"], np.int64)
            points = np.asarray(out["keypoints"], np.float32).reshape(-1, 2)[:, :2]
            sizes = sizes[kept]
        electrodes = np.zeros((MAX_ELECTRODES, 2), np.float32)
        boxes = np.zeros((MAX_ELECTRODES, 2), np.float32)
        valid = np.zeros(MAX_ELECTRODES, bool)
        count = min(len(points), MAX_ELECTRODES)
        electrodes[:count], boxes[:count], valid[:count] = points[:count], sizes[:count], True
        image = np.stack([current, previous, before][: self.channels])
        return {"image": torch.from_numpy(np.ascontiguousarray(image, np.float32)),
                "mask": torch.from_numpy(np.ascontiguousarray(mask, np.float32))[None],
                "has_mask": torch.tensor(True), "electrodes": torch.from_numpy(electrodes),
                "electrode_sizes": torch.from_numpy(boxes), "electrode_valid": torch.from_numpy(valid),
                "has_electrodes": torch.tensor(True)}


def evaluate(net: torch.nn.Module, held: Pairs) -> dict[str, float]:
    net.eval()
    evaluator = Evaluator(score_threshold=0.3)
    with torch.no_grad():
        for start in range(0, len(held), 16):
            items = [held[k] for k in range(start, min(start + 16, len(held)))]
            batch = torch.utils.data.default_collate(items)
            outputs = net(batch["image"])
            found = decode_peaks(outputs["heatmap"], outputs["size"], stride=1, k=64, threshold=0.05, logits=True)
            for r in range(len(items)):
                valid = batch["electrode_valid"][r].numpy()
                evaluator.update(str(start + r), pred_mask=(outputs["mask"][r, 0] > 0).numpy(),
                                 target_mask=batch["mask"][r, 0].numpy() > 0.5, detections=found[r],
                                 target_points=batch["electrodes"][r].numpy()[valid],
                                 target_sizes=batch["electrode_sizes"][r].numpy()[valid])
    summary = evaluator.summary()
    net.train()
    return {k: round(float(summary[k]), 4) for k in ("mean_j", "ap", "ap50", "ap75", "recall3", "recall5") if k in summary}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arm", choices=("one", "two", "three"), required=True)
    parser.add_argument("--from-frame", type=int, default=1, help="first frame of each sequence used (1 or 2)")
    parser.add_argument("--steps", type=int, default=1800)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--train", required=True, help="sequences.py file to train on")
    parser.add_argument("--held", required=True, help="sequences.py file to score on")
    parser.add_argument("--out", required=True, help="JSON of the scores")
    args = parser.parse_args()
    torch.manual_seed(0)
    np.random.seed(0)
    torch.set_num_threads(2)
    shipped, cfg = load_model("src/cathx/weights/cathx-fluoro.safetensors")
    channels = {"one": 1, "two": 2, "three": 3}[args.arm]
    model = build_model(dataclasses.replace(cfg, in_channels=channels, type_head=False))
    own = model.state_dict()
    moved = widened(shipped.state_dict(), own, channels - 1)
    model.load_state_dict(moved, strict=False)
    print(args.arm, "transferred", len(moved), "of", len(own), "missing", [k for k in own if k not in moved], flush=True)

    train = Pairs(args.train, True, channels, args.from_frame)
    held = Pairs(args.held, False, channels, args.from_frame)
    loader = DataLoader(train, batch_size=8, shuffle=True, num_workers=1, drop_last=True, persistent_workers=True)
    criterion = MultiTaskCriterion(size_weight=3.0, focal_normalisation="image")
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, args.steps) / args.steps)))
    ema = torch.optim.swa_utils.AveragedModel(model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(0.998))

    log = {"arm": args.arm, "from_frame": args.from_frame, "steps": args.steps, "lr": args.lr, "evals": []}
    scores = evaluate(model, held)
    print("eval 0", scores, flush=True)
    log["evals"].append({"step": 0, **scores})
    step, start, running = 0, time.time(), 0.0
    model.train()
    while step < args.steps:
        for batch in loader:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                outputs = model(batch["image"])
            losses = criterion({k: v.float() for k, v in outputs.items()}, batch)
            loss = losses["segmentation"].mean() + losses["detection"].mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            ema.update_parameters(model)
            step += 1
            running = 0.98 * running + 0.02 * loss.item() if step > 1 else loss.item()
            if step % 50 == 0:
                print(f"step {step} loss {running:.4f} {time.time() - start:.0f}s", flush=True)
            if step % 600 == 0 or step == args.steps:
                scores = evaluate(ema.module, held)
                print("eval", step, scores, flush=True)
                log["evals"].append({"step": step, **scores})
                with open(args.out, "w") as handle:
                    json.dump(log, handle, indent=1)
            if step >= args.steps:
                break


if __name__ == "__main__":
    main()
