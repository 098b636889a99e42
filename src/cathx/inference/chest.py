"""Prediction with a chest line/tube classifier on image files: label probabilities, line masks
and tips (seg-aided models), and Grad-CAM overlays of the most probable label.

Grad-CAM is MONAI's (``monai.visualize.GradCAM``) on the classifier's ``cam_layer``; weights load
through ``cathx.checkpoint.load_classifier`` (a shipped name, safetensors, .pt or Lightning .ckpt).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from cathx.checkpoint import load_classifier
from cathx.data.chest.ranzcr import LABELS
from cathx.fileio import OUTPUT_MARKER, atomic_write_bytes, atomic_write_json, atomic_write_text, csv_text
from cathx.inference.chest_model import ChestModel, list_images, read_radiograph
from cathx.inference.sources import output_names


class _Logits(nn.Module):
    """The classifier with its logits (B, 11) as the only output, as MONAI's CAMs expect."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, image: Tensor) -> Tensor:
        return self.model(image)["logits"]


def unit_range(cam: Tensor) -> Tensor:
    """Scale each map of (B, 1, H, W) to [0, 1] by its own minimum and maximum (a flat map -> 0)."""
    low = cam.amin(dim=(-2, -1), keepdim=True)
    shifted = cam - low
    peak = shifted.amax(dim=(-2, -1), keepdim=True)
    return torch.where(peak > 0, shifted / peak.clamp_min(torch.finfo(cam.dtype).tiny), shifted)


def grad_cam(model: nn.Module, image: Tensor, label_index: int) -> np.ndarray:
    """Grad-CAM (Selvaraju et al. 2017) of one label on ``model.cam_layer``; (H, W) float32 in [0, 1].
    Leaves ``model`` in eval mode, with no gradients on its parameters.

    image: (1, C, H, W). The label's logit gradient, averaged over space, weights the channels of
    the ``cam_layer`` feature map; the ReLU of their sum is upsampled bilinearly to (H, W) and
    scaled to [0, 1]. (MONAI's default normaliser maps the peak to 0, hence ``unit_range``.)
    """
    from monai.visualize import GradCAM

    # MONAI runs the model in eval mode and then restores the wrapper's mode, which must be eval too
    # (a fresh module trains), or the next forward pass would run batch norm in training mode.
    cam = GradCAM(_Logits(model).eval(), target_layers="model.cam_layer", postprocessing=unit_range)
    with torch.enable_grad():
        heat = cam(image, class_idx=label_index)
    model.zero_grad(set_to_none=True)
    return heat[0, 0].detach().cpu().numpy().astype(np.float32)


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


def _write_png(path: Path, image: np.ndarray) -> bool:
    import cv2

    ok, encoded = cv2.imencode(".png", image)
    if ok:
        atomic_write_bytes(path, encoded.tobytes())
    return bool(ok)


def predict_files(weights: Path | str, source: Path | str, out: Path | str, cam: bool = True,
                  masks: bool = True, progress: Callable[[int, int], None] | None = None,
                  loaded: tuple | None = None, mask_threshold: float = 0.5) -> list[dict[str, Any]]:
    """Probabilities of every image in ``source``; writes predictions.csv/.json and Grad-CAM overlays.

    The overlay shows the label with the highest probability (what the model is most sure of). A
    model with a segmentation head (``seg_aided``) also gives, when ``masks``, a line mask per image
    (``masks/<stem>.png``, 0/255 at the image's own size, the union of the device groups) and one
    tip per connected line in ``tips.csv`` (see ``cathx.postprocess.line_tips``). Images of any
    size are downscaled for the network; only uint8 maps are made at full size.
    progress: called as ``progress(images_done, images)`` after each image. loaded: what
    ``load_classifier(weights)`` returned, when the caller has already loaded it (not read again).
    mask_threshold: the line probability that makes a mask pixel (``ChestModel``).
    """
    model, config, size = loaded if loaded is not None else load_classifier(weights)
    chest = ChestModel(model, config, size, name=str(weights), mask_threshold=mask_threshold)  # the one per-image path (cathx.load too)
    out = Path(out)
    records = []
    tip_rows: list[list[str]] = []
    paths = list_images(source)
    names = output_names(paths)  # a.jpg and a.png: a_jpg and a_png, never one overwriting the other
    for path, name in zip(paths, names):
        image = read_radiograph(path)
        result = chest.predict_grey(image, name)
        probs = np.array([result.probabilities[label] for label in LABELS])
        record: dict[str, Any] = {"StudyInstanceUID": name, "file": str(path),
                                  "probabilities": {label: round(float(p), 5) for label, p in zip(LABELS, probs)}}
        if masks and result.mask is not None:
            if _write_png(out / "masks" / f"{name}.png", result.mask):
                record["mask"] = str(out / "masks" / f"{name}.png")
            record["tips"] = result.tips
            tip_rows.extend([name, tip["line"], f"{tip['x']:.1f}", f"{tip['y']:.1f}", f"{tip['score']:.4f}"]
                            for tip in result.tips)
        if cam:
            top = int(np.argmax(probs))
            overlay = heatmap_overlay(image, grad_cam(model, chest.input_tensor(image), top),
                                      f"{LABELS[top]} {probs[top]:.2f}")
            if _write_png(out / "gradcam" / f"{name}.png", overlay):
                record["gradcam"] = str(out / "gradcam" / f"{name}.png")
                record["gradcam_label"] = LABELS[top]
        records.append(record)
        if progress is not None:
            progress(len(records), len(paths))
    if masks and any("mask" in r for r in records):
        atomic_write_text(out / "tips.csv", csv_text(["image", "line", "x", "y", "score"], tip_rows))
    elif (out / OUTPUT_MARKER).is_file():  # an earlier run's tips would describe masks this run did not write
        (out / "tips.csv").unlink(missing_ok=True)
    rows = [[record["StudyInstanceUID"], *(f"{record['probabilities'][n]:.5f}" for n in LABELS)] for record in records]
    atomic_write_text(out / "predictions.csv", csv_text(["StudyInstanceUID", *LABELS], rows))
    atomic_write_json(out / "predictions.json", records)
    return records
