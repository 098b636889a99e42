"""Training and evaluation of the chest line/tube position classifiers on the Lightning stack.

``train_classifier(cfg, out)`` prepares the data (a RANZCR folder, or a synthetic set it writes
first), caches it as memory-mapped arrays, splits folds grouped by PatientID, fits a
``ChestClassifierModule`` with Lightning (checkpoints on the best validation mean AUC, CSV logs)
and writes ``classifier.pt`` plus the validation AUC report. The metric is the competition's:
mean column-wise ROC AUC over the 11 labels (labels without both classes in a split are left out).
"""

from __future__ import annotations

import json
import logging
import math
import pickle
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from cathx.config import choices, from_dict, load_yaml, to_dict
from cathx.data.chest.cache import ChestCache, cached_dataset, unpack_line_masks
from cathx.data.chest.folds import group_folds, split_fold
from cathx.data.chest.ranzcr import CSV_FILE, LABELS
from cathx.data.chest.synthetic import ChestSynthConfig, write_chest_dataset
from cathx.errors import ConfigError, DataError
from cathx.fileio import atomic_open, atomic_write_json, atomic_write_text, csv_text
from cathx.models.classifier import ClassifierConfig, build_classifier

log = logging.getLogger(__name__)
CHECKPOINT_FORMAT = "cathx-chest-classifier"
MASK_STRIDE = 4


@dataclass(frozen=True)
class ClsDataConfig:
    """Where the studies come from and how they are fed."""

    path: str = ""  # RANZCR CLiP folder; empty = write a synthetic set into OUT/synthetic first
    synth_n: int = 1200
    synth_size: int = 256
    synth_seed: int = 0
    synth: ChestSynthConfig = field(default_factory=ChestSynthConfig)  # the generator's factors and ranges
    image_size: int = 128
    cache_dir: str = ""  # default: DATA/.cathx-cache
    folds: int = 5
    fold: int = 0
    fold_seed: int = 0
    batch_size: int = 32
    workers: int = 0
    augment: bool = True


@dataclass(frozen=True)
class ClsTrainConfig:
    """A classification experiment: model, data and optimisation."""

    model: ClassifierConfig = field(default_factory=ClassifierConfig)
    data: ClsDataConfig = field(default_factory=ClsDataConfig)
    epochs: int = 10
    lr: float = 2e-3
    weight_decay: float = 1e-4
    seg_weight: float = 1.0  # auxiliary line-mask loss weight (seg_aided only)
    max_minutes: float = 0.0  # wall-clock cap on fitting; 0 = none
    seed: int = 0
    threads: int = 0  # torch threads; 0 = torch's default
    precision: str = field(default="32-true", metadata=choices("32-true", "bf16-mixed"))


def load_cls_config(config_path: Path | str | None, **overrides: Any) -> ClsTrainConfig:
    """Load a YAML experiment (defaults when ``config_path`` is None); non-None ``overrides`` replace data fields."""
    try:
        cfg = load_yaml(ClsTrainConfig, config_path) if config_path else ClsTrainConfig()
    except ConfigError as exc:
        if str(exc).startswith("synth."):  # raised by ChestSynthConfig itself, which knows no file
            raise ConfigError(f"{config_path}: data.{exc}") from None
        raise
    data = {k: v for k, v in overrides.items() if v is not None}
    if data:
        cfg = from_dict(ClsTrainConfig, {**to_dict(cfg), "data": {**to_dict(cfg.data), **data}})
    return cfg


# --------------------------------------------------------------------------------------------
# Metrics


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC of binary ``labels`` (N,) against ``scores`` (N,); nan unless both classes occur.

    Mann-Whitney form with average ranks for ties: AUC = (sum of positive ranks - P(P+1)/2) / (P N).
    """
    labels = np.asarray(labels).astype(bool)
    positives, negatives = int(labels.sum()), int((~labels).sum())
    if positives == 0 or negatives == 0:
        return float("nan")
    scores = np.asarray(scores, np.float64)
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    ranks = np.empty(len(scores), np.float64)
    # Average rank of each run of equal scores.
    boundaries = np.nonzero(np.diff(sorted_scores))[0] + 1
    starts = np.concatenate([[0], boundaries])
    ends = np.concatenate([boundaries, [len(scores)]])
    for start, end in zip(starts, ends):
        ranks[order[start:end]] = (start + end + 1) / 2.0
    return float((ranks[labels].sum() - positives * (positives + 1) / 2.0) / (positives * negatives))


def columnwise_auc(labels: np.ndarray, probs: np.ndarray) -> tuple[float, dict[str, float | None]]:
    """Mean column-wise AUC and per-label AUC (None where a label lacks positives or negatives).

    labels, probs: (N, 11) in LABELS order.
    """
    per_label: dict[str, float | None] = {}
    for j, name in enumerate(LABELS):
        auc = roc_auc(labels[:, j], probs[:, j])
        per_label[name] = None if math.isnan(auc) else auc
    defined = [v for v in per_label.values() if v is not None]
    return (float(np.mean(defined)) if defined else float("nan")), per_label


def write_auc_report(out: Path | str, labels: np.ndarray, probs: np.ndarray, extra: dict[str, Any] | None = None
                     ) -> dict[str, Any]:
    """Write metrics.json, metrics.csv and metrics.md (mean AUC and per-label AUC) into ``out``."""
    out = Path(out)
    mean, per_label = columnwise_auc(labels, probs)
    positives = {name: int(labels[:, j].sum()) for j, name in enumerate(LABELS)}
    report = {"mean_auc": mean, "studies": int(len(labels)), "per_label_auc": per_label,
              "positives": positives, **(extra or {})}
    atomic_write_json(out / "metrics.json", report)
    rows = [[name, "" if per_label[name] is None else f"{per_label[name]:.4f}", positives[name]] for name in LABELS]
    rows.append(["mean", f"{mean:.4f}", int(labels.any(axis=1).sum())])
    atomic_write_text(out / "metrics.csv", csv_text(["label", "auc", "positives"], rows))
    atomic_write_text(out / "metrics.md", auc_markdown(mean, per_label, positives, len(labels)))
    return report


def auc_markdown(mean: float, per_label: dict[str, float | None], positives: dict[str, int], n: int) -> str:
    """Markdown table of per-label AUC with the mean as the last row."""
    lines = ["| label | AUC | positives |", "|---|---:|---:|"]
    for name, auc in per_label.items():
        lines.append(f"| {name} | {'n/a' if auc is None else f'{auc:.3f}'} | {positives[name]} |")
    lines.append(f"| **mean (column-wise)** | **{mean:.3f}** | {n} studies |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# Data


def build_augmentation(train: bool):
    """albumentations pipeline for (image, packed line mask); no flips (left and right matter here)."""
    import albumentations as A

    if not train:
        return None
    return A.Compose([
        A.Affine(scale=(0.92, 1.08), translate_percent=(-0.04, 0.04), rotate=(-6, 6), p=0.7),
        A.RandomBrightnessContrast(brightness_limit=0.12, contrast_limit=0.15, p=0.7),
        A.RandomGamma(gamma_limit=(85, 118), p=0.4),
    ])


class ChestArrayDataset(Dataset):
    """Items of a ChestCache: image (1, S, S) float32 [0, 1], labels (11,), mask (4, S, S) float32, has_mask."""

    def __init__(self, cache: ChestCache, indices: np.ndarray, transform=None) -> None:
        self.cache, self.indices, self.transform = cache, np.asarray(indices), transform

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, item: int) -> dict[str, Tensor]:
        index = int(self.indices[item])
        image = np.asarray(self.cache.images[index])
        packed = np.asarray(self.cache.lines[index])
        if self.transform is not None:
            result = self.transform(image=image, mask=packed)
            image, packed = result["image"], result["mask"]
        return {
            "image": torch.from_numpy(image.astype(np.float32) / 255.0)[None],
            "labels": torch.from_numpy(np.array(self.cache.labels[index], np.float32)),
            "mask": torch.from_numpy(unpack_line_masks(packed).astype(np.float32)),
            "has_mask": torch.tensor(bool(self.cache.annotated[index])),
            "index": torch.tensor(index, dtype=torch.int64),
        }


def prepare_data(cfg: ClsDataConfig, out: Path | str) -> tuple[Path, ChestCache]:
    """The dataset folder (synthesised under OUT/synthetic when cfg.path is empty) and its cache."""
    if cfg.path:
        root = Path(cfg.path)
    else:
        root = Path(out) / "synthetic"
        card = root / "synthetic.json"
        wanted = {"n": cfg.synth_n, "size": cfg.synth_size, "seed": cfg.synth_seed,
                  "synth": json.loads(json.dumps(to_dict(cfg.synth)))}
        if not (root / CSV_FILE).is_file() or not card.is_file() or json.loads(card.read_text()) != wanted:
            log.info("writing %d synthetic chest studies to %s", cfg.synth_n, root)
            write_chest_dataset(root, cfg.synth_n, cfg.synth_size, cfg.synth_seed, config=cfg.synth, overwrite=True)
            atomic_write_json(card, wanted)
    return root, cached_dataset(root, cfg.image_size, cfg.cache_dir or None)


# --------------------------------------------------------------------------------------------
# Lightning


def _lightning():
    import lightning.pytorch as pl

    return pl


def segmentation_loss(mask_logits: Tensor, target: Tensor, has_mask: Tensor) -> Tensor:
    """BCE + soft Dice of line masks at the decoder's stride, over annotated studies only.

    mask_logits: (B, G, h, w); target: (B, G, H, W) {0, 1}, max-pooled to (h, w) so thin lines
    survive; has_mask: (B,) bool. Returns a scalar (0 when no study in the batch is annotated).
    """
    if not bool(has_mask.any()):
        return mask_logits.sum() * 0.0
    target = F.adaptive_max_pool2d(target, mask_logits.shape[-2:])[has_mask]
    logits = mask_logits[has_mask]
    bce = F.binary_cross_entropy_with_logits(logits, target)
    probs = torch.sigmoid(logits)
    inter = (probs * target).sum(dim=(2, 3))
    dice = 1 - (2 * inter + 1) / (probs.sum(dim=(2, 3)) + target.sum(dim=(2, 3)) + 1)
    return bce + dice.mean()


class ChestClassifierModule(_lightning().LightningModule):
    """BCE over the 11 labels (+ auxiliary line-mask loss), validation mean column-wise AUC."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        self.save_hyperparameters({"config": config})
        self.cfg = from_dict(ClsTrainConfig, config)
        self.model = build_classifier(self.cfg.model)
        self._val_probs: list[Tensor] = []
        self._val_labels: list[Tensor] = []

    def forward(self, image: Tensor) -> dict[str, Tensor]:
        return self.model(image)

    def _losses(self, batch: dict[str, Tensor]) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        outputs = self.model(batch["image"])
        losses = {"cls": F.binary_cross_entropy_with_logits(outputs["logits"], batch["labels"])}
        if "mask" in outputs:
            losses["segmentation"] = segmentation_loss(outputs["mask"].float(), batch["mask"], batch["has_mask"])
        return outputs, losses

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        _, losses = self._losses(batch)
        loss = losses["cls"] + self.cfg.seg_weight * losses.get("segmentation", 0.0)
        self.log_dict({f"train_{k}": v for k, v in losses.items()}, on_step=True, on_epoch=True,
                      batch_size=len(batch["image"]))
        self.log("train_loss", loss, prog_bar=True, batch_size=len(batch["image"]))
        return loss

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        outputs, losses = self._losses(batch)
        self.log_dict({f"val_{k}": v for k, v in losses.items()}, on_epoch=True, batch_size=len(batch["image"]))
        self._val_probs.append(torch.sigmoid(outputs["logits"].float()).cpu())
        self._val_labels.append(batch["labels"].cpu())

    def on_validation_epoch_end(self) -> None:
        if not self._val_probs:
            return
        probs = torch.cat(self._val_probs).numpy()
        labels = torch.cat(self._val_labels).numpy()
        self._val_probs.clear()
        self._val_labels.clear()
        mean, _ = columnwise_auc(labels, probs)
        self.log("val_auc", 0.0 if math.isnan(mean) else mean, prog_bar=True)

    def configure_optimizers(self):
        optimizer = torch.optim.AdamW(self.parameters(), lr=self.cfg.lr, weight_decay=self.cfg.weight_decay)
        total = max(1, int(self.trainer.estimated_stepping_batches))
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=self.cfg.lr, total_steps=total,
                                                        pct_start=0.15)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


def save_classifier(path: Path | str, model: nn.Module, cfg: ClassifierConfig, image_size: int,
                    extra: dict[str, Any] | None = None) -> None:
    """Checkpoint a classifier with everything needed to rebuild it."""
    payload = {"format": CHECKPOINT_FORMAT, "version": 1, "model_config": to_dict(cfg), "image_size": image_size,
               "labels": list(LABELS), "state_dict": model.state_dict(), **(extra or {})}
    with atomic_open(path) as handle:
        torch.save(payload, handle)


def load_classifier(path: Path | str) -> tuple[nn.Module, ClassifierConfig, int]:
    """(model in eval mode, its config, its input size) from a shipped name (``cathx-chest``),
    ``classifier.safetensors``, ``classifier.pt`` or a Lightning ``.ckpt``. Never unpickles: a
    file that needs more than tensors and plain containers is refused."""
    from cathx.checkpoint import resolve_weights

    path = resolve_weights(path)
    if not path.is_file():
        raise DataError(f"{path}: weights file not found")
    if path.suffix.lower() == ".safetensors":
        payload = _read_classifier_safetensors(path)
    else:
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError:
            raise DataError(f"{path}: refused, the file holds pickled Python objects besides tensors and cathx "
                            "never unpickles code from a weights file; if you trust its source, convert it once "
                            "as docs/reliability.md shows ('Old pickle checkpoints')") from None
        except Exception as exc:  # torch raises many types for a bad file
            raise DataError(f"{path}: not a readable checkpoint ({type(exc).__name__})") from None
    if isinstance(payload, dict) and payload.get("format") == CHECKPOINT_FORMAT:
        cfg = from_dict(ClassifierConfig, payload["model_config"], where=f"{path}:model_config")
        state, size = payload["state_dict"], int(payload["image_size"])
    elif isinstance(payload, dict) and "config" in payload.get("hyper_parameters", {}):
        train_cfg = from_dict(ClsTrainConfig, payload["hyper_parameters"]["config"], where=str(path))
        cfg, size = train_cfg.model, train_cfg.data.image_size
        state = {k.removeprefix("model."): v for k, v in payload["state_dict"].items()}
    else:
        raise DataError(f"{path}: not a chest classifier checkpoint (train one with `cathx cls train`)")
    model = build_classifier(cfg)
    model.load_state_dict(state)
    return model.eval(), cfg, size


def save_classifier_safetensors(path: Path | str, model: nn.Module, cfg: ClassifierConfig, image_size: int,
                                extra: dict[str, Any] | None = None) -> Path:
    """The classifier checkpoint as safetensors: tensors plus format, config, input size and labels
    as JSON metadata (the shipped ``cathx-chest`` container)."""
    from safetensors.torch import save

    state = {key: value.detach().cpu().contiguous() for key, value in model.state_dict().items()}
    metadata = {"format": CHECKPOINT_FORMAT, "version": "1", "model_config": json.dumps(to_dict(cfg)),
                "image_size": str(image_size), "labels": json.dumps(list(LABELS)), "extra": json.dumps(extra or {})}
    with atomic_open(path) as handle:
        handle.write(save(state, metadata=metadata))
    return Path(path)


def _read_classifier_safetensors(path: Path) -> dict[str, Any]:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            metadata = handle.metadata() or {}
            state = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
        return {"format": metadata["format"], "model_config": json.loads(metadata["model_config"]),
                "image_size": int(metadata["image_size"]), "state_dict": state}
    except Exception as exc:  # noqa: BLE001 - SafetensorError, KeyError, ValueError on a bad file
        raise DataError(f"{path}: not a readable chest classifier safetensors file ({type(exc).__name__})") from None


@torch.no_grad()
def predict_arrays(model: nn.Module, images: np.ndarray, batch_size: int = 32) -> np.ndarray:
    """Sigmoid probabilities (N, 11) for uint8 or float images (N, S, S)."""
    model.eval()
    probs = []
    for start in range(0, len(images), batch_size):
        chunk = np.asarray(images[start:start + batch_size])
        x = torch.from_numpy(chunk.astype(np.float32) / (255.0 if chunk.dtype == np.uint8 else 1.0))[:, None]
        probs.append(torch.sigmoid(model(x)["logits"]).numpy())
    return np.concatenate(probs) if probs else np.zeros((0, len(LABELS)), np.float32)


def train_classifier(cfg: ClsTrainConfig, out: Path | str) -> dict[str, Any]:
    """Fit on all folds but ``cfg.data.fold``, validate on it; returns the summary written to OUT.

    Writes OUT/classifier.pt (best validation AUC), OUT/checkpoints/*.ckpt, OUT/logs (CSV) and the
    validation report OUT/val/metrics.{json,csv,md}.
    """
    pl = _lightning()
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    root, cache = prepare_data(cfg.data, out)
    folds = group_folds(cache.patient_ids, cfg.data.folds, cfg.data.fold_seed)
    train_idx, val_idx = split_fold(folds, cfg.data.fold)
    loader_args = {"batch_size": cfg.data.batch_size, "num_workers": cfg.data.workers,
                   "persistent_workers": cfg.data.workers > 0}
    train_loader = DataLoader(ChestArrayDataset(cache, train_idx, build_augmentation(cfg.data.augment)),
                              shuffle=True, drop_last=len(train_idx) > cfg.data.batch_size, **loader_args)
    val_loader = DataLoader(ChestArrayDataset(cache, val_idx), shuffle=False, **loader_args)
    module = ChestClassifierModule(to_dict(cfg))
    checkpoint = ModelCheckpoint(dirpath=out / "checkpoints", filename="best", monitor="val_auc", mode="max",
                                 save_last=True)
    trainer = pl.Trainer(
        max_epochs=cfg.epochs, max_time={"minutes": cfg.max_minutes} if cfg.max_minutes else None,
        accelerator="auto", devices=1, precision=cfg.precision, logger=CSVLogger(out, name="logs"),
        callbacks=[checkpoint], enable_progress_bar=False, enable_model_summary=False, log_every_n_steps=10,
        num_sanity_val_steps=0, deterministic=False,
    )
    started = time.perf_counter()
    trainer.fit(module, train_loader, val_loader)
    fit_seconds = time.perf_counter() - started
    best = checkpoint.best_model_path or checkpoint.last_model_path
    if best:
        state = torch.load(best, map_location="cpu", weights_only=True)["state_dict"]
        module.load_state_dict(state)
    model = module.model.cpu().eval()
    save_classifier(out / "classifier.pt", model, cfg.model, cfg.data.image_size,
                    {"train_config": to_dict(cfg), "fold": cfg.data.fold})
    probs = predict_arrays(model, cache.images[np.sort(val_idx)] if len(val_idx) else cache.images[:0])
    labels = np.asarray(cache.labels)[np.sort(val_idx)]
    summary = write_auc_report(out / "val", labels, probs, {
        "data": str(root), "fold": cfg.data.fold, "folds": cfg.data.folds, "train_studies": int(len(train_idx)),
        "train_patients": len({cache.patient_ids[i] for i in train_idx}),
        "val_patients": len({cache.patient_ids[i] for i in val_idx}),
        "epochs_run": int(trainer.current_epoch), "fit_seconds": round(fit_seconds, 1),
        "model": to_dict(cfg.model), "image_size": cfg.data.image_size, "weights": str(out / "classifier.pt")})
    return summary


def validate_folder(weights: Path | str, data: Path | str, out: Path | str, cache_dir: str | None = None
                    ) -> dict[str, Any]:
    """Mean column-wise AUC of ``weights`` on every study of RANZCR folder ``data``; report into ``out``."""
    model, cfg, size = load_classifier(weights)
    cache = cached_dataset(data, size, cache_dir)
    probs = predict_arrays(model, cache.images)
    return write_auc_report(out, np.asarray(cache.labels), probs,
                            {"data": str(data), "weights": str(weights), "image_size": size})


def check_fold(cfg: ClsTrainConfig) -> None:
    """ConfigError early if the fold index cannot exist."""
    if not 0 <= cfg.data.fold < cfg.data.folds:
        raise ConfigError(f"fold: must be between 0 and {cfg.data.folds - 1}, got {cfg.data.fold}")


# --------------------------------------------------------------------------------------------
# Prediction and Grad-CAM


def grad_cam(model: nn.Module, image: Tensor, label_index: int) -> np.ndarray:
    """Grad-CAM (Selvaraju et al. 2017) of one label on ``model.cam_layer``.

    image: (1, C, H, W). The class score's gradient, averaged over space, weights the feature map
    channels; the ReLU of their sum is upsampled to (H, W) and scaled to [0, 1] (float32).
    """
    captured: dict[str, Tensor] = {}

    def keep(_module: nn.Module, _inputs: tuple, output: Tensor) -> None:
        captured["features"] = output
        output.register_hook(lambda grad: captured.__setitem__("grad", grad))

    handle = model.cam_layer.register_forward_hook(keep)
    try:
        model.eval()
        with torch.enable_grad():
            model.zero_grad(set_to_none=True)
            score = model(image)["logits"][0, label_index]
            score.backward()
    finally:
        handle.remove()
    features, grad = captured["features"][0].detach(), captured["grad"][0]
    cam = torch.relu((grad.mean(dim=(1, 2))[:, None, None] * features).sum(0))
    cam = F.interpolate(cam[None, None], size=image.shape[-2:], mode="bilinear", align_corners=False)[0, 0]
    cam = cam - cam.min()
    peak = float(cam.max())
    return (cam / peak if peak > 0 else cam).numpy().astype(np.float32)


def heatmap_overlay(image: np.ndarray, cam: np.ndarray, caption: str = "") -> np.ndarray:
    """Blend a [0, 1] heatmap (h, w) (JET colours) over grey ``image`` (H, W) in [0, 1]; returns BGR uint8."""
    import cv2

    height, width = image.shape
    grey = cv2.cvtColor(np.round(image * 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)
    heat = cv2.applyColorMap(np.round(cv2.resize(cam, (width, height)) * 255).astype(np.uint8), cv2.COLORMAP_JET)
    blended = cv2.addWeighted(grey, 0.6, heat, 0.4, 0)
    if caption:
        scale = max(0.35, width / 700)
        cv2.putText(blended, caption, (4, int(16 * scale + 4)), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255),
                    max(1, int(scale * 2)), cv2.LINE_AA)
    return blended


def list_images(source: Path | str) -> list[Path]:
    """An image file, or the image files (.jpg, .jpeg, .png) directly inside a folder, sorted."""
    from cathx.data.chest.ranzcr import IMAGE_SUFFIXES

    source = Path(source)
    if source.is_file():
        if source.suffix.lower() not in IMAGE_SUFFIXES:
            raise DataError(f"{source}: not an image ({', '.join(IMAGE_SUFFIXES)})")
        return [source]
    if not source.is_dir():
        raise DataError(f"{source}: no such file or folder")
    paths = sorted(p for p in source.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not paths:
        raise DataError(f"{source}: no .jpg/.jpeg/.png images in this folder")
    return paths


def predict_files(weights: Path | str, source: Path | str, out: Path | str, cam: bool = True,
                  masks: bool = True) -> list[dict[str, Any]]:
    """Probabilities of every image in ``source``; writes predictions.csv/.json and Grad-CAM overlays.

    The overlay shows the label with the highest probability (what the model is most sure of). A
    model with a segmentation head (``seg_aided``) also gives, when ``masks``, a line mask per image
    (``masks/<stem>.png``, 0/255 at the image's own size, the union of the device groups) and one
    tip per connected line in ``tips.csv`` (see ``cathx.postprocess.line_tips``). Images of any
    size are downscaled for the network; only uint8 maps are made at full size.
    """
    import cv2

    from cathx.data.chest.ranzcr import GROUP_NAMES, read_grey
    from cathx.fileio import atomic_write_bytes
    from cathx.postprocess.line_tips import line_tips, upscale_mask

    model, _cfg, size = load_classifier(weights)
    out = Path(out)
    records = []
    tip_rows: list[list[str]] = []
    for path in list_images(source):
        image = read_grey(path)
        small = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
        x = torch.from_numpy(small)[None, None]
        with torch.no_grad():
            outputs = model(x)
        probs = torch.sigmoid(outputs["logits"][0]).numpy()
        record: dict[str, Any] = {"StudyInstanceUID": path.stem, "file": str(path),
                                  "probabilities": {name: round(float(p), 5) for name, p in zip(LABELS, probs)}}
        if masks and "mask" in outputs:
            line_probs = torch.sigmoid(F.interpolate(outputs["mask"].float(), size=(size, size), mode="bilinear",
                                                     align_corners=False))[0].numpy()  # (G, S, S)
            full = upscale_mask(line_probs.max(axis=0), image.shape)
            ok, encoded = cv2.imencode(".png", full)
            if ok:
                atomic_write_bytes(out / "masks" / f"{path.stem}.png", encoded.tobytes())
                record["mask"] = str(out / "masks" / f"{path.stem}.png")
            tips = line_tips(line_probs, image.shape)
            record["tips"] = [{"line": GROUP_NAMES[t.group], "x": round(t.x, 1), "y": round(t.y, 1),
                               "score": round(t.score, 4)} for t in tips]
            tip_rows.extend([path.stem, GROUP_NAMES[t.group], f"{t.x:.1f}", f"{t.y:.1f}", f"{t.score:.4f}"]
                            for t in tips)
        if cam:
            top = int(np.argmax(probs))
            heat = grad_cam(model, x, top)
            overlay = heatmap_overlay(image, heat, f"{LABELS[top]} {probs[top]:.2f}")
            ok, encoded = cv2.imencode(".png", overlay)
            if ok:
                atomic_write_bytes(out / "gradcam" / f"{path.stem}.png", encoded.tobytes())
                record["gradcam"] = str(out / "gradcam" / f"{path.stem}.png")
                record["gradcam_label"] = LABELS[top]
        records.append(record)
    if masks and any("mask" in r for r in records):
        atomic_write_text(out / "tips.csv", csv_text(["image", "line", "x", "y", "score"], tip_rows))
    rows = [[record["StudyInstanceUID"], *(f"{record['probabilities'][n]:.5f}" for n in LABELS)] for record in records]
    atomic_write_text(out / "predictions.csv", csv_text(["StudyInstanceUID", *LABELS], rows))
    atomic_write_json(out / "predictions.json", records)
    return records


