"""Training and validation of the chest line/tube position classifiers on the Lightning stack.

``train_classifier(cfg, out)`` prepares the data (a RANZCR folder, or a synthetic set it writes
first), caches it as memory-mapped arrays, splits folds grouped by PatientID, fits a
``ChestClassifierModule`` with Lightning (checkpoints on the best validation mean AUC, CSV logs)
and writes ``classifier.safetensors`` (+ ``classifier.json``) plus the validation AUC report. The
metric is the competition's: mean column-wise ROC AUC over the 11 labels
(``cathx.metrics.classification``).

The pieces live in their layers: config ``cathx.training.chest_config``, data
``cathx.data.chest``, losses ``cathx.losses.classification``, models ``cathx.models.classifier``,
checkpoints ``cathx.checkpoint``, prediction on image files and Grad-CAM ``cathx.inference.chest``.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader

from cathx.checkpoint import classifier_record, load_classifier, save_classifier
from cathx.config import from_dict, to_dict
from cathx.data.chest.cache import ChestCache, cached_dataset
from cathx.data.chest.dataset import ChestArrayDataset
from cathx.data.chest.folds import group_folds, split_fold
from cathx.data.chest.ranzcr import CSV_FILE, LABELS
from cathx.data.chest.synthetic import write_chest_dataset
from cathx.data.datasets import image_tensor
from cathx.data.transforms import chest_transforms
from cathx.errors import CathxError
from cathx.fileio import atomic_write_json
from cathx.losses.classification import classifier_losses
from cathx.metrics.classification import columnwise_auc, write_auc_report
from cathx.models.classifier import ClassifierConfig, build_classifier
from cathx.system import training_precision
from cathx.training.chest_config import ClsDataConfig, ClsTrainConfig, template_part
from cathx.training.trainer import quiet_lightning

log = logging.getLogger(__name__)

CLASSIFIER_WEIGHTS = "classifier.safetensors"  # in the run folder, with classifier.json beside it


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


class ChestClassifierModule(pl.LightningModule):
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
        return outputs, classifier_losses(outputs, batch)

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


@torch.no_grad()
def predict_arrays(model: nn.Module, images: np.ndarray, batch_size: int = 32) -> np.ndarray:
    """Sigmoid probabilities (N, 11) of images (N, S, S), uint8 or float in [0, 1] (``image_tensor``)."""
    model.eval()
    probs = []
    for start in range(0, len(images), batch_size):
        x = image_tensor(np.asarray(images[start:start + batch_size]))
        probs.append(torch.sigmoid(model(x)["logits"]).numpy())
    return np.concatenate(probs) if probs else np.zeros((0, len(LABELS)), np.float32)


def init_classifier_weights(model: nn.Module, cfg: ClassifierConfig, image_size: int, init: Path | str) -> None:
    """Copy the weights of the classifier ``init`` (a shipped name such as ``cathx-chest`` or a file
    of ``cathx cls train``) into ``model`` (fine-tuning); CathxError naming the file when its
    architecture or input size is not the config's."""
    source, source_cfg, source_size = load_classifier(init)
    if source_cfg != cfg:
        mine, theirs = to_dict(cfg), to_dict(source_cfg)
        differ = "; ".join(f"model.{k} {theirs.get(k)!r} there, {v!r} here" for k, v in mine.items() if theirs.get(k) != v)
        raise CathxError(f"{init}: a {source_cfg.kind} {source_cfg.backbone} classifier does not fit this config's "
                         f"model ({differ}); set the config's model section to the weights' architecture")
    if source_size != image_size:
        raise CathxError(f"{init}: trained at {source_size} px, this config's data.image_size is {image_size}; "
                         "set them equal")
    model.load_state_dict(source.state_dict())


def train_classifier(cfg: ClsTrainConfig, out: Path | str, init: Path | str | None = None) -> dict[str, Any]:
    """Fit on all folds but ``cfg.data.fold``, validate on it; returns the summary written to OUT.

    init: a classifier to start from instead of random weights (``init_classifier_weights``);
    the learning-rate schedule is the config's, as from scratch. Without it, a config with
    ``template_first.epochs`` first trains its template part (``template_part``) in
    OUT/template_first and starts from that part's weights; with it, that part is skipped.

    Writes OUT/classifier.safetensors (best validation AUC; the record of ``save_classifier``, the
    shipped ``cathx-chest``'s format), OUT/classifier.json (that record without the tensors, to read),
    OUT/checkpoints/*.ckpt, OUT/logs (CSV) and the validation report OUT/val/metrics.{json,csv,md}.
    """
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    first_part = None
    if cfg.template_first.epochs and init is None:
        log.info("first part: %d epoch(s) on the engine's template in %s", cfg.template_first.epochs,
                 out / "template_first")
        first_part = train_classifier(template_part(cfg), out / "template_first")
        init = out / "template_first" / CLASSIFIER_WEIGHTS
        log.info("first part: validation mean AUC %.3f; second part from its weights", first_part["mean_auc"])
    elif cfg.template_first.epochs:
        log.info("template_first skipped: training starts from %s", init)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    root, cache = prepare_data(cfg.data, out)
    folds = group_folds(cache.patient_ids, cfg.data.folds, cfg.data.fold_seed)
    train_idx, val_idx = split_fold(folds, cfg.data.fold)
    loader_args = {"batch_size": cfg.data.batch_size, "num_workers": cfg.data.workers,
                   "persistent_workers": cfg.data.workers > 0}
    train_loader = DataLoader(ChestArrayDataset(cache, train_idx, chest_transforms(cfg.data.augment, cfg.data.intensity)),
                              shuffle=True, drop_last=len(train_idx) > cfg.data.batch_size, **loader_args)
    val_loader = DataLoader(ChestArrayDataset(cache, val_idx), shuffle=False, **loader_args)
    module = ChestClassifierModule(to_dict(cfg))
    if init is not None:
        init_classifier_weights(module.model, cfg.model, cfg.data.image_size, init)
    checkpoint = ModelCheckpoint(dirpath=out / "checkpoints", filename="best", monitor="val_auc", mode="max",
                                 save_last=True)
    precision, why = training_precision(cfg.precision, on_cpu=not torch.cuda.is_available())
    if why:
        log.warning(why)
    quiet_lightning()
    trainer = pl.Trainer(
        max_epochs=cfg.epochs, max_time={"minutes": cfg.max_minutes} if cfg.max_minutes else None,
        accelerator="auto", devices=1, precision=precision, logger=CSVLogger(out, name="logs"),
        callbacks=[checkpoint], enable_progress_bar=False, enable_model_summary=False, log_every_n_steps=10,
        num_sanity_val_steps=0, deterministic=False,
    )
    started = time.perf_counter()
    trainer.fit(module, train_loader, val_loader)
    fit_seconds = time.perf_counter() - started
    best = checkpoint.best_model_path or checkpoint.last_model_path
    model = load_classifier(best)[0] if best else module.model.cpu().eval()
    weights = out / CLASSIFIER_WEIGHTS
    extra = {"train_config": to_dict(cfg), "fold": cfg.data.fold, **({"init": str(init)} if init is not None else {})}
    save_classifier(weights, model, cfg.model, cfg.data.image_size, extra)
    atomic_write_json(weights.with_suffix(".json"), classifier_record(cfg.model, cfg.data.image_size, extra))
    val_rows = np.sort(val_idx)
    probs = predict_arrays(model, cache.images[val_rows] if len(val_idx) else cache.images[:0])
    labels = np.asarray(cache.labels)[val_rows]
    return write_auc_report(out / "val", labels, probs, {
        "data": str(root), "fold": cfg.data.fold, "folds": cfg.data.folds, "train_studies": int(len(train_idx)),
        "train_patients": len({cache.patient_ids[i] for i in train_idx}),
        "val_patients": len({cache.patient_ids[i] for i in val_idx}),
        "epochs_run": int(trainer.current_epoch), "fit_seconds": round(fit_seconds, 1),
        "model": to_dict(cfg.model), "image_size": cfg.data.image_size, "weights": str(weights),
        **({"template_first": {key: first_part[key] for key in ("mean_auc", "epochs_run", "fit_seconds", "weights")}}
           if first_part else {})})


def validate_folder(weights: Path | str, data: Path | str, out: Path | str, cache_dir: str | None = None
                    ) -> dict[str, Any]:
    """Mean column-wise AUC of ``weights`` on every study of RANZCR folder ``data``; report into ``out``."""
    model, _cfg, size = load_classifier(weights)
    cache = cached_dataset(data, size, cache_dir)
    probs = predict_arrays(model, cache.images)
    return write_auc_report(out, np.asarray(cache.labels), probs,
                            {"data": str(data), "weights": str(weights), "image_size": size})
