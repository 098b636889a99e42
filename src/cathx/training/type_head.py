"""Fit the catheter-type head of a trained CathMTL network, the rest of the network frozen.

Why a separate fit: the type is an instance-level property that the segmentation and electrode
heads do not need, and freezing the network keeps their figures exactly as they were (the
shipped model's card stays valid) while the head learns, from the network's stride-8 features
and its own predicted mask and electrodes (false peaks on shafts included, as at inference),
what a CS catheter, a lasso ring or an ablation tip looks like. The network runs under no_grad
in bfloat16; only the head's small convolutions take gradients.

    cathx train-types --init cathx-fluoro --data runs/fluoro_data8 --out runs/type_head
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from cathx.checkpoint import load_model, save_checkpoint
from cathx.errors import CathxError
from cathx.fileio import atomic_write_json
from cathx.structures import TYPE_HEAD_CLASSES, Sample

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TypeHeadConfig:
    """epochs over the training frames; batch_size frames per step; lr: AdamW's peak rate of a
    one-cycle schedule (5 % warm-up, then cosine down);
    intensity: probability of each intensity-augmentation group (cathx.data.transforms), plus
    the usual flip / scale / rotation; checkpoint_minutes: how often OUT/last.pt is written;
    max_minutes: stop (with OUT/last.pt) after this long, 0 for no budget."""

    epochs: int = 3
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-4
    intensity: float = 0.8
    threads: int = 2
    checkpoint_minutes: float = 10.0
    max_minutes: float = 0.0  # 0: no budget
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "threads"):
            if getattr(self, name) < 1:
                raise CathxError(f"type head: {name} must be at least 1, got {getattr(self, name)}")
        if self.lr <= 0:
            raise CathxError(f"type head: lr must be positive, got {self.lr}")
        if not 0 <= self.intensity <= 1:
            raise CathxError(f"type head: intensity is a probability in [0, 1], got {self.intensity}")


def cell_accuracy(logits: torch.Tensor, target: torch.Tensor) -> tuple[int, int]:
    """(correct, counted) over the labelled cells: logits (B, C, h, w), target (B, h, w), -1 ignored."""
    valid = target >= 0
    correct = (logits.argmax(dim=1) == target) & valid
    return int(correct.sum()), int(valid.sum())


def _loader(reader: Sequence[Sample], size: int, train: bool, cfg: TypeHeadConfig, seed: int):
    from torch.utils.data import DataLoader

    from cathx.data.datasets import CatheterTypeDataset
    from cathx.data.transforms import build_transforms

    transform = build_transforms(size, train=train, intensity=cfg.intensity if train else 0.0)
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(CatheterTypeDataset(reader, transform), batch_size=cfg.batch_size, shuffle=train,
                      generator=generator, drop_last=train)


def fit_type_head(init: Path | str, train_reader: Sequence[Sample], val_reader: Sequence[Sample],
                  out: Path | str, cfg: TypeHeadConfig = TypeHeadConfig(), size: int = 256) -> Path:
    """Add (or continue) the type head of the network in ``init`` and fit it; returns OUT/best.pt.

    init: a shipped model name or a checkpoint. The head starts fresh unless ``init`` has one.
    Writes OUT/last.pt every ``checkpoint_minutes`` and after each epoch, OUT/best.pt (best
    validation cell accuracy) and OUT/history.json.
    """
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    base, model_cfg = load_model(init)
    model_cfg = replace(model_cfg, type_head=True)
    if base.type_head is None:
        from cathx.models import build_model

        model = build_model(model_cfg)
        missing, unexpected = model.load_state_dict(base.state_dict(), strict=False)
        if unexpected or any(not key.startswith("type_head.") for key in missing):
            raise CathxError(f"{init}: weights do not fit the network with a type head")
    else:
        model = base
    model.requires_grad_(False)
    head = model.type_head
    head.requires_grad_(True)
    optimizer = torch.optim.AdamW(head.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    train_loader = _loader(train_reader, size, True, cfg, cfg.seed)
    val_loader = _loader(val_reader, size, False, cfg, cfg.seed)
    total = cfg.epochs * len(train_loader)
    if total == 0:
        raise CathxError(f"type head: {len(train_reader)} training frames, fewer than one batch of {cfg.batch_size}")
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, cfg.lr, total_steps=total, pct_start=0.05)
    autocast = torch.autocast("cpu", dtype=torch.bfloat16)

    def logits_of(image: torch.Tensor) -> torch.Tensor:
        with torch.no_grad(), autocast:
            coarse, outputs = model.trunk(image)
            features = model.type_input(coarse, outputs)
        return head(features.float())

    def validate() -> float:
        head.eval()
        correct = counted = 0
        with torch.no_grad():
            for batch in val_loader:
                c, n = cell_accuracy(logits_of(batch["image"]), batch["type"])
                correct, counted = correct + c, counted + n
        head.train()
        return correct / max(counted, 1)

    history: list[dict] = []
    best = -1.0
    started = last_save = time.monotonic()
    model.eval()
    head.train()
    step = 0
    stopped = False
    for epoch in range(cfg.epochs):
        losses = []
        for batch in train_loader:
            logits = logits_of(batch["image"])
            target = batch["type"]
            if (target >= 0).any():
                loss = F.cross_entropy(logits, target, ignore_index=-1)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                losses.append(float(loss.detach()))
            scheduler.step()
            step += 1
            if step % 50 == 0:
                log.info("epoch %d step %d/%d loss %.4f", epoch, step, total, float(np.mean(losses[-50:])))
            if time.monotonic() - last_save >= cfg.checkpoint_minutes * 60:
                save_checkpoint(out / "last.pt", model, model_cfg, {"input_size": size, "step": step})
                last_save = time.monotonic()
            if cfg.max_minutes > 0 and time.monotonic() - started >= cfg.max_minutes * 60:
                stopped = True
                break
        accuracy = validate()
        history.append({"epoch": epoch, "steps": step, "train_loss": float(np.mean(losses)) if losses else None,
                        "val_cell_accuracy": accuracy, "minutes": (time.monotonic() - started) / 60})
        log.info("epoch %d: val cell accuracy %.4f", epoch, accuracy)
        extra = {"input_size": size, "step": step, "type_head": {"epoch": epoch, "val_cell_accuracy": accuracy,
                                                                   "init": str(init)}}
        save_checkpoint(out / "last.pt", model, model_cfg, extra)
        last_save = time.monotonic()
        if accuracy > best:
            best = accuracy
            save_checkpoint(out / "best.pt", model, model_cfg, extra)
        atomic_write_json(out / "history.json", {"config": cfg.__dict__, "classes": list(TYPE_HEAD_CLASSES),
                                                  "init": str(init), "epochs": history})
        if stopped:
            log.warning("type head: time budget spent at step %d of %d", step, total)
            break
    return out / "best.pt"


class _FeatureRecorder:
    """A stand-in type classifier for analyse_frame that records each catheter's features."""

    def __init__(self) -> None:
        self.rows: list[np.ndarray] = []

    def decide(self, features: np.ndarray) -> list[tuple[str, float]]:
        self.rows.extend(np.asarray(features, np.float32))
        return [("unknown", 0.0)] * len(features)


def catheter_examples(predictor, samples: Sequence[Sample], match_px: float = 3.0
                      ) -> tuple[np.ndarray, np.ndarray]:
    """(features (N, F), labels (N,) index into TYPE_HEAD_CLASSES) of the catheters the predictor's
    post-processing finds in labelled frames. A predicted catheter's label is the true type of the
    catheter most of its electrodes belong to (a predicted electrode within ``match_px`` of a true
    one takes its catheter); catheters without such electrodes, or of a type the classes lack,
    are left out. ``predictor``: a cathx Predictor (its type decision is replaced while recording)."""
    from cathx.postprocess.type_evaluation import electrode_owners

    features: list[np.ndarray] = []
    labels: list[int] = []
    for sample in samples:
        if sample.electrodes is None or sample.electrode_catheter_ids is None or len(sample.electrodes) == 0:
            continue
        recorder = _FeatureRecorder()
        results = replace(predictor, type_classifier=recorder)(sample.image)
        truth = electrode_owners(results.electrodes, sample, match_px)
        for c, row in enumerate(recorder.rows):
            owners = truth[(results.electrode_catheter == c) & (truth >= 0)]
            if len(owners) == 0:
                continue
            kind = sample.catheter_types[int(np.bincount(owners).argmax())]
            if kind in TYPE_HEAD_CLASSES:
                features.append(row)
                labels.append(TYPE_HEAD_CLASSES.index(kind))
    if not features:
        return np.zeros((0, 0), np.float32), np.zeros(0, np.int64)
    return np.stack(features), np.asarray(labels, np.int64)


def fit_type_classifier(features: np.ndarray, labels: np.ndarray, hidden: int = 32, steps: int = 600,
                        lr: float = 1e-2, weight_decay: float = 1e-3, seed: int = 0,
                        names: Sequence[str] | None = None):
    """Fit a TypeClassifier (one hidden layer, cross-entropy, Adam on the whole set).

    features: (N, len(FEATURE_NAMES)) as catheter_examples collects them; names: the features the
    decision uses (None: all)."""
    from cathx.postprocess.type_classifier import FEATURE_NAMES, TypeClassifier, feature_columns

    names = tuple(FEATURE_NAMES if names is None else names)
    unknown = [name for name in names if name not in FEATURE_NAMES]
    if unknown:
        raise CathxError(f"type classifier: unknown features {unknown}; choose from {', '.join(FEATURE_NAMES)}")

    if len(features) < 2 or len(np.unique(labels)) < 2:
        raise CathxError(f"type classifier: {len(features)} labelled catheters of {len(np.unique(labels))} types; "
                         "need more frames")
    features = np.asarray(features)[:, feature_columns(names)]
    generator = torch.Generator().manual_seed(seed)
    x = torch.as_tensor(features, dtype=torch.float32)
    y = torch.as_tensor(labels, dtype=torch.int64)
    mean, scale = x.mean(dim=0), x.std(dim=0).clamp(min=1e-3)
    x = (x - mean) / scale
    layer1 = torch.nn.Linear(x.shape[1], hidden)
    layer2 = torch.nn.Linear(hidden, len(TYPE_HEAD_CLASSES))
    for layer in (layer1, layer2):
        torch.nn.init.normal_(layer.weight, std=(2.0 / layer.in_features) ** 0.5, generator=generator)
        torch.nn.init.zeros_(layer.bias)
    params = [*layer1.parameters(), *layer2.parameters()]
    optimizer = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    for _ in range(steps):
        loss = F.cross_entropy(layer2(torch.relu(layer1(x))), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    def array(t: torch.Tensor) -> np.ndarray:
        return t.detach().double().numpy()

    return TypeClassifier(mean=array(mean), scale=array(scale), w1=array(layer1.weight.T), b1=array(layer1.bias),
                          w2=array(layer2.weight.T), b2=array(layer2.bias), features=names)


def classifier_accuracy(classifier, features: np.ndarray, labels: np.ndarray) -> float | None:
    """Share of catheters the classifier types right (None without any)."""
    if len(labels) == 0:
        return None
    return float((classifier.probabilities(features).argmax(axis=1) == labels).mean())


def head_accuracy(features: np.ndarray, labels: np.ndarray) -> float | None:
    """Share of catheters the type head alone types right: the argmax of the head's mean
    probabilities among the features (None without any catheter)."""
    from cathx.postprocess.type_classifier import feature_columns

    if len(labels) == 0:
        return None
    columns = feature_columns([f"head_{kind}" for kind in TYPE_HEAD_CLASSES])
    return float((np.asarray(features)[:, columns].argmax(axis=1) == labels).mean())


def attach_type_classifier(path: Path | str, classifier, report: dict) -> Path:
    """Rewrite the checkpoint at ``path`` with ``classifier`` (and ``report``) in its metadata, in
    the file's own format (safetensors for a shipped model's ``.safetensors``)."""
    from cathx.checkpoint import read_checkpoint, save_safetensors

    model, model_cfg = load_model(path)
    extra = dict(read_checkpoint(path).get("extra") or {})
    extra["type_classifier"] = classifier.to_dict()
    extra["type_classifier_report"] = report
    write = save_safetensors if Path(path).suffix.lower() == ".safetensors" else save_checkpoint
    return write(path, model, model_cfg, extra)
